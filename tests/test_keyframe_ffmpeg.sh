#!/bin/bash
# End-to-end: the keyframe strategy cuts where FFmpeg's segment muxer cuts.
#
# Inputs made with the ffmpeg CLI, keyframes deliberately off the segment
# boundaries: a regular 47-frame GOP (video only, and with AAC audio), and
# keyframes forced at irregular times with a 7 s gap that jumps over several
# 2 s boundaries and one keyframe exactly on a boundary (4 s). Each is cut by
#   ffmpeg -f segment -segment_time D   (segment list in CSV)
# and by streamcut (avformat -> keyframe duration D -> .ts clips + jsonl);
# every segment start must agree within 1 ms, and every streamcut clip must
# start with a keyframe and read and decode without a word from ffprobe or
# ffmpeg at -v error.
#
# Time origin: streamcut's timeline starts at the first video frame's pts;
# the ffmpeg CLI subtracts the input's start_time (the minimum over all its
# streams, mapped or not) from every timestamp before the segment muxer
# compares them with multiples of D. The inputs are built so that both
# origins are 0, and the script checks it with ffprobe: video starts at pts
# 0 (the mp4 edit list hides the B-frame delay) and the AAC stream's
# start_time is 0 too (its priming packet is marked discard). On top of
# that, `-avoid_negative_ts disabled` stops the muxer from shifting every
# timestamp by the B-frame delay (the negative first dts), which would move
# its boundaries against the input's. The muxer's list times come from
# Matroska's 1 ms time base, hence the 1 ms tolerance.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-keyframe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

echo "streamcut: $streamcut"
echo "generating the inputs with ffmpeg..."
video="-f lavfi -i testsrc2=size=320x240:rate=30"
x264="-c:v libx264 -preset veryfast -x264-params scenecut=0"
# shellcheck disable=SC2086
if ! ffmpeg -nostdin -v error $video -t 40 $x264 -g 47 gop47.mp4 ||
   ! ffmpeg -nostdin -v error $video -f lavfi -i sine=frequency=440:sample_rate=48000 -t 40 \
        $x264 -g 47 -c:a aac gop47_audio.mp4 ||
   ! ffmpeg -nostdin -v error $video -t 40 $x264 -g 1000 \
        -force_key_frames 1.3,2.9,4,7.7,8.1,15.2,15.5,16.9,17.3,21,26.4,27.1,33.3,35.9 irregular.mp4; then
    echo "FAIL: ffmpeg could not generate the inputs (libx264/aac encoders needed)"
    exit 1
fi

cat >compare.py <<'EOF'
import csv, json, os, subprocess, sys

input_path, duration, records_path, list_path = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
tag = "%s D=%g" % (input_path, duration)
failed = 0

def ok(msg):
    print("ok:   [%s] %s" % (tag, msg))

def bad(msg):
    global failed
    failed += 1
    print("FAIL: [%s] %s" % (tag, msg))

def probe(path, *args):
    run = subprocess.run(["ffprobe", "-v", "error", *args, "-of", "json", path], capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError("ffprobe %s failed: %s" % (path, run.stderr.strip()))
    return json.loads(run.stdout)

# The two time origins must coincide (see the comment at the top).
info = probe(input_path, "-show_entries", "format=start_time:stream=index,codec_type,start_time")
first_video = probe(input_path, "-select_streams", "v", "-read_intervals", "%+#1",
                    "-show_entries", "packet=pts_time")["packets"][0]
origins = [float(info["format"]["start_time"]), float(first_video["pts_time"])]
origins += [float(s["start_time"]) for s in info["streams"]]
if any(abs(t) > 1e-9 for t in origins):
    bad("time origins differ from 0: format/first video pts/streams %r" % origins)
else:
    ok("format start_time, first video pts and every stream's start_time are 0")

keyframes = [float(f["pts_time"]) for f in probe(input_path, "-select_streams", "v", "-skip_frame", "nokey",
                                                   "-show_entries", "frame=pts_time")["frames"]]
on_boundary = [t for t in keyframes if t > 0 and abs(t / duration - round(t / duration)) < 1e-6]
print("info: [%s] keyframes at %s; on a boundary: %s" % (tag, " ".join("%.3f" % t for t in keyframes), on_boundary))

with open(list_path) as f:
    ffmpeg_starts = [float(row[1]) for row in csv.reader(f) if row]
with open(records_path) as f:
    records = [json.loads(line) for line in f if line.strip()]
streamcut_starts = [r["start"] for r in records]
print("info: [%s] ffmpeg    %s" % (tag, " ".join("%.3f" % t for t in ffmpeg_starts)))
print("info: [%s] streamcut %s" % (tag, " ".join("%.3f" % t for t in streamcut_starts)))
if len(ffmpeg_starts) < 5:
    bad("ffmpeg made only %d segments" % len(ffmpeg_starts))
if len(streamcut_starts) != len(ffmpeg_starts):
    bad("%d streamcut segments, %d ffmpeg segments" % (len(streamcut_starts), len(ffmpeg_starts)))
mismatches = [(i, a, b) for i, (a, b) in enumerate(zip(streamcut_starts, ffmpeg_starts)) if abs(a - b) > 0.001]
if mismatches:
    bad("segment starts differ (index, streamcut, ffmpeg): %r" % mismatches)
elif len(streamcut_starts) == len(ffmpeg_starts):
    ok("all %d segment starts equal ffmpeg's within 1 ms" % len(ffmpeg_starts))
if not all(any(abs(s - k) < 1e-6 for k in keyframes) for s in streamcut_starts):
    bad("a segment start is not a keyframe time")

for k, r in enumerate(records):
    problems = []
    if r["index"] != k:
        problems.append("index %r" % r["index"])
    if k + 1 < len(records) and abs(r["end"] - records[k + 1]["start"]) > 1e-9:
        problems.append("end %r is not the next start %r" % (r["end"], records[k + 1]["start"]))
    if abs(r["keyframe_start"] - r["start"]) > 1e-6 or r["flags"]:
        problems.append("keyframe_start %r, flags %r" % (r["keyframe_start"], r["flags"]))
    if abs(r.get("cut_pts", -1) - r["start"]) > 1e-6:
        problems.append("cut_pts %r" % r.get("cut_pts"))
    path = r.get("file")
    if not path or not os.path.isfile(path):
        problems.append("clip %r missing" % path)
    else:
        for command in (["ffprobe", "-v", "error", path],
                        ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"]):
            run = subprocess.run(command, capture_output=True, text=True)
            if run.returncode != 0 or run.stdout.strip() or run.stderr.strip():
                problems.append("%s says %r" % (command[0], run.stderr.strip()[:300] or run.returncode))
        packets = probe(path, "-select_streams", "v", "-show_entries", "packet=flags")["packets"]
        if not packets or "K" not in packets[0]["flags"]:
            problems.append("first video packet is not a keyframe")
    if problems:
        bad("segment %d [%.3f, %.3f): %s" % (k, r["start"], r["end"], "; ".join(problems)))
if len(records) > 0:
    ok("%d .ts clips start with a keyframe and pass ffprobe/ffmpeg -v error; records contiguous, "
       "keyframe_start = start = cut_pts, no flags" % len(records))
sys.exit(1 if failed else 0)
EOF

# run INPUT D MAP: ffmpeg's segment muxer and streamcut on the same input.
run() {
    local input=$1 duration=$2 map=$3 name
    name=${input%.mp4}_$duration
    echo "--- $input, segment_time $duration, ffmpeg -map $map"
    mkdir -p "ffmpeg_$name"
    if ! ffmpeg -nostdin -v error -i "$input" -map "$map" -c copy -avoid_negative_ts disabled \
            -f segment -segment_time "$duration" -segment_list "ffmpeg_$name/list.csv" -segment_list_type csv \
            "ffmpeg_$name/out%03d.mkv"; then
        fail "[$name] ffmpeg -f segment failed"
        return
    fi
    # max_duration far away: the comparison is about the segment muxer's rule alone.
    cat >"$name.ini" <<EOF
[source in]
module = avformat
url = $input

[strategy cut]
module = keyframe
source = in
duration = ${duration}s
max_duration = 1h

[sink clips]
module = clip
from = cut
path = out_$name/{index:03}.ts

[sink records]
module = jsonl
from = cut
path = $name.jsonl
EOF
    local rc=0
    "$streamcut" run "$name.ini" >"$name.out" 2>"$name.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "[$name] streamcut exits $rc"
        cat "$name.err"
        return
    fi
    python3 compare.py "$input" "$duration" "$name.jsonl" "ffmpeg_$name/list.csv" || failures=$((failures + 1))
}

run gop47.mp4 2 0:v
run gop47.mp4 3.5 0:v
run gop47_audio.mp4 2 0:v
run gop47_audio.mp4 5 0
run irregular.mp4 2 0:v
run irregular.mp4 3 0:v

# The 7.1 s gap after 8.1 s jumps over the 10, 12 and 14 s boundaries: the
# muxer cuts once at 15.2 and then catches up with the grid one boundary
# per keyframe (15.5 >= 12, 16.9 >= 14, ...) instead of skipping them.
if python3 - irregular_2.jsonl <<'EOF'
import json, sys
starts = [round(json.loads(l)["start"], 3) for l in open(sys.argv[1]) if l.strip()]
want = [0, 2.9, 4, 7.7, 8.1, 15.2, 15.5, 16.9, 17.3, 21, 26.4, 27.1, 33.3, 35.9]
print("info: irregular.mp4 D=2 starts %s" % starts)
sys.exit(0 if starts == want else 1)
EOF
then
    pass "irregular.mp4 D=2: the long GOP makes one cut, then catches up (starts as worked out by hand)"
else
    fail "irregular.mp4 D=2: starts differ from the hand-computed list"
fi

echo
if [ "$failures" -ne 0 ]; then
    echo "test_keyframe_ffmpeg: $failures check(s) FAILED"
    exit 1
fi
echo "test_keyframe_ffmpeg: all checks passed"
exit 0
