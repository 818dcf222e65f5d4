/* The error message a parser of the modules' own grammars (path and
 * command templates, Redis URLs) leaves in its caller's buffer. */
#ifndef STREAMCUT_MODULES_ERROR_TEXT_H
#define STREAMCUT_MODULES_ERROR_TEXT_H

#include <streamcut/streamcut.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats into `error` when the caller gave one (NULL or 0: ignored). */
static inline void format_error(char *error, size_t error_length, const char *fmt, ...) SC_PRINTF(3, 4);

static inline void format_error(char *error, size_t error_length, const char *fmt, ...)
{
    if (error == NULL || error_length == 0)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, error_length, fmt, args);
    va_end(args);
}

#endif
