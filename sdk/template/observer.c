/* @NAME@: a streamcut observer module.
 *
 * An observer watches the packets and segments of the sources its section
 * names, on its own thread, behind a queue that drops rather than slow the
 * sources down. It cannot change what flows; it measures, logs, exports.
 *
 * This skeleton counts packets and bytes per media type and logs a line
 * per segment and a summary at the end. Replace the callbacks with your own
 * measurements.
 */
#include <streamcut/streamcut.h>

#include <inttypes.h>
#include <stdlib.h>

typedef struct @IDENT@_observer {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t every;          /* log every Nth packet at debug level, 0 never */
    uint64_t packets[5];    /* by enum sc_media_type */
    uint64_t bytes[5];
    uint64_t segments;
} @IDENT@_observer;

static const sc_option_spec @IDENT@_options[] = {
    {.name = "log_every", .type = SC_OPT_INT, .default_value = "0", .min = 0, .max = 1000000000,
     .help = "log every Nth packet at debug level (streamcut -vv); 0 logs none"},
    {0},
};

static int @IDENT@_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    @IDENT@_observer *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->every = host->option_int(ctx, "log_every");
    *instance = self;
    return SC_OK;
}

static void @IDENT@_destroy(void *instance)
{
    free(instance);
}

/* A packet of a watched source (borrowed), with its stream's description. */
static void @IDENT@_packet(void *instance, const char *source, const sc_packet *pkt, const sc_stream_info *stream)
{
    @IDENT@_observer *self = instance;
    uint32_t type = pkt->media_type < 5 ? pkt->media_type : SC_MEDIA_UNKNOWN;
    self->packets[type]++;
    self->bytes[type] += pkt->size;
    uint64_t total = self->packets[0] + self->packets[1] + self->packets[2] + self->packets[3] + self->packets[4];
    if (self->every > 0 && total % (uint64_t)self->every == 0)
        self->host->log(self->ctx, SC_LOG_DEBUG, "%s: packet %" PRIu64 " (%s, %zu bytes, pts %.3f s)", source, total,
                        stream && stream->codec_name ? stream->codec_name : "?", pkt->size,
                        pkt->pts == SC_TIME_NONE ? -1.0 : (double)pkt->pts / 1e9);
}

/* A segment cut from a watched source, as its sinks get it (borrowed). */
static void @IDENT@_segment(void *instance, const sc_segment *seg)
{
    @IDENT@_observer *self = instance;
    self->segments++;
    self->host->log(self->ctx, SC_LOG_INFO, "segment %s/%s #%" PRIu64 ": %zu packets, %" PRIu64 " bytes",
                    seg->source, seg->strategy, seg->index, seg->packet_count, seg->bytes);
}

static void @IDENT@_stop(void *instance)
{
    @IDENT@_observer *self = instance;
    self->host->log(self->ctx, SC_LOG_INFO,
                    "seen: %" PRIu64 " video packets (%" PRIu64 " bytes), %" PRIu64 " audio packets (%" PRIu64
                    " bytes), %" PRIu64 " segments",
                    self->packets[SC_MEDIA_VIDEO], self->bytes[SC_MEDIA_VIDEO], self->packets[SC_MEDIA_AUDIO],
                    self->bytes[SC_MEDIA_AUDIO], self->segments);
    self->host->counter_add(self->ctx, "segments_seen", (int64_t)self->segments);
}

static const sc_observer_ops @IDENT@_ops = {
    SC_OPS_INIT(sc_observer_ops),
    .create = @IDENT@_create,
    .destroy = @IDENT@_destroy,
    .packet = @IDENT@_packet,
    .segment = @IDENT@_segment,
    .stop = @IDENT@_stop,
    /* Optional: .start, .reopen (SIGHUP: reopen files kept open). */
};

static const sc_module_descriptor @IDENT@_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_OBSERVER,
    .name = "@NAME@",
    .version = "0.1.0",
    .description = "counts packets and logs segments (a skeleton to make your own)",
    .options = @IDENT@_options,
    .ops = &@IDENT@_ops,
};

SC_MODULE_DEFINE(@IDENT@_module)
