#!/bin/bash
# End-to-end: the hls source against a local fault-injecting live HLS server
# (tests/hls_server.py), one scenario per failure mode of live ingest.
#
# Media: 60 one-second MPEG-TS segments (testsrc2 + 440 Hz, x264 GOP 1 s,
# AAC), a second 20 s encode starting at t=0 (the same pictures negated and
# 880 Hz, so no picture repeats the first's) for discontinuities, resets
# and ads, the first encode again as fMP4 (EXT-X-MAP) for the fmp4 and
# VOD scenarios, and 20 s of it AES-128 encrypted (ffmpeg's key, IVs from
# the media sequence) for the aes scenario, and 10 s of it as byte ranges
# of one file for the ranges scenario.
#
# Scenarios (tests/hls_server.py describes the server side): normal (a
# master playlist, quality = 180p, headers/cookies/user agent required by
# the server), seg404, pl500, restart (server killed at 4 s, back at 7 s on
# the same port and stream clock), reset, disc, pdt (reached through a
# redirect to another host name), ads (Twitch ads skipped, low-latency
# prefetch), trickle, stall, expire, behind, fmp4, id3, hostile (file://,
# foreign-host and redirected segment URIs), blackhole (server SIGSTOPped;
# SIGINT must still end the run within 3 s), token (the playlist URL
# expires; a resolver renews it), vod (read to its end), aes (an encrypted
# VOD playlist: key and segments through the same session), twohost
# (segments on a second server and on this one under another host name,
# cookies scoped to their host), redirects (to a host that is not allowed,
# and chains longer and shorter than max_redirects), ranges (a VOD playlist
# of EXT-X-BYTERANGE parts, one Range request each), untrusted (HTTPS with
# a self-signed certificate: refused, said why, nothing read; needs the
# openssl CLI).
#
# Connections: the servers log every connection and request. Checked for
# every scenario: no connection ever carried requests for two hosts (Host
# headers); for normal, pdt, vod, aes, ranges: at most 3 connections however
# many requests (kept-alive connections are reused), figures printed.
#
# Each scenario runs hls -> fixed 2 s -> .ts clips + jsonl (plus the event
# strategy -> events.jsonl, to see the events the source posts) for about
# 14 s, then SIGINT. Checked for every scenario: exit status 0; the
# source's counters (the "counters:" stats line) moved as the scenario
# demands and no others did; records kept flowing; window starts strictly
# increase; every clip passes `ffprobe -v error` silently and lasts a sane
# time (never 26 h); no clip carries more than one GOP of pictures before
# its window; no video packet appears in two windows (hashes of every
# clip's own pictures); the host never had to squeeze timestamps
# (ts_fixed=0). Scenario checks: see `expect` in check.py below.
# HLS_TEST_ONLY="name ..." runs only some scenarios; HLS_TEST_KEEP=1 keeps
# the work folder.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-hls.XXXXXX")
# Every process started here (servers, streamcut runs) is noted in one file,
# also from the background scenario subshells, and killed by its PID at exit.
cleanup() {
    if [ -f "$tmp/pids" ]; then
        while read -r pid; do
            # only if it still is one of ours (the PID may be reused)
            if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -e server.py -e streamcut; then
                kill -CONT "$pid" 2>/dev/null || true
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$tmp/pids"
    fi
    if [ -n "${HLS_TEST_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
cd "$tmp"
started=$SECONDS

echo "generating the media with ffmpeg..."
encode() { # folder, video filter, tone, seconds, extra hls options...
    local folder=$1 filter=$2 tone=$3 length=$4
    shift 4
    mkdir -p "$folder"
    (cd "$folder" && ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x180:rate=30" \
        -f lavfi -i "sine=frequency=$tone" -t "$length" -vf "$filter" -c:v libx264 -preset veryfast -g 30 \
        -c:a aac -f hls -hls_time 1 -hls_list_size 0 "$@" index.m3u8)
}
# The second encode is the negative of the first: same timing, other pictures.
encode media null 440 60 -hls_segment_filename 'seg%05d.ts' &
encode alt negate 880 20 -hls_segment_filename 'seg%05d.ts' &
encode fmp4 null 440 60 -hls_playlist_type vod -hls_segment_type fmp4 \
    -hls_fmp4_init_filename init.mp4 -hls_segment_filename 'seg%05d.m4s' &
# ffmpeg's key info file: the key's URI in the playlist, then its file (no
# IV line: each segment's IV is its media sequence number).
mkdir -p aes
head -c 16 /dev/urandom >aes/key.bin
printf 'key.bin\nkey.bin\n' >aes-keyinfo
encode aes null 440 20 -hls_playlist_type vod -hls_key_info_file ../aes-keyinfo -hls_segment_filename 'seg%05d.ts' &
encode ranges null 440 10 -hls_playlist_type vod -hls_flags single_file &
for job in 1 2 3 4 5; do wait -n || { echo "FAIL: ffmpeg could not encode the test media (libx264/aac needed)"; exit 1; }; done
if command -v openssl >/dev/null 2>&1; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout tls.key -out tls.crt 2>openssl.err || { echo "FAIL: openssl"; cat openssl.err; exit 1; }
fi
cp "$top_srcdir/tests/hls_server.py" server.py

# The checks, in Python (stdlib only) around ffprobe/ffmpeg.
cat >check.py <<'EOF'
import json, os, re, subprocess, sys, time

GOP_FRAMES = 30           # -g 30 at 30 fps
SANE_SECONDS = 10.0       # no window's content may span more (a 2 s window, a 1 s GOP, a hole)
failed = 0
now = time.time()


def ok(name, message):
    print("ok:   [%s] %s" % (name, message))


def bad(name, message):
    global failed
    failed += 1
    print("FAIL: [%s] %s" % (name, message))


def stat_line(text, instance, prefix):
    """Fields of the host's "[instance] prefix: a=1 b=2" (or "[instance] a=1 ...") stats line."""
    for line in text.splitlines():
        marker = "[%s] %s" % (instance, prefix)
        if marker in line:
            return dict(re.findall(r"(\w+)=(\"[^\"]*\"|\S+)", line.split(marker, 1)[1]))
    return None


def counter(counters, key):
    return int(counters.get(key, 0))


def clip_frames(path):
    """(time base, [(pts, md5)]) of a clip's video packets, in decode order."""
    run = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v", "-c", "copy",
                          "-f", "framemd5", "-"], capture_output=True, text=True)
    tb = None
    frames = []
    for line in run.stdout.splitlines():
        if line.startswith("#tb 0:"):
            num, den = line.split(":")[1].strip().split("/")
            tb = float(num) / float(den)
        elif line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            frames.append((int(fields[2]), fields[5]))
    return tb, frames


def load_jsonl(path):
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def parse_utc(text):
    base, millis = text.rstrip("Z").split(".")
    return time.mktime(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) - time.timezone + int(millis) / 1000.0


# Per scenario: counters that must equal / reach a value, counters allowed to
# move (all of segments_missing, segments_expired, segments_skipped,
# sequence_resets, ad_segments_skipped must stay 0 otherwise), fewest
# records, and how far the timeline must get.
ZERO_UNLESS_ALLOWED = ["segments_missing", "segments_expired", "segments_skipped", "sequence_resets",
                       "ad_segments_skipped", "stalls"]
expect = {
    "normal": {"ge": {"segments_fetched": 12}, "log": "chose 320x180", "records": 6, "reach": 12},
    "seg404": {"eq": {"segments_missing": 1, "segment_retries": 3}, "records": 5, "reach": 12,
               "gap": {"from_sequence": 1014, "to_sequence": 1014, "seconds": 1.0, "reason": "missing"},
               "flagged": True},
    "pl500": {"ge": {"playlist_errors": 3}, "allow": ["segments_expired"], "records": 5, "reach": 10},
    "restart": {"host_reconnects": 1, "allow": ["segments_expired", "segments_missing", "stalls"], "records": 5,
                "reach": 10},
    "reset": {"eq": {"sequence_resets": 1}, "event": "hls.sequence_reset", "flagged": True, "records": 5, "reach": 12},
    "disc": {"ge": {"discontinuities": 1}, "flagged": True, "records": 5, "reach": 12},
    "pdt": {"pdt": True, "eq": {"blocked_urls": 0}, "ge": {"segments_fetched": 12}, "records": 6, "reach": 12},
    "ads": {"eq": {"ad_segments_skipped": 4}, "ge": {"prefetch_segments": 1}, "ads": True, "records": 4, "reach": 12},
    "trickle": {"ge": {"request_timeouts": 1}, "allow": ["segments_expired", "segments_missing", "stalls"],
                "records": 4, "reach": 10},
    "stall": {"ge": {"stalls": 1}, "allow": ["stalls", "segments_expired"], "records": 5, "reach": 12},
    "expire": {"eq": {"segments_expired": 2}, "records": 5, "reach": 12,
               "gap": {"from_sequence": 1014, "to_sequence": 1015, "seconds": 2.0, "reason": "expired"}},
    "behind": {"eq": {"segments_skipped": 3}, "records": 5, "reach": 12,
               "gap": {"from_sequence": 1014, "to_sequence": 1016, "seconds": 3.0, "reason": "behind"}},
    "fmp4": {"eq": {"init_segments_fetched": 1}, "ge": {"segments_fetched": 10}, "records": 5, "reach": 12},
    "id3": {"id3": True, "records": 5, "reach": 12},
    "blackhole": {"ge": {"request_timeouts": 1}, "allow": ["stalls", "segments_expired"], "records": 1, "reach": 2,
                  "prompt_exit": 3},
    "hostile": {"eq": {"blocked_urls": 3, "segments_missing": 3}, "records": 5, "reach": 12, "blocked": 3},
    "token": {"ge": {"playlist_refused": 1}, "allow": ["segments_expired", "segments_missing"], "records": 5,
              "reach": 10},
    "vod": {"eq": {"segments_fetched": 60, "init_segments_fetched": 1}, "records": 30, "reach": 60, "vod": 1800,
            "connections": (3, 62)},
    "aes": {"eq": {"segments_fetched": 20}, "records": 10, "reach": 20, "vod": 600, "connections": (3, 22),
            "key_requests": 1},
    "ranges": {"eq": {"segments_fetched": 10}, "records": 5, "reach": 10, "vod": 300, "connections": (3, 11),
               "ranged": 10},
    "twohost": {"ge": {"segments_fetched": 12}, "eq": {"blocked_urls": 0}, "records": 6, "reach": 12, "twohost": True},
    "redirects": {"eq": {"blocked_urls": 1, "redirects_refused": 2, "segments_missing": 2, "redirects_followed": 4},
                  "records": 5, "reach": 12, "redirects": True},
    "untrusted": {"eq": {"segments_fetched": 0, "bytes_downloaded": 0}, "ge": {"playlist_errors": 1},
                  "log": "TLS: the certificate of 127.0.0.1 is signed by an unknown authority", "records": 0,
                  "reach": 0, "no_media": True},
}
if not os.path.isfile("tls.crt"):
    print("skip: [untrusted] no openssl CLI to make a certificate")
    del expect["untrusted"]
# Kept-alive connections: at most this many for a run of at least so many requests.
for name in ("normal", "pdt"):
    expect[name]["connections"] = (3, 25)


def server_log(name, log="requests.log"):
    """(connections, requests) the server logged: {conn: [request, ...]}, [request, ...]."""
    path = os.path.join(name, log)
    connections = {}
    requests = []
    if os.path.isfile(path):
        for event in load_jsonl(path):
            connections.setdefault(event["conn"], [])
            if event["event"] == "request":
                connections[event["conn"]].append(event)
                requests.append(event)
    return connections, requests


def check_connections(name, want):
    for log in ("requests.log", "requests_b.log"):
        connections, requests = server_log(name, log)
        if not requests:
            continue
        hosts = {}
        for conn, served in connections.items():
            for host in {r["host"] for r in served}:
                hosts.setdefault(host, [0, 0])
                hosts[host][0] += 1
            for r in served:
                hosts[r["host"]][1] += 1
        figures = ", ".join("%s: %d requests over %d connection(s)" % (h, n, c) for h, (c, n) in sorted(hosts.items()))
        print("info: [%s] %s: %s" % (name, log, figures))
        mixed = [conn for conn, served in connections.items() if len({r["host"] for r in served}) > 1]
        (ok if not mixed else bad)(name, "%s: no connection carried requests for two hosts (%d connections)"
                                   % (log, len(connections)) if not mixed else
                                   "%s: connections %s carried requests for several hosts: %r"
                                   % (log, mixed, [[r["host"] for r in connections[c]] for c in mixed]))
        if "connections" in want and log == "requests.log":
            limit, least = want["connections"]
            (ok if len(connections) <= limit and len(requests) >= least else bad)(
                name, "%d requests (at least %d) over %d connection(s) (at most %d): %.1f requests per connection"
                % (len(requests), least, len(connections), limit, len(requests) / max(1, len(connections))))


only = os.environ.get("HLS_TEST_ONLY", "").split()
for name, want in expect.items():
    if only and name not in only:
        continue
    if not os.path.isdir(name):
        bad(name, "did not run")
        continue
    stderr = open(os.path.join(name, "stderr")).read() if os.path.isfile(os.path.join(name, "stderr")) else ""
    rc = open(os.path.join(name, "rc")).read().strip() if os.path.isfile(os.path.join(name, "rc")) else "missing"
    if rc == "0":
        ok(name, "exit status 0")
    else:
        bad(name, "exit status %s" % rc)
    if "prompt_exit" in want:
        took = int(open(os.path.join(name, "exit_seconds")).read())
        (ok if took <= want["prompt_exit"] else bad)(name, "exited %d s after SIGINT while the server hung" % took)
    if os.path.isfile(os.path.join(name, "stdout")) and os.path.getsize(os.path.join(name, "stdout")):
        bad(name, "printed on stdout")

    counters = stat_line(stderr, "live", "counters:")
    if counters is None:
        bad(name, "no counters line on stderr")
        continue
    shown = " ".join("%s=%s" % item for item in sorted(counters.items()))
    print("info: [%s] counters: %s" % (name, shown))
    for key, value in want.get("eq", {}).items():
        (ok if counter(counters, key) == value else bad)(name, "%s = %d (expected %d)" % (key, counter(counters, key), value))
    for key, value in want.get("ge", {}).items():
        (ok if counter(counters, key) >= value else bad)(name, "%s = %d (expected >= %d)" % (key, counter(counters, key), value))
    for key in ZERO_UNLESS_ALLOWED:
        if key in want.get("eq", {}) or key in want.get("ge", {}) or key in want.get("allow", []):
            continue
        if counter(counters, key) != 0:
            bad(name, "%s = %d, expected 0" % (key, counter(counters, key)))
    clock = stat_line(stderr, "live", "clock:") or {"ts_fixed": "0" if want.get("no_media") else None}
    (ok if clock.get("ts_fixed") == "0" else bad)(name, "the host squeezed no timestamps (ts_fixed=%s)" % clock.get("ts_fixed"))
    if "host_reconnects" in want:
        state = stat_line(stderr, "live", "state=") or {}
        reconnects = int(re.search(r"reconnects=(\d+)", stderr).group(1)) if re.search(r"reconnects=(\d+)", stderr) else 0
        (ok if reconnects >= want["host_reconnects"] else bad)(name, "the host reconnected %d time(s)" % reconnects)
    if "log" in want:
        (ok if want["log"] in stderr else bad)(name, "log says '%s'" % want["log"])

    records = load_jsonl(os.path.join(name, "records.jsonl"))
    events = load_jsonl(os.path.join(name, "events.jsonl"))
    if len(records) >= want["records"]:
        ok(name, "%d records (at least %d)" % (len(records), want["records"]))
    else:
        bad(name, "%d records, expected at least %d" % (len(records), want["records"]))
    reach = max([r["end"] for r in records] or [0])
    (ok if reach >= want["reach"] else bad)(name, "the timeline reached %.1f s (at least %d)" % (reach, want["reach"]))
    starts = [r["start"] for r in records]
    if all(b > a for a, b in zip(starts, starts[1:])) and \
            all(records[i]["start"] >= records[i - 1]["end"] - 1e-6 for i in range(1, len(records))):
        ok(name, "window starts strictly increase, windows never overlap")
    else:
        bad(name, "windows out of order or overlapping: %r" % [(r["start"], r["end"]) for r in records])
    if want.get("flagged"):
        (ok if any("discontinuity" in r.get("flags", []) for r in records) else bad)(name, "a window is flagged discontinuity")

    # every clip
    seen = {}
    duplicates = 0
    own_total = 0
    problems = 0
    longest = 0.0
    for r in records:
        path = r.get("file")
        if not path or not os.path.isfile(path):
            bad(name, "record %d: clip %r missing" % (r["index"], path))
            problems += 1
            continue
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
                               capture_output=True, text=True)
        if probe.returncode != 0 or probe.stderr.strip():
            bad(name, "%s: ffprobe -v error says %r" % (path, probe.stderr.strip()[:300]))
            problems += 1
        try:
            duration = float(probe.stdout.strip())
        except ValueError:
            duration = float("inf")
        span = r["media_end"] - r["keyframe_start"]
        longest = max(longest, duration, span)
        if duration > SANE_SECONDS or span > SANE_SECONDS:
            bad(name, "%s lasts %.3f s (record span %.3f s)" % (path, duration, span))
            problems += 1
        tb, frames = clip_frames(path)
        if not frames or tb is None:
            bad(name, "%s: no video packets" % path)
            problems += 1
            continue
        first_pts = frames[0][0]
        lead_in = 0
        for pts, digest in frames:
            t = r["keyframe_start"] + (pts - first_pts) * tb
            if t < r["start"] - 0.001:
                lead_in += 1
            elif t < r["end"] - 0.001:
                own_total += 1
                if digest in seen:
                    duplicates += 1
                seen[digest] = path
        if lead_in > GOP_FRAMES + 1:
            bad(name, "%s carries %d pictures before its window (more than a GOP)" % (path, lead_in))
            problems += 1
    if records and not problems:
        ok(name, "%d clips valid (ffprobe silent), at most %.2f s long, at most one GOP before their window"
           % (len(records), longest))
    (ok if duplicates == 0 else bad)(name, "%d pictures in the windows, %d of them twice" % (own_total, duplicates))

    # scenario checks
    names = [e.get("event") for e in events]
    if "gap" in want:
        gaps = [e for e in events if e.get("event") == "hls.gap"]
        if len(gaps) == 1 and all(gaps[0].get("payload", {}).get(k) == v for k, v in want["gap"].items()):
            ok(name, "one hls.gap event: %s" % json.dumps(gaps[0]["payload"], sort_keys=True))
        else:
            bad(name, "hls.gap events %r, expected one with %r" % ([g.get("payload") for g in gaps], want["gap"]))
    if "blocked" in want:
        gaps = [e.get("payload", {}) for e in events if e.get("event") == "hls.gap"]
        blocked = [g for g in gaps if g.get("reason") == "blocked" and g.get("from_sequence") == g.get("to_sequence")]
        (ok if len(blocked) == want["blocked"] == len(gaps) else bad)(name, "%d hls.gap events, reason blocked: %r" % (len(gaps), gaps))
        (ok if "/etc/passwd" not in open(os.path.join(name, "server.err")).read() else bad)(name, "nothing asked for /etc/passwd")
    if "event" in want:
        (ok if want["event"] in names else bad)(name, "event %s posted (events: %s)" % (want["event"], sorted(set(map(str, names)))))
    if want.get("pdt"):
        offsets = [parse_utc(r["start_utc"]) - r["start"] for r in records if r.get("start_utc")]
        if len(offsets) != len(records) or not offsets:
            bad(name, "records without start_utc")
        else:
            spread = max(offsets) - min(offsets)
            fraction = offsets[0] % 1.0
            behind = now - offsets[0]
            (ok if spread < 0.005 else bad)(name, "start_utc - start constant within %.4f s" % spread)
            (ok if abs(fraction - 0.25) < 0.005 else bad)(name, "start_utc on the stream's PROGRAM-DATE-TIME grid (.%03d)" % round(fraction * 1000))
            (ok if 3590 < behind < 3700 else bad)(name, "start_utc is %.1f s before now: the stated time, not the arrival" % behind)
    if want.get("ads"):
        ad = [e for e in events if e.get("event") == "ad"]
        ranges = [e for e in events if e.get("event") == "twitch-stitched-ad"]
        if len(ad) == 1 and ad[0]["payload"].get("action") == "skip" and ad[0]["payload"].get("daterange") == "stitched-ad-15" \
                and ad[0]["payload"].get("duration") == 4.0:
            ok(name, "one ad event: %s" % json.dumps(ad[0]["payload"], sort_keys=True))
        else:
            bad(name, "ad events %r" % [e.get("payload") for e in ad])
        if len(ranges) == 1 and ranges[0]["payload"].get("CLASS") == "twitch-stitched-ad" and ranges[0]["payload"].get("DURATION") == 4.0:
            ok(name, "the DATERANGE became an event named by its CLASS with its attributes")
        else:
            bad(name, "daterange events %r" % [e.get("payload") for e in ranges])
        if ad and ranges and abs(ad[0]["event_time"] - ranges[0]["event_time"]) <= 0.05:
            ok(name, "the daterange's START-DATE maps to the timeline where the ad began (%.3f vs %.3f)"
               % (ranges[0]["event_time"], ad[0]["event_time"]))
        else:
            bad(name, "daterange/ad event times %r / %r" % ([e.get("event_time") for e in ranges], [e.get("event_time") for e in ad]))
    if want.get("id3"):
        cues = [int(n[4:]) for n in names if n and re.fullmatch(r"cue-\d+", n)]
        if len(cues) >= 5 and all(b == a + 1 for a, b in zip(cues, cues[1:])):
            ok(name, "%d in-band ID3 cues became events, one per segment (cue-%d..cue-%d)" % (len(cues), cues[0], cues[-1]))
        else:
            bad(name, "ID3 cue events %r" % cues)
        kinds = {(s.get("type"), s.get("codec")) for r in records for s in r.get("streams", [])}
        (ok if any(codec == "timed_id3" for _, codec in kinds) else bad)(name, "a timed_id3 data stream is in the windows (%s)" % sorted(map(str, kinds)))
    if want.get("vod"):
        (ok if own_total == want["vod"] else bad)(name, "the windows hold %d pictures, the input has %d"
                                                  % (own_total, want["vod"]))
    check_connections(name, want)
    if "key_requests" in want:
        keys = [r for r in server_log(name)[1] if r["path"].endswith("key.bin")]
        (ok if len(keys) == want["key_requests"] else bad)(name, "the key was asked for %d time(s)" % len(keys))
    if "ranged" in want:
        parts = [r for r in server_log(name)[1] if r["path"].endswith(".ts")]
        (ok if len(parts) == want["ranged"] and all(r["range"] for r in parts) else bad)(
            name, "%d segment requests, each for a byte range: %r" % (len(parts), [r["range"] for r in parts][:3]))
    if want.get("twohost"):
        a = server_log(name)[1]
        b = server_log(name, "requests_b.log")[1]
        hosts_a = {r["host"].rpartition(":")[0] for r in a}
        hosts_b = {r["host"].rpartition(":")[0] for r in b}
        (ok if hosts_a == {"127.0.0.1", "localhost"} and hosts_b == {"localhost"} else bad)(
            name, "segments came from both servers under both names (first: %s, second: %s)"
            % (sorted(hosts_a), sorted(hosts_b)))
        leaked = [r for r in a + b if r["host"].startswith("localhost") and "edge=" in (r["cookie"] or "")]
        carried = [r for r in a if r["host"].startswith("127.0.0.1") and "/seg" in r["path"]]
        (ok if not leaked else bad)(name, "the cookie of 127.0.0.1 never went to localhost (%d requests there)"
                                    % sum(1 for r in a + b if r["host"].startswith("localhost")))
        (ok if carried and all("edge=E1" in (r["cookie"] or "") for r in carried) else bad)(
            name, "%d segment requests to 127.0.0.1 carried the cookie it set" % len(carried))
        (ok if all((r["cookie"] or "").startswith("session=abc; theme=dark") for r in a + b) else bad)(
            name, "the configured cookies went with every request")
    if want.get("redirects"):
        outside = server_log(name, "requests_c.log")[0]
        (ok if not outside else bad)(name, "the server the redirect pointed outside at got %d connection(s)" % len(outside))
        gaps = sorted(e.get("payload", {}).get("reason") for e in events if e.get("event") == "hls.gap")
        (ok if gaps == ["blocked", "redirects"] else bad)(name, "gap reasons %r" % gaps)
        said = re.search(r"redirect from 'http://127\.0\.0\.1:\d+/live/out_seg\d+\.ts' to "
                         r"'http://127\.0\.0\.1:\d+/live/seg\d+\.ts' refused: not an allowed host", stderr)
        (ok if said else bad)(name, "the refusal names both URLs")
        (ok if re.search(r"refused: more than 2 redirects", stderr) else bad)(name, "the long chain was refused")

sys.exit(1 if failed else 0)
EOF

# start_server NAME SCENARIO [server options]: PORT and SERVER set on return.
# The server logs to NAME/requests$SERVER_TAG.log (other servers of a
# scenario get a tag).
start_server() {
    local name=$1 scenario=$2 tag=${SERVER_TAG:-}
    shift 2
    mkdir -p "$name"
    python3 server.py --media media --alt alt --fmp4 fmp4 --aes aes --ranges ranges --scenario "$scenario" \
        --log "$name/requests$tag.log" "$@" >"$name/server$tag.out" 2>>"$name/server$tag.err" &
    SERVER=$!
    echo "$SERVER" >>"$tmp/pids"
    for _ in $(seq 100); do
        grep -q '^PORT ' "$name/server$tag.out" 2>/dev/null && break
        sleep 0.1
    done
    PORT=$(awk '/^PORT /{print $2}' "$name/server$tag.out")
    [ -n "$PORT" ] || { echo "FAIL: [$name] the server did not start"; cat "$name/server.err"; return 1; }
}

# write_ini NAME URL [source option lines...]
write_ini() {
    local name=$1 url=$2
    shift 2
    {
        echo "[source live]"
        echo "module = hls"
        echo "url = $url"
        for line in "$@"; do echo "$line"; done
        cat <<EOF

[strategy two]
module = fixed
source = live
duration = 2s

[sink clips]
module = clip
from = two
path = $name/out/{index:03}.ts

[sink records]
module = jsonl
from = two
path = $name/records.jsonl

[strategy events]
module = event
source = live
pre_roll = 1s
post_roll = 1s
overlap = allow

[sink event_records]
module = jsonl
from = events
path = $name/events.jsonl
EOF
    } >"$name.ini"
}

# stop_streamcut NAME PID: SIGINT, then how long it took to exit.
stop_streamcut() {
    local name=$1 pid=$2 rc=0 before=$SECONDS
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" || rc=$?
    echo "$rc" >"$name/rc"
    echo $((SECONDS - before)) >"$name/exit_seconds"
}

# run_streamcut NAME SECONDS: runs NAME.ini that long, then SIGINT.
run_streamcut() {
    local name=$1 seconds=$2
    "$streamcut" run "$name.ini" >"$name/stdout" 2>"$name/stderr" &
    local run=$!
    echo "$run" >>"$tmp/pids"
    sleep "$seconds"
    stop_streamcut "$name" "$run"
}

# HLS_TEST_ONLY="name ..." runs (and checks) only those scenarios.
wanted() {
    [ -z "${HLS_TEST_ONLY:-}" ] || [[ " $HLS_TEST_ONLY " == *" $1 "* ]]
}

# scenario NAME SERVER_SCENARIO SECONDS PATH [source option lines...]
scenario() {
    local name=$1 server_scenario=$2 seconds=$3 path=$4
    shift 4
    wanted "$name" || return 0
    start_server "$name" "$server_scenario" ${SERVER_OPTIONS:-} || return 0
    write_ini "$name" "${SCHEME:-http}://127.0.0.1:$PORT$path" "$@"
    run_streamcut "$name" "$seconds"
    kill "$SERVER" 2>/dev/null || true
}

# The server dies at 4 s and comes back on the same port at 7 s, with the
# same stream clock.
restart_scenario() {
    local name=restart t0
    wanted "$name" || return 0
    t0=$(python3 -c 'import time; print("%.3f" % time.time())')
    start_server "$name" plain --t0 "$t0" || return 0
    local port=$PORT first=$SERVER
    write_ini "$name" "http://127.0.0.1:$port/live/index.m3u8"
    "$streamcut" run "$name.ini" >"$name/stdout" 2>"$name/stderr" &
    local run=$!
    echo "$run" >>"$tmp/pids"
    sleep 4
    kill -KILL "$first"
    { wait "$first"; } 2>/dev/null || true
    sleep 3
    start_server "$name" plain --t0 "$t0" --port "$port" || true
    sleep 8
    stop_streamcut "$name" "$run"
    kill "$SERVER" 2>/dev/null || true
}

# The server is frozen (SIGSTOP: connections are accepted by the kernel,
# nothing answers) from 4 s; SIGINT at 12 s must end streamcut at once.
blackhole_scenario() {
    local name=blackhole
    wanted "$name" || return 0
    start_server "$name" plain || return 0
    write_ini "$name" "http://127.0.0.1:$PORT/live/index.m3u8"
    "$streamcut" run "$name.ini" >"$name/stdout" 2>"$name/stderr" &
    local run=$!
    echo "$run" >>"$tmp/pids"
    sleep 4
    kill -STOP "$SERVER"
    sleep 8
    stop_streamcut "$name" "$run"
    kill -CONT "$SERVER" 2>/dev/null || true
    kill "$SERVER" 2>/dev/null || true
}

# The playlist needs a token that expires after 4 s; the resolver fetches
# a fresh playlist URL at every (re)connection.
token_scenario() {
    local name=token
    wanted "$name" || return 0
    start_server "$name" token || return 0
    write_ini "$name" "http://127.0.0.1:$PORT/token" "resolver = python3 server.py --resolve {url}"
    run_streamcut "$name" 14
    kill "$SERVER" 2>/dev/null || true
}

# Segments on two servers (the second as localhost) and on the first as
# localhost too; allowed_hosts names localhost.
twohost_scenario() {
    local name=twohost t0
    wanted "$name" || return 0
    t0=$(python3 -c 'import time; print("%.3f" % time.time())')
    SERVER_TAG=_b start_server "$name" twohost --t0 "$t0" || return 0
    local other=$SERVER other_port=$PORT
    start_server "$name" twohost --t0 "$t0" --other-port "$other_port" || return 0
    write_ini "$name" "http://127.0.0.1:$PORT/live/index.m3u8" "allowed_hosts = localhost" \
        "cookies = session=abc; theme=dark"
    run_streamcut "$name" 14
    kill "$SERVER" "$other" 2>/dev/null || true
}

# Redirects: out to a server that is not allowed (it must see no
# connection at all), and chains of 3 and 2 against max_redirects = 2.
redirects_scenario() {
    local name=redirects
    wanted "$name" || return 0
    SERVER_TAG=_c start_server "$name" plain || return 0
    local outside=$SERVER outside_port=$PORT
    start_server "$name" redirects --other-port "$outside_port" || return 0
    write_ini "$name" "http://127.0.0.1:$PORT/live/index.m3u8" "max_redirects = 2"
    run_streamcut "$name" 14
    kill "$SERVER" "$outside" 2>/dev/null || true
}

# A complete VOD playlist (fMP4, or MPEG-TS encrypted): read to its end, no signal.
vod_scenario() {
    local name=${1:-vod} path=${2:-/vod/index.m3u8} rc=0
    wanted "$name" || return 0
    start_server "$name" vod || return 0
    write_ini "$name" "http://127.0.0.1:$PORT$path"
    timeout 60 "$streamcut" run "$name.ini" >"$name/stdout" 2>"$name/stderr" || rc=$?
    echo "$rc" >"$name/rc"
    echo 0 >"$name/exit_seconds"
    kill "$SERVER" 2>/dev/null || true
}

echo "running the scenarios (about 14 s each, in three batches)..."
scenario normal normal 14 /live/master.m3u8 "quality = 180p" "user_agent = streamcut-test/1" \
    "headers = X-Streamcut-Test: yes | X-Other: 1" "cookies = session=abc; theme=dark" &
scenario seg404 seg404 14 /live/index.m3u8 &
scenario pl500 pl500 14 /live/index.m3u8 &
restart_scenario &
scenario reset reset 14 /live/index.m3u8 &
twohost_scenario &
wait
scenario disc disc 14 /live/index.m3u8 &
scenario pdt pdt 14 /live/moved.m3u8 &
scenario ads ads 14 /live/index.m3u8 "low_latency = true" "ads = skip" &
scenario trickle trickle 14 /live/index.m3u8 "request_timeout = 2s" &
scenario stall stall 16 /live/index.m3u8 &
redirects_scenario &
wait
scenario expire expire 16 /live/index.m3u8 "stall_timeout = 30s" &
SERVER_OPTIONS="--window 12" scenario behind behind 15 /live/index.m3u8 "stall_timeout = 30s" "max_behind = 4" &
scenario fmp4 fmp4 14 /live/index.m3u8 &
scenario id3 id3 14 /live/index.m3u8 &
scenario hostile hostile 14 /live/index.m3u8 &
blackhole_scenario &
token_scenario &
vod_scenario &
vod_scenario aes /aes/index.m3u8 &
vod_scenario ranges /ranges/index.m3u8 &
if [ -f tls.crt ]; then
    SCHEME=https SERVER_OPTIONS="--tls tls.crt tls.key" scenario untrusted plain 6 /live/index.m3u8 &
fi
wait
# conf/examples/hls-live.ini exactly as shipped, against the plain server.
example_scenario() {
    start_server example plain || { failures=$((failures + 1)); return; }
    (cd example && HLS_URL="http://127.0.0.1:$PORT/live/index.m3u8" exec \
        "$streamcut" run "$top_srcdir/conf/examples/hls-live.ini" >records.jsonl 2>stderr) &
    local pid=$!
    echo "$pid" >>"$tmp/pids"
    for _ in $(seq 400); do
        [ -s example/records.jsonl ] && break
        sleep 0.1
    done
    kill -INT "$pid" 2>/dev/null || true
    local status=0
    wait "$pid" || status=$?
    kill "$SERVER" 2>/dev/null || true
    if [ -s example/records.jsonl ] && [ "$status" -eq 0 ]; then
        echo "ok:   [example] conf/examples/hls-live.ini wrote records and exited 0"
    else
        echo "FAIL: [example] conf/examples/hls-live.ini: status $status, $(wc -l <example/records.jsonl 2>/dev/null) records"
        failures=$((failures + 1))
    fi
    local clips=0
    for clip in example/out/examples/hls-live/*.ts; do
        [ -f "$clip" ] || continue
        clips=$((clips + 1))
        if [ -n "$(ffprobe -v error "$clip" 2>&1)" ]; then
            echo "FAIL: [example] $clip does not validate"
            failures=$((failures + 1))
        fi
    done
    if [ "$clips" -ge 1 ]; then echo "ok:   [example] $clips valid clips"; else echo "FAIL: [example] no clip"; failures=$((failures + 1)); fi
}
example_scenario
# Headers that would forge or break a request are refused when the
# pipeline starts, with a message naming the option to use instead.
refused_headers_check() {
    local header=$1 said=$2 status=0
    mkdir -p refused
    write_ini refused "http://127.0.0.1:9/live/index.m3u8" "headers = X-Fine: 1 | $header"
    timeout 10 "$streamcut" run refused.ini >refused/stdout 2>refused/stderr || status=$?
    if [ "$status" -ne 0 ] && grep -q "headers: $said" refused/stderr; then
        echo "ok:   [headers] '$header' refused: $said"
    else
        echo "FAIL: [headers] '$header': status $status, $(grep -m1 headers refused/stderr || echo 'no message')"
        failures=$((failures + 1))
    fi
}
refused_headers_check "Host: evil.example" "Host is set by the hls source itself"
refused_headers_check "Cookie: a=1" "give Cookie with the cookies option"
refused_headers_check "Transfer-Encoding: chunked" "Transfer-Encoding is set by the hls source itself"
echo "scenarios done after $((SECONDS - started)) s; checking..."

python3 check.py . || failures=$((failures + 1))
echo "checks done after $((SECONDS - started)) s"

if [ "$failures" -ne 0 ]; then
    echo "test_hls_live: FAILED"
    for log in */stderr; do
        echo "---- $log (last 30 lines)"
        tail -n 30 "$log"
    done
    exit 1
fi
echo "test_hls_live: all checks passed"
exit 0
