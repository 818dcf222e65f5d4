/* event: the events file / FIFO reader thread (see event_reader.h). The
 * thread only ever blocks in poll(), on the input and on a wake-up pipe,
 * so event_reader_stop() returns promptly whatever a writer does. */
#include "event_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long to wait before trying again to reopen a FIFO that went away. */
#define REOPEN_RETRY_MS 1000
#define READ_CHUNK 4096

struct event_reader {
    char *path;
    int fd;                   /* the input, -1 while a FIFO is being reopened */
    int is_fifo;
    int wake[2];              /* self-pipe: a byte in wake[0] means stop */
    atomic_int stopping;
    event_line_fn on_line;
    event_warning_fn on_warning;
    void *opaque;
    pthread_t thread;
    int thread_started;
    pthread_mutex_t lock;
    pthread_cond_t file_done_changed;
    int file_done;            /* the regular file was read to its end */
    /* the line being assembled */
    char *line;
    size_t line_length;
    int line_overlong;
    uint64_t line_number;
    int last_errno;           /* last warned error, so a failing reopen warns once */
};

static void warn(event_reader *reader, const char *what, int error)
{
    if (error == reader->last_errno) return;
    reader->last_errno = error;
    char message[512];
    snprintf(message, sizeof message, "%s: %s: %s", reader->path, what, strerror(error));
    reader->on_warning(reader->opaque, message);
}

static void finish_line(event_reader *reader)
{
    reader->line_number++;
    size_t length = reader->line_length;
    if (length && reader->line[length - 1] == '\r') length--;
    reader->on_line(reader->opaque, reader->line, length, reader->line_number, reader->line_overlong);
    reader->line_length = 0;
    reader->line_overlong = 0;
}

static void take_bytes(event_reader *reader, const char *bytes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (bytes[i] == '\n') {
            finish_line(reader);
        } else if (reader->line_length < EVENT_LINE_MAX) {
            reader->line[reader->line_length++] = bytes[i];
        } else {
            reader->line_overlong = 1;
        }
    }
}

/* What the writer left without a newline is a line too: closing the FIFO
 * or ending the file ends it. */
static void end_of_input(event_reader *reader)
{
    if (reader->line_length || reader->line_overlong) finish_line(reader);
}

static int open_input(const char *path, int *is_fifo, int *error)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *error = errno;
        return -1;
    }
    struct stat info;
    if (fstat(fd, &info) != 0) {
        *error = errno;
        close(fd);
        return -1;
    }
    if (!S_ISFIFO(info.st_mode) && !S_ISREG(info.st_mode)) {
        *error = EINVAL;
        close(fd);
        return -1;
    }
    *is_fifo = S_ISFIFO(info.st_mode);
    if (!*is_fifo) {
        /* A regular file never blocks; plain reads are simpler. */
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    }
    return fd;
}

/* mkdir -p of the folders above `path`, then the FIFO itself, readable
 * and writable by its owner only: whoever can write it can cut clips.
 * Returns 0 or an errno value. */
static int make_fifo(const char *path)
{
    char *partial = strdup(path);
    if (!partial) return ENOMEM;
    for (char *slash = strchr(partial + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(partial, 0755) != 0 && errno != EEXIST) {
            int error = errno;
            free(partial);
            return error;
        }
        *slash = '/';
    }
    free(partial);
    return mkfifo(path, 0600) == 0 || errno == EEXIST ? 0 : errno;
}

static void read_file(event_reader *reader)
{
    char chunk[READ_CHUNK];
    while (!atomic_load(&reader->stopping)) {
        ssize_t count = read(reader->fd, chunk, sizeof chunk);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) warn(reader, "read failed", errno);
        if (count <= 0) break;
        take_bytes(reader, chunk, (size_t)count);
    }
    end_of_input(reader);
}

/* Sleeps until the wake-up pipe says stop or `timeout_ms` passed. */
static void pause_unless_stopped(event_reader *reader, int timeout_ms)
{
    struct pollfd wake = {.fd = reader->wake[0], .events = POLLIN};
    poll(&wake, 1, timeout_ms);
}

static void read_fifo(event_reader *reader)
{
    char chunk[READ_CHUNK];
    while (!atomic_load(&reader->stopping)) {
        if (reader->fd < 0) {
            int is_fifo = 1, error = 0;
            reader->fd = open_input(reader->path, &is_fifo, &error);
            if (reader->fd >= 0 && !is_fifo) {
                close(reader->fd);
                reader->fd = -1;
                error = EINVAL;
            }
            if (reader->fd < 0) {
                warn(reader, "cannot reopen the FIFO (retrying)", error);
                pause_unless_stopped(reader, REOPEN_RETRY_MS);
                continue;
            }
            reader->last_errno = 0;
        }
        struct pollfd watched[2] = {{.fd = reader->fd, .events = POLLIN}, {.fd = reader->wake[0], .events = POLLIN}};
        int ready = poll(watched, 2, -1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            warn(reader, "poll failed", errno);
            pause_unless_stopped(reader, REOPEN_RETRY_MS);
            continue;
        }
        if (watched[1].revents) break;
        if (!watched[0].revents) continue;
        ssize_t count = read(reader->fd, chunk, sizeof chunk);
        if (count > 0) {
            take_bytes(reader, chunk, (size_t)count);
            continue;
        }
        if (count < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (count < 0) warn(reader, "read failed", errno);
        /* The writer closed its end (or the read failed): whatever it left
         * unterminated is its last line; a fresh open waits for the next
         * writer without reporting hang-ups forever. */
        end_of_input(reader);
        close(reader->fd);
        reader->fd = -1;
    }
}

static void *reader_thread(void *data)
{
    event_reader *reader = data;
    if (reader->is_fifo) {
        read_fifo(reader);
    } else {
        read_file(reader);
    }
    pthread_mutex_lock(&reader->lock);
    reader->file_done = 1;
    pthread_cond_broadcast(&reader->file_done_changed);
    pthread_mutex_unlock(&reader->lock);
    return NULL;
}

static void reader_free(event_reader *reader)
{
    if (reader->fd >= 0) close(reader->fd);
    if (reader->wake[0] >= 0) close(reader->wake[0]);
    if (reader->wake[1] >= 0) close(reader->wake[1]);
    pthread_mutex_destroy(&reader->lock);
    pthread_cond_destroy(&reader->file_done_changed);
    free(reader->line);
    free(reader->path);
    free(reader);
}

event_reader *event_reader_start(const char *path, event_line_fn on_line, event_warning_fn on_warning, void *opaque,
                                 int *created, char *error, size_t error_size)
{
    *created = 0;
    event_reader *reader = calloc(1, sizeof *reader);
    if (!reader) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    reader->fd = -1;
    reader->wake[0] = reader->wake[1] = -1;
    reader->on_line = on_line;
    reader->on_warning = on_warning;
    reader->opaque = opaque;
    atomic_init(&reader->stopping, 0);
    pthread_mutex_init(&reader->lock, NULL);
    pthread_cond_init(&reader->file_done_changed, NULL);
    reader->path = strdup(path);
    reader->line = malloc(EVENT_LINE_MAX);
    if (!reader->path || !reader->line) {
        snprintf(error, error_size, "out of memory");
        reader_free(reader);
        return NULL;
    }
    int open_error = 0;
    reader->fd = open_input(path, &reader->is_fifo, &open_error);
    if (reader->fd < 0 && open_error == ENOENT) {
        open_error = make_fifo(path);
        if (open_error == 0) {
            *created = 1;
            reader->fd = open_input(path, &reader->is_fifo, &open_error);
        }
    }
    if (reader->fd < 0) {
        snprintf(error, error_size, "cannot open %s: %s", path,
                 open_error == EINVAL ? "not a FIFO or a regular file" : strerror(open_error));
        reader_free(reader);
        return NULL;
    }
    if (pipe2(reader->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(error, error_size, "cannot make a pipe: %s", strerror(errno));
        reader_free(reader);
        return NULL;
    }
    int result = pthread_create(&reader->thread, NULL, reader_thread, reader);
    if (result != 0) {
        snprintf(error, error_size, "cannot start the reader thread: %s", strerror(result));
        reader_free(reader);
        return NULL;
    }
    reader->thread_started = 1;
    return reader;
}

void event_reader_wait_file(event_reader *reader)
{
    if (!reader || reader->is_fifo) return;
    pthread_mutex_lock(&reader->lock);
    while (!reader->file_done) pthread_cond_wait(&reader->file_done_changed, &reader->lock);
    pthread_mutex_unlock(&reader->lock);
}

void event_reader_stop(event_reader *reader)
{
    if (!reader) return;
    atomic_store(&reader->stopping, 1);
    if (reader->wake[1] >= 0) {
        ssize_t ignored = write(reader->wake[1], "x", 1);
        (void)ignored;
    }
    if (reader->thread_started) pthread_join(reader->thread, NULL);
    reader_free(reader);
}
