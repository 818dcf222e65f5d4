#!/bin/bash
# Scene detection speed: streamcut's scene strategy against FFmpeg's scdet
# filter, on the accuracy clip of tests/test_scene_accuracy.sh made longer.
#
#   bench/scene_bench.sh            (from the top of the build tree)
#
# Environment:
#   SCENE_BENCH_SIZE     picture size of the clip (default 1280x720)
#   SCENE_BENCH_REPEAT   times the 86 s clip is looped (default 2: 172 s)
#   SCENE_BENCH_RUNS     runs of each, the best one counts (default 3)
#   SCENE_BENCH_OPTIONS  extra scene strategy lines, e.g. "threads = 1"
#
# Timed, each the best wall time of the runs (CPU time user+sys alongside):
#   streamcut   avformat source -> scene strategy (default options) -> jsonl
#   scdet       ffmpeg -an -i CLIP -vf scdet=threshold=10 -f null -
#   scdet fast  the same with streamcut's shortcuts: no loop filter, fast
#               decoding, frames reduced to 64 pixels wide before scdet
# and both detectors' precision/recall/F1 on the hard cuts (+/-2 frames).
# Prints figures only; asserts nothing.
set -euo pipefail

top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${abs_top_builddir:-$PWD}
streamcut=$builddir/host/streamcut
[ -x "$streamcut" ] || { echo "scene_bench: $streamcut is not built (run from the build tree)"; exit 1; }
for tool in ffmpeg ffprobe python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "scene_bench: $tool not found"; exit 1; }
done

size=${SCENE_BENCH_SIZE:-1280x720}
repeat=${SCENE_BENCH_REPEAT:-2}
runs=${SCENE_BENCH_RUNS:-3}
options=${SCENE_BENCH_OPTIONS:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-scene-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

echo "generating the ${size} clip, looped ${repeat} times..."
"$top_srcdir/scripts/scene-testclip" --size "$size" one.mp4 >/dev/null
ffmpeg -nostdin -v error -stream_loop $((repeat - 1)) -i one.mp4 -c copy long.mp4

{
    # A scene is requested when its end is seen; a file read faster than
    # real time fills the buffer ahead of the strategy and then evicts
    # what it has read, so the buffer must hold the whole clip here.
    printf '[source clip]\nmodule = avformat\nurl = long.mp4\nbuffer.retention_seconds = 3600\n'
    printf 'buffer.max_items = 10000000\nbuffer.max_memory_mb = 16000\n\n'
    printf '[strategy scenes]\nmodule = scene\nsource = clip\n%s\n\n' "$options"
    printf '[sink records]\nmodule = jsonl\nfrom = scenes\npath = scenes.jsonl\n'
} >bench.ini

cat >bench.py <<'EOF'
import json, os, re, resource, subprocess, sys, time

streamcut, repeat, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
FRAME = 1 / 30
TOLERANCE = 2 * FRAME + 1e-6

# Ground truth of the looped clip: the clip's cuts in every loop, plus a
# hard cut where each loop starts again (its last scene differs from its
# first); the gradual transitions count neither way.
length = float(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                               "stream=duration", "-of", "csv=p=0", "one.mp4"],
                              capture_output=True, text=True, check=True).stdout.split()[0])
one_cuts = [float(l) for l in open("one.mp4.cuts") if l.strip()]
one_gradual = [tuple(map(float, l.split())) for l in open("one.mp4.gradual") if l.strip()]
cuts = [c + k * length for k in range(repeat) for c in one_cuts] + [k * length for k in range(1, repeat)]
gradual = [(a + k * length, b + k * length) for k in range(repeat) for a, b in one_gradual]
frames = int(round(length * repeat / FRAME))

def score(found):
    matched, right, false = set(), 0, 0
    for t in sorted(found):
        near = [i for i, c in enumerate(cuts) if abs(t - c) <= TOLERANCE and i not in matched]
        if near:
            matched.add(near[0])
            right += 1
        elif not any(a - TOLERANCE <= t <= b + TOLERANCE for a, b in gradual):
            false += 1
    precision = right / (right + false) if right + false else 0.0
    recall = right / len(cuts)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1

def timed(command):
    if os.path.exists("scenes.jsonl"):
        os.remove("scenes.jsonl")  # the jsonl sink appends
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit("%s failed: %s" % (command[0], result.stderr[-2000:]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stderr

def best_of(command):
    best = None
    for _ in range(runs):
        wall, cpu, log = timed(command)
        if best is None or wall < best[0]:
            best = (wall, cpu, log)
    return best

def streamcut_cuts(log):
    records = [json.loads(l) for l in open("scenes.jsonl") if l.strip()]
    return [r["cut_time"] for r in records if r.get("cause") == "scene"]

def scdet_cuts(log):
    return [float(t) for t in re.findall(r"lavfi\.scd\.time: ([0-9.]+)", log)]

contenders = [
    ("streamcut scene", [streamcut, "-q", "run", "bench.ini"], streamcut_cuts),
    ("ffmpeg scdet", ["ffmpeg", "-nostdin", "-v", "info", "-an", "-i", "long.mp4", "-vf",
                      "scdet=threshold=10", "-f", "null", "-"], scdet_cuts),
    ("ffmpeg scdet, fast decode+64px", ["ffmpeg", "-nostdin", "-v", "info", "-an", "-skip_loop_filter", "all",
                                        "-flags2", "fast", "-i", "long.mp4", "-vf",
                                        "scale=64:-2:flags=area,scdet=threshold=10", "-f", "null", "-"],
     scdet_cuts),
]
results = []
print("clip: %.0f s, %d frames, %d hard cuts; best of %d runs" % (length * repeat, frames, len(cuts), runs))
for name, command, parse in contenders:
    wall, cpu, log = best_of(command)
    precision, recall, f1 = score(parse(log))
    results.append((name, wall, cpu, f1))
    print("%-32s %7.2f s wall  %7.2f s CPU  %6.0f frames/s   P %.3f R %.3f F1 %.3f"
          % (name, wall, cpu, frames / wall, precision, recall, f1))
ours = results[0]
for name, wall, cpu, f1 in results[1:]:
    print("speed streamcut / %-28s %.2fx wall, %.2fx CPU" % (name + ":", wall / ours[1], cpu / ours[2]))
EOF
python3 bench.py "$streamcut" "$repeat" "$runs"
