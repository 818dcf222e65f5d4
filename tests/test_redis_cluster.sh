#!/bin/bash
# End-to-end: the redis sink against a real three-node Redis Cluster this
# test starts on free loopback ports (and stops on exit), url naming one
# node only.
#
# - Routing: six sources whose keys hash to slots on all three nodes; every
#   entry lands in its key's stream (read back through redirects with
#   redis-cli -c, counted against the jsonl records); each key not on url's
#   node costs exactly one MOVED (cluster_redirects), after which the sink
#   knows its owner; a hash-tagged key template puts every source on one
#   slot.
# - Resharding: a slot half migrated (MIGRATING on its owner, IMPORTING on
#   another node): every entry follows ASK to the importing node
#   (cluster_ask_redirects = entries), where it is found after the slot is
#   handed over; redis-consumer reads them meanwhile, through ASK as well.
# - Failover: a node killed for good mid-run on a live source, its replica
#   taking over: url's node's stream loses nothing, every segment is
#   accounted for (entries_added + entries_failed + dropped_overflow), and
#   entries reach the new owner after the kill (the dead node forgotten).
# - scripts/redis-consumer pointed at a node that does not own its key
#   follows MOVED and reads every entry.
#
# Needs redis-server and redis-cli (Debian: redis-server, redis-tools).
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/redis_lib.sh"
redis_scratch redis-cluster

# records_of SOURCE: how many jsonl records the run wrote for SOURCE.
records_of() {
    grep -c "\"source\":\"$1\"" records.jsonl || true
}

# start_node N: cluster node N on ports[N] (bus on bus_ports[N]), its pid in
# pids[N]; waits until it answers PING.
start_node() {
    local n=$1
    mkdir -p "node$n"
    redis-server --port "${ports[$n]}" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp/node$n" \
        --cluster-enabled yes --cluster-port "${bus_ports[$n]}" --cluster-config-file nodes.conf \
        --cluster-node-timeout 1000 --cluster-require-full-coverage no \
        --logfile "$tmp/node$n.log" &
    pids[$n]=$!
    started+=("${pids[$n]}")
    redis_wait_ping "${ports[$n]}" "$tmp/node$n.log"
}

# wait_cluster_ok: until every node reports cluster_state:ok (20 s at most).
wait_cluster_ok() {
    local ticks=0 n
    for n in 1 2 3; do
        until redis-cli -p "${ports[$n]}" CLUSTER INFO 2>/dev/null | grep -q "cluster_state:ok"; do
            ticks=$((ticks + 1))
            if [ "$ticks" -gt 200 ]; then
                echo "FAIL: the cluster did not come up"
                for m in 1 2 3; do redis-cli -p "${ports[$m]}" CLUSTER INFO | head -3; done
                exit 1
            fi
            sleep 0.1
        done
    done
}

# owner KEY: the number (1-3) of the node that owns KEY's slot, as node 1
# says: an answer, or a MOVED naming the owner.
owner() {
    local reply port n
    reply=$(redis-cli -p "${ports[1]}" TYPE "$1" 2>&1)
    port=$(printf '%s\n' "$reply" | grep -o 'MOVED [0-9]* [^ ]*' | sed 's/.*://' || true)
    if [ -z "$port" ]; then
        echo 1
        return
    fi
    for n in 1 2 3; do
        if [ "${ports[$n]}" = "$port" ]; then echo "$n"; return; fi
    done
    echo "?"
}

node_id() { redis-cli -p "${ports[$1]}" CLUSTER MYID; }

declare -a ports bus_ports pids   # nodes 1-3: masters; 4: a replica added later
for n in 1 2 3; do
    ports[$n]=$(free_port)
    bus_ports[$n]=$(free_port)
done
for n in 1 2 3; do start_node "$n"; done
redis-cli --cluster create "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" "127.0.0.1:${ports[3]}" \
    --cluster-replicas 0 --cluster-yes >cluster-create.log 2>&1 || { cat cluster-create.log; fail "cluster create"; exit 1; }
wait_cluster_ok
pass "three-node cluster on ports ${ports[*]}"


# ---- routing ---------------------------------------------------------------
sources="cam1 cam2 cam3 cam4 cam5 cam6"
away=0
declare -A owners
for source in $sources; do
    owners[$source]=$(owner "sc:$source")
    [ "${owners[$source]}" != 1 ] && away=$((away + 1))
done
used=$(printf '%s\n' "${owners[@]}" | sort -u | wc -l)
if [ "$used" -eq 3 ] && [ "$away" -ge 2 ]; then
    pass "the six keys live on all three nodes ($away not on url's node)"
else
    fail "keys on $used nodes, $away away from url's node: the test needs other names"
fi
{
    for source in $sources; do testsrc_source "$source" 3s; done
    for source in $sources; do
        printf '[strategy cut_%s]\nmodule = fixed\nsource = %s\nduration = 1s\n' "$source" "$source"
    done
    from=$(printf 'cut_%s, ' $sources)
    cat <<EOF
[sink records]
module = jsonl
from = ${from%, }
path = records.jsonl

[sink spread]
module = redis
from = ${from%, }
url = redis://127.0.0.1:${ports[1]}
key = sc:{source}

[sink tagged]
module = redis
from = ${from%, }
url = redis://127.0.0.1:${ports[1]}
key = {{streamcut}}:{source}
EOF
} >routing.ini
rc=0
"$streamcut" run routing.ini >routing.out 2>routing.err || rc=$?
segments=$(grep -c . records.jsonl || true)
if [ "$rc" -eq 0 ] && [ "$segments" -ge 12 ]; then
    pass "run with six sources: exit 0, $segments segments"
else
    fail "run exited $rc with $segments records"
    cat routing.err
fi
[ "$(counter spread entries_added routing.err)" -eq "$segments" ] && [ "$(counter spread entries_failed routing.err)" -eq 0 ] \
    && pass "spread keys: entries_added = $segments, none failed" || fail "spread: $(grep 'spread' routing.err | tail -3)"
[ "$(counter spread cluster_redirects routing.err)" -eq "$away" ] \
    && pass "one MOVED per key away from url's node ($away), then the owner is known" \
    || fail "cluster_redirects = $(counter spread cluster_redirects routing.err), expected $away"
lost=0
for source in $sources; do
    stored=$(redis-cli -c -p "${ports[1]}" XLEN "sc:$source")
    direct=$(redis-cli -p "${ports[${owners[$source]}]}" XLEN "sc:$source")
    expected=$(records_of "$source")
    if [ "$stored" -ne "$expected" ] || [ "$direct" -ne "$expected" ] || [ "$expected" -eq 0 ]; then
        echo "  sc:$source: $stored through redirects, $direct on node ${owners[$source]}, $expected records"
        lost=1
    fi
done
[ "$lost" -eq 0 ] && pass "every key's stream, on its owner node, holds its source's segments" \
    || fail "streams do not match the records"
tag_owner=$(owner "{streamcut}:cam1")
tagged_total=0
for source in $sources; do
    tagged_total=$((tagged_total + $(redis-cli -p "${ports[$tag_owner]}" XLEN "{streamcut}:$source")))
done
expected_tag_redirects=$([ "$tag_owner" = 1 ] && echo 0 || echo 1)
[ "$tagged_total" -eq "$segments" ] && [ "$(counter tagged cluster_redirects routing.err)" -eq "$expected_tag_redirects" ] \
    && pass "hash tag: all $segments entries on node $tag_owner, $expected_tag_redirects redirect" \
    || fail "hash tag: $tagged_total entries on node $tag_owner, $(counter tagged cluster_redirects routing.err) redirects"

# ---- the consumer follows MOVED --------------------------------------------
for source in $sources; do
    if [ "${owners[$source]}" != 1 ]; then far=$source; break; fi
done
rc=0
timeout 30 python3 "$consumer" --port "${ports[1]}" --key "sc:$far" --group workers --consumer w1 \
    --idle-exit 1 >consumer.out 2>consumer.err || rc=$?
read_count=$(grep -c '"source"' consumer.out || true)
pending=$(redis-cli -c -p "${ports[1]}" XPENDING "sc:$far" workers | head -n1)
if [ "$rc" -eq 0 ] && [ "$read_count" -eq "$(records_of "$far")" ] && [ "$pending" -eq 0 ]; then
    pass "redis-consumer on node 1 reads sc:$far from node ${owners[$far]}: $read_count entries, none pending"
else
    fail "consumer: exit $rc, $read_count entries of $(records_of "$far"), $pending pending"
    cat consumer.err
fi

# ---- resharding: ASK -------------------------------------------------------
ask_owner=$(owner "sc:moving")
ask_target=$(( ask_owner % 3 + 1 ))
slot=$(redis-cli -p "${ports[1]}" CLUSTER KEYSLOT "sc:moving")
redis-cli -p "${ports[$ask_target]}" CLUSTER SETSLOT "$slot" IMPORTING "$(node_id "$ask_owner")" >/dev/null
redis-cli -p "${ports[$ask_owner]}" CLUSTER SETSLOT "$slot" MIGRATING "$(node_id "$ask_target")" >/dev/null
{
    testsrc_source moving 3s
    cat <<EOF
[strategy cut]
module = fixed
source = moving
duration = 1s

[sink records]
module = jsonl
from = cut
path = moving.jsonl

[sink spread]
module = redis
from = cut
url = redis://127.0.0.1:${ports[1]}
key = sc:{source}
EOF
} >moving.ini
rc=0
"$streamcut" run moving.ini >moving.out 2>moving.err || rc=$?
moving=$(grep -c . moving.jsonl || true)
asks=$(counter spread cluster_ask_redirects moving.err)
if [ "$rc" -eq 0 ] && [ "$moving" -ge 2 ] && [ "$asks" -eq "$moving" ] &&
    [ "$(counter spread entries_added moving.err)" -eq "$moving" ]; then
    pass "slot $slot migrating from node $ask_owner to $ask_target: $moving entries, each after one ASK"
else
    fail "migrating slot: exit $rc, $moving records, $asks ASKs, $(counter spread entries_added moving.err) added"
    cat moving.err
fi
rc=0
timeout 30 python3 "$consumer" --port "${ports[1]}" --key sc:moving --group workers --consumer w1 \
    --idle-exit 1 >moving-consumer.out 2>moving-consumer.err || rc=$?
read_count=$(grep -c '"source"' moving-consumer.out || true)
if [ "$rc" -eq 0 ] && [ "$read_count" -eq "$moving" ]; then
    pass "redis-consumer reads all $moving entries of the migrating slot (through ASK)"
else
    fail "consumer on the migrating slot: exit $rc, $read_count of $moving entries"
    cat moving-consumer.err
fi
for n in 1 2 3; do
    redis-cli -p "${ports[$n]}" CLUSTER SETSLOT "$slot" NODE "$(node_id "$ask_target")" >/dev/null
done
on_target=$(redis-cli -p "${ports[$ask_target]}" XLEN sc:moving)
on_owner=$(redis-cli -p "${ports[$ask_owner]}" EXISTS sc:moving 2>/dev/null | grep -o '^[0-9]*' || echo 0)
[ "$on_target" -eq "$moving" ] && [ "${on_owner:-0}" -eq 0 ] \
    && pass "after the hand-over, node $ask_target holds all $moving entries" \
    || fail "after the hand-over: $on_target on node $ask_target, exists on node $ask_owner: $on_owner"
wait_cluster_ok

# ---- failover: a node lost for good -----------------------------------------
# Two live sources for 8 s, one whose key lives on url's node and one whose
# key lives on another node, which gets a replica (node 4). After 2 s that
# node dies, and 2 s later its replica takes over: the sink must give up on
# the dead node (retry_for 1 s) yet find the new owner through url's node. Writes are paused and the
# replica caught up before the kill, so nothing acknowledged is lost.
victim= survivor=
for source in $sources; do
    node=$(owner "outage:$source")
    if [ "$node" = 1 ] && [ -z "$survivor" ]; then survivor=$source; fi
    if [ "$node" != 1 ] && [ -z "$victim" ]; then victim=$source victim_node=$node; fi
done
[ -n "$victim" ] && [ -n "$survivor" ] || { fail "no outage:cam key pair on node 1 and elsewhere"; exit 1; }
ports[4]=$(free_port)
bus_ports[4]=$(free_port)
start_node 4
redis-cli --cluster add-node "127.0.0.1:${ports[4]}" "127.0.0.1:${ports[1]}" --cluster-slave \
    --cluster-master-id "$(node_id "$victim_node")" >add-node.log 2>&1 || { cat add-node.log; fail "add-node"; exit 1; }
ticks=0
until redis-cli -p "${ports[4]}" INFO replication | grep -q "master_link_status:up"; do
    ticks=$((ticks + 1))
    [ "$ticks" -le 200 ] || { fail "node 4 never replicated node $victim_node"; exit 1; }
    sleep 0.1
done
wait_cluster_ok
{
    testsrc_source "$victim" 8s "realtime = true"
    testsrc_source "$survivor" 8s "realtime = true"
    cat <<EOF
[strategy cut_a]
module = fixed
source = $victim
duration = 1s

[strategy cut_b]
module = fixed
source = $survivor
duration = 1s

[sink records]
module = jsonl
from = cut_a, cut_b
path = outage.jsonl

[sink spread]
module = redis
from = cut_a, cut_b
url = redis://127.0.0.1:${ports[1]}
key = outage:{source}
retry_for = 1s
reconnect_max_delay = 0.5s
connect_timeout = 0.5s
command_timeout = 1s
EOF
} >outage.ini
"$streamcut" run outage.ini >outage.out 2>outage.err &
child=$!
started+=("$child")
sleep 2
repl_offset() { redis-cli -p "${ports[$1]}" INFO replication | grep -o "$2:[0-9]*" | cut -d: -f2; }
redis-cli -p "${ports[$victim_node]}" CLIENT PAUSE 10000 WRITE >/dev/null
ticks=0
until [ "$(repl_offset "$victim_node" master_repl_offset)" = "$(repl_offset 4 slave_repl_offset)" ]; do
    ticks=$((ticks + 1))
    [ "$ticks" -le 200 ] || { fail "node 4 never caught up with node $victim_node"; exit 1; }
    sleep 0.05
done
# A replica answers reads only after READONLY, on the same connection.
before_kill=$(printf 'READONLY\nXLEN outage:%s\n' "$victim" | redis-cli -p "${ports[4]}" | tail -n1)
kill -KILL "${pids[$victim_node]}"
wait "${pids[$victim_node]}" 2>/dev/null || true
# Longer than retry_for: the sink gives up on the dead node before the
# replica takes over, and must still find the new owner.
sleep 2
redis-cli -p "${ports[4]}" CLUSTER FAILOVER TAKEOVER >/dev/null
rc=0
wait "$child" || rc=$?
victim_records=$(grep -c "\"source\":\"$victim\"" outage.jsonl || true)
survivor_records=$(grep -c "\"source\":\"$survivor\"" outage.jsonl || true)
victim_stored=$(redis-cli -p "${ports[4]}" XLEN "outage:$victim")
survivor_stored=$(redis-cli -p "${ports[1]}" XLEN "outage:$survivor")
added=$(counter spread entries_added outage.err)
failed=$(counter spread entries_failed outage.err)
dropped=$(counter spread dropped_overflow outage.err)
total=$((victim_records + survivor_records))
if [ "$rc" -eq 0 ] && [ "$survivor_stored" -eq "$survivor_records" ] && [ "$survivor_records" -ge 6 ]; then
    pass "node 1's stream lost nothing while node $victim_node failed over ($survivor_stored of $survivor_records)"
else
    fail "failover: exit $rc; outage:$survivor holds $survivor_stored of $survivor_records"
    tail -20 outage.err
fi
if [ $((added + failed + dropped)) -eq "$total" ] && [ "$added" -eq $((victim_stored + survivor_stored)) ] &&
    [ "$failed" -ge 1 ] && [ "$victim_stored" -gt "$before_kill" ]; then
    pass "every segment accounted for: $added added + $failed failed + $dropped dropped = $total;" \
        "$((victim_stored - before_kill)) entries reached node 4 after node $victim_node died"
else
    fail "accounting: added $added, failed $failed, dropped $dropped, records $total," \
        "stored $victim_stored (of which $before_kill before the kill) + $survivor_stored"
    tail -20 outage.err
fi

exit $((failures > 0))
