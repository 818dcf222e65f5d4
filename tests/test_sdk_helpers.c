/* The SDK's inline helpers (sdk/streamcut/helpers.h): time arithmetic
 * against 128-bit references, the INI grammar of durations and sizes
 * with its edge cases, packet walkers over a segment and a view, and JSON
 * escaping of hostile bytes. */
#include <check.h>
#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <streamcut/streamcut.h>

/* ---- rescale and time conversion ---- */

/* value * multiplier / divisor rounded half away from zero, in 128 bits;
 * SC_TIME_NONE when it does not fit the helper's range. */
static int64_t reference_rescale(int64_t value, int64_t multiplier, int64_t divisor)
{
    __int128 product = (__int128)value * multiplier;
    __int128 magnitude = product < 0 ? -product : product;
    __int128 quotient = (magnitude + divisor / 2) / divisor;
    if (quotient > INT64_MAX) return SC_TIME_NONE;
    return product < 0 ? -(int64_t)quotient : (int64_t)quotient;
}

START_TEST(rescale_rounds_to_nearest_and_never_overflows)
{
    ck_assert_int_eq(sc_rescale(3, 1, 2), 2);    /* 1.5 -> 2 */
    ck_assert_int_eq(sc_rescale(-3, 1, 2), -2);  /* -1.5 -> -2 */
    ck_assert_int_eq(sc_rescale(5, 1, 3), 2);    /* 1.67 -> 2 */
    ck_assert_int_eq(sc_rescale(4, 1, 3), 1);    /* 1.33 -> 1 */
    ck_assert_int_eq(sc_rescale(0, 7, 3), 0);
    ck_assert_int_eq(sc_rescale(INT64_MAX, 1, 1), INT64_MAX);
    ck_assert_int_eq(sc_rescale(-INT64_MAX, 1, 1), -INT64_MAX);
    /* The product overflows 64 bits; the quotient does not. */
    ck_assert_int_eq(sc_rescale(INT64_MAX / 2, 90000, 1000000000),
                     reference_rescale(INT64_MAX / 2, 90000, 1000000000));
    ck_assert_int_eq(sc_rescale(INT64_MAX, INT64_MAX, INT64_MAX), INT64_MAX);
    ck_assert_int_eq(sc_rescale(-INT64_MAX, INT64_MAX, INT64_MAX), -INT64_MAX);
    /* Results beyond the range, and INT64_MIN (SC_TIME_NONE) itself. */
    ck_assert_int_eq(sc_rescale(INT64_MAX, 2, 1), SC_TIME_NONE);
    ck_assert_int_eq(sc_rescale(INT64_MAX / 2 + 1, 2, 1), SC_TIME_NONE);
    ck_assert_int_eq(sc_rescale(-INT64_MAX, 2, 1), SC_TIME_NONE);
    ck_assert_int_eq(sc_rescale(INT64_MAX, INT64_MAX, 1), SC_TIME_NONE);
    /* Arguments out of range. */
    ck_assert_int_eq(sc_rescale(SC_TIME_NONE, 1, 1), SC_TIME_NONE);
    ck_assert_int_eq(sc_rescale(1, 1, 0), SC_TIME_NONE);
    ck_assert_int_eq(sc_rescale(1, 1, -1), SC_TIME_NONE);
    ck_assert_int_eq(sc_rescale(1, -1, 1), SC_TIME_NONE);

    GRand *rand = g_rand_new_with_seed(8);
    for (int i = 0; i < 200000; i++) {
        /* Values of every magnitude, not only uniformly huge ones. */
        int64_t value = (int64_t)(((uint64_t)g_rand_int(rand) << 32 | g_rand_int(rand)) >> g_rand_int_range(rand, 0, 63));
        if (g_rand_boolean(rand)) value = -value;
        int64_t multiplier = (int64_t)(((uint64_t)g_rand_int(rand) << 32 | g_rand_int(rand)) >> g_rand_int_range(rand, 1, 63));
        int64_t divisor = (int64_t)(((uint64_t)g_rand_int(rand) << 32 | g_rand_int(rand)) >> g_rand_int_range(rand, 1, 63));
        if (divisor == 0) divisor = 1;
        ck_assert_msg(sc_rescale(value, multiplier, divisor) == reference_rescale(value, multiplier, divisor),
                      "%" G_GINT64_FORMAT " * %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT, value, multiplier, divisor);
    }
    g_rand_free(rand);
}
END_TEST

START_TEST(time_bases_convert_both_ways)
{
    ck_assert_int_eq(sc_ts_to_ns(90000, 1, 90000), SC_NSEC_PER_SEC);
    ck_assert_int_eq(sc_ts_to_ns(1, 1, 48000), 20833);            /* 20833.3 */
    ck_assert_int_eq(sc_ts_to_ns(2, 1, 48000), 41667);            /* 41666.7 */
    ck_assert_int_eq(sc_ts_to_ns(-1, 1, 48000), -20833);
    ck_assert_int_eq(sc_ts_to_ns(1, 1001, 30000), 33366667);      /* one NTSC frame */
    ck_assert_int_eq(sc_ns_to_ts(SC_NSEC_PER_SEC, 1, 90000), 90000);
    ck_assert_int_eq(sc_ns_to_ts(33366667, 1001, 30000), 1);
    ck_assert_int_eq(sc_ts_to_ns(SC_TIME_NONE, 1, 90000), SC_TIME_NONE);
    ck_assert_int_eq(sc_ts_to_ns(1, 0, 90000), SC_TIME_NONE);
    ck_assert_int_eq(sc_ts_to_ns(1, 1, 0), SC_TIME_NONE);
    ck_assert_int_eq(sc_ns_to_ts(1, -1, 90000), SC_TIME_NONE);
    /* A 33-bit MPEG-TS clock far past its wrap in a 1 ns base overflows. */
    ck_assert_int_eq(sc_ts_to_ns(INT64_MAX / 2, 1, 1), SC_TIME_NONE);
    /* 90 kHz ticks survive the round trip through nanoseconds. */
    for (int64_t ticks = -1000000; ticks <= 1000000; ticks += 997)
        ck_assert_int_eq(sc_ns_to_ts(sc_ts_to_ns(ticks, 1, 90000), 1, 90000), ticks);
}
END_TEST

START_TEST(seconds_convert_both_ways)
{
    ck_assert(sc_ns_to_seconds(1500000000) == 1.5);
    ck_assert(sc_ns_to_seconds(-250000000) == -0.25);
    ck_assert(sc_ns_to_seconds(0) == 0.0);
    /* 40 days and one ns: the ns survives. */
    int64_t long_ns = INT64_C(3456000000000001);
    ck_assert(sc_seconds_to_ns(sc_ns_to_seconds(long_ns)) == long_ns);
    ck_assert_int_eq(sc_seconds_to_ns(1.5), 1500000000);
    ck_assert_int_eq(sc_seconds_to_ns(-1.5), -1500000000);
    ck_assert_int_eq(sc_seconds_to_ns(1.5e-9), 2);   /* half away from zero */
    ck_assert_int_eq(sc_seconds_to_ns(-1.5e-9), -2);
    ck_assert_int_eq(sc_seconds_to_ns(1.4e-9), 1);
    ck_assert_int_eq(sc_seconds_to_ns(0.4e-9), 0);
    ck_assert_int_eq(sc_seconds_to_ns(9.2e9), INT64_C(9200000000000000000));
    ck_assert_int_eq(sc_seconds_to_ns(9.3e9), SC_TIME_NONE);
    ck_assert_int_eq(sc_seconds_to_ns(-9.3e9), SC_TIME_NONE);
    ck_assert_int_eq(sc_seconds_to_ns(NAN), SC_TIME_NONE);
    ck_assert_int_eq(sc_seconds_to_ns(INFINITY), SC_TIME_NONE);
    ck_assert_int_eq(sc_seconds_to_ns(-INFINITY), SC_TIME_NONE);
}
END_TEST

/* ---- durations and sizes ---- */

typedef struct parse_case {
    const char *text;
    int64_t value;
} parse_case;

START_TEST(durations_parse_exactly)
{
    static const parse_case good[] = {
        {"10", INT64_C(10000000000)},  {"10s", INT64_C(10000000000)}, {"1.5s", 1500000000},
        {"500ms", 500000000},          {"2m", INT64_C(120000000000)}, {"1.5h", INT64_C(5400000000000)},
        {".25s", 250000000},           {"3.", INT64_C(3000000000)},   {"1 ms", 1000000},
        {"250us", 250000},             {"7ns", 7},                    {"0", 0},
        {"1min", INT64_C(60000000000)}, {"2sec", INT64_C(2000000000)}, {"0.1s", 100000000},
        {"0.0000000005s", 1},          {"0.0000000004999s", 0},       {"00012.000s", INT64_C(12000000000)},
        {"1.0000000001s", 1000000000}, {"0.333333333333333333333333h", INT64_C(1200000000000)},
        {"9223372036854775807ns", INT64_MAX}, {"2562047h", INT64_C(9223369200000000000)},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        int64_t ns = -1;
        const char *why = NULL;
        ck_assert_msg(sc_parse_duration(good[i].text, &ns, &why) == SC_OK, "'%s' refused: %s", good[i].text, why);
        ck_assert_msg(ns == good[i].value, "'%s' gave %" G_GINT64_FORMAT, good[i].text, ns);
    }
    /* A length-bounded piece of a list. */
    int64_t ns = 0;
    ck_assert_int_eq(sc_parse_duration_n("10s,20s", 3, &ns, NULL), SC_OK);
    ck_assert_int_eq(ns, INT64_C(10000000000));
}
END_TEST

START_TEST(bad_durations_are_refused_with_a_reason)
{
    static const char *const bad[] = {
        "", "s", ".", "-1s", "+1s", "1e3", "1e3s", "0x10", "inf", "nan", "1.2.3", "10 S", "10MS", "10ss",
        " 10s", "10s ", "1,5s", "10 parsecs", "10\ts", "1h30m", "\xc3\xa9", "10s\n",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        int64_t ns = 42;
        const char *why = NULL;
        ck_assert_msg(sc_parse_duration(bad[i], &ns, &why) == SC_ERR_INVALID, "'%s' accepted", bad[i]);
        ck_assert_int_eq(ns, 42);
        ck_assert_str_eq(why, "expected a duration such as 10, 10s, 500ms, 2m or 1h");
    }
    static const char *const huge[] = {
        "9223372036854775808ns", "2562048h", "99999999999999999999999s", "9223372036.854775808s",
        "184467440737095516160000000000000000000000",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(huge); i++) {
        int64_t ns = 42;
        const char *why = NULL;
        ck_assert_msg(sc_parse_duration(huge[i], &ns, &why) == SC_ERR_INVALID, "'%s' accepted", huge[i]);
        ck_assert_str_eq(why, "duration too large");
        ck_assert_int_eq(ns, 42);
    }
    int64_t ns;
    ck_assert_int_eq(sc_parse_duration(NULL, &ns, NULL), SC_ERR_INVALID);
    /* NUL inside the counted bytes is not a unit. */
    ck_assert_int_eq(sc_parse_duration_n("10s\0", 4, &ns, NULL), SC_ERR_INVALID);
}
END_TEST

START_TEST(sizes_parse_in_both_unit_systems)
{
    static const parse_case good[] = {
        {"1024", 1024}, {"64k", 64000}, {"64K", 64000}, {"64kB", 64000}, {"200MB", 200000000},
        {"1GiB", INT64_C(1073741824)}, {"1.5M", 1500000}, {"1.5mib", 1572864}, {"2 Ki", 2048},
        {"0.5b", 1}, {"0.4B", 0}, {"3g", INT64_C(3000000000)}, {"0", 0},
        {"8589934591.999999999gib", INT64_MAX},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        int64_t bytes = -1;
        const char *why = NULL;
        ck_assert_msg(sc_parse_size(good[i].text, &bytes, &why) == SC_OK, "'%s' refused: %s", good[i].text, why);
        ck_assert_msg(bytes == good[i].value, "'%s' gave %" G_GINT64_FORMAT, good[i].text, bytes);
    }
    static const char *const bad[] = {"", "1TB", "-1", "1 GB x", "GiB", "1e6", "1k ", "1kk", "1 k b"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        int64_t bytes = 42;
        const char *why = NULL;
        ck_assert_msg(sc_parse_size(bad[i], &bytes, &why) == SC_ERR_INVALID, "'%s' accepted", bad[i]);
        ck_assert_str_eq(why, "expected a size such as 1024, 64k, 200MB or 1GiB");
        ck_assert_int_eq(bytes, 42);
    }
    int64_t bytes;
    const char *why = NULL;
    ck_assert_int_eq(sc_parse_size("8589934592gib", &bytes, &why), SC_ERR_INVALID);  /* 2^63 */
    ck_assert_str_eq(why, "size too large");
    ck_assert_int_eq(sc_parse_size("9223372036854775808", &bytes, &why), SC_ERR_INVALID);
    ck_assert_str_eq(why, "size too large");
}
END_TEST

/* ---- packet walkers ---- */

/* A view, as the host's opaque type, over a plain array for this test. */
struct sc_view {
    const sc_packet *const *packets;
    size_t count;
};

static size_t fake_view_count(const sc_view *view) { return view->count; }
static const sc_packet *fake_view_packet(const sc_view *view, size_t index)
{
    return index < view->count ? view->packets[index] : NULL;
}

START_TEST(walkers_filter_by_stream_and_media)
{
    /* Streams: 0 video, 1 audio, 2 audio, 3 data; packets interleaved. */
    static const uint32_t stream_of[] = {0, 1, 2, 0, 3, 1, 0, 2, 7};
    static const uint32_t media_of[] = {SC_MEDIA_VIDEO, SC_MEDIA_AUDIO, SC_MEDIA_AUDIO, SC_MEDIA_DATA};
    enum { PACKETS = G_N_ELEMENTS(stream_of) };
    sc_packet storage[PACKETS];
    const sc_packet *packets[PACKETS];
    memset(storage, 0, sizeof storage);
    for (size_t i = 0; i < PACKETS; i++) {
        storage[i].struct_size = sizeof(sc_packet);
        storage[i].stream_index = stream_of[i];
        storage[i].media_type = stream_of[i] < 4 ? media_of[stream_of[i]] : SC_MEDIA_UNKNOWN;
        storage[i].seq = i;
        packets[i] = &storage[i];
    }
    sc_stream_info infos[4];
    const sc_stream_info *streams[4];
    memset(infos, 0, sizeof infos);
    for (size_t i = 0; i < 4; i++) {
        infos[i].struct_size = sizeof(sc_stream_info);
        infos[i].index = (uint32_t)i;
        infos[i].media_type = media_of[i];
        streams[i] = &infos[i];
    }
    sc_segment segment;
    memset(&segment, 0, sizeof segment);
    segment.struct_size = sizeof segment;
    segment.packets = packets;
    segment.packet_count = PACKETS;
    segment.streams = streams;
    segment.stream_count = 4;

    GString *seen = g_string_new(NULL);
    size_t at = 0;
    const sc_packet *packet;
    while ((packet = sc_segment_next_packet(&segment, &at, SC_ANY_STREAM, SC_ANY_MEDIA)) != NULL)
        g_string_append_printf(seen, "%" G_GUINT64_FORMAT " ", packet->seq);
    ck_assert_str_eq(seen->str, "0 1 2 3 4 5 6 7 8 ");
    ck_assert_uint_eq(at, PACKETS);
    ck_assert_ptr_null(sc_segment_next_packet(&segment, &at, SC_ANY_STREAM, SC_ANY_MEDIA));

    g_string_truncate(seen, 0);
    at = 0;
    while ((packet = sc_segment_next_packet(&segment, &at, SC_ANY_STREAM, SC_MEDIA_AUDIO)) != NULL)
        g_string_append_printf(seen, "%" G_GUINT64_FORMAT " ", packet->seq);
    ck_assert_str_eq(seen->str, "1 2 5 7 ");

    g_string_truncate(seen, 0);
    at = 0;
    while ((packet = sc_segment_next_packet(&segment, &at, 2, SC_ANY_MEDIA)) != NULL)
        g_string_append_printf(seen, "%" G_GUINT64_FORMAT " ", packet->seq);
    ck_assert_str_eq(seen->str, "2 7 ");

    at = 0;
    ck_assert_ptr_null(sc_segment_next_packet(&segment, &at, 0, SC_MEDIA_AUDIO));  /* contradictory */
    at = 0;
    ck_assert_ptr_null(sc_segment_next_packet(&segment, &at, -5, SC_ANY_MEDIA));
    ck_assert_ptr_null(sc_segment_next_packet(NULL, &at, SC_ANY_STREAM, SC_ANY_MEDIA));
    ck_assert_ptr_null(sc_segment_next_packet(&segment, NULL, SC_ANY_STREAM, SC_ANY_MEDIA));

    ck_assert_int_eq(sc_segment_find_stream(&segment, SC_MEDIA_AUDIO), 1);
    ck_assert_int_eq(sc_segment_find_stream(&segment, SC_MEDIA_DATA), 3);
    ck_assert_int_eq(sc_segment_find_stream(&segment, SC_MEDIA_SUBTITLE), -1);
    ck_assert_ptr_eq(sc_segment_stream(&segment, packets[4]), &infos[3]);
    ck_assert_ptr_null(sc_segment_stream(&segment, packets[8]));  /* index 7: no such stream */

    /* The same walk through a view and the host's accessors. */
    sc_host_api host;
    memset(&host, 0, sizeof host);
    host.struct_size = sizeof host;
    host.view_count = fake_view_count;
    host.view_packet = fake_view_packet;
    sc_view view = {packets, PACKETS};
    g_string_truncate(seen, 0);
    at = 0;
    while ((packet = sc_view_next_packet(&host, &view, &at, SC_ANY_STREAM, SC_MEDIA_VIDEO)) != NULL)
        g_string_append_printf(seen, "%" G_GUINT64_FORMAT " ", packet->seq);
    ck_assert_str_eq(seen->str, "0 3 6 ");
    at = 0;
    ck_assert_ptr_null(sc_view_next_packet(&host, NULL, &at, SC_ANY_STREAM, SC_ANY_MEDIA));
    g_string_free(seen, TRUE);
}
END_TEST

/* ---- JSON escaping ---- */

static char *escape(const char *text, size_t length)
{
    size_t needed = sc_json_escape(NULL, 0, text, length);
    char *out = g_malloc(needed + 1);
    ck_assert_uint_eq(sc_json_escape(out, needed + 1, text, length), needed);
    ck_assert_uint_eq(strlen(out), needed);
    return out;
}

static void expect_escape(const char *text, size_t length, const char *expected)
{
    char *out = escape(text, length);
    ck_assert_msg(strcmp(out, expected) == 0, "got '%s', expected '%s'", out, expected);
    g_free(out);
}

#define EXPECT_ESCAPE(literal, expected) expect_escape(literal, sizeof(literal) - 1, expected)

/* What a JSON parser would demand of a string's inside. */
static void assert_valid_json_string_body(const char *out)
{
    ck_assert_msg(g_utf8_validate(out, -1, NULL), "not UTF-8: %s", out);
    for (const char *p = out; *p; p++) {
        ck_assert_msg((unsigned char)*p >= 0x20, "raw control byte in %s", out);
        ck_assert_msg(*p != '"', "bare quote in %s", out);
        if (*p == '\\') {
            p++;
            ck_assert_msg(*p && strchr("\"\\/bfnrtu", *p), "bad escape in %s", out);
            if (*p == 'u')
                for (int k = 1; k <= 4; k++) ck_assert(g_ascii_isxdigit(p[k]));
        }
    }
}

/* A source's streams, as the host's stream_count/stream_get give them. */
static const sc_stream_info *fake_streams;
static size_t fake_stream_count;
static size_t fake_count(sc_ctx *ctx) { (void)ctx; return fake_stream_count; }
static const sc_stream_info *fake_get(sc_ctx *ctx, size_t index)
{
    (void)ctx;
    return index < fake_stream_count ? &fake_streams[index] : NULL;
}

START_TEST(reference_stream_is_the_first_video_else_the_first_audio)
{
    sc_host_api host;
    memset(&host, 0, sizeof host);
    host.struct_size = sizeof host;
    host.stream_count = fake_count;
    host.stream_get = fake_get;
    sc_stream_info streams[4];
    memset(streams, 0, sizeof streams);
    streams[0].media_type = SC_MEDIA_DATA;
    streams[1].media_type = SC_MEDIA_AUDIO;
    streams[2].media_type = SC_MEDIA_AUDIO;
    streams[3].media_type = SC_MEDIA_VIDEO;
    fake_streams = streams;
    fake_stream_count = 4;
    ck_assert_int_eq(sc_reference_stream(&host, NULL), 3);
    fake_stream_count = 3; /* no video: the first audio */
    ck_assert_int_eq(sc_reference_stream(&host, NULL), 1);
    fake_stream_count = 1; /* data only */
    ck_assert_int_eq(sc_reference_stream(&host, NULL), -1);
    fake_stream_count = 0;
    ck_assert_int_eq(sc_reference_stream(&host, NULL), -1);
    host.stream_get = NULL; /* a host without the accessors */
    ck_assert_int_eq(sc_reference_stream(&host, NULL), -1);
}
END_TEST

START_TEST(json_escaping_handles_controls_and_bad_utf8)
{
    EXPECT_ESCAPE("plain text", "plain text");
    EXPECT_ESCAPE("", "");
    EXPECT_ESCAPE("say \"hi\" \\ bye", "say \\\"hi\\\" \\\\ bye");
    EXPECT_ESCAPE("a\nb\rc\td\be\ff", "a\\nb\\rc\\td\\be\\ff");
    EXPECT_ESCAPE("\x01\x1f", "\\u0001\\u001f");
    EXPECT_ESCAPE("nul\0byte", "nul\\u0000byte");
    EXPECT_ESCAPE("del\x7f", "del\x7f");
    EXPECT_ESCAPE("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    /* Each ill-formed run is one U+FFFD. */
    EXPECT_ESCAPE("a\x80z", "a\xef\xbf\xbdz");
    EXPECT_ESCAPE("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");                   /* overlong '/' */
    EXPECT_ESCAPE("\xe0\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");   /* overlong NUL */
    EXPECT_ESCAPE("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");   /* surrogate */
    EXPECT_ESCAPE("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* > U+10FFFF */
    EXPECT_ESCAPE("end\xe2\x82", "end\xef\xbf\xbd");                         /* cut short */
    EXPECT_ESCAPE("\xe2\x82z", "\xef\xbf\xbdz");
    EXPECT_ESCAPE("\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd");

    ck_assert(sc_utf8_valid("caf\xc3\xa9", 5));
    ck_assert(sc_utf8_valid("", 0));
    ck_assert(!sc_utf8_valid("caf\xc3", 4));
    ck_assert(!sc_utf8_valid("\xed\xa0\x80", 3));
}
END_TEST

START_TEST(json_escaping_truncates_whole_pieces_only)
{
    char out[8];
    /* 'a' fits, the two-byte escape of '"' does not: the output stops before it. */
    ck_assert_uint_eq(sc_json_escape(out, 3, "a\"b", 3), 4);
    ck_assert_str_eq(out, "a");
    ck_assert_uint_eq(sc_json_escape(out, 5, "a\"b", 3), 4);
    ck_assert_str_eq(out, "a\\\"b");
    /* A multi-byte character is never split. */
    ck_assert_uint_eq(sc_json_escape(out, 3, "x\xe2\x82\xac", 4), 4);
    ck_assert_str_eq(out, "x");
    /* Once something did not fit, nothing after it is written either. */
    ck_assert_uint_eq(sc_json_escape(out, 4, "\x01" "ab", 3), 8);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(sc_json_escape(out, 1, "abc", 3), 3);
    ck_assert_str_eq(out, "");
    /* Measuring only. */
    ck_assert_uint_eq(sc_json_escape(NULL, 0, "\n\n", 2), 4);
    ck_assert_uint_eq(sc_json_escape(NULL, 0, NULL, 0), 0);
}
END_TEST

START_TEST(json_escaping_of_random_bytes_is_valid_json)
{
    GRand *rand = g_rand_new_with_seed(11);
    char input[64];
    for (int round = 0; round < 20000; round++) {
        size_t length = (size_t)g_rand_int_range(rand, 0, sizeof input);
        for (size_t i = 0; i < length; i++) {
            /* Mostly the interesting bytes: controls, quotes, high bytes. */
            static const char pool[] = "\"\\\n\x01\x7f\x80\xbf\xc2\xe0\xed\xf0\xf4\xff" "aZ";
            input[i] = g_rand_boolean(rand) ? pool[g_rand_int_range(rand, 0, sizeof pool - 1)]
                                            : (char)g_rand_int_range(rand, 0, 256);
        }
        char *out = escape(input, length);
        assert_valid_json_string_body(out);
        /* A well-formed input comes back unchanged after unescaping. */
        if (sc_utf8_valid(input, length) && !memchr(input, '\\', length) && !memchr(input, '"', length)) {
            int plain = 1;
            for (size_t i = 0; i < length; i++)
                if ((unsigned char)input[i] < 0x20) plain = 0;
            if (plain) ck_assert(strlen(out) == length && memcmp(out, input, length) == 0);
        }
        /* Every truncation is a valid prefix too. */
        char cut[16];
        size_t cut_size = (size_t)g_rand_int_range(rand, 1, sizeof cut);
        sc_json_escape(cut, cut_size, input, length);
        ck_assert(strncmp(cut, out, strlen(cut)) == 0);
        assert_valid_json_string_body(cut);
        g_free(out);
    }
    g_rand_free(rand);
}
END_TEST

/* ---- pacing ---- */

static int64_t fake_clock_ns;
static int64_t fake_monotonic_ns(void) { return fake_clock_ns; }
static int stop_after_calls(void *opaque)
{
    int *calls_left = opaque;
    fake_clock_ns += 1000;   /* time passes between checks */
    return --*calls_left < 0;
}

START_TEST(wait_until_returns_when_due_or_stopped)
{
    sc_host_api host;
    memset(&host, 0, sizeof host);
    host.monotonic_ns = fake_monotonic_ns;
    fake_clock_ns = 0;
    int calls_left = 100;
    ck_assert_int_eq(sc_wait_until(&host, 5000, 100, stop_after_calls, &calls_left), SC_OK);
    ck_assert_int_ge(fake_clock_ns, 5000);
    fake_clock_ns = 0;
    calls_left = 2;
    ck_assert_int_eq(sc_wait_until(&host, INT64_C(1) << 40, 1, stop_after_calls, &calls_left), SC_ERR_STOPPED);
    ck_assert_int_eq(sc_wait_until(&host, 0, 1, NULL, NULL), SC_OK);

    /* The real sleep: at least as long as asked. */
    gint64 before = g_get_monotonic_time();
    sc_sleep_ns(20 * SC_NSEC_PER_MSEC);
    ck_assert_int_ge(g_get_monotonic_time() - before, 20000);
    sc_sleep_ns(-1);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("sdk_helpers");
    TCase *tcase = tcase_create("helpers");
    tcase_add_test(tcase, rescale_rounds_to_nearest_and_never_overflows);
    tcase_add_test(tcase, time_bases_convert_both_ways);
    tcase_add_test(tcase, seconds_convert_both_ways);
    tcase_add_test(tcase, durations_parse_exactly);
    tcase_add_test(tcase, bad_durations_are_refused_with_a_reason);
    tcase_add_test(tcase, sizes_parse_in_both_unit_systems);
    tcase_add_test(tcase, walkers_filter_by_stream_and_media);
    tcase_add_test(tcase, reference_stream_is_the_first_video_else_the_first_audio);
    tcase_add_test(tcase, json_escaping_handles_controls_and_bad_utf8);
    tcase_add_test(tcase, json_escaping_truncates_whole_pieces_only);
    tcase_add_test(tcase, json_escaping_of_random_bytes_is_valid_json);
    tcase_add_test(tcase, wait_until_returns_when_due_or_stopped);
    suite_add_tcase(suite, tcase);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
