/* libsoup driven from one thread on a private GMainContext, compiled into
 * the modules that speak HTTP through it (webhook, hls): an asynchronous
 * call's callback keeps its result in a slot, and the thread iterates
 * only its own context until the slot is filled. Nothing touches the
 * global default context, and whatever bounds a call (a timeout source, a
 * GCancellable) runs on the same context, so no wait is unbounded. */
#ifndef STREAMCUT_MODULES_SOUP_WAIT_H
#define STREAMCUT_MODULES_SOUP_WAIT_H

#include <gio/gio.h>

/* A GAsyncReadyCallback: keeps a reference to the result in
 * *(GAsyncResult **)slot (the caller unrefs it). */
void sc_soup_keep_result(GObject *source, GAsyncResult *result, gpointer slot);

/* Iterates `context` until *slot is set. */
void sc_soup_wait_for(GMainContext *context, GAsyncResult *const *slot);

/* Runs the work libsoup left ready on `context` after a message (the
 * connection going back to its pool), a bounded number of times so that
 * a source that keeps itself ready cannot spin the caller. */
void sc_soup_settle(GMainContext *context);

/* What is wrong with a certificate, in words for a message. */
const char *sc_tls_problem_name(GTlsCertificateFlags problems);

#endif
