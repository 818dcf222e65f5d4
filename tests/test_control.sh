#!/bin/bash
# End-to-end: the HTTP control API of a running pipeline, spoken to over
# real sockets.
#
# - Every endpoint answers (streams, one stream, stats, metrics, health,
#   readiness) with the design's stat names; /metrics passes promtool and
#   its numbers agree with /v1/stats.
# - Refusals: 401 (token missing or wrong), 404 (unknown stream or path),
#   400 (bad JSON, missing name, deep nesting, unknown member), 413
#   (oversized body), 415 (not JSON), 403 (foreign Host or Origin: DNS
#   rebinding), 405 (wrong method); /healthz needs no token.
# - An event posted over HTTP becomes the event strategy's segment, with
#   its pre/post roll and payload.
# - /readyz is 503 while a source waits for its publisher, naming it.
# - Connection cap and idle timeout: connections past the cap are refused,
#   a client trickling headers is dropped after control_timeout, and the
#   API still answers afterwards.
# - Replay-buffer clips: the last N s cut at once and answered with the
#   written clip's record; N s back plus M s to come answered 202 and
#   polled; only the sinks named; 400/404/409 for bad orders.
# - Listening beyond loopback without a token is a config error (FILE:LINE).
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

enter_scratch_dir control

port=$(free_port)
rtmp_port=$(free_port)
cat >control.ini <<EOF
[host]
control = 127.0.0.1:$port
control_token = \${CONTROL_TOKEN}
control_max_body = 4k
control_max_connections = 4
control_timeout = 2s

[source cam]
module = testsrc
realtime = true
duration = 0

[source waiting]
module = rtmp
listen = 127.0.0.1:$rtmp_port

[strategy moments]
module = event
source = cam
pre_roll = 1s
post_roll = 1s

[strategy windows]
module = fixed
source = cam
duration = 2s

[sink records]
module = jsonl
from = moments, windows
path = records.jsonl

# Only clips ordered over HTTP reach it.
[sink replays]
module = clip
path = replays/{source}-{label}-{index:03}.mp4
EOF

CONTROL_TOKEN=s3cret-token "$streamcut" run control.ini >control.out 2>control.err &
child=$!
for _ in $(seq 100); do
    grep -q "control API listening" control.err && break
    sleep 0.1
done
grep -q "control API listening on http://127.0.0.1:$port (bearer token required)" control.err &&
    pass "the API listens on 127.0.0.1:$port and says a token is required" ||
    { fail "no 'control API listening' line"; cat control.err; }
sleep 2.5 # a few windows and a live source

cat >client.py <<'EOF'
import json, socket, subprocess, sys, time, http.client

port, token = int(sys.argv[1]), sys.argv[2]
failures = 0

def check(condition, message):
    global failures
    print(("ok:   " if condition else "FAIL: ") + message)
    if not condition:
        failures += 1

def request(method, path, body=None, headers=None, auth=True):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    all_headers = {"Authorization": "Bearer " + token} if auth else {}
    all_headers.update(headers or {})
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type") or "", data

def json_request(*args, **kwargs):
    status, kind, data = request(*args, **kwargs)
    try:
        return status, json.loads(data)
    except ValueError:
        return status, {"unparsed": data[:200]}

# --- answers
status, health = json_request("GET", "/healthz", auth=False)
check(status == 200 and health.get("status") == "ok", "/healthz 200 without a token: %r" % health)
status, streams = json_request("GET", "/v1/streams")
names = sorted(s["id"] for s in streams.get("streams", []))
check(status == 200 and names == ["cam", "waiting"], "/v1/streams lists cam and waiting: %r" % names)
status, cam = json_request("GET", "/v1/streams/cam")
buffer = cam.get("buffer", {})
design = ["current_frames", "memory_usage_mb", "frames_dropped", "keyframe_ratio", "buffer_duration_seconds"]
check(status == 200 and all(k in buffer for k in design), "/v1/streams/cam has the design's buffer stats")
check(cam.get("state") == "live" and cam.get("type") == "TESTSRC" and buffer.get("current_frames", 0) > 30,
      "cam is live, TESTSRC, %s frames buffered" % buffer.get("current_frames"))
check("drift_ppm" in cam.get("sync", {}) and "offset_ms" in cam.get("sync", {}), "sync stats: drift_ppm, offset_ms")
check(cam.get("strategies") == ["moments", "windows"], "strategies reading cam: %r" % cam.get("strategies"))
status, stats = json_request("GET", "/v1/stats")
check(status == 200 and stats.get("global", {}).get("streams") == 2 and len(stats.get("sinks", [])) == 2,
      "/v1/stats: global streams=2 and both sinks: %r" % stats.get("global"))
status, ready = json_request("GET", "/readyz")
check(status == 503 and ready.get("not_live") == ["waiting"],
      "/readyz 503 while 'waiting' has no publisher: %r" % ready)

# --- metrics, parsed back
status, kind, metrics = request("GET", "/metrics")
check(status == 200 and kind.startswith("text/plain; version=0.0.4"), "/metrics 200 %s" % kind)
promtool = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True)
check(promtool.returncode == 0, "promtool check metrics accepts it %s" % promtool.stderr.decode()[:300])
samples = {}
for line in metrics.decode().splitlines():
    if line.startswith("#") or not line:
        continue
    name, value = line.rsplit(" ", 1)
    samples[name] = float(value)
check(samples.get('streamcut_streams') == 2, "streamcut_streams 2")
check(samples.get('streamcut_source_up{source="cam",state="live"}') == 1, "cam up")
check(samples.get('streamcut_source_up{source="waiting",state="connecting"}') == 0, "waiting down (connecting)")
frames = samples.get('streamcut_buffer_packets_in_total{source="cam"}', 0)
check(frames > 30, "packets_in for cam %d" % frames)
check('streamcut_segments_total{strategy="windows",source="cam",reason="emitted"}' in samples,
      "segments_total with strategy, source and reason labels")
check('streamcut_sink_segments_total{sink="records",reason="consumed"}' in samples, "sink_segments_total for records")

# --- the event, over HTTP
payload = {"name": "goal", "pre_roll": 1.5, "post_roll": 0.5, "payload": {"team": "home", "score": [1, 0]}}
status, answer = json_request("POST", "/v1/streams/cam/events", json.dumps(payload),
                              {"Content-Type": "application/json; charset=utf-8"})
check(status == 202 and answer.get("strategies") == ["moments"], "event accepted by 'moments': %d %r" % (status, answer))
posted_at = time.time()

# --- refusals
status, body = json_request("GET", "/v1/stats", auth=False)
check(status == 401, "no token: %d" % status)
status, body = json_request("GET", "/v1/stats", auth=False, headers={"Authorization": "Bearer s3cret-tokeN"})
check(status == 401, "wrong token: %d" % status)
status, body = json_request("GET", "/metrics", auth=False, headers={"Authorization": "Bearer " + token + "x"})
check(status == 401, "token with a suffix: %d" % status)
status, body = json_request("GET", "/v1/streams/nope")
check(status == 404 and "nope" in body.get("error", ""), "unknown stream: %d %r" % (status, body))
status, body = json_request("POST", "/v1/streams/nope/events", "{}", {"Content-Type": "application/json"})
check(status == 404, "event for an unknown stream: %d" % status)
status, body = json_request("GET", "/v2/anything")
check(status == 404, "unknown path: %d" % status)
json_headers = {"Content-Type": "application/json"}
for text, why in [('{"name":', "truncated JSON"), ('[1,2]', "not an object"), ('{"time": 3}', "no name"),
                  ('{"name": ""}', "empty name"), ('{"name": "x", "time": "soon"}', "time not a number"),
                  ('{"name": "x", "pre_roll": -1}', "negative pre_roll"), ('{"name": "x", "colour": 1}', "unknown member"),
                  ('{"name": "x", "payload": ' + "[" * 100 + "]" * 100 + "}", "nesting 100 deep"),
                  ('\xff\xfe', "not UTF-8")]:
    status, body = json_request("POST", "/v1/streams/cam/events", text.encode("latin-1"), json_headers)
    check(status == 400 and body.get("error"), "400 for %s: %r" % (why, body.get("error")))
status, body = json_request("POST", "/v1/streams/cam/events", json.dumps({"name": "x", "payload": "a" * 5000}),
                            json_headers)
check(status == 413, "body over control_max_body: %d" % status)
status, body = json_request("POST", "/v1/streams/cam/events", '{"name": "x"}', {"Content-Type": "text/plain"})
check(status == 415, "text/plain POST: %d" % status)
status, body = json_request("POST", "/v1/streams/cam/events", 'name=x',
                            {"Content-Type": "application/x-www-form-urlencoded"})
check(status == 415, "form POST (what a cross-site page can send): %d" % status)
status, body = json_request("GET", "/v1/stats", headers={"Host": "attacker.example:%d" % port})
check(status == 403, "foreign Host (DNS rebinding): %d" % status)
status, body = json_request("GET", "/v1/stats", headers={"Origin": "http://attacker.example"})
check(status == 403, "foreign Origin: %d" % status)
status, body = json_request("GET", "/v1/stats", headers={"Origin": "http://localhost:%d" % port})
check(status == 200, "own Origin: %d" % status)
status, body = json_request("DELETE", "/v1/streams/cam")
check(status == 405, "DELETE a stream: %d" % status)
status, body = json_request("GET", "/v1/streams/cam/events")
check(status == 405, "GET events: %d" % status)

# --- replay-buffer clips
status, record = json_request("POST", "/v1/streams/cam/clip", json.dumps({"pre": 2, "label": "instant"}), json_headers)
check(status == 200 and record.get("strategy") == "replay" and record.get("label") == "instant",
      "clip of the last 2 s answered with its record: %d %r" % (status, {k: record.get(k) for k in ("strategy", "label", "file")}))
clip_file = (record.get("files") or {}).get("replays")
if clip_file:
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", clip_file],
                           capture_output=True, text=True)
    length = float(probe.stdout.strip() or 0)
    # From the keyframe at or before now - 2 s (GOPs of 2 s): 2 to 4 s.
    check(probe.returncode == 0 and 1.9 <= length <= 4.2, "%s decodes, %.2f s long" % (clip_file, length))
    check(abs(record["end"] - record["start"] - 2.0) < 0.01 and record["keyframe_start"] <= record["start"],
          "window [%.3f, %.3f), from the keyframe at %.3f" % (record["start"], record["end"], record["keyframe_start"]))
else:
    check(False, "the clip record names the replays file: %r" % record)
status, pending = json_request("POST", "/v1/streams/cam/clip",
                               json.dumps({"pre": 1, "post": 1.5, "sinks": ["records"]}), json_headers)
check(status == 202 and pending.get("poll", "").startswith("/v1/clips/"), "pre 1 + post 1.5: 202 %r" % pending)
poll = pending.get("poll", "/v1/clips/0")
status, body = json_request("GET", poll)
check(status == 202, "polled at once: still pending (%d)" % status)
time.sleep(2.2)
status, record = json_request("GET", poll)
check(status == 200 and abs(record.get("end", 0) - record.get("start", 0) - 2.5) < 0.01 and not record.get("files"),
      "polled after the post-roll: the 2.5 s record, written by records only (%d)" % status)
for text, expected, why in [(json.dumps({"post": 1}), 400, "no pre"), (json.dumps({"pre": 0}), 400, "pre 0"),
                            (json.dumps({"pre": 1, "sinks": ["nope"]}), 400, "unknown sink"),
                            (json.dumps({"pre": 1, "sinks": "replays"}), 400, "sinks not an array"),
                            (json.dumps({"pre": 1, "post": 7200}), 400, "post over an hour")]:
    status, body = json_request("POST", "/v1/streams/cam/clip", text, json_headers)
    check(status == expected, "clip with %s: %d %r" % (why, status, body.get("error")))
status, body = json_request("POST", "/v1/streams/waiting/clip", json.dumps({"pre": 1}), json_headers)
check(status == 409 and "nothing is buffered" in body.get("error", ""), "clip of a stream with nothing buffered: %d" % status)
status, body = json_request("GET", "/v1/clips/999999")
check(status == 404, "unknown clip id: %d" % status)

# --- connection cap and idle timeout
idle = []
for _ in range(4):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /v1/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never finished
    idle.append(s)
# The server accepts in order, so the fifth is judged after the four are
# listed; the retries only give a loaded machine time to accept at all.
refused = False
for attempt in range(5):
    time.sleep(0.3)
    extra = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        refused = extra.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        refused = True
    extra.close()
    if refused:
        break
check(refused, "a fifth connection past control_max_connections=4 is closed unanswered (attempt %d)" % (attempt + 1))
started = time.time()
closed = 0
for s in idle:
    s.settimeout(6)
    try:
        closed += s.recv(100) == b""
    except (ConnectionResetError, socket.timeout):
        closed += 1
    s.close()
waited = time.time() - started
check(closed == 4 and waited < 5, "the 4 trickling clients were dropped after %.1f s (control_timeout 2 s)" % waited)
status, health = json_request("GET", "/healthz", auth=False)
check(status == 200, "the API answers again afterwards")

# The event's segment: [posted - 1.5 s, posted + 0.5 s], written once its
# post-roll has passed.
time.sleep(2.0)
records = [json.loads(line) for line in open("records.jsonl")]
events = [r for r in records if r.get("strategy") == "moments"]
check(len(events) == 1, "one event segment: %d" % len(events))
if events:
    event = events[0]
    check(event.get("label") == "event:goal", "labelled event:goal: %r" % event.get("label"))
    check(abs(event["duration"] - 2.0) < 0.05, "2 s long (pre 1.5 + post 0.5): %.3f" % event["duration"])
    check(event.get("payload", {}).get("team") == "home", "payload carried: %r" % event.get("payload"))
windows = [r for r in records if r.get("strategy") == "windows"]
check(len(windows) >= 3, "fixed windows kept flowing meanwhile: %d" % len(windows))
replays = [r for r in records if r.get("strategy") == "replay"]
check(len(replays) == 2, "both clips reached the records sink too: %d" % len(replays))
sys.exit(1 if failures else 0)
EOF
if python3 client.py "$port" s3cret-token; then pass "the client's checks"; else fail "the client's checks (above)"; fi

kill -INT "$child"
status=0
wait "$child" || status=$?
child=
[ "$status" -eq 0 ] && pass "streamcut exits 0 after SIGINT with the API running" ||
    { fail "streamcut exited $status"; tail -20 control.err; }
counter=$(grep -o "\[cam\] counters: .*" control.err | grep -o "control_events=[0-9]*" | cut -d= -f2 || true)
[ "${counter:-0}" = 1 ] && pass "control_events counted once" || fail "control_events=${counter:-none}"
if grep -q "s3cret-token" control.err control.out; then fail "the token appears in the log"; else pass "the token is never logged"; fi

echo "--- beyond loopback without a token"
sed -e "s/^control = .*/control = 0.0.0.0:$port/" -e "/^control_token/d" control.ini >open.ini
status=0
"$streamcut" run open.ini >open.out 2>open.err || status=$?
line=$(grep -n "^control = " open.ini | cut -d: -f1)
if [ "$status" -eq 2 ] && grep -q "open.ini:$line: control = 0.0.0.0:$port listens beyond loopback: set control_token" open.err; then
    pass "refused with exit 2 and open.ini:$line"
else
    fail "exit $status: $(cat open.err)"
fi

echo "--- a port already taken"
# The holder reuses the address too: the connections above left it in TIME_WAIT.
python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
open("holder.ready", "w").close()
time.sleep(30)' "$port" &
holder=$!
for _ in $(seq 50); do [ -e holder.ready ] && break; sleep 0.1; done
status=0
CONTROL_TOKEN=x timeout 20 "$streamcut" run control.ini >taken.out 2>taken.err || status=$?
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
if [ "$status" -eq 2 ] && grep -q "control = 127.0.0.1:$port: cannot listen: Address already in use" taken.err; then
    pass "a taken port: exit 2, the address and the reason"
else
    fail "taken port: exit $status: $(cat taken.err)"
fi

echo
if [ "$failures" -ne 0 ]; then
    echo "test_control: $failures check(s) FAILED"
    exit 1
fi
echo "test_control: all checks passed"
