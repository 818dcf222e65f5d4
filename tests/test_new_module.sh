#!/bin/bash
# `streamcut new-module NAME KIND`: for each kind, the skeleton builds
# warning-free (-Wall -Wextra -pedantic -Werror) with nothing but
# `pkg-config streamcut-sdk` (the build tree's streamcut-sdk-uninstalled.pc),
# exports only its entry symbol, loads with `streamcut modules NAME` through
# STREAMCUT_MODULE_PATH, and runs its pipeline.ini with the output its code
# promises — even made under umask 002. Files are the sdk/template/ files with
# the placeholders filled in; bad names, kinds and existing folders are
# refused with exit status 2 and leave nothing behind.
#
# Exit status: 0 pass, 1 fail, 77 skip (no C compiler, make, pkg-config or nm).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
for tool in cc make pkg-config nm; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
enter_scratch_dir new-module
export PKG_CONFIG_PATH=$builddir
unset STREAMCUT_MODULE_PATH
# The Makefiles run as an author runs them, not as part of the make running us.
unset MAKEFLAGS MFLAGS MAKELEVEL

# ---- each kind: make, build, load, run --------------------------------------
umask 002
for kind in source strategy sink observer; do
    name=my-$kind
    if ! "$streamcut" new-module "$name" "$kind" >new.out 2>new.err; then
        fail "new-module $name $kind: $(cat new.err)"; continue
    fi
    files=$(cd "$name" && ls | tr '\n' ' ')
    [ "$files" = "Makefile README.md $name.c pipeline.ini " ] && pass "$kind: writes $files" \
        || fail "$kind: wrote '$files'"
    grep -q "make -C $name" new.out && pass "$kind: says what to do next" || fail "$kind: no next steps: $(cat new.out)"
    if ! make -s -C "$name" CFLAGS="-O2 -g -pedantic -Werror" >make.out 2>&1; then
        fail "$kind: the skeleton does not build:"; cat make.out; continue
    fi
    pass "$kind: builds warning-free with pkg-config streamcut-sdk"
    exported=$(nm -D --defined-only "$name/$name.so" | awk '{print $3}' | tr '\n' ' ')
    [ "$exported" = "streamcut_module_entry " ] && pass "$kind: exports only streamcut_module_entry" \
        || fail "$kind: exports '$exported'"
    if STREAMCUT_MODULE_PATH=$tmp/$name "$streamcut" modules "$name" >modules.out 2>&1 &&
        grep -q "^$name 0.1.0 ($kind module, ABI " modules.out; then
        pass "$kind: streamcut modules $name loads it (umask 002)"
    else
        fail "$kind: streamcut modules $name:"; cat modules.out
    fi
    rc=0
    "$streamcut" run "$name/pipeline.ini" >run.out 2>run.err || rc=$?
    [ "$rc" -eq 0 ] && pass "$kind: pipeline.ini runs" || { fail "$kind: pipeline.ini exits $rc:"; tail -5 run.err; }
    case $kind in
        source)
            expected='4 records of bin_data packets, 5 per window'
            actual=$(grep -c '"codec":"bin_data"' run.out || true)
            [ "$actual" -eq 4 ] && [ "$(grep -c '"packets":5,' run.out || true)" -eq 4 ] ;;
        strategy)
            expected="3 windows of 10 s labelled $name"
            [ "$(grep -c "\"duration\":10.000000,.*\"label\":\"$name\"" run.out || true)" -eq 3 ] ;;
        sink)
            expected="6 lines '$name: test/windows #N'"
            [ "$(grep -c "^$name: test/windows #[0-5] " run.out || true)" -eq 6 ] ;;
        observer)
            expected="6 segments logged and counted"
            [ "$(grep -c "\[mine\] segment test/windows #" run.err || true)" -eq 6 ] &&
                grep -q "\[mine\] counters: segments_seen=6" run.err ;;
    esac && pass "$kind: the pipeline gives $expected" || { fail "$kind: expected $expected:"; head -3 run.out; }
done
umask 022

# ---- the files are the templates, filled in -----------------------------
template=$top_srcdir/sdk/template
fill() { sed -e "s/@NAME@/my-$2/g" -e "s/@IDENT@/my_$2/g" -e "s/@KIND@/$2/g" "$1"; }
differs=
for kind in source strategy sink observer; do
    fill "$template/$kind.c" "$kind" | cmp -s - "my-$kind/my-$kind.c" || differs="$differs $kind.c"
    fill "$template/pipeline-$kind.ini" "$kind" | cmp -s - "my-$kind/pipeline.ini" || differs="$differs pipeline-$kind.ini"
    fill "$template/Makefile" "$kind" | cmp -s - "my-$kind/Makefile" || differs="$differs Makefile($kind)"
    fill "$template/README.md" "$kind" | cmp -s - "my-$kind/README.md" || differs="$differs README.md($kind)"
done
[ -z "$differs" ] && pass "every written file is its sdk/template/ file with NAME, IDENT and KIND filled in" \
    || fail "written files differ from the templates:$differs"

# ---- refusals -------------------------------------------------------------
refuse() {  # refuse WHY EXPECTED_MESSAGE NAME KIND
    local why=$1 message=$2 rc=0
    "$streamcut" new-module "$3" "$4" >refuse.out 2>refuse.err || rc=$?
    if [ "$rc" -eq 2 ] && grep -q "$message" refuse.err; then pass "refuses $why (exit 2)"
    else fail "$why: exit $rc, stderr: $(cat refuse.err)"; fi
}
: >refuse.out; : >refuse.err
before=$(ls | tr '\n' ' ')
refuse "an existing folder" "cannot create folder my-sink: File exists" my-sink sink
refuse "an unknown kind" "unknown kind 'filter'" fresh filter
refuse "an uppercase name" "is not a module name" Fresh sink
refuse "a name starting with a digit" "is not a module name" 9lives sink
refuse "a path as name" "is not a module name" ../escape sink
refuse "an empty name" "is not a module name" "" sink
refuse "a 49-character name" "is not a module name" "$(printf 'a%.0s' $(seq 49))" sink
[ "$(ls | tr '\n' ' ')" = "$before" ] && [ ! -e ../escape ] && pass "refusals leave nothing behind" \
    || fail "refusals changed the folder: $(ls)"
rc=0; "$streamcut" new-module only-name >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] && pass "new-module without a kind is a usage error (exit 2)" || fail "new-module NAME exits $rc"

echo "$failures failure(s)"
exit $((failures > 0))
