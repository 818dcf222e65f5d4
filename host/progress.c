/* A progress line for long file runs on a terminal: how far each file
 * source is (percent of its duration), how fast (times real time), and how
 * many segments came out so far. Only when stderr is a TTY and the log is
 * not quieted (-q): never in files, pipes or service logs. */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "log.h"

#define PRINT_INTERVAL_US (500 * 1000)

struct sc_progress {
    sc_pipeline *pipeline;
    gint64 started_us;
    gint64 printed_us;
    bool printed;
};

sc_progress *sc_progress_new(sc_pipeline *pipeline)
{
    if (!isatty(STDERR_FILENO) || sc_log_get_level() < SC_LOG_INFO) return NULL;
    sc_progress *progress = g_new0(sc_progress, 1);
    progress->pipeline = pipeline;
    progress->started_us = g_get_monotonic_time();
    return progress;
}

static int64_t source_duration(sc_source_runtime *source)
{
    int64_t longest = SC_TIME_NONE;
    g_mutex_lock(&source->streams_lock);
    for (guint i = 0; i < source->streams->len; i++) {
        const sc_stream_info *info = g_ptr_array_index(source->streams, i);
        if (info->duration > 0 && info->duration > longest) longest = info->duration;
    }
    g_mutex_unlock(&source->streams_lock);
    return longest;
}

void sc_progress_tick(sc_progress *progress)
{
    if (!progress) return;
    gint64 now = g_get_monotonic_time();
    if (now - progress->printed_us < PRINT_INTERVAL_US) return;
    sc_pipeline *pipeline = progress->pipeline;
    GString *line = g_string_new(NULL);
    double elapsed_s = (double)(now - progress->started_us) / 1e6;
    for (guint i = 0; i < pipeline->sources->len; i++) {
        sc_source_runtime *source = g_ptr_array_index(pipeline->sources, i);
        int state = atomic_load(&source->state);
        if (sc_buffer_is_live(source->buffer) || state == SC_SOURCE_FAILED) continue;
        int64_t duration = source_duration(source);
        if (duration <= 0) continue;
        sc_buffer_stats stats;
        sc_buffer_get_stats(source->buffer, &stats);
        double position_s = stats.newest_ts == SC_TIME_NONE ? 0 : (double)stats.newest_ts / 1e9;
        if (state == SC_SOURCE_ENDED) position_s = (double)duration / 1e9;
        double percent = 100.0 * position_s / ((double)duration / 1e9);
        if (percent > 100) percent = 100;
        g_string_append_printf(line, "%s%s %5.1f%% (%.1f of %.1f s, %.1fx)", line->len ? "  " : "",
                               source->ctx->name, percent, position_s, (double)duration / 1e9,
                               elapsed_s > 0 ? position_s / elapsed_s : 0.0);
    }
    if (line->len) {
        uint64_t segments = 0;
        for (guint i = 0; i < pipeline->strategies->len; i++)
            segments += atomic_load(&((sc_strategy_runtime *)g_ptr_array_index(pipeline->strategies, i))->segments_emitted);
        /* \r and "erase to end of line": the line rewrites itself. */
        fprintf(stderr, "\rprogress: %s, %" G_GUINT64_FORMAT " segments\033[K", line->str, (guint64)segments);
        fflush(stderr);
        progress->printed = true;
        sc_log_progress_shown(true);
    }
    progress->printed_us = now;
    g_string_free(line, TRUE);
}

void sc_progress_finish(sc_progress *progress)
{
    if (!progress) return;
    progress->printed_us = 0;
    sc_progress_tick(progress);
    if (progress->printed) fputc('\n', stderr);
    sc_log_progress_shown(false);
    g_free(progress);
}
