#!/usr/bin/env bash
# Platform benchmarks for Tsunagu: cold start to ready, idle memory, and HTTP throughput and
# latency of the signed-in home page, on SQLite and on PostgreSQL.
#
# Measurements, not tests: the script prints a Markdown report on stdout (progress goes to
# stderr) and exits 0 whatever the figures are. It exits non-zero only when it could not measure
# (missing tool, server that does not start, sign-in that fails).
#
# Usage: bash bench/platform.sh            (from anywhere; see bench/README.md for the settings)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# --- settings (environment) -----------------------------------------------------------------
BACKENDS="${BENCH_BACKENDS:-sqlite postgres}"
RUNS="${BENCH_RUNS:-5}"
DURATION="${BENCH_DURATION:-30s}"
WARMUP="${BENCH_WARMUP:-5s}"
CONNECTIONS="${BENCH_CONNECTIONS:-50}"
THREADS="${BENCH_THREADS:-2}"
PORT="${BENCH_PORT:-}"                    # default: the first free port from 18480 on
LOGIN="${BENCH_LOGIN:-coordinator}"
PASSWORD="${TSUNAGU_DEMO_PASSWORD:-tsunagu-demo-2026}"
PG_BASE="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PG_ADMIN_DB="${BENCH_PG_ADMIN_DB:-test}"
QUIET_PCT="${BENCH_QUIET_PCT:-15}"       # wait before each load run until other CPU use is below this
QUIET_TIMEOUT="${BENCH_QUIET_TIMEOUT:-600}" # ... but at most this many seconds
IDLE_SETTLE="${BENCH_IDLE_SETTLE:-3}"     # seconds of quiet before an "idle" RSS reading
RETRIES="${BENCH_RETRIES:-2}"             # re-runs of a load row when other load during it passed BENCH_QUIET_PCT
KEEP="${BENCH_KEEP:-}"                    # folder to keep raw wrk output and server logs in
SIGNINS="${BENCH_SIGNINS:-8}"             # sign-ins after the load runs, to see memory grow or not
BURST="${BENCH_SIGNIN_BURST:-10s}"        # concurrent sign-ins at the end (0: none)
# Connections for that burst. Kept below BENCH_CONNECTIONS on purpose: at 50 the server of
# 8f1d985 reached 6-7 GiB RSS in 10 s, on a machine other people share.
BURST_CONNECTIONS="${BENCH_BURST_CONNECTIONS:-10}"
read -r -a SERVER_ENV <<<"${BENCH_SERVER_ENV:-}" # extra VAR=value for the server, e.g. MALLOC_ARENA_MAX=2

HOST=127.0.0.1
port_in_use() { { exec {_fd}<>"/dev/tcp/$HOST/$1"; } 2>/dev/null && { exec {_fd}>&-; return 0; }; return 1; }
if [[ -z "$PORT" ]]; then
    PORT=18480
    while port_in_use "$PORT"; do PORT=$((PORT + 1)); done
fi
BASE_URL="http://$HOST:$PORT"

# log, die, need, psql_admin, stop_server, drop_db; this script keeps its own cleanup,
# start_and_wait and sign_in (it keeps all raw output, times the start, signs in anyone).
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
need curl "apt-get install -y curl"
need wrk "apt-get install -y wrk"
need awk "apt-get install -y gawk"
for b in $BACKENDS; do
    case "$b" in
        sqlite) ;;
        postgres) need psql "apt-get install -y postgresql-client" ;;
        *) die "unknown backend '$b' in BENCH_BACKENDS (sqlite, postgres)" ;;
    esac
done

# --- the binary -----------------------------------------------------------------------------
if [[ -n "${TSUNAGU_BIN:-}" ]]; then
    BIN="$TSUNAGU_BIN"
    [[ -x "$BIN" ]] || die "TSUNAGU_BIN=$BIN is not an executable"
else
    BIN="$ROOT/target/release/tsunagu"
    need cargo "the Rust toolchain"
    log "cargo build --release (a no-op when the binary is up to date)"
    (cd "$ROOT" && cargo build --release --quiet -p tsunagu) >&2 || die "release build failed"
fi
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"

if [[ -n "${BENCH_COMMIT:-}" ]]; then
    COMMIT="$BENCH_COMMIT"
elif git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
    COMMIT="$(git -C "$ROOT" rev-parse --short HEAD)"
    if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
        COMMIT="$COMMIT (work tree has uncommitted changes)"
    fi
else
    COMMIT="unknown"
fi

DEMO_ON_PG=0
if "$BIN" demo --help 2>/dev/null | grep -q -- '--database-url'; then DEMO_ON_PG=1; fi

# --- temporary state and cleanup ------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tsunagu-bench.XXXXXX")"
SERVER_PID=""
PG_DBS=()

cleanup() {
    stop_server
    local d
    for d in "${PG_DBS[@]+"${PG_DBS[@]}"}"; do drop_db "$d"; done
    if [[ -n "$KEEP" ]]; then
        mkdir -p "$KEEP"
        cp -r "$WORK"/. "$KEEP"/ 2>/dev/null || true
        find "$KEEP" \( -name '*.sqlite3*' -o -name 'jar*' \) -delete 2>/dev/null || true
        find "$KEEP" -mindepth 1 -type d -empty -delete 2>/dev/null || true
        log "raw output kept in $KEEP"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Creates an empty database and sets NEW_DB to its name (not printed: PG_DBS must be set in
# this shell for the cleanup).
NEW_DB=""
new_pg_db() {
    NEW_DB="tsunagu_bench_$$_$1"
    drop_db "$NEW_DB"
    psql_admin -c "CREATE DATABASE \"$NEW_DB\"" >/dev/null
    PG_DBS+=("$NEW_DB")
}

# --- helpers --------------------------------------------------------------------------------

# The status code of GET $1 on the server, over bash's /dev/tcp (no process started, so the
# poll itself costs next to nothing); empty when nothing listens yet.
http_status() {
    local fd line
    { exec {fd}<>"/dev/tcp/$HOST/$PORT"; } 2>/dev/null || return 1
    printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$1" "$HOST" "$PORT" >&"$fd" 2>/dev/null || {
        exec {fd}>&-
        return 1
    }
    IFS=' ' read -r -t 5 -u "$fd" _ line _ || line=""
    exec {fd}>&-
    printf '%s' "$line"
}

# Seconds elapsed since $1 (an $EPOCHREALTIME reading), as a decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }

# Starts the server with the environment in START_ENV (arguments: log file, then the tsunagu
# arguments) and waits for /readyz to answer 200. Sets SERVER_PID, and READY_SECS to the seconds
# from process start to ready.
START_ENV=()
READY_SECS=""
start_and_wait() {
    local logf="$1"
    shift
    # Another server on the port would answer /readyz for ours.
    if port_in_use "$PORT"; then
        log "port $PORT is in use (another server?); set BENCH_PORT"
        return 1
    fi
    local t0="$EPOCHREALTIME"
    (cd "$WORK" && exec env "${SERVER_ENV[@]+"${SERVER_ENV[@]}"}" "${START_ENV[@]+"${START_ENV[@]}"}" \
        "$BIN" "$@") >"$logf" 2>&1 &
    SERVER_PID=$!
    local deadline=$((SECONDS + 60))
    while :; do
        if [[ "$(http_status /readyz || true)" == "200" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
            READY_SECS=$(since "$t0")
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "server exited before it was ready; its log:"
            tail -20 "$logf" >&2
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=""
            return 1
        fi
        ((SECONDS < deadline)) || {
            log "server not ready after 60 s"
            return 1
        }
        sleep 0.002
    done
}

# VmRSS / VmHWM of the server, in MiB.
mem_of() {
    awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"
}

# Median and max of numbers on stdin: "median max", with $1 decimals.
median_max() {
    sort -g | awk -v d="${1:-3}" '{ v[NR] = $1 } END {
        if (NR == 0) { print "n/a n/a"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.*f %.*f\n", d, m, d, v[NR] }'
}

# Percent of CPU time busy over one second (the server is idle then, so this is other load).
cpu_busy_pct() {
    local a b
    a=$(awk '/^cpu /{ print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu /{ print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        t = y[2] - x[2]; printf "%.0f", (t > 0) ? 100 * (y[1] - x[1]) / t : 0 }'
}

loadavg() { awk '{ print $1 }' /proc/loadavg; }

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# "busy total" clock ticks of the whole machine, from /proc/stat.
machine_ticks() { awk '/^cpu /{ print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }

# Clock ticks used so far by the system under test: the server and any PostgreSQL process.
sut_ticks() {
    local f t=0 comm rest
    for f in /proc/[0-9]*/stat; do
        { read -r _ comm rest <"$f"; } 2>/dev/null || continue
        if [[ "$comm" == "(postgres)" || "$f" == "/proc/$SERVER_PID/stat" ]]; then
            read -r -a rest <<<"$rest"
            # utime and stime are fields 14 and 15 of the file, 12 and 13 of what follows comm.
            t=$((t + rest[11] + rest[12]))
        fi
    done
    printf '%s' "$t"
}

# Waits until the rest of the machine is quiet (other engineers may be compiling). Prints the
# busy percentage measured last; appends " (busy)" when it gave up waiting.
wait_quiet() {
    local start=$SECONDS pct
    while :; do
        pct=$(cpu_busy_pct)
        if ((pct <= QUIET_PCT)); then
            printf '%s%%' "$pct"
            return
        fi
        if ((SECONDS - start >= QUIET_TIMEOUT)); then
            log "machine still ${pct}% busy after ${QUIET_TIMEOUT}s; measuring anyway"
            printf '%s%% (still busy)' "$pct"
            return
        fi
        log "other load ${pct}% CPU (load average $(loadavg)); waiting"
        sleep 10
    done
}

# Percent-encodes $1 for a form body (ASCII; issued passwords contain '-' and '#').
urlencode() {
    local s="$1" out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c="${s:i:1}"
        case "$c" in
            [A-Za-z0-9._~-]) out+="$c" ;;
            *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

# Signs in as $LOGIN and prints the session token.
sign_in() {
    local jar="$WORK/jar" token
    rm -f "$jar"
    token=$(curl -fsS -c "$jar" -b "$jar" "$BASE_URL/login" |
        sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
    [[ -n "$token" ]] || die "no csrf_token on /login"
    local code
    code=$(curl -sS -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
        -H "Origin: $BASE_URL" \
        --data-urlencode "login_id=$LOGIN" --data-urlencode "password=$SIGNIN_PASSWORD" \
        --data-urlencode "csrf_token=$token" "$BASE_URL/login")
    [[ "$code" == "303" ]] || die "sign-in as $LOGIN answered $code, not 303"
    awk '$6 == "tsunagu_session" { print $7 }' "$jar"
}

# Size in bytes (headers + body) of one response, as wrk would read it, with extra headers.
response_size() {
    local path="$1"
    shift
    curl -sS -o /dev/null -w '%{http_code} %{size_header} %{size_download}' "$@" "$BASE_URL$path" |
        awk '{ print $1, $2 + $3 }'
}

# Converts wrk's "13.08ms" / "950.00us" / "1.20s" / "2.00m" to milliseconds.
AWK_MS='function ms(v) {
    if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
    if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
    if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
    if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
    return v + 0 }
function bytes(v) {
    if (v ~ /GB$/) return substr(v, 1, length(v) - 2) * 1073741824
    if (v ~ /MB$/) return substr(v, 1, length(v) - 2) * 1048576
    if (v ~ /KB$/) return substr(v, 1, length(v) - 2) * 1024
    if (v ~ /B$/)  return substr(v, 1, length(v) - 1) + 0
    return v + 0 }'

# Parses a wrk --latency report into "rps p50 p90 p99 max requests non2xx3xx socket_errors bytes_per_response".
parse_wrk() {
    awk "$AWK_MS"'
        /^    Latency/   { max = ms($4) }
        /^ +50%/         { p50 = ms($2) }
        /^ +90%/         { p90 = ms($2) }
        /^ +99%/         { p99 = ms($2) }
        / requests in /  { n = $1; rd = $5; sub(/read$/, "", rd); b = bytes(rd) }
        /Socket errors:/ { gsub(/,/, ""); se = $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx/ { bad = $5 }
        /^Requests\/sec/ { rps = $2 }
        END { printf "%.0f %.2f %.2f %.2f %.2f %d %d %d %.0f\n",
              rps, p50, p90, p99, max, n, bad + 0, se + 0, (n > 0) ? b / n : 0 }' "$1"
}

# One load run. Arguments: label, path, expected status, then extra wrk/curl header arguments.
# Appends a table row to $WORK/http.md.
load_run() {
    local backend="$1" label="$2" path="$3" want="$4"
    shift 4
    local hdr=("$@") curl_hdr=() wrk_hdr=() h
    for h in "${hdr[@]+"${hdr[@]}"}"; do
        curl_hdr+=(-H "$h")
        wrk_hdr+=(-H "$h")
    done
    local before code expect_size
    read -r code expect_size < <(response_size "$path" "${curl_hdr[@]+"${curl_hdr[@]}"}")
    [[ "$code" == "$want" ]] || die "$path answered $code before the run, expected $want"
    local out="$WORK/wrk-$backend-$(tr -c 'a-z0-9' '_' <<<"$label").txt"
    local la m0 s0 m1 s1 wrk_cpu during attempt
    for ((attempt = 0; attempt <= RETRIES; attempt++)); do
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "${wrk_hdr[@]+"${wrk_hdr[@]}"}" "$BASE_URL$path" >/dev/null
        before=$(wait_quiet)
        la=$(loadavg)
        log "$backend $label: wrk -t$THREADS -c$CONNECTIONS -d$DURATION (other load ${before} CPU, load average $la)"
        # CPU of everything else on the machine during the run: machine busy time less the
        # server, PostgreSQL and wrk.
        m0=$(machine_ticks)
        s0=$(sut_ticks)
        local TIMEFORMAT='%3U %3S'
        { time wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${wrk_hdr[@]+"${wrk_hdr[@]}"}" \
            "$BASE_URL$path" >"$out"; } 2>"$out.time"
        m1=$(machine_ticks)
        s1=$(sut_ticks)
        wrk_cpu=$(awk '{ print $1 + $2 }' "$out.time")
        during=$(awk -v a="$m0" -v b="$m1" -v s="$((s1 - s0))" -v w="$wrk_cpu" -v hz="$CLK_TCK" 'BEGIN {
            split(a, x, " "); split(b, y, " "); t = y[2] - x[2]
            o = (y[1] - x[1]) - s - w * hz; if (o < 0) o = 0
            printf "%.0f%%", (t > 0) ? 100 * o / t : 0 }')
        ((${during%\%} <= QUIET_PCT)) && break
        if ((attempt < RETRIES)); then
            log "$backend $label: other load during the run was $during; running it again"
            cp "$out" "$out.disturbed-$attempt"
        fi
    done
    if ((${during%\%} > QUIET_PCT)); then during="$during (disturbed)"; fi
    local after
    read -r code after < <(response_size "$path" "${curl_hdr[@]+"${curl_hdr[@]}"}")
    local rps p50 p90 p99 max n bad se bpr
    read -r rps p50 p90 p99 max n bad se bpr < <(parse_wrk "$out")
    # wrk counts 3xx as success: a lost session would turn "/" into a 303 to /login. Compare the
    # bytes read per response with the size of the page to catch that.
    local note=""
    if [[ "$code" != "$want" ]]; then note="answered $code after the run; "; fi
    note+=$(awk -v a="$bpr" -v e="$expect_size" 'BEGIN {
        if (e > 0 && (a < 0.9 * e || a > 1.1 * e)) printf "%.0f B/response read, page is %d B: other responses mixed in", a, e }')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$backend" "$label" "$rps" "$p50" "$p90" "$p99" "$max" "$n" "$bad" "$se" \
        "${before} / $during / $la" "${note:-ok, $bpr B/response}" >>"$WORK/http.md"
}

# Concurrent sign-ins (POST /login with the right password from every connection): what argon2
# costs in time and memory. Appends a row to $WORK/http.md and "peak idle" to $WORK/burst.txt.
signin_burst() {
    local backend="$1" jar="$WORK/jar-burst" token lua="$WORK/signin.lua"
    rm -f "$jar"
    token=$(curl -fsS -c "$jar" "$BASE_URL/login" |
        sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
    [[ -n "$token" ]] || die "no csrf_token on /login"
    local body
    body="login_id=$(urlencode "$LOGIN")&password=$(urlencode "$SIGNIN_PASSWORD")&csrf_token=$(urlencode "$token")"
    cat >"$lua" <<LUA
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "tsunagu_csrf=$token"
LUA
    local before la out="$WORK/wrk-$backend-signin-burst.txt"
    before=$(wait_quiet)
    la=$(loadavg)
    log "$backend sign-in burst: wrk -t$THREADS -c$BURST_CONNECTIONS -d$BURST POST /login"
    local m0 s0 m1 s1
    m0=$(machine_ticks)
    s0=$(sut_ticks)
    local TIMEFORMAT='%3U %3S'
    { time wrk -t"$THREADS" -c"$BURST_CONNECTIONS" -d"$BURST" --timeout 10s --latency -s "$lua" "$BASE_URL/login" >"$out"; } 2>"$out.time"
    m1=$(machine_ticks)
    s1=$(sut_ticks)
    local during
    during=$(awk -v a="$m0" -v b="$m1" -v s="$((s1 - s0))" -v w="$(awk '{ print $1 + $2 }' "$out.time")" -v hz="$CLK_TCK" 'BEGIN {
        split(a, x, " "); split(b, y, " "); t = y[2] - x[2]
        o = (y[1] - x[1]) - s - w * hz; if (o < 0) o = 0
        printf "%.0f%%", (t > 0) ? 100 * o / t : 0 }')
    local peak
    peak=$(mem_of VmHWM)
    # tokio ends idle blocking threads after 10 s
    sleep 12
    local idle
    idle=$(mem_of VmRSS)
    local rps p50 p90 p99 max n bad se bpr
    read -r rps p50 p90 p99 max n bad se bpr < <(parse_wrk "$out")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$backend" "POST /login, $BURST_CONNECTIONS at once" "$rps" "$p50" "$p90" "$p99" "$max" "$n" "$bad" "$se" \
        "${before} / $during / $la" "sign-ins; peak RSS $peak MiB, $idle MiB 12 s later" >>"$WORK/http.md"
    printf '%s %s %s\n' "$backend" "$peak" "$idle" >>"$WORK/burst.txt"
}

# --- 1. cold start --------------------------------------------------------------------------
# Arguments: backend, mode (serve: migrations + reference data on an empty database; demo: the
# same plus the demo organisations and accounts). Appends to $WORK/start.md.
cold_start() {
    local backend="$1" mode="$2" i secs rss times=() rsses=() quiet la
    quiet=$(wait_quiet)
    la=$(loadavg)
    for i in $(seq 1 "$RUNS"); do
        local logf="$WORK/start-$backend-$mode-$i.log" args=() envs=()
        case "$backend/$mode" in
            sqlite/serve)
                mkdir -p "$WORK/cold-$mode-$i"
                envs=(TSUNAGU_DATABASE_URL="sqlite://$WORK/cold-$mode-$i/tsunagu.sqlite3"
                    TSUNAGU_AUDIT_KEY_FILE="$WORK/cold-$mode-$i/tsunagu-audit.key"
                    TSUNAGU_AUDIT_CHECKPOINT_FILE="$WORK/cold-$mode-$i/tsunagu-audit.checkpoints")
                args=(serve --bind "$HOST:$PORT") ;;
            sqlite/demo)
                args=(demo --data-dir "$WORK/cold-$mode-$i" --bind "$HOST:$PORT") ;;
            postgres/serve)
                new_pg_db "cold_${mode}_$i"
                local db="$NEW_DB"
                mkdir -p "$WORK/cold-pg-$mode-$i"
                envs=(TSUNAGU_DATABASE_URL="$PG_BASE/$db"
                    TSUNAGU_AUDIT_KEY_FILE="$WORK/cold-pg-$mode-$i/tsunagu-audit.key"
                    TSUNAGU_AUDIT_CHECKPOINT_FILE="$WORK/cold-pg-$mode-$i/tsunagu-audit.checkpoints")
                args=(serve --bind "$HOST:$PORT") ;;
            postgres/demo)
                new_pg_db "cold_${mode}_$i"
                local db="$NEW_DB"
                args=(demo --database-url "$PG_BASE/$db" --data-dir "$WORK/cold-pg-$mode-$i" --bind "$HOST:$PORT") ;;
        esac
        START_ENV=("${envs[@]+"${envs[@]}"}")
        start_and_wait "$logf" "${args[@]}" || die "$backend $mode did not start"
        secs="$READY_SECS"
        sleep 0.2
        rss=$(mem_of VmRSS)
        stop_server
        [[ "$backend" == postgres ]] && drop_db "tsunagu_bench_$$_cold_${mode}_$i"
        times+=("$secs")
        rsses+=("$rss")
        log "$backend $mode run $i: ready in ${secs}s, RSS ${rss} MiB"
    done
    local tm tx rm rx
    read -r tm tx < <(printf '%s\n' "${times[@]}" | median_max)
    read -r rm rx < <(printf '%s\n' "${rsses[@]}" | median_max 1)
    printf '%s %s %s %s %s %s %s %s\n' "$backend" "$mode" "$tm" "$tx" "$rm" "$rx" "${quiet// /_}" "$la" >>"$WORK/start.txt"
}

# Without `demo --database-url`: an empty PostgreSQL database gets the schema from
# `tsunagu migrate`, one organisation by SQL and one account by `tsunagu user add`, whose issued
# password is used and whose "change at first sign-in" flag is cleared by SQL. Sets
# SIGNIN_PASSWORD.
pg_accounts() {
    local url="$1" now out role
    case "$LOGIN" in
        admin) role=system_admin ;;
        pref) role=prefecture_officer ;;
        coordinator) role=center_coordinator ;;
        municipal) role=municipal_officer ;;
        hospital) role=hospital_staff ;;
        trainer) role=training_staff ;;
        *) role=viewer ;;
    esac
    (cd "$WORK" && TSUNAGU_DATABASE_URL="$url" "$BIN" migrate) >>"$WORK/pg-setup.log" 2>&1 ||
        die "tsunagu migrate failed (see $WORK/pg-setup.log)"
    now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
    psql -X -q -v ON_ERROR_STOP=1 "$url" -c "INSERT INTO organisations (id, kind, name, created_at, updated_at)
        VALUES (gen_random_uuid()::text, 'support_center', 'ベンチマーク支援センター', '$now', '$now')" >/dev/null
    out=$(cd "$WORK" && TSUNAGU_DATABASE_URL="$url" "$BIN" user add --login "$LOGIN" --name ベンチ \
        --org ベンチマーク支援センター --role "$role" 2>>"$WORK/pg-setup.log") || die "tsunagu user add failed"
    SIGNIN_PASSWORD=$(sed -n 's/.*パスワード: *//p' <<<"$out")
    [[ -n "$SIGNIN_PASSWORD" ]] || die "no password in the output of tsunagu user add: $out"
    psql -X -q -v ON_ERROR_STOP=1 "$url" \
        -c "UPDATE users SET must_change_password = 0 WHERE login_id = '$LOGIN'" >/dev/null
}

# Cross-check with hyperfine, when installed: `tsunagu migrate` (migrations + reference data,
# then exit) on an empty database. Appends "backend median max" (seconds) to $WORK/migrate.txt.
migrate_hyperfine() {
    local backend="$1"
    local prepare url csv="$WORK/hyperfine-$backend.csv"
    command -v hyperfine >/dev/null 2>&1 || return 0
    case "$backend" in
        sqlite)
            url="sqlite://$WORK/hf/tsunagu.sqlite3"
            prepare="rm -rf '$WORK/hf' && mkdir -p '$WORK/hf'" ;;
        postgres)
            local name="tsunagu_bench_$$_hf"
            PG_DBS+=("$name")
            url="$PG_BASE/$name"
            prepare="psql -X -q '$PG_BASE/$PG_ADMIN_DB' -c 'DROP DATABASE IF EXISTS $name WITH (FORCE)' -c 'CREATE DATABASE $name'" ;;
    esac
    wait_quiet >/dev/null
    log "$backend: hyperfine 'tsunagu migrate' on an empty database"
    (cd "$WORK" && TSUNAGU_DATABASE_URL="$url" TSUNAGU_LOG_LEVEL=warn hyperfine --style none \
        --warmup 1 --runs "$RUNS" --prepare "$prepare" --export-csv "$csv" "$BIN migrate") >/dev/null 2>&1 ||
        { log "hyperfine failed for $backend"; return 0; }
    awk -F, 'NR == 2 { printf "%s %.3f %.3f\n", b, $4, $8 }' b="$backend" "$csv" >>"$WORK/migrate.txt"
}

# --- 2 and 3. memory and load, on one demo server per backend --------------------------------
load_backend() {
    local backend="$1"
    local logf="$WORK/server-$backend.log" args=()
    START_ENV=()
    SIGNIN_PASSWORD="$PASSWORD"
    case "$backend" in
        sqlite) args=(demo --data-dir "$WORK/load-sqlite" --bind "$HOST:$PORT") ;;
        postgres)
            new_pg_db load
            local db="$NEW_DB"
            if [[ "$DEMO_ON_PG" == 1 ]]; then
                args=(demo --database-url "$PG_BASE/$db" --bind "$HOST:$PORT")
            else
                pg_accounts "$PG_BASE/$db"
                START_ENV=(TSUNAGU_DATABASE_URL="$PG_BASE/$db" 'TSUNAGU_REQUIRE_2FA_ROLES=[]')
                args=(serve --bind "$HOST:$PORT")
            fi ;;
    esac
    start_and_wait "$logf" "${args[@]}" || die "$backend demo server did not start"
    sleep "$IDLE_SETTLE"
    local rss_start
    rss_start=$(mem_of VmRSS)
    local session
    session=$(sign_in)
    [[ -n "$session" ]] || die "no session cookie after sign-in"
    sleep "$IDLE_SETTLE"
    local rss_signin
    rss_signin=$(mem_of VmRSS)
    local cookie="Cookie: tsunagu_session=$session"
    load_run "$backend" "/ signed in" / 200 "$cookie"
    load_run "$backend" "/ signed in, gzip" / 200 "$cookie" "Accept-Encoding: gzip, deflate, br, zstd"
    load_run "$backend" "/login anonymous" /login 200
    load_run "$backend" "/healthz" /healthz 200
    sleep "$IDLE_SETTLE"
    local rss_after hwm threads rss_signins i
    rss_after=$(mem_of VmRSS)
    log "$backend: $SIGNINS more sign-ins, one after another"
    for ((i = 0; i < SIGNINS; i++)); do sign_in >/dev/null; done
    sleep "$IDLE_SETTLE"
    rss_signins=$(mem_of VmRSS)
    hwm=$(mem_of VmHWM)
    if [[ "$BURST" != 0 ]]; then signin_burst "$backend"; fi
    threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$SERVER_PID/status")
    local errors
    errors=$(grep -cE ' (ERROR|WARN) |panicked' "$logf" || true)
    stop_server
    printf '%s %s %s %s %s %s %s %s\n' "$backend" "$rss_start" "$rss_signin" "$rss_after" "$rss_signins" \
        "$hwm" "$threads" "$errors" >>"$WORK/mem.txt"
}

# --- run ------------------------------------------------------------------------------------
: >"$WORK/start.txt"
: >"$WORK/mem.txt"
: >"$WORK/http.md"
: >"$WORK/burst.txt"
: >"$WORK/migrate.txt"
LOAD_BEFORE="$(loadavg)"
for b in $BACKENDS; do
    cold_start "$b" serve
    migrate_hyperfine "$b"
    if [[ "$b" == sqlite || "$DEMO_ON_PG" == 1 ]]; then cold_start "$b" demo; fi
done
for b in $BACKENDS; do
    if [[ "$b" == postgres && "$DEMO_ON_PG" != 1 ]]; then
        log "this build's 'demo' cannot load into PostgreSQL (no --database-url): using migrate + user add"
    fi
    load_backend "$b"
done

# --- report ---------------------------------------------------------------------------------
mib_total=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
pg_version=""
if [[ " $BACKENDS " == *" postgres "* ]]; then
    pg_version=$(psql_admin -At -c 'SHOW server_version' 2>/dev/null | awk '{ print $1 }')
fi

cat <<EOF
## Platform benchmark, $(date -u +%Y-%m-%dT%H:%MZ)

- commit: \`$COMMIT\`; binary: \`$BIN\`
- machine: $(nproc) cores ($cpu_model), ${mib_total} GiB memory, $(uname -sr)
- load average at start: $LOAD_BEFORE; at end: $(loadavg)
- PostgreSQL: ${pg_version:-not measured} (local server, trust auth, over TCP on 127.0.0.1)
- load: wrk $(wrk -v 2>&1 | awk 'NR==1 { print $2 }'), $THREADS threads, $CONNECTIONS connections, $DURATION per row after a $WARMUP warm-up, on the same machine as the server
- signed in as \`$LOGIN\` (demo data$([[ "$DEMO_ON_PG" == 1 ]] || printf ' on SQLite; see the note on PostgreSQL below'))${SERVER_ENV[*]:+; server environment: \`${SERVER_ENV[*]}\`}

### Cold start to first 200 on /readyz ($RUNS runs each, fresh database every run)

| backend | command | median | max | RSS at ready, median | RSS max | other CPU before / load avg |
|---|---|---|---|---|---|---|
EOF
while read -r b m tm tx rm rx q la; do
    what="serve (migrations + reference data)"
    [[ "$m" == demo ]] && what="demo (also demo organisations and accounts)"
    printf '| %s | %s | %s s | %s s | %s MiB | %s MiB | %s / %s |\n' "$b" "$what" "$tm" "$tx" "$rm" "$rx" "${q//_/ }" "$la"
done <"$WORK/start.txt"

if [[ -s "$WORK/migrate.txt" ]]; then
    printf '\nCross-check, hyperfine (%s runs, 1 warm-up): `tsunagu migrate` on an empty database, process start to exit:\n' "$RUNS"
    while read -r b m x; do printf -- '- %s: median %s s, max %s s\n' "$b" "$m" "$x"; done <"$WORK/migrate.txt"
fi

cat <<EOF

### Memory of the load-test server (demo data)

Idle readings, each ${IDLE_SETTLE} s after the step before it.

| backend | after start | after 1 sign-in | after the load runs | after $SIGNINS more sign-ins | peak until then (VmHWM) | peak in the sign-in burst | 12 s after the burst | threads at the end | WARN/ERROR log lines |
|---|---|---|---|---|---|---|---|---|---|
EOF
while read -r b s si a sn h t e; do
    bp="n/a" bi="n/a"
    read -r _ bp bi < <(awk -v b="$b" '$1 == b { print; f = 1 } END { if (!f) print "x n/a n/a" }' "$WORK/burst.txt")
    [[ "$bp" == n/a ]] || bp="$bp MiB"
    [[ "$bi" == n/a ]] || bi="$bi MiB"
    printf '| %s | %s MiB | %s MiB | %s MiB | %s MiB | %s MiB | %s | %s | %s | %s |\n' "$b" "$s" "$si" "$a" "$sn" "$h" "$bp" "$bi" "$t" "$e"
done <"$WORK/mem.txt"

cat <<EOF

### HTTP under load (latency in ms)

| backend | request | req/s | p50 | p90 | p99 | max | requests | non-2xx/3xx | socket errors | other CPU before / during, load avg | check |
|---|---|---|---|---|---|---|---|---|---|---|---|
EOF
cat "$WORK/http.md"
if [[ " $BACKENDS " == *" postgres "* && "$DEMO_ON_PG" != 1 ]]; then
    printf '\nThis build of `tsunagu demo` has no `--database-url`: the PostgreSQL server ran `serve` on a
database made by `tsunagu migrate`, one organisation inserted by SQL and one `%s` account from
`tsunagu user add` (first-sign-in password change cleared by SQL), with
`TSUNAGU_REQUIRE_2FA_ROLES=[]`. No PostgreSQL `demo` cold start.\n' "$LOGIN"
fi
