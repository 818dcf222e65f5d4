/* The packet buffer and the timestamp clock. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buffer.h"
#include "clock.h"
#include "reference_clock.h"
#include "packet.h"

#define FRAME_NS (SC_NSEC_PER_SEC / 30)

/* A video packet (stream 0) of `size` bytes at frame `n`, key every `gop`. */
static sc_packet *video_packet(int64_t n, int gop, size_t size)
{
    sc_packet *packet = sc_packet_alloc(size, NULL);
    packet->stream_index = 0;
    packet->media_type = SC_MEDIA_VIDEO;
    packet->flags = n % gop == 0 ? SC_PACKET_KEY : 0;
    packet->pts = packet->dts = n * FRAME_NS;
    packet->duration = FRAME_NS;
    return packet;
}

static sc_packet *audio_packet(int64_t time, size_t size)
{
    sc_packet *packet = sc_packet_alloc(size, NULL);
    packet->stream_index = 1;
    packet->media_type = SC_MEDIA_AUDIO;
    packet->flags = SC_PACKET_KEY;
    packet->pts = packet->dts = time;
    packet->duration = 21 * SC_NSEC_PER_MSEC;
    return packet;
}

static sc_buffer *new_buffer(int64_t max_items, int64_t max_memory, int64_t retention_ns)
{
    sc_buffer_limits limits = {.max_items = max_items, .max_memory_bytes = max_memory, .retention_ns = retention_ns};
    sc_buffer *buffer = sc_buffer_new(&limits);
    sc_buffer_set_reference_stream(buffer, 0);
    return buffer;
}

static void assert_accounting(sc_buffer *buffer)
{
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_eq(stats.packets_in, stats.current_frames + stats.evicted_items + stats.evicted_memory +
                                            stats.evicted_retention + stats.evicted_host_memory + stats.thinned +
                                            stats.frames_dropped);
}

/* The oldest packet held is a keyframe of the reference stream. */
static void assert_starts_at_keyframe(sc_buffer *buffer)
{
    GPtrArray *packets = g_ptr_array_new();
    sc_buffer_copy_seq_range(buffer, 0, UINT64_MAX, packets);
    ck_assert_uint_gt(packets->len, 0);
    const sc_packet *first = g_ptr_array_index(packets, 0);
    ck_assert(first->flags & SC_PACKET_KEY);
    ck_assert_int_eq(first->stream_index, 0);
    for (guint i = 0; i < packets->len; i++) sc_packet_unref(g_ptr_array_index(packets, i));
    g_ptr_array_free(packets, TRUE);
}

START_TEST(item_limit_evicts_whole_gops)
{
    sc_buffer *buffer = new_buffer(25, 0, 0);
    for (int n = 0; n < 100; n++) {
        sc_buffer_push(buffer, video_packet(n, 10, 100));
        assert_accounting(buffer);
    }
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_le(stats.current_frames, 25);
    ck_assert_uint_ge(stats.current_frames, 16);
    ck_assert_uint_eq(stats.evicted_items % 10, 0);
    ck_assert_uint_gt(stats.evicted_items, 0);
    ck_assert_uint_eq(stats.evicted_memory + stats.evicted_retention, 0);
    assert_starts_at_keyframe(buffer);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(memory_limit_counts_payload_and_overhead)
{
    sc_packet *probe = video_packet(0, 10, 1000);
    int64_t footprint = (int64_t)sc_packet_footprint(probe);
    sc_packet_unref(probe);
    ck_assert_int_gt(footprint, 1000 + SC_PACKET_PADDING);
    int64_t limit = 40 * footprint;
    sc_buffer *buffer = new_buffer(0, limit, 0);
    for (int n = 0; n < 200; n++) sc_buffer_push(buffer, video_packet(n, 10, 1000));
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_le(stats.memory_usage_bytes, (uint64_t)limit);
    ck_assert_uint_eq(stats.memory_usage_bytes, stats.current_frames * (uint64_t)footprint);
    ck_assert_uint_gt(stats.evicted_memory, 0);
    ck_assert_uint_eq(stats.packets_in, 200);
    ck_assert_uint_eq(stats.bytes_in, 200 * 1000);
    assert_accounting(buffer);
    assert_starts_at_keyframe(buffer);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(retention_keeps_at_least_the_window)
{
    sc_buffer *buffer = new_buffer(0, 0, 2 * SC_NSEC_PER_SEC);
    for (int n = 0; n < 300; n++) {
        sc_buffer_push(buffer, video_packet(n, 30, 10));
        sc_buffer_push(buffer, audio_packet(n * FRAME_NS, 10));
        if (n > 120) {
            sc_buffer_stats stats;
            sc_buffer_get_stats(buffer, &stats);
            ck_assert_double_ge(stats.buffer_duration_seconds, 2.0 - 1e-9);
            ck_assert_double_lt(stats.buffer_duration_seconds, 3.0 + 1e-9);
        }
    }
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_gt(stats.evicted_retention, 0);
    ck_assert_double_eq_tol(stats.keyframe_ratio, (double)3 / stats.current_frames, 1e-9);
    assert_accounting(buffer);
    assert_starts_at_keyframe(buffer);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(views_outlive_eviction)
{
    sc_buffer *buffer = new_buffer(20, 0, 0);
    for (int n = 0; n < 20; n++) sc_buffer_push(buffer, video_packet(n, 10, 64));
    GPtrArray *view = g_ptr_array_new();
    sc_buffer_copy_time_range(buffer, 0, 5 * FRAME_NS, false, view);
    ck_assert_int_eq(view->len, 5);
    for (int n = 20; n < 60; n++) sc_buffer_push(buffer, video_packet(n, 10, 64));
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_int_gt(stats.oldest_ts, 5 * FRAME_NS);
    for (guint i = 0; i < view->len; i++) {
        const sc_packet *packet = g_ptr_array_index(view, i);
        ck_assert_int_eq(packet->dts, (int64_t)i * FRAME_NS);
        ck_assert_int_eq(sc_packet_reference_count(packet), 1);
        ck_assert_int_eq(packet->data[0], 0);  /* still readable: ASan would object otherwise */
        sc_packet_unref(packet);
    }
    g_ptr_array_free(view, TRUE);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(keyframe_lookup_and_ranges)
{
    sc_buffer *buffer = new_buffer(0, 0, 0);
    for (int n = 0; n < 100; n++) sc_buffer_push(buffer, video_packet(n, 30, 8));
    sc_keyframe_entry keyframe;
    ck_assert(sc_buffer_keyframe_at_or_before(buffer, 45 * FRAME_NS, &keyframe));
    ck_assert_int_eq(keyframe.pts, 30 * FRAME_NS);
    ck_assert_uint_eq(keyframe.seq, 30);
    ck_assert(sc_buffer_keyframe_at_or_before(buffer, 60 * FRAME_NS, &keyframe));
    ck_assert_int_eq(keyframe.pts, 60 * FRAME_NS);
    ck_assert(sc_buffer_keyframe_at_or_after(buffer, 61 * FRAME_NS, &keyframe));
    ck_assert_int_eq(keyframe.pts, 90 * FRAME_NS);
    ck_assert(!sc_buffer_keyframe_at_or_after(buffer, 91 * FRAME_NS, &keyframe));
    ck_assert(!sc_buffer_keyframe_at_or_before(buffer, -1, &keyframe));
    GPtrArray *view = g_ptr_array_new();
    sc_buffer_copy_time_range(buffer, 45 * FRAME_NS, 50 * FRAME_NS, true, view);
    ck_assert_int_eq(view->len, 20);  /* from the keyframe at 30 */
    ck_assert_int_eq(((const sc_packet *)view->pdata[0])->dts, 30 * FRAME_NS);
    for (guint i = 0; i < view->len; i++) sc_packet_unref(view->pdata[i]);
    g_ptr_array_free(view, TRUE);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(a_hold_stretches_the_buffer_to_twice_its_limit)
{
    sc_buffer *buffer = new_buffer(10, 0, 0);
    sc_buffer_reader *reader = sc_buffer_reader_new(buffer);
    sc_buffer_reader_hold(buffer, reader, 0);
    for (int n = 0; n < 20; n++) sc_buffer_push(buffer, video_packet(n, 5, 8));
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_eq(stats.current_frames, 20);
    ck_assert_uint_eq(stats.evicted_items, 0);
    /* Past twice the limit the hold gives way: GOPs go again. */
    for (int n = 20; n < 30; n++) sc_buffer_push(buffer, video_packet(n, 5, 8));
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_le(stats.current_frames, 20);
    ck_assert_uint_gt(stats.evicted_items, 0);
    /* Released, the buffer is back within its limit at the next push. */
    sc_buffer_reader_hold(buffer, reader, UINT64_MAX);
    sc_buffer_push(buffer, video_packet(30, 5, 8));
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_le(stats.current_frames, 10);
    assert_accounting(buffer);
    sc_buffer_reader_free(buffer, reader);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(live_reader_that_falls_behind_counts_what_it_missed)
{
    sc_buffer *buffer = new_buffer(10, 0, 0);
    sc_buffer_reader *reader = sc_buffer_reader_new(buffer);
    for (int n = 0; n < 50; n++) sc_buffer_push(buffer, video_packet(n, 5, 8));
    const sc_packet *batch[64];
    bool at_end;
    size_t count = sc_buffer_read(buffer, reader, batch, 64, 0, &at_end);
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_eq(count, stats.current_frames);
    ck_assert_uint_eq(stats.reader_missed, 50 - count);
    ck_assert_uint_eq(batch[0]->seq, 50 - count);
    for (size_t i = 0; i < count; i++) sc_packet_unref(batch[i]);
    ck_assert(!at_end);
    sc_buffer_end(buffer);
    ck_assert_uint_eq(sc_buffer_read(buffer, reader, batch, 64, 0, &at_end), 0);
    ck_assert(at_end);
    sc_buffer_reader_free(buffer, reader);
    sc_buffer_free(buffer);
}
END_TEST

typedef struct writer_job {
    sc_buffer *buffer;
    int packets;
    sc_buffer_reader *reader;
    int first;          /* number of the first packet */
    gulong delay_us;    /* before the first push */
} writer_job;

static gpointer write_packets(gpointer data)
{
    writer_job *job = data;
    if (job->delay_us) g_usleep(job->delay_us);
    for (int n = job->first; n < job->packets; n++) sc_buffer_push(job->buffer, video_packet(n, 10, 32));
    sc_buffer_end(job->buffer);
    return NULL;
}

/* A file input's buffer of `max_items`, its reader, and a writer thread
 * pushing job->packets video packets into it. */
static GThread *start_file_input(writer_job *job, int64_t max_items)
{
    job->buffer = new_buffer(max_items, 0, 0);
    sc_buffer_set_live(job->buffer, false);
    job->reader = sc_buffer_reader_new(job->buffer);
    return g_thread_new("writer", write_packets, job);
}

START_TEST(file_input_waits_for_readers_instead_of_dropping)
{
    writer_job job = {.packets = 5000};
    GThread *writer = start_file_input(&job, 30);
    sc_buffer *buffer = job.buffer;
    sc_buffer_reader *reader = job.reader;
    const sc_packet *batch[7];
    bool at_end = false;
    uint64_t expected = 0;
    while (!at_end) {
        size_t count = sc_buffer_read(buffer, reader, batch, 7, 10 * SC_NSEC_PER_MSEC, &at_end);
        for (size_t i = 0; i < count; i++) {
            ck_assert_uint_eq(batch[i]->seq, expected);
            expected++;
            sc_packet_unref(batch[i]);
        }
    }
    g_thread_join(writer);
    ck_assert_uint_eq(expected, 5000);
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_eq(stats.reader_missed, 0);
    ck_assert_uint_le(stats.current_frames, 30);
    assert_accounting(buffer);
    sc_buffer_reader_free(buffer, reader);
    sc_buffer_free(buffer);
}
END_TEST

/* A reader hands a batch to its module, and the module asks for a window
 * starting at the batch's first keyframe: the writer must not have
 * evicted that batch in between, or the window loses its start. */
START_TEST(a_batch_stays_until_its_reader_comes_back)
{
    writer_job job = {.packets = 200};
    GThread *writer = start_file_input(&job, 30);
    sc_buffer *buffer = job.buffer;
    sc_buffer_reader *reader = job.reader;
    /* The writer fills the buffer, then waits for the reader. */
    sc_buffer_stats stats;
    do {
        g_usleep(1000);
        sc_buffer_get_stats(buffer, &stats);
    } while (stats.current_frames < 30);
    const sc_packet *batch[20];
    bool at_end = false;
    size_t count = sc_buffer_read(buffer, reader, batch, 20, SC_NSEC_PER_SEC, &at_end);
    ck_assert_uint_eq(count, 20);
    ck_assert_uint_eq(batch[0]->seq, 0);
    for (size_t i = 0; i < count; i++) sc_packet_unref(batch[i]);
    /* The module takes its time; the writer has room to run meanwhile. */
    g_usleep(100 * 1000);
    sc_keyframe_entry keyframe;
    ck_assert(sc_buffer_keyframe_at_or_before(buffer, 0, &keyframe));
    ck_assert_uint_eq(keyframe.seq, 0);
    sc_buffer_reader_hold(buffer, reader, 0);
    uint64_t expected = 20;
    while (!at_end) {
        count = sc_buffer_read(buffer, reader, batch, 20, 10 * SC_NSEC_PER_MSEC, &at_end);
        for (size_t i = 0; i < count; i++) {
            ck_assert_uint_eq(batch[i]->seq, expected++);
            sc_packet_unref(batch[i]);
        }
        if (expected >= 50) sc_buffer_reader_hold(buffer, reader, UINT64_MAX);
    }
    g_thread_join(writer);
    ck_assert_uint_eq(expected, 200);
    assert_accounting(buffer);
    sc_buffer_reader_free(buffer, reader);
    sc_buffer_free(buffer);
}
END_TEST

/* A file input's writer that pushes past the limit while a reader holds
 * the head waits for that reader to take the new packet: the reader,
 * asleep for data, must hear of it first. The reader waits up to an hour
 * for data, so a lost wake-up hangs the test. */
START_TEST(a_reader_hears_of_the_packet_its_writer_then_waits_on)
{
    sc_buffer *buffer = new_buffer(30, 0, 0);
    sc_buffer_set_live(buffer, false);
    sc_buffer_reader *reader = sc_buffer_reader_new(buffer);
    sc_buffer_reader_hold(buffer, reader, 0);
    for (int n = 0; n < 30; n++) sc_buffer_push(buffer, video_packet(n, 10, 32));
    const sc_packet *batch[64];
    bool at_end = false;
    size_t count = sc_buffer_read(buffer, reader, batch, 64, 0, &at_end);
    ck_assert_uint_eq(count, 30);
    for (size_t i = 0; i < count; i++) sc_packet_unref(batch[i]);
    /* The reader is asleep for data by the time the writer goes on. */
    writer_job job = {.buffer = buffer, .reader = reader, .first = 30, .packets = 50, .delay_us = 100 * 1000};
    GThread *writer = g_thread_new("writer", write_packets, &job);
    uint64_t expected = 30;
    while (!at_end) {
        count = sc_buffer_read(buffer, reader, batch, 64, 3600 * SC_NSEC_PER_SEC, &at_end);
        for (size_t i = 0; i < count; i++) {
            ck_assert_uint_eq(batch[i]->seq, expected++);
            sc_packet_unref(batch[i]);
        }
    }
    g_thread_join(writer);
    ck_assert_uint_eq(expected, 50);
    sc_buffer_reader_hold(buffer, reader, UINT64_MAX);
    assert_accounting(buffer);
    sc_buffer_reader_free(buffer, reader);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(randomized_operations_keep_accounting)
{
    GRand *random = g_rand_new_with_seed(1234);
    sc_buffer_limits limits = {.max_items = 200, .max_memory_bytes = 256 * 1024, .retention_ns = 3 * SC_NSEC_PER_SEC,
                               .keyframe_priority = true};
    sc_buffer *buffer = sc_buffer_new(&limits);
    sc_buffer_set_reference_stream(buffer, 0);
    GPtrArray *held = g_ptr_array_new();
    int64_t frame = 0;
    for (int op = 0; op < 1000000; op++) {
        int choice = g_rand_int_range(random, 0, 100);
        if (choice < 80) {
            int gop = g_rand_int_range(random, 1, 40);
            sc_buffer_push(buffer, video_packet(frame, gop, (size_t)g_rand_int_range(random, 1, 2000)));
            frame++;
        } else if (choice < 90) {
            sc_buffer_push(buffer, audio_packet(frame * FRAME_NS, (size_t)g_rand_int_range(random, 1, 400)));
        } else if (choice < 94) {
            sc_buffer_copy_time_range(buffer, (frame - 50) * FRAME_NS, SC_TIME_NONE, g_rand_boolean(random), held);
        } else if (choice < 95) {
            sc_buffer_gc(buffer, (int64_t)g_rand_int_range(random, 0, 1 << 30) * 1000);
        } else {
            for (guint i = 0; i < held->len; i++) sc_packet_unref(held->pdata[i]);
            g_ptr_array_set_size(held, 0);
        }
        assert_accounting(buffer);
        sc_buffer_stats stats;
        sc_buffer_get_stats(buffer, &stats);
        ck_assert_uint_le(stats.current_frames, 200);
    }
    for (guint i = 0; i < held->len; i++) sc_packet_unref(held->pdata[i]);
    g_ptr_array_free(held, TRUE);
    sc_buffer_free(buffer);
    g_rand_free(random);
}
END_TEST


static sc_buffer *new_priority_buffer(int64_t max_items, int64_t retention_ns)
{
    sc_buffer_limits limits = {.max_items = max_items, .retention_ns = retention_ns, .keyframe_priority = true};
    sc_buffer *buffer = sc_buffer_new(&limits);
    sc_buffer_set_reference_stream(buffer, 0);
    return buffer;
}

/* GOPs of 10 video frames with one audio packet after each frame. */
static void push_av(sc_buffer *buffer, int64_t first_frame, int64_t frames)
{
    for (int64_t n = first_frame; n < first_frame + frames; n++) {
        sc_buffer_push(buffer, video_packet(n, 10, 100));
        sc_buffer_push(buffer, audio_packet(n * FRAME_NS, 10));
    }
}

static GPtrArray *held_packets(sc_buffer *buffer)
{
    GPtrArray *packets = g_ptr_array_new();
    sc_buffer_copy_seq_range(buffer, 0, UINT64_MAX, packets);
    return packets;
}

static void release_all(GPtrArray *packets)
{
    for (guint i = 0; i < packets->len; i++) sc_packet_unref(packets->pdata[i]);
    g_ptr_array_free(packets, TRUE);
}

START_TEST(keyframe_priority_thins_oldest_gops_first)
{
    /* 5 GOPs of 20 packets = 100; the limit of 70 is met by thinning the
     * two oldest GOPs (all but their keyframe: 19 packets each) before any
     * GOP is evicted. */
    sc_buffer *buffer = new_priority_buffer(70, 0);
    push_av(buffer, 0, 50);
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_eq(stats.thinned, 38);
    ck_assert_uint_eq(stats.evicted_items, 0);
    ck_assert_uint_eq(stats.current_frames, 62);
    GPtrArray *packets = held_packets(buffer);
    /* GOPs 0 and 1 are down to their keyframes; GOPs 2-4 are whole. */
    ck_assert_int_eq(((const sc_packet *)packets->pdata[0])->dts, 0);
    ck_assert(((const sc_packet *)packets->pdata[0])->flags & SC_PACKET_KEY);
    ck_assert_int_eq(((const sc_packet *)packets->pdata[1])->dts, 10 * FRAME_NS);
    ck_assert(((const sc_packet *)packets->pdata[1])->flags & SC_PACKET_KEY);
    ck_assert_int_eq(((const sc_packet *)packets->pdata[2])->dts, 20 * FRAME_NS);
    ck_assert_int_eq(packets->len, 2 + 60);
    release_all(packets);
    assert_accounting(buffer);
    /* More pressure: every older GOP is thinned, then (with 60 thinned
     * keyframes plus the newest GOP over the limit) whole GOPs go, oldest
     * first. */
    push_av(buffer, 50, 600);
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_gt(stats.evicted_items, 0);
    ck_assert_uint_le(stats.current_frames, 70);
    packets = held_packets(buffer);
    const sc_packet *first = packets->pdata[0];
    ck_assert(first->flags & SC_PACKET_KEY);
    /* The newest GOP is never thinned. */
    const sc_packet *last = packets->pdata[packets->len - 1];
    ck_assert_int_eq(last->dts, 649 * FRAME_NS);
    ck_assert_int_eq(((const sc_packet *)packets->pdata[packets->len - 20])->dts, 640 * FRAME_NS);
    /* Everything before the newest GOP is a thinned keyframe, ten frames apart. */
    for (guint i = 0; i + 20 < packets->len; i++) {
        const sc_packet *packet = packets->pdata[i];
        ck_assert(packet->flags & SC_PACKET_KEY);
        ck_assert_int_eq(packet->stream_index, 0);
        if (i > 0) ck_assert_int_eq(packet->dts - ((const sc_packet *)packets->pdata[i - 1])->dts, 10 * FRAME_NS);
    }
    release_all(packets);
    assert_accounting(buffer);
    sc_buffer_free(buffer);
}
END_TEST

/* Thinning makes room from GOPs nobody needs; a GOP a reader holds (a
 * window that starts there) stays whole, like an evicted one would. */
START_TEST(keyframe_priority_never_thins_what_a_reader_holds)
{
    sc_buffer *buffer = new_priority_buffer(70, 0);
    sc_buffer_set_live(buffer, true);
    sc_buffer_reader *reader = sc_buffer_reader_new(buffer);
    sc_buffer_reader_hold(buffer, reader, 20); /* GOP 1 on */
    push_av(buffer, 0, 50);
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    /* GOP 0 thinned, then evicted; GOPs 1-4 (80 packets) whole: the hold
     * may stretch the buffer up to twice its limit. */
    ck_assert_uint_eq(stats.thinned, 19);
    ck_assert_uint_eq(stats.current_frames, 80);
    GPtrArray *packets = held_packets(buffer);
    ck_assert_int_eq(packets->len, 80);
    ck_assert_uint_eq(((const sc_packet *)packets->pdata[0])->seq, 20);
    ck_assert_uint_eq(((const sc_packet *)packets->pdata[79])->seq, 99);
    release_all(packets);
    assert_accounting(buffer);
    sc_buffer_reader_free(buffer, reader);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(thinned_keyframes_still_expire_by_retention)
{
    sc_buffer *buffer = new_priority_buffer(30, 2 * SC_NSEC_PER_SEC);
    push_av(buffer, 0, 300);
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_gt(stats.thinned, 0);
    ck_assert_uint_gt(stats.evicted_retention + stats.evicted_items, 0);
    ck_assert_int_ge(stats.oldest_ts, (300 - 90) * FRAME_NS);
    assert_accounting(buffer);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(garbage_collection_empties_a_stalled_stream)
{
    sc_buffer *buffer = new_buffer(0, 0, 1 * SC_NSEC_PER_SEC);
    for (int n = 0; n < 90; n++) sc_buffer_push(buffer, video_packet(n, 30, 100));
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    uint64_t held = stats.current_frames;
    ck_assert_uint_ge(held, 30);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t now_ns = (int64_t)now.tv_sec * SC_NSEC_PER_SEC + now.tv_nsec;
    /* Nothing has expired yet by wall clock... */
    ck_assert_uint_eq(sc_buffer_gc(buffer, now_ns), 0);
    /* ...but after a few seconds without input everything has. */
    ck_assert_uint_eq(sc_buffer_gc(buffer, now_ns + 5 * SC_NSEC_PER_SEC), held);
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_eq(stats.current_frames, 0);
    ck_assert_uint_eq(stats.memory_usage_bytes, 0);
    ck_assert_uint_eq(stats.gc_runs, 2);
    assert_accounting(buffer);
    /* The stream resumes normally. */
    sc_buffer_push(buffer, video_packet(200, 30, 100));
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_eq(stats.current_frames, 1);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(views_count_as_pinned_until_released)
{
    sc_buffer *buffer = new_buffer(10, 0, 0);
    for (int n = 0; n < 10; n++) sc_buffer_push(buffer, video_packet(n, 5, 500));
    GPtrArray *view = g_ptr_array_new();
    sc_buffer_copy_time_range(buffer, 0, 5 * FRAME_NS, false, view);
    uint64_t expected = 0;
    for (guint i = 0; i < view->len; i++) expected += sc_packet_footprint(view->pdata[i]);
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_eq(stats.pinned_bytes, 0);
    for (int n = 10; n < 15; n++) sc_buffer_push(buffer, video_packet(n, 5, 500));
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_eq(stats.evicted_items, 5);
    ck_assert_uint_eq(stats.pinned_bytes, expected);
    release_all(view);
    sc_buffer_get_stats(buffer, &stats);
    ck_assert_uint_eq(stats.pinned_bytes, 0);
    sc_buffer_free(buffer);
}
END_TEST

START_TEST(host_cap_takes_from_the_source_most_over_its_share)
{
    sc_packet *probe = video_packet(0, 10, 1000);
    int64_t footprint = (int64_t)sc_packet_footprint(probe);
    sc_packet_unref(probe);
    sc_memory_governor *governor = sc_memory_governor_new(100 * footprint);
    sc_buffer *big = new_buffer(0, 0, 0), *small = new_buffer(0, 0, 0);
    sc_memory_governor_add(governor, big);
    sc_memory_governor_add(governor, small);
    for (int n = 0; n < 30; n++) sc_buffer_push(small, video_packet(n, 10, 1000));
    for (int n = 0; n < 200; n++) {
        sc_buffer_push(big, video_packet(n, 10, 1000));
        ck_assert_uint_le(sc_memory_governor_total(governor), (uint64_t)(100 * footprint));
    }
    sc_buffer_stats big_stats, small_stats;
    sc_buffer_get_stats(big, &big_stats);
    sc_buffer_get_stats(small, &small_stats);
    ck_assert_uint_gt(big_stats.evicted_host_memory, 0);
    ck_assert_uint_eq(small_stats.evicted_host_memory, 0);
    ck_assert_uint_eq(small_stats.current_frames, 30);
    ck_assert_uint_eq(sc_memory_governor_total(governor), big_stats.memory_usage_bytes + small_stats.memory_usage_bytes);
    assert_accounting(big);
    assert_accounting(small);
    sc_buffer_free(big);
    sc_buffer_free(small);
    ck_assert_uint_eq(sc_memory_governor_total(governor), 0);
    sc_memory_governor_free(governor);
}
END_TEST

/* --- clock -------------------------------------------------------------- */

static sc_packet *raw_packet(uint32_t stream, int64_t pts, int64_t dts, int32_t den)
{
    sc_packet *packet = sc_packet_alloc(1, NULL);
    packet->stream_index = stream;
    packet->orig_pts = pts;
    packet->orig_dts = dts;
    packet->time_base_num = 1;
    packet->time_base_den = den;
    return packet;
}

START_TEST(clock_starts_at_zero_and_keeps_streams_relative)
{
    sc_clock clock;
    sc_clock_init(&clock, 10 * SC_NSEC_PER_SEC);
    sc_packet *first = raw_packet(0, 900000, 900000, 90000);  /* 10 s */
    sc_clock_normalize(&clock, first, NULL);
    ck_assert_int_eq(first->dts, 0);
    sc_packet *audio = raw_packet(1, 480000 - 1024, 480000 - 1024, 48000);  /* 10 s - 1024 samples */
    sc_clock_normalize(&clock, audio, NULL);
    ck_assert_int_eq(audio->dts, -21333333);
    sc_packet *later = raw_packet(0, 903003, 900000 + 3003, 90000);
    sc_clock_normalize(&clock, later, NULL);
    ck_assert_int_eq(later->dts, 33366667);
    ck_assert_int_eq(later->pts, 33366667);
    ck_assert_int_eq(clock.stats.fixed + clock.stats.interpolated + clock.stats.discontinuities, 0);
    sc_packet_unref(first);
    sc_packet_unref(audio);
    sc_packet_unref(later);
    sc_clock_clear(&clock);
}
END_TEST

START_TEST(clock_fixes_regressions_fills_gaps_and_rebases_jumps)
{
    sc_clock clock;
    sc_clock_init(&clock, SC_NSEC_PER_SEC);
    sc_stream_info info = {.struct_size = sizeof info, .media_type = SC_MEDIA_VIDEO, .fps_num = 25, .fps_den = 1};
    int64_t last = SC_TIME_NONE;
    /* 25 fps in a 1 kHz time base; then a DTS regression, a missing
     * timestamp, and a reset to 0 (encoder restart). */
    int64_t inputs[] = {1000, 1040, 1080, 1070, SC_TIME_NONE, 1200, 0, 40};
    uint32_t expected_flags[] = {0, 0, 0, SC_PACKET_TS_FIXED, SC_PACKET_TS_INTERPOLATED, 0,
                                 SC_PACKET_DISCONTINUITY, 0};
    for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++) {
        sc_packet *packet = raw_packet(0, inputs[i], inputs[i], 1000);
        sc_clock_normalize(&clock, packet, &info);
        ck_assert_msg((packet->flags & expected_flags[i]) == expected_flags[i], "packet %zu flags %x", i, packet->flags);
        if (last != SC_TIME_NONE) ck_assert_int_gt(packet->dts, last);
        last = packet->dts;
        if (i == 6) ck_assert_int_eq(packet->dts, 200 * SC_NSEC_PER_MSEC + 40 * SC_NSEC_PER_MSEC);
        if (i == 7) ck_assert_int_eq(packet->dts, 280 * SC_NSEC_PER_MSEC);
        sc_packet_unref(packet);
    }
    ck_assert_uint_eq(clock.stats.fixed, 1);
    ck_assert_uint_eq(clock.stats.interpolated, 1);
    ck_assert_uint_eq(clock.stats.discontinuities, 1);
    ck_assert_int_eq(sc_clock_ticks_to_ns(1, 1, 3), 333333333);
    ck_assert_int_eq(sc_clock_ticks_to_ns(-1, 1, 3), -333333333);
    ck_assert_int_eq(sc_clock_ticks_to_ns(SC_TIME_NONE, 1, 3), SC_TIME_NONE);
    sc_clock_clear(&clock);
}
END_TEST

/* Push `count` video packets at 25 fps through `clock` in a 1/90000 time
 * base starting at raw tick `first` (wrapped to `wrap_bits` when non-zero),
 * checking the normalized DTS advance by exactly one frame each time. */
static void expect_continuous(sc_clock *clock, int64_t first, int count, int wrap_bits, int32_t den, int64_t frame_ticks)
{
    int64_t last = SC_TIME_NONE;
    for (int i = 0; i < count; i++) {
        int64_t ticks = first + i * frame_ticks;
        if (wrap_bits) ticks &= (INT64_C(1) << wrap_bits) - 1;
        sc_packet *packet = raw_packet(0, ticks, ticks, den);
        sc_clock_normalize(clock, packet, NULL);
        if (last != SC_TIME_NONE)
            ck_assert_msg(packet->dts - last == sc_clock_ticks_to_ns(frame_ticks, 1, den) ||
                              llabs(packet->dts - last - sc_clock_ticks_to_ns(frame_ticks, 1, den)) <= 1,
                          "packet %d: step %lld", i, (long long)(packet->dts - last));
        last = packet->dts;
        sc_packet_unref(packet);
    }
}

START_TEST(clock_unwraps_hls_and_rtmp_counters)
{
    sc_clock clock;
    sc_clock_init(&clock, 10 * SC_NSEC_PER_SEC);
    sc_clock_set_format(&clock, SC_TIMESTAMPS_HLS);
    /* 33-bit 90 kHz counter, starting 2 s before its wrap, twice around. */
    int64_t wrap = INT64_C(1) << 33;
    expect_continuous(&clock, wrap - 2 * 90000, 100, 33, 90000, 3600);
    ck_assert_uint_eq(clock.stats.wraps, 1);
    ck_assert_uint_eq(clock.stats.discontinuities + clock.stats.fixed + clock.stats.outliers, 0);
    sc_clock_clear(&clock);

    sc_clock_init(&clock, 10 * SC_NSEC_PER_SEC);
    sc_clock_set_format(&clock, SC_TIMESTAMPS_RTMP);
    int64_t rtmp_wrap = INT64_C(1) << 32;
    expect_continuous(&clock, rtmp_wrap - 1000, 100, 32, 1000, 40);
    ck_assert_uint_eq(clock.stats.wraps, 1);
    ck_assert_uint_eq(clock.stats.discontinuities + clock.stats.fixed + clock.stats.outliers, 0);
    sc_clock_clear(&clock);

    /* Without the format, the same wrap is a jump, rebased. */
    sc_clock_init(&clock, 10 * SC_NSEC_PER_SEC);
    expect_continuous(&clock, wrap - 2 * 90000, 100, 33, 90000, 3600);
    ck_assert_uint_eq(clock.stats.wraps, 0);
    ck_assert_uint_ge(clock.stats.discontinuities, 1);
    sc_clock_clear(&clock);
}
END_TEST

START_TEST(clock_rejects_outliers_but_follows_real_jumps)
{
    sc_clock clock;
    sc_clock_init(&clock, 10 * SC_NSEC_PER_SEC);
    int64_t expected = 0;
    for (int i = 0; i < 200; i++) {
        int64_t ticks = i * 3600;
        if (i == 50) ticks += 7 * 90000;     /* one packet 7 s off */
        if (i == 90) ticks -= 5 * 90000;     /* one packet 5 s early */
        if (i >= 150) ticks += 3600 * 90000; /* the input jumps an hour */
        sc_packet *packet = raw_packet(0, ticks, ticks, 90000);
        sc_clock_normalize(&clock, packet, NULL);
        /* Outliers take the predicted time; the jump is rebased: one
         * unbroken 25 fps timeline throughout. */
        ck_assert_msg(llabs(packet->dts - expected) <= 1, "packet %d at %lld, expected %lld", i,
                      (long long)packet->dts, (long long)expected);
        expected = packet->dts + 40 * SC_NSEC_PER_MSEC;
        sc_packet_unref(packet);
    }
    /* Two outliers, and the first two packets of the jump taken as
     * outliers until the third confirmed it. */
    ck_assert_uint_eq(clock.stats.outliers, 4);
    ck_assert_uint_eq(clock.stats.discontinuities, 1);
    sc_clock_clear(&clock);
}
END_TEST

START_TEST(clock_takes_wall_clock_from_epoch_timestamps)
{
    sc_clock clock;
    sc_clock_init(&clock, 10 * SC_NSEC_PER_SEC);
    sc_clock_set_format(&clock, SC_TIMESTAMPS_EPOCH_MILLIS);
    int64_t epoch_ms = INT64_C(1764000000000);
    for (int i = 0; i < 10; i++) {
        sc_packet *packet = raw_packet(0, epoch_ms + i * 40, epoch_ms + i * 40, 1000);
        sc_clock_normalize(&clock, packet, NULL);
        ck_assert_int_eq(packet->dts, i * 40 * SC_NSEC_PER_MSEC);
        ck_assert_int_eq(packet->source_utc_ns, (epoch_ms + i * 40) * SC_NSEC_PER_MSEC);
        sc_packet_unref(packet);
    }
    ck_assert_int_eq(sc_timestamp_format_from_name("HLS_TIMESTAMP"), SC_TIMESTAMPS_HLS);
    ck_assert_int_eq(sc_timestamp_format_from_name("rtmp_timestamp"), SC_TIMESTAMPS_RTMP);
    ck_assert_int_eq(sc_timestamp_format_from_name("nonsense"), -1);
    sc_clock_clear(&clock);
}
END_TEST

/* A media clock running `ppm` fast against the wall clock, observed through
 * arrival times jittered by up to ±20 ms, for an hour. */
static void drifting_source(sc_reference_clock *reference, double ppm, int64_t start_utc, GRand *random,
                            int64_t *worst_error)
{
    *worst_error = 0;
    for (int64_t media = 0; media <= 3600 * SC_NSEC_PER_SEC; media += 40 * SC_NSEC_PER_MSEC) {
        int64_t truth = start_utc + (int64_t)((double)media / (1.0 + ppm * 1e-6));
        int64_t jitter = (int64_t)(g_rand_double_range(random, -20.0, 20.0) * SC_NSEC_PER_MSEC);
        sc_reference_clock_add(reference, media, SC_TIME_NONE, truth + jitter);
        if (media > 60 * SC_NSEC_PER_SEC && media % (10 * SC_NSEC_PER_SEC) == 0) {
            int64_t error = llabs(sc_reference_clock_to_utc(reference, media) - truth);
            if (error > *worst_error) *worst_error = error;
        }
    }
}

START_TEST(drift_is_estimated_and_corrected_against_jittered_arrivals)
{
    GRand *random = g_rand_new_with_seed(7);
    int64_t start = INT64_C(1764000000) * SC_NSEC_PER_SEC;
    int64_t worst;
    sc_reference_clock *corrected = sc_reference_clock_new(SC_REFERENCE_AUTO, 300 * SC_NSEC_PER_SEC, true);
    drifting_source(corrected, 150.0, start, random, &worst);
    sc_reference_stats stats;
    sc_reference_clock_get_stats(corrected, &stats);
    /* The media clock gains 150 ppm on the wall clock: the wall clock runs
     * 1/(1+150e-6) as fast as media time, a slope of about -150 ppm. */
    ck_assert_msg(fabs(stats.drift_ppm + 150.0) < 15.0, "drift %f ppm", stats.drift_ppm);
    ck_assert_msg(worst < 10 * SC_NSEC_PER_MSEC, "corrected error up to %lld ns", (long long)worst);
    int64_t utc = sc_reference_clock_to_utc(corrected, 1800 * SC_NSEC_PER_SEC);
    ck_assert_int_le(llabs(sc_reference_clock_to_media(corrected, utc) - 1800 * SC_NSEC_PER_SEC), 1000);
    sc_reference_clock_free(corrected);
    /* Without correction the same source drifts away: 150 ppm of an hour
     * is about 540 ms. */
    sc_reference_clock *uncorrected = sc_reference_clock_new(SC_REFERENCE_AUTO, 300 * SC_NSEC_PER_SEC, false);
    drifting_source(uncorrected, 150.0, start, random, &worst);
    ck_assert_msg(worst > 400 * SC_NSEC_PER_MSEC, "uncorrected error only %lld ns", (long long)worst);
    sc_reference_clock_get_stats(uncorrected, &stats);
    ck_assert_msg(fabs(stats.offset_ms + 540.0) < 60.0, "offset %f ms", stats.offset_ms);
    sc_reference_clock_free(uncorrected);
    g_rand_free(random);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("buffer");
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, item_limit_evicts_whole_gops);
    tcase_add_test(limits, memory_limit_counts_payload_and_overhead);
    tcase_add_test(limits, retention_keeps_at_least_the_window);
    tcase_add_test(limits, randomized_operations_keep_accounting);
    tcase_add_test(limits, keyframe_priority_thins_oldest_gops_first);
    tcase_add_test(limits, keyframe_priority_never_thins_what_a_reader_holds);
    tcase_add_test(limits, thinned_keyframes_still_expire_by_retention);
    tcase_add_test(limits, garbage_collection_empties_a_stalled_stream);
    tcase_add_test(limits, host_cap_takes_from_the_source_most_over_its_share);
    tcase_set_timeout(limits, 300);
    suite_add_tcase(suite, limits);
    TCase *readers = tcase_create("readers");
    tcase_add_test(readers, views_outlive_eviction);
    tcase_add_test(readers, views_count_as_pinned_until_released);
    tcase_add_test(readers, a_hold_stretches_the_buffer_to_twice_its_limit);
    tcase_add_test(readers, keyframe_lookup_and_ranges);
    tcase_add_test(readers, live_reader_that_falls_behind_counts_what_it_missed);
    tcase_add_test(readers, file_input_waits_for_readers_instead_of_dropping);
    tcase_add_test(readers, a_batch_stays_until_its_reader_comes_back);
    tcase_add_test(readers, a_reader_hears_of_the_packet_its_writer_then_waits_on);
    suite_add_tcase(suite, readers);
    TCase *clock = tcase_create("clock");
    tcase_add_test(clock, clock_starts_at_zero_and_keeps_streams_relative);
    tcase_add_test(clock, clock_fixes_regressions_fills_gaps_and_rebases_jumps);
    tcase_add_test(clock, clock_unwraps_hls_and_rtmp_counters);
    tcase_add_test(clock, clock_rejects_outliers_but_follows_real_jumps);
    tcase_add_test(clock, clock_takes_wall_clock_from_epoch_timestamps);
    tcase_add_test(clock, drift_is_estimated_and_corrected_against_jittered_arrivals);
    suite_add_tcase(suite, clock);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
