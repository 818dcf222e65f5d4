/* event: the thread that reads an events file or FIFO line by line.
 *
 * A regular file is read once, to its end. A FIFO is opened without
 * blocking and polled, so stopping never waits on a writer; when its writer
 * closes it, it is reopened for the next one. Lines are handed to a
 * callback on the reader's thread. */
#ifndef STREAMCUT_EVENT_READER_H
#define STREAMCUT_EVENT_READER_H

#include <stddef.h>
#include <stdint.h>

/* Longer lines are reported as overlong and skipped. */
#define EVENT_LINE_MAX 65536

typedef struct event_reader event_reader;

/** A line without its newline (line_number counts from 1 over the reader's
 * life, across FIFO reopenings); `overlong` set when it was cut at
 * EVENT_LINE_MAX bytes. */
typedef void (*event_line_fn)(void *opaque, const char *line, size_t length, uint64_t line_number, int overlong);
/** A condition worth a warning (cannot reopen, read error). */
typedef void (*event_warning_fn)(void *opaque, const char *message);

/** Opens `path` (a FIFO or a regular file; when nothing is there, a FIFO
 * is made, with the folders above it, and *created set) and starts the
 * thread. NULL on failure with the reason in `error`. */
event_reader *event_reader_start(const char *path, event_line_fn on_line, event_warning_fn on_warning,
                                 void *opaque, int *created, char *error, size_t error_size);
/** Waits until a regular file has been read to its end (at once for a FIFO). */
void event_reader_wait_file(event_reader *reader);
/** Stops and joins the thread, then frees the reader. NULL is fine. */
void event_reader_stop(event_reader *reader);

#endif
