/* scene_score: decodes a source's reference video stream as cheaply as the
 * scene detector allows and scores every frame against the one before it.
 *
 * The score of a frame is the mean absolute difference between it and the
 * previous decoded frame, both first reduced to a small YUV 4:2:0 picture
 * (`downscale_width` pixels wide, aspect kept, area averaging), taken per
 * plane and averaged over the three planes with equal weight, on a 0..100
 * scale:
 *
 *     score = 100/255 * (mean|dY| + mean|dU| + mean|dV|) / 3
 *
 * 0 means identical pictures; 100 would be every sample swinging across the
 * whole 8-bit range in all three planes. Averaging down to a few thousand
 * samples first makes the score ignore noise, grain and small motion, and
 * weighing each chroma plane like luma makes a cut between two scenes of
 * similar brightness but different colour stand out. It is the same kind
 * of measure as the frame difference FFmpeg's scdet calls `mafd` (scdet
 * pools the samples of the full-size frames, and reports
 * min(mafd, |mafd - previous mafd|) as its score), and plays the part of
 * PySceneDetect's content value.
 */
#ifndef STREAMCUT_SCENE_SCORE_H
#define STREAMCUT_SCENE_SCORE_H

#include <streamcut/streamcut.h>

#include <stdbool.h>
#include <stdint.h>

typedef struct scene_scorer scene_scorer;

/** One decoded frame, in presentation order. `pts` is in ns on the source
 * timeline; `has_score` is false for a frame with nothing to compare to
 * (the first one, or the first after the picture's shape changed). */
typedef void (*scene_frame_callback)(void *opaque, int64_t pts, double score, bool has_score);

typedef struct scene_scorer_config {
    int downscale_width;   /* width of the compared pictures, pixels */
    int threads;           /* decoder threads, 0 for FFmpeg's choice */
    scene_frame_callback on_frame;
    void *opaque;
} scene_scorer_config;

/** A scorer for the video stream `info`, or NULL (after logging why) when
 * no decoder for it can be opened. */
scene_scorer *scene_scorer_open(const sc_host_api *host, sc_ctx *ctx, const sc_stream_info *info,
                                const scene_scorer_config *config);
/** Decode one packet of the stream; scored frames go to the callback. */
void scene_scorer_send(scene_scorer *scorer, const sc_packet *packet);
/** Decode what the decoder still holds (end of input). */
void scene_scorer_drain(scene_scorer *scorer);
/** Adds the frame counters to the host's stats. */
void scene_scorer_report(scene_scorer *scorer);
void scene_scorer_close(scene_scorer *scorer);

#endif /* STREAMCUT_SCENE_SCORE_H */
