#!/bin/bash
# Accuracy of the scene strategy on a clip with known cuts.
#
# scripts/scene-testclip makes an 86 s H.264/AAC clip from lavfi sources:
# 15 hard cuts, a fade through black and a dissolve, and a 12 s scene that
# is still, then pans slowly. Keyframes are not at the cuts (x264 scenecut
# off, a keyframe every 60 frames) and there are B-frames. The clip is read
# as MP4 (length-prefixed H.264, avcC extradata) and as MPEG-TS (Annex B)
# by the avformat source and cut by the scene strategy; the records must:
#   - find the hard cuts: precision, recall and F1 at +/-2 frames, F1 >= 0.95
#     (a cut reported inside a gradual transition counts neither way);
#   - report no cut inside the still/slow scene;
#   - tile the clip: scene k ends where scene k+1 starts, cut_time = start,
#     the first starts at 0, the last ends at the clip's end.
# A stream that changes resolution mid-way (MPEG-TS files appended) must
# give the cuts on both sides of the change, and no other.
# FFmpeg's scdet filter runs on the same clip at its default threshold and
# its figures are printed for comparison (not asserted), as are those of the
# strategy's adaptive mode.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-scene.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

echo "generating the accuracy clip..."
if ! "$top_srcdir/scripts/scene-testclip" clip.mp4; then
    echo "FAIL: scripts/scene-testclip could not make the clip (libx264 and lavfi needed)"
    exit 1
fi
ffmpeg -nostdin -v error -i clip.mp4 -c copy -f mpegts clip.ts || { echo "FAIL: could not remux to clip.ts"; exit 1; }
for suffix in cuts gradual static; do cp "clip.mp4.$suffix" "clip.ts.$suffix"; done

# Scores the cut times in one file (seconds on the clip's timeline, one a
# line) against the ground truth; prints P/R/F1; exit status 1 when F1 or
# the still scene fail, if asked to assert.
cat >score.py <<'EOF'
import sys

truth_base, found_path, name, must_pass = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "assert"
FRAME = 1 / 30
TOLERANCE = 2 * FRAME + 1e-6

cuts = [float(line) for line in open(truth_base + ".cuts") if line.strip()]
gradual = [tuple(map(float, line.split())) for line in open(truth_base + ".gradual") if line.strip()]
still = tuple(map(float, open(truth_base + ".static").read().split()))
found = sorted(float(line) for line in open(found_path) if line.strip())

matched = set()
true_positives = 0
in_gradual, false = [], []
for t in found:
    near = [i for i, c in enumerate(cuts) if abs(t - c) <= TOLERANCE and i not in matched]
    if near:
        matched.add(min(near, key=lambda i: abs(t - cuts[i])))
        true_positives += 1
    elif any(start - TOLERANCE <= t <= end + TOLERANCE for start, end in gradual):
        in_gradual.append(t)
    else:
        false.append(t)
false_positives = len(false)
precision = true_positives / (true_positives + false_positives) if true_positives + false_positives else 0.0
recall = true_positives / len(cuts)
f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
in_still = [t for t in found if still[0] + TOLERANCE < t < still[1] - TOLERANCE]
missed = [cuts[i] for i in range(len(cuts)) if i not in matched]
print("%-34s P %.3f  R %.3f  F1 %.3f  (%d found: %d right, %d false, %d in gradual transitions; missed %s; "
      "false %s)" % (name, precision, recall, f1, len(found), true_positives, false_positives, len(in_gradual),
                     ["%.3f" % t for t in missed], ["%.3f" % t for t in false]))
if not must_pass:
    sys.exit(0)
failed = 0
if f1 >= 0.95:
    print("ok:   %s: F1 %.3f >= 0.95 on the hard cuts" % (name, f1))
else:
    print("FAIL: %s: F1 %.3f < 0.95 on the hard cuts" % (name, f1))
    failed = 1
if in_still:
    print("FAIL: %s: cuts inside the still/slow scene [%g, %g]: %s" % (name, still[0], still[1], in_still))
    failed = 1
else:
    print("ok:   %s: no cut inside the still/slow scene [%g, %g]" % (name, still[0], still[1]))
sys.exit(failed)
EOF

# Checks the records of one run and writes the detected cut times (on the
# clip's timeline) to a file.
cat >records.py <<'EOF'
import json, subprocess, sys

clip, records_path, out_path = sys.argv[1:4]
failed = 0

def bad(message):
    global failed
    failed = 1
    print("FAIL: [%s] %s" % (clip, message))

# The source's timeline starts at the first video packet's presentation
# time, which is the first picture's here (an I-frame leads), like the
# ground truth's.
duration = float(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                                 "stream=duration", "-of", "csv=p=0", clip],
                                capture_output=True, text=True, check=True).stdout.split()[0])

records = [json.loads(line) for line in open(records_path) if line.strip()]
if not records:
    bad("no records")
    sys.exit(1)
for k, r in enumerate(records):
    where = "record %d" % k
    if r.get("index") != k:
        bad("%s: index %r" % (where, r.get("index")))
    if abs(r["cut_time"] - r["start"]) > 1e-6:
        bad("%s: cut_time %r is not the start %r" % (where, r["cut_time"], r["start"]))
    if k and abs(records[k - 1]["end"] - r["start"]) > 1e-6:
        bad("%s: starts at %r, the previous scene ends at %r" % (where, r["start"], records[k - 1]["end"]))
    mid_gop = r["keyframe_start"] < r["start"] - 1e-9
    if r["keyframe_start"] > r["start"] + 1e-9 or ("mid_gop_start" in r["flags"]) != mid_gop:
        bad("%s: keyframe_start %r, start %r, flags %r" % (where, r["keyframe_start"], r["start"], r["flags"]))
    for flag in ("partial", "truncated", "thinned", "forced"):
        if flag in r["flags"]:
            bad("%s: flagged %s" % (where, flag))
    wanted_cause = "start" if k == 0 else "scene"
    wanted_end = "end" if k == len(records) - 1 else "scene"
    if r.get("cause") != wanted_cause or r.get("end_cause") != wanted_end:
        bad("%s: cause %r / end_cause %r" % (where, r.get("cause"), r.get("end_cause")))
if abs(records[0]["start"]) > 1e-6:
    bad("the first scene starts at %r, not 0" % records[0]["start"])
if abs(records[-1]["end"] - duration) > 0.002:
    bad("the last scene ends at %r, the clip at %r" % (records[-1]["end"], duration))
if not failed:
    print("ok:   [%s] %d scenes tile the clip [0, %.3f): contiguous, cut_time = start, "
          "packets from the keyframe at or before it (%d mid-GOP starts)"
          % (clip, len(records), duration, sum("mid_gop_start" in r["flags"] for r in records)))
with open(out_path, "w") as f:
    for r in records[1:]:
        f.write("%.6f\n" % r["cut_time"])
sys.exit(failed)
EOF

run_scene() { # clip name [extra strategy options...]
    local clip=$1 name=$2
    shift 2
    {
        printf '[source clip]\nmodule = avformat\nurl = %s\n\n' "$clip"
        printf '[strategy scenes]\nmodule = scene\nsource = clip\n'
        for option in "$@"; do printf '%s\n' "$option"; done
        printf '\n[sink records]\nmodule = jsonl\nfrom = scenes\npath = %s.jsonl\n' "$name"
    } >"$name.ini"
    local rc=0
    "$streamcut" run "$name.ini" >"$name.out" 2>"$name.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "[$name] streamcut exits $rc"
        cat "$name.err"
        return 1
    fi
    if grep "warning: \[scenes\]" "$name.err"; then
        fail "[$name] the scene strategy warned"
    fi
    python3 records.py "$clip" "$name.jsonl" "$name.found" || failures=$((failures + 1))
}

echo "--- streamcut scene strategy (default options)"
for clip in clip.mp4 clip.ts; do
    name=default_${clip#clip.}
    if run_scene "$clip" "$name"; then
        python3 score.py "$clip" "$name.found" "streamcut scene ($clip)" assert || failures=$((failures + 1))
    fi
done

# A resolution change mid-stream: the first 20 s of the MPEG-TS clip, then
# 12 s of the clip from 41 s (a scene, a cut at 45 s, the still scene)
# re-encoded at 1280x720, appended as MPEG-TS files concatenate. The host
# continues the timeline after the jump back in timestamps (one frame
# late, within the tolerance), so the cuts are at 5, 9, 14, 18, 20
# (cellauto to testsrc, where the size changes) and 24 s.
echo "--- resolution change mid-stream (640x360 then 1280x720)"
if ffmpeg -nostdin -v error -i clip.ts -t 20 -c copy part1.ts &&
    ffmpeg -nostdin -v error -ss 41 -i clip.mp4 -t 12 -vf scale=1280:720 -c:v libx264 -preset veryfast \
        -g 60 -bf 2 -x264-params scenecut=0 -c:a aac part2.ts; then
    cat part1.ts part2.ts >mixed.ts
    printf '%s\n' 5 9 14 18 20 24 >mixed.ts.cuts
    : >mixed.ts.gradual
    echo "24 32" >mixed.ts.static
    printf '[source clip]\nmodule = avformat\nurl = mixed.ts\n\n' >mixed.ini
    printf '[strategy scenes]\nmodule = scene\nsource = clip\n\n' >>mixed.ini
    printf '[sink records]\nmodule = jsonl\nfrom = scenes\npath = mixed.jsonl\n' >>mixed.ini
    rc=0
    "$streamcut" run mixed.ini >mixed.out 2>mixed.err || rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "[mixed.ts] streamcut exits $rc"
        cat mixed.err
    else
        python3 -c 'import json, sys
for line in open(sys.argv[1]):
    record = json.loads(line)
    if record["cause"] == "scene":
        print("%.6f" % record["cut_time"])' mixed.jsonl >mixed.found
        python3 score.py mixed.ts mixed.found "streamcut scene (mixed.ts)" assert || failures=$((failures + 1))
        if grep "warning: \[scenes\]" mixed.err; then
            fail "[mixed.ts] the scene strategy warned"
        fi
        if grep -Eq "resolution_changes=1( |$)" mixed.err; then
            pass "[mixed.ts] the strategy saw the one resolution change (resolution_changes=1)"
        else
            fail "[mixed.ts] resolution_changes=1 not in the counters:"
            grep "counters" mixed.err || true
        fi
    fi
else
    fail "could not make the mixed-resolution clip"
fi

echo "--- for comparison (not asserted)"
if run_scene clip.mp4 adaptive "adaptive_threshold = true"; then
    python3 score.py clip.mp4 adaptive.found "streamcut scene, adaptive (clip.mp4)" report
fi
# Every frame scoring 2 or more, to show the margin around the threshold.
printf '[source clip]\nmodule = avformat\nurl = clip.mp4\n\n' >margin.ini
printf '[strategy scenes]\nmodule = scene\nsource = clip\nthreshold = 2\nmin_scene_len = 0\n\n' >>margin.ini
printf '[sink records]\nmodule = jsonl\nfrom = scenes\npath = margin.jsonl\n' >>margin.ini
if "$streamcut" -q run margin.ini; then
    python3 -c 'import json, sys
cuts = [float(line) for line in open("clip.mp4.cuts")]
gradual = [tuple(map(float, line.split())) for line in open("clip.mp4.gradual")]
frames = [json.loads(line) for line in open("margin.jsonl")][1:]
at_cuts = [r["score"] for r in frames if min(abs(r["cut_time"] - c) for c in cuts) < 0.001]
elsewhere = [(r["score"], r["cut_time"]) for r in frames if min(abs(r["cut_time"] - c) for c in cuts) >= 0.001
             and not any(a <= r["cut_time"] <= b for a, b in gradual)]
in_gradual = [r["score"] for r in frames if any(a <= r["cut_time"] <= b for a, b in gradual)]
top = max(elsewhere) if elsewhere else (0, 0)
print("scores (default threshold 7): lowest at a hard cut %.2f, highest elsewhere %.2f (at %.3f s), "
      "highest in a gradual transition %s" % (min(at_cuts), top[0], top[1],
                                              "%.2f" % max(in_gradual) if in_gradual else "below 2"))'
fi
ffmpeg -nostdin -v info -i clip.mp4 -an -vf scdet -f null - 2>scdet.log || true
sed -n 's/.*lavfi\.scd\.time: \([0-9.]*\).*/\1/p' scdet.log >scdet.found
python3 score.py clip.mp4 scdet.found "ffmpeg scdet, threshold 10 (clip.mp4)" report

echo
if [ "$failures" -ne 0 ]; then
    echo "test_scene_accuracy: $failures check(s) FAILED"
    exit 1
fi
echo "test_scene_accuracy: all checks passed"
exit 0
