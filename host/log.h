/* Host logging: GLib structured logging with the module instance as a field. */
#ifndef SC_HOST_LOG_H
#define SC_HOST_LOG_H

#include <stdarg.h>
#include <streamcut/abi.h>

/** Verbosity: messages above this level (enum sc_log_level) are hidden. */
void sc_log_set_level(int max_level);
int sc_log_get_level(void);
/** Install the writer (text lines on stderr). Call once from main. */
void sc_log_init(void);

void sc_log(int level, const char *instance, const char *fmt, ...) SC_PRINTF(3, 4);
void sc_logv(int level, const char *instance, const char *fmt, va_list args);

#define sc_error(...) sc_log(SC_LOG_ERROR, NULL, __VA_ARGS__)
#define sc_warning(...) sc_log(SC_LOG_WARNING, NULL, __VA_ARGS__)
#define sc_info(...) sc_log(SC_LOG_INFO, NULL, __VA_ARGS__)
#define sc_debug(...) sc_log(SC_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
