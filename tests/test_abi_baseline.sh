#!/bin/bash
# The SDK's ABI against its baselines, with abidw/abidiff (Debian's
# abigail-tools) and tests/abi/abi_layout.py (see sdk/ABI.md):
#
# - every struct, enum and typedef the ABI headers declare is in the probe
#   (tests/abi/abi_probe.c), so none escapes the check;
# - the current headers keep ABI 1.1 as stored in
#   tests/abi/sdk-abi-1.1.abixml, and ABI 1.0 as the frozen headers in
#   tests/abi/1.0 describe it;
# - a copy of the headers with a deliberate break fails (a member inserted
#   mid-struct, one retyped, two swapped, the last op removed, an
#   enumerator renumbered, a callback's signature changed, a typedef
#   changed), and a copy with compatible additions passes (a member at the
#   end of sc_stream_info, an op at the end of sc_sink_ops, a function at
#   the end of sc_host_api, a new enumerator, a new struct).
#
# `tests/test_abi_baseline.sh --write-baseline` (make abi-baseline) stores
# the current headers' ABI as tests/abi/sdk-abi-MAJOR.MINOR.abixml: only
# when a minor version is released (sdk/ABI.md).
#
# Exit status: 0 pass, 1 fail, 77 skip (abigail-tools missing, outside CI).
set -euo pipefail

script_dir=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${abs_top_srcdir:-$script_dir/..}" && pwd)
abi_dir=$top_srcdir/tests/abi
cc=${CC:-cc}

for tool in abidw abidiff python3 "$cc"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        if [ "${CI:-}" = true ]; then
            echo "FAIL: $tool not found (scripts/install-deps installs abigail-tools)"
            exit 1
        fi
        echo "SKIP: $tool not found (Debian package abigail-tools)"
        exit 77
    fi
done

failures=0
pass() { echo "ok:   $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# abi_of INCLUDE_DIR OUT: the ABI of the headers in INCLUDE_DIR/streamcut.
abi_of() {
    local name
    name=$(basename "$2" .abixml)
    # Compiled from its own folder, so the file's name in the debug
    # information is the same on every machine.
    (cd "$abi_dir" && "$cc" -std=c11 -g -O0 -shared -fPIC -I"$1" abi_probe.c -o "$tmp/$name.so")
    abidw --no-show-locs --no-corpus-path --no-comp-dir-path "$tmp/$name.so" >"$2"
}

# keeps OLD NEW: whether the ABI in NEW keeps the one in OLD; the reasons
# go to $tmp/why.
keeps() {
    local status=0
    abidiff --no-added-syms --suppressions "$abi_dir/sdk-abi.suppr" "$1" "$2" >"$tmp/why" 2>&1 || status=$?
    python3 "$abi_dir/abi_layout.py" "$1" "$2" >>"$tmp/why" 2>&1 || status=1
    return "$status"
}

version=$(sed -n 's/^#define SC_ABI_MAJOR \([0-9]*\).*/\1/p' "$top_srcdir/sdk/streamcut/abi.h").$(
    sed -n 's/^#define SC_ABI_MINOR \([0-9]*\).*/\1/p' "$top_srcdir/sdk/streamcut/abi.h")

if [ "${1:-}" = --write-baseline ]; then
    abi_of "$top_srcdir/sdk" "$abi_dir/sdk-abi-$version.abixml"
    echo "wrote $abi_dir/sdk-abi-$version.abixml"
    exit 0
fi

# Every type of the ABI headers is probed (helpers.h is not ABI).
for header in "$top_srcdir"/sdk/streamcut/*.h; do
    case $(basename "$header") in helpers.h|streamcut.h) continue ;; esac
    for type in $(sed -n -e 's/^typedef struct \([a-z_0-9]*\).*/\1/p' -e 's/^enum \([a-z_0-9]*\).*/\1/p' \
                         -e 's/^typedef [^(]*(\*\([a-z_0-9]*\)).*/\1/p' "$header"); do
        if grep -q "PROBE\(_ENUM\)\?($type)" "$abi_dir/abi_probe.c"; then :; else
            fail "$(basename "$header"): $type is not in tests/abi/abi_probe.c"
        fi
    done
done

abi_of "$top_srcdir/sdk" "$tmp/current.abixml"
abi_of "$abi_dir/1.0" "$tmp/frozen-1.0.abixml"

baselines=0
for baseline in "$abi_dir"/sdk-abi-*.abixml; do
    [ -e "$baseline" ] || continue
    baselines=$((baselines + 1))
    if keeps "$baseline" "$tmp/current.abixml"; then
        pass "the current headers keep $(basename "$baseline")"
    else
        fail "the current headers break $(basename "$baseline"):"
        cat "$tmp/why"
    fi
done
[ -e "$abi_dir/sdk-abi-$version.abixml" ] ||
    fail "no stored baseline for ABI $version (run make abi-baseline when releasing a minor version)"
if keeps "$tmp/frozen-1.0.abixml" "$tmp/current.abixml"; then
    pass "the current headers keep ABI 1.0 (tests/abi/1.0)"
else
    fail "the current headers break ABI 1.0 (tests/abi/1.0):"
    cat "$tmp/why"
fi

# variant NAME EDITS: a copy of the current headers, edited. EDITS has one
# edit a line, FILE|OLD|NEW, with \n for a newline inside OLD or NEW; each
# OLD must exist, so a header change cannot make a case vacuous.
variant() {
    rm -rf "${tmp:?}/$1"
    mkdir -p "$tmp/$1"
    cp -r "$top_srcdir/sdk/streamcut" "$tmp/$1/streamcut"
    HEADERS="$tmp/$1/streamcut" python3 - "$2" <<'EDIT'
import os, sys
headers = os.environ["HEADERS"]
for line in sys.argv[1].strip().split("\n"):
    name, old, new = (part.replace("\\n", "\n") for part in line.split("|"))
    path = os.path.join(headers, name)
    text = open(path).read()
    if old not in text:
        sys.exit("anchor not found in %s: %s" % (name, old))
    open(path, "w").write(text.replace(old, new, 1))
EDIT
    abi_of "$tmp/$1" "$tmp/$1.abixml"
}

# expect_break NAME EDITS: the edited copy must fail the check.
expect_break() {
    variant "$1" "$2"
    if keeps "$tmp/current.abixml" "$tmp/$1.abixml"; then
        fail "a deliberate break ($1) passed the ABI check"
    else
        pass "a deliberate break ($1) fails: $( (grep -m1 'ABI break' "$tmp/why" ||
            grep -m1 -E "value changed|type of|changed" "$tmp/why") | sed 's/^ *//')"
    fi
}

expect_break inserted-mid-struct 'packet.h|    int64_t orig_pts;|    int32_t inserted;\n    int64_t orig_pts;'
expect_break retyped 'packet.h|    int32_t profile;|    uint32_t profile;'
expect_break swapped 'host.h|    int64_t (*monotonic_ns)(void);|    @@\n
host.h|    int64_t (*wallclock_ns)(void);|    int64_t (*monotonic_ns)(void);
host.h|    @@\n|    int64_t (*wallclock_ns)(void);'
expect_break last-op-removed 'module.h|    void (*reopen)(void *instance);\n} sc_sink_ops;|} sc_sink_ops;'
expect_break renumbered 'packet.h|SC_MEDIA_DATA = 3,|SC_MEDIA_DATA = 7,'
expect_break callback-signature 'module.h|    int (*consume)(void *instance, const sc_segment *seg);|    int (*consume)(void *instance, const sc_segment *seg, int extra);'
expect_break typedef 'module.h|typedef void (*sc_destroy_fn)(void *instance);|typedef int (*sc_destroy_fn)(void *instance);'
# A struct that grows at its end and changes a member: the growth must not
# hide the change.
expect_break grown-and-retyped 'packet.h|    int64_t bit_rate;|    uint64_t bit_rate;
packet.h|} sc_stream_info;|    int64_t later;\n} sc_stream_info;'

# Compatible additions: must pass.
variant additions 'packet.h|} sc_stream_info;|    int64_t added_at_end;\n} sc_stream_info;
module.h|    void (*reopen)(void *instance);\n} sc_sink_ops;|    void (*reopen)(void *instance);\n    int (*added_op)(void *instance);\n} sc_sink_ops;
host.h|} sc_host_api;|    int (*added_call)(sc_ctx *ctx, const char *name);\n} sc_host_api;
packet.h|SC_MEDIA_SUBTITLE = 4|SC_MEDIA_SUBTITLE = 4,\n    SC_MEDIA_ADDED = 5
event.h|SC_END_DECLS|typedef struct sc_added { uint32_t struct_size; int64_t value; } sc_added;\nSC_END_DECLS'
if keeps "$tmp/current.abixml" "$tmp/additions.abixml"; then
    pass "compatible additions at the ends pass"
else
    fail "compatible additions were reported as a break:"
    cat "$tmp/why"
fi

[ "$baselines" -gt 0 ] || fail "no stored baseline in tests/abi"
exit $((failures > 0))
