#!/bin/bash
# End-to-end: a live (realtime, endless) testsrc pipeline stopped with SIGINT
# and with SIGTERM exits 0 promptly, after closing the open segment as a
# "partial" one; every clip written is valid and no temporary file is left.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

enter_scratch_dir signal


cat >live.ini <<'EOF'
[source live]
module = testsrc
realtime = true
duration = 0
scene_every = 4s

[strategy two]
module = fixed
source = live
duration = 2s

[sink clips]
module = clip
from = two
path = out/{source}-{index:03}.ts

[sink records]
module = jsonl
from = two
path = records.jsonl
EOF

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

run_case() {
    local signal=$1
    echo "--- SIG$signal"
    rm -rf out records.jsonl
    "$streamcut" run live.ini >run.out 2>run.err &
    child=$!
    sleep 5.5
    # On a slow machine wait until two windows are closed, then let the
    # third one fill a little, so there is an open segment to close.
    local waited=0
    while [ "$(cat records.jsonl 2>/dev/null | wc -l)" -lt 2 ] && [ "$waited" -lt 100 ] && kill -0 "$child" 2>/dev/null; do
        sleep 0.1; waited=$((waited + 1))
    done
    [ "$waited" -gt 0 ] && sleep 1
    if ! kill -0 "$child" 2>/dev/null; then
        fail "SIG$signal: streamcut exited before the signal"; cat run.err
    fi
    local sent_at
    sent_at=$(now)
    kill -"$signal" "$child" 2>/dev/null || true
    local ticks=0
    while kill -0 "$child" 2>/dev/null && [ "$ticks" -lt 100 ]; do sleep 0.1; ticks=$((ticks + 1)); done
    if kill -0 "$child" 2>/dev/null; then
        fail "SIG$signal: still running 10 s after the signal; killing it"
        kill -KILL "$child" 2>/dev/null || true
    fi
    local rc=0
    wait "$child" || rc=$?
    child=
    echo "exited $(elapsed "$sent_at") s after SIG$signal"
    if [ "$rc" -eq 0 ]; then pass "SIG$signal: exit status 0"; else fail "SIG$signal: exit status $rc"; cat run.err; fi
    [ -s run.out ] && { fail "SIG$signal: run printed on stdout"; head run.out; }

    if python3 - "$signal" <<'PYEOF'
import json, os, subprocess, sys
sig = sys.argv[1]
failed = False
def ok(msg): print("ok:   SIG%s: %s" % (sig, msg))
def bad(msg):
    global failed
    failed = True
    print("FAIL: SIG%s: %s" % (sig, msg))
try:
    lines = open("records.jsonl").read().splitlines()
except OSError as e:
    bad("no records.jsonl: %s" % e)
    sys.exit(1)
records = []
for n, line in enumerate(lines, 1):
    try:
        records.append(json.loads(line))
    except ValueError as e:
        bad("record line %d is not JSON: %s" % (n, e))
complete = [r for r in records if "partial" not in r.get("flags", [])]
if len(complete) >= 2:
    ok("%d complete segments" % len(complete))
else:
    bad("%d complete segments, expected at least 2" % len(complete))
for k, r in enumerate(records):
    if r.get("index") != k or r.get("start") != 2.0 * k or r.get("end") != 2.0 * (k + 1):
        bad("record %d: index %r window [%r, %r), expected [%d, %d)" % (k, r.get("index"), r.get("start"), r.get("end"), 2 * k, 2 * k + 2))
    if "partial" in r.get("flags", []) and k != len(records) - 1:
        bad("record %d is partial but not the last" % k)
if records:
    last = records[-1]
    if "partial" in last.get("flags", []):
        ok("the last record (index %d) is flagged partial: the open segment was closed on the signal" % last.get("index"))
        media_end = last.get("media_end")
        if not (isinstance(media_end, (int, float)) and last["start"] < media_end < last["end"]):
            bad("partial record: media_end %r not inside (%r, %r)" % (media_end, last["start"], last["end"]))
    else:
        bad("the last record is not partial; records:")
        for line in lines:
            print("    " + line)
files = []
for r in records:
    path = r.get("file")
    if not path or not os.path.isfile(path):
        bad("record %r: file %r missing" % (r.get("index"), path))
        continue
    files.append(path)
    problems = []
    run = subprocess.run(["ffprobe", "-v", "error", path], capture_output=True, text=True)
    if run.returncode or run.stdout.strip() or run.stderr.strip():
        problems.append("ffprobe -v error: %r" % (run.stderr.strip()[:300] or run.returncode))
    run = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"], capture_output=True, text=True)
    if run.returncode or run.stdout.strip() or run.stderr.strip():
        problems.append("ffmpeg -v error decode: %r" % (run.stderr.strip()[:300] or run.returncode))
    run = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path],
                         capture_output=True, text=True)
    try:
        duration = float(json.loads(run.stdout)["format"]["duration"])
    except (ValueError, KeyError):
        duration = None
    want = r.get("media_end", 0) - r.get("keyframe_start", 0)
    if duration is None or abs(duration - want) > 0.25:
        problems.append("duration %r s, expected about media_end - keyframe_start = %.3f s" % (duration, want))
    if problems:
        for p in problems:
            bad("%s: %s" % (path, p))
    else:
        ok("%s: valid (ffprobe/ffmpeg silent), %.3f s%s" % (path, duration, " (partial)" if "partial" in r.get("flags", []) else ""))
on_disk = sorted(os.path.join("out", f) for f in os.listdir("out")) if os.path.isdir("out") else []
if on_disk == sorted(files):
    ok("out/ holds exactly the %d clips recorded, no temporary files" % len(files))
else:
    bad("out/ holds %r, the records name %r" % (on_disk, sorted(files)))
sys.exit(1 if failed else 0)
PYEOF
    then :; else failures=$((failures + 1)); echo "--- stderr of the run:"; cat run.err; fi
}

run_case INT
run_case TERM

echo
if [ "$failures" -ne 0 ]; then
    echo "test_signal: $failures check(s) FAILED"
    exit 1
fi
echo "test_signal: all checks passed"
exit 0
