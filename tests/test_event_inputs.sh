#!/bin/bash
# End-to-end: replay-buffer clips from events written into a FIFO while a
# live (realtime, endless) testsrc pipeline runs. Three writers, one after
# the other, each open and close the FIFO (so the reader must reopen it):
# a JSON event, a bad line, a plain `now NAME` event, about 6 s apart on the
# stream. Then SIGINT. The records must hold both events with
# start = event_time - pre_roll and end = event_time + post_roll exactly,
# the labels and the payload; the bad line must be logged with the FIFO's
# path and line number and counted; every clip must be a valid .mp4 whose
# duration is pre_roll + post_roll within a GOP.
#
# A second strategy cuts 1 s windows of the same source into ticks.jsonl: its
# records tell the script how far the stream got, whatever the machine's
# speed.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

enter_scratch_dir event

PRE_ROLL=3
POST_ROLL=2
GOP_SECONDS=1

mkfifo events.fifo
cat >event.ini <<EOF
[source cam]
module = testsrc
realtime = true
duration = 0
size = 320x240
rate = 30
gop = 30
buffer.retention_seconds = 60

[strategy replay]
module = event
source = cam
pre_roll = ${PRE_ROLL}s
post_roll = ${POST_ROLL}s
events = ./events.fifo

[strategy ticks]
module = fixed
source = cam
duration = 1s

[sink clips]
module = clip
from = replay
path = out/{index:02}.mp4

[sink records]
module = jsonl
from = replay
path = records.jsonl

[sink tick_records]
module = jsonl
from = ticks
path = ticks.jsonl
EOF

# Seconds of stream cut so far (one tick record per second).
stream_seconds() { cat ticks.jsonl 2>/dev/null | wc -l; }

# Waits until the stream got `$1` seconds in (at most 60 s of wall time).
wait_stream() {
    local waited=0
    while [ "$(stream_seconds)" -lt "$1" ]; do
        if ! kill -0 "$child" 2>/dev/null; then
            fail "streamcut exited early"; cat run.err; exit 1
        fi
        if [ "$waited" -ge 600 ]; then
            fail "the stream did not reach $1 s within 60 s"; cat run.err; exit 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# One writer: opens the FIFO, writes, closes. Never hangs on a dead reader.
send() {
    if timeout 5 sh -c 'printf "%s\n" "$1" >events.fifo' sh "$1"; then
        pass "wrote to the FIFO: $1"
    else
        fail "could not write to the FIFO: $1"
    fi
}

"$streamcut" run event.ini >run.out 2>run.err &
child=$!

wait_stream 5
send '{"name": "goal", "payload": {"team": "home"}}'
first=$(stream_seconds)
send '{"name": "broken", '
wait_stream $((first + 6))
send 'now save'
second=$(stream_seconds)
wait_stream $((second + POST_ROLL + 2))

kill -INT "$child"
rc=0
wait "$child" || rc=$?
child=
if [ "$rc" -eq 0 ]; then pass "SIGINT: exit status 0"; else fail "SIGINT: exit status $rc"; cat run.err; fi

if grep -q "events\.fifo:2: .*line ignored" run.err; then
    pass "the bad line is logged with the FIFO's path and line number"
else
    fail "no warning naming events.fifo:2"; cat run.err
fi
if grep -q "\[replay\] counters:.*events_rejected=1" run.err; then
    pass "events_rejected=1 in the counters"
else
    fail "events_rejected is not 1"; grep counters run.err || true
fi

python3 - "$PRE_ROLL" "$POST_ROLL" "$GOP_SECONDS" <<'EOF' || failures=$((failures + 1))
import json, os, subprocess, sys

pre_roll, post_roll, gop = (float(v) for v in sys.argv[1:4])
failed = 0

def ok(msg):
    print("ok:   " + msg)

def bad(msg):
    global failed
    failed += 1
    print("FAIL: " + msg)

records = [json.loads(line) for line in open("records.jsonl") if line.strip()]
if [r.get("label") for r in records] == ["event:goal", "event:save"]:
    ok("two records, labelled event:goal and event:save")
else:
    bad("records: %r" % [(r.get("label"), r.get("start"), r.get("end")) for r in records])
    sys.exit(1)
goal, save = records
for r in records:
    name = r["label"]
    t = r.get("event_time")
    if not isinstance(t, (int, float)) or t < pre_roll:
        bad("%s: event_time %r is not past the pre-roll" % (name, t))
        continue
    if abs(r["start"] - (t - pre_roll)) < 1e-6 and abs(r["end"] - (t + post_roll)) < 1e-6:
        ok("%s: [%.6f, %.6f) = event_time %.6f - %g s / + %g s" % (name, r["start"], r["end"], t, pre_roll, post_roll))
    else:
        bad("%s: [%r, %r) for event_time %r" % (name, r["start"], r["end"], t))
    if r.get("pre_roll") != pre_roll or r.get("post_roll") != post_roll or r.get("merged_events") != 1:
        bad("%s: pre_roll/post_roll/merged_events %r/%r/%r" % (name, r.get("pre_roll"), r.get("post_roll"),
                                                             r.get("merged_events")))
    if not (r["start"] - gop - 1e-6 <= r["keyframe_start"] <= r["start"] + 1e-6):
        bad("%s: keyframe_start %r is not the keyframe at or before %r" % (name, r["keyframe_start"], r["start"]))
    expected_flags = ["mid_gop_start"] if r["keyframe_start"] < r["start"] - 1e-6 else []
    if r.get("flags") != expected_flags:
        bad("%s: flags %r, expected %r" % (name, r.get("flags"), expected_flags))
if goal.get("payload") == {"team": "home"} and goal.get("event") == "goal":
    ok("event:goal carries its payload")
else:
    bad("event:goal: event %r payload %r" % (goal.get("event"), goal.get("payload")))
if save.get("payload") is None and save.get("event") == "save":
    ok("event:save has no payload")
else:
    bad("event:save: event %r payload %r" % (save.get("event"), save.get("payload")))
gap = save["event_time"] - goal["event_time"]
if 5.0 <= gap <= 9.0:
    ok("the events are %.2f s apart on the stream" % gap)
else:
    bad("the events are %.2f s apart, expected about 6" % gap)

for r in records:
    path = r.get("file")
    if not path or not os.path.isfile(path):
        bad("%s: clip %r missing" % (r["label"], path))
        continue
    problems = []
    out = subprocess.run(["ffprobe", "-v", "error", path], capture_output=True, text=True)
    if out.returncode != 0 or out.stderr.strip():
        problems.append("ffprobe: %r" % out.stderr.strip()[:300])
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"],
                         capture_output=True, text=True)
    if out.returncode != 0 or out.stderr.strip():
        problems.append("ffmpeg decode: %r" % out.stderr.strip()[:300])
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path],
                           capture_output=True, text=True)
    duration = float(json.loads(probe.stdout)["format"]["duration"])
    wanted = pre_roll + post_roll
    if not (wanted - 0.1 <= duration <= wanted + gop + 0.1):
        problems.append("duration %.3f s, expected %g s within a GOP (%g s)" % (duration, wanted, gop))
    if problems:
        for p in problems:
            bad("%s: %s" % (path, p))
    else:
        ok("%s: valid (ffprobe/ffmpeg silent), %.3f s for %g s of pre- and post-roll" % (path, duration, wanted))
sys.exit(1 if failed else 0)
EOF

echo
if [ "$failures" -ne 0 ]; then
    echo "test_event_inputs: $failures check(s) FAILED"
    exit 1
fi
echo "test_event_inputs: all checks passed"
exit 0
