#!/usr/bin/env bash
# The regional situation survey's roll-up at the scale of issue 4: the standard survey answered
# and approved by all 1,747 municipalities in each of 10 年度, on SQLite and on PostgreSQL.
# Measures the prefecture roll-up page with its map (`/surveys/results`) and the national
# roll-up (`/surveys/results/national`) for a middle and the newest 年度 and a few items, with
# sequential requests as plain HTML and as a browser receives them (gzip).
#
# Measurements, not tests: prints a Markdown report on stdout (progress on stderr) and exits 0
# whatever the figures are; non-zero only when it could not measure.
#
# Usage: bash bench/survey.sh      (settings: see bench/README.md)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/bench/survey"

BACKENDS="${BENCH_BACKENDS:-sqlite postgres}"
PORT="${BENCH_PORT:-18500}"
YEARS="${BENCH_YEARS:-10}"
FIRST_YEAR="${BENCH_FIRST_YEAR:-}"
REQUESTS="${BENCH_REQUESTS:-200}"
WARMUP="${BENCH_WARMUP:-10}"
ENCODINGS="${BENCH_ENCODINGS:-identity,browser}"
QUIET_PCT="${BENCH_QUIET_PCT:-25}"
QUIET_TIMEOUT="${BENCH_QUIET_TIMEOUT:-300}"
RETRIES="${BENCH_RETRIES:-2}"
LOGIN="${BENCH_LOGIN:-coordinator}"
PASSWORD="${TSUNAGU_DEMO_PASSWORD:-tsunagu-demo-2026}"
PG_BASE="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PG_ADMIN_DB="${BENCH_PG_ADMIN_DB:-test}"
KEEP="${BENCH_KEEP:-}"
ONLY="${BENCH_ONLY:-}"
PROFILE="${BENCH_PROFILE:-0}"
PROFILE_REQUESTS="${BENCH_PROFILE_REQUESTS:-60}"
# Items measured: the total, a care type and a grid cell (see Definition::fields()).
FIELDS="${BENCH_FIELDS:-total care.ventilator age_place.a0_2.home}"

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
if [[ "$PROFILE" == 1 ]]; then need perf "apt-get install -y linux-perf"; fi

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
COMMIT="${BENCH_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
if [[ -z "${BENCH_COMMIT:-}" && -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]]; then
    COMMIT="working tree after $COMMIT"
fi
BIN_STAMP="$(date -u -r "$BIN" +%Y-%m-%dT%H:%MZ)"

# --- temporary state and cleanup ------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tsunagu-survey.XXXXXX")"
SERVER_PID=""
PG_DBS=()

trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy of the binary: a rebuild in the work tree during the run must not change what is measured.
cp "$BIN" "$WORK/tsunagu"
BIN="$WORK/tsunagu"

# The pages measured (label, target p95 in ms, URL) for the 年度 written.
write_plan() {
    local first="$1" last="$2" mid f
    mid=$(((first + last + 1) / 2))
    {
        printf 'prefecture %s total\t100\t/surveys/results?year=%s&field=total\n' "$mid" "$mid"
        for f in $FIELDS; do
            printf 'prefecture %s %s\t100\t/surveys/results?year=%s&field=%s\n' "$last" "$f" "$last" "$f"
        done
        printf 'national %s total\t500\t/surveys/results/national?year=%s&field=total\n' "$mid" "$mid"
        for f in $FIELDS; do
            printf 'national %s %s\t500\t/surveys/results/national?year=%s&field=%s\n' "$last" "$f" "$last" "$f"
        done
        printf 'national %s total, map by municipality\t500\t/surveys/results/national?year=%s&field=total&by=municipality\n' \
            "$last" "$last"
    }
}

ROWS=()
SIZES=()
PROFILES=()
YEARS_WRITTEN=""
# Runs one backend: demo database, survey data, serve, sign in, measure.
bench_backend() {
    local b="$1" url demo_args name
    case "$b" in
        sqlite)
            name=SQLite
            mkdir -p "$WORK/sqlite"
            url="sqlite://$WORK/sqlite/tsunagu.sqlite3"
            demo_args=(demo --data-dir "$WORK/sqlite" --bind "$HOST:$PORT") ;;
        postgres)
            name=PostgreSQL
            local db="tsunagu_survey_$$"
            drop_db "$db"
            psql_admin -c "CREATE DATABASE \"$db\"" >/dev/null
            PG_DBS+=("$db")
            url="$PG_BASE/$db"
            demo_args=(demo --database-url "$url" --data-dir "$WORK/$b" --bind "$HOST:$PORT") ;;
    esac
    log "$b: demo database (migrations, reference data, demo accounts and data)"
    start_and_wait "$WORK/$b-demo.log" -- "${demo_args[@]}"
    stop_server
    log "$b: survey data ($YEARS 年度 × every municipality)"
    local t0=$SECONDS years
    years=$(python3 "$HERE/generate.py" --database-url "$url" --years "$YEARS" ${FIRST_YEAR:+--first-year "$FIRST_YEAR"} \
        2>"$WORK/$b-generate.log") || {
        cat "$WORK/$b-generate.log" >&2
        die "$b: generating the data failed"
    }
    cat "$WORK/$b-generate.log" >&2
    log "$b: loaded in $((SECONDS - t0)) s; 年度 $years"
    YEARS_WRITTEN="$years"
    local counts
    if [[ "$b" == sqlite ]]; then
        SIZES+=("SQLite file after loading: $(du -m "$WORK/sqlite/tsunagu.sqlite3" | cut -f1) MiB")
        counts=$(python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(*c.execute("SELECT (SELECT COUNT(*) FROM survey_rounds), (SELECT COUNT(*) FROM survey_responses WHERE status = '"'approved'"')").fetchone())' \
            "$WORK/sqlite/tsunagu.sqlite3")
    else
        SIZES+=("PostgreSQL database after loading: $(psql -X -A -t "$url" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")")
        counts=$(psql -X -A -t -F ' ' "$url" -c "SELECT (SELECT COUNT(*) FROM survey_rounds), (SELECT COUNT(*) FROM survey_responses WHERE status = 'approved')")
    fi
    SIZES+=("$name: ${counts% *} rounds, ${counts#* } approved responses in all")
    start_and_wait "$WORK/$b-serve.log" TSUNAGU_DATABASE_URL="$url" 'TSUNAGU_REQUIRE_2FA_ROLES=[]' -- \
        serve --bind "$HOST:$PORT"
    local cookie
    cookie="$(sign_in)"
    [[ -n "$cookie" ]] || die "$b: no session cookie after signing in"
    local first="${years%% *}" last="${years##* }" code
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$BASE_URL/surveys/results?year=$last&field=total")
    [[ "$code" == 200 ]] || die "$b: /surveys/results answered $code: does this build have the roll-up pages?"
    write_plan "$first" "$last" >"$WORK/plan.tsv"
    python3 "$HERE/measure.py" --base-url "$BASE_URL" --cookie "$cookie" --plan "$WORK/plan.tsv" \
        --backend "$name" --requests "$REQUESTS" --warmup "$WARMUP" --encodings "$ENCODINGS" \
        --quiet-pct "$QUIET_PCT" --quiet-timeout "$QUIET_TIMEOUT" --retries "$RETRIES" ${ONLY:+--only "$ONLY"} \
        --server-pid "$SERVER_PID" $([[ "$b" == postgres ]] && printf -- '--pg-url %s' "$url") \
        >"$WORK/rows-$b.tsv" || die "$b: measuring failed"
    ROWS+=("$WORK/rows-$b.tsv")
    if [[ "$PROFILE" == 1 ]]; then
        log "$b: profile (perf, $PROFILE_REQUESTS requests a page)"
        python3 "$HERE/profile.py" --base-url "$BASE_URL" --cookie "$cookie" --plan "$WORK/plan.tsv" \
            --backend "$name" --requests "$PROFILE_REQUESTS" --server-pid "$SERVER_PID" \
            --quiet-pct "$QUIET_PCT" --quiet-timeout "$QUIET_TIMEOUT" ${ONLY:+--only "$ONLY"} \
            $([[ "$b" == postgres ]] && printf -- '--pg-url %s' "$url") \
            >"$WORK/profile-$b.md" 2>>"$WORK/$b-profile.log" || log "$b: profile.py failed (see $b-profile.log)"
        PROFILES+=("$WORK/profile-$b.md")
    fi
    stop_server
    if [[ "$b" == postgres ]]; then
        drop_db "tsunagu_survey_$$"
    fi
}

for b in $BACKENDS; do bench_backend "$b"; done

# --- report ---------------------------------------------------------------------------------
printf '## Survey roll-up at scale (issue 4)\n\n'
printf -- '- run: %s, commit %s, binary built %s%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$COMMIT" \
    "$BIN_STAMP" "${STALE:+ (older than some sources under crates/)}"
printf -- '- machine: %s, %s cores, %s; PostgreSQL %s; SQLite of the binary: bundled (libsqlite3-sys)\n' \
    "$(uname -m)" "$(nproc)" "$(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)" \
    "$(psql -X -A -t "$PG_BASE/$PG_ADMIN_DB" -c 'SHOW server_version' 2>/dev/null || echo '?')"
printf -- '- data: the standard survey for every prefecture, one round per prefecture and 年度 (%s), a response\n  approved for each of its municipalities, added to the demo (bench/survey/generate.py)\n' "$YEARS_WRITTEN"
for s in "${SIZES[@]+"${SIZES[@]}"}"; do printf -- '- %s\n' "$s"; done
printf -- '- %s sequential requests per page on one kept-alive connection after %s untimed ones; "sent as"\n  identity = plain HTML, gzip = with a browser'"'"'s Accept-Encoding\n' "$REQUESTS" "$WARMUP"
printf -- '- the machine is shared: each page waited (up to %s s) for CPU use at most %s %%, and a run during\n  which other processes (not the server, its PostgreSQL backends or the client) used more than that\n  was repeated (up to %s times); load average at the start, CPU use of the whole machine and the\n  part of it that was other load are in the rows ("disturbed" when still above)\n\n' \
    "$QUIET_TIMEOUT" "$QUIET_PCT" "$RETRIES"
python3 "$HERE/report.py" "${ROWS[@]}"
printf '\nURLs measured:\n\n'
while IFS=$'\t' read -r label _ u; do
    if [[ -z "$ONLY" || "$label" =~ $ONLY ]]; then printf -- '- %s: `%s`\n' "$label" "$u"; fi
done <"$WORK/plan.tsv"
for p in "${PROFILES[@]+"${PROFILES[@]}"}"; do printf '\n'; cat "$p"; done
