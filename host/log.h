/* Host logging: GLib structured logging with the module instance as a field. */
#ifndef SC_HOST_LOG_H
#define SC_HOST_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <streamcut/abi.h>

/** Verbosity: messages above this level (enum sc_log_level) are hidden. */
void sc_log_set_level(int max_level);
int sc_log_get_level(void);
/** Install the writer (text lines on stderr). Call once from main. */
void sc_log_init(void);

void sc_log(int level, const char *instance, const char *fmt, ...) SC_PRINTF(3, 4);

/** [host] log_format ("text" or "json", one object per line) and log_file
 * (NULL or "" for stderr). False with *error when the file cannot open. */
bool sc_log_configure(const char *format, const char *path, char **error);
/** SIGHUP: open log_file again (after logrotate moved it). */
void sc_log_reopen(void);
/** The progress line is shown (true) on stderr: the next log line first
 * erases it. */
void sc_log_progress_shown(bool shown);
/** Back to stderr; closes log_file. */
void sc_log_close(void);
void sc_logv(int level, const char *instance, const char *fmt, va_list args);

#define sc_error(...) sc_log(SC_LOG_ERROR, NULL, __VA_ARGS__)
#define sc_warning(...) sc_log(SC_LOG_WARNING, NULL, __VA_ARGS__)
#define sc_info(...) sc_log(SC_LOG_INFO, NULL, __VA_ARGS__)
#define sc_debug(...) sc_log(SC_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
