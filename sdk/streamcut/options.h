/**
 * @file options.h
 * @brief Option schemas: the keys a module accepts in its INI section.
 *
 * A module declares its options as an array of sc_option_spec ending with an
 * entry whose name is NULL. The host validates every key of the module's INI
 * section against it (unknown keys, types, ranges, choices) before the module
 * is created, fills in defaults, and serves the values through the
 * option_* functions of sc_host_api. `streamcut modules NAME` prints it.
 *
 * The loader refuses a module whose schema has an unknown type, a choice
 * option without choices, or a default that does not parse as its type.
 * The array must stay valid as long as the module is loaded (make it a
 * static const array).
 */
#ifndef STREAMCUT_OPTIONS_H
#define STREAMCUT_OPTIONS_H

#include "abi.h"

SC_BEGIN_DECLS

/** How the host parses and serves an option's value. */
enum sc_option_type {
    SC_OPT_STRING = 1,   /**< any text; served by option_string */
    SC_OPT_INT = 2,      /**< 64-bit integer; served by option_int */
    SC_OPT_DOUBLE = 3,   /**< a number; served by option_double */
    SC_OPT_BOOL = 4,     /**< true/false, yes/no, on/off, 1/0; served by option_bool */
    SC_OPT_DURATION = 5, /**< "10", "10s", "500ms", "2m", "1h", "1.5s": nanoseconds,
                              served by option_duration */
    SC_OPT_SIZE = 6,     /**< "1024", "64k", "200MB", "1GiB": bytes, served by option_size */
    SC_OPT_ENUM = 7      /**< one of `choices`; served by option_string */
};

/** Bits of sc_option_spec.flags. */
enum sc_option_flag {
    SC_OPT_REQUIRED = 1u << 0  /**< must be given in the INI section */
};

/** One option of a module's schema. */
typedef struct sc_option_spec {
    const char *name;          /**< key in the INI section; NULL ends the array */
    uint32_t type;             /**< enum sc_option_type */
    uint32_t flags;            /**< enum sc_option_flag bits */
    const char *default_value; /**< textual default, or NULL for none */
    const char *help;          /**< one line for `streamcut modules NAME` */
    double min;                /**< inclusive range, checked when min < max; */
    double max;                /**< durations in seconds, sizes in bytes */
    const char *choices;       /**< SC_OPT_ENUM: "a|b|c" */
} sc_option_spec;

SC_END_DECLS

#endif /* STREAMCUT_OPTIONS_H */
