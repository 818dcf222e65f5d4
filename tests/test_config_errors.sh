#!/bin/bash
# End-to-end: broken pipeline files are refused by both `check` and `run`
# with exit status 2 and a "FILE:LINE: message" naming the right line, and
# nothing is written; ${VAR} and @file values are accepted and really used.
#
# Exit status: 0 pass, 1 fail, 77 skip (ffmpeg/ffprobe missing).
set -euo pipefail

. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-config.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/work"
cd "$tmp/work"
unset STREAMCUT_TEST_UNSET_VAR STREAMCUT_TEST_DURATION || true


# The valid pipeline every case starts from; cases replace or append lines,
# so the line numbers below are the ones the messages must name.
base() {
    cat <<'EOF'
[source src]
module = testsrc
duration = 2s

[strategy cut]
module = fixed
source = src
duration = 1s

[sink clips]
module = clip
from = cut
path = out/{source}-{index:03}.ts

[sink records]
module = jsonl
from = cut
path = -
EOF
}
base_lines=$(base | wc -l)    # 18
# base_with N TEXT: the base pipeline with line N replaced by TEXT
base_with() {
    local n=$1 text=$2
    base | awk -v n="$n" -v text="$text" 'NR == n { print text; next } { print }'
}

# expect_error NAME LINE MESSAGE [UNWANTED]: NAME.ini must be refused by check
# and by run with exit 2, a stderr line starting "NAME.ini:LINE:" that
# contains MESSAGE (and not UNWANTED), no graph on stdout, no records, no out/.
expect_error() {
    local name=$1 line=$2 message=$3 unwanted=${4:-}
    local file=$name.ini command rc ok=1
    [ -f "$file" ] || { fail "$name: $file was not written"; return; }
    for command in check run; do
        rm -rf out
        rc=0
        "$streamcut" "$command" "$file" >"$name.$command.out" 2>"$name.$command.err" || rc=$?
        if [ "$rc" -ne 2 ]; then
            fail "$name: '$command' exits $rc, expected 2"; ok=0
        fi
        if ! grep -F -- "$file:$line:" "$name.$command.err" | grep -qF -- "$message"; then
            fail "$name: '$command' stderr lacks '$file:$line: ...$message...'"; ok=0
        fi
        if [ -n "$unwanted" ] && grep -F -- "$file:$line:" "$name.$command.err" | grep -qF -- "$unwanted"; then
            fail "$name: '$command' stderr unexpectedly contains '$unwanted'"; ok=0
        fi
        if [ -s "$name.$command.out" ]; then
            fail "$name: '$command' printed on stdout:"; head -c 400 "$name.$command.out"; echo; ok=0
        fi
        if [ -e out ]; then
            fail "$name: '$command' created out/:"; find out | head; ok=0
        fi
        if [ "$ok" -eq 0 ]; then
            echo "  --- $file:"; cat -A "$file" | cut -c1-120 | sed 's/^/  /'
            echo "  --- stderr of $command:"; sed 's/^/  /' "$name.$command.err" | cut -c1-300
            return
        fi
    done
    pass "$name: check and run exit 2 with '$file:$line: ...$message...'"
}

echo "streamcut: $streamcut"

# ---- positive control: the base pipeline is valid and runs ---------------------
base >base.ini
rc=0
"$streamcut" check base.ini >base.check.out 2>base.check.err || rc=$?
if [ "$rc" -eq 0 ] && grep -qxF "base.ini: ok" base.check.out && [ ! -s base.check.err ]; then
    pass "base pipeline: check exits 0, says ok, no warnings"
else
    fail "base pipeline: check exits $rc"; cat base.check.out base.check.err
fi
rc=0
"$streamcut" -q run base.ini >base.run.out 2>base.run.err || rc=$?
nclips=$(ls out 2>/dev/null | grep -c '^src-00[01]\.ts$' || true)
nrecords=$(wc -l <base.run.out)
if [ "$rc" -eq 0 ] && [ "$nclips" -eq 2 ] && [ "$nrecords" -eq 2 ]; then
    pass "base pipeline: run exits 0, 2 clips and 2 records"
else
    fail "base pipeline: run exits $rc with $nclips clips, $nrecords records"; cat base.run.err
fi
rm -rf out

# ---- broken pipelines --------------------------------------------------------------
{ base; printf '\n[filter x]\nmodule = jsonl\n'; } >unknown_kind.ini
expect_error unknown_kind $((base_lines + 2)) "unknown section kind 'filter'"

base_with 6 '; no module line here' >missing_module.ini
expect_error missing_module 5 "[strategy cut]: missing 'module = NAME'"

base_with 16 'module = nosuch' >unknown_module.ini
expect_error unknown_module 16 "module 'nosuch': no module named 'nosuch'"

{ base; printf '\n[sink x]\nmodule = fixed\nfrom = cut\n'; } >wrong_kind.ini
expect_error wrong_kind $((base_lines + 3)) "module 'fixed' is a strategy module, not a sink module"

base_with 8 'duraton = 10' >typo_option.ini
expect_error typo_option 8 "unknown option 'duraton' for module 'fixed' (did you mean 'duration'?)"

base_with 8 'duration = abc' >bad_duration.ini
expect_error bad_duration 8 "bad value 'abc' for 'duration'"

base_with 4 'buffer.max_items = 0' >out_of_range.ini
expect_error out_of_range 4 "bad value '0' for 'buffer.max_items': out of range"

base_with 4 'realtime = maybe' >bad_bool.ini
expect_error bad_bool 4 "bad value 'maybe' for 'realtime': expected a boolean"

base_with 7 'source = nope' >dangling_source.ini
expect_error dangling_source 7 "[strategy cut]: no [source nope] in this file" "did you mean"

base_with 7 'source = scr' >dangling_source_near.ini
expect_error dangling_source_near 7 "no [source scr] in this file (did you mean 'src'?)"

base_with 12 'from = nope' >dangling_from.ini
expect_error dangling_from 12 "[sink clips]: no [strategy nope] in this file"

base_with 17 'from = src' >from_source.ini
expect_error from_source 17 "[sink records]: 'src' is a source, not a strategy"

base_with 4 'duration = 5s' >duplicate_key.ini
expect_error duplicate_key 4 "duplicate key 'duration' (first at line 3)"

# the same key again, written with ':' (inih reads both separators)
{ base | sed -n '1,8p'; echo 'duration: 5s'; base | sed -n '10,$p'; } >duplicate_key_colon.ini
expect_error duplicate_key_colon 9 "duplicate key 'duration' (first at line 8)"

{ base; printf '\n[sink records]\nmodule = jsonl\nfrom = cut\n'; } >duplicate_section.ini
expect_error duplicate_section $((base_lines + 2)) "duplicate name 'records' (first used by [sink records] at line 15)"

base_with 15 '[sink src]' >duplicate_across_kinds.ini
expect_error duplicate_across_kinds 15 "duplicate name 'src' (first used by [source src] at line 1)"

base_with 9 '    continued' >continuation.ini
expect_error continuation 9 "continuation"

printf -v long_value '%*s' 242 ''
base_with 14 "label = ${long_value// /x}" >long_line.ini
[ "$(sed -n 14p long_line.ini | tr -d '\n' | wc -c)" -eq 250 ] || fail "long_line: line 14 is not 250 bytes"
expect_error long_line 14 "line is 250 bytes; lines are limited to"

printf -v smuggle '%*s' 197 ''
base_with 13 "path = ${smuggle// /A}bind=0.0.0.0" >smuggle.ini
[ "$(sed -n 13p smuggle.ini | tr -d '\n' | wc -c)" -eq 216 ] || fail "smuggle: line 13 is not 216 bytes"
expect_error smuggle 13 "line is 216 bytes" "bind"
if grep -qi "bind" smuggle.check.err smuggle.run.err; then
    fail "smuggle: 'bind' was read as something:"; grep -i bind smuggle.check.err smuggle.run.err | cut -c1-200
else
    pass "smuggle: the tail 'bind=0.0.0.0' was never read as a key"
fi

{ base | sed -n '1,2p'; printf 'duration = 2\0s\n'; base | sed -n '4,$p'; } >nul_byte.ini
if [ "$(tr -cd '\000' <nul_byte.ini | wc -c)" -eq 1 ]; then
    expect_error nul_byte 3 "NUL byte"
else
    fail "nul_byte: could not write a NUL byte into the file"
fi

{ echo 'module = testsrc'; base; } >key_before_section.ini
expect_error key_before_section 1 "key 'module' outside of any section"

base_with 3 'duration = ${STREAMCUT_TEST_UNSET_VAR}s' >unset_var.ini
expect_error unset_var 3 "environment variable 'STREAMCUT_TEST_UNSET_VAR' is not set"

# ---- values from the environment and from files are accepted and used -----------------
base_with 3 'duration = ${STREAMCUT_TEST_DURATION}s' >env_var.ini
for seconds in 2 3; do
    rm -rf out
    rc=0
    STREAMCUT_TEST_DURATION=$seconds "$streamcut" check env_var.ini >env_var.check.out 2>env_var.check.err || rc=$?
    if [ "$rc" -eq 0 ] && grep -qxF "env_var.ini: ok" env_var.check.out; then
        pass "env_var: check accepts 'duration = \${VAR}s' with VAR=$seconds"
    else
        fail "env_var: check exits $rc"; cat env_var.check.err
    fi
    rc=0
    STREAMCUT_TEST_DURATION=$seconds "$streamcut" -q run env_var.ini >env_var.run.out 2>env_var.run.err || rc=$?
    last_end=$(tail -n1 env_var.run.out | sed -n 's/.*"end":\([0-9.]*\).*/\1/p')
    nrecords=$(wc -l <env_var.run.out)
    if [ "$rc" -eq 0 ] && [ "$nrecords" -eq "$seconds" ] && awk -v e="$last_end" -v s="$seconds" 'BEGIN { exit !(e + 0 == s + 0) }'; then
        pass "env_var: run with VAR=$seconds gives $seconds one-second records ending at $seconds s"
    else
        fail "env_var: run with VAR=$seconds exits $rc, $nrecords records, last end '$last_end'"
        cat env_var.run.err
    fi
done
rm -rf out

# A 600-character URL (a file: URL that does not exist) kept in a value file.
long_url="file:$tmp/missing/"
while [ "${#long_url}" -lt 600 ]; do long_url="${long_url}q"; done
printf '%s\n' "$long_url" >long-url.txt
cat >long_url.ini <<'EOF'
[source src]
module = avformat
url = @long-url.txt

[strategy cut]
module = fixed
source = src

[sink records]
module = jsonl
from = cut
EOF
rc=0
"$streamcut" check long_url.ini >long_url.check.out 2>long_url.check.err || rc=$?
if [ "$rc" -eq 0 ] && grep -qxF "long_url.ini: ok" long_url.check.out; then
    pass "long_url: check accepts 'url = @long-url.txt' (600-character URL)"
else
    fail "long_url: check exits $rc"; cat long_url.check.err
fi
# run opens it: the whole URL must reach the source (named in its error).
rc=0
"$streamcut" run long_url.ini >long_url.run.out 2>long_url.run.err || rc=$?
if [ "$rc" -eq 1 ] && grep -qF "'$long_url'" long_url.run.err; then
    pass "long_url: run exits 1 (missing input) naming the full 600-character URL"
else
    fail "long_url: run exits $rc (expected 1); stderr:"; cut -c1-200 long_url.run.err
fi

# A CRLF file with ordinary lines is fine.
base | sed 's/$/\r/' >crlf.ini
rc=0
"$streamcut" check crlf.ini >crlf.out 2>crlf.err || rc=$?
if [ "$rc" -eq 0 ] && grep -q ": ok" crlf.out; then pass "crlf: check accepts CRLF line ends"
else fail "crlf: check exits $rc"; cat crlf.err; fi

# ---- clip path templates that climb out of their folder -----------------------------
for template in 'out/{source}/../../x.ts' 'out/../{source}-{index}.ts' '../{source}-{index}.ts'; do
    name=escape
    base_with 13 "path = $template" >$name.ini
    rm -rf out
    rc=0
    "$streamcut" run $name.ini >$name.out 2>$name.err || rc=$?
    if [ "$rc" -eq 2 ] && grep -qF -- 'may not contain a ".." component' $name.err && grep -Eq "^$name\.ini:(10|13):" $name.err; then
        pass "escape: run refuses 'path = $template' with exit 2, naming the '..' component and the sink (line 10 or 13)"
    else
        fail "escape: run with 'path = $template' exits $rc; stderr:"; cat $name.err
    fi
    if [ -e out ] || [ -e x.ts ] || [ -e "$tmp/x.ts" ] || ls "$tmp"/src-* >/dev/null 2>&1 || [ -s $name.out ]; then
        fail "escape: something was written for 'path = $template'"; ls -la . "$tmp"
    fi
done

# ---- command line ---------------------------------------------------------------
rc=0
"$streamcut" run nonexistent.ini >/dev/null 2>nonexistent.err || rc=$?
if [ "$rc" -eq 2 ] && grep -qF "nonexistent.ini: cannot read pipeline file" nonexistent.err; then
    pass "run nonexistent.ini exits 2 naming the file"
else
    fail "run nonexistent.ini exits $rc"; cat nonexistent.err
fi
rc=0
"$streamcut" bogus >/dev/null 2>bogus.err || rc=$?
if [ "$rc" -eq 2 ] && grep -q "bad command line" bogus.err; then
    pass "streamcut bogus exits 2"
else
    fail "streamcut bogus exits $rc"; cat bogus.err
fi

# ---- a source that feeds no strategy is only a warning --------------------------------
{ base; printf '\n[source lonely]\nmodule = testsrc\n'; } >lonely.ini
rc=0
"$streamcut" check lonely.ini >lonely.out 2>lonely.err || rc=$?
if [ "$rc" -eq 0 ] && grep -qxF "lonely.ini: ok" lonely.out &&
    grep -i "warning" lonely.err | grep -F "lonely.ini:$((base_lines + 2)):" | grep -qF "[source lonely] feeds no strategy"; then
    pass "lonely: check exits 0 and warns 'lonely.ini:$((base_lines + 2)): [source lonely] feeds no strategy'"
else
    fail "lonely: check exits $rc; stdout/stderr:"; cat lonely.out lonely.err
fi

echo
if [ "$failures" -ne 0 ]; then
    echo "test_config_errors: $failures check(s) FAILED"
    exit 1
fi
echo "test_config_errors: all checks passed"
exit 0
