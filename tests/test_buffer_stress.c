/* One writer and four readers on one buffer, as a source thread,
 * strategies, sinks and the control API use it. Run under
 * ThreadSanitizer by `make check-tsan`; a plain run checks the results. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "buffer.h"
#include "packet.h"

#define FRAME_NS (SC_NSEC_PER_SEC / 30)
#define PACKETS 200000

typedef struct shared {
    sc_buffer *buffer;
    atomic_bool writer_done;
    uint64_t cursor_seen[2];
    atomic_uint_least64_t views_taken;
} shared;

static sc_packet *make_packet(int64_t n)
{
    bool audio = n % 3 == 2;
    sc_packet *packet = sc_packet_alloc(audio ? 300 : 4000, NULL);
    packet->stream_index = audio ? 1 : 0;
    packet->media_type = audio ? SC_MEDIA_AUDIO : SC_MEDIA_VIDEO;
    packet->flags = audio || n % 90 == 0 ? SC_PACKET_KEY : 0;
    packet->pts = packet->dts = n / 3 * FRAME_NS + (audio ? 1000 : 0);
    packet->duration = FRAME_NS;
    return packet;
}

static void *write_packets(void *data)
{
    shared *state = data;
    for (int64_t n = 0; n < PACKETS; n++) sc_buffer_push(state->buffer, make_packet(n));
    sc_buffer_end(state->buffer);
    atomic_store(&state->writer_done, true);
    return NULL;
}

typedef struct cursor_job {
    shared *state;
    sc_buffer_reader *reader;
    int index;
} cursor_job;

static void *follow_cursor(void *data)
{
    cursor_job *job = data;
    const sc_packet *batch[32];
    bool at_end = false;
    uint64_t last_seq = 0, seen = 0;
    while (!at_end) {
        size_t count = sc_buffer_read(job->state->buffer, job->reader, batch, 32, 5 * SC_NSEC_PER_MSEC, &at_end);
        for (size_t i = 0; i < count; i++) {
            if (seen > 0 && batch[i]->seq <= last_seq) abort();  /* order broken */
            last_seq = batch[i]->seq;
            seen++;
            volatile uint8_t first = batch[i]->data[0];  /* the payload is readable */
            (void)first;
            sc_packet_unref(batch[i]);
        }
    }
    job->state->cursor_seen[job->index] = seen;
    return NULL;
}

static void *take_views(void *data)
{
    shared *state = data;
    uint64_t views = 0;
    while (!atomic_load(&state->writer_done)) {
        sc_buffer_stats stats;
        sc_buffer_get_stats(state->buffer, &stats);
        if (stats.newest_ts == SC_TIME_NONE) continue;
        GPtrArray *view = g_ptr_array_new();
        sc_buffer_copy_time_range(state->buffer, stats.newest_ts - SC_NSEC_PER_SEC, SC_TIME_NONE, views % 2, view);
        sc_keyframe_entry keyframe;
        sc_buffer_keyframe_at_or_before(state->buffer, stats.newest_ts, &keyframe);
        if (views % 16 == 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            sc_buffer_gc(state->buffer, (int64_t)now.tv_sec * SC_NSEC_PER_SEC + now.tv_nsec);
        }
        for (guint i = 0; i < view->len; i++) sc_packet_unref(view->pdata[i]);
        g_ptr_array_free(view, TRUE);
        views++;
    }
    atomic_fetch_add(&state->views_taken, views);
    return NULL;
}

START_TEST(one_writer_four_readers)
{
    sc_buffer_limits limits = {.max_items = 3000, .max_memory_bytes = 8 * 1024 * 1024,
                               .retention_ns = 20 * SC_NSEC_PER_SEC, .keyframe_priority = true};
    shared state = {.buffer = sc_buffer_new(&limits)};
    sc_buffer_set_reference_stream(state.buffer, 0);
    atomic_init(&state.writer_done, false);
    atomic_init(&state.views_taken, 0);
    cursor_job cursors[2] = {{&state, sc_buffer_reader_new(state.buffer), 0},
                             {&state, sc_buffer_reader_new(state.buffer), 1}};
    pthread_t writer, readers[4];
    pthread_create(&readers[0], NULL, follow_cursor, &cursors[0]);
    pthread_create(&readers[1], NULL, follow_cursor, &cursors[1]);
    pthread_create(&readers[2], NULL, take_views, &state);
    pthread_create(&readers[3], NULL, take_views, &state);
    pthread_create(&writer, NULL, write_packets, &state);
    pthread_join(writer, NULL);
    for (int i = 0; i < 4; i++) pthread_join(readers[i], NULL);
    sc_buffer_stats stats;
    sc_buffer_get_stats(state.buffer, &stats);
    ck_assert_uint_eq(stats.packets_in, PACKETS);
    ck_assert_uint_eq(stats.packets_in, stats.current_frames + stats.evicted_items + stats.evicted_memory +
                                            stats.evicted_retention + stats.evicted_host_memory + stats.thinned +
                                            stats.frames_dropped);
    ck_assert_uint_le(stats.current_frames, 3000);
    ck_assert_uint_eq(stats.pinned_bytes, 0);
    /* Live readers may miss what was evicted under them, never more. */
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_gt(state.cursor_seen[i], 0);
        ck_assert_uint_le(state.cursor_seen[i], PACKETS);
    }
    ck_assert_uint_gt(atomic_load(&state.views_taken), 0);
    sc_buffer_reader_free(state.buffer, cursors[0].reader);
    sc_buffer_reader_free(state.buffer, cursors[1].reader);
    sc_buffer_free(state.buffer);
    sc_packet_pool_trim(0);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("buffer-stress");
    TCase *tcase = tcase_create("threads");
    tcase_add_test(tcase, one_writer_four_readers);
    tcase_set_timeout(tcase, 600);
    suite_add_tcase(suite, tcase);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
