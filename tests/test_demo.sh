#!/bin/bash
# End-to-end: the demo pipeline (conf/demo.ini) produces six valid 10 s
# MPEG-TS clips and six matching JSON records; check/modules/--version print
# what they should.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
demo_ini=$top_srcdir/conf/demo.ini
[ -f "$demo_ini" ] || { echo "FAIL: $demo_ini not found"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

check() {  # check DESCRIPTION COMMAND...: pass when the command succeeds
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

echo "streamcut: $streamcut"
echo "pipeline:  $demo_ini"

# ---- --version ------------------------------------------------------------
rc=0
"$streamcut" --version >version.out 2>version.err || rc=$?
[ "$rc" -eq 0 ] && pass "--version exits 0" || fail "--version exits $rc"
version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac" | head -n1)
if [ -n "$version" ]; then
    check "--version prints 'streamcut $version'" grep -q "^streamcut $version\b" version.out
else
    check "--version prints 'streamcut X.Y.Z'" grep -Eq '^streamcut [0-9]+\.[0-9]+\.[0-9]+' version.out
fi
check "--version prints 'ABI 1.1'" grep -q 'ABI 1\.1' version.out

# ---- modules ---------------------------------------------------------------
rc=0
"$streamcut" modules >modules.out 2>modules.err || rc=$?
[ "$rc" -eq 0 ] && pass "modules exits 0" || { fail "modules exits $rc"; cat modules.err; }
# Module lines start in column 0; their path lines are indented.
grep -v '^[[:space:]]' modules.out | awk '{print $1, $2, $4, $5}' | sort >modules.list
# Every module folder of the source tree is listed, each with ABI 1.1...
(cd "$top_srcdir/modules" && for name in *; do [ -f "$name/Makefile.inc" ] && echo "$name"; done) | sort >modules.folders
awk '{print $1}' modules.list | sort >modules.names
if cmp -s modules.names modules.folders; then
    pass "modules lists every module folder ($(tr '\n' ' ' < modules.folders))"
else
    fail "modules list differs from the module folders:"
    diff modules.folders modules.names || true
fi
awk '$3 != "ABI" || $4 != "1.1" {bad = 1} END {exit bad}' modules.list \
    && pass "every module is ABI 1.1" || fail "a module is not ABI 1.1: $(cat modules.list)"
# ...and the foundation's five have the right kinds.
for expected in "avformat source" "testsrc source" "fixed strategy" "clip sink" "jsonl sink" "log observer"; do
    grep -q "^$expected ABI 1.1$" modules.list && pass "modules: $expected" || fail "modules lacks '$expected'"
done
[ ! -s modules.err ] && pass "modules prints nothing on stderr" || { fail "modules stderr:"; cat modules.err; }

rc=0
"$streamcut" modules fixed >fixed.out 2>&1 || rc=$?
[ "$rc" -eq 0 ] && pass "modules fixed exits 0" || fail "modules fixed exits $rc"
check "modules fixed names the module and kind" grep -q '^fixed [0-9.]* (strategy module, ABI 1\.1)' fixed.out
check "modules fixed shows option 'duration' (duration, default 10s)" \
    grep -Eq '^  duration +duration +default: 10s' fixed.out
check "modules fixed shows the strategy host key 'source'" grep -Eq '^  source +string' fixed.out

rc=0
"$streamcut" modules nosuch >nosuch.out 2>&1 || rc=$?
[ "$rc" -eq 2 ] && pass "modules nosuch exits 2" || fail "modules nosuch exits $rc (expected 2)"

# ---- check -----------------------------------------------------------------
rc=0
"$streamcut" check "$demo_ini" >check.out 2>check.err || rc=$?
[ "$rc" -eq 0 ] && pass "check demo.ini exits 0" || { fail "check demo.ini exits $rc"; cat check.err; }
check "check prints '<file>: ok'" grep -qxF "$demo_ini: ok" check.out
check "check prints the source line" \
    grep -Eq '^source demo: testsrc [0-9]+\.[0-9]+\.[0-9]+ \(ABI 1\.1\)$' check.out
check "check prints the strategy line" \
    grep -Eq '^ +-> strategy ten_seconds: fixed [0-9]+\.[0-9]+\.[0-9]+ \(ABI 1\.1\)$' check.out
check "check prints the clip sink line" \
    grep -Eq '^ +-> sink clips: clip [0-9]+\.[0-9]+\.[0-9]+ \(ABI 1\.1\)$' check.out
check "check prints the records sink line" \
    grep -Eq '^ +-> sink records: jsonl [0-9]+\.[0-9]+\.[0-9]+ \(ABI 1\.1\)$' check.out
lines=$(wc -l <check.out)
[ "$lines" -eq 5 ] && pass "check prints 5 lines" || { fail "check prints $lines lines, expected 5:"; cat check.out; }
[ ! -e out ] && pass "check writes nothing" || fail "check created out/"

# ---- run -------------------------------------------------------------------
start_time=$(date +%s)
rc=0
"$streamcut" run "$demo_ini" >records.jsonl 2>run.err || rc=$?
echo "run took $(( $(date +%s) - start_time )) s"
[ "$rc" -eq 0 ] && pass "run demo.ini exits 0" || { fail "run demo.ini exits $rc"; cat run.err; }

expected_files=$(printf 'demo-%03d.ts\n' 0 1 2 3 4 5)
actual_files=$( (cd out/demo 2>/dev/null && ls -A) || true)
if [ "$actual_files" = "$expected_files" ]; then
    pass "out/demo holds exactly demo-000.ts .. demo-005.ts"
else
    fail "out/demo holds:"; echo "$actual_files"
fi
leftovers=$(find out -name '.*.tmp*' 2>/dev/null || true)
[ -z "$leftovers" ] && pass "no temporary files left" || { fail "temporary files left:"; echo "$leftovers"; }

nlines=$(wc -l <records.jsonl)
[ "$nlines" -eq 6 ] && pass "6 JSON lines on stdout" || fail "$nlines JSON lines on stdout, expected 6"

if python3 - records.jsonl <<'EOF'
import json, os, sys
failed = False
def bad(msg):
    global failed
    failed = True
    print("FAIL: " + msg)
fields = ["source", "strategy", "index", "start", "end", "keyframe_start",
          "packets", "bytes", "keyframes", "flags", "file"]
with open(sys.argv[1]) as f:
    lines = f.read().splitlines()
records = []
for n, line in enumerate(lines, 1):
    try:
        records.append(json.loads(line))
    except ValueError as e:
        bad("line %d is not JSON (%s): %r" % (n, e, line))
if len(records) != 6:
    bad("%d records, expected 6" % len(records))
for k, r in enumerate(records):
    missing = [f for f in fields if f not in r]
    if missing:
        bad("record %d lacks %s" % (k, missing))
        continue
    if r["source"] != "demo" or r["strategy"] != "ten_seconds":
        bad("record %d: source/strategy %r/%r" % (k, r["source"], r["strategy"]))
    if r["index"] != k:
        bad("record %d: index %r" % (k, r["index"]))
    if r["start"] != 10.0 * k or r["end"] != 10.0 * (k + 1):
        bad("record %d: [%r, %r), expected [%d, %d)" % (k, r["start"], r["end"], 10 * k, 10 * (k + 1)))
    if not (isinstance(r["keyframe_start"], (int, float)) and r["keyframe_start"] <= r["start"]):
        bad("record %d: keyframe_start %r > start %r" % (k, r["keyframe_start"], r["start"]))
    if not (isinstance(r["bytes"], int) and r["bytes"] > 0):
        bad("record %d: bytes %r" % (k, r["bytes"]))
    if not (isinstance(r["packets"], int) and r["packets"] > 0):
        bad("record %d: packets %r" % (k, r["packets"]))
    if not (isinstance(r["keyframes"], int) and r["keyframes"] >= 1):
        bad("record %d: keyframes %r" % (k, r["keyframes"]))
    if not isinstance(r["flags"], list):
        bad("record %d: flags is not a list: %r" % (k, r["flags"]))
    elif "partial" in r["flags"]:
        bad("record %d: unexpected 'partial' flag %r" % (k, r["flags"]))
    want = "out/demo/demo-%03d.ts" % k
    if r["file"] != want:
        bad("record %d: file %r, expected %r" % (k, r["file"], want))
    elif not os.path.isfile(r["file"]):
        bad("record %d: file %r does not exist" % (k, r["file"]))
sys.exit(1 if failed else 0)
EOF
then
    pass "records: all fields, index 0..5, start=10k end=10(k+1), keyframe_start<=start, bytes>0, file exists"
else
    fail "records do not match (see above)"
    cat records.jsonl
fi

for k in 0 1 2 3 4 5; do
    clip=out/demo/$(printf 'demo-%03d.ts' "$k")
    if [ ! -f "$clip" ]; then fail "$clip missing"; continue; fi
    probe_err=$(ffprobe -v error "$clip" 2>&1 >/dev/null || echo "ffprobe exit $?")
    [ -z "$probe_err" ] && pass "$clip: ffprobe -v error is silent" || { fail "$clip: ffprobe says:"; echo "$probe_err" | head -20; }
    decode_err=$(ffmpeg -nostdin -v error -i "$clip" -f null - 2>&1 || echo "ffmpeg exit $?")
    [ -z "$decode_err" ] && pass "$clip: ffmpeg decode is silent" || { fail "$clip: ffmpeg says:"; echo "$decode_err" | head -20; }
    duration=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$clip" || true)
    if awk -v d="$duration" 'BEGIN { exit !(d != "" && d + 0 >= 9.9 && d + 0 <= 12.1) }'; then
        pass "$clip: duration $duration s within [9.9, 12.1]"
    else
        fail "$clip: duration '$duration' s not within [9.9, 12.1]"
    fi
    streams=$(ffprobe -v error -show_entries stream=codec_type,codec_name -of json "$clip" |
        python3 -c 'import json, sys; print(" ".join(sorted(s["codec_type"] + ":" + s.get("codec_name", "?") for s in json.load(sys.stdin).get("streams", []))))' || true)
    [ "$streams" = "audio:aac video:h264" ] && pass "$clip: one h264 video + one aac audio stream" \
        || fail "$clip: streams are '$streams', expected one h264 video and one aac audio"
done

echo
if [ "$failures" -ne 0 ]; then
    echo "test_demo: $failures check(s) FAILED"
    exit 1
fi
echo "test_demo: all checks passed"
exit 0
