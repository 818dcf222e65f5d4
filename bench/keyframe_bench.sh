#!/bin/bash
# Keyframe segmentation against FFmpeg's segment muxer, same work:
#
#   (a) ffmpeg -v error -i IN -c copy -f segment -segment_time 10 OUT%05d.ts
#   (b) streamcut: avformat source -> keyframe strategy (duration 10 s)
#       -> clip sink writing .ts
#
# on a generated 1280x720 30 fps H.264 file (libx264 ultrafast, a keyframe
# every 60 frames, about 3 Mbit/s, no audio). Generating it is not timed.
# Each side runs three times; the best wall time counts. Prints both times
# and the ratio streamcut / ffmpeg (target <= 1.0). Asserts nothing about
# the times; it fails only when a run fails or the two disagree on the
# number of segments.
#
# Environment:
#   KEYFRAME_BENCH_SECONDS  input length in seconds (default 1200, 20 min);
#                           e.g. 60 for a quick run
#   KEYFRAME_BENCH_DIR      work folder, kept between runs so the input is
#                           generated once (default: a temporary folder,
#                           removed at the end)
#   KEYFRAME_BENCH_OUT      where both write their segments (default: the
#                           work folder); a tmpfs such as /dev/shm takes the
#                           disk's write-back out of the figures
#   KEYFRAME_BENCH_RUNS     runs per side (default 3)
#   STREAMCUT               the streamcut binary (default: ../host/streamcut
#                           next to this script)
set -euo pipefail

script_dir=$(cd "$(dirname "$0")" && pwd)
streamcut=${STREAMCUT:-$script_dir/../host/streamcut}
seconds=${KEYFRAME_BENCH_SECONDS:-1200}
runs=${KEYFRAME_BENCH_RUNS:-3}

for tool in ffmpeg ffprobe; do
    command -v "$tool" >/dev/null 2>&1 || { echo "keyframe_bench: $tool not found" >&2; exit 1; }
done
[ -x "$streamcut" ] || { echo "keyframe_bench: $streamcut is not built" >&2; exit 1; }

if [ -n "${KEYFRAME_BENCH_DIR:-}" ]; then
    work=$KEYFRAME_BENCH_DIR
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/keyframe-bench.XXXXXX")
fi
work=$(cd "$work" && pwd)
input=$work/input_${seconds}s.mp4
out=${KEYFRAME_BENCH_OUT:-$work}
mkdir -p "$out"
out=$(cd "$out" && pwd)/keyframe-bench-$$
trap 'rm -rf "$out"; [ -n "${KEYFRAME_BENCH_DIR:-}" ] || rm -rf "$work"' EXIT

if [ ! -s "$input" ]; then
    echo "generating a ${seconds} s 1280x720 30 fps H.264 input (not timed)..."
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=30" -t "$seconds" \
        -c:v libx264 -preset ultrafast -g 60 -b:v 3M -maxrate 3M -bufsize 6M -pix_fmt yuv420p \
        "$input.tmp.mp4"
    mv "$input.tmp.mp4" "$input"
fi
size=$(stat -c %s "$input")
# calc EXPRESSION: floating-point arithmetic without bc.
calc() { awk "BEGIN { print $1 }"; }
printf 'input: %s, %.1f MB, %s s, %.2f Mbit/s\n' "$input" "$(calc "$size / 1000000")" "$seconds" \
    "$(calc "$size * 8 / $seconds / 1000000")"

# The strategy looks back at most max_duration (3 x 10 s) behind the newest
# packet, so a 60 s buffer is plenty; the default 300 s would only hold
# 110 MB more of this input for nothing.
cat >"$work/pipeline.ini" <<EOF
[source in]
module = avformat
url = $input
buffer.retention_seconds = 60

[strategy cut]
module = keyframe
source = in
duration = 10s

[sink clips]
module = clip
from = cut
path = $out/streamcut/{index:05}.ts
EOF

now() { date +%s.%N; }

# best_of LABEL OUTDIR COMMAND...: runs COMMAND $runs times into a fresh
# OUTDIR, prints each wall time, leaves the best in $best and the number of
# files written in $files.
best_of() {
    local label=$1 outdir=$2
    shift 2
    best=
    for run in $(seq 1 "$runs"); do
        rm -rf "$outdir"
        mkdir -p "$outdir"
        local start end elapsed
        start=$(now)
        if ! "$@" >"$work/$label.out" 2>"$work/$label.err"; then
            echo "keyframe_bench: $label failed:" >&2
            cat "$work/$label.err" >&2
            exit 1
        fi
        end=$(now)
        elapsed=$(calc "$end - $start")
        printf '  %-9s run %d: %.3f s\n' "$label" "$run" "$elapsed"
        if [ -z "$best" ] || [ "$(calc "($elapsed < $best) ? 1 : 0")" -eq 1 ]; then best=$elapsed; fi
    done
    files=$(find "$outdir" -name '*.ts' | wc -l)
}

echo "timing, best of $runs:"
best_of ffmpeg "$out/ffmpeg" \
    ffmpeg -nostdin -v error -i "$input" -c copy -f segment -segment_time 10 "$out/ffmpeg/%05d.ts"
ffmpeg_best=$best ffmpeg_files=$files
best_of streamcut "$out/streamcut" "$streamcut" -q run "$work/pipeline.ini"
streamcut_best=$best streamcut_files=$files

echo
printf 'ffmpeg -f segment:          %8.3f s  (%d segments)\n' "$ffmpeg_best" "$ffmpeg_files"
printf 'streamcut keyframe -> clip: %8.3f s  (%d segments)\n' "$streamcut_best" "$streamcut_files"
printf 'ratio streamcut / ffmpeg:   %8.3f    (target <= 1.0)\n' "$(calc "$streamcut_best / $ffmpeg_best")"
if [ "$ffmpeg_files" -ne "$streamcut_files" ]; then
    echo "keyframe_bench: ffmpeg wrote $ffmpeg_files segments, streamcut $streamcut_files" >&2
    exit 1
fi
