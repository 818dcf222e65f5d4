#!/bin/bash
# End-to-end: a [sync] group of three live RTMP sources (ffmpeg publishers
# pushing to streamcut's listener). One publisher is killed mid-run: the
# group keeps emitting sets for the other two, flagged partial with the
# missing member null; when the publisher comes back, full sets resume.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-sync-live.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
publish() { # PORT: pushes a live test pattern to 127.0.0.1:PORT/live/key
    ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=160x90:rate=25 -c:v libx264 -preset ultrafast -g 25 \
        -f flv "rtmp://127.0.0.1:$1/live/key" >"publisher-$1.log" 2>&1 &
    publisher=$!
    pids+=("$publisher")
}
sets() { if [ -f sets.jsonl ]; then wc -l <sets.jsonl; else echo 0; fi; }
wait_sets() { # COUNT SECONDS
    local ticks=0
    while [ "$(sets)" -lt "$1" ] && [ "$ticks" -lt $(($2 * 10)) ]; do sleep 0.1; ticks=$((ticks + 1)); done
    [ "$(sets)" -ge "$1" ]
}

ports=($(free_port) $(free_port) $(free_port))
{
    for i in 0 1 2; do
        printf '[source s%d]\nmodule = rtmp\nlisten = 127.0.0.1:%d\nidle_timeout = 2s\n' "$i" "${ports[$i]}"
    done
    printf '[sync trio]\nmodule = fixed\nsources = s0, s1, s2\nduration = 1s\nsync.timeout = 1500ms\n'
    printf '[sink sets]\nmodule = jsonl\nfrom = trio\npath = sets.jsonl\n'
} >trio.ini
"$streamcut" run trio.ini >streamcut.out 2>streamcut.err &
streamcut_pid=$!
pids+=("$streamcut_pid")
sleep 1
for port in "${ports[@]}"; do publish "$port"; done
third=$publisher

wait_sets 6 40 && pass "sets flowing with three publishers" || fail "only $(sets) sets after 40 s"
kill -KILL "$third"
sleep 7
before_return=$(sets)
publish "${ports[2]}"
wait_sets $((before_return + 8)) 40 && pass "sets continue after the publisher came back" || fail "no sets after the return"
kill -INT "$streamcut_pid"
status=0
wait "$streamcut_pid" || status=$?
for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
[ "$status" -eq 0 ] && pass "streamcut exits 0" || fail "streamcut exit $status"

# The sequence of sets: full, then partial without s2 while it was gone,
# then full again.
python3 - <<'PY' || failures=$((failures + 1))
import json, sys
sets = [json.loads(line) for line in open("sets.jsonl") if line.strip()]
kinds = []
for s in sets:
    members = s["segments"]
    present = [name for name in ("s0", "s1", "s2") if members.get(name)]
    if len(present) == 3:
        kinds.append("full")
    elif present == ["s0", "s1"]:
        kinds.append("without_s2")
    else:
        kinds.append("other:" + ",".join(present))
print("info: sets:", " ".join({"full": "F", "without_s2": "-"}.get(k, "?") for k in kinds))
failed = 0
def check(ok, what):
    global failed
    print(("ok:   " if ok else "FAIL: ") + what)
    failed += 0 if ok else 1
check([s["index"] for s in sets] == list(range(len(sets))), "sets in order, none missing")
# The publishers start one after another: the first sets may lack one.
start = next((i for i, k in enumerate(kinds) if k == "full"), len(kinds))
first_partial = next((i for i in range(start, len(kinds)) if kinds[i] == "without_s2"), -1)
check(first_partial - start >= 2 and all(k == "full" for k in kinds[start:first_partial]),
      "full sets before the publisher was killed")
gone = [i for i in range(start, len(kinds)) if kinds[i] == "without_s2"]
check(len(gone) >= 3, "at least 3 partial sets while it was gone (%d)" % len(gone))
check(all("partial" in sets[i]["flags"] for i in gone), "those sets are flagged partial, s2 null")
after = kinds[gone[-1] + 1:] if gone else []
check(after.count("full") >= 3, "full sets again after it came back (%d)" % after.count("full"))
check(all(k in ("full", "without_s2") for k in kinds[start:-1]), "no other kind of set in between")
sys.exit(1 if failed else 0)
PY

[ "$failures" -eq 0 ] || { tail -20 streamcut.err; exit 1; }
