# Shared start of the redis sink's end-to-end tests (test_redis.sh,
# test_redis_cluster.sh), sourced after tests/lib.sh: checks for
# redis-server and redis-cli, makes the scratch folder (kept when KEEP is
# set) and kills every process whose pid is added to `started` at exit.
#
# redis_scratch NAME: the scratch folder streamcut-NAME.XXXXXX, entered.

for tool in redis-server redis-cli; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "FAIL: $tool not found: apt-get install redis-server redis-tools"
        exit 1
    fi
done
consumer=$top_srcdir/scripts/redis-consumer

started=()
redis_cleanup() {
    for pid in "${started[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}

redis_scratch() {
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/streamcut-$1.XXXXXX")
    trap redis_cleanup EXIT
    cd "$tmp"
}

# counter INSTANCE NAME LOG: a value from the end-of-run stats, 0 if absent.
counter() {
    local value
    value=$(grep -o "\[$1\] \(counters\|segments\):.*" "$3" | grep -o "\b$2=[0-9]*" | head -n1 | cut -d= -f2)
    echo "${value:-0}"
}

# testsrc_source NAME DURATION [extra lines]: a small, fast test stream.
testsrc_source() {
    printf '[source %s]\nmodule = testsrc\nduration = %s\nsize = 160x90\nrate = 10\ngop = 5\n' "$1" "$2"
    shift 2
    for line in "$@"; do printf '%s\n' "$line"; done
}

# redis_wait_ping PORT LOG: until the server on PORT answers (10 s at most;
# then its LOG is shown and the test fails).
redis_wait_ping() {
    local ticks=0
    until redis-cli -p "$1" PING 2>/dev/null | grep -q -e PONG -e NOAUTH; do
        ticks=$((ticks + 1))
        if [ "$ticks" -gt 100 ]; then
            echo "FAIL: redis-server on port $1 did not start"
            cat "$2"
            exit 1
        fi
        sleep 0.1
    done
}
