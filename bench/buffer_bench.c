/* Benchmark of the packet buffer (make bench):
 *
 *  1. insert+evict throughput on one core, on the packet sizes of a
 *     6 Mbit/s 30 fps H.264 stream with 128 kbit/s AAC, against the same
 *     work done the FFmpeg way (AVPacket references in an AVFifo) in this
 *     process;
 *  2. the same with a reader taking one-second views concurrently;
 *  3. memory: RSS growth over payload bytes for 5 minutes of that stream,
 *     and the buffer's own memory_usage against the heap's real growth
 *     (mallinfo2) with about 1 GB buffered.
 *
 * Figures are printed as ratios; nothing here asserts a timing. */
#include <libavcodec/avcodec.h>
#include <libavutil/fifo.h>
#include <libavutil/mem.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffer.h"
#include "packet.h"

#define FPS 30
#define GOP 60
#define VIDEO_BITRATE 6000000
#define AUDIO_BITRATE 128000
#define AUDIO_PACKETS_PER_SECOND 46.875  /* 48 kHz / 1024 samples */
#define KEYFRAME_WEIGHT 8                 /* a keyframe is ~8 P-frames */

typedef struct workload_packet {
    int stream;       /* 0 video, 1 audio */
    bool key;
    size_t size;
    int64_t time_ns;
} workload_packet;

/* One GOP-periodic pattern of the stream, interleaved by time. */
static workload_packet *make_workload(size_t count)
{
    workload_packet *packets = malloc(count * sizeof *packets);
    double frame_bytes = VIDEO_BITRATE / 8.0 / FPS;
    double p_bytes = frame_bytes * GOP / (GOP - 1 + KEYFRAME_WEIGHT);
    double audio_bytes = AUDIO_BITRATE / 8.0 / AUDIO_PACKETS_PER_SECOND;
    int64_t frame = 0, audio = 0;
    for (size_t i = 0; i < count; i++) {
        int64_t video_ns = frame * SC_NSEC_PER_SEC / FPS;
        int64_t audio_ns = (int64_t)(audio * 1e9 / AUDIO_PACKETS_PER_SECOND);
        if (video_ns <= audio_ns) {
            bool key = frame % GOP == 0;
            packets[i] = (workload_packet){0, key, (size_t)(key ? p_bytes * KEYFRAME_WEIGHT : p_bytes), video_ns};
            frame++;
        } else {
            packets[i] = (workload_packet){1, true, (size_t)audio_bytes, audio_ns};
            audio++;
        }
    }
    return packets;
}

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void no_release(void *opaque) { (void)opaque; }

typedef struct view_reader {
    sc_buffer *buffer;
    atomic_bool stop;
    uint64_t views;
} view_reader;

/* A reader as a strategy or the control API would be: a one-second view
 * every millisecond. */
static void *take_views(void *data)
{
    view_reader *reader = data;
    while (!atomic_load(&reader->stop)) {
        sc_buffer_stats stats;
        sc_buffer_get_stats(reader->buffer, &stats);
        if (stats.newest_ts != SC_TIME_NONE) {
            GPtrArray *view = g_ptr_array_new();
            sc_buffer_copy_time_range(reader->buffer, stats.newest_ts - SC_NSEC_PER_SEC, SC_TIME_NONE, true, view);
            for (guint i = 0; i < view->len; i++) sc_packet_unref(view->pdata[i]);
            g_ptr_array_free(view, TRUE);
            reader->views++;
        }
        usleep(1000);
    }
    return NULL;
}

/* Packets per second through a 10 s retention buffer, payloads wrapped
 * (never copied), as the avformat source hands them over. */
static double streamcut_throughput(const workload_packet *workload, size_t count, const uint8_t *payload,
                                   bool with_reader, uint64_t *views)
{
    sc_buffer_limits limits = {.retention_ns = 10 * SC_NSEC_PER_SEC, .max_items = 10000000,
                               .max_memory_bytes = INT64_MAX / 2, .keyframe_priority = true};
    sc_buffer *buffer = sc_buffer_new(&limits);
    sc_buffer_set_reference_stream(buffer, 0);
    view_reader reader = {.buffer = buffer};
    atomic_init(&reader.stop, false);
    pthread_t thread;
    if (with_reader) pthread_create(&thread, NULL, take_views, &reader);
    double start = now_seconds();
    for (size_t i = 0; i < count; i++) {
        const workload_packet *w = &workload[i];
        sc_packet *packet = sc_packet_wrap(payload, w->size, no_release, NULL);
        packet->stream_index = (uint32_t)w->stream;
        packet->media_type = w->stream == 0 ? SC_MEDIA_VIDEO : SC_MEDIA_AUDIO;
        packet->flags = w->key ? SC_PACKET_KEY : 0;
        packet->pts = packet->dts = w->time_ns;
        sc_buffer_push(buffer, packet);
    }
    double elapsed = now_seconds() - start;
    if (with_reader) {
        atomic_store(&reader.stop, true);
        pthread_join(thread, NULL);
        *views = reader.views;
    }
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    if (stats.packets_in != count || stats.evicted_retention == 0) {
        fprintf(stderr, "buffer bench: unexpected accounting\n");
        exit(1);
    }
    sc_buffer_free(buffer);
    return (double)count / elapsed;
}

/* The same work with FFmpeg's own tools: a reference to the demuxer's
 * buffer per packet, kept in an AVFifo, evicted by the same 10 s rule. */
static double ffmpeg_throughput(const workload_packet *workload, size_t count, uint8_t *payload, size_t payload_size)
{
    AVBufferRef *shared = av_buffer_create(payload, payload_size, av_buffer_default_free, NULL, 0);
    /* The payload must outlive this run: keep one reference of our own. */
    AVBufferRef *keep = av_buffer_ref(shared);
    AVFifo *fifo = av_fifo_alloc2(1024, sizeof(AVPacket *), AV_FIFO_FLAG_AUTO_GROW);
    AVPacket *source = av_packet_alloc();
    source->buf = shared;
    double start = now_seconds();
    for (size_t i = 0; i < count; i++) {
        const workload_packet *w = &workload[i];
        source->data = shared->data;
        source->size = (int)w->size;
        source->stream_index = w->stream;
        source->flags = w->key ? AV_PKT_FLAG_KEY : 0;
        source->pts = source->dts = w->time_ns;
        AVPacket *packet = av_packet_alloc();
        av_packet_ref(packet, source);
        av_fifo_write(fifo, &packet, 1);
        AVPacket *oldest;
        while (av_fifo_peek(fifo, &oldest, 1, 0) >= 0 && oldest->dts < w->time_ns - 10 * SC_NSEC_PER_SEC) {
            av_fifo_read(fifo, &oldest, 1);
            av_packet_free(&oldest);
        }
    }
    double elapsed = now_seconds() - start;
    AVPacket *left;
    while (av_fifo_read(fifo, &left, 1) >= 0) av_packet_free(&left);
    av_fifo_freep2(&fifo);
    av_packet_free(&source);
    av_buffer_unref(&keep);
    return (double)count / elapsed;
}

static long resident_bytes(void)
{
    FILE *file = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (file) {
        if (fscanf(file, "%ld %ld", &size, &resident) != 2) resident = 0;
        fclose(file);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

static size_t heap_bytes(void)
{
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

/* Buffer `seconds` of the stream with host-allocated payloads (written, so
 * they are resident), unlimited, and report how memory grew. */
static void memory_run(const workload_packet *workload, size_t count, double seconds, double *rss_ratio,
                       double *accounting_ratio, double *payload_mb)
{
    sc_buffer_limits limits = {0};
    sc_buffer *buffer = sc_buffer_new(&limits);
    sc_buffer_set_reference_stream(buffer, 0);
    long rss_before = resident_bytes();
    size_t heap_before = heap_bytes();
    uint64_t payload = 0;
    for (size_t i = 0; i < count && workload[i].time_ns < (int64_t)(seconds * 1e9); i++) {
        uint8_t *data;
        sc_packet *packet = sc_packet_alloc(workload[i].size, &data);
        memset(data, (int)(i & 0xff) | 1, workload[i].size);
        packet->stream_index = (uint32_t)workload[i].stream;
        packet->media_type = workload[i].stream == 0 ? SC_MEDIA_VIDEO : SC_MEDIA_AUDIO;
        packet->flags = workload[i].key ? SC_PACKET_KEY : 0;
        packet->pts = packet->dts = workload[i].time_ns;
        sc_buffer_push(buffer, packet);
        payload += workload[i].size;
    }
    long rss_growth = resident_bytes() - rss_before;
    size_t heap_growth = heap_bytes() - heap_before;
    sc_buffer_stats stats;
    sc_buffer_get_stats(buffer, &stats);
    *rss_ratio = (double)rss_growth / (double)payload;
    *accounting_ratio = (double)stats.memory_usage_bytes / (double)heap_growth;
    *payload_mb = (double)payload / 1e6;
    sc_buffer_free(buffer);
    sc_packet_pool_trim(0);
    malloc_trim(0);
}

int main(void)
{
    const size_t count = 3000000;  /* ~11 hours of the stream's packet pattern */
    workload_packet *workload = make_workload(count);
    size_t payload_size = 512 * 1024;
    uint8_t *payload = av_mallocz(payload_size + AV_INPUT_BUFFER_PADDING_SIZE);

    /* Warm up allocator and pool, then measure best of three. */
    streamcut_throughput(workload, count / 10, payload, false, NULL);
    ffmpeg_throughput(workload, count / 10, av_memdup(payload, payload_size), payload_size);
    double ours = 0, theirs = 0, with_reader = 0;
    uint64_t views = 0;
    for (int run = 0; run < 3; run++) {
        double a = streamcut_throughput(workload, count, payload, false, NULL);
        double b = ffmpeg_throughput(workload, count, av_memdup(payload, payload_size), payload_size);
        uint64_t run_views = 0;
        double c = streamcut_throughput(workload, count, payload, true, &run_views);
        if (a > ours) ours = a;
        if (b > theirs) theirs = b;
        if (c > with_reader) {
            with_reader = c;
            views = run_views;
        }
    }
    printf("buffer insert+evict (6 Mbit/s H.264 30 fps + AAC packet sizes, 10 s retention, one core):\n");
    printf("  streamcut           %12.0f packets/s (%.0f ns/packet)\n", ours, 1e9 / ours);
    printf("  FFmpeg AVFifo       %12.0f packets/s (%.0f ns/packet)\n", theirs, 1e9 / theirs);
    printf("  ratio streamcut/FFmpeg: %.2f   (target: >= 10M packets/s)\n", ours / theirs);
    printf("  with a reader taking 1 s views (%llu views): %.0f packets/s, %.1f%% of alone (target: >= 80%%)\n",
           (unsigned long long)views, with_reader, 100.0 * with_reader / ours);

    double rss_ratio, accounting_ratio, payload_mb;
    memory_run(workload, count, 300.0, &rss_ratio, &accounting_ratio, &payload_mb);
    printf("memory, 5 minutes buffered (%.0f MB of payload):\n", payload_mb);
    printf("  RSS growth / payload bytes: %.3f   (target: <= 1.05)\n", rss_ratio);
    memory_run(workload, count, 1400.0, &rss_ratio, &accounting_ratio, &payload_mb);
    printf("memory, %.0f MB of payload buffered:\n", payload_mb);
    printf("  memory_usage / heap growth (mallinfo2): %.3f   (target: within 0.95 .. 1.05)\n", accounting_ratio);
    printf("  RSS growth / payload bytes: %.3f\n", rss_ratio);
    av_free(payload);
    free(workload);
    return 0;
}
