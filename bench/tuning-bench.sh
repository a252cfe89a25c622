#!/usr/bin/env bash
# PostgreSQL tuning inside a 2 GiB memory cgroup: PostgreSQL defaults (D) vs PGTune "mixed" for
# 2 GB / 2 CPUs / SSD / 100 connections (P) vs this library's rendered member parameters for
# Resources.of({ cpu: 2, memory: 2Gi }) (L, from bench/tuning-params.ts).
#
# Usage (as root, from anywhere):  bash bench/tuning-bench.sh
# Environment: ROUNDS (3), DURATION seconds per measured workload (30), WARMUP seconds (15),
#   SCALE (100), HOST (127.0.0.77), PORT (55432), MEM_LIMIT bytes (2 GiB).
#
# Method: one pgbench database (scale 100, ~1.5 GB) is initialised once; every run copies it
# (cp -a), writes the config's bench.conf, syncs and drops the page cache (cold start), starts
# PostgreSQL (as user postgres) inside a fresh cgroup-v1 memory cgroup with the limit, reads the
# pgbench tables and index once with pg_prewarm('read') (into the OS page cache, charged to the
# cgroup), runs an unmeasured select-only warm-up, then measures select-only (-S) and TPC-B
# (8 clients, 2 threads). pgbench and psql run outside the cgroup. Configs are interleaved and
# their order rotates each round. Raw rows go to bench/results/tuning-<stamp>/results.tsv.
set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin
HOST=${HOST:-127.0.0.77}
PORT=${PORT:-55432}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-15}
SCALE=${SCALE:-100}
CLIENTS=8
THREADS=2
MEM_LIMIT=${MEM_LIMIT:-$((2 * 1024 * 1024 * 1024))}
CONFIGS=(D P L)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$REPO/bench/results/tuning-$STAMP"
CG_ROOT=/sys/fs/cgroup/memory
CG_PREFIX="pgtune-bench-$$"

[[ $(id -u) == 0 ]] || { echo "run as root (cgroups, drop_caches)" >&2; exit 1; }
[[ -d $CG_ROOT ]] || { echo "no cgroup v1 memory controller at $CG_ROOT" >&2; exit 1; }
case "$HOST" in 127.0.0.1[1-9] | 127.0.0.20) echo "$HOST is used by the e2e tests" >&2; exit 1 ;; esac
if ss -Hltn "sport = :$PORT" | grep -q .; then echo "port $PORT is in use" >&2; exit 1; fi

mkdir -p "$OUT"
WORK=$(mktemp -d /var/tmp/pgtune-bench.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/sock"
chown postgres:postgres "$WORK" "$WORK/sock"
PM_PID=""
PGB_PID=""
CREATED_CGS=()

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/bench.log" >&2; }

# ---- cleanup: postmaster, its children, our cgroups, the data directories -------------------
cleanup() {
  set +e
  if [[ -n $PGB_PID ]] && kill -0 "$PGB_PID" 2>/dev/null; then kill -TERM "$PGB_PID"; wait "$PGB_PID" 2>/dev/null; fi
  stop_pg
  for cg in "${CREATED_CGS[@]}"; do
    [[ -d $cg ]] || continue
    for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    for _ in $(seq 1 50); do [[ -z $(cat "$cg/cgroup.procs" 2>/dev/null) ]] && break; sleep 0.1; done
    rmdir "$cg" 2>/dev/null || echo "could not remove cgroup $cg" >&2
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
psql_q() { "$PGBIN/psql" -h "$HOST" -p "$PORT" -U postgres -d postgres -AtqX -v ON_ERROR_STOP=1 "$@"; }

# start_pg DATADIR LOGFILE [CGROUP]: postmaster in the background, in CGROUP if given.
start_pg() {
  local data=$1 logf=$2 cg=${3:-}
  (
    if [[ -n $cg ]]; then echo "$BASHPID" >"$cg/cgroup.procs"; fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/postgres" -D "$data"
  ) >>"$logf" 2>&1 &
  PM_PID=$!
  for _ in $(seq 1 240); do
    if ! kill -0 "$PM_PID" 2>/dev/null; then echo "postgres exited at start; see $logf" >&2; tail -20 "$logf" >&2; return 1; fi
    if "$PGBIN/pg_isready" -q -h "$HOST" -p "$PORT"; then return 0; fi
    sleep 0.5
  done
  echo "postgres did not become ready" >&2
  return 1
}

# stop_pg: fast shutdown (which includes the shutdown checkpoint), escalating after 120 s.
stop_pg() {
  [[ -n $PM_PID ]] || return 0
  if kill -0 "$PM_PID" 2>/dev/null; then
    kill -INT "$PM_PID" 2>/dev/null
    for _ in $(seq 1 240); do kill -0 "$PM_PID" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$PM_PID" 2>/dev/null; then kill -QUIT "$PM_PID" 2>/dev/null; sleep 2; kill -KILL "$PM_PID" 2>/dev/null; fi
  fi
  wait "$PM_PID" 2>/dev/null || true
  PM_PID=""
}

# ---- configurations ---------------------------------------------------------------------
common_conf() {
  cat <<EOF
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$WORK/sock'
include_if_exists = 'bench.conf'
EOF
}

# PGTune (le0pard/pgtune, configurationSlice.js) "mixed", Linux, 2 GB, 2 CPUs (<4: no parallel
# settings), SSD, 100 connections, PostgreSQL 15. work_mem = (RAM - shared_buffers) /
# ((max_connections + max_worker_processes(default 8)) * 3) / 2 (mixed), in kB.
pgtune_conf() {
  local ram_kb=$((2 * 1024 * 1024)) sb_kb=$((2 * 1024 * 1024 / 4))
  local work_mem_kb=$(((ram_kb - sb_kb) / ((100 + 8) * 3) / 2))
  cat <<EOF
# P: PGTune mixed, 2 GB, 2 CPUs, SSD, 100 connections
max_connections = 100
shared_buffers = 512MB
effective_cache_size = 1536MB
maintenance_work_mem = 128MB
checkpoint_completion_target = 0.9
wal_buffers = 16MB
default_statistics_target = 100
random_page_cost = 1.1
effective_io_concurrency = 200
work_mem = ${work_mem_kb}kB
huge_pages = off
min_wal_size = 1GB
max_wal_size = 4GB
EOF
}

library_conf() {
  local attempt
  for attempt in 1 2 3; do
    if (cd "$REPO" && npx --no-install ts-node --transpile-only bench/tuning-params.ts --conf) >"$OUT/L.conf" 2>"$OUT/tuning-params.stderr" \
      && (cd "$REPO" && npx --no-install ts-node --transpile-only bench/tuning-params.ts) >"$OUT/library-params.json" 2>>"$OUT/tuning-params.stderr"; then
      return 0
    fi
    log "bench/tuning-params.ts failed (attempt $attempt); retrying in 120 s"; cat "$OUT/tuning-params.stderr" >&2
    sleep 120
  done
  return 1
}

log "results: $OUT; work dir: $WORK; $HOST:$PORT; rounds $ROUNDS, ${DURATION}s per workload, warm-up ${WARMUP}s"
echo "" >"$OUT/D.conf"
pgtune_conf >"$OUT/P.conf"
library_conf || { echo "could not get the library parameters" >&2; exit 1; }
grep -h 'source' "$OUT/L.conf" | tee -a "$OUT/bench.log" >&2

# ---- the pgbench database, once ---------------------------------------------------------
BASE="$WORK/base"
log "initdb + pgbench -i -s $SCALE"
as_pg "$PGBIN/initdb" -D "$BASE" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$OUT/initdb.log" 2>&1
common_conf >>"$BASE/postgresql.conf"
start_pg "$BASE" "$OUT/init-postgres.log"
t0=$(date +%s)
PGOPTIONS='-c maintenance_work_mem=512MB' "$PGBIN/pgbench" -h "$HOST" -p "$PORT" -U postgres -i -q -s "$SCALE" postgres >"$OUT/pgbench-init.log" 2>&1
psql_q -c 'CHECKPOINT'
DB_BYTES=$(psql_q -c "SELECT pg_database_size('postgres')")
stop_pg
log "initialised in $(($(date +%s) - t0)) s; database $((DB_BYTES / 1024 / 1024)) MiB"

# ---- one run: one config, cold start, warm-up, S then TPC-B -------------------------------
printf 'round\tconfig\tworkload\tstatus\ttps\ttxns\tlat_ms\twal_bytes\tbuffers_backend\tcheckpoints\tblks_read\tblks_hit\thit_ratio\tcg_max_usage\tcg_failcnt\toom_kills\tcg_cache\tcg_shmem\tcg_rss\n' >"$OUT/results.tsv"

snapshot() {
  psql_q -F ' ' -c "SELECT pg_current_wal_lsn(), b.buffers_backend, b.checkpoints_timed + b.checkpoints_req, d.blks_read, d.blks_hit
    FROM pg_stat_bgwriter b, pg_stat_database d WHERE d.datname = 'postgres'"
}
oom_kills() { awk '$1 == "oom_kill" { print $2 }' "$1/memory.oom_control"; }
memstat() { awk -v k="$2" '$1 == k { print $2 }' "$1/memory.stat"; }

run_pgbench() { # LOGFILE ARGS...: runs pgbench in the background so cleanup can stop it
  local logf=$1; shift
  "$PGBIN/pgbench" -h "$HOST" -p "$PORT" -U postgres -n -c "$CLIENTS" -j "$THREADS" "$@" postgres >"$logf" 2>&1 &
  PGB_PID=$!
  local rc=0
  wait "$PGB_PID" || rc=$?
  PGB_PID=""
  return $rc
}

run_one() {
  local round=$1 cfg=$2
  local tag="r${round}-${cfg}" data="$WORK/run" cg="$CG_ROOT/$CG_PREFIX-r${round}-${cfg}"
  rm -rf "$data"
  cp -a "$BASE" "$data"
  cp "$OUT/$cfg.conf" "$data/bench.conf"
  chown postgres:postgres "$data/bench.conf"
  sync
  echo 1 >/proc/sys/vm/drop_caches
  mkdir "$cg"
  CREATED_CGS+=("$cg")
  echo "$MEM_LIMIT" >"$cg/memory.limit_in_bytes"
  local logf="$OUT/$tag-postgres.log"
  if ! start_pg "$data" "$logf" "$cg"; then
    # A configuration whose server does not start measures nothing: stop, and say which and why.
    stop_pg; rmdir "$cg" 2>/dev/null || true
    echo "tuning-bench: configuration $cfg ($OUT/$cfg.conf) did not start PostgreSQL in round $round; its log: $logf" >&2
    exit 1
  fi
  psql_q -c "SHOW shared_buffers" | sed "s/^/$tag shared_buffers=/" >>"$OUT/bench.log"
  psql_q -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
    -c "SELECT pg_prewarm(c, 'read') FROM unnest(ARRAY['pgbench_accounts','pgbench_accounts_pkey','pgbench_branches','pgbench_tellers']::regclass[]) c" >/dev/null
  run_pgbench "$OUT/$tag-warmup.log" -S -T "$WARMUP" || true

  local wl
  for wl in S TPCB; do
    local args=(-T "$DURATION")
    [[ $wl == S ]] && args+=(-S)
    local oom0 fail0 before after status=ok
    oom0=$(oom_kills "$cg"); fail0=$(cat "$cg/memory.failcnt")
    echo 0 >"$cg/memory.max_usage_in_bytes"
    before=$(snapshot)
    run_pgbench "$OUT/$tag-$wl.log" "${args[@]}" || status=pgbench_failed
    sleep 1 # backends flush their statistics when they exit
    local max_usage failcnt ooms cache shmem rss
    max_usage=$(cat "$cg/memory.max_usage_in_bytes"); failcnt=$(($(cat "$cg/memory.failcnt") - fail0))
    ooms=$(($(oom_kills "$cg") - oom0))
    cache=$(memstat "$cg" total_cache); shmem=$(memstat "$cg" total_shmem); rss=$(memstat "$cg" total_rss)
    [[ $ooms -gt 0 ]] && status=OOM_KILLED
    if ! after=$(snapshot 2>/dev/null); then status=${status/ok/server_down}; after=""; fi
    local tps txns lat wal=NA bb=NA ck=NA br=NA bh=NA hr=NA
    tps=$(awk '/^tps = / { print $3; exit }' "$OUT/$tag-$wl.log"); tps=${tps:-NA}
    lat=$(awk '/^latency average = / { print $4; exit }' "$OUT/$tag-$wl.log"); lat=${lat:-NA}
    txns=$(awk -F': ' '/^number of transactions actually processed/ { print $2; exit }' "$OUT/$tag-$wl.log"); txns=${txns:-NA}
    if [[ -n $after ]]; then
      read -r l0 bb0 ck0 br0 bh0 <<<"$before"
      read -r l1 bb1 ck1 br1 bh1 <<<"$after"
      wal=$(psql_q -c "SELECT pg_wal_lsn_diff('$l1', '$l0')::bigint")
      bb=$((bb1 - bb0)); ck=$((ck1 - ck0)); br=$((br1 - br0)); bh=$((bh1 - bh0))
      hr=$(awk -v r="$br" -v h="$bh" 'BEGIN { if (r + h > 0) printf "%.5f", h / (r + h); else print "NA" }')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$cfg" "$wl" "$status" "$tps" "$txns" "$lat" \
      "$wal" "$bb" "$ck" "$br" "$bh" "$hr" "$max_usage" "$failcnt" "$ooms" "$cache" "$shmem" "$rss" >>"$OUT/results.tsv"
    log "$tag $wl: $status tps=$tps hit=$hr wal=$wal max_usage=$((max_usage / 1048576))MiB failcnt=$failcnt oom=$ooms"
    [[ $status == ok ]] || break
  done
  stop_pg
  grep -E 'terminated by signal|out of memory' "$logf" >>"$OUT/bench.log" 2>/dev/null || true
  for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  rmdir "$cg"
  rm -rf "$data"
}

T_START=$(date +%s)
for ((r = 0; r < ROUNDS; r++)); do
  for ((i = 0; i < ${#CONFIGS[@]}; i++)); do
    cfg=${CONFIGS[$(((i + r) % ${#CONFIGS[@]}))]}
    log "round $((r + 1))/$ROUNDS config $cfg"
    run_one "$((r + 1))" "$cfg"
  done
done
log "measured in $(($(date +%s) - T_START)) s"

cd "$REPO" && npx --no-install ts-node --transpile-only bench/tuning-report.ts "$OUT/results.tsv" | tee "$OUT/report.md"
