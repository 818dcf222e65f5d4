#!/bin/bash
# sdk/examples/loudness as a module author gets it: copied out of the tree,
# built with its own Makefile against nothing but `pkg-config streamcut-sdk`
# (the build tree's streamcut-sdk-uninstalled.pc) and FFmpeg, warning-free
# under -pedantic -Werror, exporting only its entry symbol; then its own
# test (make check) against this build's streamcut.
#
# Exit status: 0 pass, 1 fail, 77 skip (no C compiler, make, pkg-config, nm or ffmpeg).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
for tool in cc make pkg-config nm; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
enter_scratch_dir sdk-example
export PKG_CONFIG_PATH=$builddir
unset STREAMCUT_MODULE_PATH
# The Makefiles run as an author runs them, not as part of the make running us.
unset MAKEFLAGS MFLAGS MAKELEVEL

cp -r "$top_srcdir/sdk/examples/loudness" loudness
chmod -R u+w loudness    # a distcheck source tree is read-only
rm -f loudness/loudness.so
if make -s -C loudness CFLAGS="-O2 -g -pedantic -Werror" >make.out 2>&1; then
    pass "loudness builds warning-free out of tree with pkg-config streamcut-sdk"
else
    fail "loudness does not build:"; cat make.out
    exit 1
fi
exported=$(nm -D --defined-only loudness/loudness.so | awk '{print $3}' | tr '\n' ' ')
[ "$exported" = "streamcut_module_entry " ] && pass "loudness.so exports only streamcut_module_entry" \
    || fail "loudness.so exports '$exported'"
if make -s -C loudness check STREAMCUT="$streamcut" >check.out 2>&1; then
    pass "its own test passes:"; sed 's/^/      /' check.out
else
    fail "its own test fails:"; cat check.out
fi

echo "$failures failure(s)"
exit $((failures > 0))
