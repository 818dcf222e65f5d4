/* Benchmark of the synchronizer's cost per packet (make bench): timestamp
 * normalization (unwrap, cadence and outlier checks, fix-ups) plus the
 * reference clock's drift fit, on a 30 fps + AAC packet pattern with a
 * 33-bit wrap, against FFmpeg's own per-packet time conversion
 * (av_rescale_q of pts, dts and duration) in the same process. */
#include <libavutil/mathematics.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"
#include "packet.h"
#include "reference_clock.h"

#define PACKETS 2000000

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void no_release(void *opaque) { (void)opaque; }

int main(void)
{
    static uint8_t payload[64];
    sc_clock clock;
    sc_clock_init(&clock, 10 * SC_NSEC_PER_SEC);
    sc_clock_set_format(&clock, SC_TIMESTAMPS_HLS);
    sc_reference_clock *reference = sc_reference_clock_new(SC_REFERENCE_AUTO, 300 * SC_NSEC_PER_SEC, true);
    int64_t start = (INT64_C(1) << 33) - 90000 * 60;  /* wraps a minute in */
    double began = now_seconds();
    volatile int64_t sink = 0;
    for (int64_t i = 0; i < PACKETS; i++) {
        bool video = i % 5 < 3;
        int64_t frame = i / 5 * 3 + (video ? i % 5 : 0);
        int64_t ticks = video ? start + frame * 3000 : start + (i / 5 * 2 + i % 5 - 3) * 1920;
        ticks &= (INT64_C(1) << 33) - 1;
        sc_packet *packet = sc_packet_wrap(payload, sizeof payload, no_release, NULL);
        packet->stream_index = video ? 0 : 1;
        packet->orig_pts = packet->orig_dts = ticks;
        packet->time_base_num = 1;
        packet->time_base_den = 90000;
        packet->arrival_ns = INT64_C(1764000000) * SC_NSEC_PER_SEC + i * 13333333;
        sc_clock_normalize(&clock, packet, NULL);
        if (video) sc_reference_clock_add(reference, packet->pts, SC_TIME_NONE, packet->arrival_ns);
        sink += packet->dts;
        sc_packet_unref(packet);
    }
    double ours = (now_seconds() - began) / PACKETS * 1e9;
    began = now_seconds();
    AVRational from = {1, 90000}, to = {1, 1000000000};
    for (int64_t i = 0; i < PACKETS; i++) {
        sc_packet *packet = sc_packet_wrap(payload, sizeof payload, no_release, NULL);
        int64_t ticks = start + i * 1500;
        packet->pts = av_rescale_q(ticks, from, to);
        packet->dts = av_rescale_q(ticks, from, to);
        packet->duration = av_rescale_q(1500, from, to);
        sink += packet->dts;
        sc_packet_unref(packet);
    }
    double theirs = (now_seconds() - began) / PACKETS * 1e9;
    printf("synchronizer (normalize + unwrap + outlier check + drift fit), per packet:\n");
    printf("  streamcut        %6.1f ns/packet (%llu wraps, %llu outliers)\n", ours,
           (unsigned long long)clock.stats.wraps, (unsigned long long)clock.stats.outliers);
    printf("  FFmpeg av_rescale_q of pts, dts, duration: %6.1f ns/packet\n", theirs);
    printf("  ratio streamcut/FFmpeg: %.2f\n", ours / theirs);
    sc_reference_clock_free(reference);
    sc_clock_clear(&clock);
    sc_packet_pool_trim(0);
    return sink == 42;
}
