#!/bin/bash
# The SDK headers stand alone and compile cleanly as C and C++:
#
# - each header of sdk/streamcut, included alone (twice: its guard holds),
#   compiles with -Wall -Wextra -pedantic -Werror plus the conversion,
#   shadowing and prototype warnings, as C99, C11 and C17 (strict ISO, and
#   with POSIX, which adds the pacing helpers) and as C++11, C++14, C++17
#   and C++20, with GCC and with Clang when installed;
# - a small module written in each language (descriptor, ops, every
#   helper) compiles the same way: the SDK is usable from both, not only
#   parseable.
#
# Exit status: 0 pass, 1 fail, 77 skip (no C or C++ compiler at all).
set -euo pipefail

script_dir=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${abs_top_srcdir:-$script_dir/..}" && pwd)
sdk=$top_srcdir/sdk

failures=0
checks=0
pass() { checks=$((checks + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-headers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

warnings="-Wall -Wextra -pedantic -Werror -Wconversion -Wsign-conversion -Wshadow -Wcast-qual -Wundef"
c_warnings="$warnings -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition"
cxx_warnings="$warnings"

c_compilers=()
cxx_compilers=()
for compiler in gcc clang; do command -v "$compiler" >/dev/null 2>&1 && c_compilers+=("$compiler"); done
for compiler in g++ clang++; do command -v "$compiler" >/dev/null 2>&1 && cxx_compilers+=("$compiler"); done
if [ ${#c_compilers[@]} -eq 0 ] || [ ${#cxx_compilers[@]} -eq 0 ]; then
    echo "SKIP: needs a C and a C++ compiler (Debian packages gcc, g++)"
    exit 77
fi

# compile COMPILER FLAGS... FILE: one check, its errors shown when it fails.
compile() {
    local file=${*: -1}
    if "$@" -fsyntax-only -I"$sdk" 2>"$tmp/errors"; then
        pass
    else
        fail "$(basename "$file") with ${*:1:$#-1}"
        sed 's/^/    /' "$tmp/errors" | head -n 20
    fi
}

# compile_everywhere C_FILE CXX_FILE C_VARIANTS: the C file with every C
# compiler and standard, once per variant of flags (each a word list; ""
# for none), the C++ file with every C++ compiler and standard.
compile_everywhere() {
    local compiler standard variant
    for compiler in "${c_compilers[@]}"; do
        for standard in c99 c11 c17; do
            for variant in "${@:3}"; do
                # shellcheck disable=SC2086 # flag lists split into words
                compile "$compiler" -std=$standard $variant $c_warnings "$1"
            done
        done
    done
    for compiler in "${cxx_compilers[@]}"; do
        for standard in c++11 c++14 c++17 c++20; do
            # shellcheck disable=SC2086
            compile "$compiler" -std=$standard $cxx_warnings "$2"
        done
    done
}

for header in "$sdk"/streamcut/*.h; do
    name=$(basename "$header")
    printf '#include <streamcut/%s>\n#include <streamcut/%s>\n' "$name" "$name" >"$tmp/alone.c"
    cp "$tmp/alone.c" "$tmp/alone.cpp"
    compile_everywhere "$tmp/alone.c" "$tmp/alone.cpp" "" "-D_POSIX_C_SOURCE=200809L"
done

# A module in C, as the SDK's comments show it.
cat >"$tmp/module.c" <<'MODULE'
#include <streamcut/streamcut.h>

static const sc_option_spec options[] = {
    {.name = "every", .type = SC_OPT_DURATION, .default_value = "10s", .help = "window length"},
    {0},
};

static int create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    static int state;
    int64_t ns = 0, bytes = 0;
    const char *why = NULL;
    char escaped[64];
    size_t at = 0;
    if (sc_parse_duration("1.5s", &ns, &why) != SC_OK || sc_parse_size("64k", &bytes, &why) != SC_OK) return SC_ERR_INVALID;
    (void)sc_rescale(ns, 90000, SC_NSEC_PER_SEC);
    (void)sc_ts_to_ns(1, 1, 90000);
    (void)sc_ns_to_ts(ns, 1, 90000);
    (void)sc_seconds_to_ns(sc_ns_to_seconds(ns));
    (void)sc_json_escape(escaped, sizeof escaped, "a\"b", 3);
    (void)sc_utf8_valid(escaped, 3);
    (void)sc_view_next_packet(host, NULL, &at, SC_ANY_STREAM, SC_ANY_MEDIA);
    host->log(ctx, SC_LOG_INFO, "window %lld ns", (long long)host->option_duration(ctx, "every"));
    *instance = &state;
    return SC_OK;
}

static void destroy(void *instance) { (void)instance; }

static int consume(void *instance, const sc_segment *segment)
{
    size_t at = 0;
    const sc_packet *packet;
    (void)instance;
    while ((packet = sc_segment_next_packet(segment, &at, SC_ANY_STREAM, SC_MEDIA_VIDEO)) != NULL)
        (void)sc_segment_stream(segment, packet);
    return sc_segment_find_stream(segment, SC_MEDIA_AUDIO) >= 0 ? SC_OK : SC_ERR_NOT_FOUND;
}

static const sc_sink_ops ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = create,
    .destroy = destroy,
    .consume = consume,
};

static const sc_module_descriptor module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SINK,
    .name = "header_check",
    .version = "1",
    .description = "compiles",
    .options = options,
    .ops = &ops,
};

SC_MODULE_DEFINE(module)
MODULE

# The same module in C++: aggregates in declaration order.
cat >"$tmp/module.cpp" <<'MODULE'
#include <streamcut/streamcut.h>

namespace {

const sc_option_spec options[] = {
    {"every", SC_OPT_DURATION, 0, "10s", "window length", 0, 0, nullptr},
    {nullptr, 0, 0, nullptr, nullptr, 0, 0, nullptr},
};

int create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    static int state;
    int64_t ns = 0;
    const char *why = nullptr;
    char escaped[64];
    if (sc_parse_duration("1.5s", &ns, &why) != SC_OK) return SC_ERR_INVALID;
    (void)sc_rescale(ns, 90000, SC_NSEC_PER_SEC);
    (void)sc_json_escape(escaped, sizeof escaped, "a\"b", 3);
    host->log(ctx, SC_LOG_INFO, "window %lld ns", static_cast<long long>(host->option_duration(ctx, "every")));
    *instance = &state;
    return SC_OK;
}

void destroy(void *) {}

int consume(void *, const sc_segment *segment)
{
    size_t at = 0;
    while (sc_segment_next_packet(segment, &at, SC_ANY_STREAM, SC_MEDIA_VIDEO) != nullptr) {
    }
    return SC_OK;
}

const sc_sink_ops ops = {sizeof(sc_sink_ops), create, destroy, nullptr, consume, nullptr, nullptr, nullptr};

const sc_module_descriptor module = {
    sizeof(sc_module_descriptor), SC_ABI_MAJOR, SC_ABI_MINOR, SC_MODULE_SINK, 0, "header_check", "1",
    "compiles", options, sizeof(sc_option_spec), 0, &ops,
};

}  // namespace

SC_MODULE_DEFINE(module)
MODULE

compile_everywhere "$tmp/module.c" "$tmp/module.cpp" "-D_POSIX_C_SOURCE=200809L"

echo "$checks compilations clean, $failures failed (compilers: ${c_compilers[*]} ${cxx_compilers[*]})"
exit $((failures > 0))
