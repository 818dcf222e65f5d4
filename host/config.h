/* The pipeline file: INI parsed with inih into a staging structure.
 *
 * Debian's libinih cuts lines at 199 bytes and parses the rest as a new line,
 * keeps going after errors, and accepts duplicates and continuation lines.
 * So the whole file is first checked line by line here, and inih's results
 * are accepted only when they agree with that check. Nothing is applied
 * before the file is known to be clean. */
#ifndef SC_HOST_CONFIG_H
#define SC_HOST_CONFIG_H

#include <glib.h>

/** Longest line (without its newline) that inih reads whole. */
#define SC_CONFIG_MAX_LINE 198
/** Longest section or key name that inih keeps whole. */
#define SC_CONFIG_MAX_NAME 48
/** Largest value read from an @file. */
#define SC_CONFIG_MAX_FILE_VALUE (64 * 1024)

typedef enum sc_section_kind {
    SC_SECTION_HOST,
    SC_SECTION_SOURCE,
    SC_SECTION_STRATEGY,
    SC_SECTION_SINK,
    SC_SECTION_SYNC,     /* a group of sources cut at the same wall-clock instants */
    SC_SECTION_OBSERVER  /* watches packets and segments of sources */
} sc_section_kind;

typedef struct sc_config_entry {
    char *key;
    char *value;  /* after ${VAR} and @file expansion */
    int line;
} sc_config_entry;

typedef struct sc_config_section {
    sc_section_kind kind;
    char *name;    /* "" for [host] */
    int line;
    GPtrArray *entries;  /* sc_config_entry*, in file order */
} sc_config_section;

typedef struct sc_config {
    char *path;
    GPtrArray *sections;  /* sc_config_section*, in file order */
} sc_config;

/** Parses `path`. On failure returns NULL and appends "FILE:LINE: message"
 * strings (g_free them) to `errors`. */
sc_config *sc_config_load(const char *path, GPtrArray *errors);
/** Same, from memory; `path` is used in messages and to resolve @files. */
sc_config *sc_config_load_data(const char *path, const char *data, size_t size,
                               GPtrArray *errors);
void sc_config_free(sc_config *config);

const char *sc_section_kind_name(sc_section_kind kind);
const sc_config_entry *sc_config_section_find(const sc_config_section *section,
                                              const char *key);
const sc_config_section *sc_config_find_section(const sc_config *config,
                                                const char *name);

#endif
