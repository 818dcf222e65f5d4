/**
 * @file event.h
 * @brief Events: named moments on a source's timeline.
 *
 * An event is a named moment on a source's timeline (a goal, a chat burst, an
 * ad marker, an in-band cue). Sources post in-band events, the control API
 * posts external ones; strategies of the source receive them on their own
 * thread through sc_strategy_ops.event.
 *
 * Posting (sc_host_api.event_post, from a source or strategy ctx): the host
 * copies the struct and its strings before returning, so the caller may use
 * stack memory. Receiving (sc_strategy_ops.event): the event and its strings
 * are the host's, valid for the duration of the call only.
 */
#ifndef STREAMCUT_EVENT_H
#define STREAMCUT_EVENT_H

#include "abi.h"

SC_BEGIN_DECLS

/** One event. Fill it from the start: `struct_size` tells the host which
 * fields the writer knows (a smaller size leaves the later ones unset). */
typedef struct sc_event {
    uint32_t struct_size;      /**< sizeof(sc_event) of the writer */
    uint32_t flags;            /**< reserved, 0 */
    const char *name;          /**< event name, never NULL */
    int64_t time;              /**< ns on the source timeline; SC_TIME_NONE = now
                                    (the newest packet's time) */
    int64_t pre_roll;          /**< ns before `time`, or SC_TIME_NONE for the default */
    int64_t post_roll;         /**< ns after `time`, or SC_TIME_NONE for the default */
    const char *payload_json;  /**< JSON text or NULL */
} sc_event;

SC_END_DECLS

#endif /* STREAMCUT_EVENT_H */
