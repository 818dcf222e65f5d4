#!/bin/bash
# End-to-end: the rtmp source against real servers and publishers, all on
# free loopback ports, started and killed here.
#
# Pull: nginx with the RTMP module relays an ffmpeg publisher; streamcut
#   plays it, cuts 2 s windows into .ts clips and JSON lines. The publisher
#   is killed and restarted: streamcut reconnects and the windows go on.
#   A stream crossing the 24-bit timestamp boundary (4 h 39 m 37 s) and one
#   crossing 2^31 ms (which FFmpeg's FLV demuxer turns into a jump) pass
#   without one.
# Listen: streamcut is the server (key = secret). A publisher streams; a
#   wrong key, a wrong application and a second publisher while the first
#   is live are refused; the publisher is killed and comes back (the same
#   run goes on, flagged discontinuity); a half-open publisher (SIGSTOP) is
#   replaced by a new one after takeover_after; the 24-bit boundary and the
#   2^31 ms jump pass without a glitch. A Python publisher that sends like
#   librtmp (OBS), leaving the extended timestamp out of continuation
#   chunks, is read correctly, and its cue point and metadata become events.
# Every clip must pass `ffprobe -v error`, windows must be contiguous.
#
# Needs nginx and libnginx-mod-rtmp (Debian packages).
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

nginx_bin=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
rtmp_module=/usr/lib/nginx/modules/ngx_rtmp_module.so
if [ ! -x "$nginx_bin" ] || [ ! -f "$rtmp_module" ]; then
    echo "FAIL: nginx and its RTMP module are needed: apt-get install nginx libnginx-mod-rtmp"
    exit 1
fi
encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null || true)
if ! grep -q libx264 <<<"$encoders"; then
    echo "FAIL: ffmpeg has no libx264 encoder"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-rtmp.XXXXXX")
started=()
cleanup() {
    for pid in "${started[@]}"; do
        kill -CONT "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() { # PORT SECONDS
    python3 - "$1" "$2" <<'EOF'
import socket, sys, time
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

record_count() { # FILE
    if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

wait_for_records() { # FILE COUNT SECONDS
    local ticks=0
    while [ "$(record_count "$1")" -lt "$2" ] && [ "$ticks" -lt $(($3 * 10)) ]; do
        sleep 0.1
        ticks=$((ticks + 1))
    done
    [ "$(record_count "$1")" -ge "$2" ]
}

wait_for_text() { # FILE PATTERN SECONDS
    local ticks=0
    while ! grep -q -- "$2" "$1" 2>/dev/null && [ "$ticks" -lt $(($3 * 10)) ]; do
        sleep 0.1
        ticks=$((ticks + 1))
    done
    grep -q -- "$2" "$1" 2>/dev/null
}

# publish URL LOG [ffmpeg output options...]: an ffmpeg publisher in the
# background; its pid in $publisher.
publish() {
    local url=$1 log=$2
    shift 2
    ffmpeg -nostdin -v error -re -f lavfi -i testsrc2=size=320x180:rate=30 -f lavfi -i sine=sample_rate=44100 \
        -c:v libx264 -preset veryfast -g 30 -c:a aac "$@" -f flv "$url" >"$log" 2>&1 &
    publisher=$!
    started+=("$publisher")
}

# A pipeline NAME.ini: the rtmp source with the given keys, fixed 2 s
# windows, .ts clips in NAME/ and records in NAME.jsonl.
write_pipeline() {
    local name=$1
    shift
    {
        echo "[source cam]"
        echo "module = rtmp"
        for line in "$@"; do echo "$line"; done
        cat <<EOF

[strategy two]
module = fixed
source = cam
duration = 2s

[sink clips]
module = clip
from = two
path = $name/{source}-{index:03}.ts

[sink records]
module = jsonl
from = two
path = $name.jsonl
EOF
    } >"$name.ini"
}

start_streamcut() { # NAME
    "$streamcut" run "$1.ini" >"$1.out" 2>"$1.err" &
    streamcut_pid=$!
    started+=("$streamcut_pid")
}

# Stops the running streamcut with SIGINT; its exit status in $streamcut_status.
stop_streamcut() {
    kill -INT "$streamcut_pid" 2>/dev/null || true
    local ticks=0
    while kill -0 "$streamcut_pid" 2>/dev/null && [ "$ticks" -lt 150 ]; do
        sleep 0.1
        ticks=$((ticks + 1))
    done
    if kill -0 "$streamcut_pid" 2>/dev/null; then
        fail "streamcut still running 15 s after SIGINT; killing it"
        kill -KILL "$streamcut_pid" 2>/dev/null || true
    fi
    streamcut_status=0
    wait "$streamcut_pid" 2>/dev/null || streamcut_status=$?
}

stop_process() { # PID
    kill -CONT "$1" 2>/dev/null || true
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

counter() { # NAME ERRFILE: the source's counter, 0 when absent
    local value
    value=$(grep -o "\[cam\] counters: .*" "$2" | grep -o "\b$1=[0-9]*" | head -1 | cut -d= -f2 || true)
    echo "${value:-0}"
}

clock_field() { # NAME ERRFILE
    local value
    value=$(grep -o "\[cam\] clock: .*" "$2" | grep -o "\b$1=[0-9]*" | head -1 | cut -d= -f2 || true)
    echo "${value:--1}"
}

expect_at_least() { # WHAT VALUE MINIMUM
    if [ "$2" -ge "$3" ]; then pass "$1 = $2 (>= $3)"; else fail "$1 = $2, expected >= $3"; fi
}

expect_exit_zero() { # WHAT ERRFILE
    if [ "$streamcut_status" -eq 0 ]; then
        pass "$1: streamcut exited 0 after SIGINT"
    else
        fail "$1: streamcut exited $streamcut_status"
        tail -20 "$2"
    fi
}

# The records of one run: contiguous indexes, windows exactly [2k, 2k+2),
# complete windows holding 2 s of media from a keyframe at their start,
# discontinuity flags as expected, and clips that ffprobe accepts with the
# recorded duration.
cat >check_records.py <<'EOF'
import json, os, subprocess, sys

name, discontinuity, minimum = sys.argv[1], sys.argv[2], int(sys.argv[3])
WINDOW = 2.0
failed = 0

def ok(message):
    print("ok:   [%s] %s" % (name, message))

def bad(message):
    global failed
    failed += 1
    print("FAIL: [%s] %s" % (name, message))

try:
    records = [json.loads(line) for line in open(name + ".jsonl")]
except (OSError, ValueError) as error:
    bad("records: %s" % error)
    sys.exit(1)
if len(records) >= minimum:
    ok("%d records (at least %d expected)" % (len(records), minimum))
else:
    bad("%d records, expected at least %d" % (len(records), minimum))
layout_ok = True
for k, r in enumerate(records):
    flags = r.get("flags", [])
    last = k == len(records) - 1
    if r.get("index") != k or abs(r.get("start", -1) - WINDOW * k) > 1e-6 or abs(r.get("end", -1) - WINDOW * (k + 1)) > 1e-6:
        bad("record %d: index %r window [%r, %r), expected %d [%g, %g)" % (k, r.get("index"), r.get("start"), r.get("end"), k, WINDOW * k, WINDOW * (k + 1)))
        layout_ok = False
    if r.get("type") != "RTMP_FLV":
        bad("record %d: type %r, expected RTMP_FLV" % (k, r.get("type")))
    if "partial" in flags and not last:
        bad("record %d is partial but not the last" % k)
    if "partial" not in flags:
        span = r["media_end"] - r["keyframe_start"]
        if not (r["keyframe_start"] <= r["start"] + 1e-6 and r["start"] - r["keyframe_start"] < 1.5 and
                r["end"] - 0.1 <= r["media_end"] < r["end"] + 0.5 and 1.9 <= span < 3.6 and r["packets"] > 50):
            bad("record %d: keyframe_start %.3f media_end %.3f packets %d: not a whole 2 s window" % (k, r["keyframe_start"], r["media_end"], r["packets"]))
            layout_ok = False
if layout_ok and records:
    ok("windows contiguous: indexes 0..%d, starts 0, 2, ..., %g, each holding its 2 s" % (len(records) - 1, records[-1]["start"]))
flagged = [r["index"] for r in records if "discontinuity" in r.get("flags", [])]
if discontinuity == "none":
    if flagged:
        bad("records %r flagged discontinuity: the timestamps jumped" % flagged)
    else:
        ok("no record flagged discontinuity")
elif discontinuity == "some":
    if flagged:
        ok("records %r flagged discontinuity (the new publisher / connection)" % flagged)
    else:
        bad("no record flagged discontinuity after the publisher came back")
valid = 0
for r in records:
    path = r.get("file")
    if not path or not os.path.isfile(path):
        bad("record %d: clip %r missing" % (r["index"], path))
        continue
    run = subprocess.run(["ffprobe", "-v", "error", path], capture_output=True, text=True)
    if run.returncode or run.stderr.strip():
        bad("%s: ffprobe -v error: %s" % (path, run.stderr.strip()[:300] or run.returncode))
        continue
    run = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path],
                         capture_output=True, text=True)
    try:
        duration = float(json.loads(run.stdout)["format"]["duration"])
    except (ValueError, KeyError):
        duration = None
    want = r["media_end"] - r["keyframe_start"]
    if duration is None or abs(duration - want) > 0.25:
        bad("%s: duration %r s, expected about %.3f s" % (path, duration, want))
        continue
    valid += 1
if records and valid == len(records):
    ok("all %d clips pass ffprobe -v error with the recorded durations" % valid)
sys.exit(1 if failed else 0)
EOF

check_records() { # NAME none|some|any MINIMUM
    python3 check_records.py "$@" || failures=$((failures + 1))
}

# ---------------------------------------------------------------- pull ----
echo "--- pull from nginx-rtmp"
nginx_port=$(free_port)
mkdir -p nginx
cat >nginx/nginx.conf <<EOF
load_module $rtmp_module;
daemon off;
master_process off;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
}
rtmp {
    server {
        listen 127.0.0.1:$nginx_port;
        # Players are disconnected when the publisher leaves (not kept
        # waiting), so a publisher restart is a reconnection for us.
        application live { live on; idle_streams off; }
    }
}
EOF
"$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" >nginx/stdout 2>&1 &
started+=("$!")
if wait_for_port "$nginx_port" 10; then
    pass "nginx-rtmp listening on 127.0.0.1:$nginx_port"
else
    fail "nginx did not start"
    cat nginx/stdout nginx/error.log 2>/dev/null | tail -20
    exit 1
fi

write_pipeline pull "url = rtmp://127.0.0.1:$nginx_port/live/test" "reconnect.initial_delay = 300ms" \
    "reconnect.max_delay = 1s"
publish "rtmp://127.0.0.1:$nginx_port/live/test" publisher1.log
first_publisher=$publisher
sleep 1
start_streamcut pull
if wait_for_records pull.jsonl 2 25; then pass "pull: records flowing"; else fail "pull: no records after 25 s"; fi
before=$(record_count pull.jsonl)
stop_process "$first_publisher"
sleep 2
publish "rtmp://127.0.0.1:$nginx_port/live/test" publisher2.log
second_publisher=$publisher
if wait_for_records pull.jsonl $((before + 3)) 30; then
    pass "pull: segments continue after the publisher came back ($before before, $(record_count pull.jsonl) now)"
else
    fail "pull: $(record_count pull.jsonl) records 30 s after the publisher came back ($before before)"
fi
stop_streamcut
stop_process "$second_publisher"
expect_exit_zero pull pull.err
reconnects=$(grep -o "\[cam\] state=[a-z]* type=RTMP_FLV reconnects=[0-9]*" pull.err | grep -o "[0-9]*$" || true)
expect_at_least "pull: reconnects in the end-of-run state line" "${reconnects:-0}" 1
check_records pull some 5

echo "--- conf/examples/rtmp-pull.ini and rtmp-listen.ini, exactly as shipped"
# Runs an example pipeline with the environment it names until it has
# written a record (10 s windows), then stops it and checks its clips.
run_example() { # NAME PUBLISH_URL [VAR=value...]
    local name=$1 url=$2
    shift 2
    mkdir -p "example-$name"
    (cd "example-$name" && exec env "$@" "$streamcut" run "$top_srcdir/conf/examples/rtmp-$name.ini" \
        >records.jsonl 2>stderr) &
    streamcut_pid=$!
    started+=("$streamcut_pid")
    sleep 1
    publish "$url" "example-$name/publisher.log"
    local example_publisher=$publisher
    if wait_for_records "example-$name/records.jsonl" 1 40; then
        pass "example rtmp-$name.ini: records flowing"
    else
        fail "example rtmp-$name.ini: no record after 40 s"
        tail -5 "example-$name/stderr"
    fi
    stop_streamcut
    stop_process "$example_publisher"
    [ "$streamcut_status" -eq 0 ] && pass "example rtmp-$name.ini: exit 0" || fail "example rtmp-$name.ini: exit $streamcut_status"
    local clips=0
    for clip in "example-$name"/out/examples/rtmp-"$name"/*.ts; do
        [ -f "$clip" ] || continue
        clips=$((clips + 1))
        [ -z "$(ffprobe -v error "$clip" 2>&1)" ] || fail "example rtmp-$name.ini: $clip does not validate"
    done
    [ "$clips" -ge 1 ] && pass "example rtmp-$name.ini: $clips valid clips" || fail "example rtmp-$name.ini: no clip"
}
run_example pull "rtmp://127.0.0.1:$nginx_port/live/example" RTMP_URL="rtmp://127.0.0.1:$nginx_port/live/example"
example_port=$(free_port)
run_example listen "rtmp://127.0.0.1:$example_port/live/secret" RTMP_LISTEN="127.0.0.1:$example_port" STREAM_KEY=secret

echo "--- pull across the 24-bit timestamp boundary (4 h 39 m 37.215 s)"
write_pipeline pull24 "url = rtmp://127.0.0.1:$nginx_port/live/boundary"
publish "rtmp://127.0.0.1:$nginx_port/live/boundary" publisher24.log -output_ts_offset 16770
boundary_publisher=$publisher
sleep 0.5
start_streamcut pull24
# The player joins a little after 16770 s; 5 windows reach past 16777.215 s.
if wait_for_records pull24.jsonl 6 30; then pass "pull24: records flowing"; else fail "pull24: too few records"; fi
stop_streamcut
stop_process "$boundary_publisher"
expect_exit_zero pull24 pull24.err
discontinuities=$(clock_field discontinuities pull24.err)
[ "$discontinuities" = 0 ] && pass "pull24: the clock saw no discontinuity" ||
    fail "pull24: clock discontinuities=$discontinuities"
check_records pull24 none 5

echo "--- pull across 2^31 ms (FFmpeg's FLV demuxer turns the 31-bit wrap into a jump of +2^31 ms)"
write_pipeline pull31 "url = rtmp://127.0.0.1:$nginx_port/live/wrap"
publish "rtmp://127.0.0.1:$nginx_port/live/wrap" publisher31.log -output_ts_offset 2147480
wrap_publisher=$publisher
sleep 0.5
start_streamcut pull31
if wait_for_records pull31.jsonl 4 30; then pass "pull31: records flowing"; else fail "pull31: too few records"; fi
stop_streamcut
stop_process "$wrap_publisher"
expect_exit_zero pull31 pull31.err
discontinuities=$(clock_field discontinuities pull31.err)
[ "$discontinuities" = 0 ] && pass "pull31: the clock saw no discontinuity" ||
    fail "pull31: clock discontinuities=$discontinuities"
expect_at_least "pull31: timestamp_wraps (the jump taken back)" "$(counter timestamp_wraps pull31.err)" 1
check_records pull31 none 3

# -------------------------------------------------------------- listen ----
echo "--- listen: publishers, refusals, a publisher coming back, a half-open one replaced"
listen_port=$(free_port)
base="rtmp://127.0.0.1:$listen_port"
write_pipeline listen "listen = 127.0.0.1:$listen_port" "key = secret" "takeover_after = 3s" "idle_timeout = 10s"
start_streamcut listen
if wait_for_text listen.err "listening on 127.0.0.1:$listen_port" 10; then
    pass "listen: streamcut listening on 127.0.0.1:$listen_port"
else
    fail "listen: streamcut does not listen"
    tail -20 listen.err
    exit 1
fi
# The port is taken: a second streamcut fails at once, naming the address.
write_pipeline listen_taken "listen = $listen_port"
taken_status=0
timeout 20 "$streamcut" run listen_taken.ini >listen_taken.out 2>listen_taken.err || taken_status=$?
if [ "$taken_status" -eq 1 ] &&
    grep -q "cannot listen on 127.0.0.1:$listen_port: Address already in use" listen_taken.err; then
    pass "listen: a second streamcut on the same port exits 1: $(grep -o "cannot listen on.*in use" listen_taken.err | head -1)"
else
    fail "listen: a second streamcut on the same port exited $taken_status"
    tail -5 listen_taken.err
fi
# ":PORT" is refused as ambiguous (elsewhere it meant every interface).
write_pipeline listen_ambiguous "listen = :$listen_port"
ambiguous_status=0
"$streamcut" run listen_ambiguous.ini >/dev/null 2>listen_ambiguous.err || ambiguous_status=$?
if [ "$ambiguous_status" -eq 2 ] && grep -q "no host" listen_ambiguous.err; then
    pass "listen: 'listen = :PORT' is refused (exit 2)"
else
    fail "listen: 'listen = :PORT' gave exit $ambiguous_status"
fi

publish "$base/live/secret" listen_a.log
publisher_a=$publisher
if wait_for_records listen.jsonl 1 20; then pass "listen: records flowing"; else fail "listen: no record after 20 s"; fi

refused() { # WHAT URL EXPECTED-MESSAGE
    local status=0
    timeout 30 ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x180:rate=30 -t 3 -c:v libx264 \
        -preset veryfast -f flv "$2" >refused.log 2>&1 || status=$?
    if [ "$status" -ne 0 ] && grep -q "$3" refused.log; then
        pass "listen: $1 refused (ffmpeg exit $status: $(grep -o "Server error: .*" refused.log | head -1))"
    else
        fail "listen: $1: ffmpeg exit $status, expected a refusal saying '$3'"
        cat refused.log
    fi
}
refused "a wrong stream key" "$base/live/wrong" "wrong stream key"
refused "a wrong application" "$base/other/secret" "unknown application"
refused "a second publisher while the first is live" "$base/live/secret" "already being published"

before=$(record_count listen.jsonl)
stop_process "$publisher_a"
sleep 1
publish "$base/live/secret" listen_b.log
publisher_b=$publisher
if wait_for_records listen.jsonl $((before + 2)) 20; then
    pass "listen: the same run goes on after the publisher came back"
else
    fail "listen: $(record_count listen.jsonl) records after the publisher came back ($before before)"
fi
# Half-open: the publisher's process stops, its connection stays open.
kill -STOP "$publisher_b"
sleep 3.5
before=$(record_count listen.jsonl)
publish "$base/live/secret" listen_c.log
publisher_c=$publisher
if wait_for_text listen.err "replaced by" 10; then
    pass "listen: the silent publisher was replaced: $(grep -o "publisher [0-9.:]* stopped: silent.*" listen.err | head -1)"
else
    fail "listen: the half-open publisher was not replaced"
fi
if wait_for_records listen.jsonl $((before + 2)) 20; then
    pass "listen: records from the new publisher"
else
    fail "listen: no records from the publisher that replaced the half-open one"
fi
stop_streamcut
stop_process "$publisher_b"
stop_process "$publisher_c"
expect_exit_zero listen listen.err
expect_at_least "listen: publishers_rejected (key, application)" "$(counter publishers_rejected listen.err)" 2
expect_at_least "listen: publishers_busy" "$(counter publishers_busy listen.err)" 1
expect_at_least "listen: publishers" "$(counter publishers listen.err)" 3
expect_at_least "listen: publisher_reconnects" "$(counter publisher_reconnects listen.err)" 2
expect_at_least "listen: publishers_replaced" "$(counter publishers_replaced listen.err)" 1
refusals=$(grep -c "refused publisher from 127\.0\.0\.1:[0-9]*" listen.err || true)
expect_at_least "listen: refusals logged with the peer's address" "$refusals" 2
if grep -q "secret" listen.err; then fail "listen: the stream key appears in the log"; else pass "listen: the stream key is never logged"; fi
check_records listen some 5

listen_offset_case() { # NAME OFFSET SECONDS MINIMUM-RECORDS
    local name=$1 port
    port=$(free_port)
    write_pipeline "$name" "listen = 127.0.0.1:$port" "key = secret"
    start_streamcut "$name"
    wait_for_text "$name.err" "listening on" 10 || fail "$name: streamcut does not listen"
    publish "rtmp://127.0.0.1:$port/live/secret" "$name.publisher.log" -output_ts_offset "$2" -t "$3"
    local pid=$publisher status=0
    wait "$pid" || status=$?
    [ "$status" -eq 0 ] && pass "$name: the publisher streamed $3 s and exited 0" ||
        { fail "$name: the publisher exited $status"; cat "$name.publisher.log"; }
    sleep 0.5
    stop_streamcut
    expect_exit_zero "$name" "$name.err"
    local discontinuities
    discontinuities=$(clock_field discontinuities "$name.err")
    [ "$discontinuities" = 0 ] && pass "$name: the clock saw no discontinuity" ||
        fail "$name: clock discontinuities=$discontinuities"
    check_records "$name" none "$4"
}

echo "--- listen across the 24-bit timestamp boundary (from 16770 s, crossing 16777.215 s at 7.2 s)"
listen_offset_case listen24 16770 11 5

echo "--- listen across 2^31 ms (from 2147480 s, crossing 2147483.648 s at 3.6 s)"
listen_offset_case listen31 2147480 8 3
expect_at_least "listen31: timestamp_wraps (the 31-bit wrap, unwrapped)" "$(counter timestamp_wraps listen31.err)" 1
expect_at_least "listen31: extended_timestamp_messages (headers past 0xFFFFFF)" \
    "$(counter extended_timestamp_messages listen31.err)" 1

echo "--- listen: a librtmp-style publisher (Python): a full header on every message, no extended"
echo "    timestamp on continuation chunks past 0xFFFFFF, a cue point; events reach an event strategy"
# What OBS's librtmp does differently from FFmpeg: a type-0 header with the
# absolute timestamp on every message, and (in buggy versions) type-3
# continuation chunks without the repeated extended timestamp.
cat >publisher.py <<'PUBLISHER'
import os, socket, struct, sys, time

port, key, flv_path, offset = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])

def amf_string(text):
    data = text.encode()
    return b"\x02" + struct.pack(">H", len(data)) + data

def amf_number(value):
    return b"\x00" + struct.pack(">d", value)

def amf_object(pairs):
    out = b"\x03"
    for name, value in pairs:
        out += struct.pack(">H", len(name)) + name.encode() + value
    return out + b"\x00\x00\x09"

sock = socket.create_connection(("127.0.0.1", port), timeout=10)

def receive_exactly(count):
    data = b""
    while len(data) < count:
        part = sock.recv(count - len(data))
        if not part:
            sys.exit("the server closed during the handshake")
        data += part
    return data

CHUNK = 128
def send_message(chunk_stream, kind, stream, timestamp, payload):
    extended = timestamp >= 0xFFFFFF
    header = bytes([chunk_stream]) + (0xFFFFFF if extended else timestamp).to_bytes(3, "big")
    header += len(payload).to_bytes(3, "big") + bytes([kind]) + struct.pack("<I", stream)
    if extended:
        header += struct.pack(">I", timestamp)
    out = header + payload[:CHUNK]
    for start in range(CHUNK, len(payload), CHUNK):
        out += bytes([0xC0 | chunk_stream]) + payload[start:start + CHUNK]  # no extended field
    sock.sendall(out)

sock.sendall(b"\x03" + struct.pack(">II", 0, 0) + os.urandom(1528))
answer = receive_exactly(1 + 2 * 1536)
sock.sendall(answer[1:1537])
send_message(3, 20, 0, 0, amf_string("connect") + amf_number(1) + amf_object([
    ("app", amf_string("live")), ("type", amf_string("nonprivate")),
    ("tcUrl", amf_string("rtmp://127.0.0.1:%d/live" % port))]))
send_message(3, 20, 0, 0, amf_string("releaseStream") + amf_number(2) + b"\x05" + amf_string(key))
send_message(3, 20, 0, 0, amf_string("FCPublish") + amf_number(3) + b"\x05" + amf_string(key))
send_message(3, 20, 0, 0, amf_string("createStream") + amf_number(4) + b"\x05")
send_message(4, 20, 1, 0, amf_string("publish") + amf_number(5) + b"\x05" + amf_string(key) + amf_string("live"))
replies = b""
deadline = time.time() + 10
while b"NetStream.Publish.Start" not in replies:
    if time.time() > deadline or b"error" in replies:
        sys.exit("publishing was not accepted: %r" % replies[-200:])
    part = sock.recv(4096)
    if not part:
        sys.exit("the server closed: %r" % replies[-200:])
    replies += part

data = open(flv_path, "rb").read()
position = 13  # FLV header and the first back pointer
began = time.time()
cue_sent = False
next_timecode = 0
# onFI as FMLE sends it: the encoder's clock, here a fixed instant
# (2020-03-01 12:00:00 plus the media time) far from the arrival time.
timecode_base = 1583064000.0
while position + 11 <= len(data):
    kind = data[position]
    size = int.from_bytes(data[position + 1:position + 4], "big")
    stamp = int.from_bytes(data[position + 4:position + 7], "big") | data[position + 7] << 24
    body = data[position + 11:position + 11 + size]
    position += 11 + size + 4
    delay = stamp / 1000.0 - (time.time() - began)
    if delay > 0:
        time.sleep(delay)
    if not cue_sent and stamp >= 2000:
        cue = amf_string("onCuePoint") + amf_object([
            ("name", amf_string("goal")), ("time", amf_number(2.0)),
            ("parameters", amf_object([("team", amf_string("home"))]))])
        send_message(5, 18, 1, offset + stamp, cue)
        cue_sent = True
    if stamp >= next_timecode:
        now = time.gmtime(timecode_base + stamp / 1000.0)
        timecode = amf_string("onFI") + amf_object([
            ("sd", amf_string(time.strftime("%d-%m-%y", now))),
            ("st", amf_string(time.strftime("%H:%M:%S", now) + ".%03d" % (stamp % 1000)))])
        send_message(5, 18, 1, offset + stamp, timecode)
        next_timecode = stamp + 1000
    send_message(6 if kind == 9 else 5 if kind == 18 else 4, kind, 1, offset + stamp, body)
send_message(3, 20, 0, 0, amf_string("FCUnpublish") + amf_number(6) + b"\x05" + amf_string(key))
send_message(3, 20, 0, 0, amf_string("deleteStream") + amf_number(7) + b"\x05" + amf_number(1))
time.sleep(0.3)
sock.close()
PUBLISHER
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x180:rate=30 -f lavfi -i sine=sample_rate=44100 -t 6 \
    -c:v libx264 -preset veryfast -g 30 -c:a aac -f flv -y librtmp.flv
librtmp_port=$(free_port)
write_pipeline librtmp "listen = 127.0.0.1:$librtmp_port" "key = secret"
cat >>librtmp.ini <<'EVENTS'

[strategy events]
module = event
source = cam
pre_roll = 1s
post_roll = 1s
overlap = allow

[sink event_records]
module = jsonl
from = events
path = librtmp.events.jsonl
EVENTS
start_streamcut librtmp
wait_for_text librtmp.err "listening on" 10 || fail "librtmp: streamcut does not listen"
python_status=0
timeout 60 python3 publisher.py "$librtmp_port" secret librtmp.flv 16790000 >librtmp.publisher.log 2>&1 ||
    python_status=$?
if [ "$python_status" -eq 0 ]; then
    pass "librtmp: the Python publisher streamed 6 s"
else
    fail "librtmp: the Python publisher exited $python_status"
    cat librtmp.publisher.log
fi
sleep 0.5
stop_streamcut
expect_exit_zero librtmp librtmp.err
expect_at_least "librtmp: missing_extended_timestamps (tolerated)" "$(counter missing_extended_timestamps librtmp.err)" 100
expect_at_least "librtmp: extended_timestamp_messages" "$(counter extended_timestamp_messages librtmp.err)" 300
expect_at_least "librtmp: data_events (the cue point)" "$(counter data_events librtmp.err)" 1
expect_at_least "librtmp: timecodes (onFI)" "$(counter timecodes librtmp.err)" 5
# The records' wall-clock span follows the encoder's onFI clock (2020-03-01
# 12:00:00 at media time 0), not the arrival time: window k starts at 2k s.
if python3 - <<'CHECK'
import json, sys
from datetime import datetime, timezone
records = [json.loads(line) for line in open("librtmp.jsonl")]
problems = []
base = datetime(2020, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
for record in records:
    start = datetime.fromisoformat(record["start_utc"].replace("Z", "+00:00"))
    expected = record["start"]
    error = (start - base).total_seconds() - expected
    if abs(error) > 0.1:
        problems.append("window %s: start_utc %s is %.3f s off the onFI clock"
                        % (record.get("index"), record["start_utc"], error))
if not records:
    problems.append("no records")
for problem in problems:
    print("FAIL: [librtmp] " + problem)
if not problems:
    print("ok:   [librtmp] %d records' start_utc follow the encoder's onFI clock (first %s)"
          % (len(records), records[0]["start_utc"]))
sys.exit(1 if problems else 0)
CHECK
then :; else failures=$((failures + 1)); fi
check_records librtmp none 3
if python3 - <<'CHECK'
import json, sys
records = [json.loads(line) for line in open("librtmp.events.jsonl")]
by_label = {r.get("label"): r for r in records}
goal, metadata = by_label.get("event:goal"), by_label.get("event:onMetaData")
problems = []
if not goal or (goal.get("payload") or {}).get("parameters", {}).get("team") != "home":
    problems.append("no event:goal record with the cue point's parameters: %r" % goal)
elif not 1.5 <= goal.get("event_time", -1) <= 2.6:
    problems.append("event:goal at %r s, expected about 2 s" % goal.get("event_time"))
if not metadata or (metadata.get("payload") or {}).get("width") != 320:
    problems.append("no event:onMetaData record with width 320: %r" % metadata)
for problem in problems:
    print("FAIL: [librtmp] " + problem)
if not problems:
    print("ok:   [librtmp] events: goal at %.3f s with its parameters, onMetaData with width %d"
          % (goal["event_time"], metadata["payload"]["width"]))
sys.exit(1 if problems else 0)
CHECK
then :; else failures=$((failures + 1)); fi

echo
if [ "$failures" -ne 0 ]; then
    echo "test_rtmp: $failures check(s) FAILED"
    exit 1
fi
echo "test_rtmp: all checks passed"
exit 0
