#!/bin/bash
# test_install.sh PREFIX [SRCDIR]: checks an installed streamcut as a module
# author meets it, after `./configure --prefix=PREFIX && make install`:
#
# - the layout: the program, every module (no .la), every SDK header,
#   streamcut-sdk.pc, every example pipeline, the systemd unit pointing at
#   PREFIX/bin/streamcut, the three man pages, the SDK examples;
# - pkg-config streamcut-sdk: Cflags, moduledir, abi_version and Version agree
#   with what the installed streamcut says;
# - the installed streamcut, run outside the build tree, finds its modules in
#   PREFIX/lib/streamcut/modules; the installed headers compile alone;
# - the man pages format without warnings and `man` finds them;
# - the loudness example, copied from PREFIX/share/streamcut/sdk-examples,
#   builds against the installed SDK and passes its test, which runs it in a
#   pipeline through module_path;
# - a `streamcut new-module` skeleton builds, loads through
#   STREAMCUT_MODULE_PATH and runs its pipeline, and its `make install` puts
#   it where the installed streamcut finds it with no path at all (then
#   `make uninstall` takes it away again).
#
# Run by .ci/run after a temporary-prefix install, and by `make installcheck`
# (so by `make distcheck`). Exit status: 0 pass, 1 fail.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 PREFIX [SRCDIR]" >&2; exit 2; }
prefix=$(cd "$1" && pwd)
srcdir=$(cd "${2:-$(dirname "$0")/..}" && pwd)
streamcut=$prefix/bin/streamcut
moduledir=$prefix/lib/streamcut/modules
pkgdatadir=$prefix/share/streamcut

failures=0
pass() { echo "ok:   $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Outside any build tree, like a user; nothing from the environment steers
# the module search, pkg-config or the Makefiles.
cd "$tmp"
unset STREAMCUT_MODULE_PATH MAKEFLAGS MFLAGS MAKELEVEL
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig PKG_CONFIG_DISABLE_UNINSTALLED=1

# ---- layout -----------------------------------------------------------------
[ -x "$streamcut" ] && pass "bin/streamcut" || { fail "no $streamcut"; exit 1; }
missing=
for folder in "$srcdir"/modules/*/; do
    name=$(basename "$folder")
    [ "$name" = common ] || [ -f "$moduledir/$name.so" ] || missing="$missing $name.so"
done
for header in "$srcdir"/sdk/streamcut/*.h; do
    [ -f "$prefix/include/streamcut/$(basename "$header")" ] || missing="$missing include/streamcut/$(basename "$header")"
done
for example in "$srcdir"/conf/examples/*.ini "$srcdir/conf/demo.ini"; do
    [ -f "$pkgdatadir/examples/$(basename "$example")" ] || missing="$missing examples/$(basename "$example")"
done
for file in lib/pkgconfig/streamcut-sdk.pc share/streamcut/streamcut.service share/man/man1/streamcut.1 \
    share/man/man5/streamcut.ini.5 share/man/man7/streamcut-modules.7 \
    share/streamcut/sdk-examples/loudness/loudness.c share/streamcut/sdk-examples/loudness/Makefile \
    share/streamcut/sdk-examples/loudness/README.md share/streamcut/sdk-examples/loudness/test.sh; do
    [ -f "$prefix/$file" ] || missing="$missing $file"
done
[ -z "$missing" ] && pass "installed: every module, SDK header, example pipeline, man page, the .pc, unit and SDK example" \
    || fail "not installed:$missing"
stray=$(find "$prefix" -name '*.la' -o -name '*.a' | tr '\n' ' ')
[ -z "$stray" ] && pass "no .la or .a installed" || fail "installed: $stray"
grep -qx "ExecStart=$prefix/bin/streamcut run /etc/streamcut/pipeline.ini" "$pkgdatadir/streamcut.service" \
    && pass "streamcut.service runs $prefix/bin/streamcut" \
    || fail "streamcut.service: $(grep ExecStart "$pkgdatadir/streamcut.service")"

# ---- pkg-config ---------------------------------------------------------------
version=$("$streamcut" --version)          # streamcut X.Y.Z (module ABI M.N)
cflags=$(pkg-config --cflags streamcut-sdk | sed "s/ *$//")
[ "$cflags" = "-I$prefix/include" ] && pass "pkg-config --cflags: $cflags" || fail "pkg-config --cflags: '$cflags'"
[ "$(pkg-config --variable=moduledir streamcut-sdk)" = "$moduledir" ] && pass "moduledir: $moduledir" \
    || fail "moduledir: $(pkg-config --variable=moduledir streamcut-sdk)"
abi=$(pkg-config --variable=abi_version streamcut-sdk)
[ -n "$abi" ] && [ "$version" != "${version%"(module ABI $abi)"}" ] && pass "abi_version $abi = the host's" \
    || fail "abi_version '$abi', host: $version"
modversion=$(pkg-config --modversion streamcut-sdk)
[ "streamcut $modversion (module ABI $abi)" = "$version" ] && pass "Version $modversion = the host's" \
    || fail "Version '$modversion', host: $version"

# ---- the installed host finds its modules ------------------------------------
rc=0
"$streamcut" modules >modules.out 2>modules.err || rc=$?
listed=$(grep -c '^[a-z]' modules.out || true)
elsewhere=$(awk '/^ / && $1 !~ "^'"$moduledir"'/" {print $1}' modules.out)
installed=$(ls "$moduledir"/*.so | wc -l)
if [ "$rc" -eq 0 ] && [ "$listed" -eq "$installed" ] && [ -z "$elsewhere" ] && [ ! -s modules.err ]; then
    pass "streamcut modules finds the $listed installed modules in $moduledir"
else
    fail "streamcut modules (exit $rc): $listed listed of $installed, elsewhere: $elsewhere"; cat modules.err
fi
"$streamcut" check "$pkgdatadir/examples/demo.ini" >check.out 2>&1 && pass "streamcut check examples/demo.ini" \
    || { fail "streamcut check examples/demo.ini:"; cat check.out; }

# ---- the installed headers, each on its own -----------------------------------
bad=
for header in "$prefix"/include/streamcut/*.h; do
    echo "#include <streamcut/$(basename "$header")>" >header.c
    cc -std=c99 -pedantic -Wall -Wextra -Werror $cflags -c header.c -o header.o 2>header.err \
        || bad="$bad $(basename "$header")"
done
[ -z "$bad" ] && pass "every installed header compiles alone (C99, -pedantic -Werror)" || { fail "headers:$bad"; cat header.err; }

# ---- man pages ---------------------------------------------------------------------
for page in man1/streamcut.1 man5/streamcut.ini.5 man7/streamcut-modules.7; do
    if groff -man -Tutf8 -ww -z "$prefix/share/man/$page" >groff.out 2>&1 && [ ! -s groff.out ]; then
        pass "$page formats without warnings"
    else
        fail "$page:"; cat groff.out
    fi
done
found=$(MANPATH=$prefix/share/man man -w streamcut.ini 2>/dev/null || true)
[ "$found" = "$prefix/share/man/man5/streamcut.ini.5" ] && pass "man finds streamcut.ini(5) under the prefix" \
    || fail "man -w streamcut.ini: '$found'"

# ---- the loudness example, as shipped -------------------------------------------
cp -r "$pkgdatadir/sdk-examples/loudness" loudness
chmod -R u+w loudness
if make -s -C loudness >loudness-make.out 2>&1; then
    pass "sdk-examples/loudness builds against the installed SDK"
    if make -s -C loudness check STREAMCUT="$streamcut" >loudness-check.out 2>&1; then
        pass "its test passes with the installed streamcut ($(grep -c '^ok' loudness-check.out) checks)"
    else
        fail "its test fails:"; cat loudness-check.out
    fi
else
    fail "sdk-examples/loudness does not build:"; cat loudness-make.out
fi

# ---- a new module from the template --------------------------------------------
if "$streamcut" new-module hello-world strategy >new.out 2>&1 && make -s -C hello-world >new-make.out 2>&1; then
    pass "new-module hello-world strategy builds against the installed SDK"
else
    fail "new-module hello-world strategy:"; cat new.out new-make.out 2>/dev/null || true
fi
STREAMCUT_MODULE_PATH=$tmp/hello-world "$streamcut" modules hello-world >hello.out 2>&1 \
    && grep -q '^hello-world 0.1.0 (strategy module' hello.out && pass "it loads through STREAMCUT_MODULE_PATH" \
    || { fail "streamcut modules hello-world:"; cat hello.out; }
rc=0
"$streamcut" run hello-world/pipeline.ini >hello-run.out 2>hello-run.err || rc=$?
[ "$rc" -eq 0 ] && [ "$(grep -c '"label":"hello-world"' hello-run.out || true)" -eq 3 ] \
    && pass "its pipeline.ini runs: 3 windows" || { fail "its pipeline (exit $rc):"; tail -5 hello-run.err; }
if make -s -C hello-world install >hello-install.out 2>&1 && [ -f "$moduledir/hello-world.so" ]; then
    "$streamcut" modules hello-world 2>&1 | grep -q "^$moduledir/hello-world.so" \
        && pass "make install puts it where streamcut finds it unaided" || fail "installed hello-world is not found"
    make -s -C hello-world uninstall >/dev/null 2>&1
    [ ! -e "$moduledir/hello-world.so" ] && pass "make uninstall removes it" || fail "hello-world.so left in $moduledir"
else
    fail "make install of the new module:"; cat hello-install.out
fi

echo "$failures failure(s)"
exit $((failures > 0))
