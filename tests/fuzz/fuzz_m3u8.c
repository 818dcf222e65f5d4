/* Fuzz target for the hls source's playlist parser and URL helpers.
 *
 * Built two ways:
 * - `make fuzz`: clang -fsanitize=fuzzer,address,undefined; libFuzzer
 *   drives LLVMFuzzerTestOneInput with arbitrary bytes.
 * - with FUZZ_REPLAY_MAIN (any compiler, `make check`): a main() that runs
 *   every file named on the command line, or every file of a folder given
 *   as an argument, or of FUZZ_DEFAULT_CORPUS when there are no arguments,
 *   through the same function. The committed corpus thus stays a
 *   regression test under the sanitizer build of CI.
 *
 * What it checks beyond "no crash, no leak, no undefined behaviour": a
 * playlist that parses has internally consistent results (sequence numbers
 * consecutive, indexes in range, durations non-negative), and every
 * daterange turns into JSON. */
#include "m3u8.h"
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_m3u8: invariant broken: %s\n", what);
        abort();
    }
}

static void check_playlist(const m3u8_playlist *playlist)
{
    for (size_t i = 0; i < playlist->segment_count; i++) {
        const m3u8_segment *segment = &playlist->segments[i];
        check(segment->uri != NULL, "segment without URI");
        check(segment->sequence == playlist->media_sequence + (int64_t)i, "sequence numbers not consecutive");
        check(segment->duration_ns >= 0, "negative duration");
        check(segment->map_index >= -1 && segment->map_index < (int)playlist->map_count, "map index");
        check(segment->key_index >= -1 && segment->key_index < (int)playlist->key_count, "key index");
        check(segment->range_length == -1 || segment->range_length > 0, "range length");
        check(segment->discontinuity_sequence >= playlist->discontinuity_sequence, "discontinuity sequence");
    }
    for (size_t i = 0; i < playlist->variant_count; i++)
        check(playlist->variants[i].uri != NULL && playlist->variants[i].bandwidth >= 0, "variant");
    static const char *const qualities[] = { "best", "worst", "720p", "720p60", "3000k" };
    for (size_t i = 0; i < sizeof(qualities) / sizeof(qualities[0]); i++) {
        m3u8_quality quality;
        check(m3u8_parse_quality(qualities[i], &quality), "quality");
        const m3u8_variant *chosen = m3u8_choose_variant(playlist, &quality);
        check((chosen != NULL) == (playlist->variant_count > 0), "a variant is chosen when there is one");
    }
    for (size_t i = 0; i < playlist->daterange_count; i++) {
        const m3u8_daterange *range = &playlist->dateranges[i];
        check(range->id != NULL, "daterange without ID");
        char *json = m3u8_attributes_json(range->attributes, range->attribute_count);
        check(json != NULL && json[0] == '{', "daterange JSON");
        free(json);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const m3u8_limits limits = { .max_bytes = 4 * 1024 * 1024, .max_entries = 10000 };
    m3u8_playlist playlist;
    /* Two bases: an ordinary one, and none (URIs kept as written). */
    if (m3u8_parse((const char *)data, size, "http://example.com/live/a/index.m3u8?t=1", &limits, &playlist) ==
        M3U8_OK)
        check_playlist(&playlist);
    m3u8_free(&playlist);
    if (m3u8_parse((const char *)data, size, NULL, &limits, &playlist) == M3U8_OK)
        check_playlist(&playlist);
    m3u8_free(&playlist);

    /* The URL helpers on the raw text: the first line is the base, the
     * second the reference. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *reference = strchr(text, '\n');
    if (reference)
        *reference++ = '\0';
    else
        reference = text;
    char *resolved = hls_url_resolve(text, reference);
    if (resolved) {
        hls_url_parts parts;
        if (hls_url_split(resolved, &parts))
            check(parts.host[0] != '\0', "empty host");
        char *redacted = hls_url_redact(resolved);
        check(redacted != NULL, "redact");
        free(redacted);
        free(resolved);
    }
    int64_t value;
    m3u8_parse_date(text, strlen(text), &value);
    m3u8_parse_seconds(text, strlen(text), true, INT64_C(86400000000000), &value);
    m3u8_quality quality;
    m3u8_parse_quality(text, &quality);
    m3u8_attribute attribute = { .name = "X", .value = text, .quoted = false };
    char *json = m3u8_attributes_json(&attribute, 1);
    check(json != NULL, "attribute JSON");
    free(json);
    free(text);
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include <dirent.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        perror(path);
        return 1;
    }
    size_t capacity = 4096, size = 0;
    uint8_t *data = malloc(capacity);
    size_t got;
    while (data && (got = fread(data + size, 1, capacity - size, file)) > 0) {
        size += got;
        if (size == capacity) {
            capacity *= 2;
            uint8_t *grown = realloc(data, capacity);
            if (!grown) {
                free(data);
                data = NULL;
            }
            data = grown;
        }
    }
    fclose(file);
    if (!data) {
        fprintf(stderr, "%s: out of memory\n", path);
        return 1;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, int *files)
{
    struct stat info;
    if (stat(path, &info) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(info.st_mode)) {
        (*files)++;
        return run_file(path);
    }
    DIR *folder = opendir(path);
    if (!folder) {
        perror(path);
        return 1;
    }
    char **names = NULL;
    size_t count = 0, capacity = 0;
    struct dirent *entry;
    int failures = 0;
    while ((entry = readdir(folder)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        if (count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            char **grown = realloc(names, capacity * sizeof(*names));
            if (!grown) {
                failures++;
                break;
            }
            names = grown;
        }
        size_t length = strlen(path) + strlen(entry->d_name) + 2;
        names[count] = malloc(length);
        if (!names[count]) {
            failures++;
            break;
        }
        snprintf(names[count], length, "%s/%s", path, entry->d_name);
        count++;
    }
    closedir(folder);
    if (count)
        qsort(names, count, sizeof(*names), compare_names);
    for (size_t i = 0; i < count; i++) {
        failures += run_path(names[i], files);
        free(names[i]);
    }
    free(names);
    return failures;
}

int main(int argc, char **argv)
{
    int failures = 0, files = 0;
    if (argc < 2) {
#ifdef FUZZ_DEFAULT_CORPUS
        failures += run_path(FUZZ_DEFAULT_CORPUS, &files);
#else
        fprintf(stderr, "usage: %s FILE|FOLDER...\n", argv[0]);
        return 2;
#endif
    }
    for (int i = 1; i < argc; i++)
        failures += run_path(argv[i], &files);
    printf("replayed %d input(s), %d unreadable\n", files, failures);
    if (files == 0)
        return 1;
    return failures ? 1 : 0;
}
#endif
