/* streamcut module SDK: ABI version, export macros, common constants.
 *
 * Every header of the SDK is self-contained, C99 and C++ compatible, and
 * carries only plain C types: no FFmpeg, GLib or inih type crosses the ABI.
 *
 * ABI rule: a module built against ABI major M, minor m loads in a host of
 * major M and minor >= m. Structs only ever grow at their end; every struct
 * that crosses the boundary starts with `struct_size` so either side can tell
 * which fields the other one knows about (see sdk/ABI.md).
 */
#ifndef STREAMCUT_ABI_H
#define STREAMCUT_ABI_H

#include <stddef.h>
#include <stdint.h>

/** ABI major version: a change here means modules must be rebuilt. */
#define SC_ABI_MAJOR 1
/** ABI minor version: additions only; older modules keep working. */
#define SC_ABI_MINOR 0

/** The one symbol a module exports (see SC_MODULE_DEFINE in module.h). */
#define SC_ENTRY_SYMBOL "streamcut_module_entry"

#ifdef __cplusplus
#define SC_EXTERN_C extern "C"
#define SC_BEGIN_DECLS extern "C" {
#define SC_END_DECLS }
#else
#define SC_EXTERN_C
#define SC_BEGIN_DECLS
#define SC_END_DECLS
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SC_EXPORT __attribute__((visibility("default")))
#define SC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SC_EXPORT
#define SC_PRINTF(fmt, args)
#endif

/** Timestamps in the SDK are int64 nanoseconds; this marks "unknown". */
#define SC_TIME_NONE INT64_MIN
#define SC_NSEC_PER_SEC INT64_C(1000000000)
#define SC_NSEC_PER_MSEC INT64_C(1000000)

/** Return codes of SDK calls: 0 is success, errors are negative. */
enum sc_status {
    SC_OK = 0,
    SC_ERR_INVALID = -1,   /**< bad argument or state */
    SC_ERR_NOMEM = -2,     /**< allocation failed */
    SC_ERR_IO = -3,        /**< input/output failure */
    SC_ERR_STOPPED = -4,   /**< the host is shutting this instance down */
    SC_ERR_UNSUPPORTED = -5, /**< not available in this host or module */
    SC_ERR_NOT_FOUND = -6, /**< no such item */
    SC_ERR_PERMANENT = -7  /**< a source's failure that retrying cannot fix (no such
                                file, refused credentials, unsupported format):
                                the host does not reconnect */
};

/** Log levels for sc_host_api.log. */
enum sc_log_level {
    SC_LOG_ERROR = 0,
    SC_LOG_WARNING = 1,
    SC_LOG_INFO = 2,
    SC_LOG_DEBUG = 3
};

#endif /* STREAMCUT_ABI_H */
