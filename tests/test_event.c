/* The event strategy: clips around events from an events file and from
 * the synth source's timed-data packets, with exact boundaries; overlap
 * handling; several clips per event; truncation by a short buffer; bad
 * lines counted and skipped. The parsers of event lines, ID3 tags and AMF
 * cues, and the FIFO reader, are tested directly (their sources are
 * compiled into this test).
 *
 * The synth source: 30 fps video with a keyframe every `gop` frames, AAC
 * audio in 1024-sample frames at 48 kHz, packets of 1000 bytes. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "test_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../modules/event/event_reader.c"
#include "../modules/common/text_buffer.c"
#include "../modules/event/event_text.c"
#include "../modules/event/timed_data.c"

/* ---- running pipelines ---- */

typedef struct event_run {
    GPtrArray *records;     /* char*, one JSON object each */
    bool created;           /* the pipeline's instances were created */
    GHashTable *counters;   /* the strategy's counters: char* -> int64_t* */
} event_run;

/* Runs synth -> event -> jsonl. `events_text`, when not NULL, is written
 * to a regular file that the strategy's `events` option names. */
static event_run run_events(const char *source_options, const char *strategy_options, const char *events_text)
{
    char *dir = test_make_dir();
    char *records_path = g_build_filename(dir, "records.jsonl", NULL);
    char *events_line = NULL;
    if (events_text) {
        char *events_path = test_write_file(dir, "events.txt", events_text);
        events_line = g_strdup_printf("events = %s\n", events_path);
        g_free(events_path);
    }
    char *text = g_strdup_printf("[host]\nmodule_path = %s\n"
                                 "[source cam]\nmodule = synth\n%s"
                                 "[strategy cut]\nmodule = event\nsource = cam\n%s%s"
                                 "[sink records]\nmodule = jsonl\nfrom = cut\npath = %s\n",
                                 test_modules_dir(), source_options, strategy_options, events_line ? events_line : "",
                                 records_path);
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    event_run run = {.records = g_ptr_array_new_with_free_func(g_free),
                     .counters = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free)};
    run.created = sc_pipeline_create(pipeline, errors);
    if (run.created) {
        sc_pipeline_start(pipeline);
        while (!sc_pipeline_sources_done(pipeline)) g_usleep(2000);
        ck_assert_int_eq(sc_pipeline_finish(pipeline), 0);
        sc_ctx *ctx = ((sc_strategy_runtime *)pipeline->strategies->pdata[0])->ctx;
        g_mutex_lock(&ctx->counters_lock);
        GHashTableIter iter;
        gpointer key, value;
        g_hash_table_iter_init(&iter, ctx->counters);
        while (g_hash_table_iter_next(&iter, &key, &value))
            g_hash_table_insert(run.counters, g_strdup(key), g_memdup2(value, sizeof(int64_t)));
        g_mutex_unlock(&ctx->counters_lock);
    }
    sc_pipeline_free(pipeline);
    char *contents = NULL;
    g_file_get_contents(records_path, &contents, NULL, NULL);
    char **lines = g_strsplit(contents ? contents : "", "\n", -1);
    for (char **line = lines; *line; line++)
        if (**line) g_ptr_array_add(run.records, g_strdup(*line));
    g_strfreev(lines);
    g_free(contents);
    g_ptr_array_free(errors, TRUE);
    g_free(text);
    g_free(path);
    g_free(events_line);
    g_free(records_path);
    test_remove_tree(dir);
    g_free(dir);
    return run;
}

static void run_free(event_run *run)
{
    g_ptr_array_free(run->records, TRUE);
    g_hash_table_destroy(run->counters);
}

static int64_t counter(const event_run *run, const char *name)
{
    const int64_t *value = g_hash_table_lookup(run->counters, name);
    return value ? *value : 0;
}

/* The record whose label is `label` (fails the test when there is not
 * exactly one). */
static const char *record_labelled(const event_run *run, const char *label)
{
    char *quoted = g_strdup_printf("\"label\":\"%s\"", label);
    const char *found = NULL;
    int count = 0;
    for (guint i = 0; i < run->records->len; i++) {
        if (strstr(run->records->pdata[i], quoted)) {
            found = run->records->pdata[i];
            count++;
        }
    }
    g_free(quoted);
    ck_assert_msg(count == 1, "%d records labelled %s", count, label);
    return found;
}

/* The records sorted by start, then end. */
static int by_range(gconstpointer a, gconstpointer b)
{
    const char *left = *(const char *const *)a, *right = *(const char *const *)b;
    double difference = test_number_field(left, "start") - test_number_field(right, "start");
    if (difference == 0) difference = test_number_field(left, "end") - test_number_field(right, "end");
    return difference < 0 ? -1 : difference > 0;
}

/* One expected clip: label, nominal range, where its packets start. */
typedef struct expected_clip {
    const char *label;
    double start;
    double end;
    double keyframe_start;
    int merged_events;
} expected_clip;

static void check_clips(const event_run *run, const expected_clip *expected, size_t count)
{
    ck_assert_msg(run->records->len == count, "%u records, expected %zu", run->records->len, count);
    g_ptr_array_sort(run->records, by_range);
    for (size_t i = 0; i < count; i++) {
        const char *record = run->records->pdata[i];
        const expected_clip *clip = &expected[i];
        char *label = g_strdup_printf("\"label\":\"%s\"", clip->label);
        ck_assert_msg(strstr(record, label) != NULL, "clip %zu: not %s: %s", i, clip->label, record);
        g_free(label);
        ck_assert_msg(test_number_field(record, "start") == clip->start && test_number_field(record, "end") == clip->end,
                      "clip %zu (%s): [%g, %g), expected [%g, %g)", i, clip->label, test_number_field(record, "start"),
                      test_number_field(record, "end"), clip->start, clip->end);
        ck_assert_double_eq_tol(test_number_field(record, "keyframe_start"), clip->keyframe_start, 1e-6);
        ck_assert_int_eq(test_has_flag(record, "mid_gop_start"), clip->keyframe_start < clip->start);
        ck_assert_int_eq((int)test_number_field(record, "merged_events"), clip->merged_events);
        ck_assert_msg(!test_has_flag(record, "partial") && !test_has_flag(record, "truncated"), "%s", record);
    }
}

/* 30 s, keyframes every 2 s. */
#define SOURCE_30S "duration = 30s\nfps = 30\ngop = 60\n"

/* ---- exact boundaries ---- */

START_TEST(clips_start_exactly_pre_roll_before_the_event)
{
    event_run run = run_events(SOURCE_30S, "pre_roll = 3s\npost_roll = 2s\n",
                               "# a comment, then a blank line\n\n"
                               "12.5 goal\n"
                               "{\"name\": \"save\", \"time\": 20, \"pre_roll\": 4, \"post_roll\": 0, "
                               "\"payload\": {\"player\": \"A\"}}\n"
                               "{\"name\": \"corner\", \"time\": 25.1, \"post_roll\": \"1.5s\"}\n"
                               "now kickoff\n");
    ck_assert(run.created);
    /* "now" before any packet is the first packet's time, 0; the clip
     * cannot start before the timeline does. */
    static const expected_clip expected[] = {
        {"event:kickoff", 0, 2, 0, 1},
        {"event:goal", 9.5, 14.5, 8, 1},
        {"event:save", 16, 20, 16, 1},
        {"event:corner", 22.1, 26.6, 22, 1},
    };
    check_clips(&run, expected, 4);
    const char *goal = record_labelled(&run, "event:goal");
    /* Video frames 240..434 (from the keyframe at 8 s, dts < 14.5 s) and the
     * audio frames with pts in [8, 14.5): 195 + 305. */
    ck_assert_int_eq((int)test_number_field(goal, "packets"), 500);
    ck_assert_double_eq_tol(test_number_field(goal, "event_time"), 12.5, 1e-9);
    ck_assert_double_eq_tol(test_number_field(goal, "pre_roll"), 3, 1e-9);
    ck_assert_double_eq_tol(test_number_field(goal, "post_roll"), 2, 1e-9);
    ck_assert_ptr_nonnull(strstr(goal, "\"event\":\"goal\""));
    ck_assert_ptr_nonnull(strstr(goal, "\"payload\":null"));
    const char *save = record_labelled(&run, "event:save");
    ck_assert_ptr_nonnull(strstr(save, "\"payload\":{\"player\": \"A\"}"));
    ck_assert_double_eq_tol(test_number_field(save, "pre_roll"), 4, 1e-9);
    ck_assert_double_eq_tol(test_number_field(save, "post_roll"), 0, 1e-9);
    const char *corner = record_labelled(&run, "event:corner");
    ck_assert_double_eq_tol(test_number_field(corner, "post_roll"), 1.5, 1e-9);
    ck_assert_double_eq_tol(test_number_field(corner, "pre_roll"), 3, 1e-9);
    const char *kickoff = record_labelled(&run, "event:kickoff");
    ck_assert_double_eq_tol(test_number_field(kickoff, "event_time"), 0, 1e-9);
    ck_assert_int_eq(counter(&run, "events_received"), 4);
    ck_assert_int_eq(counter(&run, "events_rejected"), 0);
    ck_assert_int_eq(counter(&run, "clips_requested"), 4);
    run_free(&run);
}
END_TEST

START_TEST(post_roll_zero_saves_the_last_seconds)
{
    event_run run = run_events(SOURCE_30S, "pre_roll = 5s\npost_roll = 0\n", "10 save\n22 save\n");
    ck_assert(run.created);
    static const expected_clip expected[] = {
        {"event:save", 5, 10, 4, 1},
        {"event:save", 17, 22, 16, 1},
    };
    check_clips(&run, expected, 2);
    run_free(&run);
}
END_TEST

START_TEST(several_clip_lengths_per_event)
{
    event_run run = run_events(SOURCE_30S, "clips = 2s, 5s, 1.5s\npost_roll = 1s\n", "10 goal\n");
    ck_assert(run.created);
    static const expected_clip expected[] = {
        {"event:goal/5s", 6, 11, 6, 1},
        {"event:goal/2s", 9, 11, 8, 1},
        {"event:goal/1.5s", 9.5, 11, 8, 1},
    };
    check_clips(&run, expected, 3);
    ck_assert_double_eq_tol(test_number_field(record_labelled(&run, "event:goal/5s"), "clip_length"), 5, 1e-9);
    ck_assert_double_eq_tol(test_number_field(record_labelled(&run, "event:goal/2s"), "pre_roll"), 1, 1e-9);
    run_free(&run);
    /* One length: no suffix. */
    run = run_events(SOURCE_30S, "clips = 4s\npost_roll = 0\n", "10 goal\n");
    static const expected_clip single[] = {{"event:goal", 6, 10, 6, 1}};
    check_clips(&run, single, 1);
    run_free(&run);
}
END_TEST

START_TEST(pre_roll_and_clips_exclude_each_other)
{
    event_run run = run_events(SOURCE_30S, "clips = 2s, 5s\npre_roll = 3s\n", "10 goal\n");
    ck_assert(!run.created);
    run_free(&run);
    run = run_events(SOURCE_30S, "clips = 2s, 2s\n", "10 goal\n");
    ck_assert(!run.created);
    run_free(&run);
    run = run_events(SOURCE_30S, "pre_roll = 0\npost_roll = 0\n", "10 goal\n");
    ck_assert(!run.created);
    run_free(&run);
}
END_TEST

/* ---- overlapping events ---- */

/* a [7, 12), b [10, 15), d [10, 11.5), c [19, 24). */
static const char OVERLAPPING[] = "10 a\n13 b\n{\"name\": \"d\", \"time\": 11, \"pre_roll\": 1, \"post_roll\": 0.5}\n22 c\n";

START_TEST(overlap_allow_gives_independent_clips)
{
    event_run run = run_events(SOURCE_30S, "pre_roll = 3s\npost_roll = 2s\noverlap = allow\n", OVERLAPPING);
    static const expected_clip expected[] = {
        {"event:a", 7, 12, 6, 1},
        {"event:d", 10, 11.5, 10, 1},
        {"event:b", 10, 15, 10, 1},
        {"event:c", 19, 24, 18, 1},
    };
    check_clips(&run, expected, 4);
    run_free(&run);
}
END_TEST

START_TEST(overlap_split_starts_where_the_previous_clip_ended)
{
    event_run run = run_events(SOURCE_30S, "pre_roll = 3s\npost_roll = 2s\noverlap = split\n", OVERLAPPING);
    static const expected_clip expected[] = {
        {"event:a", 7, 12, 6, 1},
        {"event:b", 12, 15, 12, 1},
        {"event:c", 19, 24, 18, 1},
    };
    check_clips(&run, expected, 3);
    ck_assert_double_eq_tol(test_number_field(record_labelled(&run, "event:b"), "pre_roll"), 1, 1e-9);
    /* d's range lies inside a's clip. */
    ck_assert_int_eq(counter(&run, "events_covered"), 1);
    run_free(&run);
}
END_TEST

START_TEST(overlap_merge_makes_one_clip_per_burst)
{
    event_run run = run_events(SOURCE_30S, "pre_roll = 3s\npost_roll = 2s\n", OVERLAPPING);
    static const expected_clip expected[] = {
        {"event:a", 7, 15, 6, 3},
        {"event:c", 19, 24, 18, 1},
    };
    check_clips(&run, expected, 2);
    const char *burst = record_labelled(&run, "event:a");
    ck_assert_double_eq_tol(test_number_field(burst, "event_time"), 10, 1e-9);
    ck_assert_double_eq_tol(test_number_field(burst, "last_event_time"), 13, 1e-9);
    ck_assert_double_eq_tol(test_number_field(burst, "pre_roll"), 3, 1e-9);
    ck_assert_double_eq_tol(test_number_field(burst, "post_roll"), 2, 1e-9);
    run_free(&run);
}
END_TEST

START_TEST(merge_gap_joins_clips_that_close)
{
    /* [7, 12) and [14, 19): 2 s apart. */
    event_run run = run_events(SOURCE_30S, "pre_roll = 3s\npost_roll = 2s\nmerge_gap = 2s\n", "10 a\n17 b\n");
    static const expected_clip joined[] = {{"event:a", 7, 19, 6, 2}};
    check_clips(&run, joined, 1);
    run_free(&run);
    run = run_events(SOURCE_30S, "pre_roll = 3s\npost_roll = 2s\nmerge_gap = 1.5s\n", "10 a\n17 b\n");
    static const expected_clip apart[] = {{"event:a", 7, 12, 6, 1}, {"event:b", 14, 19, 14, 1}};
    check_clips(&run, apart, 2);
    run_free(&run);
}
END_TEST

/* ---- in-band events, truncation ---- */

START_TEST(timed_data_packets_become_events)
{
    event_run run = run_events("duration = 20s\nfps = 30\ngop = 60\ndata_every = 5s\ndata_text = goal %d\n",
                               "pre_roll = 2s\npost_roll = 1s\n", NULL);
    static const expected_clip expected[] = {
        {"event:goal 1", 3, 6, 2, 1},
        {"event:goal 2", 8, 11, 8, 1},
        {"event:goal 3", 13, 16, 12, 1},
    };
    check_clips(&run, expected, 3);
    ck_assert_int_eq(counter(&run, "data_events"), 3);
    run_free(&run);
    run = run_events("duration = 20s\nfps = 30\ngop = 60\ndata_every = 5s\ndata_text = goal %d\n",
                     "pre_roll = 2s\npost_roll = 1s\ndata_events = false\n", NULL);
    ck_assert_int_eq(run.records->len, 0);
    run_free(&run);
}
END_TEST

START_TEST(pre_roll_beyond_the_buffer_is_flagged_truncated)
{
    /* The cue at 10 s reaches back 6 s; the buffer keeps 3 s. */
    event_run run = run_events("duration = 25s\nfps = 30\ngop = 60\ndata_every = 10s\ndata_text = goal %d\n"
                               "buffer.retention_seconds = 3\n",
                               "pre_roll = 6s\npost_roll = 1s\n", NULL);
    ck_assert_int_eq(run.records->len, 2);
    g_ptr_array_sort(run.records, by_range);
    for (guint i = 0; i < 2; i++) {
        const char *record = run.records->pdata[i];
        double start = 4 + 10.0 * i;
        ck_assert_double_eq(test_number_field(record, "start"), start);
        ck_assert_double_eq(test_number_field(record, "end"), start + 7);
        ck_assert_msg(test_has_flag(record, "truncated"), "%s", record);
        ck_assert_double_gt(test_number_field(record, "keyframe_start"), start);
        ck_assert_double_le(test_number_field(record, "keyframe_start"), start + 6);
    }
    run_free(&run);
    /* The same with a buffer that reaches back far enough. */
    run = run_events("duration = 25s\nfps = 30\ngop = 60\ndata_every = 10s\ndata_text = goal %d\n",
                     "pre_roll = 6s\npost_roll = 1s\n", NULL);
    static const expected_clip whole[] = {{"event:goal 1", 4, 11, 4, 1}, {"event:goal 2", 14, 21, 14, 1}};
    check_clips(&run, whole, 2);
    run_free(&run);
}
END_TEST

/* ---- bad input ---- */

START_TEST(bad_lines_are_counted_and_skipped)
{
    event_run run = run_events(SOURCE_30S, "pre_roll = 1s\npost_roll = 1s\n",
                               "5 first\n"
                               "{not json\n"
                               "12.5\n"
                               "{\"time\": 5}\n"
                               "{\"name\": \"x\", \"time\": \"soon\"}\n"
                               "{\"name\": \"x\", \"pre_roll\": -1}\n"
                               "-3 negative\n"
                               "{\"name\": 7}\n"
                               "20 last\n");
    ck_assert(run.created);
    static const expected_clip expected[] = {{"event:first", 4, 6, 4, 1}, {"event:last", 19, 21, 18, 1}};
    check_clips(&run, expected, 2);
    ck_assert_int_eq(counter(&run, "events_rejected"), 7);
    ck_assert_int_eq(counter(&run, "events_received"), 2);
    run_free(&run);
}
END_TEST

START_TEST(an_events_path_that_cannot_be_opened_fails_at_start)
{
    char *dir = test_make_dir();
    char *file = test_write_file(dir, "plain", "");
    /* Below a regular file: neither openable nor creatable. */
    char *options = g_strdup_printf("events = %s/events\n", file);
    event_run run = run_events(SOURCE_30S, options, NULL);
    ck_assert(!run.created);
    run_free(&run);
    g_free(options);
    g_free(file);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

START_TEST(a_free_events_path_becomes_a_fifo)
{
    /* Nobody writes: the run ends with the input and the reader stops. */
    char *dir = test_make_dir();
    char *path = g_build_filename(dir, "sub", "events.fifo", NULL);
    char *options = g_strdup_printf("pre_roll = 1s\npost_roll = 1s\nevents = %s\n", path);
    gint64 began = g_get_monotonic_time();
    event_run run = run_events(SOURCE_30S, options, NULL);
    ck_assert(run.created);
    ck_assert_int_eq(run.records->len, 0);
    ck_assert_int_lt(g_get_monotonic_time() - began, 5 * G_USEC_PER_SEC);
    struct stat info;
    ck_assert_int_eq(stat(path, &info), 0);
    ck_assert(S_ISFIFO(info.st_mode));
    ck_assert_int_eq(info.st_mode & 0777, 0600);
    run_free(&run);
    g_free(options);
    g_free(path);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

/* ---- the reader, on a FIFO ---- */

typedef struct collected_lines {
    GMutex lock;
    GPtrArray *lines;   /* "NUMBER:TEXT" */
} collected_lines;

static void collect_line(void *opaque, const char *line, size_t length, uint64_t number, int overlong)
{
    collected_lines *collected = opaque;
    g_mutex_lock(&collected->lock);
    g_ptr_array_add(collected->lines, g_strdup_printf("%" G_GUINT64_FORMAT ":%.*s%s", number, (int)length, line,
                                                      overlong ? " (overlong)" : ""));
    g_mutex_unlock(&collected->lock);
}

static void ignore_warning(void *opaque, const char *message)
{
    (void)opaque;
    (void)message;
}

static void wait_for_lines(collected_lines *collected, guint count)
{
    for (int i = 0; i < 500; i++) {
        g_mutex_lock(&collected->lock);
        guint have = collected->lines->len;
        g_mutex_unlock(&collected->lock);
        if (have >= count) return;
        g_usleep(10000);
    }
}

static void write_fifo(const char *path, const char *text, size_t length)
{
    int fd = open(path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, length), (ssize_t)length);
    close(fd);
}

START_TEST(the_fifo_is_read_across_writers)
{
    char *dir = test_make_dir();
    char *path = g_build_filename(dir, "events.fifo", NULL);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    collected_lines collected = {.lines = g_ptr_array_new_with_free_func(g_free)};
    g_mutex_init(&collected.lock);
    char error[256];
    int created;
    event_reader *reader = event_reader_start(path, collect_line, ignore_warning, &collected, &created, error,
                                              sizeof error);
    ck_assert_msg(reader != NULL, "%s", error);
    ck_assert_int_eq(created, 0);
    event_reader_wait_file(reader); /* returns at once for a FIFO */
    /* Two writers one after the other; the first leaves its last line
     * unterminated, which closing ends. */
    write_fifo(path, "first\nsecond\r\nunterminated", 26);
    wait_for_lines(&collected, 3);
    char *overlong = g_malloc(EVENT_LINE_MAX + 11);
    memset(overlong, 'x', EVENT_LINE_MAX + 10);
    overlong[EVENT_LINE_MAX + 10] = '\n';
    write_fifo(path, "third\n", 6);
    write_fifo(path, overlong, EVENT_LINE_MAX + 11);
    write_fifo(path, "last\n", 5);
    wait_for_lines(&collected, 6);
    gint64 began = g_get_monotonic_time();
    event_reader_stop(reader);
    ck_assert_int_lt(g_get_monotonic_time() - began, G_USEC_PER_SEC);
    ck_assert_int_eq(collected.lines->len, 6);
    ck_assert_str_eq(collected.lines->pdata[0], "1:first");
    ck_assert_str_eq(collected.lines->pdata[1], "2:second");
    ck_assert_str_eq(collected.lines->pdata[2], "3:unterminated");
    ck_assert_str_eq(collected.lines->pdata[3], "4:third");
    ck_assert_int_eq(strlen(collected.lines->pdata[4]), 2 + EVENT_LINE_MAX + strlen(" (overlong)"));
    ck_assert_str_eq(collected.lines->pdata[5], "6:last");
    g_free(overlong);
    g_ptr_array_free(collected.lines, TRUE);
    g_mutex_clear(&collected.lock);
    g_free(path);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

START_TEST(events_past_the_end_are_counted)
{
    event_run run = run_events(SOURCE_30S, "pre_roll = 1s\npost_roll = 1s\n", "10 in\n45 after\n");
    static const expected_clip expected[] = {{"event:in", 9, 11, 8, 1}};
    check_clips(&run, expected, 1);
    ck_assert_int_eq(counter(&run, "clips_unreached"), 1);
    run_free(&run);
}
END_TEST

/* ---- the parsers ---- */

START_TEST(event_lines_parse)
{
    parsed_event event;
    char error[160];
    ck_assert_int_eq(parse_event_line("12.5 goal scored", 16, &event, error, sizeof error), 1);
    ck_assert_str_eq(event.name, "goal scored");
    ck_assert_int_eq(event.time, INT64_C(12500000000));
    ck_assert_int_eq(event.pre_roll, EVENT_TIME_NONE);
    ck_assert_ptr_null(event.payload_json);
    parsed_event_clear(&event);

    ck_assert_int_eq(parse_event_line("12.1 x\r", 7, &event, error, sizeof error), 1);
    ck_assert_int_eq(event.time, INT64_C(12100000000));
    parsed_event_clear(&event);

    ck_assert_int_eq(parse_event_line("goal", 4, &event, error, sizeof error), 1);
    ck_assert_int_eq(event.time, EVENT_TIME_NONE);
    parsed_event_clear(&event);

    ck_assert_int_eq(parse_event_line("now goal", 8, &event, error, sizeof error), 1);
    ck_assert_int_eq(event.time, EVENT_TIME_NONE);
    ck_assert_str_eq(event.name, "goal");
    parsed_event_clear(&event);

    const char *json = "{\"name\":\"a\\u00e9\\ud83d\\ude00\",\"time\":1.25,\"pre_roll\":0.5,\"post_roll\":\"2s\","
                       "\"payload\":[1,{\"x\":null}],\"id\":{\"ignored\":true}}";
    ck_assert_int_eq(parse_event_line(json, strlen(json), &event, error, sizeof error), 1);
    ck_assert_str_eq(event.name, "a\xc3\xa9\xf0\x9f\x98\x80");
    ck_assert_int_eq(event.time, INT64_C(1250000000));
    ck_assert_int_eq(event.pre_roll, INT64_C(500000000));
    ck_assert_int_eq(event.post_roll, INT64_C(2000000000));
    ck_assert_str_eq(event.payload_json, "[1,{\"x\":null}]");
    parsed_event_clear(&event);

    json = "{\"name\":\"x\",\"time\":\"now\",\"post_roll\":1e1}";
    ck_assert_int_eq(parse_event_line(json, strlen(json), &event, error, sizeof error), 1);
    ck_assert_int_eq(event.time, EVENT_TIME_NONE);
    ck_assert_int_eq(event.post_roll, INT64_C(10000000000));
    parsed_event_clear(&event);

    ck_assert_int_eq(parse_event_line("", 0, &event, error, sizeof error), 0);
    ck_assert_int_eq(parse_event_line("  # note", 8, &event, error, sizeof error), 0);

    static const char *const bad[] = {
        "{\"name\":\"\"}", "{\"name\":5}", "{\"name\":\"x\",\"time\":\"soon\"}", "{\"name\":\"x\",\"pre_roll\":-1}",
        "-3 goal", "12.5", "{\"name\":\"x\"", "{\"name\":\"a\\nb\"}", "{\"name\":\"\\ud800\"}", "{\"time\":1}",
        "now", "{\"name\":\"x\",\"time\":-0.5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse_event_line(bad[i], strlen(bad[i]), &event, error, sizeof error) == -1, "accepted %s",
                      bad[i]);
        ck_assert_msg(error[0] != '\0', "no reason for %s", bad[i]);
        ck_assert_ptr_null(event.name);
    }
    char long_name[EVENT_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    ck_assert_int_eq(parse_event_line(long_name, strlen(long_name), &event, error, sizeof error), -1);
    ck_assert_int_eq(parse_event_line(long_name, EVENT_NAME_MAX, &event, error, sizeof error), 1);
    parsed_event_clear(&event);
}
END_TEST

START_TEST(durations_parse)
{
    int64_t lengths[16];
    size_t count;
    char error[128];
    ck_assert_int_eq(parse_duration_list("10s, 30s,1m, 1.5s ,500ms", lengths, 16, &count, error, sizeof error), 0);
    ck_assert_int_eq(count, 5);
    ck_assert_int_eq(lengths[0], INT64_C(10000000000));
    ck_assert_int_eq(lengths[2], INT64_C(60000000000));
    ck_assert_int_eq(lengths[3], INT64_C(1500000000));
    ck_assert_int_eq(lengths[4], INT64_C(500000000));
    ck_assert_int_eq(parse_duration_list("10s, 10s", lengths, 16, &count, error, sizeof error), -1);
    ck_assert_int_eq(parse_duration_list("0s", lengths, 16, &count, error, sizeof error), -1);
    ck_assert_int_eq(parse_duration_list("ten", lengths, 16, &count, error, sizeof error), -1);
    ck_assert_int_eq(parse_duration_list("1,2,3", lengths, 2, &count, error, sizeof error), -1);
    char text[32];
    format_duration(INT64_C(10000000000), text, sizeof text);
    ck_assert_str_eq(text, "10s");
    format_duration(INT64_C(1500000000), text, sizeof text);
    ck_assert_str_eq(text, "1.5s");
    format_duration(INT64_C(500000000), text, sizeof text);
    ck_assert_str_eq(text, "500ms");
}
END_TEST

/* Appends an ID3 frame: v2.2 (3-byte id and size), v2.3 (plain size) or
 * v2.4 (syncsafe size). */
static void add_frame(GByteArray *tag, int major, const char *id, const void *body, size_t size)
{
    guint8 header[10] = {0};
    if (major == 2) {
        memcpy(header, id, 3);
        header[3] = (guint8)(size >> 16), header[4] = (guint8)(size >> 8), header[5] = (guint8)size;
        g_byte_array_append(tag, header, 6);
    } else {
        memcpy(header, id, 4);
        if (major == 4)
            header[4] = (guint8)((size >> 21) & 0x7f), header[5] = (guint8)((size >> 14) & 0x7f),
            header[6] = (guint8)((size >> 7) & 0x7f), header[7] = (guint8)(size & 0x7f);
        else
            header[4] = (guint8)(size >> 24), header[5] = (guint8)(size >> 16), header[6] = (guint8)(size >> 8),
            header[7] = (guint8)size;
        g_byte_array_append(tag, header, 10);
    }
    g_byte_array_append(tag, body, (guint)size);
}

/* Writes 0xFF as 0xFF 0x00, as a tag with the unsynchronisation flag does. */
static GByteArray *unsynchronise(GByteArray *frames)
{
    GByteArray *out = g_byte_array_new();
    for (guint i = 0; i < frames->len; i++) {
        g_byte_array_append(out, frames->data + i, 1);
        if (frames->data[i] == 0xff) g_byte_array_append(out, (const guint8 *)"", 1);
    }
    g_byte_array_free(frames, TRUE);
    return out;
}

/* Wraps frames into a tag: the ten-byte header with a syncsafe size. */
static GByteArray *id3_tag(int major, int flags, GByteArray *frames)
{
    GByteArray *tag = g_byte_array_new();
    size_t size = frames->len;
    guint8 header[10] = {'I', 'D', '3', (guint8)major, 0, (guint8)flags, (guint8)((size >> 21) & 0x7f),
                         (guint8)((size >> 14) & 0x7f), (guint8)((size >> 7) & 0x7f), (guint8)(size & 0x7f)};
    g_byte_array_append(tag, header, 10);
    g_byte_array_append(tag, frames->data, frames->len);
    g_byte_array_free(frames, TRUE);
    return tag;
}

static int id3_event(GByteArray *tag, char **name, char **payload)
{
    int result = timed_data_to_event("timed_id3", tag->data, tag->len, name, payload);
    g_byte_array_free(tag, TRUE);
    return result;
}

START_TEST(id3_tags_become_events)
{
    char *name, *payload;
    /* v2.4, UTF-8 TXXX whose value is JSON: description and value. */
    GByteArray *frames = g_byte_array_new();
    static const char txxx[] = "\x03goal\0{\"team\":\"home\"}";
    add_frame(frames, 4, "TIT2", "\x03title", 6);
    add_frame(frames, 4, "TXXX", txxx, sizeof txxx - 1);
    ck_assert_int_eq(id3_event(id3_tag(4, 0, frames), &name, &payload), 1);
    ck_assert_str_eq(name, "goal");
    ck_assert_str_eq(payload, "{\"team\":\"home\"}");
    free(name), free(payload);

    /* v2.3, UTF-16 with BOM: the value is not JSON, so a string. */
    frames = g_byte_array_new();
    static const char utf16[] = "\x01\xff\xfeg\0o\0a\0l\0\0\0\xff\xfe"
                                "1\0-\0"
                                "0\0";
    add_frame(frames, 3, "TXXX", utf16, sizeof utf16 - 1);
    ck_assert_int_eq(id3_event(id3_tag(3, 0, frames), &name, &payload), 1);
    ck_assert_str_eq(name, "goal");
    ck_assert_str_eq(payload, "\"1-0\"");
    free(name), free(payload);

    /* v2.3, Latin-1 TIT2 only. */
    frames = g_byte_array_new();
    add_frame(frames, 3, "TIT2", "\x00Kick-off caf\xe9", 14);
    ck_assert_int_eq(id3_event(id3_tag(3, 0, frames), &name, &payload), 1);
    ck_assert_str_eq(name, "Kick-off caf\xc3\xa9");
    ck_assert_ptr_null(payload);
    free(name);

    /* v2.2 TXX with an empty description. */
    frames = g_byte_array_new();
    add_frame(frames, 2, "TXX", "\x00\x00hello", 7);
    ck_assert_int_eq(id3_event(id3_tag(2, 0, frames), &name, &payload), 1);
    ck_assert_str_eq(name, "TXXX");
    ck_assert_str_eq(payload, "\"hello\"");
    free(name), free(payload);

    /* v2.3 unsynchronised: 0xFF 0x00 in the tag is one 0xFF (Latin-1 y-diaeresis). */
    frames = g_byte_array_new();
    add_frame(frames, 3, "TIT2", "\x00\xff!", 3);
    ck_assert_int_eq(id3_event(id3_tag(3, 0x80, unsynchronise(frames)), &name, &payload), 1);
    ck_assert_str_eq(name, "\xc3\xbf!");
    free(name);

    /* Apple's segment timestamp is no event; another PRIV is, its binary data in hex. */
    frames = g_byte_array_new();
    static const char apple[] = "com.apple.streaming.transportStreamTimestamp\0\0\0\0\0\0\x01\x5f\x90";
    add_frame(frames, 4, "PRIV", apple, sizeof apple - 1);
    ck_assert_int_eq(id3_event(id3_tag(4, 0, frames), &name, &payload), 0);
    frames = g_byte_array_new();
    add_frame(frames, 4, "PRIV", "com.example.cue\0\x01\xff", 18);
    ck_assert_int_eq(id3_event(id3_tag(4, 0, frames), &name, &payload), 1);
    ck_assert_str_eq(name, "com.example.cue");
    ck_assert_str_eq(payload, "\"01ff\"");
    free(name), free(payload);

    /* A tag whose size runs past the packet is malformed. */
    frames = g_byte_array_new();
    add_frame(frames, 4, "TIT2", "\x03title", 6);
    GByteArray *tag = id3_tag(4, 0, frames);
    g_byte_array_set_size(tag, tag->len - 2);
    ck_assert_int_eq(id3_event(tag, &name, &payload), -1);

    /* Not a tag: plain text, trailing NUL and white space trimmed. */
    ck_assert_int_eq(timed_data_to_event("timed_id3", (const uint8_t *)" goal 3\n\0", 9, &name, &payload), 1);
    ck_assert_str_eq(name, "goal 3");
    free(name);
    ck_assert_int_eq(timed_data_to_event("text", (const uint8_t *)"  ", 2, &name, &payload), 0);
    ck_assert_int_eq(timed_data_to_event("scte_35", (const uint8_t *)"\xfc", 1, &name, &payload), 0);
    ck_assert(!timed_data_codec_supported("scte_35"));
}
END_TEST

static void amf_string(GByteArray *out, const char *text)
{
    guint8 prefix[3] = {0x02, (guint8)(strlen(text) >> 8), (guint8)strlen(text)};
    g_byte_array_append(out, prefix, 3);
    g_byte_array_append(out, (const guint8 *)text, (guint)strlen(text));
}

static void amf_key(GByteArray *out, const char *key)
{
    guint8 prefix[2] = {(guint8)(strlen(key) >> 8), (guint8)strlen(key)};
    g_byte_array_append(out, prefix, 2);
    g_byte_array_append(out, (const guint8 *)key, (guint)strlen(key));
}

START_TEST(amf_cues_become_events)
{
    char *name, *payload;
    GByteArray *data = g_byte_array_new();
    amf_string(data, "onCuePoint");
    g_byte_array_append(data, (const guint8 *)"\x03", 1);
    amf_key(data, "name");
    amf_string(data, "ad-break");
    amf_key(data, "time");
    /* 12.5 as a big-endian double */
    g_byte_array_append(data, (const guint8 *)"\x00\x40\x29\x00\x00\x00\x00\x00\x00", 9);
    amf_key(data, "type");
    amf_string(data, "event");
    g_byte_array_append(data, (const guint8 *)"\x00\x00\x09", 3);
    ck_assert_int_eq(timed_data_to_event("none", data->data, data->len, &name, &payload), 1);
    ck_assert_str_eq(name, "ad-break");
    ck_assert_str_eq(payload, "{\"name\":\"ad-break\",\"time\":12.5,\"type\":\"event\"}");
    free(name), free(payload);
    g_byte_array_free(data, TRUE);

    data = g_byte_array_new();
    amf_string(data, "onGoal");
    amf_string(data, "x");
    g_byte_array_append(data, (const guint8 *)"\x01\x01\x05", 3);
    ck_assert_int_eq(timed_data_to_event("none", data->data, data->len, &name, &payload), 1);
    ck_assert_str_eq(name, "onGoal");
    ck_assert_str_eq(payload, "[\"x\",true,null]");
    free(name), free(payload);
    g_byte_array_free(data, TRUE);

    data = g_byte_array_new();
    amf_string(data, "onMetaData");
    g_byte_array_append(data, (const guint8 *)"\x05", 1);
    ck_assert_int_eq(timed_data_to_event("none", data->data, data->len, &name, &payload), 0);
    g_byte_array_free(data, TRUE);

    /* Truncated object, unknown type, not starting with a string. */
    ck_assert_int_eq(timed_data_to_event("none", (const uint8_t *)"\x02\x00\x02hi\x03\x00", 7, &name, &payload), -1);
    ck_assert_int_eq(timed_data_to_event("none", (const uint8_t *)"\x02\x00\x02hi\x11", 6, &name, &payload), -1);
    ck_assert_int_eq(timed_data_to_event("none", (const uint8_t *)"\x00\x00", 2, &name, &payload), -1);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("event");
    TCase *clips = tcase_create("clips");
    tcase_set_timeout(clips, 30);
    tcase_add_test(clips, clips_start_exactly_pre_roll_before_the_event);
    tcase_add_test(clips, post_roll_zero_saves_the_last_seconds);
    tcase_add_test(clips, several_clip_lengths_per_event);
    tcase_add_test(clips, pre_roll_and_clips_exclude_each_other);
    tcase_add_test(clips, overlap_allow_gives_independent_clips);
    tcase_add_test(clips, overlap_split_starts_where_the_previous_clip_ended);
    tcase_add_test(clips, overlap_merge_makes_one_clip_per_burst);
    tcase_add_test(clips, merge_gap_joins_clips_that_close);
    tcase_add_test(clips, timed_data_packets_become_events);
    tcase_add_test(clips, pre_roll_beyond_the_buffer_is_flagged_truncated);
    tcase_add_test(clips, bad_lines_are_counted_and_skipped);
    tcase_add_test(clips, an_events_path_that_cannot_be_opened_fails_at_start);
    tcase_add_test(clips, a_free_events_path_becomes_a_fifo);
    tcase_add_test(clips, events_past_the_end_are_counted);
    suite_add_tcase(suite, clips);
    TCase *parsers = tcase_create("parsers");
    tcase_add_test(parsers, event_lines_parse);
    tcase_add_test(parsers, durations_parse);
    tcase_add_test(parsers, id3_tags_become_events);
    tcase_add_test(parsers, amf_cues_become_events);
    tcase_add_test(parsers, the_fifo_is_read_across_writers);
    suite_add_tcase(suite, parsers);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
