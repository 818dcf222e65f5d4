#!/bin/bash
# End-to-end: running streamcut as a service.
#
# - Progress: a file run on a terminal (a pseudo-terminal from `script`)
#   shows a progress line (percent of the duration rising to 100 %, speed,
#   segments); with -q, or when stderr is not a terminal, none.
# - log_format = json: every log line is one JSON object with time, level
#   and message (instance when it has one).
# - log_file and SIGHUP: after the log and the record file are moved away
#   (as logrotate does) and SIGHUP arrives, both are written anew at their
#   paths; no record is lost between the two files.
# - shutdown_timeout: a sink that cannot drain in time does not hold the
#   process: SIGTERM exits 1 shortly after the timeout, saying why; a run
#   that drains in time exits 0.
# - conf/streamcut.service passes systemd-analyze verify and scores well
#   on systemd-analyze security.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

test_modules=${STREAMCUT_TEST_MODULES:-$builddir/tests/modules/.libs}
enter_scratch_dir operations

file_pipeline() { # FILE EXTRA-HOST-LINES...
    local file=$1
    shift
    {
        echo "[host]"
        for line in "$@"; do echo "$line"; done
        cat <<'PIPELINE'

[source cam]
module = testsrc
duration = 40

[strategy windows]
module = fixed
source = cam
duration = 5s

[sink records]
module = jsonl
from = windows
path = records.jsonl
PIPELINE
    } >"$file"
}

echo "--- progress on a terminal"
file_pipeline progress.ini
if command -v script >/dev/null 2>&1; then
    script -qfec "$streamcut run progress.ini" /dev/null >tty.out 2>&1 || true
    tr '\r' '\n' <tty.out | grep -a '^progress: ' >progress.lines || true
    if python3 - <<'CHECK'
import re, sys
lines = open("progress.lines", encoding="utf-8", errors="replace").read().splitlines()
values = []
for line in lines:
    m = re.match(r"progress: cam +([\d.]+)% \(([\d.]+) of 40\.0 s, ([\d.]+)x\), (\d+) segments", line)
    if m:
        values.append((float(m.group(1)), float(m.group(3)), int(m.group(4))))
problems = []
if len(values) < 2:
    problems.append("fewer than 2 progress lines: %r" % lines[:3])
elif any(b[0] < a[0] for a, b in zip(values, values[1:])):
    problems.append("percent went back: %r" % values)
elif values[-1][0] != 100.0 or values[-1][2] != 8:
    problems.append("last line not 100%% with 8 segments: %r" % (values[-1],))
elif values[-1][1] <= 1.0:
    problems.append("a file run not faster than real time: %r" % (values[-1],))
for p in problems:
    print("FAIL: " + p)
if not problems:
    print("ok:   %d progress lines rising to 100%% (%.1fx, 8 segments)" % (len(values), values[-1][1]))
sys.exit(1 if problems else 0)
CHECK
    then :; else failures=$((failures + 1)); fi
    script -qfec "$streamcut -q run progress.ini" /dev/null >quiet.out 2>&1 || true
    if grep -aq "progress:" quiet.out; then fail "progress shown with -q"; else pass "no progress with -q"; fi
else
    fail "script (bsdutils) is missing: cannot test the terminal progress"
fi
"$streamcut" run progress.ini >plain.out 2>plain.err
if grep -q "progress:" plain.err; then fail "progress written to a non-terminal"; else pass "no progress when stderr is not a terminal"; fi

echo "--- log_format = json"
file_pipeline json.ini "log_format = json"
"$streamcut" run json.ini >json.out 2>json.err
if python3 - <<'CHECK'
import json, sys
lines = open("json.err").read().splitlines()
bad = []
instances = 0
for line in lines:
    try:
        record = json.loads(line)
    except ValueError:
        bad.append(line)
        continue
    if not (record.get("time", "").endswith("Z") and record.get("level") in ("error", "warning", "info", "debug")
            and isinstance(record.get("message"), str)):
        bad.append(line)
    instances += "instance" in record
if bad or len(lines) < 5 or instances == 0:
    print("FAIL: json log: %d lines, %d with an instance, bad: %r" % (len(lines), instances, bad[:3]))
    sys.exit(1)
print("ok:   %d log lines, each one JSON object (%d name an instance)" % (len(lines), instances))
CHECK
then :; else failures=$((failures + 1)); fi

# A live camera cut into windows of $1.
live_windows() {
    printf '\n[source cam]\nmodule = testsrc\nrealtime = true\nduration = 0\n'
    printf '\n[strategy windows]\nmodule = fixed\nsource = cam\nduration = %s\n' "$1"
}

echo "--- log_file, logrotate and SIGHUP"
{ printf '[host]\nlog_file = streamcut.log\n'; live_windows 1s; } >live.ini
cat >>live.ini <<'PIPELINE'

[sink records]
module = jsonl
from = windows
path = records.jsonl
PIPELINE
rm -f records.jsonl
"$streamcut" run live.ini >live.out 2>live.err &
child=$!
sleep 3.5
mv streamcut.log streamcut.log.1
mv records.jsonl records.jsonl.1
kill -HUP "$child"
sleep 3
kill -TERM "$child"
status=0
wait "$child" || status=$?
child=
[ "$status" -eq 0 ] && pass "SIGTERM: exit 0 after draining" || fail "exit $status"
[ ! -s live.err ] && pass "nothing on stderr with log_file set" || fail "stderr: $(head -3 live.err)"
grep -q "SIGHUP: log file reopened" streamcut.log && grep -q "\[records\] counters: .*reopened=1" streamcut.log &&
    pass "the new streamcut.log has the lines after SIGHUP, records reopened once" ||
    fail "after SIGHUP: $(tail -3 streamcut.log 2>/dev/null)"
grep -q "control\|input\|source testsrc" streamcut.log.1 && pass "the moved log kept the lines before" ||
    fail "streamcut.log.1: $(head -3 streamcut.log.1)"
if python3 - <<'CHECK'
import json, sys
before = [json.loads(l)["index"] for l in open("records.jsonl.1")]
after = [json.loads(l)["index"] for l in open("records.jsonl")]
together = before + after
if not before or not after or together != list(range(len(together))):
    print("FAIL: records before %r after %r" % (before, after))
    sys.exit(1)
print("ok:   records 0..%d: %d in the moved file, %d in the new one, none lost" % (len(together) - 1, len(before), len(after)))
CHECK
then :; else failures=$((failures + 1)); fi

echo "--- shutdown_timeout"
{ printf '[host]\nmodule_path = %s\nshutdown_timeout = 1s\n' "$test_modules"; live_windows 500ms; } >stuck.ini
cat >>stuck.ini <<PIPELINE

[sink stuck]
module = slow
from = windows
delay = 20s
queue = 100
on_overflow = block
PIPELINE
"$streamcut" run stuck.ini >stuck.out 2>stuck.err &
child=$!
sleep 2.5
started=$(date +%s.%N)
kill -TERM "$child"
status=0
wait "$child" || status=$?
child=
took=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
awk -v t="$took" 'BEGIN { exit !(t >= 0.9 && t < 4) }' && [ "$status" -eq 1 ] &&
    grep -q "shutdown_timeout (1.0 s) passed before the drain finished" stuck.err &&
    pass "a stuck sink: exit 1 after ${took}s, saying shutdown_timeout passed" ||
    fail "stuck sink: exit $status after ${took}s: $(tail -2 stuck.err)"

echo "--- the systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
    sed "s|/usr/local/bin/streamcut|$streamcut|" "$top_srcdir/conf/streamcut.service" >streamcut.service
    if systemd-analyze verify ./streamcut.service >verify.out 2>&1; then
        pass "systemd-analyze verify accepts conf/streamcut.service"
    else
        fail "systemd-analyze verify: $(cat verify.out)"
    fi
    exposure=$(systemd-analyze security --offline=yes ./streamcut.service 2>/dev/null |
        sed -n 's/.*Overall exposure level for streamcut.service: \([0-9.]*\).*/\1/p')
    awk -v e="${exposure:-10}" 'BEGIN { exit !(e <= 2.0) }' &&
        pass "systemd-analyze security: exposure $exposure (<= 2.0)" || fail "exposure ${exposure:-unknown}"
else
    echo "note: systemd-analyze not installed; unit not verified"
fi

echo
if [ "$failures" -ne 0 ]; then
    echo "test_operations: $failures check(s) FAILED"
    exit 1
fi
echo "test_operations: all checks passed"
