#!/bin/bash
# End-to-end: the webhook sink against local HTTP(S) receivers
# (tests/webhook_receiver.py, Python's standard library; how it answers
# depends on the path). One pipeline (3 segments) feeds a webhook sink per
# behaviour next to a jsonl sink, and the receiver's log is checked:
# every record arrives once, its body equal to the jsonl record, with its
# headers (Content-Type, User-Agent, Idempotency-Key, Basic and Bearer
# authorization, extra headers) and an HMAC verified here, over one
# kept-alive connection; 503s then success (retries counted, same key and
# body each time); 500 forever
# (failed after the retries, with growing waits, the run goes on and
# exits 0); a receiver that never answers (the deadline holds: the run
# does not hang); 400 (rejected, no retry); Retry-After (honoured, and
# capped); redirects (followed with the body, at most 3, never to another
# scheme); a huge answer; https with a trusted and an untrusted
# certificate; sync sets; credentials never printed; bad options refused.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null 2>&1 || { echo "FAIL: openssl not found (Debian package openssl)"; exit 1; }
# The receivers are local: no proxy from the environment may stand between.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-webhook.XXXXXX")
receivers=()
cleanup() {
    for pid in "${receivers[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

# start_receiver NAME [CERT KEY]: a receiver logging to NAME.log; sets $port.
start_receiver() {
    local name=$1
    shift
    python3 "$top_srcdir/tests/webhook_receiver.py" "$name.port" "$name.log" "$@" 2>"$name.err" &
    receivers+=($!)
    for _ in $(seq 100); do
        [ -s "$name.port" ] && break
        sleep 0.05
    done
    [ -s "$name.port" ] || { echo "FAIL: the $name receiver did not start"; cat "$name.err"; exit 1; }
    port=$(cat "$name.port")
}

counter() { # counter SINK NAME STDERR
    sed -n "s/^streamcut: info: \[$1\] counters: //p" "$3" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
expect_counters() { # expect_counters SINK STDERR name=value...
    local sink=$1 log=$2
    shift 2
    local pair got all=1
    for pair in "$@"; do
        got=$(counter "$sink" "${pair%%=*}" "$log")
        [ "$got" = "${pair#*=}" ] || { all=; fail "$sink: ${pair%%=*}=$got, expected ${pair#*=}"; }
    done
    [ -n "$all" ] && pass "$sink: counters $*"
    return 0
}

start_receiver plain
plain=$port
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout tls.key -out tls.crt 2>openssl.err || { echo "FAIL: openssl"; cat openssl.err; exit 1; }
start_receiver tls tls.crt tls.key
tls=$port

# ---- one pipeline, a sink per behaviour -------------------------------------
export WEBHOOK_TOKEN=tok-4f1c9a
cat >main.ini <<EOF
[source demo]
module = testsrc
duration = 6s
encode = false

[strategy two]
module = fixed
source = demo
duration = 2s

[sink main]
module = webhook
from = two
url = http://hook-user:pa%40ss-9x@127.0.0.1:$plain/ok/main
hmac_secret = s3cret-key
headers = X-Test: one | X-Tag:  two words

[sink bearer]
module = webhook
from = two
url = http://127.0.0.1:$plain/ok/bearer
bearer_token = \${WEBHOOK_TOKEN}

[sink flaky]
module = webhook
from = two
url = http://127.0.0.1:$plain/flaky/2/x
retry_initial_delay = 50ms

[sink down]
module = webhook
from = two
url = http://down-user:hidden-pw@127.0.0.1:$plain/down/x
retries = 2
retry_initial_delay = 100ms

[sink hang]
module = webhook
from = two
url = http://127.0.0.1:$plain/hang/x
timeout = 500ms
retries = 1
retry_initial_delay = 10ms

[sink bad]
module = webhook
from = two
url = http://127.0.0.1:$plain/bad/x

[sink busy]
module = webhook
from = two
url = http://127.0.0.1:$plain/busy/1/x
retry_initial_delay = 10ms

[sink busy_capped]
module = webhook
from = two
url = http://127.0.0.1:$plain/busy/3600/x
retry_initial_delay = 10ms
retry_max_delay = 300ms

[sink moved]
module = webhook
from = two
url = http://127.0.0.1:$plain/moved/x

[sink loop]
module = webhook
from = two
url = http://127.0.0.1:$plain/loop/x

[sink downgrade]
module = webhook
from = two
url = http://127.0.0.1:$plain/downgrade/x

[sink huge]
module = webhook
from = two
url = http://127.0.0.1:$plain/huge/x

[sink tls_trusted]
module = webhook
from = two
url = https://127.0.0.1:$tls/ok/tls
tls_ca_file = tls.crt

[sink tls_untrusted]
module = webhook
from = two
url = https://127.0.0.1:$tls/ok/untrusted
retry_initial_delay = 10ms

[sink records]
module = jsonl
from = two
path = records.jsonl
EOF

started=$(date +%s%N)
status=0
timeout 60 "$streamcut" run main.ini >main.out 2>main.err || status=$?
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
if [ "$status" -eq 0 ]; then
    pass "the run exits 0 although sinks failed (${elapsed_ms} ms)"
else
    fail "the run exited $status"
    cat main.err
fi
[ "$(wc -l <records.jsonl)" -eq 3 ] && pass "jsonl wrote 3 records beside the failing sinks" ||
    fail "jsonl wrote $(wc -l <records.jsonl) records"

expect_counters main main.err posted=3 retries=0 failed=0 rejected=0
expect_counters bearer main.err posted=3 failed=0
expect_counters flaky main.err posted=3 retries=2 failed=0 rejected=0
expect_counters down main.err posted=0 retries=6 failed=3 rejected=0
expect_counters hang main.err posted=0 retries=3 failed=3
expect_counters bad main.err posted=0 retries=0 failed=0 rejected=3
expect_counters busy main.err posted=3 retries=1 failed=0
expect_counters busy_capped main.err posted=3 retries=1 failed=0
expect_counters moved main.err posted=3 failed=0
expect_counters loop main.err posted=0 retries=0 failed=3
expect_counters downgrade main.err posted=0 retries=0 failed=3
expect_counters huge main.err posted=3 failed=0
expect_counters tls_trusted main.err posted=3 failed=0
expect_counters tls_untrusted main.err posted=0 retries=0 failed=3

# Six 0.5 s deadlines for `hang`, in parallel with the other sinks.
if [ "$elapsed_ms" -lt 20000 ]; then pass "the never-answering receiver did not hold the run"; else
    fail "the run took $elapsed_ms ms"; fi
grep -q "\[hang\] segment two/0: POST http://127.0.0.1:$plain/hang/x: no answer within 0.5 s; giving up after 2 attempts" main.err &&
    pass "hang: the deadline is reported" || fail "hang: no deadline message"
grep -q "\[loop\].*more than 3 redirects" main.err && pass "loop: stops after 3 redirects" ||
    fail "loop: no redirect-limit message"
grep -q "\[downgrade\].*redirect from http to https refused" main.err && pass "downgrade: another scheme is refused" ||
    fail "downgrade: no scheme message"
grep -q "\[tls_untrusted\].*TLS: .*(not retried)" main.err && pass "tls_untrusted: an unknown certificate fails at once" ||
    fail "tls_untrusted: no TLS message"
grep -qF "[down] segment two/0: POST http://***@127.0.0.1:$plain/down/x: HTTP 500 Internal Server Error: broken  for good; retry 1 of 2" main.err &&
    pass "down: the URL is shown with its credentials hidden" || fail "down: no redacted failure message"
printed=
for secret in 'pa%40ss-9x' 'pa@ss-9x' hook-user down-user hidden-pw "$WEBHOOK_TOKEN" s3cret-key; do
    if grep -qF -- "$secret" main.err main.out; then printed="$printed $secret"; fi
done
[ -z "$printed" ] && pass "no credential appears in the output" || fail "printed:$printed"

version=$("$streamcut" --version | awk '{print $2}')
python3 - "$version" "$tls" <<'EOF' && pass "receiver log checks" || fail "receiver log checks"
import base64, hashlib, hmac, json, sys

version, tls_port = sys.argv[1], sys.argv[2]
records = [json.loads(line) for line in open("records.jsonl")]
requests = [json.loads(line) for line in open("plain.log")]
requests += [dict(r, tls=True) for r in map(json.loads, open("tls.log"))]
failures = 0

def check(condition, message):
    global failures
    if not condition:
        print("  not so:", message)
        failures += 1

def on(path):
    return [r for r in requests if r["path"] == path]

def same_records(path, got):
    bodies = [json.loads(r["body"]) for r in got]
    check(sorted(bodies, key=lambda b: b["index"]) == records, path + ": bodies equal the jsonl records")

# main: each record once, with every header.
main = on("/ok/main")
check(len(main) == 3, "main: 3 requests, got %d" % len(main))
same_records("main", main)
check(len({r["client_port"] for r in main}) == 1, "main: the connection is kept alive between posts")
keys = {r["headers"].get("idempotency-key") for r in main}
check(len(keys) == 3 and None not in keys, "main: one distinct Idempotency-Key per record")
for r in main:
    h = r["headers"]
    body = json.loads(r["body"])
    check(h.get("content-type") == "application/json", "main: Content-Type")
    check(h.get("user-agent") == "streamcut/" + version, "main: User-Agent " + h.get("user-agent", ""))
    check(h.get("authorization") == "Basic " + base64.b64encode(b"hook-user:pa@ss-9x").decode(), "main: Basic")
    check(h.get("x-test") == "one" and h.get("x-tag") == "two words", "main: extra headers")
    want = "sha256=" + hmac.new(b"s3cret-key", r["body"].encode(), hashlib.sha256).hexdigest()
    check(h.get("x-streamcut-signature") == want, "main: signature")
    check(h.get("idempotency-key", "").endswith(":demo/two/%d/%d" % (body["index"], round(body["start"] * 1e9))),
          "main: key names the segment: " + h.get("idempotency-key", ""))
for r in on("/ok/bearer"):
    check(r["headers"].get("authorization") == "Bearer tok-4f1c9a", "bearer: Authorization")
    check("x-streamcut-signature" not in r["headers"], "bearer: unsigned without hmac_secret")

# flaky: 503, 503, then 200 on the first record; the repeats are the same post.
flaky = on("/flaky/2/x")
check([r["answer"] for r in flaky] == [503, 503, 200, 200, 200], "flaky: answers %s" % [r["answer"] for r in flaky])
check(len({r["headers"]["idempotency-key"] for r in flaky[:3]}) == 1, "flaky: a retry keeps its key")
check(len({r["body"] for r in flaky[:3]}) == 1, "flaky: a retry keeps its body")
check(len({r["headers"]["idempotency-key"] for r in flaky}) == 3, "flaky: 3 keys in all")

# down: 3 attempts per record, waits ~100 ms then ~200 ms (+-20 %).
down = on("/down/x")
check(len(down) == 9, "down: 9 requests, got %d" % len(down))
for first in range(0, len(down) - 2, 3):
    gaps = [down[first + 1]["at"] - down[first]["at"], down[first + 2]["at"] - down[first + 1]["at"]]
    check(0.075 <= gaps[0] <= 0.4 and 0.15 <= gaps[1] <= 0.6 and gaps[1] > gaps[0] * 1.2,
          "down: backoff waits %s" % gaps)

check(len(on("/hang/x")) == 6, "hang: 2 attempts per record")
check(len(on("/bad/x")) == 3, "bad: one request per record (no retry)")

# busy: Retry-After: 1 replaces the 10 ms backoff; 3600 is capped at 300 ms.
busy = on("/busy/1/x")
check(len(busy) == 4 and busy[1]["at"] - busy[0]["at"] >= 0.95, "busy: waited %.3f s for Retry-After: 1"
      % (busy[1]["at"] - busy[0]["at"]))
capped = on("/busy/3600/x")
gap = capped[1]["at"] - capped[0]["at"]
check(len(capped) == 4 and 0.2 <= gap <= 1.5, "busy_capped: waited %.3f s (cap 0.3 s)" % gap)

# moved: 307 then the same POST, body and key at the new place.
moved, landed = on("/moved/x"), on("/ok/moved")
check(len(moved) == 3 and len(landed) == 3, "moved: 3 redirects and 3 arrivals")
same_records("moved", landed)
check([r["headers"]["idempotency-key"] for r in moved] == [r["headers"]["idempotency-key"] for r in landed],
      "moved: the key follows the redirect")
check(len(on("/loop/x")) == 12, "loop: 4 requests per record (3 redirects followed)")
check(len(on("/downgrade/x")) == 3, "downgrade: not followed")
check(len(on("/huge/x")) == 3, "huge: one request per record")

same_records("tls", on("/ok/tls"))
check(all(r.get("tls") for r in on("/ok/tls")), "tls: came over https")
check(on("/ok/untrusted") == [], "tls_untrusted: nothing sent")
sys.exit(1 if failures else 0)
EOF

# ---- sync sets: one request per set, its body the set record ----------------
cat >sync.ini <<EOF
[source left]
module = testsrc
duration = 4s
encode = false
audio = false

[source right]
module = testsrc
duration = 4s
encode = false
audio = false

[sync pair]
module = fixed
sources = left, right
duration = 2s

[sink sets_hook]
module = webhook
from = pair
url = http://127.0.0.1:$plain/ok/sets

[sink sets]
module = jsonl
from = pair
path = sets.jsonl
EOF
status=0
timeout 60 "$streamcut" run sync.ini >sync.out 2>sync.err || status=$?
[ "$status" -eq 0 ] || { fail "the sync run exited $status"; cat sync.err; }
python3 - <<'EOF' && pass "sync sets: one POST per set, body equal to the jsonl set record" || fail "sync sets"
import json, sys
sets = [json.loads(line) for line in open("sets.jsonl")]
got = [r for r in map(json.loads, open("plain.log")) if r["path"] == "/ok/sets"]
bodies = sorted((json.loads(r["body"]) for r in got), key=lambda b: b["index"])
keys = [r["headers"]["idempotency-key"] for r in got]
ok = sets and bodies == sets and all(":sync/pair/" in k for k in keys) and len(set(keys)) == len(keys)
if not ok:
    print("  sets:", len(sets), "posted:", len(bodies), keys)
sys.exit(0 if ok else 1)
EOF

# ---- the shipped example, as it is --------------------------------------------
status=0
WEBHOOK_URL=http://127.0.0.1:$plain/ok/example WEBHOOK_TOKEN=example-token WEBHOOK_SECRET=example-key \
    timeout 120 "$streamcut" run "$top_srcdir/conf/examples/webhook.ini" >example.out 2>example.err || status=$?
[ "$status" -eq 0 ] || { fail "conf/examples/webhook.ini exited $status"; cat example.err; }
python3 - <<'EOF' && pass "example: each record posted, naming its clip, signed and authorized" || fail "example"
import hashlib, hmac, json, os, sys
records = [json.loads(line) for line in open("example.out")]
got = [r for r in map(json.loads, open("plain.log")) if r["path"] == "/ok/example"]
bodies = sorted((json.loads(r["body"]) for r in got), key=lambda b: b["index"])
ok = len(records) == 2 and bodies == records and all(os.path.isfile(b.get("file", "")) for b in bodies)
for r in got:
    h = r["headers"]
    ok = ok and h.get("authorization") == "Bearer example-token" and h.get("x-pipeline") == "webhook-example"
    ok = ok and h.get("x-streamcut-signature") == "sha256=" + hmac.new(
        b"example-key", r["body"].encode(), hashlib.sha256).hexdigest()
sys.exit(0 if ok else 1)
EOF

# ---- bad options: refused before anything runs, secrets not echoed ----------
refused() { # refused NAME EXPECTED-MESSAGE KEY=VALUE...
    local name=$1 expected=$2
    shift 2
    {
        printf '[source demo]\nmodule = testsrc\nduration = 1s\nencode = false\n\n'
        printf '[strategy two]\nmodule = fixed\nsource = demo\nduration = 1s\n\n'
        printf '[sink hook]\nmodule = webhook\nfrom = two\n'
        printf '%s\n' "$@"
    } >"$name.ini"
    local code=0
    "$streamcut" run "$name.ini" >"$name.out" 2>"$name.err" || code=$?
    if [ "$code" -eq 2 ] && grep -qF -- "$expected" "$name.err" && ! grep -q "hidden-pw" "$name.err"; then
        pass "refused: $name"
    else
        fail "$name: exit $code, expected 2 and '$expected'"
        cat "$name.err"
    fi
}
refused scheme "only http:// and https:// URLs are supported, not ftp://" "url = ftp://u:hidden-pw@127.0.0.1/x"
refused no_url "url" "retries = 1"
export WEBHOOK_INJECT=$'v\r\nX-Injected: 1'
refused header_crlf "headers: contains a CR" "url = http://127.0.0.1:$plain/ok/x" \
    'headers = X-A: ${WEBHOOK_INJECT}'
export WEBHOOK_BAD_TOKEN=$'tok\r\nX-Injected: 1'
refused token_crlf "bearer_token contains CR or LF" "url = http://127.0.0.1:$plain/ok/x" \
    'bearer_token = ${WEBHOOK_BAD_TOKEN}'
refused reserved "headers: Content-Length is set by the sink itself" "url = http://127.0.0.1:$plain/ok/x" \
    "headers = content-length: 5"
refused no_colon "headers: entry 2 has no ':'" "url = http://127.0.0.1:$plain/ok/x" "headers = X-A: 1 | hidden-pw"
refused two_auth "bearer_token and credentials in url" "url = http://u:hidden-pw@127.0.0.1:$plain/ok/x" \
    "bearer_token = abc"
refused delays "retry_max_delay (1 s) is shorter than retry_initial_delay (2 s)" \
    "url = http://127.0.0.1:$plain/ok/x" "retry_initial_delay = 2s" "retry_max_delay = 1s"
refused ca_file "tls_ca_file = missing.pem" "url = https://127.0.0.1:$tls/ok/x" "tls_ca_file = missing.pem"

[ "$failures" -eq 0 ] && echo "all webhook checks passed"
exit $((failures > 0))
