#!/bin/bash
# End-to-end: observers, the frame and segment callbacks (ABI 1.1).
#
# - The `log` observer writes one "Frame:" line per packet of the source it
#   watches (as many as the buffer took in) and one "Segment:" line per
#   segment its strategies cut (as many as the jsonl sink recorded, same
#   windows); `every` thins the frame lines; `sources` limits what it sees.
# - A slow observer (test module, 20 ms per packet) behind a small queue
#   drops and counts rather than slowing ingest: the run takes no longer,
#   the records are the same, and seen + dropped = packets in.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

test_modules=${STREAMCUT_TEST_MODULES:-$builddir/tests/modules/.libs}
enter_scratch_dir observer

cat >observe.ini <<PIPELINE
[host]
module_path = $test_modules

[source cam]
module = testsrc
duration = 10
realtime = false

[source other]
module = testsrc
duration = 4
realtime = false

[strategy windows]
module = fixed
source = cam
duration = 2s

[sink records]
module = jsonl
from = windows
path = records.jsonl

[observer everything]
module = log
sources = cam
path = frames.log

[observer sparse]
module = log
sources = cam
every = 10
segments = false
path = sparse.log
PIPELINE
status=0
"$streamcut" run observe.ini >run.out 2>run.err || status=$?
[ "$status" -eq 0 ] && pass "the run exits 0" || { fail "exit $status"; tail -20 run.err; }

packets_in=$(grep -o "\[cam\] buffer: packets_in=[0-9]*" run.err | grep -o "[0-9]*$" || true)
frames=$(grep -c "^Frame: cam #" frames.log || true)
[ -n "$packets_in" ] && [ "$frames" = "$packets_in" ] &&
    pass "one Frame line per packet of cam ($frames)" || fail "frames $frames, packets_in ${packets_in:-?}"
if grep -q "^Frame: other" frames.log; then fail "lines for 'other', which it does not watch"
else pass "nothing from 'other' (sources = cam)"; fi
grep -q "^Frame: cam #[0-9]* video h264 pts=[0-9.]* dts=[0-9.]* size=[0-9]* key$" frames.log &&
    grep -q "^Frame: cam #[0-9]* audio aac pts=" frames.log &&
    pass "frame lines name stream kind, codec, times, size and keyframes" || fail "frame line format: $(head -3 frames.log)"
records=$(wc -l <records.jsonl)
segments=$(grep -c "^Segment: cam/windows #" frames.log || true)
[ "$segments" = "$records" ] && [ "$records" -ge 5 ] && pass "one Segment line per segment ($segments)" ||
    fail "segments $segments, records $records"
if python3 - <<'CHECK'
import json, re, sys
records = [json.loads(l) for l in open("records.jsonl")]
lines = [l for l in open("frames.log") if l.startswith("Segment:")]
for record, line in zip(records, lines):
    m = re.match(r"Segment: cam/windows #(\d+) \[([\d.]+), ([\d.]+)\) ([\d.]+)s packets=(\d+)", line)
    if not m or int(m.group(1)) != record["index"] or abs(float(m.group(2)) - record["start"]) > 1e-3 \
            or int(m.group(5)) != record["packets"]:
        print("FAIL: segment line %r does not match record %r" % (line.strip(), record))
        sys.exit(1)
print("ok:   segment lines match the records (index, start, packets)")
CHECK
then :; else failures=$((failures + 1)); fi
sparse=$(grep -c "^Frame:" sparse.log || true)
expected=$(( (${packets_in:-0} + 9) / 10 ))
[ "$sparse" = "$expected" ] && pass "every = 10: $sparse lines" || fail "every = 10: $sparse lines, expected $expected"
if grep -q "^Segment:" sparse.log; then fail "segments = false still got segments"
else pass "segments = false: none"; fi
grep -q "\[everything\] observed: packets=${packets_in:-x} segments=$records dropped_packets=0" run.err &&
    pass "stats: observed packets and segments, nothing dropped" || fail "stats: $(grep '\[everything\] observed' run.err)"

echo "--- a slow observer drops, ingest does not wait"
cat >fast.ini <<PIPELINE
[host]
module_path = $test_modules

[source cam]
module = testsrc
duration = 20
realtime = false

[strategy windows]
module = fixed
source = cam
duration = 2s

[sink records]
module = jsonl
from = windows
path = fast.jsonl
PIPELINE
sed 's/fast.jsonl/slow.jsonl/' fast.ini >slow.ini
printf '\n[observer slow]\nmodule = slow_observer\nqueue = 16\n' >>slow.ini
start=$(date +%s.%N)
"$streamcut" run fast.ini >fast.out 2>fast.err
fast_time=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
start=$(date +%s.%N)
"$streamcut" run slow.ini >slow.out 2>slow.err
slow_time=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
packets_in=$(grep -o "\[cam\] buffer: packets_in=[0-9]*" slow.err | grep -o "[0-9]*$" || true)
line=$(grep -o "\[slow\] observed: packets=[0-9]* segments=[0-9]* dropped_packets=[0-9]*" slow.err || true)
seen=$(echo "$line" | sed -n 's/.*packets=\([0-9]*\) segments.*/\1/p')
dropped=$(echo "$line" | sed -n 's/.*dropped_packets=\([0-9]*\)$/\1/p')
# 20 ms a packet over ~1800 packets would be 36 s if ingest waited for it.
awk -v s="$slow_time" -v f="$fast_time" 'BEGIN { exit !(s < f + 5) }' &&
    pass "the run took ${slow_time}s with the slow observer, ${fast_time}s without" ||
    fail "the slow observer slowed the run: ${slow_time}s vs ${fast_time}s"
[ -n "$seen" ] && [ "${dropped:-0}" -gt 0 ] && [ $((seen + dropped)) -eq "${packets_in:-0}" ] &&
    pass "seen $seen + dropped $dropped = packets in $packets_in" ||
    fail "observer accounting: '$line', packets_in ${packets_in:-?}"
if cmp -s <(sed 's/"start_utc":"[^"]*","end_utc":"[^"]*"//' fast.jsonl) \
          <(sed 's/"start_utc":"[^"]*","end_utc":"[^"]*"//' slow.jsonl); then
    pass "the same records with and without it"
else
    fail "records differ"
fi

echo
if [ "$failures" -ne 0 ]; then
    echo "test_observer: $failures check(s) FAILED"
    exit 1
fi
echo "test_observer: all checks passed"
