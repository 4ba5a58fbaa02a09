# Helpers shared by bench/survey.sh and bench/directory_consultations.sh (bench/platform.sh
# uses the first few and defines its own cleanup, start_and_wait and sign_in), sourced after
# they set ROOT. They read the caller's WORK, BIN, BASE_URL, KEEP, PG_BASE, PG_ADMIN_DB, PG_DBS,
# LOGIN, PASSWORD and SERVER_PID.

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required ($2)"; }

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$PG_BASE/$PG_ADMIN_DB" "$@"; }

stop_server() {
    local pid="${SERVER_PID:-}"
    [[ -n "$pid" ]] || return 0
    SERVER_PID=""
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    wait "$pid" 2>/dev/null || true
}

drop_db() { psql_admin -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null 2>&1 || true; }

cleanup() {
    stop_server
    local d
    for d in "${PG_DBS[@]+"${PG_DBS[@]}"}"; do drop_db "$d"; done
    if [[ -n "$KEEP" ]]; then
        mkdir -p "$KEEP"
        find "$WORK" -maxdepth 1 -type f \( -name '*.tsv' -o -name '*.log' -o -name '*.md' -o -name '*.txt' \) \
            -exec cp {} "$KEEP"/ \; 2>/dev/null || true
        log "logs and raw rows kept in $KEEP"
    fi
    rm -rf "$WORK"
}

# Starts the server (arguments: log file, env words..., --, tsunagu arguments) and waits for
# /readyz to answer 200.
start_and_wait() {
    local logf="$1"
    shift
    local envs=()
    while [[ "$1" != "--" ]]; do envs+=("$1"); shift; done
    shift
    (cd "$WORK" && exec env "${envs[@]+"${envs[@]}"}" TSUNAGU_LOG_LEVEL=warn "$BIN" "$@") >"$logf" 2>&1 &
    SERVER_PID=$!
    local deadline=$((SECONDS + 120))
    until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/readyz" 2>/dev/null)" == "200" ]]; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -20 "$logf" >&2
            SERVER_PID=""
            die "server exited before it was ready (log above)"
        fi
        ((SECONDS < deadline)) || die "server not ready after 120 s"
        sleep 0.1
    done
}

# Signs in as $LOGIN; prints the Cookie header value of the session.
sign_in() {
    local jar="$WORK/jar" token code
    rm -f "$jar"
    token=$(curl -fsS -c "$jar" -b "$jar" "$BASE_URL/login" |
        sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
    [[ -n "$token" ]] || die "no csrf_token on /login"
    code=$(curl -sS -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" -H "Origin: $BASE_URL" \
        --data-urlencode "login_id=$LOGIN" --data-urlencode "password=$PASSWORD" \
        --data-urlencode "csrf_token=$token" "$BASE_URL/login")
    [[ "$code" == "303" ]] || die "sign-in as $LOGIN answered $code, not 303"
    awk '$6 == "tsunagu_session" { printf "tsunagu_session=%s", $7 }' "$jar"
}
