#!/bin/bash
# End-to-end: the redis sink against real redis-server instances this test
# starts on free loopback ports (and stops on exit), and scripts/redis-consumer.
#
# - Entries: one per segment; source, strategy, index, start, end, start_utc
#   and json match the jsonl records of the same run (json byte for byte);
#   include = payload carries the clip's bytes (sha256 equal to the file's,
#   through a consumer's --save-payload), include = file its path.
# - Consumer group: redis-consumer reads and acknowledges every entry
#   (XPENDING empty after), takes over what a dead worker left pending
#   (XAUTOCLAIM), leaves what its --exec failed on pending and handles it
#   when restarted, and exits 0 on SIGINT.
# - Sync sets: one entry per set, its json the jsonl line.
# - Credentials: a wrong password, a missing one and a wrong ACL user stop
#   the run with a clear error that never shows the password; the right
#   ones work; logs show *** in its place.
# - Outage: redis-server killed (SIGKILL) mid-run on a live source and
#   restarted on the same port 5 s later: both sinks reconnect
#   (reconnects >= 1); the one with a roomy queue loses nothing; the one
#   with a 3-segment queue accounts for every segment (entries +
#   dropped_overflow + entries_failed = segments).
# - Bounded waits: no server at all, and a server that accepts but never
#   answers: the run ends within retry_for plus a margin, every segment
#   counted in entries_failed.
#
# Needs redis-server and redis-cli (Debian: redis-server, redis-tools).
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/redis_lib.sh"
redis_scratch redis

# start_redis PORT NAME [redis-server options...]: runs in the background,
# pid in redis_pid, waits until it answers PING.
start_redis() {
    local port=$1 name=$2
    shift 2
    mkdir -p "redis-$name"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp/redis-$name" \
        --logfile "$tmp/redis-$name.log" "$@" &
    redis_pid=$!
    started+=("$redis_pid")
    redis_wait_ping "$port" "$tmp/redis-$name.log"
}

line_count() { # FILE: its lines, 0 while it does not exist
    if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# stream_field PORT KEY FIELD [length]: FIELD's value (or its length) in
# each entry of the stream, one a line ("?" where an entry lacks it).
stream_field() {
    redis-cli -p "$1" --raw EVAL "local out = {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local f, value = entry[2], '?'
  for j = 1, #f, 2 do
    if f[j] == ARGV[1] then value = ARGV[2] == 'length' and #f[j + 1] or f[j + 1] end
  end
  table.insert(out, value)
end
return out" 1 "$2" "$3" "${4:-value}"
}


# ---- entries, payload, consumer group --------------------------------------
port=$(free_port)
start_redis "$port" main
main_pid=$redis_pid
{
    testsrc_source cam 6s
    cat <<EOF
[strategy one]
module = fixed
source = cam
duration = 1s

[sink clips]
module = clip
from = one
path = clips/{source}-{index:03}.ts

[sink records]
module = jsonl
from = one
path = records.jsonl

[sink bytes]
module = redis
from = one
url = redis://127.0.0.1:$port/0
key = sc:{source}:payload
include = payload

[sink paths]
module = redis
from = one
url = redis://127.0.0.1:$port/3
key = {{sc}}:{strategy}
include = file
maxlen = 0
EOF
} >entries.ini
rc=0
"$streamcut" run entries.ini >entries.out 2>entries.err || rc=$?
segments=$(line_count records.jsonl)
if [ "$rc" -eq 0 ] && [ "$segments" -eq 6 ]; then
    pass "run with two redis sinks: exit 0, $segments segments"
else
    fail "run exited $rc with $segments records"
    cat entries.err
fi
[ "$(counter bytes entries_added entries.err)" -eq "$segments" ] && [ "$(counter paths entries_added entries.err)" -eq "$segments" ] \
    && pass "entries_added = $segments for both sinks" || fail "entries_added: $(grep counters entries.err)"
[ "$(redis-cli -p "$port" XLEN sc:cam:payload)" -eq "$segments" ] && pass "XLEN sc:cam:payload = $segments" \
    || fail "XLEN sc:cam:payload = $(redis-cli -p "$port" XLEN sc:cam:payload)"
[ "$(redis-cli -p "$port" -n 3 XLEN '{sc}:one')" -eq "$segments" ] \
    && pass "key template {{sc}}:{strategy} in db 3: XLEN {sc}:one = $segments" \
    || fail "XLEN {sc}:one in db 3 = $(redis-cli -p "$port" -n 3 XLEN '{sc}:one')"

# Every field against the jsonl record of the same segment.
redis-cli -p "$port" -n 3 --raw XRANGE '{sc}:one' - + >paths.raw
if python3 - paths.raw records.jsonl <<'EOF'; then pass "fields match the jsonl records (json byte for byte, file = the clip)"; else fail "fields differ from the jsonl records"; fi
import json, re, sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
records = [line for line in open(sys.argv[2]).read().split("\n") if line]
# redis-cli --raw prints each entry as its id, then field and value lines.
entries, name = [], None
for line in lines:
    if name is None and re.fullmatch(r"[0-9]+-[0-9]+", line):
        entries.append({})
    elif name is None:
        name = line
    else:
        entries[-1][name], name = line, None
bad = 0
if len(entries) != len(records):
    print("entries %d, records %d" % (len(entries), len(records))); bad += 1
for fields, line in zip(entries, records):
    record = json.loads(line)
    expected = {"source": record["source"], "strategy": record["strategy"], "index": str(record["index"]),
                "start_utc": record["start_utc"], "json": line, "file": record["file"]}
    for name, value in expected.items():
        if fields.get(name) != value:
            print("index %s: %s = %r, expected %r" % (record["index"], name, fields.get(name), value)); bad += 1
    for name in ("start", "end"):
        if abs(float(fields.get(name, "nan")) - record[name]) > 1e-6:
            print("index %s: %s = %r, record %r" % (record["index"], name, fields.get(name), record[name])); bad += 1
    if "payload" in fields:
        print("include = file carries a payload"); bad += 1
sys.exit(1 if bad else 0)
EOF

# Payload sizes as the server holds them, against the clips.
paste -d " " <(stream_field "$port" sc:cam:payload file) <(stream_field "$port" sc:cam:payload payload length) >payload.sizes
size_mismatch=0
while read -r file size; do
    [ -f "$file" ] && [ "$(stat -c %s "$file")" -eq "$size" ] || size_mismatch=$((size_mismatch + 1))
done <payload.sizes
[ "$(line_count payload.sizes)" -eq "$segments" ] && [ "$size_mismatch" -eq 0 ] \
    && pass "every entry's payload is as long as its clip" || { fail "payload sizes:"; cat payload.sizes; }
[ "$(counter bytes payload_bytes entries.err)" -eq "$(cat clips/*.ts | wc -c)" ] \
    && pass "payload_bytes = the clips' total size" || fail "payload_bytes = $(counter bytes payload_bytes entries.err)"

# A consumer group reads, saves the payloads and acknowledges everything.
mkdir saved
rc=0
timeout 60 "$consumer" --port "$port" --key sc:cam:payload --group workers --consumer w1 \
    --save-payload saved --idle-exit 1.5 --block-ms 200 >consumed.jsonl 2>consumer.err || rc=$?
if [ "$rc" -eq 0 ] && cmp -s consumed.jsonl records.jsonl; then
    pass "redis-consumer printed every record, in order, as jsonl wrote them"
else
    fail "redis-consumer exited $rc; output differs from records.jsonl"
    cat consumer.err
fi
pending=$(redis-cli -p "$port" XPENDING sc:cam:payload workers | head -n1)
[ "$pending" = 0 ] && pass "XPENDING workers = 0 after the consumer" || fail "XPENDING workers = $pending"
same=0
for clip in clips/*.ts; do
    [ "$(sha256sum <"$clip")" = "$(sha256sum <"saved/$(basename "$clip")")" ] && same=$((same + 1))
done
[ "$same" -eq "$segments" ] && pass "payloads round-trip: $same clips saved by the consumer have the files' sha256" \
    || fail "only $same of $segments saved payloads match their clips"

# A dead worker: reads three entries and never acknowledges them.
redis-cli -p "$port" XGROUP CREATE sc:cam:payload crashers 0 >/dev/null
redis-cli -p "$port" XREADGROUP GROUP crashers dead COUNT 3 STREAMS sc:cam:payload '>' >/dev/null
[ "$(redis-cli -p "$port" XPENDING sc:cam:payload crashers | head -n1)" = 3 ] \
    && pass "a dead worker left 3 entries pending" || fail "the dead worker's entries are not pending"
sleep 0.6
rc=0
timeout 60 "$consumer" --port "$port" --key sc:cam:payload --group crashers --consumer survivor \
    --claim-idle 0.5 --idle-exit 1.5 --block-ms 200 >survivor.jsonl 2>survivor.err || rc=$?
if [ "$rc" -eq 0 ] && [ "$(sort survivor.jsonl | uniq | wc -l)" -eq "$segments" ] && grep -q "3 taken over" survivor.err; then
    pass "a second consumer takes over the dead worker's 3 entries (XAUTOCLAIM) and handles all $segments"
else
    fail "survivor exited $rc with $(wc -l <survivor.jsonl) records: $(cat survivor.err)"
fi
pending=$(redis-cli -p "$port" XPENDING sc:cam:payload crashers | head -n1)
[ "$pending" = 0 ] && pass "XPENDING crashers = 0 after the takeover" || fail "XPENDING crashers = $pending"

# A failing --exec leaves its entries pending; the same worker, restarted,
# handles its own pending entries first.
timeout 60 "$consumer" --port "$port" --key sc:cam:payload --group picky --consumer p1 \
    --exec 'cat >/dev/null; exit 3' --idle-exit 1 --block-ms 200 >/dev/null 2>picky1.err || true
pending_after_failure=$(redis-cli -p "$port" XPENDING sc:cam:payload picky | head -n1)
timeout 60 "$consumer" --port "$port" --key sc:cam:payload --group picky --consumer p1 \
    --exec 'grep -q "\"source\":\"cam\""' --idle-exit 1 --block-ms 200 >/dev/null 2>picky2.err || true
pending=$(redis-cli -p "$port" XPENDING sc:cam:payload picky | head -n1)
if [ "$pending_after_failure" = "$segments" ] && [ "$pending" = 0 ] && grep -q "acknowledged $segments entries" picky2.err; then
    pass "--exec failing leaves $segments entries pending; restarted, the worker handles and acknowledges them"
else
    fail "--exec failure: pending $pending_after_failure then $pending: $(cat picky1.err picky2.err)"
fi

# SIGINT stops a waiting consumer cleanly (once it has read everything, so
# its handler is surely installed: a background job starts with SIGINT
# ignored until then).
"$consumer" --port "$port" --key sc:cam:payload --group late --consumer w9 --block-ms 300 >late.jsonl 2>late.err &
consumer_pid=$!
started+=("$consumer_pid")
ticks=0
while [ "$(line_count late.jsonl)" -lt "$segments" ] && [ "$ticks" -lt 300 ]; do sleep 0.1; ticks=$((ticks + 1)); done
kill -INT "$consumer_pid"
ticks=0
while kill -0 "$consumer_pid" 2>/dev/null && [ "$ticks" -lt 100 ]; do sleep 0.1; ticks=$((ticks + 1)); done
kill -KILL "$consumer_pid" 2>/dev/null || true
rc=0
wait "$consumer_pid" || rc=$?
[ "$rc" -eq 0 ] && grep -q "acknowledged $segments entries" late.err \
    && pass "SIGINT: the consumer exits 0 after acknowledging $segments entries" \
    || fail "SIGINT: consumer exited $rc: $(cat late.err)"

# ---- the shipped example ------------------------------------------------------
mkdir example
rc=0
(cd example && REDIS_URL="redis://127.0.0.1:$port/5" "$streamcut" run "$top_srcdir/conf/examples/redis.ini" \
    >../example.out 2>../example.err) || rc=$?
example_entries=$(redis-cli -p "$port" -n 5 XLEN streamcut:cam)
example_files=$(redis-cli -p "$port" -n 5 --raw XRANGE streamcut:cam - + | grep -A1 '^file$' | grep -c '\.ts$' || true)
if [ "$rc" -eq 0 ] && [ "$example_entries" -eq 4 ] && [ "$example_files" -eq 4 ]; then
    pass "conf/examples/redis.ini as shipped: 4 entries on streamcut:cam, each with its clip's path"
else
    fail "conf/examples/redis.ini: exit $rc, $example_entries entries, $example_files paths"
    cat example.err
fi

# ---- synchronized sets -------------------------------------------------------
{
    testsrc_source left 4s "encode = false" "audio = false" "start_epoch = 1764000000"
    testsrc_source right 4s "encode = false" "audio = false" "start_epoch = 1764000000"
    cat <<EOF
[sync pair]
module = fixed
sources = left, right
duration = 2s

[sink sets]
module = jsonl
from = pair
path = sets.jsonl

[sink published]
module = redis
from = pair
url = redis://127.0.0.1:$port
EOF
} >sets.ini
rc=0
"$streamcut" run sets.ini >sets.out 2>sets.err || rc=$?
stream_field "$port" streamcut:pair json >sets.redis
# members: the sources present in the set, as its record says.
stream_field "$port" streamcut:pair members >sets.members
members_ok=$(python3 -c '
import json, sys
records = [json.loads(line) for line in open("sets.jsonl")]
members = open("sets.members").read().split()
present = [",".join(name for name, segment in record["segments"].items() if segment) for record in records]
print("yes" if members == present else "no: %s vs %s" % (members, present))')
if [ "$rc" -eq 0 ] && [ -s sets.jsonl ] && cmp -s sets.redis sets.jsonl && [ "$members_ok" = yes ]; then
    pass "sync sets: one entry per set ($(wc -l <sets.jsonl)) on streamcut:{source} = streamcut:pair, json as jsonl's, members as present"
else
    fail "sync sets: exit $rc, members $members_ok"
    diff sets.jsonl sets.redis | head -5 || true
fi

# ---- credentials -------------------------------------------------------------
auth_port=$(free_port)
start_redis "$auth_port" auth --requirepass 'Corr3ct-H0rse'
redis-cli -p "$auth_port" -a 'Corr3ct-H0rse' --no-auth-warning \
    ACL SETUSER worker on '>W0rker-Pass' '~*' '+@all' >/dev/null
auth_pipeline() { # URL
    testsrc_source cam 2s "encode = false" "audio = false"
    printf '[strategy one]\nmodule = fixed\nsource = cam\nduration = 1s\n'
    printf '[sink pub]\nmodule = redis\nfrom = one\nurl = %s\nkey = auth\n' "$1"
}
expect_refused() { # NAME URL SECRET MESSAGE
    auth_pipeline "$2" >"$1.ini"
    local rc=0 started_at=$SECONDS
    "$streamcut" -v run "$1.ini" >"$1.out" 2>"$1.err" || rc=$?
    if [ "$rc" -ne 0 ] && grep -q -- "$4" "$1.err" && { [ -z "$3" ] || ! grep -q -- "$3" "$1.err"; } \
        && [ $((SECONDS - started_at)) -lt 20 ]; then
        pass "$1: refused at once (exit $rc): $(grep -o -- "$4.*" "$1.err" | head -n1)"
    else
        fail "$1: exit $rc, expected '$4' without the password"
        cat "$1.err"
    fi
}
expect_refused wrong_password "redis://:Wr0ng-Pass@127.0.0.1:$auth_port" Wr0ng-Pass "authentication failed: WRONGPASS"
expect_refused wrong_user "redis://nobody:W0rker-Pass@127.0.0.1:$auth_port" W0rker-Pass "authentication as nobody failed"
expect_refused no_password "redis://127.0.0.1:$auth_port" "" "NOAUTH"
expect_refused bad_db "redis://:Corr3ct-H0rse@127.0.0.1:$auth_port/99" Corr3ct-H0rse "selecting the database failed"
expect_refused bad_url "rediss://:Corr3ct-H0rse@127.0.0.1:$auth_port" Corr3ct-H0rse "TLS"
for url in "redis://:Corr3ct-H0rse@127.0.0.1:$auth_port" "redis://worker:W0rker-Pass@127.0.0.1:$auth_port/2"; do
    auth_pipeline "$url" >good_auth.ini
    rc=0
    "$streamcut" -v run good_auth.ini >good_auth.out 2>good_auth.err || rc=$?
    if [ "$rc" -eq 0 ] && [ "$(counter pub entries_added good_auth.err)" -eq 2 ] && grep -q ':\*\*\*@' good_auth.err \
        && ! grep -q -e Corr3ct-H0rse -e W0rker-Pass good_auth.err; then
        pass "right credentials ($(grep -o 'redis://[^ ,]*\*\*\*@[^ ,]*' good_auth.err | head -n1)): 2 entries, password never logged"
    else
        fail "right credentials: exit $rc"
        cat good_auth.err
    fi
done

# ---- outage: redis-server killed mid-run and restarted -----------------------
outage_port=$(free_port)
aof="--appendonly yes --appendfsync always"
# shellcheck disable=SC2086 # options meant to split
start_redis "$outage_port" outage $aof
{
    testsrc_source live 14s "realtime = true" "encode = false" "audio = false"
    cat <<EOF
[strategy half]
module = fixed
source = live
duration = 500ms

[sink records]
module = jsonl
from = half
path = outage.jsonl

[sink roomy]
module = redis
from = half
url = redis://127.0.0.1:$outage_port
key = roomy
retry_for = 30s
reconnect_max_delay = 500ms

[sink tight]
module = redis
from = half
url = redis://127.0.0.1:$outage_port
key = tight
queue = 3
retry_for = 30s
reconnect_max_delay = 500ms
EOF
} >outage.ini
"$streamcut" run outage.ini >outage.out 2>outage.err &
streamcut_pid=$!
started+=("$streamcut_pid")
ticks=0
until [ "$(redis-cli -p "$outage_port" XLEN roomy 2>/dev/null || echo 0)" -ge 4 ] || [ "$ticks" -gt 200 ]; do
    sleep 0.1
    ticks=$((ticks + 1))
done
{ kill -KILL "$redis_pid" && wait "$redis_pid"; } 2>/dev/null || true
before=$(line_count outage.jsonl)
sleep 5
# shellcheck disable=SC2086
start_redis "$outage_port" outage $aof
rc=0
wait "$streamcut_pid" || rc=$?
segments=$(line_count outage.jsonl)
echo "outage: killed after $before segments, restarted 5 s later; $segments segments in all"
distinct() { # KEY: distinct segment indexes the stream holds
    stream_field "$outage_port" "$1" index | sort -u | wc -l
}
roomy=$(distinct roomy)
tight=$(distinct tight)
roomy_reconnects=$(counter roomy reconnects outage.err)
tight_reconnects=$(counter tight reconnects outage.err)
tight_dropped=$(counter tight dropped_overflow outage.err)
tight_failed=$(counter tight entries_failed outage.err)
[ "$rc" -eq 0 ] && [ "$segments" -ge 24 ] && pass "outage run: exit 0, $segments segments" \
    || { fail "outage run: exit $rc, $segments segments"; cat outage.err; }
[ "$roomy_reconnects" -ge 1 ] && [ "$tight_reconnects" -ge 1 ] \
    && pass "both sinks reconnected (reconnects = $roomy_reconnects, $tight_reconnects)" \
    || fail "reconnects = $roomy_reconnects, $tight_reconnects"
[ "$roomy" -eq "$segments" ] && [ "$(counter roomy dropped_overflow outage.err)" -eq 0 ] \
    && pass "queue 64: all $segments segments arrived, none dropped" \
    || fail "queue 64: $roomy of $segments segments arrived"
[ "$((tight + tight_dropped + tight_failed))" -eq "$segments" ] && [ "$tight_dropped" -gt 0 ] \
    && pass "queue 3: $tight arrived + $tight_dropped dropped_overflow + $tight_failed entries_failed = $segments segments" \
    || fail "queue 3: $tight arrived, $tight_dropped dropped, $tight_failed failed, $segments segments"
grep -q "unreachable" outage.err && grep -q "answers again" outage.err \
    && pass "the outage is logged: $(grep -o 'roomy\] .*answers again.*' outage.err | head -n1)" \
    || fail "no unreachable / answers again lines in the log"

# ---- bounded waits -----------------------------------------------------------
bounded_pipeline() { # URL
    testsrc_source cam 3s "encode = false" "audio = false"
    printf '[strategy one]\nmodule = fixed\nsource = cam\nduration = 500ms\n'
    printf '[sink pub]\nmodule = redis\nfrom = one\nurl = %s\nretry_for = 1s\n' "$1"
    printf 'reconnect_max_delay = 200ms\nconnect_timeout = 500ms\ncommand_timeout = 500ms\n'
}
expect_bounded() { # NAME URL MESSAGE
    bounded_pipeline "$2" >"$1.ini"
    local rc=0 start_ns end_ns
    start_ns=$(date +%s%N)
    timeout 60 "$streamcut" run "$1.ini" >"$1.out" 2>"$1.err" || rc=$?
    end_ns=$(date +%s%N)
    local elapsed_ms=$(((end_ns - start_ns) / 1000000))
    local failed
    failed=$(counter pub entries_failed "$1.err")
    if [ "$rc" -eq 0 ] && [ "$failed" -eq 6 ] && [ "$elapsed_ms" -lt 8000 ] && grep -q -- "$3" "$1.err"; then
        pass "$1: 6 segments failed in ${elapsed_ms} ms (retry_for = 1 s), '$3' logged"
    else
        fail "$1: exit $rc, entries_failed = $failed, ${elapsed_ms} ms"
        cat "$1.err"
    fi
}
expect_bounded no_server "redis://127.0.0.1:$(free_port)" "Connection refused"
# A server that accepts connections and never answers.
silent_port=$(free_port)
python3 - "$silent_port" <<'EOF' &
import socket, sys, time
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(64)
server.settimeout(1)
held, deadline = [], time.time() + 60
while time.time() < deadline:
    try:
        held.append(server.accept()[0])
    except socket.timeout:
        pass
EOF
started+=("$!")
ticks=0
until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $silent_port), 0.2)" 2>/dev/null || [ "$ticks" -gt 50 ]; do
    sleep 0.1
    ticks=$((ticks + 1))
done
expect_bounded silent_server "redis://127.0.0.1:$silent_port" "no reply within command_timeout"

kill "$main_pid" 2>/dev/null || true
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
