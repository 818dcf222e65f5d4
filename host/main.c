/* streamcut: the command line. */
#include "build_config.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_paths.h"
#include "config.h"
#include "control_api.h"
#include "progress.h"
#include "detect.h"
#include "loader.h"
#include "new_module.h"
#include "log.h"
#include "pipeline.h"

#define EXIT_CONFIG 2

static void print_usage(FILE *out)
{
    fprintf(out,
            "Usage: streamcut [OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "Commands:\n"
            "  run PIPELINE.ini     run the pipeline until its sources end or SIGINT/SIGTERM\n"
            "  check PIPELINE.ini   validate the pipeline and print its graph\n"
            "  modules [NAME]       list the modules found, or one module's options\n"
            "  probe URL            the stream type of a URL and the module that reads it\n"
            "  new-module NAME KIND write folder NAME: a module skeleton of KIND (source,\n"
            "                       strategy, sink, observer) that builds with pkg-config\n"
            "\n"
            "Options:\n"
            "  -v, --verbose        more log output (repeat for debug)\n"
            "  -q, --quiet          errors only\n"
            "  --version            print the version and the module ABI\n"
            "  -h, --help           this help\n"
            "\n"
            "Modules are searched in [host] module_path, $STREAMCUT_MODULE_PATH, then the\n"
            "build tree (when run from it) or %s.\n"
            "Exit status: 0 success, 1 runtime failure, 2 invalid pipeline or usage.\n",
            SC_MODULE_INSTALL_DIR);
}

static void print_errors(GPtrArray *errors)
{
    for (guint i = 0; i < errors->len; i++) fprintf(stderr, "%s\n", (char *)g_ptr_array_index(errors, i));
}

static int command_check(const char *path)
{
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    print_errors(errors);
    g_ptr_array_free(errors, TRUE);
    if (!pipeline) return EXIT_CONFIG;
    sc_pipeline_print_graph(pipeline, stdout);
    sc_pipeline_free(pipeline);
    return 0;
}

/* Bounds the drain after a stop signal: a sink stuck on a dead server must
 * not keep a service manager waiting forever. */
typedef struct shutdown_watchdog {
    GMutex lock;
    GCond done_changed;
    bool done;
    gint64 deadline_us;
    int64_t timeout_ns;
    GThread *thread;
} shutdown_watchdog;

static gpointer watch_shutdown(gpointer data)
{
    shutdown_watchdog *watchdog = data;
    g_mutex_lock(&watchdog->lock);
    while (!watchdog->done)
        if (!g_cond_wait_until(&watchdog->done_changed, &watchdog->lock, watchdog->deadline_us)) break;
    bool done = watchdog->done;
    g_mutex_unlock(&watchdog->lock);
    if (!done) {
        sc_log(SC_LOG_ERROR, NULL, "shutdown_timeout (%.1f s) passed before the drain finished: exiting now",
               (double)watchdog->timeout_ns / 1e9);
        _exit(1);
    }
    return NULL;
}

static void watchdog_arm(shutdown_watchdog *watchdog)
{
    if (watchdog->thread) return;
    watchdog->deadline_us = g_get_monotonic_time() + watchdog->timeout_ns / 1000;
    watchdog->thread = g_thread_new("shutdown", watch_shutdown, watchdog);
}

static void watchdog_disarm(shutdown_watchdog *watchdog)
{
    if (!watchdog->thread) return;
    g_mutex_lock(&watchdog->lock);
    watchdog->done = true;
    g_cond_signal(&watchdog->done_changed);
    g_mutex_unlock(&watchdog->lock);
    g_thread_join(watchdog->thread);
    watchdog->thread = NULL;
}

static int wait_for_sources(sc_pipeline *pipeline, shutdown_watchdog *watchdog, sc_progress *progress)
{
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    bool stopping = false;
    while (!sc_pipeline_sources_done(pipeline)) {
        struct timespec tick = {0, 100 * 1000 * 1000};
        int signal_number = sigtimedwait(&signals, NULL, &tick);
        sc_progress_tick(progress);
        if (signal_number < 0) continue;
        if (signal_number == SIGHUP) {
            sc_log_reopen();
            sc_pipeline_request_reopen(pipeline);
            sc_log(SC_LOG_INFO, NULL, "SIGHUP: log file reopened; sinks reopen their files before their next write");
            continue;
        }
        if (stopping) {
            sc_log(SC_LOG_ERROR, NULL, "second %s: exiting without draining", strsignal(signal_number));
            _exit(130);
        }
        stopping = true;
        sc_log(SC_LOG_INFO, NULL, "%s: stopping sources, closing open segments, draining sinks",
               strsignal(signal_number));
        sc_pipeline_request_stop(pipeline);
        watchdog_arm(watchdog);
    }
    return 0;
}

static int command_run(const char *path)
{
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    if (!pipeline) {
        print_errors(errors);
        g_ptr_array_free(errors, TRUE);
        return EXIT_CONFIG;
    }
    char *log_error = NULL;
    if (!sc_log_configure(sc_pipeline_host_option(pipeline, "log_format")->text,
                          sc_pipeline_host_option(pipeline, "log_file")->text, &log_error)) {
        fprintf(stderr, "%s:%d: %s\n", path, sc_pipeline_host_option(pipeline, "log_file")->line, log_error);
        g_free(log_error);
        g_ptr_array_free(errors, TRUE);
        sc_pipeline_free(pipeline);
        return EXIT_CONFIG;
    }
    if (!sc_pipeline_create(pipeline, errors)) {
        print_errors(errors);
        g_ptr_array_free(errors, TRUE);
        sc_pipeline_free(pipeline);
        return EXIT_CONFIG;
    }
    /* Signals are taken by the main thread only: every worker inherits the
     * blocked mask and never sees them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        sc_log(SC_LOG_INFO, ctx->name, "%s %s %s (ABI %u.%u) from %s", sc_section_kind_name(ctx->kind),
               ctx->module->descriptor.name, ctx->module->descriptor.version, ctx->module->descriptor.abi_major,
               ctx->module->descriptor.abi_minor, ctx->module->path);
    }
    sc_control *control = sc_control_start(pipeline, path, errors);
    if (errors->len) {
        print_errors(errors);
        g_ptr_array_free(errors, TRUE);
        sc_pipeline_free(pipeline);
        return EXIT_CONFIG;
    }
    g_ptr_array_free(errors, TRUE);
    shutdown_watchdog watchdog = {.timeout_ns = sc_pipeline_host_option(pipeline, "shutdown_timeout")->as_int};
    g_mutex_init(&watchdog.lock);
    g_cond_init(&watchdog.done_changed);
    sc_pipeline_start(pipeline);
    sc_progress *progress = sc_progress_new(pipeline);
    wait_for_sources(pipeline, &watchdog, progress);
    int status = sc_pipeline_finish(pipeline);
    /* After the drain: the last line counts the segments the end closed. */
    sc_progress_finish(progress);
    watchdog_disarm(&watchdog);
    g_mutex_clear(&watchdog.lock);
    g_cond_clear(&watchdog.done_changed);
    /* After the drain: stats stay readable while sinks finish. */
    sc_control_stop(control);
    sc_pipeline_log_stats(pipeline);
    sc_pipeline_free(pipeline);
    sc_log_close();
    return status;
}

static void print_option(const sc_option_spec *spec)
{
    printf("  %-28s %-9s default: %s%s\n", spec->name, sc_option_type_name(spec->type),
           spec->default_value && *spec->default_value ? spec->default_value
                                                       : (spec->flags & SC_OPT_REQUIRED) ? "(required)" : "(none)",
           "");
    if (spec->type == SC_OPT_ENUM) printf("  %-28s choices: %s\n", "", spec->choices);
    if (spec->min < spec->max) printf("  %-28s range: %g .. %g\n", "", spec->min, spec->max);
    if (spec->help) printf("  %-28s %s\n", "", spec->help);
}

/* Sources, strategies, sinks; by name within each kind. */
static gint compare_modules(gconstpointer a, gconstpointer b)
{
    const sc_module *left = *(const sc_module *const *)a, *right = *(const sc_module *const *)b;
    if (left->descriptor.kind != right->descriptor.kind)
        return left->descriptor.kind < right->descriptor.kind ? -1 : 1;
    return strcmp(left->descriptor.name, right->descriptor.name);
}

static int command_modules(const char *name)
{
    sc_loader *loader = sc_loader_new(NULL);
    int status = 0;
    if (name) {
        char *error = NULL;
        sc_module *module = sc_loader_find(loader, name, &error);
        if (!module) {
            fprintf(stderr, "streamcut: %s\n", error);
            g_free(error);
            sc_loader_free(loader);
            return EXIT_CONFIG;
        }
        const sc_module_descriptor *d = &module->descriptor;
        printf("%s %s (%s module, ABI %u.%u)\n%s\n%s\n\n", d->name, d->version, sc_module_kind_name(d->kind),
               d->abi_major, d->abi_minor, d->description, module->path);
        sc_section_kind kind = d->kind == SC_MODULE_SOURCE ? SC_SECTION_SOURCE
                             : d->kind == SC_MODULE_STRATEGY ? SC_SECTION_STRATEGY
                             : d->kind == SC_MODULE_OBSERVER ? SC_SECTION_OBSERVER : SC_SECTION_SINK;
        printf("Options:\n");
        if (module->option_count == 0) printf("  (none)\n");
        for (size_t i = 0; i < module->option_count; i++) print_option(&module->options[i]);
        printf("\nKeys every [%s NAME] section takes:\n", sc_section_kind_name(kind));
        for (const sc_option_spec *spec = sc_host_keys(kind); spec->name; spec++) print_option(spec);
    } else {
        GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
        GPtrArray *modules = sc_loader_find_all(loader, errors);
        g_ptr_array_sort(modules, compare_modules);
        for (guint i = 0; i < modules->len; i++) {
            const sc_module *module = g_ptr_array_index(modules, i);
            const sc_module_descriptor *d = &module->descriptor;
            printf("%-12s %-9s %-8s ABI %u.%u  %s\n%-12s %s\n", d->name, sc_module_kind_name(d->kind), d->version,
                   d->abi_major, d->abi_minor, d->description, "", module->path);
        }
        for (guint i = 0; i < errors->len; i++) fprintf(stderr, "streamcut: %s\n", (char *)errors->pdata[i]);
        if (errors->len) status = 1;
        g_ptr_array_free(modules, TRUE);
        g_ptr_array_free(errors, TRUE);
    }
    sc_loader_free(loader);
    return status;
}

static int command_probe(const char *url)
{
    sc_stream_kind kind = sc_detect_stream_kind(url);
    printf("type: %s\nmodule: %s\n", kind.type, kind.module);
    if (kind.needs_resolver)
        printf("resolver: required (a page, not a stream), e.g. resolver = %s\n",
               strcmp(kind.type, "TWITCH_HLS") == 0 ? "streamlink --stream-url {url} best" : "yt-dlp -g {url}");
    return 0;
}

int main(int argc, char **argv)
{
    sc_log_init();
    int verbosity = SC_LOG_INFO;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        const char *arg = argv[first];
        if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) verbosity++;
        else if (strcmp(arg, "-vv") == 0) verbosity += 2;
        else if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0) verbosity = SC_LOG_ERROR;
        else if (strcmp(arg, "--version") == 0) {
            printf("streamcut %s (module ABI %d.%d)\n", PACKAGE_VERSION, SC_ABI_MAJOR, SC_ABI_MINOR);
            return 0;
        } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "streamcut: unknown option '%s'\n", arg);
            print_usage(stderr);
            return EXIT_CONFIG;
        }
    }
    sc_log_set_level(verbosity > SC_LOG_DEBUG ? SC_LOG_DEBUG : verbosity);
    if (first >= argc) {
        print_usage(stderr);
        return EXIT_CONFIG;
    }
    const char *command = argv[first];
    int remaining = argc - first - 1;
    if (strcmp(command, "run") == 0 && remaining == 1) return command_run(argv[first + 1]);
    if (strcmp(command, "check") == 0 && remaining == 1) return command_check(argv[first + 1]);
    if (strcmp(command, "modules") == 0 && remaining <= 1) return command_modules(remaining ? argv[first + 1] : NULL);
    if (strcmp(command, "probe") == 0 && remaining == 1) return command_probe(argv[first + 1]);
    if (strcmp(command, "new-module") == 0 && remaining == 2) return sc_new_module(argv[first + 1], argv[first + 2]);
    fprintf(stderr, "streamcut: bad command line\n");
    print_usage(stderr);
    return EXIT_CONFIG;
}
