/* streamcut module SDK: events.
 *
 * An event is a named moment on a source's timeline (a goal, a chat burst, an
 * ad marker, an in-band cue). Sources post in-band events, the control API
 * posts external ones; strategies of the source receive them on their own
 * thread through sc_strategy_ops.event.
 */
#ifndef STREAMCUT_EVENT_H
#define STREAMCUT_EVENT_H

#include "abi.h"

SC_BEGIN_DECLS

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
