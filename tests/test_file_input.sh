#!/bin/bash
# End-to-end: a 30 s H.264/AAC file (MP4 and MPEG-TS) read by the avformat
# source, cut into 5 s windows by fixed, remuxed into .mp4/.mkv/.ts clips and
# recorded as JSON lines. Every clip must be valid, start on a keyframe, have
# strictly increasing video DTS, and the windows must together hold every
# video frame of the input exactly once. A missing input is a runtime failure.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-file.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"


echo "streamcut: $streamcut"
echo "generating the 30 s inputs with ffmpeg..."
if ! ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=640x360:rate=30 \
        -f lavfi -i sine=frequency=440:sample_rate=48000 -t 30 \
        -c:v libx264 -preset veryfast -g 48 -bf 2 -c:a aac in.mp4; then
    echo "FAIL: ffmpeg could not generate in.mp4 (libx264/aac encoders needed)"
    exit 1
fi
ffmpeg -nostdin -v error -i in.mp4 -c copy -f mpegts in.ts || { echo "FAIL: ffmpeg could not write in.ts"; exit 1; }

# The checks on one run, in Python (stdlib only) around ffprobe/ffmpeg.
cat >analyze.py <<'EOF'
import glob, json, math, os, subprocess, sys

input_path, source, records_path = sys.argv[1:4]
WINDOW = 5.0
FPS = 30
SINKS = {"mp4": "mp4", "mkv": "mkv", "ts": "ts"}   # sink name -> extension
failed = 0

def ok(msg):
    print("ok:   [%s] %s" % (source, msg))

def bad(msg):
    global failed
    failed += 1
    print("FAIL: [%s] %s" % (source, msg))

def probe(path, *args):
    run = subprocess.run(["ffprobe", "-v", "error", *args, "-of", "json", path],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError("ffprobe %s failed: %s" % (path, run.stderr.strip()))
    return json.loads(run.stdout)

def seconds(value):
    return None if value in (None, "N/A") else float(value)

# -- the input: its timeline starts at the presentation time of the first
# video packet (as read by libavformat, the same order the avformat source
# reads it); a window k [5k, 5k+5) is expected for every window that holds
# a video frame.
packets = probe(input_path, "-show_entries", "packet=stream_index,pts_time,dts_time")["packets"]
streams = probe(input_path, "-show_entries", "stream=index,codec_type,duration")["streams"]
video_index = [s["index"] for s in streams if s["codec_type"] == "video"][0]
video_duration = float([s for s in streams if s["index"] == video_index][0]["duration"])
first = [p for p in packets if p["stream_index"] == video_index][0]
origin = seconds(first.get("pts_time")) if seconds(first.get("pts_time")) is not None else seconds(first["dts_time"])
video_times = sorted(seconds(p["pts_time"]) - origin for p in packets if p["stream_index"] == video_index)
input_frames = len(video_times)
windows_with_video = sorted({int(math.floor(t / WINDOW + 1e-6)) for t in video_times})
expected = windows_with_video[-1] + 1
print("info: [%s] video duration %.3f s (ceil/5 = %d), %d frames, timeline origin %.6f s, "
      "last frame at %.6f s on the timeline -> %d windows expected"
      % (source, video_duration, math.ceil(video_duration / WINDOW - 1e-6), input_frames, origin,
         video_times[-1], expected))
if windows_with_video != list(range(expected)):
    bad("input has windows without video: %r" % windows_with_video)
if not (math.ceil(video_duration / WINDOW - 1e-6) <= expected <= math.ceil(video_duration / WINDOW - 1e-6) + 1):
    bad("expected window count %d is not 6 or 7 for a %.3f s input" % (expected, video_duration))
if expected != math.ceil(video_duration / WINDOW - 1e-6):
    bad("a timeline starting at the first picture gives %d windows for a %.3f s input, not %d"
        % (math.ceil(video_duration / WINDOW - 1e-6), video_duration, expected))

# -- the records
with open(records_path) as f:
    lines = f.read().splitlines()
records = []
for n, line in enumerate(lines, 1):
    try:
        records.append(json.loads(line))
    except ValueError as e:
        bad("record line %d is not JSON: %s" % (n, e))
if len(records) == expected:
    ok("%d records, as expected" % len(records))
else:
    bad("%d records, expected %d" % (len(records), expected))
for k, r in enumerate(records):
    where = "record %d" % k
    if r.get("index") != k:
        bad("%s: index %r" % (where, r.get("index")))
    if r.get("source") != source or r.get("strategy") != "five":
        bad("%s: source/strategy %r/%r" % (where, r.get("source"), r.get("strategy")))
    if r.get("start") != WINDOW * k or r.get("end") != WINDOW * (k + 1):
        bad("%s: window [%r, %r), expected [%g, %g)" % (where, r.get("start"), r.get("end"), WINDOW * k, WINDOW * (k + 1)))
    files = r.get("files")
    if not isinstance(files, dict) or sorted(files) != sorted(SINKS):
        bad("%s: files %r, expected the keys %s" % (where, files, sorted(SINKS)))
        continue
    for sink, ext in SINKS.items():
        want = "out/%s/%s/%03d.%s" % (source, sink, k, ext)
        if files[sink] != want:
            bad("%s: files.%s = %r, expected %r" % (where, sink, files[sink], want))
    if r.get("file") not in files.values():
        bad("%s: file %r is not one of files %r" % (where, r.get("file"), files))
    if not isinstance(r.get("keyframe_start"), (int, float)) or not isinstance(r.get("packets"), int) or r["packets"] <= 0:
        bad("%s: keyframe_start/packets %r/%r" % (where, r.get("keyframe_start"), r.get("packets")))
ok("records: index 0..%d, windows [5k, 5k+5), files has mp4/mkv/ts with the templated paths" % (len(records) - 1))

# -- the clips on disk: exactly the expected names, nothing else
for sink, ext in SINKS.items():
    present = sorted(os.listdir("out/%s/%s" % (source, sink))) if os.path.isdir("out/%s/%s" % (source, sink)) else []
    wanted = ["%03d.%s" % (k, ext) for k in range(expected)]
    if present == wanted:
        ok("out/%s/%s holds exactly %d .%s clips" % (source, sink, expected, ext))
    else:
        bad("out/%s/%s holds %r, expected %r" % (source, sink, present, wanted))
leftovers = glob.glob("out/**/.*.tmp*", recursive=True)
if leftovers:
    bad("temporary files left: %r" % leftovers)

# -- every clip
own_total = {sink: 0 for sink in SINKS}
for k, r in enumerate(records):
    last = k == len(records) - 1
    for sink in SINKS:
        path = (r.get("files") or {}).get(sink)
        if not path or not os.path.isfile(path):
            bad("clip %r of record %d is missing" % (path, k))
            continue
        tag = "%s" % path
        problems = []
        out = subprocess.run(["ffprobe", "-v", "error", path], capture_output=True, text=True)
        if out.returncode != 0 or out.stdout.strip() or out.stderr.strip():
            problems.append("ffprobe -v error says: %r" % (out.stderr.strip()[:300] or out.returncode))
        out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"],
                             capture_output=True, text=True)
        if out.returncode != 0 or out.stdout.strip() or out.stderr.strip():
            problems.append("ffmpeg -v error decode says: %r" % (out.stderr.strip()[:300] or out.returncode))
        kinds = sorted("%s:%s" % (s["codec_type"], s.get("codec_name"))
                       for s in probe(path, "-show_entries", "stream=codec_type,codec_name")["streams"])
        if kinds != ["audio:aac", "video:h264"]:
            problems.append("streams %r, expected one h264 video and one aac audio" % kinds)
        vpk = probe(path, "-select_streams", "v", "-show_entries", "packet=pts,dts,pts_time,flags")["packets"]
        if not vpk:
            problems.append("no video packets")
        else:
            if "K" not in vpk[0].get("flags", ""):
                problems.append("first video packet is not a keyframe (flags %r)" % vpk[0].get("flags"))
            dts = [p["dts"] for p in vpk if p.get("dts") not in (None, "N/A")]
            if any(b <= a for a, b in zip(dts, dts[1:])):
                problems.append("video DTS not strictly increasing")
            if len(dts) < len(vpk) - 2:
                problems.append("%d of %d video packets have no DTS" % (len(vpk) - len(dts), len(vpk)))
            if not last and len(vpk) < WINDOW * FPS - 1:
                problems.append("%d video frames, expected at least %d" % (len(vpk), WINDOW * FPS - 1))
            # The clip's own part: frames whose timeline pts is in [start, end)
            # (the lead-in from keyframe_start overlaps the previous window).
            first_pts = seconds(vpk[0]["pts_time"])
            times = [seconds(p["pts_time"]) - first_pts + r["keyframe_start"] for p in vpk]
            if abs(min(times) - r["keyframe_start"]) > 0.002:
                problems.append("first picture at %.3f, keyframe_start %.3f" % (min(times), r["keyframe_start"]))
            own = sum(1 for t in times if r["start"] - 0.005 <= t < r["end"] - 0.005)
            own_total[sink] += own
            if not last and own < WINDOW * FPS - 5:
                problems.append("only %d frames inside [%g, %g)" % (own, r["start"], r["end"]))
        if problems:
            for p in problems:
                bad("%s: %s" % (tag, p))
        else:
            ok("%s: valid (ffprobe/ffmpeg silent), h264+aac, starts on a keyframe, DTS increasing, %d frames, %d in its window"
               % (tag, len(vpk), own))
for sink in SINKS:
    if own_total[sink] == input_frames:
        ok("%s clips: the windows hold all %d input video frames exactly once" % (sink, input_frames))
    else:
        bad("%s clips: the windows hold %d video frames, the input has %d" % (sink, own_total[sink], input_frames))
sys.exit(1 if failed else 0)
EOF

for input in in.mp4 in.ts; do
    source=in_${input#in.}
    cat >"$source.ini" <<EOF
[source $source]
module = avformat
url = $input

[strategy five]
module = fixed
source = $source
duration = 5s

[sink mp4]
module = clip
from = five
path = out/{source}/mp4/{index:03}.mp4

[sink mkv]
module = clip
from = five
path = out/{source}/mkv/{index:03}.mkv

[sink ts]
module = clip
from = five
path = out/{source}/ts/{index:03}.ts

[sink records]
module = jsonl
from = five
path = $source.jsonl
EOF
    echo "--- $input"
    rc=0
    "$streamcut" run "$source.ini" >"$source.out" 2>"$source.err" || rc=$?
    if [ "$rc" -eq 0 ]; then pass "[$source] run exits 0"; else fail "[$source] run exits $rc"; cat "$source.err"; fi
    [ -s "$source.out" ] && { fail "[$source] run printed on stdout"; head "$source.out"; }
    if [ -f "$source.jsonl" ]; then
        python3 analyze.py "$input" "$source" "$source.jsonl" || failures=$((failures + 1))
    else
        fail "[$source] no $source.jsonl written"
    fi
done

# ---- a missing input is a runtime failure naming it ----------------------------
echo "--- missing input"
sed -e 's/^url = .*/url = no-such-input.mp4/' -e 's/in_mp4/missing/g' in_mp4.ini >missing.ini
rm -rf out
rc=0
"$streamcut" run missing.ini >missing.out 2>missing.err || rc=$?
if [ "$rc" -eq 1 ]; then pass "missing input: run exits 1"; else fail "missing input: run exits $rc (expected 1)"; fi
if grep -q "no-such-input\.mp4" missing.err; then
    pass "missing input: stderr names no-such-input.mp4"
else
    fail "missing input: stderr does not name the input:"; cat missing.err
fi
written=$(find out -type f 2>/dev/null | head -n5)
[ -z "$written" ] && pass "missing input: no clip written" || { fail "missing input: files written:"; echo "$written"; }
[ ! -s missing.jsonl ] && pass "missing input: no record written" || { fail "missing input: records written:"; cat missing.jsonl; }

echo
if [ "$failures" -ne 0 ]; then
    echo "test_file_input: $failures check(s) FAILED"
    exit 1
fi
echo "test_file_input: all checks passed"
exit 0
