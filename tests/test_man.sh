#!/bin/bash
# The man pages: each formats without a single groff warning (warnings are
# errors here), streamcut-modules(7) documents every module `streamcut
# modules` lists, with every option its schema declares, streamcut.ini(5)
# every host-owned key of every section kind, and streamcut(1) every
# command `streamcut --help` lists.
#
# Exit status: 0 pass, 1 fail, 77 skip (groff missing).
set -euo pipefail

script_dir=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${abs_top_builddir:-$script_dir/..}" && pwd)
streamcut=$builddir/host/streamcut
command -v groff >/dev/null 2>&1 || { echo "SKIP: groff not found"; exit 77; }

failures=0
pass() { echo "ok:   $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# What a page says once formatted, one word per line, for grepping names.
render() { groff -man -Tutf8 -P-cbou "$1" 2>/dev/null | sed 's/\xe2\x80\x90/-/g' >"$2"; }

for page in streamcut.1 streamcut.ini.5 streamcut-modules.7; do
    file=$builddir/doc/$page
    if [ ! -s "$file" ]; then fail "$page was not generated"; continue; fi
    if groff -man -Tutf8 -ww -z "$file" >"$tmp/warnings" 2>&1 && [ ! -s "$tmp/warnings" ]; then
        pass "$page formats without warnings"
    else
        fail "$page: groff warns:"; cat "$tmp/warnings"
    fi
    render "$file" "$tmp/$page.txt"
done

# A long installation prefix must not make lines troff cannot fit.
top_srcdir=$(cd "${abs_top_srcdir:-$script_dir/..}" && pwd)
long=/opt/a/rather/long/installation/prefix/with-many-components/streamcut-0.1.0/_inst/and/more
for page in streamcut.1 streamcut.ini.5 streamcut-modules.7; do
    "$builddir/doc/mangen" VERSION=0.1.0 ABI_VERSION=1.1 moduledir=$long/lib/streamcut/modules \
        pkgdatadir=$long/share/streamcut includedir=$long/include <"$top_srcdir/doc/$page.in" >"$tmp/long.$page"
    if groff -man -Tutf8 -ww -z "$tmp/long.$page" >"$tmp/warnings" 2>&1 && [ ! -s "$tmp/warnings" ]; then
        pass "$page with a ${#long}-character prefix formats without warnings"
    else
        fail "$page with a long prefix: groff warns:"; cat "$tmp/warnings"
    fi
done

# ---- streamcut-modules(7): every module, every option -----------------------
STREAMCUT_MODULE_PATH= "$streamcut" modules 2>/dev/null | awk '/^[^ ]/ {print $1}' >"$tmp/modules"
[ -s "$tmp/modules" ] || fail "streamcut modules listed nothing"
missing=
while read -r module; do
    grep -q "^   $module (" "$tmp/streamcut-modules.7.txt" || { missing="$missing $module"; continue; }
    # The module's own options: the lines of `modules NAME` before the host keys.
    "$streamcut" modules "$module" | sed -n '/^Options:/,/^Keys every/p' |
        awk '/^  [^ ]/ {print $1}' >"$tmp/options"
    while read -r option; do
        grep -q "^ *$option (" "$tmp/streamcut-modules.7.txt" || missing="$missing $module.$option"
    done <"$tmp/options"
done <"$tmp/modules"
[ -z "$missing" ] && pass "streamcut-modules(7) has every module and option ($(wc -l <"$tmp/modules") modules)" \
    || fail "streamcut-modules(7) lacks:$missing"

# ---- streamcut.ini(5): every host key of every section kind ----------------
missing=
for kind_module in "source avformat" "strategy fixed" "sink jsonl" "observer log"; do
    set -- $kind_module
    "$streamcut" modules "$2" | sed -n '/^Keys every/,$p' | awk '/^  [^ ]/ {print $1}' >"$tmp/keys"
    [ -s "$tmp/keys" ] || missing="$missing (no $1 keys listed)"
    while read -r key; do
        grep -q "^ *$key (" "$tmp/streamcut.ini.5.txt" || missing="$missing [$1]$key"
    done <"$tmp/keys"
done
for section in host source strategy sync sink observer; do
    grep -q "^   \[$section" "$tmp/streamcut.ini.5.txt" || missing="$missing [$section]"
done
for key in module_path workers shutdown_timeout sync.timeout sources; do
    grep -q "^ *$key (" "$tmp/streamcut.ini.5.txt" || missing="$missing $key"
done
[ -z "$missing" ] && pass "streamcut.ini(5) has every section kind and host-owned key" \
    || fail "streamcut.ini(5) lacks:$missing"

# ---- streamcut(1): every command of --help ---------------------------------
"$streamcut" --help | sed -n '/^Commands:/,/^$/p' | awk '/^  [^ ]/ {print $1}' >"$tmp/commands"
missing=
while read -r command; do
    grep -q "^       $command\b" "$tmp/streamcut.1.txt" || missing="$missing $command"
done <"$tmp/commands"
[ -s "$tmp/commands" ] && [ -z "$missing" ] && pass "streamcut(1) documents every command ($(tr '\n' ' ' <"$tmp/commands"))" \
    || fail "streamcut(1) lacks commands:$missing"
for section in "EXIT STATUS" SIGNALS ENVIRONMENT FILES; do
    grep -q "^$section" "$tmp/streamcut.1.txt" || fail "streamcut(1) has no $section section"
done

[ "$failures" -eq 0 ] && echo "PASS: man pages" || echo "FAIL: $failures check(s)"
exit $((failures > 0))
