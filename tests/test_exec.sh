#!/bin/bash
# End-to-end: the exec sink runs a command per segment.
#
# - hostile event names (quotes, $(…), ;, backquotes, pipes, braces) reach
#   the command as one literal argument each, and nothing they "say" runs;
#   every placeholder, every STREAMCUT_* variable and the JSON record on
#   stdin match the segment's jsonl record; the command leads its own
#   process group; {file} is the clip a clip sink wrote;
# - bad commands and running as root without allow_root are refused;
# - a timeout kills the whole process group: a leader that dies on SIGTERM
#   with a grandchild that ignores it, and a leader that ignores it too
#   (SIGKILL after kill_grace); none of them survive;
# - max_concurrent is honoured exactly (overlap measured from the
#   commands' own timestamps), for 1 and 3;
# - failures (an exit status, a signal) are counted and logged with the
#   end of stderr; output beyond max_output is discarded and counted;
# - a 1 MB record on stdin: a command that closes its stdin, one that
#   leaves it unread, and one that reads it all;
# - no zombie lingers while a live pipeline runs, and after SIGINT
#   streamcut exits only once every command it started has finished.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
test_modules=${STREAMCUT_TEST_MODULES:-$builddir/tests/modules/.libs}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-exec.XXXXXX")
child=
cleanup() {
    if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then kill -KILL "$child" 2>/dev/null || true; fi
    # Whatever a failed run left behind: the pids the hooks wrote down.
    for file in "$tmp"/pids/*; do
        [ -f "$file" ] && kill -KILL "$(cat "$file")" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"
mkdir pids runs live

# run NAME [STREAMCUT-OPTIONS…]: runs NAME.ini; output in NAME.out /
# NAME.err, status in $rc, wall time in $elapsed (seconds).
run() {
    local started
    started=$(date +%s%N)
    rc=0
    "$streamcut" "${@:2}" run "$1.ini" >"$1.out" 2>"$1.err" || rc=$?
    elapsed=$(awk -v ns=$(($(date +%s%N) - started)) 'BEGIN { printf "%.2f", ns / 1e9 }')
}

# counter NAME INSTANCE KEY: a counter from the end-of-run stats (0 when absent).
counter() {
    sed -n "s/^streamcut: info: \[$2\] counters: //p" "$1.err" | tr ' ' '\n' | sed -n "s/^$3=//p" | head -n1 | grep . || echo 0
}

expect_counter() {  # expect_counter NAME INSTANCE KEY VALUE
    local got
    got=$(counter "$1" "$2" "$3")
    [ "$got" = "$4" ] && pass "$1: $3 = $4" || fail "$1: $3 = $got, expected $4"
}

expect_log() {  # expect_log NAME TEXT: the run's stderr holds TEXT
    grep -qF -- "$2" "$1.err" && pass "$1 logs: $2" || { fail "$1 does not log: $2"; sed 's/^/    /' "$1.err" | tail -n 20; }
}

# A testsrc source NAME of DURATION (non-live unless a third argument).
source_section() {
    printf '[source %s]\nmodule = testsrc\nduration = %s\nsize = 160x120\nrate = 25\ngop = 25\naudio = false\n' "$1" "$2"
    [ -n "${3:-}" ] && printf 'realtime = true\n'
    printf '\n'
}

# hook_pipeline STREAM-DURATION WINDOW [STRATEGY-MODULE [live]]: source
# cam cut into windows by strategy cut (plus the lines of $STRATEGY_KEYS),
# read by the exec sink hook (with allow_root = true unless $ROOT_KEY says
# otherwise), whose section is left open for the caller's keys.
hook_pipeline() {
    source_section cam "$1" "${4:-}"
    printf '[strategy cut]\nmodule = %s\nsource = cam\nduration = %s\n%s\n\n' "${3:-fixed}" "$2" "${STRATEGY_KEYS:-}"
    printf '[sink hook]\nmodule = exec\nfrom = cut\n%s\n' "${ROOT_KEY-allow_root = true}"
}

# ---- 1. arguments, environment, stdin, {file}, hostile labels --------------
cat >record.py <<'EOF'
#!/usr/bin/env python3
# Writes what this run received: arguments, STREAMCUT_* variables, stdin.
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("STREAMCUT_")}
data = sys.stdin.read()
name = "runs/%s-%s.json" % (env.get("STREAMCUT_STRATEGY"), env.get("STREAMCUT_INDEX"))
with open(name + ".tmp", "w") as out:
    json.dump({"argv": sys.argv[1:], "env": env, "stdin": data,
               "pid": os.getpid(), "pgid": os.getpgrp()}, out)
os.rename(name + ".tmp", name)
EOF
chmod +x record.py
python3 - <<'EOF'
import json
names = ["it's \"quoted\" $(touch pwned) ; touch pwned2 && echo `touch pwned3` | cat > pwned4",
         "two  spaces * ? ~ $HOME \\back\\slash {label} {{ }} %s %n <x> 'single'"]
with open("events.jsonl", "w") as f:
    for time, name in zip([1.0, 2.6], names):
        f.write(json.dumps({"name": name, "time": time, "pre_roll": 0.4, "post_roll": 0.4}) + "\n")
with open("names.json", "w") as f:
    json.dump(names, f)
EOF
{
    source_section cam 4s
    cat <<'EOF'
[strategy moments]
module = event
source = cam
overlap = allow
events = events.jsonl

[sink clips]
module = clip
from = moments
path = clips/{index}.ts

[sink hook]
module = exec
from = moments
command = ./record.py {label} {file} --start={start} '{source} / {strategy}' {index} {end} {duration} {start_utc} {end_utc} {type} {json} ''
allow_root = true

[sink records]
module = jsonl
from = moments
path = records.jsonl
EOF
} >arguments.ini
run arguments
[ "$rc" -eq 0 ] && pass "arguments: streamcut exits 0" || { fail "arguments: exit $rc"; cat arguments.err; }
if python3 - <<'EOF'
import glob, json, os, sys
problems = []
names = json.load(open("names.json"))
records = {}
for line in open("records.jsonl"):
    record = json.loads(line)
    records[record["index"]] = record
runs = sorted(glob.glob("runs/moments-*.json"))
if len(runs) != 2 or len(records) != 2:
    problems.append("%d runs and %d records, expected 2 and 2" % (len(runs), len(records)))
seconds = lambda value: "%.6f" % value
for path in runs:
    run = json.load(open(path))
    stdin = run["stdin"]
    if not stdin.endswith("\n") or stdin.count("\n") != 1:
        problems.append("%s: stdin is not one line: %r" % (path, stdin[:80]))
    record = json.loads(stdin)
    if record != records.get(record["index"]):
        problems.append("%s: the stdin record differs from the jsonl record" % path)
    expected = [record["label"], record["file"], "--start=" + seconds(record["start"]),
                "%s / %s" % (record["source"], record["strategy"]), str(record["index"]),
                seconds(record["end"]), seconds(record["duration"]), record["start_utc"],
                record["end_utc"], record["type"], stdin[:-1], ""]
    if run["argv"] != expected:
        problems.append("%s: argv %r, expected %r" % (path, run["argv"], expected))
    env = run["env"]
    for key, value in [("LABEL", record["label"]), ("FILE", record["file"]), ("SOURCE", "cam"),
                       ("STRATEGY", "moments"), ("INDEX", str(record["index"])),
                       ("START", seconds(record["start"])), ("END", seconds(record["end"])),
                       ("DURATION", seconds(record["duration"])), ("START_UTC", record["start_utc"]),
                       ("END_UTC", record["end_utc"]), ("TYPE", record["type"]), ("SINK", "hook")]:
        if env.get("STREAMCUT_" + key) != value:
            problems.append("%s: STREAMCUT_%s = %r, expected %r" % (path, key, env.get("STREAMCUT_" + key), value))
    if run["pgid"] != run["pid"]:
        problems.append("%s: the command is not its process group's leader" % path)
    if not os.path.isfile(record["file"]):
        problems.append("%s: {file} %r is not the clip" % (path, record["file"]))
labels = sorted(r["label"] for r in records.values())
if labels != sorted("event:" + name for name in names):
    problems.append("labels %r" % labels)
if glob.glob("pwned*") or glob.glob("runs/pwned*"):
    problems.append("a label was run by a shell")
for problem in problems:
    print("    " + problem)
sys.exit(1 if problems else 0)
EOF
then
    pass "arguments: placeholders, variables and stdin exactly as the records, hostile labels literal"
else
    fail "arguments: see above"
fi
expect_counter arguments hook runs 2
expect_counter arguments hook failures 0

# ---- 2. refused configurations ----------------------------------------------
printf '#!/bin/sh\nexit 0\n' >not-executable.sh
chmod 644 not-executable.sh
refused() {  # refused NAME COMMAND EXPECTED-MESSAGE [EXTRA-KEYS]
    { ROOT_KEY=${4-allow_root = true} hook_pipeline 1s 1s; printf 'command = %s\n' "$2"; } >"$1.ini"
    run "$1"
    [ "$rc" -eq 2 ] && pass "$1: refused (exit 2)" || fail "$1: exit $rc, expected 2"
    expect_log "$1" "$3"
}
refused unknown "./record.py {file} {bogus}" "unknown placeholder {bogus}; known: {file} {json} {source}"
refused missing "no-such-program-here {file}" "program no-such-program-here not found in PATH"
refused not_executable "./not-executable.sh {file}" "program ./not-executable.sh is not executable"
refused quote "./record.py '{label}" "unterminated ' quote"
refused program_placeholder "{file} x" "the program (first word) must be a fixed name"
if [ "$(id -u)" -eq 0 ]; then
    refused root "./record.py {file}" "refusing to run commands as root" ""
    expect_log root "set allow_root = true"
else
    echo "skip: running as root without allow_root (not root)"
fi

# ---- 3. timeouts kill the whole process group -------------------------------
cat >stubborn.sh <<'EOF'
#!/bin/bash
# Index 0: the leader dies on SIGTERM, its grandchild ignores it.
# Index 1: both ignore SIGTERM.
(trap '' TERM; exec sleep 20) &
echo $! >"pids/$STREAMCUT_INDEX.grandchild"
echo $$ >"pids/$STREAMCUT_INDEX.leader"
[ "$STREAMCUT_INDEX" = 1 ] && trap '' TERM
wait
EOF
chmod +x stubborn.sh
{ hook_pipeline 2s 1s; cat <<'EOF'
command = ./stubborn.sh
stdin = none
timeout = 1s
kill_grace = 1s
max_concurrent = 2
EOF
} >timeout.ini
run timeout
[ "$rc" -eq 0 ] && pass "timeout: streamcut exits 0" || fail "timeout: exit $rc"
awk -v t="$elapsed" 'BEGIN { exit !(t < 8) }' && pass "timeout: run took ${elapsed}s (< 8)" \
    || fail "timeout: run took ${elapsed}s"
expect_counter timeout hook runs 2
expect_counter timeout hook timeouts 2
expect_counter timeout hook failures 2
expect_log timeout "cut#0: timed out after 1.000 s; process group killed (SIGTERM)"
expect_log timeout "cut#1: timed out after 1.000 s; process group killed (SIGTERM, then SIGKILL)"
survivors=0
for file in pids/*.leader pids/*.grandchild; do
    [ -f "$file" ] || { fail "timeout: $file was not written"; continue; }
    pid=$(cat "$file")
    if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
        survivors=$((survivors + 1))
        echo "    $file: pid $pid still runs: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
    fi
done
[ "$survivors" -eq 0 ] && pass "timeout: no leader or grandchild survives" || fail "timeout: $survivors survivors"
rm -f pids/*

# ---- 4. max_concurrent ------------------------------------------------------
cat >span.sh <<'EOF'
#!/bin/sh
started=$(date +%s.%N)
sleep 0.3
echo "$STREAMCUT_INDEX $started $(date +%s.%N)" >>"spans-$1.txt"
EOF
chmod +x span.sh
for slots in 1 3; do
    { hook_pipeline 6s 500ms; cat <<EOF
command = ./span.sh $slots
stdin = none
max_concurrent = $slots
EOF
    } >concurrent$slots.ini
    run concurrent$slots
    overlap=$(python3 -c '
import sys
events = []
for line in open(sys.argv[1]):
    index, start, end = line.split()
    events += [(float(start), 1), (float(end), -1)]
running = most = 0
for _, step in sorted(events, key=lambda e: (e[0], e[1])):
    running += step
    most = max(most, running)
print(len(events) // 2, most)' "spans-$slots.txt")
    [ "$overlap" = "12 $slots" ] && pass "max_concurrent = $slots: 12 runs, at most $slots at once (${elapsed}s)" \
        || fail "max_concurrent = $slots: runs and largest overlap: $overlap"
done

# ---- 5. failures, signals, truncated output ---------------------------------
cat >failing.sh <<'EOF'
#!/bin/sh
case $STREAMCUT_INDEX in
0) i=1; while [ $i -le 30 ]; do echo "problem line $i" >&2; i=$((i + 1)); done; exit 3 ;;
1) echo "about to die" >&2; kill -KILL $$ ;;
2) head -c 100000 /dev/zero | tr '\0' y; exit 0 ;;
esac
EOF
chmod +x failing.sh
{ hook_pipeline 3s 1s; cat <<'EOF'
command = ./failing.sh
max_output = 1KiB
EOF
} >failures.ini
run failures
[ "$rc" -eq 0 ] && pass "failures: streamcut exits 0" || fail "failures: exit $rc"
expect_counter failures hook runs 3
expect_counter failures hook failures 2
expect_counter failures hook output_truncated 1
expect_counter failures hook output_discarded_bytes $((100000 - 1024))
expect_log failures "[hook] cut#0: exit status 3 after"
expect_log failures "[hook] cut#0 stderr: problem line 30"
expect_log failures "[hook] cut#0 stderr: ...problem line 21"
grep -q "problem line 20$" failures.err && fail "failures: more than the last 10 stderr lines logged" \
    || pass "failures: only the last 10 stderr lines logged"
expect_log failures "[hook] cut#1: killed by signal 9"
expect_log failures "[hook] cut#1 stderr: about to die"
grep -q "cut#2" failures.err && fail "failures: the successful run was logged" || pass "failures: success is quiet"

# ---- 6. a large record on stdin, read or not --------------------------------
cat >reader.sh <<'EOF'
#!/bin/sh
case $STREAMCUT_INDEX in
0) exec 0<&-; sleep 0.2 ;;
1) sleep 0.5 ;;
2) python3 -c 'import json, sys; print(len(json.load(sys.stdin)["padding"]))' >padding.txt ;;
esac
EOF
chmod +x reader.sh
{ printf '[host]\nmodule_path = %s\n\n' "$test_modules"; STRATEGY_KEYS='extra_bytes = 1000000' hook_pipeline 3s 1s tagger; cat <<'EOF'
command = ./reader.sh
EOF
} >stdin.ini
run stdin -v
[ "$rc" -eq 0 ] && pass "stdin: streamcut exits 0" || { fail "stdin: exit $rc"; tail stdin.err; }
expect_counter stdin hook runs 3
expect_counter stdin hook failures 0
[ "$(cat padding.txt 2>/dev/null)" = 1000000 ] && pass "stdin: a reader gets the whole 1 MB record" \
    || fail "stdin: the reader got $(cat padding.txt 2>/dev/null || echo nothing)"
# The record does not fit in a pipe: the commands that did not read it
# left most of it unwritten, and that cost streamcut nothing.
for index in 0 1; do
    grep -Eq "\[hook\] cut#$index: [0-9]+ of the [0-9]+ bytes of its stdin were not read" stdin.err \
        && pass "stdin: cut#$index left its stdin unread" || fail "stdin: cut#$index read its stdin?"
done
grep -q "cut#2: .* stdin were not read" stdin.err && fail "stdin: cut#2 did not get the whole record" \
    || pass "stdin: cut#2 read it all"

# ---- 7. no zombies; SIGINT waits for running commands -----------------------
cat >tick.sh <<'EOF'
#!/bin/sh
touch "live/$$"
sleep 0.3
rm "live/$$"
EOF
chmod +x tick.sh
{ hook_pipeline 0 250ms fixed live; cat <<'EOF'
command = ./tick.sh
stdin = none
max_concurrent = 2
EOF
} >zombies.ini
"$streamcut" run zombies.ini >zombies.out 2>zombies.err &
child=$!
# Samples streamcut's children every 20 ms for 5 s, then sends SIGINT and
# samples until it exits. A child seen defunct in samples 100 ms apart was
# not reaped.
python3 - "$child" >zombies.summary <<'EOF'
import os, signal, sys, time
streamcut = int(sys.argv[1])
def children():
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            text = open("/proc/%s/stat" % name).read()
        except OSError:
            continue
        state, ppid = text.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == streamcut:
            found[int(name)] = state
    return found
def streamcut_ended():
    try:
        return open("/proc/%d/stat" % streamcut).read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
seen, first_defunct, lingering = set(), {}, set()
started = time.monotonic()
interrupted = False
while not streamcut_ended():
    now = time.monotonic()
    if not interrupted and now - started > 5:
        os.kill(streamcut, signal.SIGINT)
        interrupted = True
    for pid, state in children().items():
        seen.add(pid)
        if state == "Z":
            first_defunct.setdefault(pid, now)
            if now - first_defunct[pid] > 0.1:
                lingering.add(pid)
    time.sleep(0.02)
print(len(seen), len(lingering), len(first_defunct))
EOF
rc=0
wait "$child" || rc=$?
child=
read -r seen lingering defunct_samples <zombies.summary
[ "$rc" -eq 0 ] && pass "zombies: streamcut exits 0 after SIGINT" || { fail "zombies: exit $rc"; tail zombies.err; }
[ "$seen" -ge 5 ] && pass "zombies: $seen commands seen running" || fail "zombies: only $seen commands seen"
[ "$lingering" -eq 0 ] && pass "zombies: none stays defunct ($defunct_samples seen between exit and reaping)" \
    || fail "zombies: $lingering children stayed defunct"
left=$(ls live | wc -l)
[ "$left" -eq 0 ] && pass "zombies: every command finished before streamcut exited" \
    || fail "zombies: $left commands still running after streamcut exited"
runs=$(counter zombies hook runs)
[ "$runs" -ge 5 ] && pass "zombies: $runs runs" || fail "zombies: $runs runs"
expect_counter zombies hook failures 0

# ---- 8. conf/examples/exec.ini, as shipped but for allow_root -------------
mkdir example
if [ "$(id -u)" -eq 0 ]; then
    sed 's/^; allow_root = true$/allow_root = true/' "$top_srcdir/conf/examples/exec.ini" >example/exec.ini
else
    cp "$top_srcdir/conf/examples/exec.ini" example/exec.ini
fi
cd example
run exec -v
cd ..
[ "$rc" -eq 0 ] && pass "example: exits 0" || { fail "example: exit $rc"; tail example/exec.err; }
expect_counter example/exec check runs 4
expect_counter example/exec check failures 0
probed=$(grep -Ec '\[check\] five_seconds#[0-9]+ stdout: [45]\.[0-9]+$' example/exec.err || true)
[ "$probed" -eq 4 ] && pass "example: ffprobe measured 4 clips of about 5 s" \
    || { fail "example: $probed clip durations logged"; grep 'check' example/exec.err | tail; }

echo "failures: $failures"
[ "$failures" -eq 0 ]
