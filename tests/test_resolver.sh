#!/bin/bash
# End-to-end: stream type detection (streamcut probe, module = auto) and
# resolver commands: run without a shell with {url} substituted, their
# first output line used as the stream URL, failures and hangs reported
# with the reason, and run again at every reconnection.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
resolver=$top_srcdir/tests/fake-resolver

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-resolver.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# ---- detection --------------------------------------------------------------
probe() { "$streamcut" probe "$1" | sed -n 's/^type: //p'; }
expect_type() {
    local got; got=$(probe "$1")
    [ "$got" = "$2" ] && pass "probe $1 -> $2" || fail "probe $1 -> $got, expected $2"
}
expect_type "https://www.youtube.com/watch?v=dQw4w9WgXcQ" YOUTUBE_HLS
expect_type "https://youtu.be/dQw4w9WgXcQ" YOUTUBE_HLS
expect_type "https://www.twitch.tv/somechannel" TWITCH_HLS
expect_type "https://cdn.example.net/live/master.m3u8?sig=abc" HLS
expect_type "rtmp://127.0.0.1:1935/live/key" RTMP_FLV
expect_type "rtmps://ingest.example.net/app/key" RTMP_FLV
expect_type "https://notyoutube.com/watch?v=1" FILE
expect_type "/srv/media/input.mp4" FILE

# ---- module = auto ------------------------------------------------------------
cat > page.ini <<INI
[source show]
module = auto
url = https://www.youtube.com/watch?v=dQw4w9WgXcQ
INI
rc=0; "$streamcut" check page.ini > page.out 2> page.err || rc=$?
[ "$rc" -eq 2 ] && grep -q "page.ini:3: \[source show\]: YOUTUBE_HLS is a page, not a stream: add a resolver" page.err \
    && pass "a page URL without a resolver is a config error at its line" \
    || { fail "page URL without resolver: exit $rc"; cat page.err; }

cat > auto.ini <<INI
[source local]
module = auto
url = $tmp/in.mp4
[strategy cut]
module = fixed
source = local
duration = 2s
[sink records]
module = jsonl
from = cut
path = records.jsonl
INI
rc=0; "$streamcut" check auto.ini > auto.out 2>&1 || rc=$?
[ "$rc" -eq 0 ] && grep -q "source local: avformat .* \[auto: FILE\]" auto.out \
    && pass "module = auto picks avformat for a file" || { fail "auto check: exit $rc"; cat auto.out; }

# ---- a resolver turning a page into a (local) stream ------------------------------
ffmpeg -v error -y -f lavfi -i testsrc2=size=160x90:rate=25 -f lavfi -i sine -t 6 \
    -c:v libx264 -g 25 -c:a aac in.mp4
cat > resolved.ini <<INI
[source page]
module = avformat
url = https://www.youtube.com/watch?v=resolve-me
resolver = $resolver {url} $tmp/in.mp4 $tmp/calls.log
[strategy cut]
module = fixed
source = page
duration = 2s
[sink records]
module = jsonl
from = cut
path = records.jsonl
INI
rc=0; "$streamcut" run resolved.ini 2> resolved.err || rc=$?
[ "$rc" -eq 0 ] && pass "a resolved page URL runs" || { fail "resolved run: exit $rc"; cat resolved.err; }
lines=$(wc -l < records.jsonl)
[ "$lines" -eq 3 ] && pass "3 windows from the resolved stream" || fail "$lines windows, expected 3"
grep -qx "https://www.youtube.com/watch?v=resolve-me" calls.log \
    && pass "the resolver got the page URL as one argument" || fail "resolver arguments: $(cat calls.log)"

# ---- failures: a failing resolver, a hanging one, re-resolution on reconnect ------
cat > failing.ini <<INI
[source page]
module = avformat
url = https://www.youtube.com/watch?v=fail
resolver = $resolver {url} unused $tmp/fail-calls.log
reconnect.initial_delay = 100ms
reconnect.give_up_after = 1s
[strategy cut]
module = fixed
source = page
[sink records]
module = jsonl
from = cut
path = -
INI
rc=0; "$streamcut" run failing.ini > /dev/null 2> failing.err || rc=$?
[ "$rc" -eq 1 ] && pass "a resolver that keeps failing fails the source (exit 1)" || fail "failing resolver: exit $rc"
grep -q "resolver '$resolver' failed (exit status 3)" failing.err \
    && pass "the failure names the resolver and its exit status" || { fail "no resolver failure message"; cat failing.err; }
calls=$(wc -l < fail-calls.log)
[ "$calls" -ge 2 ] && pass "the resolver ran again at each reconnection ($calls calls)" || fail "resolver ran $calls times"

sed -e "s|^resolver = .*|resolver = sleep 30|" -e "s|^reconnect.give_up_after = .*|reconnect.give_up_after = 500ms\nresolver_timeout = 300ms|" \
    failing.ini > hanging.ini
start=$(date +%s%N)
rc=0; "$streamcut" run hanging.ini > /dev/null 2> hanging.err || rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$rc" -eq 1 ] && grep -q "did not finish within 0.3 s" hanging.err \
    && pass "a hanging resolver is killed at its deadline" || { fail "hanging resolver: exit $rc"; cat hanging.err; }
[ "$elapsed_ms" -lt 10000 ] && pass "and streamcut gave up in ${elapsed_ms} ms" || fail "took ${elapsed_ms} ms"

[ "$failures" -eq 0 ] || exit 1
