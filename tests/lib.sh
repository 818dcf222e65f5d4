# Shared start of the end-to-end shell tests: finds the build and source
# trees (as `make check` exports them, or relative to this file), the
# streamcut binary, and the tools the tests need; skips (77) without the
# ffmpeg CLI. Sourced by tests/test_*.sh after `set -euo pipefail`.

script_dir=$(cd "$(dirname "$0")" && pwd)
if [ -n "${abs_top_builddir:-}" ]; then
    builddir=$(cd "$abs_top_builddir" && pwd)
else
    builddir=$(cd "$script_dir/.." && pwd)
fi
if [ -n "${abs_top_srcdir:-}" ]; then
    top_srcdir=$(cd "$abs_top_srcdir" && pwd)
else
    top_srcdir=$(cd "$script_dir/.." && pwd)
fi
streamcut=$builddir/host/streamcut

for tool in ffmpeg ffprobe; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not found"
        exit 77
    fi
done
command -v python3 >/dev/null 2>&1 || { echo "FAIL: python3 not found"; exit 1; }
[ -x "$streamcut" ] || { echo "FAIL: $streamcut is not built"; exit 1; }

# Each check prints one line; the script's exit status counts the failures.
failures=0
pass() { echo "ok:   $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# enter_scratch_dir NAME: a fresh folder to work in, removed at exit
# together with the streamcut (or other) process whose pid is in $child.
child=
enter_scratch_dir() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-$1.XXXXXX")
    trap scratch_cleanup EXIT
    cd "$tmp"
}
scratch_cleanup() {
    if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then kill -KILL "$child" 2>/dev/null || true; fi
    rm -rf "$tmp"
}

# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
