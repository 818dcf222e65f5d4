#!/bin/bash
# End-to-end: the thumbnail sink. A 12 s H.264 file (B-frames) is cut into
# 4 s windows; thumbnail sinks write JPEG and PNG pictures of each window,
# checked with ffprobe (codec, size, aspect) and against the frames ffmpeg
# itself decodes at the same times. Also: `every` writes one picture per
# interval and max_per_segment caps it; an anamorphic source keeps its
# display aspect; the records name the files; a path that would leave its
# folder is refused with a clear error; segments that cannot be decoded
# are counted as failures without stopping the run.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

test_modules=${STREAMCUT_TEST_MODULES:-$builddir/tests/modules/.libs}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-thumbnail.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

echo "generating the inputs with ffmpeg..."
if ! ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=640x360:rate=30 -t 12 \
        -c:v libx264 -preset veryfast -g 30 -bf 2 -pix_fmt yuv420p in.mp4; then
    echo "FAIL: ffmpeg could not generate in.mp4 (libx264 needed)"
    exit 1
fi
# 480x360 stored pixels shown 4:3 wider: a 16:9 picture.
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=480x360:rate=25 -t 4 -vf setsar=4/3 \
    -c:v libx264 -preset veryfast -g 25 -pix_fmt yuv420p wide.mp4 \
    || { echo "FAIL: ffmpeg could not generate wide.mp4"; exit 1; }

# The counters a sink reported at the end of the run, as "name=value" words.
counters_of() {
    sed -n "s/^streamcut: info: \[$1\] counters: //p" "$2"
}
counter() {
    counters_of "$1" "$3" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# in.mp4 in 4 s windows, ahead of the sinks each pipeline adds.
windows_of_input() {
    cat <<'EOF'
[source cam]
module = avformat
url = in.mp4

[strategy four]
module = fixed
source = cam
duration = 4s
EOF
}

# ---- the main run ---------------------------------------------------------------
{ windows_of_input; cat <<'EOF'; } >main.ini

[sink first]
module = thumbnail
from = four
path = out/first/{source}-{index:03}.jpg
width = 320

[sink lossless]
module = thumbnail
from = four
path = out/png/{index}.png

[sink each_second]
module = thumbnail
from = four
path = out/every/{index}-{n:02}.jpg
width = 160
every = 1s
quality = 75

[sink capped]
module = thumbnail
from = four
path = out/capped/{index}-{n}.jpg
every = 500ms
max_per_segment = 3
width = 64

[sink records]
module = jsonl
from = four
path = records.jsonl
EOF
rc=0
"$streamcut" run main.ini >main.out 2>main.err || rc=$?
if [ "$rc" -eq 0 ]; then pass "main run exits 0"; else fail "main run exits $rc"; cat main.err; fi

cat >check_main.py <<'EOF'
import glob, json, os, subprocess, sys

failed = 0
def ok(msg): print("ok:   " + msg)
def bad(msg):
    global failed
    failed += 1
    print("FAIL: " + msg)

def probe(path):
    run = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "stream=codec_name,width,height,pix_fmt,sample_aspect_ratio",
                          "-of", "json", path], capture_output=True, text=True)
    if run.returncode != 0 or run.stderr.strip():
        return None, run.stderr.strip()
    streams = json.loads(run.stdout)["streams"]
    return (streams[0] if len(streams) == 1 else None), "%d streams" % len(streams)

FRAME = 1 / 30.0

# The picture as 8-bit gray at width x height; for a video, its frame shown
# at `at` seconds (seeking half a frame early lands on it whatever the rounding).
def gray(path, width, height, at=None):
    args = ["ffmpeg", "-nostdin", "-v", "error"]
    if at is not None:
        args += ["-ss", "%.6f" % max(0.0, at - FRAME / 2)]
    args += ["-i", path, "-frames:v", "1", "-vf", "scale=%d:%d" % (width, height),
             "-pix_fmt", "gray", "-f", "rawvideo", "-"]
    run = subprocess.run(args, capture_output=True)
    if run.returncode != 0 or len(run.stdout) != width * height:
        raise RuntimeError("ffmpeg could not read %s: %s" % (path, run.stderr.decode()[:300]))
    return run.stdout

def difference(a, b):
    return sum(abs(x - y) for x, y in zip(a, b)) / len(a)

def check_images(folder, names, codec, pix_fmt, width, height):
    present = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    if present != sorted(names):
        bad("%s holds %r, expected %r" % (folder, present, sorted(names)))
        return
    problems = []
    for name in names:
        stream, why = probe(os.path.join(folder, name))
        if stream is None:
            problems.append("%s: ffprobe: %s" % (name, why))
            continue
        got = (stream.get("codec_name"), stream.get("pix_fmt"), stream.get("width"), stream.get("height"))
        if got != (codec, pix_fmt, width, height):
            problems.append("%s: %r, expected %r" % (name, got, (codec, pix_fmt, width, height)))
    for p in problems:
        bad(p)
    if not problems:
        ok("%s: %d files, each one %s %s %dx%d" % (folder, len(names), codec, pix_fmt, width, height))

SEGMENTS = 3
check_images("out/first", ["cam-%03d.jpg" % k for k in range(SEGMENTS)], "mjpeg", "yuvj420p", 320, 180)
check_images("out/png", ["%d.png" % k for k in range(SEGMENTS)], "png", "rgb24", 640, 360)
check_images("out/every", ["%d-%02d.jpg" % (k, n) for k in range(SEGMENTS) for n in range(4)],
             "mjpeg", "yuvj420p", 160, 90)
check_images("out/capped", ["%d-%d.jpg" % (k, n) for k in range(SEGMENTS) for n in range(3)],
             "mjpeg", "yuvj420p", 64, 36)
leftovers = glob.glob("out/**/.*", recursive=True)
if leftovers:
    bad("temporary files left: %r" % leftovers)

# Each picture is the frame of its time: closer to ffmpeg's own decode of
# that frame than to the frames just before and after it.
mismatches = 0
for k in range(SEGMENTS):
    for n in range(4):
        path = "out/every/%d-%02d.jpg" % (k, n)
        if not os.path.exists(path):
            continue
        ours = gray(path, 160, 90)
        t = 4 * k + n
        here = difference(ours, gray("in.mp4", 160, 90, t))
        around = [difference(ours, gray("in.mp4", 160, 90, t + d)) for d in (-FRAME, FRAME) if t + d >= 0]
        if here > 4 or any(other <= here for other in around):
            mismatches += 1
            bad("%s: differs from the frame at %.3f s by %.2f, from its neighbours by %r"
                % (path, t, here, ["%.2f" % a for a in around]))
if mismatches == 0:
    ok("every thumbnail of `every = 1s` is the input's frame at 4k + n seconds")

# PNG keeps the picture: it matches ffmpeg's decode of the keyframe closely.
for k in range(SEGMENTS):
    path = "out/png/%d.png" % k
    if os.path.exists(path):
        here = difference(gray(path, 640, 360), gray("in.mp4", 640, 360, 4 * k))
        if here < 1.5:
            ok("%s matches the frame at %d s (mean difference %.2f)" % (path, 4 * k, here))
        else:
            bad("%s differs from the frame at %d s by %.2f" % (path, 4 * k, here))

# The records name the first file of every thumbnail sink.
records = [json.loads(line) for line in open("records.jsonl")]
if len(records) != SEGMENTS:
    bad("%d records, expected %d" % (len(records), SEGMENTS))
for k, r in enumerate(records):
    want = {"first": "out/first/cam-%03d.jpg" % k, "lossless": "out/png/%d.png" % k,
            "each_second": "out/every/%d-00.jpg" % k, "capped": "out/capped/%d-0.jpg" % k}
    if r.get("thumbnails") != want:
        bad("record %d: thumbnails %r, expected %r" % (k, r.get("thumbnails"), want))
    elif r.get("thumbnail") not in want.values():
        bad("record %d: thumbnail %r is not one of %r" % (k, r.get("thumbnail"), want))
    else:
        ok("record %d names every sink's first thumbnail" % k)
sys.exit(1 if failed else 0)
EOF
python3 check_main.py || failures=$((failures + 1))

for sink_count in first:3 lossless:3 each_second:12 capped:9; do
    sink=${sink_count%%:*} want=${sink_count#*:}
    got=$(counter "$sink" thumbnails_written main.err)
    if [ "$got" = "$want" ]; then
        pass "[$sink] thumbnails_written=$want"
    else
        fail "[$sink] thumbnails_written=${got:-none}, expected $want"
    fi
done
if grep -q "decode_failures\|paths_rejected" main.err; then
    fail "main run counted failures:"; grep "counters:" main.err
fi

# ---- an anamorphic source keeps its display aspect ratio ------------------------
cat >wide.ini <<'EOF'
[source wide]
module = avformat
url = wide.mp4

[strategy whole]
module = fixed
source = wide
duration = 4s

[sink scaled]
module = thumbnail
from = whole
path = wide/scaled-{index}.jpg
width = 320

[sink native]
module = thumbnail
from = whole
path = wide/native-{index}.png
EOF
rc=0
"$streamcut" run wide.ini >wide.out 2>wide.err || rc=$?
[ "$rc" -eq 0 ] || { fail "anamorphic run exits $rc"; cat wide.err; }
for case in scaled-0.jpg:320x180 native-0.png:480x270; do
    file=${case%%:*} want=${case#*:}
    got=$(ffprobe -v error -show_entries stream=width,height -of csv=p=0:s=x "wide/$file" 2>&1 || true)
    if [ "$got" = "$want" ]; then
        pass "anamorphic 480x360 (SAR 4:3) source: $file is $want, square pixels at 16:9"
    else
        fail "anamorphic source: $file is '$got', expected $want"
    fi
done

# ---- paths that would leave their folder ----------------------------------------
{ windows_of_input; cat <<'EOF'; } >escape.ini

[sink thumbs]
module = thumbnail
from = four
path = out/../../escaped/{index}.jpg
EOF
rc=0
"$streamcut" run escape.ini >escape.out 2>escape.err || rc=$?
if [ "$rc" -eq 2 ] && grep -q 'path = out/../../escaped/{index}.jpg: the template may not contain a ".." component' escape.err; then
    pass "a template climbing out with .. is refused before the run (exit 2, the reason named)"
else
    fail "a template with .. gave exit $rc and:"; cat escape.err
fi
[ ! -e ../escaped ] && [ ! -e escaped ] && pass "nothing written outside" || fail "an escaped folder exists"

# A placeholder expanding to nothing would make the path absolute: refused
# per segment, counted, and the run goes on.
sed -e 's|^path = .*|path = {label}/{index}.jpg|' escape.ini >absolute.ini
rc=0
"$streamcut" run absolute.ini >absolute.out 2>absolute.err || rc=$?
rejected=$(counter thumbs paths_rejected absolute.err)
if [ "$rc" -eq 0 ] && [ "$rejected" = 3 ] &&
        grep -q 'refusing to write: "/0.jpg" is absolute, but the template is relative' absolute.err; then
    pass "a path an empty {label} makes absolute is refused for each of the 3 segments, with the reason"
else
    fail "empty {label}: exit $rc, paths_rejected=${rejected:-none}:"; cat absolute.err
fi
[ ! -e /0.jpg ] || fail "/0.jpg was written"

# `every` without {n} would write every picture of a segment to one name.
sed -e 's|^path = .*|path = out/{index}.jpg\nevery = 1s|' escape.ini >no_number.ini
rc=0
"$streamcut" run no_number.ini >no_number.out 2>no_number.err || rc=$?
if [ "$rc" -eq 2 ] && grep -q "put {n} in the path" no_number.err; then
    pass "every without {n} in the path is refused (exit 2, the remedy named)"
else
    fail "every without {n}: exit $rc and:"; cat no_number.err
fi

# ---- segments that cannot be decoded ----------------------------------------
# synth declares H.264 but its payloads are filler bytes: no picture in them.
cat >undecodable.ini <<EOF
[host]
module_path = $test_modules

[source junk]
module = synth
duration = 6s
audio = false

[strategy two]
module = fixed
source = junk
duration = 2s

[sink thumbs]
module = thumbnail
from = two
path = junk/{index}.jpg
EOF
rc=0
timeout 120 "$streamcut" run undecodable.ini >undecodable.out 2>undecodable.err || rc=$?
decode_failures=$(counter thumbs decode_failures undecodable.err)
if [ "$rc" -eq 0 ] && [ "$decode_failures" = 3 ] &&
        grep -q "\[thumbs\] segments: consumed=0 failed=3" undecodable.err &&
        grep -q "no picture could be decoded from 60 video packets" undecodable.err; then
    pass "3 undecodable segments: decode_failures=3, failed=3, the reason logged, the run ends normally"
else
    fail "undecodable segments: exit $rc, decode_failures=${decode_failures:-none}:"
    grep -v "ffmpeg:" undecodable.err | tail -n 20
fi
written=$(find junk -type f 2>/dev/null | head -n5)
[ -z "$written" ] && pass "nothing written for them" || { fail "files written for undecodable segments:"; echo "$written"; }

echo
if [ "$failures" -ne 0 ]; then
    echo "test_thumbnail: $failures check(s) FAILED"
    exit 1
fi
echo "test_thumbnail: all checks passed"
exit 0
