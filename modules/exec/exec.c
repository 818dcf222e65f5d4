/* exec: a record sink that runs a command for every segment.
 *
 * The command line is a template (command_template.h) expanded into an
 * argv and started with posix_spawn: no shell ever reads a value, so a
 * label or a stream name arrives as one literal argument. The same values
 * are in STREAMCUT_* environment variables and the segment's JSON record
 * goes to the command's standard input.
 *
 * consume() starts the command and returns; a supervisor thread feeds its
 * stdin, collects the tails of its stdout and stderr, enforces the timeout
 * on its whole process group and reaps it the moment it exits. Up to
 * max_concurrent commands run at once; consume() waits for a free slot, so
 * back-pressure lands on the host's bounded queue.
 */
#include "command_template.h"

#include "../common/segment_record.h"

#include <streamcut/streamcut.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Without pidfds (kernels before 5.3) exits are noticed by polling this often. */
#define EXIT_CHECK_INTERVAL_NS (20 * SC_NSEC_PER_MSEC)
/* A failure's log shows at most this much of the end of its stderr. */
#define LOGGED_TAIL_LINES 10
#define LOGGED_TAIL_BYTES 2048
/* Output read per stream per wake-up, so one chatty command cannot starve
 * the others' deadlines. */
#define READ_CHUNK 16384
#define ENVIRONMENT_PREFIX "STREAMCUT_"

/* The last `capacity` bytes a stream produced; `total` counts them all. */
typedef struct output_tail {
    char *data;
    size_t capacity;
    size_t start;
    size_t length;
    uint64_t total;
} output_tail;

enum slot_state { SLOT_FREE, SLOT_STARTING, SLOT_RUNNING };

/* One running command. Only the supervisor touches a RUNNING slot's
 * fields; consume() fills a slot it reserved (STARTING). */
typedef struct child_run {
    enum slot_state state;
    pid_t pid;
    int pidfd;                  /* -1 when the kernel has none */
    int stdin_fd, stdout_fd, stderr_fd;   /* our ends; -1 once closed */
    char *input;                /* the JSON record and a newline */
    size_t input_length;
    size_t input_written;
    output_tail output;
    output_tail errors;
    int64_t started_ns;
    int64_t deadline_ns;
    int64_t kill_at_ns;
    int terminated;             /* SIGTERM sent to the group at the deadline */
    int killed;                 /* SIGKILL sent */
    int abandoned;              /* killed because the sink is destroyed early */
    char name[128];             /* "strategy#index", for the log */
} child_run;

/* What a poll entry of the supervisor watches. */
enum watch_kind { WATCH_WAKE, WATCH_INPUT, WATCH_OUTPUT, WATCH_ERRORS, WATCH_EXIT };

typedef struct watch {
    child_run *run;
    enum watch_kind kind;
} watch;

typedef struct exec_sink {
    const sc_host_api *host;
    sc_ctx *ctx;
    record_source from;
    command_template *command;
    char *program_path;         /* absolute, resolved at create */
    int send_json;
    int64_t timeout_ns;
    int64_t kill_grace_ns;
    size_t max_output;
    int max_concurrent;
    child_run *runs;            /* max_concurrent slots */
    struct pollfd *poll_fds;    /* 1 + 4 per slot, the supervisor's */
    watch *poll_watches;        /* what each poll_fds entry is */

    pthread_mutex_t lock;
    pthread_cond_t slot_freed;
    int busy;                   /* slots not FREE */
    int quitting;               /* supervisor: leave once no command runs */
    int killing;                /* supervisor: kill every command now */
    int wake_pipe[2];
    pthread_t supervisor;
    int supervisor_running;
    int synchronization_ready;
} exec_sink;

static const sc_option_spec exec_options[] = {
    {
        .name = "command",
        .type = SC_OPT_STRING,
        .flags = SC_OPT_REQUIRED,
        .help = "program and arguments run per segment, never through a shell, e.g. /usr/local/bin/upload {file} "
                "--start {start}; '...' or \"...\" keep spaces in one argument; placeholders {file} {json} "
                "{source} {strategy} {index} {start} {end} {duration} {start_utc} {end_utc} {label} {type} "
                "(also in STREAMCUT_FILE, STREAMCUT_SOURCE, ... environment variables), {{ }} for braces; "
                "a program without / is looked up in PATH, one with / is taken from the working directory",
    },
    {
        .name = "stdin",
        .type = SC_OPT_ENUM,
        .default_value = "json",
        .choices = "json|none",
        .help = "json: the segment's JSON record and a newline on standard input (a command may leave it "
                "unread); none: /dev/null",
    },
    {
        .name = "timeout",
        .type = SC_OPT_DURATION,
        .default_value = "60s",
        .min = 0.001,
        .max = 86400,
        .help = "longest a command may run; then its whole process group gets SIGTERM, and SIGKILL "
                "kill_grace later (counted in timeouts and failures)",
    },
    {
        .name = "kill_grace",
        .type = SC_OPT_DURATION,
        .default_value = "2s",
        .min = 0,
        .max = 60,
        .help = "time between SIGTERM and SIGKILL after a timeout",
    },
    {
        .name = "max_concurrent",
        .type = SC_OPT_INT,
        .default_value = "1",
        .min = 1,
        .max = 64,
        .help = "commands running at once; the next segment waits for a free slot (in the sink's queue)",
    },
    {
        .name = "max_output",
        .type = SC_OPT_SIZE,
        .default_value = "64k",
        .min = 0,
        .max = 16 * 1024 * 1024,
        .help = "bytes of stdout and of stderr kept per command (the last ones; the rest is discarded "
                "and counted); a failure logs the end of stderr",
    },
    {
        .name = "allow_root",
        .type = SC_OPT_BOOL,
        .default_value = "false",
        .help = "run commands even when streamcut runs as root (refused otherwise)",
    },
    { .name = NULL },
};

/* ---- output tails ---- */

static void tail_append(output_tail *tail, const char *bytes, size_t count)
{
    tail->total += count;
    if (tail->capacity == 0)
        return;
    if (count >= tail->capacity) {
        memcpy(tail->data, bytes + count - tail->capacity, tail->capacity);
        tail->start = 0;
        tail->length = tail->capacity;
        return;
    }
    size_t end = (tail->start + tail->length) % tail->capacity;
    size_t first = count < tail->capacity - end ? count : tail->capacity - end;
    memcpy(tail->data + end, bytes, first);
    memcpy(tail->data, bytes + first, count - first);
    tail->length += count;
    if (tail->length > tail->capacity) {
        tail->start = (tail->start + tail->length - tail->capacity) % tail->capacity;
        tail->length = tail->capacity;
    }
}

/* The kept bytes in order, NUL-terminated, in `out` (length + 1 bytes). */
static void tail_copy(const output_tail *tail, char *out)
{
    size_t first = tail->length < tail->capacity - tail->start ? tail->length : tail->capacity - tail->start;
    if (tail->length > 0) {
        memcpy(out, tail->data + tail->start, first);
        memcpy(out + first, tail->data, tail->length - first);
    }
    out[tail->length] = '\0';
}

static void tail_reset(output_tail *tail)
{
    tail->start = 0;
    tail->length = 0;
    tail->total = 0;
}

/* Logs the last lines of a stream, one log line each, control characters
 * shown as '?' (the text comes from an arbitrary program). */
static void log_tail(exec_sink *sink, int level, const child_run *run, const char *stream, const output_tail *tail)
{
    if (tail->length == 0)
        return;
    char text[LOGGED_TAIL_BYTES + 1];
    char *all = malloc(tail->length + 1);
    if (all == NULL)
        return;
    tail_copy(tail, all);
    size_t keep = tail->length < LOGGED_TAIL_BYTES ? tail->length : LOGGED_TAIL_BYTES;
    memcpy(text, all + tail->length - keep, keep + 1);
    free(all);
    int cut = keep < tail->total;
    while (keep > 0 && (text[keep - 1] == '\n' || text[keep - 1] == '\r'))
        text[--keep] = '\0';
    char *lines[LOGGED_TAIL_LINES];
    size_t line_count = 0;
    for (char *line_end = text + keep;;) {
        char *line_start = line_end;
        while (line_start > text && line_start[-1] != '\n')
            line_start--;
        if (line_count == LOGGED_TAIL_LINES) {
            cut = 1;
            break;
        }
        lines[line_count++] = line_start;
        if (line_start == text)
            break;
        line_start[-1] = '\0';
        line_end = line_start - 1;
    }
    for (size_t i = line_count; i-- > 0;) {
        for (unsigned char *c = (unsigned char *)lines[i]; *c != '\0'; c++)
            if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
                *c = '?';
        sink->host->log(sink->ctx, level, "%s %s: %s%s", run->name, stream,
                        cut && i == line_count - 1 ? "..." : "", lines[i]);
    }
}

/* ---- the supervisor ---- */

static void wake_supervisor(exec_sink *sink)
{
    char byte = 1;
    while (write(sink->wake_pipe[1], &byte, 1) < 0 && errno == EINTR) {
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* A write to a pipe whose reader left raises SIGPIPE on this thread; where
 * the host does not ignore it, it is blocked here and taken back, so a
 * command that never reads its stdin costs nothing but EPIPE. */
static void discard_pending_sigpipe(void)
{
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    struct timespec now = { 0, 0 };
    while (sigtimedwait(&pipe_signal, NULL, &now) == SIGPIPE) {
    }
}

static void feed_input(child_run *run)
{
    while (run->input_written < run->input_length) {
        ssize_t written = write(run->stdin_fd, run->input + run->input_written, run->input_length - run->input_written);
        if (written > 0) {
            run->input_written += (size_t)written;
            continue;
        }
        if (written < 0 && errno == EINTR)
            continue;
        if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (written < 0 && errno == EPIPE)
            discard_pending_sigpipe();
        break;   /* the command closed its stdin: it did not want the record */
    }
    close_fd(&run->stdin_fd);
}

/* Reads what is there (up to READ_CHUNK, all of it when `drain`). */
static void collect_output(int *fd, output_tail *tail, int drain)
{
    char chunk[4096];
    size_t taken = 0;
    while (*fd >= 0 && (drain || taken < READ_CHUNK)) {
        ssize_t got = read(*fd, chunk, sizeof(chunk));
        if (got > 0) {
            tail_append(tail, chunk, (size_t)got);
            taken += (size_t)got;
        } else if (got < 0 && errno == EINTR) {
            continue;
        } else if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            close_fd(fd);
        }
    }
}

static void release_slot(exec_sink *sink, child_run *run)
{
    free(run->input);
    run->input = NULL;
    tail_reset(&run->output);
    tail_reset(&run->errors);
    pthread_mutex_lock(&sink->lock);
    run->state = SLOT_FREE;
    sink->busy--;
    pthread_cond_broadcast(&sink->slot_freed);
    pthread_mutex_unlock(&sink->lock);
}

static void count_truncated_output(exec_sink *sink, const child_run *run)
{
    uint64_t discarded = 0;
    if (run->output.total > run->output.capacity)
        discarded += run->output.total - run->output.capacity;
    if (run->errors.total > run->errors.capacity)
        discarded += run->errors.total - run->errors.capacity;
    if (discarded == 0)
        return;
    sink->host->counter_add(sink->ctx, "output_truncated", 1);
    sink->host->counter_add(sink->ctx, "output_discarded_bytes", (int64_t)discarded);
}

/* The command's leader has exited (still unreaped): gather its last
 * output, clean up its group after a timeout, reap it and report. */
static void finish_run(exec_sink *sink, child_run *run, int status_known)
{
    /* What the command wrote before exiting is in the pipes now; a
     * descendant still holding them open does not keep us waiting. */
    collect_output(&run->stdout_fd, &run->output, 1);
    collect_output(&run->stderr_fd, &run->errors, 1);
    close_fd(&run->stdout_fd);
    close_fd(&run->stderr_fd);
    close_fd(&run->stdin_fd);
    /* The unreaped leader keeps its group's id ours: what it left behind
     * after a timeout dies with it. */
    if (run->terminated || run->abandoned)
        kill(-run->pid, SIGKILL);
    int status = 0;
    if (status_known) {
        while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    close_fd(&run->pidfd);
    if (run->input_written < run->input_length)
        sink->host->log(sink->ctx, SC_LOG_DEBUG, "%s: %zu of the %zu bytes of its stdin were not read", run->name,
                        run->input_length - run->input_written, run->input_length);
    double seconds = (double)(sink->host->monotonic_ns() - run->started_ns) / 1e9;
    count_truncated_output(sink, run);

    int failed = 1;
    if (run->abandoned) {
        sink->host->log(sink->ctx, SC_LOG_WARNING, "%s: killed after %.3f s: the sink was shut down without waiting",
                        run->name, seconds);
    } else if (run->terminated) {
        sink->host->counter_add(sink->ctx, "timeouts", 1);
        sink->host->log(sink->ctx, SC_LOG_WARNING, "%s: timed out after %.3f s; process group killed (%s)",
                        run->name, (double)sink->timeout_ns / 1e9, run->killed ? "SIGTERM, then SIGKILL" : "SIGTERM");
    } else if (!status_known) {
        sink->host->log(sink->ctx, SC_LOG_WARNING, "%s: exit status lost (reaped elsewhere in the process)",
                        run->name);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        failed = 0;
        sink->host->log(sink->ctx, SC_LOG_DEBUG, "%s: done in %.3f s", run->name, seconds);
        log_tail(sink, SC_LOG_DEBUG, run, "stdout", &run->output);
    } else if (WIFEXITED(status)) {
        sink->host->log(sink->ctx, SC_LOG_WARNING, "%s: exit status %d after %.3f s", run->name,
                        WEXITSTATUS(status), seconds);
    } else {
        int signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        sink->host->log(sink->ctx, SC_LOG_WARNING, "%s: killed by signal %d (%s) after %.3f s", run->name,
                        signal_number, strsignal(signal_number), seconds);
    }
    if (failed) {
        sink->host->counter_add(sink->ctx, "failures", 1);
        log_tail(sink, SC_LOG_WARNING, run, "stderr", &run->errors);
    }
    release_slot(sink, run);
}

/* Deadline handling for one command; returns when it next needs attention
 * (INT64_MAX: only when it exits). */
static int64_t enforce_deadline(exec_sink *sink, child_run *run, int64_t now, int killing)
{
    if (killing && !run->abandoned) {
        kill(-run->pid, SIGKILL);
        run->abandoned = run->killed = 1;
    }
    if (!run->terminated && !run->killed && now >= run->deadline_ns) {
        kill(-run->pid, SIGTERM);
        run->terminated = 1;
        run->kill_at_ns = now + sink->kill_grace_ns;
    }
    if (run->terminated && !run->killed && now >= run->kill_at_ns) {
        kill(-run->pid, SIGKILL);
        run->killed = 1;
    }
    int64_t next = run->killed ? INT64_MAX : !run->terminated ? run->deadline_ns : run->kill_at_ns;
    if (run->pidfd < 0 && next > now + EXIT_CHECK_INTERVAL_NS)
        next = now + EXIT_CHECK_INTERVAL_NS;
    return next;
}

static void add_poll(exec_sink *sink, size_t *count, child_run *run, enum watch_kind kind, int fd, short events)
{
    if (fd < 0)
        return;
    sink->poll_fds[*count] = (struct pollfd){ .fd = fd, .events = events };
    sink->poll_watches[*count] = (watch){ .run = run, .kind = kind };
    (*count)++;
}

/* Whether the leader exited, without reaping it; *status_known is 0 when
 * it was reaped behind our back (a SIGCHLD set to SIG_IGN). */
static int leader_exited(const child_run *run, int *status_known)
{
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    *status_known = 1;
    if (waitid(P_PID, (id_t)run->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == EINTR)
            return 0;
        *status_known = 0;
        return 1;
    }
    return info.si_pid == run->pid;
}

static void *supervise(void *arg)
{
    exec_sink *sink = arg;
    child_run *running[64];
    for (;;) {
        pthread_mutex_lock(&sink->lock);
        if (sink->quitting && sink->busy == 0) {
            pthread_mutex_unlock(&sink->lock);
            break;
        }
        int killing = sink->killing;
        size_t running_count = 0;
        for (int i = 0; i < sink->max_concurrent; i++)
            if (sink->runs[i].state == SLOT_RUNNING)
                running[running_count++] = &sink->runs[i];
        pthread_mutex_unlock(&sink->lock);

        int64_t now = sink->host->monotonic_ns();
        int64_t next = INT64_MAX;
        size_t fd_count = 0;
        add_poll(sink, &fd_count, NULL, WATCH_WAKE, sink->wake_pipe[0], POLLIN);
        for (size_t i = 0; i < running_count; i++) {
            child_run *run = running[i];
            int64_t attention = enforce_deadline(sink, run, now, killing);
            if (attention < next)
                next = attention;
            add_poll(sink, &fd_count, run, WATCH_INPUT, run->stdin_fd, POLLOUT);
            add_poll(sink, &fd_count, run, WATCH_OUTPUT, run->stdout_fd, POLLIN);
            add_poll(sink, &fd_count, run, WATCH_ERRORS, run->stderr_fd, POLLIN);
            add_poll(sink, &fd_count, run, WATCH_EXIT, run->pidfd, POLLIN);
        }
        int timeout_ms = -1;
        if (next != INT64_MAX) {
            int64_t wait_ns = next > now ? next - now : 0;
            int64_t wait_ms = (wait_ns + SC_NSEC_PER_MSEC - 1) / SC_NSEC_PER_MSEC;
            timeout_ms = wait_ms > 60000 ? 60000 : (int)wait_ms;
        }
        if (poll(sink->poll_fds, fd_count, timeout_ms) < 0 && errno != EINTR)
            continue;

        for (size_t i = 0; i < fd_count; i++) {
            if (sink->poll_fds[i].revents == 0)
                continue;
            child_run *run = sink->poll_watches[i].run;
            switch (sink->poll_watches[i].kind) {
            case WATCH_WAKE: {
                char drained[64];
                while (read(sink->wake_pipe[0], drained, sizeof(drained)) > 0) {
                }
                break;
            }
            case WATCH_INPUT: feed_input(run); break;
            case WATCH_OUTPUT: collect_output(&run->stdout_fd, &run->output, 0); break;
            case WATCH_ERRORS: collect_output(&run->stderr_fd, &run->errors, 0); break;
            case WATCH_EXIT: break;   /* leader_exited below tells */
            }
        }
        for (size_t i = 0; i < running_count; i++) {
            int status_known;
            if (leader_exited(running[i], &status_known))
                finish_run(sink, running[i], status_known);
        }
    }
    return NULL;
}

/* ---- starting a command ---- */

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Starts argv in its own process group with pipes for stdin (when the
 * record is sent), stdout and stderr. Returns 0 or an errno value. */
static int spawn_command(exec_sink *sink, child_run *run, char **argv, char **envp)
{
    int input[2] = { -1, -1 }, output[2] = { -1, -1 }, errors[2] = { -1, -1 };
    int error = 0;
    if ((sink->send_json && pipe2(input, O_CLOEXEC) != 0) || pipe2(output, O_CLOEXEC) != 0 ||
        pipe2(errors, O_CLOEXEC) != 0)
        error = errno;
    if (error == 0 && ((input[1] >= 0 && set_nonblocking(input[1]) != 0) || set_nonblocking(output[0]) != 0 ||
                       set_nonblocking(errors[0]) != 0))
        error = errno;
    if (error != 0) {
        close_fd(&input[0]), close_fd(&input[1]);
        close_fd(&output[0]), close_fd(&output[1]);
        close_fd(&errors[0]), close_fd(&errors[1]);
        return error;
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (input[0] >= 0)
        posix_spawn_file_actions_adddup2(&actions, input[0], STDIN_FILENO);
    else
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, output[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, errors[1], STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* Descriptors someone opened without O_CLOEXEC are not the command's. */
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
#endif
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    /* A group of its own, so a timeout reaches everything it started. */
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attributes, 0);
    sigset_t signals;
    sigemptyset(&signals);
    posix_spawnattr_setsigmask(&attributes, &signals);
    /* The host ignores SIGPIPE and an ignored signal survives exec. */
    static const int reset_signals[] = { SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM };
    for (size_t i = 0; i < sizeof(reset_signals) / sizeof(reset_signals[0]); i++)
        sigaddset(&signals, reset_signals[i]);
    posix_spawnattr_setsigdefault(&attributes, &signals);

    error = posix_spawn(&run->pid, sink->program_path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    close_fd(&input[0]);
    close_fd(&output[1]);
    close_fd(&errors[1]);
    if (error != 0) {
        close_fd(&input[1]);
        close_fd(&output[0]);
        close_fd(&errors[0]);
        return error;
    }
    run->stdin_fd = input[1];
    run->stdout_fd = output[0];
    run->stderr_fd = errors[0];
#ifdef SYS_pidfd_open
    run->pidfd = (int)syscall(SYS_pidfd_open, run->pid, 0);
#else
    run->pidfd = -1;
#endif
    if (run->pidfd < 0)
        run->pidfd = -1;
    return 0;
}

/* Waits for a free slot and reserves it. */
static child_run *reserve_slot(exec_sink *sink)
{
    pthread_mutex_lock(&sink->lock);
    while (sink->busy >= sink->max_concurrent)
        pthread_cond_wait(&sink->slot_freed, &sink->lock);
    child_run *run = NULL;
    for (int i = 0; i < sink->max_concurrent && run == NULL; i++)
        if (sink->runs[i].state == SLOT_FREE)
            run = &sink->runs[i];
    run->state = SLOT_STARTING;
    sink->busy++;
    pthread_mutex_unlock(&sink->lock);
    return run;
}

/* ---- per-segment values ---- */

/* The segment's attribute `key` (a clip path), or NULL. */
static char *segment_attribute(exec_sink *sink, const sc_segment *segment, const char *key)
{
    if (!SC_HOST_HAS(sink->host, segment_get_attr))
        return NULL;
    char probe[1];
    int length = sink->host->segment_get_attr(sink->ctx, segment, key, probe, sizeof(probe));
    if (length < 0)
        return NULL;
    char *value = malloc((size_t)length + 1);
    if (value != NULL && sink->host->segment_get_attr(sink->ctx, segment, key, value, (size_t)length + 1) < 0) {
        free(value);
        return NULL;
    }
    if (value != NULL)
        value[length] = '\0';
    return value;
}

/* Everything a placeholder or variable can stand for, as text. */
typedef struct segment_values {
    const char *values[FIELD_COUNT];
    char *file;
    text_buffer record;
    text_buffer times[5];   /* start, end, duration, start_utc, end_utc */
    char index[24];
} segment_values;

static void append_seconds_or_empty(text_buffer *buf, int64_t ns)
{
    if (ns != SC_TIME_NONE)
        text_buffer_append_seconds(buf, ns);
    text_buffer_append(buf, "", 0);
}

/* The record's own UTC format, without its JSON quotes; "" when unknown. */
static void append_utc_or_empty(text_buffer *buf, int64_t ns)
{
    text_buffer quoted = { 0 };
    text_buffer_append_utc(&quoted, ns);
    if (!quoted.failed && quoted.length >= 2 && quoted.data[0] == '"')
        text_buffer_append(buf, quoted.data + 1, quoted.length - 2);
    text_buffer_append(buf, "", 0);
    if (quoted.failed)
        buf->failed = 1;
    text_buffer_free(&quoted);
}

static int has_segment_field(const sc_segment *segment, size_t offset, size_t size)
{
    return segment->struct_size >= offset + size;
}

/* Returns 0, or -1 when out of memory. */
static int gather_values(exec_sink *sink, const sc_segment *segment, segment_values *out)
{
    memset(out, 0, sizeof(*out));
    out->file = segment_attribute(sink, segment, "file");
    if (sink->send_json || command_template_uses(sink->command, FIELD_JSON))
        segment_record_append(&sink->from, &out->record, segment);
    text_buffer_append(&out->record, "", 0);
    int64_t duration = SC_TIME_NONE;
    if (segment->start != SC_TIME_NONE && segment->end != SC_TIME_NONE &&
        __builtin_sub_overflow(segment->end, segment->start, &duration))
        duration = SC_TIME_NONE;
    int has_utc = has_segment_field(segment, offsetof(sc_segment, end_utc), sizeof(segment->end_utc));
    append_seconds_or_empty(&out->times[0], segment->start);
    append_seconds_or_empty(&out->times[1], segment->end);
    append_seconds_or_empty(&out->times[2], duration);
    append_utc_or_empty(&out->times[3], has_utc ? segment->start_utc : SC_TIME_NONE);
    append_utc_or_empty(&out->times[4], has_utc ? segment->end_utc : SC_TIME_NONE);
    snprintf(out->index, sizeof(out->index), "%" PRIu64, segment->index);
    int failed = out->record.failed;
    for (size_t i = 0; i < 5; i++)
        failed |= out->times[i].failed;

    const char *type = NULL;
    if (has_segment_field(segment, offsetof(sc_segment, source_type), sizeof(segment->source_type)))
        type = segment->source_type;
    out->values[FIELD_FILE] = out->file;
    out->values[FIELD_JSON] = out->record.data;
    out->values[FIELD_SOURCE] = segment->source;
    out->values[FIELD_STRATEGY] = segment->strategy;
    out->values[FIELD_INDEX] = out->index;
    out->values[FIELD_START] = out->times[0].data;
    out->values[FIELD_END] = out->times[1].data;
    out->values[FIELD_DURATION] = out->times[2].data;
    out->values[FIELD_START_UTC] = out->times[3].data;
    out->values[FIELD_END_UTC] = out->times[4].data;
    out->values[FIELD_LABEL] = segment->label;
    out->values[FIELD_TYPE] = type;
    return failed ? -1 : 0;
}

static void free_values(segment_values *values)
{
    free(values->file);
    text_buffer_free(&values->record);
    for (size_t i = 0; i < 5; i++)
        text_buffer_free(&values->times[i]);
}

/* "STREAMCUT_START" for FIELD_START. */
static void variable_name(enum command_field field, char *out, size_t length)
{
    int written = snprintf(out, length, ENVIRONMENT_PREFIX "%s", command_field_name(field));
    for (int i = (int)strlen(ENVIRONMENT_PREFIX); i < written && (size_t)i < length; i++)
        if (out[i] >= 'a' && out[i] <= 'z')
            out[i] = (char)(out[i] - 'a' + 'A');
}

static int is_exported(enum command_field field)
{
    return field != FIELD_JSON;
}

static int names_variable(const char *entry, const char *name)
{
    size_t length = strlen(name);
    return strncmp(entry, name, length) == 0 && entry[length] == '=';
}

/* The host's environment with our variables set (replacing inherited ones
 * of the same names); NULL when out of memory. Free with command_argv_free. */
static char **build_environment(exec_sink *sink, const segment_values *values)
{
    size_t inherited = 0;
    while (environ != NULL && environ[inherited] != NULL)
        inherited++;
    char **envp = calloc(inherited + FIELD_COUNT + 2, sizeof(*envp));
    if (envp == NULL)
        return NULL;
    size_t count = 0;
    char name[64];
    int failed = 0;
    for (size_t i = 0; i < inherited && !failed; i++) {
        int ours = names_variable(environ[i], ENVIRONMENT_PREFIX "SINK");
        for (int field = 0; field < FIELD_COUNT && !ours; field++) {
            variable_name(field, name, sizeof(name));
            ours = is_exported(field) && names_variable(environ[i], name);
        }
        if (ours)
            continue;
        envp[count] = strdup(environ[i]);
        failed = envp[count++] == NULL;
    }
    for (int field = -1; field < FIELD_COUNT && !failed; field++) {
        text_buffer entry = { 0 };
        if (field < 0) {
            text_buffer_append_format(&entry, ENVIRONMENT_PREFIX "SINK=%s", sink->host->instance_name(sink->ctx));
        } else if (is_exported(field)) {
            variable_name(field, name, sizeof(name));
            text_buffer_append_format(&entry, "%s=", name);
            text_buffer_append_text(&entry, values->values[field] != NULL ? values->values[field] : "");
        } else {
            continue;
        }
        failed = entry.failed;
        if (failed)
            text_buffer_free(&entry);
        envp[count++] = entry.data;
    }
    if (failed) {
        command_argv_free(envp);
        return NULL;
    }
    return envp;
}

static int exec_consume(void *instance, const sc_segment *segment)
{
    exec_sink *sink = instance;
    segment_values values;
    char **argv = NULL, **envp = NULL;
    char *input = NULL;
    size_t input_length = 0;
    int failed = gather_values(sink, segment, &values) != 0;
    if (!failed) {
        argv = command_template_expand(sink->command, values.values);
        envp = build_environment(sink, &values);
        if (sink->send_json) {
            input_length = values.record.length + 1;
            input = malloc(input_length);
            if (input != NULL) {
                memcpy(input, values.record.data, values.record.length);
                input[input_length - 1] = '\n';
            }
        }
        failed = argv == NULL || envp == NULL || (sink->send_json && input == NULL);
    }
    if (failed) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "out of memory preparing the command for %s#%" PRIu64,
                        segment->strategy, segment->index);
        sink->host->counter_add(sink->ctx, "failures", 1);
        free(input);
        command_argv_free(argv);
        command_argv_free(envp);
        free_values(&values);
        return SC_ERR_NOMEM;
    }

    child_run *run = reserve_slot(sink);
    snprintf(run->name, sizeof(run->name), "%s#%" PRIu64, segment->strategy, segment->index);
    run->input = input;
    run->input_length = input_length;
    run->input_written = 0;
    run->terminated = run->killed = run->abandoned = 0;
    run->started_ns = sink->host->monotonic_ns();
    run->deadline_ns = run->started_ns + sink->timeout_ns;
    int error = spawn_command(sink, run, argv, envp);
    command_argv_free(argv);
    command_argv_free(envp);
    free_values(&values);
    if (error != 0) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "%s: cannot start %s: %s", run->name, sink->program_path,
                        strerror(error));
        sink->host->counter_add(sink->ctx, "failures", 1);
        release_slot(sink, run);
        return SC_ERR_IO;
    }
    sink->host->counter_add(sink->ctx, "runs", 1);
    pthread_mutex_lock(&sink->lock);
    run->state = SLOT_RUNNING;
    pthread_mutex_unlock(&sink->lock);
    wake_supervisor(sink);
    return SC_OK;
}

/* ---- lifecycle ---- */

/* Makes the supervisor leave once no command runs (`kill`: after killing
 * them all) and joins it. */
static void stop_supervisor(exec_sink *sink, int kill_all)
{
    if (!sink->supervisor_running)
        return;
    pthread_mutex_lock(&sink->lock);
    sink->quitting = 1;
    sink->killing |= kill_all;
    pthread_mutex_unlock(&sink->lock);
    wake_supervisor(sink);
    pthread_join(sink->supervisor, NULL);
    sink->supervisor_running = 0;
}

/* Every command started has finished (each within its timeout). */
static void exec_stop(void *instance)
{
    exec_sink *sink = instance;
    pthread_mutex_lock(&sink->lock);
    while (sink->busy > 0)
        pthread_cond_wait(&sink->slot_freed, &sink->lock);
    pthread_mutex_unlock(&sink->lock);
    stop_supervisor(sink, 0);
}

static void exec_destroy(void *instance)
{
    exec_sink *sink = instance;
    if (sink == NULL)
        return;
    stop_supervisor(sink, 1);
    if (sink->synchronization_ready) {
        pthread_cond_destroy(&sink->slot_freed);
        pthread_mutex_destroy(&sink->lock);
    }
    close_fd(&sink->wake_pipe[0]);
    close_fd(&sink->wake_pipe[1]);
    if (sink->runs != NULL) {
        for (int i = 0; i < sink->max_concurrent; i++) {
            free(sink->runs[i].output.data);
            free(sink->runs[i].errors.data);
        }
    }
    free(sink->runs);
    free(sink->poll_fds);
    free(sink->poll_watches);
    free(sink->program_path);
    command_template_free(sink->command);
    free(sink);
}

/* Whether `path` is a regular file we may execute; logs why not. */
static int check_executable(exec_sink *sink, const char *path, const char *written)
{
    struct stat info;
    if (stat(path, &info) != 0) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "command: program %s: %s", written, strerror(errno));
        return 0;
    }
    if (!S_ISREG(info.st_mode)) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "command: program %s is not a regular file", written);
        return 0;
    }
    if (access(path, X_OK) != 0) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "command: program %s is not executable: %s", written,
                        strerror(errno));
        return 0;
    }
    return 1;
}

static char *join_path(const char *folder, const char *name)
{
    text_buffer path = { 0 };
    text_buffer_append_text(&path, folder[0] != '\0' ? folder : ".");
    text_buffer_append_text(&path, "/");
    text_buffer_append_text(&path, name);
    if (path.failed)
        text_buffer_free(&path);
    return path.data;
}

/* The program's absolute path: as written when it holds a '/' (relative to
 * the working directory), else the first executable of that name in PATH.
 * NULL (logged) when there is none. */
static char *resolve_program(exec_sink *sink, const char *program)
{
    if (strchr(program, '/') != NULL) {
        char *path = NULL;
        if (program[0] == '/') {
            path = strdup(program);
        } else {
            char folder[PATH_MAX];
            if (getcwd(folder, sizeof(folder)) == NULL) {
                sink->host->log(sink->ctx, SC_LOG_ERROR, "command: cannot resolve %s: %s", program, strerror(errno));
                return NULL;
            }
            path = join_path(folder, program);
        }
        if (path != NULL && !check_executable(sink, path, program)) {
            free(path);
            return NULL;
        }
        return path;
    }
    const char *search = getenv("PATH");
    if (search == NULL || search[0] == '\0')
        search = "/usr/local/bin:/usr/bin:/bin";
    for (const char *folder = search;;) {
        const char *colon = strchr(folder, ':');
        size_t length = colon != NULL ? (size_t)(colon - folder) : strlen(folder);
        char *prefix = strndup(folder, length);
        char *path = prefix != NULL ? join_path(prefix, program) : NULL;
        free(prefix);
        struct stat info;
        if (path != NULL && stat(path, &info) == 0 && S_ISREG(info.st_mode) && access(path, X_OK) == 0) {
            if (path[0] == '/')
                return path;
            char *absolute = NULL;
            char cwd[PATH_MAX];
            if (getcwd(cwd, sizeof(cwd)) != NULL)
                absolute = join_path(cwd, path);
            free(path);
            return absolute;
        }
        free(path);
        if (colon == NULL)
            break;
        folder = colon + 1;
    }
    sink->host->log(sink->ctx, SC_LOG_ERROR, "command: program %s not found in PATH (%s)", program, search);
    return NULL;
}

static int start_supervisor(exec_sink *sink)
{
    /* The supervisor takes no signals: the host's stay on its own thread,
     * and a SIGPIPE from a command's closed stdin stays pending for
     * discard_pending_sigpipe. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    int error = pthread_create(&sink->supervisor, NULL, supervise, sink);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (error != 0) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "cannot start the supervisor thread: %s", strerror(error));
        return SC_ERR_NOMEM;
    }
    sink->supervisor_running = 1;
    return SC_OK;
}

static int exec_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    exec_sink *sink = calloc(1, sizeof(*sink));
    if (sink == NULL)
        return SC_ERR_NOMEM;
    sink->host = host;
    sink->ctx = ctx;
    sink->from = (record_source){ .host = host, .ctx = ctx };
    sink->wake_pipe[0] = sink->wake_pipe[1] = -1;

    if (geteuid() == 0 && !host->option_bool(ctx, "allow_root")) {
        host->log(ctx, SC_LOG_ERROR,
                  "refusing to run commands as root: they would run with every privilege, on values taken from "
                  "streams; run streamcut as an ordinary user, or set allow_root = true to accept it");
        exec_destroy(sink);
        return SC_ERR_INVALID;
    }
    const char *command_text = host->option_string(ctx, "command");
    char error[256];
    sink->command = command_template_parse(command_text != NULL ? command_text : "", error, sizeof(error));
    if (sink->command == NULL) {
        host->log(ctx, SC_LOG_ERROR, "command = %s: %s", command_text != NULL ? command_text : "", error);
        exec_destroy(sink);
        return SC_ERR_INVALID;
    }
    sink->program_path = resolve_program(sink, command_template_program(sink->command));
    if (sink->program_path == NULL) {
        exec_destroy(sink);
        return SC_ERR_INVALID;
    }
    const char *input_mode = host->option_string(ctx, "stdin");
    sink->send_json = input_mode == NULL || strcmp(input_mode, "none") != 0;
    sink->timeout_ns = host->option_duration(ctx, "timeout");
    sink->kill_grace_ns = host->option_duration(ctx, "kill_grace");
    sink->max_output = (size_t)host->option_size(ctx, "max_output");
    sink->max_concurrent = (int)host->option_int(ctx, "max_concurrent");
    if (sink->max_concurrent < 1)
        sink->max_concurrent = 1;
    if (sink->max_concurrent > 64)
        sink->max_concurrent = 64;

    sink->runs = calloc((size_t)sink->max_concurrent, sizeof(*sink->runs));
    sink->poll_fds = calloc(1 + 4 * (size_t)sink->max_concurrent, sizeof(*sink->poll_fds));
    sink->poll_watches = calloc(1 + 4 * (size_t)sink->max_concurrent, sizeof(*sink->poll_watches));
    int failed = sink->runs == NULL || sink->poll_fds == NULL || sink->poll_watches == NULL;
    for (int i = 0; !failed && i < sink->max_concurrent; i++) {
        child_run *run = &sink->runs[i];
        run->stdin_fd = run->stdout_fd = run->stderr_fd = run->pidfd = -1;
        run->output.capacity = run->errors.capacity = sink->max_output;
        if (sink->max_output > 0) {
            run->output.data = malloc(sink->max_output);
            run->errors.data = malloc(sink->max_output);
            failed = run->output.data == NULL || run->errors.data == NULL;
        }
    }
    if (failed) {
        exec_destroy(sink);
        return SC_ERR_NOMEM;
    }
    if (pipe2(sink->wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        host->log(ctx, SC_LOG_ERROR, "pipe: %s", strerror(errno));
        exec_destroy(sink);
        return SC_ERR_IO;
    }
    pthread_mutex_init(&sink->lock, NULL);
    pthread_cond_init(&sink->slot_freed, NULL);
    sink->synchronization_ready = 1;
    int status = start_supervisor(sink);
    if (status != SC_OK) {
        exec_destroy(sink);
        return status;
    }
    if (geteuid() == 0)
        host->log(ctx, SC_LOG_INFO, "commands run as root (allow_root = true)");
    *instance = sink;
    return SC_OK;
}

static const sc_sink_ops exec_ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = exec_create,
    .destroy = exec_destroy,
    .consume = exec_consume,
    .stop = exec_stop,
};

static const sc_module_descriptor exec_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SINK,
    .flags = 0,
    .name = "exec",
    .version = "0.1.0",
    .description = "run a command per segment (no shell; values as arguments, STREAMCUT_* variables and JSON on stdin)",
    .options = exec_options,
    .ops = &exec_ops,
};

SC_MODULE_DEFINE(exec_module)
