/* The hls source's playlist parser and URL helpers (modules/hls/m3u8.c,
 * modules/hls/url.c): tags and their values, URI resolution (the RFC 3986
 * examples), byte ranges, CRLF and BOM, dates, dateranges as JSON, master
 * playlists, Twitch prefetch entries, and every rejection: missing URIs,
 * malformed numbers, mixed playlists, NUL bytes, oversized inputs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "m3u8.h"
#include "url.h"

#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)
#define BASE "https://cdn.example.com/live/stream/index.m3u8?token=abc"

static const m3u8_limits default_limits = { .max_bytes = 4 * 1024 * 1024, .max_entries = 10000 };

static int parse_text(const char *text, m3u8_playlist *playlist)
{
    return m3u8_parse(text, strlen(text), BASE, &default_limits, playlist);
}

/* Parses text that must be rejected with `status`; returns the error line. */
static unsigned rejected(const char *text, int status)
{
    m3u8_playlist playlist;
    int result = parse_text(text, &playlist);
    ck_assert_msg(result == status, "expected %s, got %s (%s) for:\n%s", m3u8_status_text(status),
                  m3u8_status_text(result), playlist.error, text);
    ck_assert_msg(playlist.error[0] != '\0', "no error text");
    ck_assert_ptr_null(playlist.segments);
    m3u8_free(&playlist);
    return playlist.error_line;
}

START_TEST(media_playlist_tags)
{
    const char *text =
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:10\n"
        "#EXT-X-MEDIA-SEQUENCE:1419\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:7\n"
        "# a plain comment\n"
        "#EXT-X-SOMETHING-NEW:ignored=1\n"
        "#EXTINF:9.97,live\n"
        "seg1419.ts\n"
        "\n"
        "#EXTINF:10,\n"
        "/other/seg1420.ts\n"
        "#EXTINF:10.000000\n"
        "../up/seg1421.ts?x=1\n"
        "#EXTINF:4.5,Amazon|123|ad\n"
        "http://ads.example.net/ad.ts\n"
        "#EXTINF:1\n"
        "//edge.example.com/seg1423.ts\n";
    m3u8_playlist playlist;
    ck_assert_int_eq(parse_text(text, &playlist), M3U8_OK);
    ck_assert(!playlist.master);
    ck_assert(!playlist.end_list);
    ck_assert_int_eq(playlist.version, 3);
    ck_assert_int_eq(playlist.target_duration_ns, 10 * SEC);
    ck_assert_int_eq(playlist.media_sequence, 1419);
    ck_assert_int_eq(playlist.discontinuity_sequence, 7);
    ck_assert_int_eq(playlist.playlist_type, M3U8_TYPE_NONE);
    ck_assert_uint_eq(playlist.segment_count, 5);
    ck_assert_uint_eq(playlist.warnings, 0);

    const m3u8_segment *s = playlist.segments;
    ck_assert_str_eq(s[0].uri, "https://cdn.example.com/live/stream/seg1419.ts");
    ck_assert_str_eq(s[1].uri, "https://cdn.example.com/other/seg1420.ts");
    ck_assert_str_eq(s[2].uri, "https://cdn.example.com/live/up/seg1421.ts?x=1");
    ck_assert_str_eq(s[3].uri, "http://ads.example.net/ad.ts");
    ck_assert_str_eq(s[4].uri, "https://edge.example.com/seg1423.ts");
    ck_assert_int_eq(s[0].duration_ns, 9970 * MS);
    ck_assert_int_eq(s[1].duration_ns, 10 * SEC);
    ck_assert_int_eq(s[2].duration_ns, 10 * SEC);
    ck_assert_int_eq(s[3].duration_ns, 4500 * MS);
    ck_assert_int_eq(s[4].duration_ns, 1 * SEC);
    ck_assert_str_eq(s[0].title, "live");
    ck_assert_ptr_null(s[1].title);
    ck_assert_ptr_null(s[2].title);
    ck_assert_str_eq(s[3].title, "Amazon|123|ad");
    for (size_t i = 0; i < playlist.segment_count; i++) {
        ck_assert_int_eq(s[i].sequence, 1419 + (int64_t)i);
        ck_assert_int_eq(s[i].discontinuity_sequence, 7);
        ck_assert(!s[i].discontinuity && !s[i].gap && !s[i].prefetch);
        ck_assert_int_eq(s[i].program_date_time_ns, M3U8_NONE);
        ck_assert_int_eq(s[i].range_length, -1);
        ck_assert_int_eq(s[i].map_index, -1);
        ck_assert_int_eq(s[i].key_index, -1);
    }
    m3u8_free(&playlist);
}
END_TEST

START_TEST(vod_endlist_and_types)
{
    m3u8_playlist playlist;
    ck_assert_int_eq(parse_text("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:2\n"
                                "#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n", &playlist), M3U8_OK);
    ck_assert(playlist.end_list);
    ck_assert_int_eq(playlist.playlist_type, M3U8_TYPE_VOD);
    ck_assert_int_eq(playlist.media_sequence, 0);
    ck_assert_int_eq(playlist.segments[0].sequence, 0);
    m3u8_free(&playlist);

    ck_assert_int_eq(parse_text("#EXTM3U\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:2.5\n", &playlist),
                     M3U8_OK);
    ck_assert_int_eq(playlist.playlist_type, M3U8_TYPE_EVENT);
    /* a decimal target duration rounds up */
    ck_assert_int_eq(playlist.target_duration_ns, 3 * SEC);
    ck_assert_uint_eq(playlist.segment_count, 0);
    m3u8_free(&playlist);
}
END_TEST

START_TEST(crlf_bom_and_blanks)
{
    const char *text = "\xEF\xBB\xBF#EXTM3U\r\n"
                       "#EXT-X-TARGETDURATION:6 \r\n"
                       "\r\n"
                       "  #EXTINF:6.006,title with spaces\r\n"
                       "  seg0.ts \t\r\n"
                       "#EXTINF:5.5\r\n"
                       "seg1.ts";   /* no final newline */
    m3u8_playlist playlist;
    ck_assert_int_eq(parse_text(text, &playlist), M3U8_OK);
    ck_assert_uint_eq(playlist.segment_count, 2);
    ck_assert_str_eq(playlist.segments[0].uri, "https://cdn.example.com/live/stream/seg0.ts");
    ck_assert_str_eq(playlist.segments[0].title, "title with spaces");
    ck_assert_int_eq(playlist.segments[0].duration_ns, 6006 * MS);
    ck_assert_str_eq(playlist.segments[1].uri, "https://cdn.example.com/live/stream/seg1.ts");
    ck_assert_int_eq(playlist.segments[1].duration_ns, 5500 * MS);
    m3u8_free(&playlist);
}
END_TEST

START_TEST(missing_uri)
{
    /* the last EXTINF has no URI: the error names its line */
    ck_assert_uint_eq(rejected("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXTINF:2,\n",
                               M3U8_ERR_MISSING_URI), 5);
    ck_assert_uint_eq(rejected("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXTINF:2,\nb.ts\n",
                               M3U8_ERR_MISSING_URI), 4);
    /* a tag after EXTINF does not replace the URI */
    rejected("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-DISCONTINUITY\n", M3U8_ERR_MISSING_URI);
    rejected("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n", M3U8_ERR_MISSING_URI);
    rejected("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n#EXT-X-STREAM-INF:BANDWIDTH=2000\nv.m3u8\n",
             M3U8_ERR_MISSING_URI);
    rejected("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-TWITCH-PREFETCH:p.ts\n", M3U8_ERR_MISSING_URI);
    /* a URI line with nothing announcing it */
    ck_assert_uint_eq(rejected("#EXTM3U\n#EXT-X-TARGETDURATION:2\nstray.ts\n", M3U8_ERR_SYNTAX), 3);
}
END_TEST

START_TEST(bad_numbers)
{
    static const char *const bad_media[] = {
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:abc,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:-1,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1e3,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:.5,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:nan,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:0x10,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:86401,\na.ts\n",      /* beyond a day */
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:99999999999999999999,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:x\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:-4\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:-5\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:12a\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:99999999999999999999\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:9223372036854775807\n", /* above 2^62 */
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE: 1\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-DISCONTINUITY-SEQUENCE:x\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-BYTERANGE:abc\n#EXTINF:2,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-BYTERANGE:0@5\n#EXTINF:2,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-BYTERANGE:10@\n#EXTINF:2,\na.ts\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:LIVE\n",
        "#EXTM3U\n#EXT-X-VERSION:three\n#EXT-X-TARGETDURATION:2\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0xZZ\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=init.mp4\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"x@1\"\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=fast\nv.m3u8\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1280x720\nv.m3u8\n",      /* BANDWIDTH is required */
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1280*720\nv.m3u8\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,FRAME-RATE=sixty\nv.m3u8\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,,CODECS=\"avc1\"\nv.m3u8\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1\nv.m3u8\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,\nv.m3u8\n",
        "#EXTM3U\n#EXT-X-STREAM-INF:bandwidth=1\nv.m3u8\n",
    };
    for (size_t i = 0; i < sizeof(bad_media) / sizeof(bad_media[0]); i++)
        rejected(bad_media[i], M3U8_ERR_SYNTAX);
    /* sequence tags must come before the first segment */
    ck_assert_uint_eq(rejected("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-MEDIA-SEQUENCE:5\n",
                               M3U8_ERR_SYNTAX), 5);
    /* the target duration is required in a media playlist */
    rejected("#EXTM3U\n#EXTINF:2,\na.ts\n", M3U8_ERR_SYNTAX);
}
END_TEST

START_TEST(not_a_playlist)
{
    rejected("", M3U8_ERR_NOT_PLAYLIST);
    /* an empty HTTP body arrives as no buffer at all */
    m3u8_playlist empty;
    ck_assert_int_eq(m3u8_parse(NULL, 0, BASE, &default_limits, &empty), M3U8_ERR_NOT_PLAYLIST);
    m3u8_free(&empty);
    rejected("\n#EXTM3U\n", M3U8_ERR_NOT_PLAYLIST);
    rejected("#EXTM3UX\n#EXT-X-TARGETDURATION:2\n", M3U8_ERR_NOT_PLAYLIST);
    rejected("<html><body>404</body></html>", M3U8_ERR_NOT_PLAYLIST);
    rejected("#EXT-X-TARGETDURATION:2\n#EXTM3U\n", M3U8_ERR_NOT_PLAYLIST);
    /* a NUL byte anywhere */
    m3u8_playlist playlist;
    const char text[] = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na\0b.ts\n";
    ck_assert_int_eq(m3u8_parse(text, sizeof(text) - 1, BASE, &default_limits, &playlist), M3U8_ERR_SYNTAX);
    m3u8_free(&playlist);
    /* control characters in a URI */
    rejected("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na\x01.ts\n", M3U8_ERR_SYNTAX);
    /* master and media tags together */
    rejected("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n", M3U8_ERR_MIXED);
    rejected("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXTINF:2,\na.ts\n", M3U8_ERR_MIXED);
}
END_TEST

START_TEST(huge_inputs)
{
    /* more bytes than the cap, checked before anything is parsed */
    const m3u8_limits small = { .max_bytes = 100, .max_entries = 10000 };
    m3u8_playlist playlist;
    char text[128];
    memset(text, '#', sizeof(text));
    memcpy(text, "#EXTM3U\n", 8);
    ck_assert_int_eq(m3u8_parse(text, 101, BASE, &small, &playlist), M3U8_ERR_TOO_LARGE);
    m3u8_free(&playlist);

    /* 10000 segments pass, 10001 do not */
    size_t capacity = 64 + 10001 * 32;
    char *big = malloc(capacity);
    ck_assert_ptr_nonnull(big);
    size_t length = (size_t)snprintf(big, capacity, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n");
    for (int i = 0; i < 10000; i++)
        length += (size_t)snprintf(big + length, capacity - length, "#EXTINF:2,\ns%05d.ts\n", i);
    ck_assert_int_eq(m3u8_parse(big, length, BASE, &default_limits, &playlist), M3U8_OK);
    ck_assert_uint_eq(playlist.segment_count, 10000);
    ck_assert_int_eq(playlist.segments[9999].sequence, 9999);
    ck_assert_str_eq(playlist.segments[9999].uri, "https://cdn.example.com/live/stream/s09999.ts");
    m3u8_free(&playlist);
    length += (size_t)snprintf(big + length, capacity - length, "#EXTINF:2,\ns10000.ts\n");
    ck_assert_int_eq(m3u8_parse(big, length, BASE, &default_limits, &playlist), M3U8_ERR_TOO_MANY);
    ck_assert_uint_eq(playlist.error_line, 2 + 2 * 10001);
    m3u8_free(&playlist);
    free(big);

    /* a 1 MB URI: within the byte cap, refused as a URI */
    size_t uri_length = 1024 * 1024;
    char *long_line = malloc(uri_length + 128);
    ck_assert_ptr_nonnull(long_line);
    length = (size_t)sprintf(long_line, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n");
    memset(long_line + length, 'a', uri_length);
    length += uri_length;
    ck_assert_int_eq(m3u8_parse(long_line, length, BASE, &default_limits, &playlist), M3U8_ERR_SYNTAX);
    m3u8_free(&playlist);
    /* a 1 MB comment is just a comment */
    length = (size_t)sprintf(long_line, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#");
    memset(long_line + length, 'c', uri_length);
    length += uri_length;
    ck_assert_int_eq(m3u8_parse(long_line, length, BASE, &default_limits, &playlist), M3U8_OK);
    m3u8_free(&playlist);
    free(long_line);
}
END_TEST

START_TEST(byte_ranges)
{
    const char *text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-VERSION:4\n"
                       "#EXT-X-BYTERANGE:1000@0\n#EXTINF:4,\nall.ts\n"
                       "#EXT-X-BYTERANGE:2000\n#EXTINF:4,\nall.ts\n"
                       "#EXT-X-BYTERANGE:500@10000\n#EXTINF:4,\nall.ts\n"
                       "#EXTINF:4,\nwhole.ts\n";
    m3u8_playlist playlist;
    ck_assert_int_eq(parse_text(text, &playlist), M3U8_OK);
    ck_assert_uint_eq(playlist.segment_count, 4);
    ck_assert_int_eq(playlist.segments[0].range_offset, 0);
    ck_assert_int_eq(playlist.segments[0].range_length, 1000);
    ck_assert_int_eq(playlist.segments[1].range_offset, 1000);
    ck_assert_int_eq(playlist.segments[1].range_length, 2000);
    ck_assert_int_eq(playlist.segments[2].range_offset, 10000);
    ck_assert_int_eq(playlist.segments[2].range_length, 500);
    ck_assert_int_eq(playlist.segments[3].range_length, -1);
    m3u8_free(&playlist);
    /* a range without offset must continue the same resource */
    rejected("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-BYTERANGE:10@0\n#EXTINF:4,\na.ts\n"
             "#EXT-X-BYTERANGE:10\n#EXTINF:4,\nb.ts\n", M3U8_ERR_SYNTAX);
    rejected("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-BYTERANGE:10\n#EXTINF:4,\na.ts\n", M3U8_ERR_SYNTAX);
}
END_TEST

START_TEST(discontinuities_and_dates)
{
    const char *text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n"
                       "#EXT-X-DISCONTINUITY-SEQUENCE:3\n"
                       "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z\n"
                       "#EXTINF:2.000,\na.ts\n"
                       "#EXTINF:1.500,\nb.ts\n"             /* carried: +2 s */
                       "#EXT-X-DISCONTINUITY\n"
                       "#EXTINF:2,\nc.ts\n"                 /* after a discontinuity: unknown */
                       "#EXT-X-DISCONTINUITY\n"
                       "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T14:00:10.250+02:00\n"
                       "#EXTINF:2,\nd.ts\n"
                       "#EXT-X-PROGRAM-DATE-TIME:yesterday\n"  /* malformed: dropped, carried instead */
                       "#EXT-X-GAP\n"
                       "#EXTINF:2,\ne.ts\n";
    m3u8_playlist playlist;
    ck_assert_int_eq(parse_text(text, &playlist), M3U8_OK);
    ck_assert_uint_eq(playlist.segment_count, 5);
    ck_assert_uint_eq(playlist.warnings, 1);
    const int64_t noon = INT64_C(1714564800) * SEC;
    const m3u8_segment *s = playlist.segments;
    ck_assert_int_eq(s[0].program_date_time_ns, noon);
    ck_assert(s[0].date_explicit);
    ck_assert_int_eq(s[1].program_date_time_ns, noon + 2 * SEC);
    ck_assert(!s[1].date_explicit);
    ck_assert_int_eq(s[2].program_date_time_ns, M3U8_NONE);
    ck_assert_int_eq(s[3].program_date_time_ns, noon + 10250 * MS);
    ck_assert_int_eq(s[4].program_date_time_ns, noon + 12250 * MS);
    ck_assert(!s[0].discontinuity && !s[1].discontinuity && s[2].discontinuity && s[3].discontinuity);
    ck_assert_int_eq(s[0].discontinuity_sequence, 3);
    ck_assert_int_eq(s[1].discontinuity_sequence, 3);
    ck_assert_int_eq(s[2].discontinuity_sequence, 4);
    ck_assert_int_eq(s[3].discontinuity_sequence, 5);
    ck_assert_int_eq(s[4].discontinuity_sequence, 5);
    ck_assert(s[4].gap && !s[3].gap);
    ck_assert_int_eq(s[4].sequence, 104);
    m3u8_free(&playlist);
}
END_TEST

START_TEST(date_forms)
{
    int64_t value;
    const int64_t noon = INT64_C(1714564800) * SEC;
#define DATE(text) m3u8_parse_date(text, strlen(text), &value)
    ck_assert(DATE("2024-05-01T12:00:00Z") && value == noon);
    ck_assert(DATE("2024-05-01T12:00:00.123Z") && value == noon + 123 * MS);
    ck_assert(DATE("2024-05-01T12:00:00.123456789Z") && value == noon + 123456789);
    ck_assert(DATE("2024-05-01T12:00:00.1234567891Z") && value == noon + 123456789);
    ck_assert(DATE("2024-05-01T14:00:00+02:00") && value == noon);
    ck_assert(DATE("2024-05-01T14:00:00+0200") && value == noon);
    ck_assert(DATE("2024-05-01T09:30:00-02:30") && value == noon);
    ck_assert(DATE("2024-05-01T14:00:00+02") && value == noon);
    ck_assert(DATE("2024-05-01t12:00:00z") && value == noon);
    ck_assert(DATE("2024-05-01T12:00:00") && value == noon);   /* no zone: taken as UTC */
    ck_assert(DATE("1970-01-01T00:00:00Z") && value == 0);
    ck_assert(DATE("2000-02-29T23:59:59Z") && value == INT64_C(951868799) * SEC);
    ck_assert(!DATE("2001-02-29T00:00:00Z"));
    ck_assert(!DATE("2024-13-01T00:00:00Z"));
    ck_assert(!DATE("2024-04-31T00:00:00Z"));
    ck_assert(!DATE("2024-05-01T24:00:00Z"));
    ck_assert(!DATE("2024-05-01T12:00:00.Z"));
    ck_assert(!DATE("2024-05-01T12:00:00+2:00"));
    ck_assert(!DATE("2024-05-01T12:00:00ZZ"));
    ck_assert(!DATE("2024-05-01"));
    ck_assert(!DATE("1969-12-31T23:59:59Z"));
    ck_assert(!DATE("9999-01-01T00:00:00Z"));
    ck_assert(!DATE(""));
#undef DATE
    ck_assert(m3u8_parse_seconds("0.000000001", 11, false, SEC, &value) && value == 1);
    ck_assert(m3u8_parse_seconds("-1.5", 4, true, 10 * SEC, &value) && value == -1500 * MS);
    ck_assert(!m3u8_parse_seconds("-1.5", 4, false, 10 * SEC, &value));
    ck_assert(!m3u8_parse_seconds("10.5", 4, false, 10 * SEC, &value));
    ck_assert(!m3u8_parse_seconds("-", 1, true, 10 * SEC, &value));
}
END_TEST

START_TEST(master_playlist)
{
    const char *text =
        "#EXTM3U\n"
        "#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"chunked\",NAME=\"1080p60 (source)\",AUTOSELECT=YES,DEFAULT=YES\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",URI=\"audio/en.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=6000000,AVERAGE-BANDWIDTH=5500000,RESOLUTION=1920x1080,"
        "CODECS=\"avc1.64002A,mp4a.40.2\",FRAME-RATE=59.940,VIDEO=\"chunked\"\n"
        "https://video-weaver.example.net/v1/playlist/source.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=854x480,CODECS=\"avc1.4D401F,mp4a.40.2\"\n"
        "480p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=160000,CODECS=\"mp4a.40.2\",VIDEO=\"audio_only\"\n"
        "audio_only.m3u8\n"
        "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=80000,URI=\"iframes.m3u8\"\n";
    m3u8_playlist playlist;
    ck_assert_int_eq(parse_text(text, &playlist), M3U8_OK);
    ck_assert(playlist.master);
    ck_assert_uint_eq(playlist.segment_count, 0);
    ck_assert_uint_eq(playlist.variant_count, 3);
    const m3u8_variant *v = playlist.variants;
    ck_assert_str_eq(v[0].uri, "https://video-weaver.example.net/v1/playlist/source.m3u8");
    ck_assert_int_eq(v[0].bandwidth, 6000000);
    ck_assert_int_eq(v[0].average_bandwidth, 5500000);
    ck_assert_int_eq(v[0].width, 1920);
    ck_assert_int_eq(v[0].height, 1080);
    ck_assert_int_eq(v[0].frame_rate_milli, 59940);
    ck_assert_str_eq(v[0].codecs, "avc1.64002A,mp4a.40.2");
    ck_assert_str_eq(v[0].video_group, "chunked");
    ck_assert_str_eq(v[1].uri, "https://cdn.example.com/live/stream/480p/index.m3u8");
    ck_assert_int_eq(v[1].bandwidth, 1500000);
    ck_assert_int_eq(v[1].height, 480);
    ck_assert_int_eq(v[1].frame_rate_milli, 0);
    ck_assert_ptr_null(v[1].video_group);
    ck_assert_int_eq(v[2].height, 0);
    ck_assert_str_eq(v[2].video_group, "audio_only");
    ck_assert_uint_eq(playlist.rendition_count, 1);
    ck_assert_str_eq(playlist.rendition_uris[0], "https://cdn.example.com/live/stream/audio/en.m3u8");
    m3u8_free(&playlist);
}
END_TEST

START_TEST(dateranges_as_json)
{
    const char *text =
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-DATERANGE:ID=\"stitched-ad-1\",CLASS=\"twitch-stitched-ad\",START-DATE=\"2024-05-01T12:00:00Z\","
        "DURATION=30.5,X-TV-TWITCH-AD-ROLL-TYPE=\"MIDROLL\",X-COUNT=3,X-HEX=0x1F,SCTE35-OUT=0xFC30\n"
        "#EXT-X-DATERANGE:ID=\"q\\\",START-DATE=\"2024-05-01T12:00:01Z\",X-TEXT=\"caf\xc3\xa9 \xff bad\","
        "END-DATE=\"2024-05-01T12:00:03Z\",PLANNED-DURATION=2\n"
        "#EXT-X-DATERANGE:CLASS=\"no-id\",START-DATE=\"2024-05-01T12:00:00Z\"\n"       /* dropped */
        "#EXT-X-DATERANGE:ID=\"no-start\"\n"                                             /* dropped */
        "#EXT-X-DATERANGE:ID=\"bad-date\",START-DATE=\"noon\"\n"                       /* dropped */
        "#EXT-X-DATERANGE:ID=\"x\",START-DATE=\"2024-05-01T12:00:00Z\",DURATION=\"5\"\n"/* dropped */
        "#EXT-X-DATERANGE:ID=\"x\",,\n"                                                  /* dropped */
        "#EXTINF:2,\na.ts\n";
    m3u8_playlist playlist;
    ck_assert_int_eq(parse_text(text, &playlist), M3U8_OK);
    ck_assert_uint_eq(playlist.daterange_count, 2);
    ck_assert_uint_eq(playlist.warnings, 5);
    const m3u8_daterange *ad = &playlist.dateranges[0];
    ck_assert_str_eq(ad->id, "stitched-ad-1");
    ck_assert_str_eq(ad->class_name, "twitch-stitched-ad");
    ck_assert_int_eq(ad->start_ns, INT64_C(1714564800) * SEC);
    ck_assert_int_eq(ad->duration_ns, 30500 * MS);
    ck_assert_int_eq(ad->planned_duration_ns, -1);
    ck_assert_int_eq(ad->end_ns, M3U8_NONE);
    char *json = m3u8_attributes_json(ad->attributes, ad->attribute_count);
    ck_assert_str_eq(json, "{\"ID\":\"stitched-ad-1\",\"CLASS\":\"twitch-stitched-ad\","
                           "\"START-DATE\":\"2024-05-01T12:00:00Z\",\"DURATION\":30.5,"
                           "\"X-TV-TWITCH-AD-ROLL-TYPE\":\"MIDROLL\",\"X-COUNT\":3,\"X-HEX\":\"0x1F\","
                           "\"SCTE35-OUT\":\"0xFC30\"}");
    free(json);
    const m3u8_daterange *quoted = &playlist.dateranges[1];
    ck_assert_str_eq(quoted->id, "q\\");
    ck_assert_ptr_null(quoted->class_name);
    ck_assert_int_eq(quoted->end_ns, (INT64_C(1714564800) + 3) * SEC);
    ck_assert_int_eq(quoted->planned_duration_ns, 2 * SEC);
    json = m3u8_attributes_json(quoted->attributes, quoted->attribute_count);
    ck_assert_str_eq(json, "{\"ID\":\"q\\\\\",\"START-DATE\":\"2024-05-01T12:00:01Z\","
                           "\"X-TEXT\":\"caf\xc3\xa9 \\ufffd bad\",\"END-DATE\":\"2024-05-01T12:00:03Z\","
                           "\"PLANNED-DURATION\":2}");
    free(json);
    m3u8_free(&playlist);

    /* controls and quotes are escaped; numbers JSON would refuse stay strings */
    m3u8_attribute attributes[] = {
        { .name = "A", .value = "tab\there \"q\"", .quoted = true },
        { .name = "B", .value = "007", .quoted = false },
        { .name = "C", .value = "-1.25", .quoted = false },
        { .name = "D", .value = "12", .quoted = true },
    };
    json = m3u8_attributes_json(attributes, 4);
    ck_assert_str_eq(json, "{\"A\":\"tab\\u0009here \\\"q\\\"\",\"B\":\"007\",\"C\":-1.25,\"D\":\"12\"}");
    free(json);
}
END_TEST

START_TEST(twitch_prefetch)
{
    const char *text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:50\n"
                       "#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00Z\n"
                       "#EXTINF:2.002,live\nhttps://edge.example.net/a.ts\n"
                       "#EXTINF:2.002,live\nhttps://edge.example.net/b.ts\n"
                       "#EXT-X-TWITCH-PREFETCH:https://edge.example.net/c.ts\n"
                       "#EXT-X-TWITCH-PREFETCH:https://edge.example.net/d.ts\n";
    m3u8_playlist playlist;
    ck_assert_int_eq(parse_text(text, &playlist), M3U8_OK);
    ck_assert_uint_eq(playlist.segment_count, 4);
    ck_assert(!playlist.segments[1].prefetch);
    ck_assert(playlist.segments[2].prefetch && playlist.segments[3].prefetch);
    ck_assert_int_eq(playlist.segments[2].sequence, 52);
    ck_assert_int_eq(playlist.segments[3].sequence, 53);
    ck_assert_int_eq(playlist.segments[3].duration_ns, 0);
    ck_assert_str_eq(playlist.segments[3].uri, "https://edge.example.net/d.ts");
    m3u8_free(&playlist);
    rejected("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-TWITCH-PREFETCH:c.ts\n#EXTINF:2,\nd.ts\n", M3U8_ERR_SYNTAX);
}
END_TEST

START_TEST(maps_and_keys)
{
    const char *text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-VERSION:7\n"
                       "#EXT-X-MAP:URI=\"init.mp4\"\n"
                       "#EXTINF:2,\na.m4s\n"
                       "#EXT-X-KEY:METHOD=AES-128,URI=\"https://keys.example.com/k1\",IV=0x000102030405060708090A0B0C0D0E0F\n"
                       "#EXTINF:2,\nb.m4s\n"
                       "#EXT-X-MAP:URI=\"init2.mp4\",BYTERANGE=\"720@16\"\n"
                       "#EXT-X-KEY:METHOD=AES-128,URI=\"k2\",IV=0x1F\n"
                       "#EXTINF:2,\nc.m4s\n"
                       "#EXT-X-KEY:METHOD=NONE\n"
                       "#EXTINF:2,\nd.m4s\n";
    m3u8_playlist playlist;
    ck_assert_int_eq(parse_text(text, &playlist), M3U8_OK);
    ck_assert_uint_eq(playlist.map_count, 2);
    ck_assert_str_eq(playlist.maps[0].uri, "https://cdn.example.com/live/stream/init.mp4");
    ck_assert_int_eq(playlist.maps[0].range_length, -1);
    ck_assert_int_eq(playlist.maps[1].range_offset, 16);
    ck_assert_int_eq(playlist.maps[1].range_length, 720);
    ck_assert_int_eq(playlist.segments[0].map_index, 0);
    ck_assert_int_eq(playlist.segments[1].map_index, 0);
    ck_assert_int_eq(playlist.segments[2].map_index, 1);
    ck_assert_int_eq(playlist.segments[0].key_index, -1);
    ck_assert_int_eq(playlist.segments[1].key_index, 0);
    ck_assert_int_eq(playlist.segments[2].key_index, 1);
    ck_assert_int_eq(playlist.segments[3].key_index, -1);
    ck_assert_uint_eq(playlist.key_count, 2);
    ck_assert_int_eq(playlist.keys[0].method, M3U8_KEY_AES128);
    ck_assert_str_eq(playlist.keys[0].uri, "https://keys.example.com/k1");
    ck_assert(playlist.keys[0].has_iv);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(playlist.keys[0].iv[i], (unsigned)i);
    ck_assert_str_eq(playlist.keys[1].uri, "https://cdn.example.com/live/stream/k2");
    for (int i = 0; i < 15; i++)
        ck_assert_uint_eq(playlist.keys[1].iv[i], 0);
    ck_assert_uint_eq(playlist.keys[1].iv[15], 0x1f);
    m3u8_free(&playlist);
}
END_TEST

START_TEST(quality_choice)
{
    const char *text =
        "#EXTM3U\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=160000,CODECS=\"mp4a.40.2\",VIDEO=\"audio_only\"\n"
        "audio.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=6000000,RESOLUTION=1920x1080,FRAME-RATE=60.000\n"
        "1080p60.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=3500000,RESOLUTION=1280x720,FRAME-RATE=60.000\n"
        "720p60.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,FRAME-RATE=30.000\n"
        "720p30.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1000000,RESOLUTION=852x480,FRAME-RATE=30.000\n"
        "480p.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=640x360\n"
        "360p.m3u8\n";
    m3u8_playlist playlist;
    ck_assert_int_eq(parse_text(text, &playlist), M3U8_OK);
    static const char *const cases[][2] = {
        { "best", "1080p60.m3u8" },
        { "worst", "360p.m3u8" },           /* audio-only only when nothing has video */
        { "720p", "720p60.m3u8" },          /* the wanted height, higher bandwidth first */
        { "720p30", "720p30.m3u8" },
        { "720p60", "720p60.m3u8" },
        { "720p50", "720p60.m3u8" },        /* no 50 fps: the height still wins */
        { "600p", "480p.m3u8" },            /* closest lower height */
        { "1440p", "1080p60.m3u8" },
        { "240p", "360p.m3u8" },            /* nothing lower: the lowest above */
        { "3000000", "720p30.m3u8" },       /* highest at or below */
        { "3500k", "720p60.m3u8" },
        { "6M", "1080p60.m3u8" },
        { "100000", "360p.m3u8" },          /* nothing fits: the lowest */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        m3u8_quality quality;
        ck_assert_msg(m3u8_parse_quality(cases[i][0], &quality), "quality '%s' refused", cases[i][0]);
        const m3u8_variant *chosen = m3u8_choose_variant(&playlist, &quality);
        ck_assert_ptr_nonnull(chosen);
        const char *name = strrchr(chosen->uri, '/') + 1;
        ck_assert_msg(strcmp(name, cases[i][1]) == 0, "quality '%s' chose %s, expected %s", cases[i][0], name,
                      cases[i][1]);
    }
    m3u8_free(&playlist);

    /* only audio: it is chosen */
    ck_assert_int_eq(parse_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"mp4a.40.2\"\na.m3u8\n"
                                "#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\"\nb.m3u8\n", &playlist),
                     M3U8_OK);
    m3u8_quality quality;
    ck_assert(m3u8_parse_quality("best", &quality));
    ck_assert_str_eq(strrchr(m3u8_choose_variant(&playlist, &quality)->uri, '/') + 1, "b.m3u8");
    m3u8_free(&playlist);

    static const char *const refused[] = { "", "high", "0p", "720", "720x", "720p0", "720p60x", "-5", "70000p",
                                           "1.5M", " 720p", "720p 60" };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (strcmp(refused[i], "720") == 0) {
            /* a plain number is a bandwidth */
            ck_assert(m3u8_parse_quality(refused[i], &quality) && quality.kind == M3U8_QUALITY_BANDWIDTH &&
                      quality.bandwidth == 720);
            continue;
        }
        ck_assert_msg(!m3u8_parse_quality(refused[i], &quality), "quality '%s' accepted", refused[i]);
    }
}
END_TEST

/* RFC 3986 section 5.4: every normal and abnormal example (fragments are
 * dropped: HTTP never sends them). */
START_TEST(url_resolution)
{
    static const char *const cases[][2] = {
        { "g:h", "g:h" },
        { "g", "http://a/b/c/g" },
        { "./g", "http://a/b/c/g" },
        { "g/", "http://a/b/c/g/" },
        { "/g", "http://a/g" },
        { "//g", "http://g" },
        { "?y", "http://a/b/c/d;p?y" },
        { "g?y", "http://a/b/c/g?y" },
        { "#s", "http://a/b/c/d;p?q" },
        { "g#s", "http://a/b/c/g" },
        { "g?y#s", "http://a/b/c/g?y" },
        { ";x", "http://a/b/c/;x" },
        { "g;x", "http://a/b/c/g;x" },
        { "", "http://a/b/c/d;p?q" },
        { ".", "http://a/b/c/" },
        { "./", "http://a/b/c/" },
        { "..", "http://a/b/" },
        { "../", "http://a/b/" },
        { "../g", "http://a/b/g" },
        { "../..", "http://a/" },
        { "../../", "http://a/" },
        { "../../g", "http://a/g" },
        { "../../../g", "http://a/g" },
        { "../../../../g", "http://a/g" },
        { "/./g", "http://a/g" },
        { "/../g", "http://a/g" },
        { "g.", "http://a/b/c/g." },
        { ".g", "http://a/b/c/.g" },
        { "g..", "http://a/b/c/g.." },
        { "..g", "http://a/b/c/..g" },
        { "./../g", "http://a/b/g" },
        { "./g/.", "http://a/b/c/g/" },
        { "g/./h", "http://a/b/c/g/h" },
        { "g/../h", "http://a/b/c/h" },
        { "g;x=1/./y", "http://a/b/c/g;x=1/y" },
        { "g;x=1/../y", "http://a/b/c/y" },
        { "g?y/./x", "http://a/b/c/g?y/./x" },
        { "g?y/../x", "http://a/b/c/g?y/../x" },
        { "g#s/./x", "http://a/b/c/g" },
        { "http:g", "http:g" },
        /* beyond the RFC: case, spaces, absolute URLs with dots */
        { "HTTPS://Host/x/../y.ts", "https://Host/y.ts" },
        { "a b.ts", "http://a/b/c/a%20b.ts" },
        { "seg\xc3\xa9.ts", "http://a/b/c/seg%C3%A9.ts" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *resolved = hls_url_resolve("http://a/b/c/d;p?q", cases[i][0]);
        ck_assert_msg(resolved && strcmp(resolved, cases[i][1]) == 0, "'%s' resolved to '%s', expected '%s'",
                      cases[i][0], resolved ? resolved : "(null)", cases[i][1]);
        free(resolved);
    }
    /* a base without a path */
    char *resolved = hls_url_resolve("http://host", "seg.ts");
    ck_assert_str_eq(resolved, "http://host/seg.ts");
    free(resolved);
    /* no usable base: the reference as written */
    resolved = hls_url_resolve(NULL, "seg.ts");
    ck_assert_str_eq(resolved, "seg.ts");
    free(resolved);
    /* too long */
    char *long_reference = malloc(HLS_URL_MAX_LENGTH + 1);
    memset(long_reference, 'a', HLS_URL_MAX_LENGTH);
    long_reference[HLS_URL_MAX_LENGTH] = '\0';
    ck_assert_ptr_null(hls_url_resolve("http://a/", long_reference));
    free(long_reference);
}
END_TEST

START_TEST(url_parts_and_redaction)
{
    hls_url_parts parts;
    ck_assert(hls_url_split("https://User:pw@Example.COM:8443/x?y", &parts));
    ck_assert_str_eq(parts.scheme, "https");
    ck_assert_str_eq(parts.host, "example.com");
    ck_assert_int_eq(parts.port, 8443);
    ck_assert(hls_url_split("http://127.0.0.1/x", &parts));
    ck_assert_str_eq(parts.host, "127.0.0.1");
    ck_assert_int_eq(parts.port, 80);
    ck_assert(hls_url_split("HTTPS://[::1]/x", &parts));
    ck_assert_str_eq(parts.host, "::1");
    ck_assert_int_eq(parts.port, 443);
    ck_assert(hls_url_split("http://h:/x", &parts) && parts.port == 80);
    ck_assert(!hls_url_split("http://h:99999/x", &parts));
    ck_assert(!hls_url_split("http://h:8o/x", &parts));
    ck_assert(!hls_url_split("file:///etc/passwd", &parts));
    ck_assert(!hls_url_split("/etc/passwd", &parts));
    ck_assert(!hls_url_split("http://[::1/x", &parts));
    ck_assert(hls_url_split("data://x/y", &parts) && parts.port == 0);
    ck_assert(hls_url_has_scheme("file:x") && !hls_url_has_scheme("1http://x") && !hls_url_has_scheme("a/b:c"));

    char *redacted = hls_url_redact("https://user:secret@host/live/index.m3u8?sig=123&exp=9");
    ck_assert_str_eq(redacted, "https://***@host/live/index.m3u8?...");
    free(redacted);
    redacted = hls_url_redact("http://host/index.m3u8");
    ck_assert_str_eq(redacted, "http://host/index.m3u8");
    free(redacted);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("hls_playlist");
    TCase *parsing = tcase_create("parsing");
    tcase_add_test(parsing, media_playlist_tags);
    tcase_add_test(parsing, vod_endlist_and_types);
    tcase_add_test(parsing, crlf_bom_and_blanks);
    tcase_add_test(parsing, missing_uri);
    tcase_add_test(parsing, bad_numbers);
    tcase_add_test(parsing, not_a_playlist);
    tcase_add_test(parsing, huge_inputs);
    tcase_add_test(parsing, byte_ranges);
    tcase_add_test(parsing, discontinuities_and_dates);
    tcase_add_test(parsing, date_forms);
    tcase_add_test(parsing, master_playlist);
    tcase_add_test(parsing, dateranges_as_json);
    tcase_add_test(parsing, twitch_prefetch);
    tcase_add_test(parsing, maps_and_keys);
    tcase_add_test(parsing, quality_choice);
    suite_add_tcase(suite, parsing);
    TCase *urls = tcase_create("urls");
    tcase_add_test(urls, url_resolution);
    tcase_add_test(urls, url_parts_and_redaction);
    suite_add_tcase(suite, urls);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
