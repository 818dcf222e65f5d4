/* A small, strict parser for HLS playlists (RFC 8216 and the Twitch
 * extensions the hls source uses).
 *
 * Strict where a mistake would change what gets fetched or how the
 * timeline is built: the #EXTM3U header, EXTINF durations, the target
 * duration, media and discontinuity sequence numbers, byte ranges,
 * attribute-list syntax, segment lines without their URI, a master tag in
 * a media playlist and the reverse are all errors that reject the whole
 * playlist. Lenient where the information is only descriptive: a bad
 * PROGRAM-DATE-TIME or an EXT-X-DATERANGE without ID or START-DATE is
 * dropped and counted in `warnings`; unknown tags are ignored, as the
 * specification requires.
 *
 * Input is untrusted: sizes and entry counts are capped by the caller's
 * limits, NUL bytes and control characters in URIs are rejected, every
 * number is range checked, and nothing depends on the C locale. */
#ifndef HLS_M3U8_H
#define HLS_M3U8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Marks an unknown time or value (same as the SDK's SC_TIME_NONE). */
#define M3U8_NONE INT64_MIN

enum m3u8_status {
    M3U8_OK = 0,
    M3U8_ERR_NOMEM = -1,
    M3U8_ERR_NOT_PLAYLIST = -2,    /**< no #EXTM3U header */
    M3U8_ERR_TOO_LARGE = -3,       /**< more bytes than limits.max_bytes */
    M3U8_ERR_TOO_MANY = -4,        /**< more entries than limits.max_entries */
    M3U8_ERR_SYNTAX = -5,          /**< a malformed tag, number or attribute */
    M3U8_ERR_MISSING_URI = -6,     /**< a segment or variant tag without its URI line */
    M3U8_ERR_MIXED = -7            /**< master and media tags in one playlist */
};

enum m3u8_playlist_type {
    M3U8_TYPE_NONE = 0,   /**< no EXT-X-PLAYLIST-TYPE: live */
    M3U8_TYPE_EVENT = 1,
    M3U8_TYPE_VOD = 2
};

enum m3u8_key_method {
    M3U8_KEY_NONE = 0,
    M3U8_KEY_AES128 = 1,
    M3U8_KEY_SAMPLE_AES = 2,
    M3U8_KEY_OTHER = 3
};

typedef struct m3u8_limits {
    size_t max_bytes;    /**< playlist text size cap */
    size_t max_entries;  /**< segments + variants + renditions + dateranges cap */
} m3u8_limits;

/** One attribute of an attribute list, kept for event payloads. */
typedef struct m3u8_attribute {
    char *name;
    char *value;        /**< without the quotes of a quoted string */
    bool quoted;
} m3u8_attribute;

/** EXT-X-KEY in force for a segment. */
typedef struct m3u8_key {
    int method;          /**< enum m3u8_key_method */
    char *uri;           /**< resolved, or NULL */
    bool has_iv;
    uint8_t iv[16];
} m3u8_key;

/** EXT-X-MAP: a media initialization section. */
typedef struct m3u8_map {
    char *uri;               /**< resolved */
    int64_t range_offset;    /**< byte range start, or 0 */
    int64_t range_length;    /**< byte range length, or -1 for the whole resource */
} m3u8_map;

typedef struct m3u8_segment {
    char *uri;                   /**< resolved against the playlist's URL */
    char *title;                 /**< EXTINF title, or NULL */
    int64_t duration_ns;         /**< EXTINF duration (0 for prefetch entries) */
    int64_t sequence;            /**< media sequence number */
    int64_t discontinuity_sequence;
    bool discontinuity;          /**< EXT-X-DISCONTINUITY precedes it */
    bool gap;                    /**< EXT-X-GAP: no media to fetch */
    bool prefetch;               /**< #EXT-X-TWITCH-PREFETCH entry */
    int64_t program_date_time_ns;/**< UTC of its first sample (explicit or carried
                                      forward from an earlier tag), or M3U8_NONE */
    bool date_explicit;          /**< a PROGRAM-DATE-TIME tag preceded it */
    int64_t range_offset;        /**< EXT-X-BYTERANGE start, 0 without */
    int64_t range_length;        /**< EXT-X-BYTERANGE length, -1 without */
    int map_index;               /**< index into playlist.maps, -1 for none */
    int key_index;               /**< index into playlist.keys, -1 for none */
} m3u8_segment;

typedef struct m3u8_variant {
    char *uri;                   /**< resolved media playlist URL */
    int64_t bandwidth;           /**< bits per second */
    int64_t average_bandwidth;   /**< 0 if absent */
    int width;                   /**< RESOLUTION, 0 if absent */
    int height;
    int64_t frame_rate_milli;    /**< FRAME-RATE x 1000, 0 if absent */
    char *codecs;                /**< CODECS, or NULL */
    char *video_group;           /**< VIDEO group id (Twitch names qualities so), or NULL */
} m3u8_variant;

typedef struct m3u8_daterange {
    char *id;
    char *class_name;            /**< CLASS, or NULL */
    int64_t start_ns;            /**< START-DATE (UTC ns) */
    int64_t end_ns;              /**< END-DATE, or M3U8_NONE */
    int64_t duration_ns;         /**< DURATION, or -1 */
    int64_t planned_duration_ns; /**< PLANNED-DURATION, or -1 */
    m3u8_attribute *attributes;  /**< every attribute, in order */
    size_t attribute_count;
} m3u8_daterange;

typedef struct m3u8_playlist {
    bool master;                 /**< has EXT-X-STREAM-INF */
    int version;                 /**< EXT-X-VERSION, 1 when absent */
    int64_t target_duration_ns;  /**< EXT-X-TARGETDURATION (media playlists) */
    int64_t media_sequence;      /**< of the first segment */
    int64_t discontinuity_sequence;
    bool end_list;
    int playlist_type;           /**< enum m3u8_playlist_type */

    m3u8_segment *segments;      /**< in order; prefetch entries last */
    size_t segment_count;
    m3u8_variant *variants;
    size_t variant_count;
    char **rendition_uris;       /**< resolved EXT-X-MEDIA URIs (master) */
    size_t rendition_count;
    m3u8_map *maps;
    size_t map_count;
    m3u8_key *keys;
    size_t key_count;
    m3u8_daterange *dateranges;
    size_t daterange_count;

    unsigned warnings;           /**< descriptive tags dropped as malformed */
    unsigned error_line;         /**< 1-based line of the error, 0 if none */
    char error[160];             /**< what was wrong, empty if nothing */
} m3u8_playlist;

/** Parses `length` bytes of playlist text. URIs are resolved against
 * `base_url` (the playlist's own, final URL; NULL leaves them as written).
 * On success fills *playlist (m3u8_free releases it); on failure returns
 * an m3u8_status, leaves error/error_line set and nothing to free beyond
 * what m3u8_free handles. */
int m3u8_parse(const char *text, size_t length, const char *base_url, const m3u8_limits *limits,
               m3u8_playlist *playlist);

void m3u8_free(m3u8_playlist *playlist);

enum m3u8_quality_kind {
    M3U8_QUALITY_BEST,       /**< highest BANDWIDTH */
    M3U8_QUALITY_WORST,      /**< lowest BANDWIDTH */
    M3U8_QUALITY_HEIGHT,     /**< a RESOLUTION height (and FRAME-RATE) */
    M3U8_QUALITY_BANDWIDTH   /**< highest BANDWIDTH at or below a limit */
};

/** Which variant of a master playlist to follow. */
typedef struct m3u8_quality {
    int kind;                  /**< enum m3u8_quality_kind */
    int height;
    int64_t frame_rate_milli;  /**< 0 = any rate */
    int64_t bandwidth;         /**< bits per second */
} m3u8_quality;

/** "best", "worst", "<height>p" ("720p"), "<height>p<rate>" ("720p60"),
 * "<bits/s>" with an optional k or M ("3000000", "3000k"). */
bool m3u8_parse_quality(const char *text, m3u8_quality *quality);

/** The variant `quality` asks for; variants without video are chosen only
 * when no variant has video. <height>p: that height at that rate, else
 * that height, else the closest lower height, else the lowest; higher
 * BANDWIDTH breaks ties. <bandwidth>: the highest at or below it, else the
 * lowest. NULL when the playlist lists no variant. */
const m3u8_variant *m3u8_choose_variant(const m3u8_playlist *master, const m3u8_quality *quality);

/** Short text for a status. */
const char *m3u8_status_text(int status);

/** Parses an ISO 8601 / RFC 3339 date-time ("2024-05-01T12:00:00.123Z",
 * "+02:00" or "+0200" offsets) into UTC nanoseconds. */
bool m3u8_parse_date(const char *text, size_t length, int64_t *utc_ns);

/** Parses a decimal-floating-point ("10", "9.97"; up to 9 fraction digits
 * are kept) into nanoseconds; `allow_negative` for signed values. Refuses
 * anything else, and values whose magnitude exceeds max_ns. */
bool m3u8_parse_seconds(const char *text, size_t length, bool allow_negative, int64_t max_ns,
                        int64_t *value_ns);

/** Writes the attributes as a JSON object into a fresh string: quoted
 * values (and enumerated / hex values) become strings, decimal numbers
 * stay numbers; invalid UTF-8 is replaced. NULL on allocation failure. */
char *m3u8_attributes_json(const m3u8_attribute *attributes, size_t count);

/** Appends `text` as a JSON string literal (with quotes) to a growing
 * buffer; returns false on allocation failure. */
bool m3u8_json_append_string(char **buffer, size_t *length, size_t *capacity, const char *text);

#endif
