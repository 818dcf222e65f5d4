/* event: in-band timed metadata to events. Plain C, no SDK type: the Check
 * tests compile this file directly.
 *
 * - codec "timed_id3" (ID3 in MPEG-TS / HLS): an ID3v2.2/2.3/2.4 tag gives one
 *   event: the first TXXX frame (name = its description, payload = its
 *   value: the JSON value itself when the value is a JSON object or array,
 *   else a JSON string; an empty description gives the name "TXXX"), else
 *   the first TIT2 frame (name = the title, no payload), else the first
 *   PRIV frame (name = the owner, payload = the data as a string when it
 *   is UTF-8 text, else as hex). PRIV frames of Apple's HLS timestamp
 *   (com.apple.streaming.transportStreamTimestamp) mark every segment and
 *   are not events. A payload that is not an ID3 tag is plain text.
 * - codec "text": plain text; the trimmed text is the name.
 * - codec "none" (FFmpeg's FLV demuxer gives opaque AMF0 script data this
 *   name): the first value is the handler name ("onCuePoint", "onFI", ...)
 *   and names the event, except onCuePoint, whose object's "name" does;
 *   the values after it are the payload (one value as such, several as an
 *   array). onMetaData and @setDataFrame describe the stream and are skipped.
 */
#ifndef STREAMCUT_EVENT_TIMED_DATA_H
#define STREAMCUT_EVENT_TIMED_DATA_H

#include <stddef.h>
#include <stdint.h>

/** 1 when packets of this codec can carry events. */
int timed_data_codec_supported(const char *codec_name);

/** Turns one data packet into an event name (UTF-8, control characters
 * replaced by spaces, at most EVENT_NAME_MAX bytes) and a JSON payload (or
 * NULL); the caller frees both. Returns 1 for an event, 0 when the packet
 * holds none (an empty text, a timestamp marker, stream metadata), -1 when
 * it is malformed. */
int timed_data_to_event(const char *codec_name, const uint8_t *data, size_t size, char **name,
                        char **payload_json);

#endif
