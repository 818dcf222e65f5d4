#!/bin/bash
# The loudness strategy on a clip whose sound is known: a 440 Hz tone at
# -40 dB for 40 s, at full scale from 10 to 12 s and from 25 to 26 s. Each
# burst must become one segment, found within one measuring window (0.1 s)
# of where it really is, widened by the pre- and post-roll; the absolute
# reference finds the same bursts; min_gap merges them, min_loud drops the
# short one, an unreachable threshold finds nothing, and a contradictory
# configuration is refused.
#
# Run by `make check` after `make`: STREAMCUT names the streamcut to use
# (default: the one on PATH). Needs the ffmpeg command (libx264 and aac).
# Exit status: 0 pass, 1 fail, 77 skip (no ffmpeg).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
streamcut=${STREAMCUT:-streamcut}
command -v ffmpeg >/dev/null 2>&1 || { echo "SKIP: ffmpeg not found"; exit 77; }
command -v "$streamcut" >/dev/null 2>&1 || { echo "FAIL: $streamcut not found (set STREAMCUT)"; exit 1; }
[ -f "$here/loudness.so" ] || { echo "FAIL: $here/loudness.so not built (run make)"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/loudness-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
failures=0
pass() { echo "ok:   $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Video with a keyframe every second, so segments start near their nominal
# start; the sound is what matters.
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=160x90:rate=10" \
    -f lavfi -i "aevalsrc='if(between(t,10,12)+between(t,25,26),1,0.01)*sin(2*PI*440*t)':s=48000:d=40" \
    -t 40 -c:v libx264 -preset ultrafast -g 10 -c:a aac -b:a 96k bursts.mp4 \
    || { echo "FAIL: ffmpeg could not make the test clip (libx264 and aac encoders needed)"; exit 1; }

# run NAME ["KEY = VALUE"]...: the pipeline with these loudness options (on
# top of 2 s pre- and post-roll and a 3 s min_gap); its
# records in NAME.jsonl, "loud_start loud_end start end" per segment in NAME.found.
run() {
    local name=$1; shift
    {
        echo "[host]"
        echo "module_path = $here"
        echo "[source clip]"
        echo "module = avformat"
        echo "url = bursts.mp4"
        echo "[strategy loud]"
        echo "module = loudness"
        echo "source = clip"
        for default in "pre_roll = 2s" "post_roll = 2s" "min_gap = 3s"; do
            case " $* " in *" ${default%% *} = "*) ;; *) echo "$default" ;; esac
        done
        for setting in "$@"; do echo "$setting"; done
        echo "[sink records]"
        echo "module = jsonl"
        echo "from = loud"
        echo "path = $name.jsonl"
    } >"$name.ini"
    rc=0
    "$streamcut" run "$name.ini" 2>"$name.log" || rc=$?
    sed -n 's/.*"start":\([0-9.]*\),"end":\([0-9.]*\),.*"loud_start":\([0-9.]*\),"loud_end":\([0-9.]*\),.*/\3 \4 \1 \2/p' \
        "$name.jsonl" 2>/dev/null >"$name.found" || true
}

# expect NAME "LOUD_START LOUD_END" ...: exactly these bursts, each found
# within 0.15 s, each segment 2 s wider on both sides.
expect() {
    local name=$1; shift
    local wanted
    wanted=$(printf '%s\n' "$@")
    if [ "$rc" -ne 0 ]; then fail "$name: streamcut exits $rc:"; tail -5 "$name.log"; return; fi
    if awk -v wanted="$wanted" '
        BEGIN { n = split(wanted, lines, "\n"); if (wanted == "") n = 0 }
        { found++; split(lines[found], w, " ")
          if (found > n || ($1 - w[1])^2 > 0.0225 || ($2 - w[2])^2 > 0.0225 ||
              ($3 - ($1 - 2))^2 > 0.0001 || ($4 - ($2 + 2))^2 > 0.0001) bad = 1 }
        END { exit bad || found != n }' "$name.found"; then
        pass "$name: $# segment(s), bursts found at $(awk '{printf "%s-%s ", $1, $2}' "$name.found")"
    else
        fail "$name: wanted bursts '$*', found (loud_start loud_end start end):"; cat "$name.found"
    fi
}

run median
expect median "10 12" "25 26"
run absolute "reference = absolute" "threshold_db = -20"
expect absolute "10 12" "25 26"
run merged "min_gap = 20s"
expect merged "10 26"
run long_only "min_loud = 1.5s"
expect long_only "10 12"
run unreachable "threshold_db = 60"
expect unreachable

grep -q '"label":"loud"' median.jsonl && grep -q '"peak_db":-[0-9]' median.jsonl \
    && pass "records carry the label and the burst's peak level" || fail "records lack label/peak_db: $(head -1 median.jsonl)"
grep -q 'counters: bursts=2 segments=2' median.log && pass "counters: bursts=2 segments=2" \
    || fail "counters: $(grep counters median.log)"

run contradiction "reference = absolute" "threshold_db = 10"
if [ "$rc" -eq 2 ] && grep -q "with reference = absolute it is a level in dBFS" contradiction.log; then
    pass "an absolute threshold above 0 dBFS is refused (exit 2, says why)"
else
    fail "absolute threshold_db = 10: exit $rc: $(cat contradiction.log)"
fi

STREAMCUT_MODULE_PATH=$here "$streamcut" modules loudness >modules.out 2>&1 &&
    grep -q '^loudness 1.0.0 (strategy module' modules.out && grep -q 'threshold_db' modules.out \
    && pass "streamcut modules loudness lists it and its options" || fail "streamcut modules loudness: $(cat modules.out)"

echo "$failures failure(s)"
exit $((failures > 0))
