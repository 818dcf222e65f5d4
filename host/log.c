/* Host logging through GLib's structured log: text lines, or one JSON
 * object per line ([host] log_format = json) for log shippers, on stderr
 * or [host] log_file. */
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
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

/* Where lines go: stderr, or [host] log_file (reopened on SIGHUP, so
 * logrotate can move it away). The lock only guards swapping the stream. */
static GMutex output_lock;
static FILE *log_file;
static char *log_path;
static bool log_json;
/* A progress line is on the terminal: clear it before a log line. */
static atomic_bool progress_shown;

void sc_log_progress_shown(bool shown) { atomic_store(&progress_shown, shown); }

static void append_json_string(GString *out, const char *text)
{
    char *valid = g_utf8_make_valid(text, -1);
    g_string_append_c(out, '"');
    for (const unsigned char *c = (const unsigned char *)valid; *c; c++) {
        if (*c == '"' || *c == '\\') g_string_append_printf(out, "\\%c", *c);
        else if (*c == '\n') g_string_append(out, "\\n");
        else if (*c == '\t') g_string_append(out, "\\t");
        else if (*c < 0x20 || *c == 0x7f) g_string_append_printf(out, "\\u%04x", *c);
        else g_string_append_c(out, (char)*c);
    }
    g_string_append_c(out, '"');
    g_free(valid);
}

static GLogWriterOutput write_line(GLogLevelFlags flags, const GLogField *fields,
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
    if (domain && g_strcmp0(domain, "streamcut") == 0) domain = NULL;
    if (instance && !*instance) instance = NULL;
    GString *line = g_string_new(NULL);
    if (log_json) {
        GDateTime *now = g_date_time_new_now_utc();
        char *stamp = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");
        g_date_time_unref(now);
        /* Milliseconds are enough: drop the last three digits of %f. */
        size_t length = strlen(stamp);
        if (length > 4) memmove(stamp + length - 4, stamp + length - 1, 2);
        g_string_append_printf(line, "{\"time\":\"%s\",\"level\":\"%s\"", stamp, level_name(level));
        g_free(stamp);
        if (instance) {
            g_string_append(line, ",\"instance\":");
            append_json_string(line, instance);
        }
        if (domain) {
            g_string_append(line, ",\"domain\":");
            append_json_string(line, domain);
        }
        g_string_append(line, ",\"message\":");
        append_json_string(line, message);
        g_string_append(line, "}\n");
    } else if (instance) {
        g_string_append_printf(line, "streamcut: %s: [%s] %s\n", level_name(level), instance, message);
    } else if (domain) {
        g_string_append_printf(line, "streamcut: %s: (%s) %s\n", level_name(level), domain, message);
    } else {
        g_string_append_printf(line, "streamcut: %s: %s\n", level_name(level), message);
    }
    /* One write per line keeps concurrent threads' lines whole. */
    g_mutex_lock(&output_lock);
    FILE *out = log_file ? log_file : stderr;
    if (out == stderr && atomic_exchange(&progress_shown, false)) fputs("\r\033[K", out);
    fwrite(line->str, 1, line->len, out);
    fflush(out);
    g_mutex_unlock(&output_lock);
    g_string_free(line, TRUE);
    return G_LOG_WRITER_HANDLED;
}

bool sc_log_configure(const char *format, const char *path, char **error)
{
    FILE *opened = NULL;
    if (path && *path) {
        opened = fopen(path, "ae");
        if (!opened) {
            *error = g_strdup_printf("cannot open log file %s: %s", path, g_strerror(errno));
            return false;
        }
    }
    g_mutex_lock(&output_lock);
    if (log_file) fclose(log_file);
    log_file = opened;
    g_free(log_path);
    log_path = path && *path ? g_strdup(path) : NULL;
    log_json = format && strcmp(format, "json") == 0;
    g_mutex_unlock(&output_lock);
    return true;
}

void sc_log_reopen(void)
{
    g_mutex_lock(&output_lock);
    if (log_path) {
        FILE *reopened = fopen(log_path, "ae");
        if (reopened) {
            if (log_file) fclose(log_file);
            log_file = reopened;
        }
    }
    g_mutex_unlock(&output_lock);
}

void sc_log_close(void)
{
    g_mutex_lock(&output_lock);
    if (log_file) fclose(log_file);
    log_file = NULL;
    g_free(log_path);
    log_path = NULL;
    g_mutex_unlock(&output_lock);
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
    g_log_set_writer_func(write_line, NULL, NULL);
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
