#include "pipeline.h"

#include <string.h>

#include "detect.h"
#include "housekeeping.h"
#include "log.h"
#include "packet.h"
#include "stats_report.h"
#include "value.h"


static const sc_option_spec host_section_keys[] = {
    {.name = "module_path", .type = SC_OPT_STRING, .default_value = "",
     .help = "extra module folders, ':'-separated, searched first (relative to the pipeline file)"},
    {.name = "max_streams", .type = SC_OPT_INT, .default_value = "16", .min = 1, .max = 4096,
     .help = "sources this host may run at once"},
    {.name = "workers", .type = SC_OPT_INT, .default_value = "0", .min = 0, .max = 256,
     .help = "threads that run the sinks (0 = one per processor core)"},
    {.name = "max_memory_mb", .type = SC_OPT_INT, .default_value = "0", .min = 0, .max = 1048576,
     .help = "memory all sources' buffers may hold together, MiB (0 = only each source's own limit); "
             "over it, the source most above its fair share gives up its oldest GOP first"},
    {.name = "log_format", .type = SC_OPT_ENUM, .default_value = "text", .choices = "text|json",
     .help = "log lines as text, or as one JSON object per line (time, level, instance, message)"},
    {.name = "log_file", .type = SC_OPT_STRING, .default_value = "",
     .help = "append the log to this file instead of stderr; SIGHUP reopens it (for logrotate)"},
    {.name = "shutdown_timeout", .type = SC_OPT_DURATION, .default_value = "30s", .min = 0.1, .max = 86400,
     .help = "after SIGTERM/SIGINT, how long sources, strategies and sinks may take to drain; past it the "
             "process exits 1 without waiting further"},
    {.name = "control", .type = SC_OPT_STRING, .default_value = "",
     .help = "HOST:PORT of the HTTP control API, e.g. 127.0.0.1:8750 (off when empty; port 0 picks a free one); "
             "beyond loopback it requires control_token"},
    {.name = "control_token", .type = SC_OPT_STRING, .default_value = "",
     .help = "bearer token every request but /healthz must send (Authorization: Bearer TOKEN); "
             "use ${ENV_VAR} or @file to keep it out of the pipeline file"},
    {.name = "control_allowed_hosts", .type = SC_OPT_STRING, .default_value = "",
     .help = "extra names requests may carry in Host/Origin, comma-separated (localhost, 127.0.0.1, [::1] and "
             "the listening address always are); anything else is refused against DNS rebinding"},
    {.name = "control_max_body", .type = SC_OPT_SIZE, .default_value = "64k", .min = 256, .max = 16777216,
     .help = "largest request body accepted; larger ones get 413"},
    {.name = "control_max_connections", .type = SC_OPT_INT, .default_value = "16", .min = 1, .max = 1024,
     .help = "connections served at once; more are refused"},
    {.name = "control_timeout", .type = SC_OPT_DURATION, .default_value = "10s", .min = 1, .max = 3600,
     .help = "a connection idle this long (headers or body not arriving) is closed"},
    {0},
};

static const sc_option_spec source_section_keys[] = {
    {.name = "module", .type = SC_OPT_STRING, .flags = SC_OPT_REQUIRED, .help = "source module"},
    {.name = "buffer.max_memory_mb", .type = SC_OPT_INT, .default_value = "500", .min = 1, .max = 1048576,
     .help = "memory the buffer may hold (payload plus per-packet overhead), MiB"},
    {.name = "buffer.max_items", .type = SC_OPT_INT, .default_value = "10000", .min = 1, .max = 1e9,
     .help = "packets the buffer may hold"},
    {.name = "buffer.retention_seconds", .type = SC_OPT_DOUBLE, .default_value = "300", .min = 0.001, .max = 1e7,
     .help = "stream time the buffer keeps behind the newest packet, seconds"},
    {.name = "buffer.keyframe_priority", .type = SC_OPT_BOOL, .default_value = "true",
     .help = "under pressure, thin old GOPs to their keyframes before evicting them"},
    {.name = "buffer.gc_interval_seconds", .type = SC_OPT_DOUBLE, .default_value = "30", .min = 0.01, .max = 1e6,
     .help = "how often expired packets are collected even when the input stalls, seconds"},
    {.name = "reconnect.initial_delay", .type = SC_OPT_DURATION, .default_value = "1s", .min = 0, .max = 3600,
     .help = "wait before the first reconnection attempt; doubles at each failure, with jitter"},
    {.name = "reconnect.max_delay", .type = SC_OPT_DURATION, .default_value = "30s", .min = 0, .max = 86400,
     .help = "longest wait between reconnection attempts"},
    {.name = "reconnect.give_up_after", .type = SC_OPT_DURATION, .default_value = "0",
     .help = "stop reconnecting after failing this long (0 = never)"},
    {.name = "resolver", .type = SC_OPT_STRING, .default_value = "",
     .help = "command turning the page URL into a stream URL, run without a shell at every (re)connection, "
             "e.g. yt-dlp -g {url}"},
    {.name = "resolver_timeout", .type = SC_OPT_DURATION, .default_value = "30s", .min = 0.1, .max = 3600,
     .help = "how long the resolver may run before it is killed"},
    {.name = "sync.timestamp_format", .type = SC_OPT_ENUM, .default_value = "auto",
     .choices = "auto|RELATIVE_SECONDS|EPOCH_SECONDS|EPOCH_MILLIS|HLS_TIMESTAMP|RTMP_TIMESTAMP",
     .help = "how the input states time; auto: HLS_TIMESTAMP for HLS (33-bit 90 kHz, unwrapped), "
             "RTMP_TIMESTAMP for RTMP (32-bit ms, unwrapped), else RELATIVE_SECONDS"},
    {.name = "sync.max_jump", .type = SC_OPT_DURATION, .default_value = "10s", .min = 0.001, .max = 86400,
     .help = "a timestamp step larger than this, forward or back, is a discontinuity and is rebased"},
    {.name = "sync.outlier_threshold", .type = SC_OPT_DURATION, .default_value = "500ms", .min = 0.001, .max = 3600,
     .help = "least deviation from a stream's cadence (or 8x its median absolute deviation) that makes an outlier"},
    {.name = "sync.reference", .type = SC_OPT_ENUM, .default_value = "auto", .choices = "auto|pdt|arrival|stream",
     .help = "wall clock the media time maps to: times the source states (HLS PROGRAM-DATE-TIME, epoch "
             "timestamps), arrival times, or the first arrival plus media time; auto: stated, else arrival"},
    {.name = "sync.drift_window", .type = SC_OPT_DURATION, .default_value = "300s", .min = 1, .max = 86400,
     .help = "stretch of stream the drift against the reference is estimated over"},
    {.name = "sync.correct_drift", .type = SC_OPT_BOOL, .default_value = "true",
     .help = "map media time to the reference with the estimated drift (else at a fixed offset)"},
    {0},
};

static const sc_option_spec strategy_section_keys[] = {
    {.name = "module", .type = SC_OPT_STRING, .flags = SC_OPT_REQUIRED, .help = "strategy module"},
    {.name = "source", .type = SC_OPT_STRING, .flags = SC_OPT_REQUIRED, .help = "the [source NAME] it cuts"},
    {.name = "quality.min_duration", .type = SC_OPT_DURATION, .default_value = "0",
     .help = "reject segments whose content (from their first keyframe) is shorter"},
    {.name = "quality.require_keyframe_start", .type = SC_OPT_BOOL, .default_value = "false",
     .help = "reject segments whose nominal start is not a keyframe (flagged mid_gop_start or truncated)"},
    {.name = "quality.max_corrupt_ratio", .type = SC_OPT_DOUBLE, .default_value = "1", .min = 0, .max = 1,
     .help = "reject segments with a larger share of packets flagged corrupt"},
    {.name = "quality.max_gap", .type = SC_OPT_DURATION, .default_value = "0",
     .help = "reject segments with a larger hole between reference-stream packets (0 = off)"},
    {.name = "quality.min_bitrate_kbps", .type = SC_OPT_DOUBLE, .default_value = "0", .min = 0, .max = 1e7,
     .help = "reject segments below this bitrate: a proxy for static or black pictures (0 = off)"},
    {.name = "quality.max_thinned_ratio", .type = SC_OPT_DOUBLE, .default_value = "1", .min = 0, .max = 1,
     .help = "reject segments of which a larger share was thinned away by the buffer"},
    {.name = "quality.reject_sink", .type = SC_OPT_STRING, .default_value = "",
     .help = "a [sink NAME] that receives the rejected segments, flagged rejected, with the reason"},
    {0},
};

static const sc_option_spec sink_section_keys[] = {
    {.name = "module", .type = SC_OPT_STRING, .flags = SC_OPT_REQUIRED, .help = "sink module"},
    {.name = "from", .type = SC_OPT_STRING, .default_value = "",
     .help = "the [strategy NAME]s whose segments it receives, comma-separated"},
    {.name = "queue", .type = SC_OPT_INT, .default_value = "64", .min = 1, .max = 65536,
     .help = "segments waiting for this sink at most"},
    {.name = "on_overflow", .type = SC_OPT_ENUM, .default_value = "auto",
     .choices = "auto|block|drop_oldest|drop_newest",
     .help = "when the queue is full: auto = block for file input, drop_oldest for live input"},
    {0},
};

static const sc_option_spec sync_section_keys[] = {
    {.name = "module", .type = SC_OPT_STRING, .flags = SC_OPT_REQUIRED,
     .help = "strategy module whose windows are cut, on the wall-clock reference, from every source"},
    {.name = "sources", .type = SC_OPT_STRING, .flags = SC_OPT_REQUIRED,
     .help = "the [source NAME]s cut together, comma-separated; the first one drives the strategy"},
    {.name = "sync.timeout", .type = SC_OPT_DURATION, .default_value = "10s", .min = 0.001, .max = 86400,
     .help = "how long a set waits for its late members after the first arrived; then it goes out partial"},
    {0},
};

static const sc_option_spec observer_section_keys[] = {
    {.name = "module", .type = SC_OPT_STRING, .flags = SC_OPT_REQUIRED, .help = "observer module"},
    {.name = "sources", .type = SC_OPT_STRING, .default_value = "",
     .help = "the [source NAME]s it watches, comma-separated (empty: every source)"},
    {.name = "packets", .type = SC_OPT_BOOL, .default_value = "true",
     .help = "hand it every packet of the sources (when the module takes packets)"},
    {.name = "segments", .type = SC_OPT_BOOL, .default_value = "true",
     .help = "hand it every segment cut from the sources (when the module takes segments)"},
    {.name = "queue", .type = SC_OPT_INT, .default_value = "4096", .min = 1, .max = 1048576,
     .help = "packets and segments waiting for it at most; beyond, they are dropped and counted"},
    {.name = "on_overflow", .type = SC_OPT_ENUM, .default_value = "drop_oldest", .choices = "drop_oldest|drop_newest",
     .help = "which item a full queue drops (an observer never holds ingest back)"},
    {0},
};

const sc_option_spec *sc_host_keys(sc_section_kind kind)
{
    switch (kind) {
    case SC_SECTION_HOST: return host_section_keys;
    case SC_SECTION_SOURCE: return source_section_keys;
    case SC_SECTION_STRATEGY: return strategy_section_keys;
    case SC_SECTION_SINK: return sink_section_keys;
    case SC_SECTION_SYNC: return sync_section_keys;
    case SC_SECTION_OBSERVER: return observer_section_keys;
    }
    return host_section_keys;
}

bool sc_option_value_parse(const sc_option_spec *spec, const char *text, sc_option_value *value, const char **why)
{
    bool flag;
    double range_value = 0;
    bool ranged = spec->min < spec->max;
    switch (spec->type) {
    case SC_OPT_STRING:
        return true;
    case SC_OPT_INT:
        if (!sc_value_parse_int(text, &value->as_int, why)) return false;
        value->as_double = (double)value->as_int;
        range_value = value->as_double;
        break;
    case SC_OPT_DOUBLE:
        if (!sc_value_parse_double(text, &value->as_double, why)) return false;
        range_value = value->as_double;
        break;
    case SC_OPT_BOOL:
        if (!sc_value_parse_bool(text, &flag, why)) return false;
        value->as_int = flag;
        value->as_double = flag;
        return true;
    case SC_OPT_DURATION:
        if (!sc_value_parse_duration(text, &value->as_int, why)) return false;
        value->as_double = (double)value->as_int / 1e9;
        range_value = value->as_double;
        break;
    case SC_OPT_SIZE:
        if (!sc_value_parse_size(text, &value->as_int, why)) return false;
        value->as_double = (double)value->as_int;
        range_value = value->as_double;
        break;
    case SC_OPT_ENUM:
        if (!sc_value_is_choice(text, spec->choices)) {
            *why = "not one of the choices";
            return false;
        }
        return true;
    default:
        *why = "unknown option type";
        return false;
    }
    if (ranged && (range_value < spec->min || range_value > spec->max)) {
        *why = "out of range";
        return false;
    }
    return true;
}

static void add_error(GPtrArray *errors, const char *path, int line, const char *fmt, ...) SC_PRINTF(4, 5);

static void add_error(GPtrArray *errors, const char *path, int line, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *message = g_strdup_vprintf(fmt, args);
    va_end(args);
    g_ptr_array_add(errors, g_strdup_printf("%s:%d: %s", path, line, message));
    g_free(message);
}

static const char *section_label(const sc_config_section *section, char *buffer, size_t length)
{
    if (section->kind == SC_SECTION_HOST) g_strlcpy(buffer, "[host]", length);
    else g_snprintf(buffer, length, "[%s %s]", sc_section_kind_name(section->kind), section->name);
    return buffer;
}

static char *describe_range(const sc_option_spec *spec)
{
    if (spec->type == SC_OPT_ENUM) {
        char *choices = g_strdup(spec->choices);
        g_strdelimit(choices, "|", ',');
        char *text = g_strdup_printf("one of: %s", choices);
        g_free(choices);
        return text;
    }
    if (spec->min < spec->max) {
        const char *unit = spec->type == SC_OPT_DURATION ? " s" : spec->type == SC_OPT_SIZE ? " bytes" : "";
        return g_strdup_printf("between %g%s and %g%s", spec->min, unit, spec->max, unit);
    }
    return g_strdup(sc_option_type_name(spec->type));
}

/* Resolve one schema against a section: values or defaults, typed. */
static GArray *resolve_options(const sc_option_spec *schema, size_t count, const sc_config_section *section,
                               const char *path, GPtrArray *errors)
{
    GArray *values = g_array_new(FALSE, TRUE, sizeof(sc_option_value));
    char label[128];
    for (size_t i = 0; i < count; i++) {
        const sc_option_spec *spec = &schema[i];
        sc_option_value value = {.spec = spec};
        const sc_config_entry *entry = sc_config_section_find(section, spec->name);
        const char *text = entry ? entry->value : spec->default_value;
        value.set = entry != NULL;
        value.line = entry ? entry->line : section->line;
        if (!entry && (spec->flags & SC_OPT_REQUIRED)) {
            add_error(errors, path, section->line, "%s: missing required option '%s' (%s)",
                      section_label(section, label, sizeof label), spec->name, spec->help ? spec->help : "");
        } else if (text) {
            const char *why = NULL;
            if (!sc_option_value_parse(spec, text, &value, &why)) {
                char *range = describe_range(spec);
                add_error(errors, path, value.line, "%s: bad value '%s' for '%s': %s (expected %s)",
                          section_label(section, label, sizeof label), text, spec->name, why, range);
                g_free(range);
            }
            value.text = g_strdup(text);
        }
        g_array_append_val(values, value);
    }
    return values;
}

static size_t schema_length(const sc_option_spec *schema)
{
    size_t count = 0;
    while (schema[count].name) count++;
    return count;
}

static void free_option_values(GArray *values)
{
    if (!values) return;
    for (guint i = 0; i < values->len; i++) g_free(g_array_index(values, sc_option_value, i).text);
    g_array_free(values, TRUE);
}

static const sc_option_value *find_value(GArray *values, const char *name)
{
    for (guint i = 0; values && i < values->len; i++) {
        const sc_option_value *value = &g_array_index(values, sc_option_value, i);
        if (strcmp(value->spec->name, name) == 0) return value;
    }
    return NULL;
}

/* Every key must be a host key of the section kind or a module option. */
static void check_unknown_keys(const sc_config_section *section, const sc_module *module, const char *path,
                               GPtrArray *errors)
{
    const sc_option_spec *host_keys = sc_host_keys(section->kind);
    GPtrArray *known = g_ptr_array_new();
    for (const sc_option_spec *spec = host_keys; spec->name; spec++) g_ptr_array_add(known, (gpointer)spec->name);
    for (size_t i = 0; module && i < module->option_count; i++) g_ptr_array_add(known, (gpointer)module->options[i].name);
    char label[128];
    for (guint i = 0; i < section->entries->len; i++) {
        const sc_config_entry *entry = g_ptr_array_index(section->entries, i);
        bool found = false;
        for (guint k = 0; k < known->len && !found; k++) found = strcmp(known->pdata[k], entry->key) == 0;
        if (found) continue;
        if (!module && section->kind != SC_SECTION_HOST) continue;  /* module unknown: reported already */
        const char *suggestion = sc_closest_word(entry->key, (const char *const *)known->pdata, known->len);
        char *hint = suggestion ? g_strdup_printf(" (did you mean '%s'?)", suggestion) : g_strdup("");
        if (module)
            add_error(errors, path, entry->line, "%s: unknown option '%s' for module '%s'%s",
                      section_label(section, label, sizeof label), entry->key, module->descriptor.name, hint);
        else
            add_error(errors, path, entry->line, "%s: unknown option '%s'%s",
                      section_label(section, label, sizeof label), entry->key, hint);
        g_free(hint);
    }
    g_ptr_array_free(known, TRUE);
}

static void free_ctx(sc_ctx *ctx)
{
    free_option_values(ctx->options);
    free_option_values(ctx->host_options);
    g_hash_table_destroy(ctx->counters);
    g_mutex_clear(&ctx->counters_lock);
    g_free(ctx->name);
    g_free(ctx);
}

static sc_ctx *find_ctx(sc_pipeline *pipeline, const char *name)
{
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        if (strcmp(ctx->name, name) == 0) return ctx;
    }
    return NULL;
}

static const char *closest_name(sc_pipeline *pipeline, const char *name, sc_section_kind kind)
{
    GPtrArray *names = g_ptr_array_new();
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        if (ctx->kind == kind) g_ptr_array_add(names, ctx->name);
    }
    const char *best = sc_closest_word(name, (const char *const *)names->pdata, names->len);
    g_ptr_array_free(names, TRUE);
    return best;
}

static sc_ctx *resolve_reference(sc_pipeline *pipeline, sc_ctx *from, const char *name, sc_section_kind want,
                                 int line, GPtrArray *errors)
{
    const char *path = pipeline->config->path;
    char label[128];
    sc_ctx *target = find_ctx(pipeline, name);
    if (!target) {
        const char *suggestion = closest_name(pipeline, name, want);
        add_error(errors, path, line, "%s: no [%s %s] in this file%s%s%s", section_label(from->section, label, sizeof label),
                  sc_section_kind_name(want), name, suggestion ? " (did you mean '" : "",
                  suggestion ? suggestion : "", suggestion ? "'?)" : "");
        return NULL;
    }
    if (target->kind != want) {
        add_error(errors, path, line, "%s: '%s' is a %s, not a %s", section_label(from->section, label, sizeof label),
                  name, sc_section_kind_name(target->kind), sc_section_kind_name(want));
        return NULL;
    }
    return target;
}

static sc_ctx *new_ctx(sc_pipeline *pipeline, const sc_config_section *section)
{
    sc_ctx *ctx = g_new0(sc_ctx, 1);
    ctx->kind = section->kind;
    ctx->name = g_strdup(section->name);
    ctx->section = section;
    ctx->pipeline = pipeline;
    g_mutex_init(&ctx->counters_lock);
    ctx->counters = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return ctx;
}

static uint32_t module_kind_for(sc_section_kind kind)
{
    return kind == SC_SECTION_SOURCE ? SC_MODULE_SOURCE
         : kind == SC_SECTION_STRATEGY || kind == SC_SECTION_SYNC ? SC_MODULE_STRATEGY
         : kind == SC_SECTION_OBSERVER ? SC_MODULE_OBSERVER
                                       : SC_MODULE_SINK;
}

static void build_runtimes(sc_pipeline *pipeline, GPtrArray *errors);

/* `module = auto`: the module for the stream type its url shows. */
static const char *choose_source_module(sc_ctx *ctx, const sc_config_section *section, const char *path, int line,
                                        GPtrArray *errors)
{
    char label[128];
    const sc_config_entry *url = sc_config_section_find(section, "url");
    if (!url) {
        add_error(errors, path, line, "%s: module = auto needs a 'url' to detect the stream type from",
                  section_label(section, label, sizeof label));
        return NULL;
    }
    sc_stream_kind kind = sc_detect_stream_kind(url->value);
    const sc_config_entry *resolver = sc_config_section_find(section, "resolver");
    if (kind.needs_resolver && (!resolver || !*resolver->value)) {
        add_error(errors, path, url->line,
                  "%s: %s is a page, not a stream: add a resolver, e.g. 'resolver = %s' (see conf/examples/)",
                  section_label(section, label, sizeof label), kind.type,
                  strcmp(kind.type, "TWITCH_HLS") == 0 ? "streamlink --stream-url {url} best" : "yt-dlp -g {url}");
        return NULL;
    }
    ctx->detected_type = kind.type;
    return kind.module;
}

sc_pipeline *sc_pipeline_load(const char *path, GPtrArray *errors)
{
    guint errors_before = errors->len;
    sc_config *config = sc_config_load(path, errors);
    if (!config) return NULL;
    sc_pipeline *pipeline = g_new0(sc_pipeline, 1);
    pipeline->config = config;
    pipeline->contexts = g_ptr_array_new();
    pipeline->sources = g_ptr_array_new();
    pipeline->strategies = g_ptr_array_new();
    pipeline->sinks = g_ptr_array_new();
    pipeline->groups = g_ptr_array_new();
    pipeline->observers = g_ptr_array_new();

    const sc_config_section *host_section = NULL;
    for (guint i = 0; i < config->sections->len; i++) {
        const sc_config_section *section = g_ptr_array_index(config->sections, i);
        if (section->kind == SC_SECTION_HOST) host_section = section;
    }
    /* Without a [host] section its keys take their defaults. */
    GPtrArray *no_entries = g_ptr_array_new();
    sc_config_section empty_host = {.kind = SC_SECTION_HOST, .name = (char *)"", .line = 1, .entries = no_entries};
    const sc_config_section *host_view = host_section ? host_section : &empty_host;
    check_unknown_keys(host_view, NULL, path, errors);
    pipeline->host_options = resolve_options(host_section_keys, schema_length(host_section_keys), host_view, path, errors);
    g_ptr_array_free(no_entries, TRUE);

    /* Module folders named in the file are relative to it. */
    GPtrArray *folders = g_ptr_array_new_with_free_func(g_free);
    const sc_option_value *module_path = find_value(pipeline->host_options, "module_path");
    if (module_path && module_path->text && *module_path->text) {
        char *base = g_path_get_dirname(path);
        char **parts = g_strsplit(module_path->text, ":", -1);
        for (char **p = parts; *p; p++)
            if (**p) g_ptr_array_add(folders, g_path_is_absolute(*p) ? g_strdup(*p) : g_build_filename(base, *p, NULL));
        g_strfreev(parts);
        g_free(base);
    }
    g_ptr_array_add(folders, NULL);
    pipeline->loader = sc_loader_new((const char *const *)folders->pdata);
    g_ptr_array_free(folders, TRUE);

    char label[128];
    for (guint i = 0; i < config->sections->len; i++) {
        const sc_config_section *section = g_ptr_array_index(config->sections, i);
        if (section->kind == SC_SECTION_HOST) continue;
        sc_ctx *ctx = new_ctx(pipeline, section);
        g_ptr_array_add(pipeline->contexts, ctx);
        const sc_config_entry *module_entry = sc_config_section_find(section, "module");
        if (!module_entry) {
            add_error(errors, path, section->line, "%s: missing 'module = NAME'", section_label(section, label, sizeof label));
        } else {
            char *error = NULL;
            const char *module_name = module_entry->value;
            if (section->kind == SC_SECTION_SOURCE && strcmp(module_name, "auto") == 0) {
                module_name = choose_source_module(ctx, section, path, module_entry->line, errors);
                if (!module_name) continue;
            }
            ctx->module = sc_loader_find(pipeline->loader, module_name, &error);
            if (!ctx->module) {
                add_error(errors, path, module_entry->line, "%s: module '%s': %s",
                          section_label(section, label, sizeof label), module_name, error);
                g_free(error);
            } else if (ctx->module->descriptor.kind != module_kind_for(section->kind)) {
                add_error(errors, path, module_entry->line, "%s: module '%s' is a %s module, not a %s module",
                          section_label(section, label, sizeof label), module_entry->value,
                          sc_module_kind_name(ctx->module->descriptor.kind), sc_section_kind_name(section->kind));
                ctx->module = NULL;
            }
        }
        check_unknown_keys(section, ctx->module, path, errors);
        const sc_option_spec *host_keys = sc_host_keys(section->kind);
        ctx->host_options = resolve_options(host_keys, schema_length(host_keys), section, path, errors);
        if (ctx->module)
            ctx->options = resolve_options(ctx->module->options, ctx->module->option_count, section, path, errors);
    }
    int64_t max_streams = find_value(pipeline->host_options, "max_streams")->as_int;
    int64_t sources = 0;
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        if (ctx->kind != SC_SECTION_SOURCE) continue;
        if (++sources == max_streams + 1)
            add_error(errors, path, ctx->section->line,
                      "[source %s]: more than max_streams (%" G_GINT64_FORMAT ") sources; raise [host] max_streams",
                      ctx->name, max_streams);
    }
    if (sources == 0) add_error(errors, path, 1, "the pipeline has no [source NAME] section");
    if (errors->len == errors_before) build_runtimes(pipeline, errors);
    if (errors->len != errors_before) {
        sc_pipeline_free(pipeline);
        return NULL;
    }
    return pipeline;
}

static sc_source_runtime *new_source_runtime(sc_ctx *ctx)
{
    sc_source_runtime *source = g_new0(sc_source_runtime, 1);
    source->ctx = ctx;
    sc_buffer_limits limits = {
        .max_memory_bytes = find_value(ctx->host_options, "buffer.max_memory_mb")->as_int * 1024 * 1024,
        .max_items = find_value(ctx->host_options, "buffer.max_items")->as_int,
        .retention_ns = (int64_t)(find_value(ctx->host_options, "buffer.retention_seconds")->as_double * 1e9),
        .keyframe_priority = find_value(ctx->host_options, "buffer.keyframe_priority")->as_int != 0,
        .gc_interval_ns = (int64_t)(find_value(ctx->host_options, "buffer.gc_interval_seconds")->as_double * 1e9),
    };
    source->buffer = sc_buffer_new(&limits);
    sc_clock_init(&source->clock, find_value(ctx->host_options, "sync.max_jump")->as_int);
    source->clock.outlier_threshold_ns = find_value(ctx->host_options, "sync.outlier_threshold")->as_int;
    source->timestamp_format = sc_timestamp_format_from_name(find_value(ctx->host_options, "sync.timestamp_format")->text);
    source->reference = sc_reference_clock_new(
        (sc_reference_mode)sc_reference_mode_from_name(find_value(ctx->host_options, "sync.reference")->text),
        find_value(ctx->host_options, "sync.drift_window")->as_int,
        find_value(ctx->host_options, "sync.correct_drift")->as_int != 0);
    g_mutex_init(&source->streams_lock);
    source->streams = g_ptr_array_new_with_free_func(sc_stream_info_free);
    source->strategies = g_ptr_array_new();
    source->startup = g_ptr_array_new();
    source->reference_stream = -1;
    source->reconnect = (sc_reconnect_policy){
        .initial_delay_ns = find_value(ctx->host_options, "reconnect.initial_delay")->as_int,
        .max_delay_ns = find_value(ctx->host_options, "reconnect.max_delay")->as_int,
        .give_up_after_ns = find_value(ctx->host_options, "reconnect.give_up_after")->as_int,
    };
    if (source->reconnect.max_delay_ns < source->reconnect.initial_delay_ns)
        source->reconnect.max_delay_ns = source->reconnect.initial_delay_ns;
    const char *resolver = find_value(ctx->host_options, "resolver")->text;
    source->resolver = resolver && *resolver ? g_strdup(resolver) : NULL;
    source->resolver_timeout_ns = find_value(ctx->host_options, "resolver_timeout")->as_int;
    g_mutex_init(&source->error_lock);
    if (ctx->detected_type) {
        source->type = g_intern_string(ctx->detected_type);
        /* A page URL says more (YOUTUBE_HLS) than the module can (HLS). */
        source->type_locked = strcmp(ctx->detected_type, "YOUTUBE_HLS") == 0 || strcmp(ctx->detected_type, "TWITCH_HLS") == 0;
    }
    atomic_init(&source->state, SC_SOURCE_CONNECTING);
    atomic_init(&source->stop_requested, 0);
    ctx->source = source;
    return source;
}

static sc_overflow_policy parse_overflow(const char *text)
{
    if (strcmp(text, "block") == 0) return SC_OVERFLOW_BLOCK;
    if (strcmp(text, "drop_oldest") == 0) return SC_OVERFLOW_DROP_OLDEST;
    if (strcmp(text, "drop_newest") == 0) return SC_OVERFLOW_DROP_NEWEST;
    return SC_OVERFLOW_AUTO;
}

static sc_strategy_runtime *new_strategy_runtime(sc_ctx *ctx, sc_source_runtime *source)
{
    sc_strategy_runtime *strategy = g_new0(sc_strategy_runtime, 1);
    strategy->ctx = ctx;
    strategy->source = source;
    strategy->file_sinks = g_ptr_array_new();
    strategy->record_sinks = g_ptr_array_new();
    strategy->pending = g_ptr_array_new();
    strategy->stream_progress = g_array_new(FALSE, FALSE, sizeof(int64_t));
    strategy->reference_stream = -1;
    strategy->reference_media_end = SC_TIME_NONE;
    strategy->module_hold = UINT64_MAX;
    strategy->recent_hold = UINT64_MAX;
    strategy->member = -1;
    strategy->quality = (sc_quality_rules){.max_corrupt_ratio = 1, .max_thinned_ratio = 1};
    if (ctx->kind == SC_SECTION_STRATEGY)
        strategy->quality = (sc_quality_rules){
            .min_duration_ns = find_value(ctx->host_options, "quality.min_duration")->as_int,
            .require_keyframe_start = find_value(ctx->host_options, "quality.require_keyframe_start")->as_int != 0,
            .max_corrupt_ratio = find_value(ctx->host_options, "quality.max_corrupt_ratio")->as_double,
            .max_gap_ns = find_value(ctx->host_options, "quality.max_gap")->as_int,
            .min_bitrate_kbps = find_value(ctx->host_options, "quality.min_bitrate_kbps")->as_double,
            .max_thinned_ratio = find_value(ctx->host_options, "quality.max_thinned_ratio")->as_double,
        };
    g_mutex_init(&strategy->events_lock);
    g_queue_init(&strategy->events);
    g_mutex_init(&strategy->requests_lock);
    g_queue_init(&strategy->requests);
    return strategy;
}

/* A [sync NAME] group: a driver on the first source, a shadow per member. */
static void build_group(sc_pipeline *pipeline, sc_ctx *ctx, GPtrArray *errors)
{
    const sc_option_value *sources = find_value(ctx->host_options, "sources");
    sc_sync_group *group = g_new0(sc_sync_group, 1);
    group->ctx = ctx;
    group->members = g_ptr_array_new();
    group->member_names = g_ptr_array_new();
    group->shadows = g_ptr_array_new();
    group->file_sinks = g_ptr_array_new();
    group->record_sinks = g_ptr_array_new();
    group->timeout_ns = find_value(ctx->host_options, "sync.timeout")->as_int;
    atomic_init(&group->driver_utc, SC_TIME_NONE);
    atomic_init(&group->driver_hold_utc, SC_TIME_NONE);
    g_mutex_init(&group->lock);
    group->open_sets = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, NULL);
    group->ready_sets = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, NULL);
    g_mutex_init(&group->dispatch_lock);
    g_ptr_array_add(pipeline->groups, group);
    ctx->group = group;
    char **names = g_strsplit(sources->text, ",", -1);
    for (char **name = names; *name; name++) {
        char *trimmed = g_strstrip(*name);
        if (!*trimmed) continue;
        sc_ctx *source = resolve_reference(pipeline, ctx, trimmed, SC_SECTION_SOURCE, sources->line, errors);
        if (!source) continue;
        for (guint i = 0; i < group->members->len; i++)
            if (group->members->pdata[i] == source->source) {
                add_error(errors, pipeline->config->path, sources->line, "[sync %s]: '%s' is listed twice", ctx->name, trimmed);
                source = NULL;
                break;
            }
        if (!source) continue;
        sc_strategy_runtime *shadow = new_strategy_runtime(ctx, source->source);
        shadow->group = group;
        shadow->member = (int)group->members->len;
        g_ptr_array_add(group->members, source->source);
        g_ptr_array_add(group->member_names, source->name);
        g_ptr_array_add(group->shadows, shadow);
        g_ptr_array_add(pipeline->strategies, shadow);
    }
    g_strfreev(names);
    g_ptr_array_add(group->member_names, NULL);
    g_ptr_array_set_size(group->member_names, group->member_names->len - 1);
    if (group->members->len < 2) {
        add_error(errors, pipeline->config->path, sources->line, "[sync %s]: name at least two sources", ctx->name);
        return;
    }
    sc_strategy_runtime *driver = new_strategy_runtime(ctx, g_ptr_array_index(group->members, 0));
    driver->group = group;
    group->driver = driver;
    ctx->strategy = driver;
    ctx->source = driver->source;
    g_ptr_array_add(pipeline->strategies, driver);
}

/* With the control API, every source gets a replay runtime for clip
 * orders: a module-less strategy named "replay" following its buffer. */
static void add_replay_runtime(sc_pipeline *pipeline, sc_source_runtime *source)
{
    sc_ctx *ctx = g_new0(sc_ctx, 1);
    ctx->kind = SC_SECTION_HOST; /* not a configured strategy: stats and teardown pass it by */
    ctx->name = g_strdup("replay");
    ctx->pipeline = pipeline;
    ctx->source = source;
    g_mutex_init(&ctx->counters_lock);
    ctx->counters = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    sc_strategy_runtime *replay = new_strategy_runtime(ctx, source);
    replay->replay = true;
    ctx->strategy = replay;
    source->replay = replay;
    g_ptr_array_add(pipeline->strategies, replay);
}

static void build_observer(sc_pipeline *pipeline, sc_ctx *ctx, GPtrArray *errors)
{
    sc_observer_runtime *observer = g_new0(sc_observer_runtime, 1);
    observer->ctx = ctx;
    observer->capacity = (guint)find_value(ctx->host_options, "queue")->as_int;
    observer->drop_newest = strcmp(find_value(ctx->host_options, "on_overflow")->text, "drop_newest") == 0;
    observer->want_packets = find_value(ctx->host_options, "packets")->as_int != 0;
    observer->want_segments = find_value(ctx->host_options, "segments")->as_int != 0;
    g_mutex_init(&observer->lock);
    g_cond_init(&observer->changed);
    g_ptr_array_add(pipeline->observers, observer);
    const sc_option_value *sources = find_value(ctx->host_options, "sources");
    char **names = g_strsplit(sources->text ? sources->text : "", ",", -1);
    int watched = 0;
    for (char **name = names; *name; name++) {
        char *trimmed = g_strstrip(*name);
        if (!*trimmed) continue;
        sc_ctx *source = resolve_reference(pipeline, ctx, trimmed, SC_SECTION_SOURCE, sources->line, errors);
        if (!source) continue;
        if (!source->source->observers) source->source->observers = g_ptr_array_new();
        g_ptr_array_add(source->source->observers, observer);
        watched++;
    }
    g_strfreev(names);
    if (watched == 0 && (!sources->text || !*g_strstrip(sources->text)))
        for (guint i = 0; i < pipeline->sources->len; i++) {
            sc_source_runtime *source = g_ptr_array_index(pipeline->sources, i);
            if (!source->observers) source->observers = g_ptr_array_new();
            g_ptr_array_add(source->observers, observer);
        }
}

static bool control_configured(sc_pipeline *pipeline)
{
    const sc_option_value *control = find_value(pipeline->host_options, "control");
    return control && control->text && *control->text;
}

static void build_runtimes(sc_pipeline *pipeline, GPtrArray *errors)
{
    const char *path = pipeline->config->path;
    int64_t host_cap_mb = find_value(pipeline->host_options, "max_memory_mb")->as_int;
    if (host_cap_mb > 0) pipeline->governor = sc_memory_governor_new(host_cap_mb * 1024 * 1024);
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        if (ctx->kind != SC_SECTION_SOURCE) continue;
        sc_source_runtime *source = new_source_runtime(ctx);
        if (pipeline->governor) sc_memory_governor_add(pipeline->governor, source->buffer);
        g_ptr_array_add(pipeline->sources, source);
        if (control_configured(pipeline)) add_replay_runtime(pipeline, source);
    }
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        if (ctx->kind != SC_SECTION_STRATEGY) continue;
        const sc_option_value *source_name = find_value(ctx->host_options, "source");
        sc_ctx *source = resolve_reference(pipeline, ctx, source_name->text, SC_SECTION_SOURCE, source_name->line, errors);
        if (!source) continue;
        sc_strategy_runtime *strategy = new_strategy_runtime(ctx, source->source);
        ctx->strategy = strategy;
        ctx->source = source->source;
        g_ptr_array_add(source->source->strategies, strategy);
        g_ptr_array_add(pipeline->strategies, strategy);
    }
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        if (ctx->kind == SC_SECTION_SYNC) build_group(pipeline, ctx, errors);
        if (ctx->kind == SC_SECTION_OBSERVER) build_observer(pipeline, ctx, errors);
    }
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        if (ctx->kind != SC_SECTION_SINK) continue;
        sc_sink_runtime *sink = g_new0(sc_sink_runtime, 1);
        sink->ctx = ctx;
        sink->produces_files = (ctx->module->descriptor.flags & SC_MODULE_PRODUCES_FILES) != 0;
        sink->capacity = (guint)find_value(ctx->host_options, "queue")->as_int;
        sink->overflow = parse_overflow(find_value(ctx->host_options, "on_overflow")->text);
        g_mutex_init(&sink->lock);
        g_cond_init(&sink->changed);
        g_queue_init(&sink->queue);
        ctx->sink = sink;
        g_ptr_array_add(pipeline->sinks, sink);
        const sc_option_value *from = find_value(ctx->host_options, "from");
        char **names = g_strsplit(from->text, ",", -1);
        int inputs = 0;
        for (char **name = names; *name; name++) {
            char *trimmed = g_strstrip(*name);
            if (!*trimmed) continue;
            sc_ctx *named = find_ctx(pipeline, trimmed);
            sc_ctx *input = named && named->kind == SC_SECTION_SYNC
                ? named : resolve_reference(pipeline, ctx, trimmed, SC_SECTION_STRATEGY, from->line, errors);
            if (!input || (!input->strategy && !input->group)) continue;
            GPtrArray *list = input->group ? (sink->produces_files ? input->group->file_sinks : input->group->record_sinks)
                            : sink->produces_files ? input->strategy->file_sinks : input->strategy->record_sinks;
            bool already = false;
            for (guint k = 0; k < list->len; k++) already = already || list->pdata[k] == sink;
            if (already) {
                add_error(errors, path, from->line, "[sink %s]: '%s' is listed twice in 'from'", ctx->name, trimmed);
                continue;
            }
            g_ptr_array_add(list, sink);
            inputs++;
        }
        sink->has_inputs = inputs > 0;
        g_strfreev(names);
    }
    for (guint i = 0; i < pipeline->strategies->len; i++) {
        sc_strategy_runtime *strategy = g_ptr_array_index(pipeline->strategies, i);
        if (strategy->ctx->kind != SC_SECTION_STRATEGY) continue;
        const sc_option_value *reject = find_value(strategy->ctx->host_options, "quality.reject_sink");
        if (!reject->text || !*reject->text) continue;
        sc_ctx *target = resolve_reference(pipeline, strategy->ctx, reject->text, SC_SECTION_SINK, reject->line, errors);
        if (!target) continue;
        strategy->reject_sink = target->sink;
        target->sink->has_inputs = true;
    }
    for (guint i = 0; i < pipeline->sinks->len; i++) {
        sc_sink_runtime *sink = g_ptr_array_index(pipeline->sinks, i);
        /* With the control API a sink may serve clip orders only. */
        if (!sink->has_inputs && control_configured(pipeline))
            sc_log(SC_LOG_INFO, sink->ctx->name, "receives only clips ordered through the control API");
        else if (!sink->has_inputs)
            add_error(errors, path, sink->ctx->section->line,
                      "[sink %s]: receives nothing: give it 'from = STRATEGY' or name it in a strategy's "
                      "quality.reject_sink", sink->ctx->name);
    }
    for (guint i = 0; i < pipeline->sources->len; i++) {
        sc_source_runtime *source = g_ptr_array_index(pipeline->sources, i);
        bool grouped = false;
        for (guint g = 0; g < pipeline->groups->len; g++) {
            sc_sync_group *group = g_ptr_array_index(pipeline->groups, g);
            for (guint m = 0; m < group->members->len; m++) grouped = grouped || group->members->pdata[m] == source;
        }
        if (source->strategies->len == 0 && !grouped)
            sc_log(SC_LOG_WARNING, NULL, "%s:%d: [source %s] feeds no strategy; it will be read and buffered only",
                   path, source->ctx->section->line, source->ctx->name);
    }
    for (guint i = 0; i < pipeline->strategies->len; i++) {
        sc_strategy_runtime *strategy = g_ptr_array_index(pipeline->strategies, i);
        if (strategy->ctx->kind != SC_SECTION_STRATEGY) continue;
        if (strategy->file_sinks->len + strategy->record_sinks->len == 0)
            sc_log(SC_LOG_WARNING, NULL, "%s:%d: [strategy %s] feeds no sink; its segments go nowhere",
                   path, strategy->ctx->section->line, strategy->ctx->name);
    }
}

static void free_source_runtime(sc_source_runtime *source)
{
    sc_buffer_free(source->buffer);
    sc_clock_clear(&source->clock);
    g_ptr_array_free(source->streams, TRUE);
    g_ptr_array_free(source->strategies, TRUE);
    if (source->observers) g_ptr_array_free(source->observers, TRUE);
    for (guint i = 0; i < source->startup->len; i++) sc_packet_unref(g_ptr_array_index(source->startup, i));
    g_ptr_array_free(source->startup, TRUE);
    g_mutex_clear(&source->streams_lock);
    g_mutex_clear(&source->error_lock);
    sc_reference_clock_free(source->reference);
    g_free(source->last_error);
    g_free(source->resolver);
    g_free(source);
}

static void unref_order(gpointer order) { sc_clip_order_unref(order); }

static void free_strategy_runtime(sc_strategy_runtime *strategy)
{
    g_queue_clear_full(&strategy->orders, unref_order);
    if (strategy->replay) {
        sc_ctx *ctx = strategy->ctx;
        g_hash_table_destroy(ctx->counters);
        g_mutex_clear(&ctx->counters_lock);
        g_free(ctx->name);
        g_free(ctx);
    }
    g_ptr_array_free(strategy->file_sinks, TRUE);
    g_ptr_array_free(strategy->record_sinks, TRUE);
    g_ptr_array_free(strategy->pending, TRUE);
    g_array_free(strategy->stream_progress, TRUE);
    g_mutex_clear(&strategy->events_lock);
    g_mutex_clear(&strategy->requests_lock);
    g_queue_clear_full(&strategy->requests, g_free);
    g_free(strategy);
}

static void free_sink_runtime(sc_sink_runtime *sink)
{
    g_mutex_clear(&sink->lock);
    g_cond_clear(&sink->changed);
    g_free(sink);
}

static void destroy_instances(sc_pipeline *pipeline)
{
    /* Sinks first: they may hold segments whose packets came from sources. */
    for (guint pass = 0; pass < 4; pass++) {
        sc_section_kind kind = pass == 0 ? SC_SECTION_OBSERVER : pass == 1 ? SC_SECTION_SINK
                             : pass == 2 ? SC_SECTION_STRATEGY : SC_SECTION_SOURCE;
        for (guint i = 0; i < pipeline->contexts->len; i++) {
            sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
            sc_section_kind as = ctx->kind == SC_SECTION_SYNC ? SC_SECTION_STRATEGY : ctx->kind;
            if (as != kind || !ctx->instance) continue;
            switch (kind) {
            case SC_SECTION_OBSERVER: ctx->module->ops.observer.destroy(ctx->instance); break;
            case SC_SECTION_SINK: ctx->module->ops.sink.destroy(ctx->instance); break;
            case SC_SECTION_STRATEGY: ctx->module->ops.strategy.destroy(ctx->instance); break;
            default: ctx->module->ops.source.destroy(ctx->instance); break;
            }
            ctx->instance = NULL;
        }
    }
}

void sc_pipeline_free(sc_pipeline *pipeline)
{
    if (!pipeline) return;
    destroy_instances(pipeline);
    for (guint i = 0; i < pipeline->strategies->len; i++) free_strategy_runtime(g_ptr_array_index(pipeline->strategies, i));
    for (guint i = 0; i < pipeline->sinks->len; i++) free_sink_runtime(g_ptr_array_index(pipeline->sinks, i));
    for (guint i = 0; i < pipeline->groups->len; i++) sc_sync_group_free(g_ptr_array_index(pipeline->groups, i));
    g_ptr_array_free(pipeline->groups, TRUE);
    for (guint i = 0; i < pipeline->observers->len; i++) sc_observer_runtime_free(g_ptr_array_index(pipeline->observers, i));
    g_ptr_array_free(pipeline->observers, TRUE);
    /* Sources last: segments and packets point at their stream tables. */
    for (guint i = 0; i < pipeline->sources->len; i++) free_source_runtime(g_ptr_array_index(pipeline->sources, i));
    sc_memory_governor_free(pipeline->governor);
    for (guint i = 0; i < pipeline->contexts->len; i++) free_ctx(g_ptr_array_index(pipeline->contexts, i));
    g_ptr_array_free(pipeline->contexts, TRUE);
    g_ptr_array_free(pipeline->sources, TRUE);
    g_ptr_array_free(pipeline->strategies, TRUE);
    g_ptr_array_free(pipeline->sinks, TRUE);
    free_option_values(pipeline->host_options);
    sc_loader_free(pipeline->loader);
    sc_config_free(pipeline->config);
    sc_packet_pool_trim(0);
    g_free(pipeline);
}

static void print_module(const sc_ctx *ctx, FILE *out)
{
    const sc_module *module = ctx->module;
    fprintf(out, "%s %s (ABI %u.%u)", module->descriptor.name, module->descriptor.version,
            module->descriptor.abi_major, module->descriptor.abi_minor);
    if (ctx->detected_type) fprintf(out, " [auto: %s]", ctx->detected_type);
}

void sc_pipeline_print_graph(const sc_pipeline *pipeline, FILE *out)
{
    fprintf(out, "%s: ok\n", pipeline->config->path);
    for (guint i = 0; i < pipeline->sources->len; i++) {
        const sc_source_runtime *source = g_ptr_array_index(pipeline->sources, i);
        fprintf(out, "source %s: ", source->ctx->name);
        print_module(source->ctx, out);
        fputc('\n', out);
        for (guint j = 0; j < source->strategies->len; j++) {
            const sc_strategy_runtime *strategy = g_ptr_array_index(source->strategies, j);
            fprintf(out, "  -> strategy %s: ", strategy->ctx->name);
            print_module(strategy->ctx, out);
            fputc('\n', out);
            for (guint pass = 0; pass < 2; pass++) {
                const GPtrArray *sinks = pass == 0 ? strategy->file_sinks : strategy->record_sinks;
                for (guint k = 0; k < sinks->len; k++) {
                    const sc_sink_runtime *sink = g_ptr_array_index(sinks, k);
                    fprintf(out, "       -> sink %s: ", sink->ctx->name);
                    print_module(sink->ctx, out);
                    fputc('\n', out);
                }
            }
        }
    }
    for (guint i = 0; i < pipeline->groups->len; i++) {
        const sc_sync_group *group = g_ptr_array_index(pipeline->groups, i);
        fprintf(out, "sync %s: ", group->ctx->name);
        print_module(group->ctx, out);
        fprintf(out, " over");
        for (guint m = 0; m < group->members->len; m++) fprintf(out, " %s", (const char *)group->member_names->pdata[m]);
        fputc('\n', out);
        for (guint pass = 0; pass < 2; pass++) {
            const GPtrArray *sinks = pass == 0 ? group->file_sinks : group->record_sinks;
            for (guint k = 0; k < sinks->len; k++) {
                const sc_sink_runtime *sink = g_ptr_array_index(sinks, k);
                fprintf(out, "       -> sink %s: ", sink->ctx->name);
                print_module(sink->ctx, out);
                fputc('\n', out);
            }
        }
    }
    for (guint i = 0; i < pipeline->observers->len; i++) {
        const sc_observer_runtime *observer = g_ptr_array_index(pipeline->observers, i);
        fprintf(out, "observer %s: ", observer->ctx->name);
        print_module(observer->ctx, out);
        fprintf(out, " watching");
        for (guint s = 0; s < pipeline->sources->len; s++) {
            const sc_source_runtime *source = g_ptr_array_index(pipeline->sources, s);
            for (guint o = 0; source->observers && o < source->observers->len; o++)
                if (source->observers->pdata[o] == observer) fprintf(out, " %s", source->ctx->name);
        }
        fputc('\n', out);
    }
}

bool sc_pipeline_create(sc_pipeline *pipeline, GPtrArray *errors)
{
    const sc_host_api *api = sc_host_api_table();
    bool ok = true;
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        bool strategy = ctx->kind == SC_SECTION_STRATEGY || ctx->kind == SC_SECTION_SYNC;
        bool observer = ctx->kind == SC_SECTION_OBSERVER;
        sc_create_fn create = ctx->kind == SC_SECTION_SOURCE ? ctx->module->ops.source.create
                            : strategy ? ctx->module->ops.strategy.create
                            : observer ? ctx->module->ops.observer.create : ctx->module->ops.sink.create;
        void *instance = NULL;
        int result = create(api, ctx, &instance);
        if (result != SC_OK || !instance) {
            add_error(errors, pipeline->config->path, ctx->section->line, "[%s %s]: module '%s' could not be created (status %d)",
                      sc_section_kind_name(ctx->kind), ctx->name, ctx->module->descriptor.name, result);
            ok = false;
            continue;
        }
        ctx->instance = instance;
        int (*start)(void *) = ctx->kind == SC_SECTION_SOURCE ? ctx->module->ops.source.start
                             : strategy ? ctx->module->ops.strategy.start
                             : observer ? ctx->module->ops.observer.start : ctx->module->ops.sink.start;
        if (start && (result = start(instance)) != SC_OK) {
            add_error(errors, pipeline->config->path, ctx->section->line, "[%s %s]: module '%s' could not start (status %d)",
                      sc_section_kind_name(ctx->kind), ctx->name, ctx->module->descriptor.name, result);
            ok = false;
        }
    }
    return ok;
}

void sc_pipeline_start(sc_pipeline *pipeline)
{
    int64_t workers = find_value(pipeline->host_options, "workers")->as_int;
    if (workers <= 0) workers = g_get_num_processors();
    pipeline->workers = sc_worker_pool_start((guint)workers);
    for (guint i = 0; i < pipeline->sinks->len; i++) sc_sink_runtime_attach(g_ptr_array_index(pipeline->sinks, i), pipeline->workers);
    for (guint i = 0; i < pipeline->observers->len; i++) sc_observer_runtime_start(g_ptr_array_index(pipeline->observers, i));
    for (guint i = 0; i < pipeline->strategies->len; i++) sc_strategy_runtime_start(g_ptr_array_index(pipeline->strategies, i));
    for (guint i = 0; i < pipeline->sources->len; i++) sc_source_runtime_start(g_ptr_array_index(pipeline->sources, i));
    pipeline->housekeeping = sc_housekeeping_start(pipeline);
}

bool sc_pipeline_sources_done(sc_pipeline *pipeline)
{
    for (guint i = 0; i < pipeline->sources->len; i++) {
        sc_source_runtime *source = g_ptr_array_index(pipeline->sources, i);
        int state = atomic_load(&source->state);
        if (state != SC_SOURCE_ENDED && state != SC_SOURCE_FAILED) return false;
    }
    return true;
}

const sc_option_value *sc_pipeline_host_option(sc_pipeline *pipeline, const char *name)
{
    return find_value(pipeline->host_options, name);
}

void sc_pipeline_request_reopen(sc_pipeline *pipeline)
{
    for (guint i = 0; i < pipeline->sinks->len; i++)
        atomic_store(&((sc_sink_runtime *)g_ptr_array_index(pipeline->sinks, i))->reopen_requested, 1);
    for (guint i = 0; i < pipeline->observers->len; i++)
        atomic_store(&((sc_observer_runtime *)g_ptr_array_index(pipeline->observers, i))->reopen_requested, 1);
}

void sc_pipeline_request_stop(sc_pipeline *pipeline)
{
    atomic_store(&pipeline->stopping, 1);
    for (guint i = 0; i < pipeline->sources->len; i++) sc_source_runtime_request_stop(g_ptr_array_index(pipeline->sources, i));
}

int sc_pipeline_finish(sc_pipeline *pipeline)
{
    int status = 0;
    sc_housekeeping_stop(pipeline->housekeeping);
    pipeline->housekeeping = NULL;
    for (guint i = 0; i < pipeline->sources->len; i++) {
        sc_source_runtime *source = g_ptr_array_index(pipeline->sources, i);
        if (source->thread) g_thread_join(source->thread);
        source->thread = NULL;
        if (atomic_load(&source->state) == SC_SOURCE_FAILED) status = 1;
    }
    for (guint i = 0; i < pipeline->strategies->len; i++) sc_strategy_runtime_join(g_ptr_array_index(pipeline->strategies, i));
    /* Every packet and segment has been offered: observers drain and stop. */
    for (guint i = 0; i < pipeline->observers->len; i++) sc_observer_runtime_close(g_ptr_array_index(pipeline->observers, i));
    /* Sets still waiting for members that will not come go out partial. */
    for (guint i = 0; i < pipeline->groups->len; i++) sc_sync_group_expire(g_ptr_array_index(pipeline->groups, i), true);
    /* File sinks hand their segments on to record sinks: close them first. */
    for (guint pass = 0; pass < 2; pass++)
        for (guint i = 0; i < pipeline->sinks->len; i++) {
            sc_sink_runtime *sink = g_ptr_array_index(pipeline->sinks, i);
            if (sink->produces_files == (pass == 0)) sc_sink_runtime_close(sink);
        }
    sc_worker_pool_stop(pipeline->workers);
    pipeline->workers = NULL;
    return status;
}

static void log_counters(sc_ctx *ctx)
{
    g_mutex_lock(&ctx->counters_lock);
    GList *keys = g_list_sort(g_hash_table_get_keys(ctx->counters), (GCompareFunc)(void *)g_strcmp0);
    GString *line = g_string_new(NULL);
    for (GList *key = keys; key; key = key->next)
        g_string_append_printf(line, "%s%s=%" G_GINT64_FORMAT, line->len ? " " : "", (char *)key->data,
                               *(int64_t *)g_hash_table_lookup(ctx->counters, key->data));
    g_list_free(keys);
    g_mutex_unlock(&ctx->counters_lock);
    if (line->len) sc_log(SC_LOG_INFO, ctx->name, "counters: %s", line->str);
    g_string_free(line, TRUE);
}

void sc_pipeline_log_stats(sc_pipeline *pipeline)
{
    /* The manager's view first: every stream together (the same totals
     * the control API serves). */
    sc_stats_totals totals;
    sc_stats_global_totals(pipeline, &totals);
    sc_log(SC_LOG_INFO, NULL,
           "global: streams=%" G_GUINT64_FORMAT " memory_usage_mb=%.2f segments_emitted=%" G_GUINT64_FORMAT
           " segments_rejected=%" G_GUINT64_FORMAT " segments_dropped=%" G_GUINT64_FORMAT " sync_sets=%" G_GUINT64_FORMAT,
           (guint64)totals.streams, (double)totals.memory_bytes / (1024.0 * 1024.0), (guint64)totals.segments_emitted,
           (guint64)totals.segments_rejected, (guint64)totals.segments_dropped, (guint64)totals.sync_sets);
    for (guint i = 0; i < pipeline->sources->len; i++) {
        sc_source_runtime *source = g_ptr_array_index(pipeline->sources, i);
        sc_buffer_stats stats;
        sc_buffer_get_stats(source->buffer, &stats);
        sc_log(SC_LOG_INFO, source->ctx->name,
               "buffer: packets_in=%" G_GUINT64_FORMAT " current_frames=%" G_GUINT64_FORMAT
               " memory_usage_mb=%.2f buffer_duration_seconds=%.3f keyframe_ratio=%.3f frames_dropped=%" G_GUINT64_FORMAT
               " evicted_retention=%" G_GUINT64_FORMAT " evicted_memory=%" G_GUINT64_FORMAT
               " evicted_items=%" G_GUINT64_FORMAT " evicted_host_memory=%" G_GUINT64_FORMAT
               " thinned=%" G_GUINT64_FORMAT " pinned_bytes=%" G_GUINT64_FORMAT " reader_missed=%" G_GUINT64_FORMAT,
               stats.packets_in, stats.current_frames, stats.memory_usage_mb, stats.buffer_duration_seconds,
               stats.keyframe_ratio, stats.frames_dropped, stats.evicted_retention, stats.evicted_memory,
               stats.evicted_items, stats.evicted_host_memory, stats.thinned, stats.pinned_bytes, stats.reader_missed);
        g_mutex_lock(&source->error_lock);
        sc_log(SC_LOG_INFO, source->ctx->name, "state=%s type=%s reconnects=%" G_GUINT64_FORMAT "%s%s%s",
               sc_source_state_name(atomic_load(&source->state)), source->type ? source->type : "unknown",
               (guint64)atomic_load(&source->reconnects), source->last_error ? " last_error=\"" : "",
               source->last_error ? source->last_error : "", source->last_error ? "\"" : "");
        g_mutex_unlock(&source->error_lock);
        sc_log(SC_LOG_INFO, source->ctx->name,
               "clock: format=%s ts_fixed=%" G_GUINT64_FORMAT " interpolated=%" G_GUINT64_FORMAT
               " outliers=%" G_GUINT64_FORMAT " wraps=%" G_GUINT64_FORMAT " discontinuities=%" G_GUINT64_FORMAT,
               sc_timestamp_format_name(source->clock.format), source->clock.stats.fixed,
               source->clock.stats.interpolated, source->clock.stats.outliers, source->clock.stats.wraps,
               source->clock.stats.discontinuities);
        sc_reference_stats reference;
        sc_reference_clock_get_stats(source->reference, &reference);
        sc_log(SC_LOG_INFO, source->ctx->name, "sync: drift_ppm=%.3f offset_ms=%.3f samples=%" G_GUINT64_FORMAT,
               reference.drift_ppm, reference.offset_ms, reference.samples);
        log_counters(source->ctx);
    }
    for (guint i = 0; i < pipeline->groups->len; i++) {
        sc_sync_group *group = g_ptr_array_index(pipeline->groups, i);
        sc_log(SC_LOG_INFO, group->ctx->name,
               "sets: complete=%" G_GUINT64_FORMAT " partial=%" G_GUINT64_FORMAT " late_members=%" G_GUINT64_FORMAT,
               (guint64)atomic_load(&group->sets_complete), (guint64)atomic_load(&group->sets_partial),
               (guint64)atomic_load(&group->late_members));
    }
    for (guint i = 0; i < pipeline->strategies->len; i++) {
        sc_strategy_runtime *strategy = g_ptr_array_index(pipeline->strategies, i);
        if (strategy->ctx->kind != SC_SECTION_STRATEGY) continue;
        sc_log(SC_LOG_INFO, strategy->ctx->name,
               "segments: emitted=%" G_GUINT64_FORMAT " rejected=%" G_GUINT64_FORMAT " empty=%" G_GUINT64_FORMAT,
               (guint64)atomic_load(&strategy->segments_emitted), (guint64)atomic_load(&strategy->segments_rejected),
               (guint64)atomic_load(&strategy->segments_empty));
        log_counters(strategy->ctx);
    }
    for (guint i = 0; i < pipeline->observers->len; i++) {
        sc_observer_runtime *observer = g_ptr_array_index(pipeline->observers, i);
        sc_log(SC_LOG_INFO, observer->ctx->name,
               "observed: packets=%" G_GUINT64_FORMAT " segments=%" G_GUINT64_FORMAT " dropped_packets=%" G_GUINT64_FORMAT
               " dropped_segments=%" G_GUINT64_FORMAT, (guint64)atomic_load(&observer->packets_seen),
               (guint64)atomic_load(&observer->segments_seen), (guint64)atomic_load(&observer->dropped_packets),
               (guint64)atomic_load(&observer->dropped_segments));
        log_counters(observer->ctx);
    }
    for (guint i = 0; i < pipeline->sinks->len; i++) {
        sc_sink_runtime *sink = g_ptr_array_index(pipeline->sinks, i);
        sc_log(SC_LOG_INFO, sink->ctx->name, "segments: consumed=%" G_GUINT64_FORMAT " failed=%" G_GUINT64_FORMAT
               " dropped_overflow=%" G_GUINT64_FORMAT, (guint64)atomic_load(&sink->consumed),
               (guint64)atomic_load(&sink->failed), (guint64)atomic_load(&sink->dropped_overflow));
        log_counters(sink->ctx);
    }
}
