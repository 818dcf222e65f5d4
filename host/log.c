/* Host logging through GLib's structured log, so a journald or JSON writer
 * can replace the text writer later without touching any caller. */
#include "log.h"

#include <glib.h>
#include <libavutil/log.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int log_max_level = SC_LOG_INFO;

void sc_log_set_level(int max_level) { log_max_level = max_level; }
int sc_log_get_level(void) { return log_max_level; }

static int level_from_glib(GLogLevelFlags flags)
{
    if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) return SC_LOG_ERROR;
    if (flags & G_LOG_LEVEL_WARNING) return SC_LOG_WARNING;
    if (flags & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) return SC_LOG_INFO;
    return SC_LOG_DEBUG;
}

static GLogLevelFlags level_to_glib(int level)
{
    switch (level) {
    case SC_LOG_ERROR: return G_LOG_LEVEL_CRITICAL;
    case SC_LOG_WARNING: return G_LOG_LEVEL_WARNING;
    case SC_LOG_INFO: return G_LOG_LEVEL_INFO;
    default: return G_LOG_LEVEL_DEBUG;
    }
}

static const char *level_name(int level)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    return level >= 0 && level <= SC_LOG_DEBUG ? names[level] : "debug";
}

static GLogWriterOutput write_text(GLogLevelFlags flags, const GLogField *fields,
                                   gsize n_fields, gpointer user_data)
{
    int level = level_from_glib(flags);
    if (level > log_max_level) return G_LOG_WRITER_HANDLED;
    const char *message = "", *instance = NULL, *domain = NULL;
    for (gsize i = 0; i < n_fields; i++) {
        if (g_strcmp0(fields[i].key, "MESSAGE") == 0) message = fields[i].value;
        else if (g_strcmp0(fields[i].key, "SC_INSTANCE") == 0) instance = fields[i].value;
        else if (g_strcmp0(fields[i].key, "GLIB_DOMAIN") == 0) domain = fields[i].value;
    }
    /* One fprintf per line keeps concurrent threads' lines whole. */
    if (instance && *instance)
        fprintf(stderr, "streamcut: %s: [%s] %s\n", level_name(level), instance, message);
    else if (domain && g_strcmp0(domain, "streamcut") != 0)
        fprintf(stderr, "streamcut: %s: (%s) %s\n", level_name(level), domain, message);
    else
        fprintf(stderr, "streamcut: %s: %s\n", level_name(level), message);
    return G_LOG_WRITER_HANDLED;
}

/* FFmpeg's libraries are shared by every module in the process; their
 * messages go through the same writer, one level quieter than FFmpeg rates
 * them, because modules report the failures that matter themselves. */
static void log_from_ffmpeg(void *avcl, int level, const char *fmt, va_list args)
{
    int mapped = level <= AV_LOG_ERROR ? SC_LOG_WARNING : level <= AV_LOG_WARNING ? SC_LOG_INFO : SC_LOG_DEBUG;
    if (level > AV_LOG_VERBOSE || mapped > log_max_level) return;
    static _Thread_local int print_prefix = 1;
    char line[1024];
    av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &print_prefix);
    size_t length = strlen(line);
    while (length && (line[length - 1] == '\n' || line[length - 1] == '\r')) line[--length] = '\0';
    if (length) sc_log(mapped, NULL, "ffmpeg: %s", line);
}

void sc_log_init(void)
{
    g_log_set_writer_func(write_text, NULL, NULL);
    av_log_set_callback(log_from_ffmpeg);
}

void sc_logv(int level, const char *instance, const char *fmt, va_list args)
{
    if (level > log_max_level) return;
    char *message = g_strdup_vprintf(fmt, args);
    GLogField fields[] = {
        {"GLIB_DOMAIN", "streamcut", -1},
        {"MESSAGE", message, -1},
        {"SC_INSTANCE", instance ? instance : "", -1},
    };
    g_log_structured_array(level_to_glib(level), fields, G_N_ELEMENTS(fields));
    g_free(message);
}

void sc_log(int level, const char *instance, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    sc_logv(level, instance, fmt, args);
    va_end(args);
}
