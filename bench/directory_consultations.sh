#!/usr/bin/env bash
# Directory and consultation desk at the scale of issue 3: 50,000 resources and 200,000
# consultations over 10 年度, on SQLite and on PostgreSQL. Measures the per-request latency of
# the directory search, the public directory, the consultation list and its keyword search, and
# the statistics of a 年度, each sequentially and with concurrent clients.
#
# Measurements, not tests: prints a Markdown report on stdout (progress on stderr) and exits 0
# whatever the figures are; non-zero only when it could not measure.
#
# Usage: bash bench/directory_consultations.sh      (settings: see bench/README.md)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCALE="$ROOT/bench/scale"

BACKENDS="${BENCH_BACKENDS:-sqlite postgres}"
PORT="${BENCH_PORT:-18490}"
RESOURCES="${BENCH_RESOURCES:-50000}"
CONSULTATIONS="${BENCH_CONSULTATIONS:-200000}"
REQUESTS="${BENCH_REQUESTS:-200}"
CONCURRENCY="${BENCH_CONCURRENCY:-8}"
QUIET_PCT="${BENCH_QUIET_PCT:-25}"
QUIET_TIMEOUT="${BENCH_QUIET_TIMEOUT:-300}"
LOGIN="${BENCH_LOGIN:-coordinator}"
PASSWORD="${TSUNAGU_DEMO_PASSWORD:-tsunagu-demo-2026}"
PG_BASE="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PG_ADMIN_DB="${BENCH_PG_ADMIN_DB:-test}"
KEEP="${BENCH_KEEP:-}"
ONLY="${BENCH_ONLY:-}"
EXPLAIN="${BENCH_EXPLAIN:-1}"
RETRIES="${BENCH_RETRIES:-2}"
EXTRA_SQL="${BENCH_EXTRA_SQL:-}"   # SQL applied after loading, e.g. a candidate index
if [[ -n "$EXTRA_SQL" ]]; then
    [[ -f "$EXTRA_SQL" ]] || { echo "BENCH_EXTRA_SQL=$EXTRA_SQL: no such file" >&2; exit 2; }
    EXTRA_SQL="$(cd "$(dirname "$EXTRA_SQL")" && pwd)/$(basename "$EXTRA_SQL")"
fi

HOST=127.0.0.1
BASE_URL="http://$HOST:$PORT"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
need curl "apt-get install -y curl"
need python3 "Python 3.11 or later"
for b in $BACKENDS; do
    # The audit key and checkpoints of this backend's database, for every command run on it.
    mkdir -p "$WORK/$b"
    export TSUNAGU_AUDIT_KEY_FILE="$WORK/$b/tsunagu-audit.key"
    export TSUNAGU_AUDIT_CHECKPOINT_FILE="$WORK/$b/tsunagu-audit.checkpoints"
    case "$b" in
        sqlite) ;;
        postgres) need psql "apt-get install -y postgresql-client" ;;
        *) die "unknown backend '$b' in BENCH_BACKENDS (sqlite, postgres)" ;;
    esac
done

# --- the binary: built when missing (or with BENCH_BUILD=1) ---------------------------------
if [[ -n "${TSUNAGU_BIN:-}" ]]; then
    BIN="$TSUNAGU_BIN"
else
    BIN="$ROOT/target/release/tsunagu"
    if [[ ! -x "$BIN" || "${BENCH_BUILD:-0}" == 1 ]]; then
        need cargo "the Rust toolchain"
        log "cargo build --release -p tsunagu"
        (cd "$ROOT" && cargo build --release --quiet -p tsunagu) >&2 || die "release build failed"
    fi
fi
[[ -x "$BIN" ]] || die "$BIN is not an executable"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
STALE=""
if [[ -z "${TSUNAGU_BIN:-}" ]] && [[ -n "$(find "$ROOT/crates" -newer "$BIN" -type f -print -quit 2>/dev/null)" ]]; then
    STALE="yes"
    log "note: sources under crates/ are newer than $BIN (BENCH_BUILD=1 rebuilds it)"
fi
if "$BIN" demo --help 2>/dev/null | grep -q -- '--database-url'; then :; else
    case " $BACKENDS " in *" postgres "*) die "this build of tsunagu demo has no --database-url" ;; esac
fi
BIN_STAMP="$(date -u -r "$BIN" +%Y-%m-%dT%H:%MZ)"
if [[ -n "${BENCH_COMMIT:-}" ]]; then
    COMMIT="$BENCH_COMMIT"
else
    COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]]; then COMMIT="working tree after $COMMIT"; fi
fi

# --- temporary state and cleanup ------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tsunagu-dc.XXXXXX")"
SERVER_PID=""
PG_DBS=()

trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy of the binary: a rebuild in the work tree during the run must not change what is measured.
cp "$BIN" "$WORK/tsunagu"
BIN="$WORK/tsunagu"

ROWS=()
EXPLAINS=()
SIZES=()
# Runs one backend: demo database, scale data, serve, sign in, measure.
bench_backend() {
    local b="$1" url demo_args
    case "$b" in
        sqlite)
            mkdir -p "$WORK/sqlite"
            url="sqlite://$WORK/sqlite/tsunagu.sqlite3"
            demo_args=(demo --data-dir "$WORK/sqlite" --bind "$HOST:$PORT") ;;
        postgres)
            local db="tsunagu_dc_$$"
            drop_db "$db"
            psql_admin -c "CREATE DATABASE \"$db\"" >/dev/null
            PG_DBS+=("$db")
            url="$PG_BASE/$db"
            demo_args=(demo --database-url "$url" --data-dir "$WORK/$b" --bind "$HOST:$PORT") ;;
    esac
    log "$b: demo database (migrations, reference data, demo accounts and data)"
    start_and_wait "$WORK/$b-demo.log" -- "${demo_args[@]}"
    stop_server
    log "$b: scale data ($RESOURCES resources, $CONSULTATIONS consultations)"
    local t0=$SECONDS
    python3 "$SCALE/generate.py" --database-url "$url" --resources "$RESOURCES" \
        --consultations "$CONSULTATIONS" 2>"$WORK/$b-generate.log" || {
        cat "$WORK/$b-generate.log" >&2
        die "$b: generating the data failed"
    }
    cat "$WORK/$b-generate.log" >&2
    log "$b: loaded in $((SECONDS - t0)) s"
    # The rows were written around the application: its keyword index is built from them.
    TSUNAGU_DATABASE_URL="$url" "$BIN" reindex >&2 || die "$b: tsunagu reindex failed"
    if [[ -n "$EXTRA_SQL" ]]; then
        log "$b: applying $EXTRA_SQL"
        case "$b" in
            sqlite) python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2], encoding="utf-8").read()); c.close()' \
                "$WORK/sqlite/tsunagu.sqlite3" "$EXTRA_SQL" || die "$b: $EXTRA_SQL failed" ;;
            postgres) psql -X -q -v ON_ERROR_STOP=1 "$url" -f "$EXTRA_SQL" -c ANALYZE >/dev/null || die "$b: $EXTRA_SQL failed" ;;
        esac
    fi
    if [[ "$b" == sqlite ]]; then
        SIZES+=("SQLite file after loading: $(du -m "$WORK/sqlite/tsunagu.sqlite3" | cut -f1) MiB")
    else
        SIZES+=("PostgreSQL database after loading: $(psql -X -A -t "$url" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")")
    fi
    start_and_wait "$WORK/$b-serve.log" TSUNAGU_DATABASE_URL="$url" 'TSUNAGU_REQUIRE_2FA_ROLES=[]' -- \
        serve --bind "$HOST:$PORT"
    local cookie with_stats=()
    cookie="$(sign_in)"
    [[ -n "$cookie" ]] || die "$b: no session cookie after signing in"
    local stats_code
    stats_code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$BASE_URL/consultations/stats")
    if [[ "$stats_code" == 200 ]]; then with_stats=(--with-stats); else
        log "$b: /consultations/stats answered $stats_code: this build has no statistics page; skipped"
    fi
    python3 "$SCALE/plan.py" --database-url "$url" "${with_stats[@]+"${with_stats[@]}"}" >"$WORK/$b-plan.tsv"
    local name
    case "$b" in sqlite) name=SQLite ;; postgres) name=PostgreSQL ;; esac
    if [[ -n "$EXTRA_SQL" ]]; then name="$name + $(basename "$EXTRA_SQL" .sql)"; fi
    python3 "$SCALE/measure.py" --base-url "$BASE_URL" --cookie "$cookie" --plan "$WORK/$b-plan.tsv" \
        --backend "$name" --requests "$REQUESTS" --concurrency "$CONCURRENCY" \
        --quiet-pct "$QUIET_PCT" --quiet-timeout "$QUIET_TIMEOUT" --retries "$RETRIES" ${ONLY:+--only "$ONLY"} \
        --server-pid "$SERVER_PID" $([[ "$b" == postgres ]] && printf -- '--pg-url %s' "$url") \
        >"$WORK/rows-$b.tsv" || die "$b: measuring failed"
    ROWS+=("$WORK/rows-$b.tsv")
    stop_server
    if [[ "$EXPLAIN" == 1 ]]; then
        log "$b: query plans"
        python3 "$SCALE/explain.py" --database-url "$url" >"$WORK/explain-$b.md" 2>>"$WORK/$b-explain.log" ||
            log "$b: explain.py failed (see $b-explain.log)"
        EXPLAINS+=("$WORK/explain-$b.md")
    fi
    if [[ "$b" == postgres ]]; then
        drop_db "tsunagu_dc_$$"
    fi
}

for b in $BACKENDS; do bench_backend "$b"; done

# --- report ---------------------------------------------------------------------------------
printf '## Directory and consultations at scale (issue 3)\n\n'
printf -- '- run: %s, commit %s, binary built %s%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$COMMIT" \
    "$BIN_STAMP" "${STALE:+ (older than some sources under crates/)}"
printf -- '- machine: %s, %s cores, %s; PostgreSQL %s; SQLite of the binary: bundled (libsqlite3-sys)\n' \
    "$(uname -m)" "$(nproc)" "$(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)" \
    "$(psql -X -A -t "$PG_BASE/$PG_ADMIN_DB" -c 'SHOW server_version' 2>/dev/null || echo '?')"
printf -- '- data: %s resources and %s consultations added to the demo (bench/scale/generate.py)\n' \
    "$RESOURCES" "$CONSULTATIONS"
for s in "${SIZES[@]+"${SIZES[@]}"}"; do printf -- '- %s\n' "$s"; done
if [[ -n "$EXTRA_SQL" ]]; then printf -- '- after loading, applied `%s` (schema otherwise as migrated)\n' "${EXTRA_SQL#"$ROOT"/}"; fi
printf -- '- %s requests per page kind, sequential and with %s concurrent clients, typical URLs in turn\n' \
    "$REQUESTS" "$CONCURRENCY"
printf -- '- the machine is shared: each page kind waited (up to %s s) for CPU use at most %s %%, and a run\n  during which other processes (not the server, its PostgreSQL backends or the client) used more\n  than that was repeated (up to %s times); load average at the start, CPU use of the whole machine\n  and the part of it that was other load are in the rows ("disturbed" when still above)\n\n' \
    "$QUIET_TIMEOUT" "$QUIET_PCT" "$RETRIES"
python3 "$SCALE/report.py" "${ROWS[@]}"
printf '\nURLs measured (%s):\n\n' "the first backend's ids"
first_plan="$(ls "$WORK"/*-plan.tsv | head -1)"
python3 - "$first_plan" <<'PY'
import sys, urllib.parse
for line in open(sys.argv[1], encoding="utf-8"):
    label, _, *urls = line.rstrip("\n").split("\t")
    print(f"- {label}: " + " ".join(f"`{urllib.parse.unquote_plus(u)}`" for u in urls))
PY
for e in "${EXPLAINS[@]+"${EXPLAINS[@]}"}"; do printf '\n'; cat "$e"; done
