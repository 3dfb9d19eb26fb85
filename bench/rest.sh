#!/usr/bin/env bash
# The data API under load, beside the database limits measured in the same run.
#
# Starts its own `madbase dev` in a temporary directory, loads a bench schema (100k rows with a
# primary key, a 1k-row parent for a many-to-one embed, a write table, a trivial function), then
# at 10 and 50 connections measures with wrk (-t1): GET one row by PK (with the API key, and as
# a signed-in user whose token the data API checks itself), GET 100 rows with an embed, POST
# one row (return=minimal) and an RPC; and with pgbench at the same concurrency:
#   (a) the bare lookup  SELECT ... WHERE id = :id  (-M prepared)
#   (b) the exact statements MadBase sends for GET by PK, captured from PostgreSQL's log and
#       replayed pipelined (\startpipeline), with the same parameters.
# and with wrk the HTTP floor: GET /health, answered without the database.
# Prints req/s, p50/p99, the data plane's CPU per request, its RSS, and the ratios to (a) and (b);
# and the ceiling those limits leave for GET by PK on this machine: the req/s of a data plane that
# cost no more CPU than the HTTP floor on top of (b)'s PostgreSQL work.
#
# A shared 2-core machine drifts by ±20 % from one minute to the next, so each concurrency runs
# ROUNDS rounds of every scenario, interleaved, and reports medians; a ratio is the median of the
# ratios measured within the same round (each pair taken seconds apart).
#
# Usage: bench/rest.sh              (uses target/release/madbase; build it first)
#        MADBASE_BIN=path bench/rest.sh
# Knobs: WARMUP (5, once per scenario and concurrency), DURATION (5 per round), ROUNDS (3),
#        CONCURRENCY ("10 50").
#        SERVER_CPUS and LOAD_CPUS (taskset lists, e.g. "0-3" and "4-5"): run `madbase dev` (and
#        the PostgreSQL it starts) and the load generators (wrk, pgbench) on separate cores.
#        Unset, all share the machine, as on a 2-core box; set, the ceiling counts the server's
#        cores and leaves the load generator's CPU out.
# Not part of CI: numbers depend on the machine; read them as ratios.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
bin=${MADBASE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/madbase}
warmup=${WARMUP:-5}
duration=${DURATION:-5}
rounds=${ROUNDS:-3}
concurrency=${CONCURRENCY:-"10 50"}
wrk_bin=${WRK:-/usr/bin/wrk}
server_cpus=${SERVER_CPUS:-}
load_cpus=${LOAD_CPUS:-}
if [[ -n $server_cpus || -n $load_cpus ]]; then
  [[ -n $server_cpus && -n $load_cpus ]] || { echo "set both SERVER_CPUS and LOAD_CPUS" >&2; exit 1; }
  command -v taskset >/dev/null || { echo "missing: taskset (util-linux)" >&2; exit 1; }
  for list in "$server_cpus" "$load_cpus"; do
    taskset -c "$list" true 2>/dev/null || { echo "not a usable CPU list: $list" >&2; exit 1; }
  done
fi
# The load generators, on LOAD_CPUS when set.
load() { if [[ -n $load_cpus ]]; then taskset -c "$load_cpus" "$@"; else "$@"; fi; }
# Cores the requests' costs share: the server's alone when the load runs apart.
cores=$(if [[ -n $server_cpus ]]; then taskset -c "$server_cpus" nproc; else nproc; fi)

for tool in "$bin" "$wrk_bin" pgbench psql python3; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

# shellcheck source=bench/dev.sh
source "$here/dev.sh"
if [[ -n $server_cpus ]]; then dev_wrapper=(taskset -c "$server_cpus"); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_dev "$work/data" "$port"
export ANON_KEY BENCH_DIR=$here
# pgbench reaches PostgreSQL the way the data plane does: over the embedded server's Unix
# socket when it has one (in its data directory), else the loopback TCP of DB_URL.
pgbench_db=$(python3 - "$DB_URL" "$work/data/postgres" <<'PY'
import os, sys, urllib.parse
url, sock_dir = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(url)
if os.path.exists(f"{sock_dir}/.s.PGSQL.{u.port}"):
    q = lambda v: "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    print(" ".join(f"{k}={q(v)}" for k, v in [
        ("host", sock_dir), ("port", str(u.port)), ("user", urllib.parse.unquote(u.username or "")),
        ("password", urllib.parse.unquote(u.password or "")), ("dbname", u.path.lstrip("/"))]))
else:
    print(url)
PY
)
transport=$([[ $pgbench_db == postgresql://* ]] && echo "loopback TCP" || echo "the Unix socket")
base="http://127.0.0.1:$port"
started=$(date +%s.%N)

proc_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }   # kB
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
clk_tck=$(getconf CLK_TCK)
pg_pid=$(head -1 "$work/data/postgres/postmaster.pid")
pg_snapshot() {  # "pid ticks" for the postmaster and each live child, and "reaped ticks": what
  # the children that already exited used (the postmaster's cutime + cstime)
  local p
  for p in "$pg_pid" $(pgrep -P "$pg_pid"); do
    [[ -r /proc/$p/stat ]] && echo "$p $(cpu_ticks "$p" 2>/dev/null || echo 0)"
  done
  echo "reaped $(awk '{ print $16 + $17 }' "/proc/$pg_pid/stat")"
}
pg_ticks_between() {  # CPU ticks PostgreSQL spent between two snapshots: the growth of each
  # process alive at both, everything of processes started since, and the growth of what exited
  # children used (pgbench's backends end with its run). A backend alive at the first snapshot
  # that exits before the second (the data plane drops the connections of requests wrk abandons
  # when it stops) shows its whole life in the reaped total: its first reading is taken off.
  awk 'NR == FNR { before[$1] = $2; next }
       { seen[$1] = 1; total += ($1 in before) ? $2 - before[$1] : $2 }
       END { for (p in before) if (!(p in seen)) total -= before[p]; print total + 0 }' "$1" "$2"
}

psql -q -v ON_ERROR_STOP=1 "$DB_URL" <<'SQL'
CREATE TABLE bench_parents (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO bench_parents SELECT g, 'parent ' || g FROM generate_series(1, 1000) g;
CREATE TABLE bench_items (
  id int PRIMARY KEY,
  parent_id int NOT NULL REFERENCES bench_parents (id),
  name text NOT NULL,
  price numeric(10, 2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO bench_items SELECT g, 1 + g % 1000, 'item ' || g, (g % 10000) / 100.0 FROM generate_series(1, 100000) g;
CREATE TABLE bench_writes (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL, n int NOT NULL);
CREATE FUNCTION bench_add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
GRANT SELECT ON bench_parents, bench_items TO anon, authenticated;
GRANT INSERT ON bench_writes TO anon;
GRANT EXECUTE ON FUNCTION bench_add(int, int) TO anon;
VACUUM ANALYZE;
SQL

auth=(-H "apikey: $ANON_KEY" -H "Authorization: Bearer $ANON_KEY")
# A signed-in user's access token, as auth would issue it (HS256, an hour to live).
USER_TOKEN=$(python3 - "$JWT_SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
claims = {"sub": "6d5b8d4e-7f0a-4c1e-9a55-1b2c3d4e5f60", "aud": "authenticated",
          "role": "authenticated", "iat": now, "exp": now + 3600, "aal": "aal1"}
head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + enc(json.dumps(claims).encode())
sig = hmac.new(sys.argv[1].encode(), head.encode(), hashlib.sha256).digest()
print(head + "." + enc(sig))
PY
)
export USER_TOKEN
for _ in $(seq 1 100); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base/rest/v1/bench_writes?limit=0") == 200 ]] && break
  sleep 0.1
done

# Idle RSS, 10 s after start (the schema load above counts as part of the wait).
sleep "$(python3 -c "print(max(0, 10 - ($(date +%s.%N) - $started)))")"
idle_rss=$(proc_field "$dev_pid" VmRSS)

# Capture the statements of one GET by PK.
capture_id=4242
psql -q "$DB_URL" -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
curl -s "${auth[@]}" "$base/rest/v1/bench_items?id=eq.$capture_id" >/dev/null
sleep 0.5
psql -q "$DB_URL" -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
pglog=$(ls "$work/data"/postgres*.log 2>/dev/null | head -1)
mapfile -t defines < <(python3 "$here/pipeline_from_log.py" "$pglog" '"bench_items"' "$work/pipeline.sql" "$capture_id")
dopts=()
for d in "${defines[@]}"; do dopts+=(-D "$d"); done
printf '%s\n' '\set id random(1, 100000)' \
  'SELECT id, parent_id, name, price, created_at FROM bench_items WHERE id = :id;' >"$work/lookup.sql"

children_cpu_us() {  # CPU the shell's reaped children used, in µs, from `times` output in $1
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
                 printf "%.0f", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1e6 }' "$1"
}
# Each measurement appends its value to a space-separated list under "scenario.conns"; the
# report takes medians (RSS: the maximum; errors: the sum).
declare -A rps p50 p99 cpu_us pg_us client_us rss_peak errs tps
median() {  # values…: their median, whole (ms values: two decimals)
  python3 -c 'import statistics, sys
m = statistics.median(float(v) for v in sys.argv[1:])
print(f"{m:.2f}" if any("." in v for v in sys.argv[1:]) else round(m))' "$@"
}
py() { python3 -c "print($1)"; }
run_wrk() {  # scenario script conns warm(0|1)
  local name=$1 script=$2 c=$3 out t0 t1 g1 peak r
  if [[ $4 == 1 ]]; then load "$wrk_bin" -t1 -c"$c" -d"${warmup}s" -s "$here/$script" "$base" >/dev/null; fi
  t0=$(cpu_ticks "$dev_pid"); pg_snapshot >"$work/pg0"; times >"$work/times0"
  ( while kill -0 "$dev_pid" 2>/dev/null; do proc_field "$dev_pid" VmRSS; sleep 0.2; done ) >"$work/rss.$name.$c" &
  local sampler=$!
  out=$(load "$wrk_bin" -t1 -c"$c" -d"${duration}s" --latency -s "$here/$script" "$base")
  times >"$work/times1"
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  t1=$(cpu_ticks "$dev_pid"); pg_snapshot >"$work/pg1"; g1=$(pg_ticks_between "$work/pg0" "$work/pg1")
  peak=$(sort -n "$work/rss.$name.$c" | tail -1)
  r=$(grep '^RESULT' <<<"$out")
  eval "$(sed 's/^RESULT //' <<<"$r")"
  rps[$name.$c]+="$(py "round($requests / ($duration_us / 1e6))") "
  p50[$name.$c]+="$(py "f'{$p50_us / 1000:.2f}'") "
  p99[$name.$c]+="$(py "f'{$p99_us / 1000:.2f}'") "
  cpu_us[$name.$c]+="$(py "round(($t1 - $t0) / $clk_tck * 1e6 / max($requests, 1))") "
  pg_us[$name.$c]+="$(py "round($g1 / $clk_tck * 1e6 / max($requests, 1))") "
  client_us[$name.$c]+="$(py "round(($(children_cpu_us "$work/times1") - $(children_cpu_us "$work/times0")) / max($requests, 1))") "
  rss_peak[$name.$c]=$(py "max(${rss_peak[$name.$c]:-0}, $peak)")
  errs[$name.$c]=$(( ${errs[$name.$c]:-0} + non2xx + errors ))
}
run_pgbench() {  # name script conns warm(0|1) [extra args]
  local name=$1 script=$2 c=$3 warm=$4; shift 4
  if [[ $warm == 1 ]]; then
    load pgbench -n -M prepared -j 1 -c "$c" -T "$warmup" -f "$script" "$@" "$pgbench_db" >"$work/pgbench.out" 2>&1 \
      || { cat "$work/pgbench.out" >&2; exit 1; }
    sleep 0.5  # the warm-up's backends are gone and reaped
  fi
  local out n
  pg_snapshot >"$work/pg0"; times >"$work/times0"
  out=$(load pgbench -n -M prepared -j 1 -c "$c" -T "$duration" -f "$script" "$@" "$pgbench_db" 2>/dev/null)
  times >"$work/times1"; sleep 0.5; pg_snapshot >"$work/pg1"
  tps[$name.$c]+="$(awk '/^tps = / { printf "%d", $3 }' <<<"$out") "
  n=$(awk -F': *' '/number of transactions actually processed/ { split($2, a, "/"); print a[1] }' <<<"$out")
  pg_us[$name.$c]+="$(py "round($(pg_ticks_between "$work/pg0" "$work/pg1") / $clk_tck * 1e6 / max(${n:-0}, 1))") "
  client_us[$name.$c]+="$(py "round(($(children_cpu_us "$work/times1") - $(children_cpu_us "$work/times0")) / max(${n:-0}, 1))") "
}

scenarios=(get_pk get_pk_user get_embed post rpc)
declare -A lua=([get_pk]=get_by_pk.lua [get_pk_user]=get_by_pk_user.lua [get_embed]=get_embed.lua
                [post]=post_row.lua [rpc]=rpc.lua)
declare -A label=([get_pk]='GET by PK' [get_pk_user]='GET by PK, user token'
                  [get_embed]='GET 100 rows + M2O embed' [post]='POST one row (minimal)'
                  [rpc]='RPC trivial function')
for c in $concurrency; do
  for r in $(seq 1 "$rounds"); do
    warm=$([[ $r == 1 ]] && echo 1 || echo 0)
    run_pgbench bare "$work/lookup.sql" "$c" "$warm"
    run_pgbench madbase_sql "$work/pipeline.sql" "$c" "$warm" "${dopts[@]}"
    for s in "${scenarios[@]}"; do run_wrk "$s" "${lua[$s]}" "$c" "$warm"; done
    run_wrk floor health.lua "$c" "$warm"
  done
done
hwm=$(proc_field "$dev_pid" VmHWM)
rss_end=$(proc_field "$dev_pid" VmRSS)

ceiling() {  # conns: per round, the req/s of a data plane costing only the HTTP floor over the
  # SQL of (b): the cores ÷ (the floor's data plane + wrk CPU + PostgreSQL's CPU in (b)), in µs;
  # wrk's CPU left out when it runs on cores of its own
  local cols=("${cpu_us[floor.$1]}" "${pg_us[madbase_sql.$1]}")
  [[ -n $load_cpus ]] || cols+=("${client_us[floor.$1]}")
  python3 -c 'import sys
cores, *cols = sys.argv[1:]
rows = zip(*(map(float, c.split()) for c in cols))
print(" ".join(str(round(int(cores) * 1e6 / sum(r))) for r in rows))' "$cores" "${cols[@]}"
}
ratios() {  # "x1 x2 …" "y1 y2 …": the median of the per-round ratios x_i / y_i
  python3 -c 'import statistics, sys
x, y = (list(map(float, a.split())) for a in sys.argv[1:3])
print(f"{statistics.median(a / b for a, b in zip(x, y) if b):.2f}")' "$1" "$2"
}
spread() {  # "x1 x2 …": min–max
  python3 -c 'import sys; v = sorted(int(float(a)) for a in sys.argv[1].split()); print(f"{v[0]}–{v[-1]}")' "$1"
}

echo
echo "MadBase data API benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "madbase: $bin (pool: ${MADBASE_DB_POOL_SIZE:-10} connections); wrk -t1; pgbench -M prepared -j 1"
if [[ -n $load_cpus ]]; then
  echo "cores: madbase dev and its PostgreSQL on $server_cpus ($cores), wrk and pgbench on $load_cpus"
fi
echo "${rounds} interleaved rounds of ${duration}s per scenario after one ${warmup}s warm-up each; medians, req/s spread min–max"
echo "madbase and pgbench both reach PostgreSQL over $transport"
echo
echo "GET by PK, as PostgreSQL received it (replayed as pgbench (b)):"
sed 's/^/    /' "$work/pipeline.sql"
echo
row='| %-26s | %5s | %8s | %13s | %8s | %8s | %9s | %9s | %9s | %8s | %6s | %7s | %7s |\n'
# shellcheck disable=SC2059
printf "$row" scenario conns 'req/s' 'spread' 'p50 ms' 'p99 ms' 'CPU µs/req' 'PG µs/req' 'load µs/req' \
  'RSS MB' errors '÷ (a)' '÷ (b)'
echo '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|'
for c in $concurrency; do
  # shellcheck disable=SC2059
  printf "$row" "(a) pgbench bare lookup" "$c" "$(median ${tps[bare.$c]})" "$(spread "${tps[bare.$c]}")" - - - \
    "$(median ${pg_us[bare.$c]})" "$(median ${client_us[bare.$c]})" - - 1.00 -
  # shellcheck disable=SC2059
  printf "$row" "(b) pgbench MadBase's SQL" "$c" "$(median ${tps[madbase_sql.$c]})" \
    "$(spread "${tps[madbase_sql.$c]}")" - - - \
    "$(median ${pg_us[madbase_sql.$c]})" "$(median ${client_us[madbase_sql.$c]})" - - \
    "$(ratios "${tps[madbase_sql.$c]}" "${tps[bare.$c]}")" 1.00
  for s in "${scenarios[@]}"; do
    # shellcheck disable=SC2059
    printf "$row" \
      "${label[$s]}" "$c" "$(median ${rps[$s.$c]})" "$(spread "${rps[$s.$c]}")" \
      "$(median ${p50[$s.$c]})" "$(median ${p99[$s.$c]})" "$(median ${cpu_us[$s.$c]})" \
      "$(median ${pg_us[$s.$c]})" "$(median ${client_us[$s.$c]})" \
      "$(py "f'{${rss_peak[$s.$c]} / 1024:.1f}'")" "${errs[$s.$c]}" \
      "$(ratios "${rps[$s.$c]}" "${tps[bare.$c]}")" "$(ratios "${rps[$s.$c]}" "${tps[madbase_sql.$c]}")"
  done
  # shellcheck disable=SC2059
  printf "$row" "HTTP floor (GET /health)" "$c" "$(median ${rps[floor.$c]})" "$(spread "${rps[floor.$c]}")" \
    "$(median ${p50[floor.$c]})" "$(median ${p99[floor.$c]})" "$(median ${cpu_us[floor.$c]})" - \
    "$(median ${client_us[floor.$c]})" - "${errs[floor.$c]}" - -
  limit=$(ceiling "$c")
  # shellcheck disable=SC2059
  printf "$row" "ceiling for GET by PK" "$c" "$(median $limit)" "$(spread "$limit")" - - - - - - - \
    "$(ratios "$limit" "${tps[bare.$c]}")" "$(ratios "$limit" "${tps[madbase_sql.$c]}")"
done
echo
echo "RSS of madbase: idle 10 s after start $(py "f'{$idle_rss / 1024:.1f}'") MB; after the run $(py "f'{$rss_end / 1024:.1f}'") MB; peak (VmHWM) $(py "f'{$hwm / 1024:.1f}'") MB"
echo "CPU µs/req is the madbase process only (utime+stime); PG µs/req is the postmaster and its backends;"
echo "load µs/req is the load generator's own (wrk or pgbench). On a shared box the three add up to"
echo "the CPU a request costs: the cores ÷ their sum is the ceiling on req/s."
echo "HTTP floor: GET /health, answered without the database, under the same wrk. Ceiling for GET by PK:"
echo "what a data plane that cost no more than that floor would reach sending (b)'s SQL as pgbench"
if [[ -n $load_cpus ]]; then
  echo "does, i.e. $cores cores ÷ (floor's data plane + PostgreSQL's CPU in (b)) per round (wrk runs apart)."
else
  echo "does, i.e. $cores cores ÷ (floor's data plane + wrk CPU + PostgreSQL's CPU in (b)) per round."
fi
echo "Read lanes can take PostgreSQL's CPU below (b)'s by batching; nothing else can pass it."
