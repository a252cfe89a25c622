#!/usr/bin/env bash
# PostgreSQL tuning inside a memory cgroup sized like the container (2 GiB / 2 CPUs unless
# MEMORY_GIB says otherwise): PostgreSQL defaults (D) vs PGTune "mixed" for that memory / 2 CPUs /
# SSD / 100 connections (P) vs this library's rendered member parameters for
# Resources.of({ cpu: 2, memory: <MEMORY_GIB>Gi }) (L, from bench/tuning-params.ts).
#
# Usage (as root, from anywhere):  bash bench/tuning-bench.sh
#   MEMORY_GIB=4 bash bench/tuning-bench.sh     the second size (4 GiB, pgbench scale 200)
#   ABLATION=1 bash bench/tuning-bench.sh       D, L, D plus one group of L's settings at a time
#                                               and L minus one group at a time (bench/tuning-ablation.ts)
# Environment: ROUNDS (3), DURATION seconds per measured workload (30), WARMUP seconds (15),
#   MEMORY_GIB (2), SCALE (50 x MEMORY_GIB: the data set is ~0.75x the limit at every size),
#   WORKLOADS ("S TPCB WM"; "S TPCB" with ABLATION=1), HOST (127.0.0.77), PORT (55432).
#
# Method: one pgbench database is initialised once; every run copies it (cp -a), writes the
# config's bench.conf, syncs and drops the page cache (cold start), starts PostgreSQL (as user
# postgres) inside a fresh cgroup-v1 memory cgroup with the limit (and a cpuacct cgroup, which
# counts the CPU time of the server's processes), reads the pgbench tables and index once with
# pg_prewarm('read') (into the OS page cache, charged to the cgroup), runs an unmeasured
# select-only warm-up, then measures the workloads: select-only (S: -S) and TPC-B (TPCB), 8 clients
# and 2 threads, and WM: max_connections - superuser_reserved_connections clients, each running a
# sort that uses all of its work_mem (calibrated per config with EXPLAIN ANALYZE: the largest sort
# that still stays in memory), counting OOM kills. pgbench and psql run outside the cgroups.
# Configs are interleaved and their order rotates each round. Raw rows go to
# bench/results/tuning-<stamp>/results.tsv; bench/tuning-report.ts summarises them.
set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin
HOST=${HOST:-127.0.0.77}
PORT=${PORT:-55432}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-15}
MEMORY_GIB=${MEMORY_GIB:-2}
SCALE=${SCALE:-$((50 * MEMORY_GIB))}
ACCOUNTS=$((100000 * SCALE)) # rows of pgbench_accounts
ABLATION=${ABLATION:-0}
CLIENTS=8
THREADS=2
MEM_LIMIT=$((MEMORY_GIB * 1024 * 1024 * 1024))
if [[ $ABLATION == 1 ]]; then WORKLOADS=${WORKLOADS:-S TPCB}; else WORKLOADS=${WORKLOADS:-S TPCB WM}; fi
case "$MEMORY_GIB" in '' | *[!0-9]* | 0) echo "MEMORY_GIB must be a whole number of GiB, got '$MEMORY_GIB'" >&2; exit 1 ;; esac
for wl in $WORKLOADS; do
  case "$wl" in S | TPCB | WM) ;; *) echo "unknown workload '$wl' in WORKLOADS (allowed: S TPCB WM)" >&2; exit 1 ;; esac
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT="$REPO/bench/results/tuning-$STAMP"
CG_ROOT=/sys/fs/cgroup/memory
CPU_ROOT=/sys/fs/cgroup/cpuacct
CG_PREFIX="pgtune-bench-$$"

[[ $(id -u) == 0 ]] || { echo "run as root (cgroups, drop_caches)" >&2; exit 1; }
[[ -d $CG_ROOT ]] || { echo "no cgroup v1 memory controller at $CG_ROOT" >&2; exit 1; }
[[ -d $CPU_ROOT ]] || { echo "no cgroup v1 cpuacct controller at $CPU_ROOT" >&2; exit 1; }
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
    remove_cgroup "$cg" 2>/dev/null || echo "could not remove cgroup $cg" >&2
  done
  rm -rf "$WORK"
}
# remove_cgroup CGROUP: kills what is left in it, waits up to 5 s for it to empty, removes it.
remove_cgroup() {
  local cg=$1 p
  while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$cg/cgroup.procs"
  for _ in $(seq 1 50); do [[ -z $(cat "$cg/cgroup.procs" 2>/dev/null) ]] && break; sleep 0.1; done
  rmdir "$cg"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
psql_q() { "$PGBIN/psql" -h "$HOST" -p "$PORT" -U postgres -d postgres -AtqX -v ON_ERROR_STOP=1 "$@"; }

# start_pg DATADIR LOGFILE [MEMORY_CGROUP CPUACCT_CGROUP]: postmaster in the background, in the
# cgroups if given.
start_pg() {
  local data=$1 logf=$2 cg=${3:-} cpucg=${4:-}
  (
    if [[ -n $cg ]]; then echo "$BASHPID" >"$cg/cgroup.procs"; echo "$BASHPID" >"$cpucg/cgroup.procs"; fi
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

# PGTune (le0pard/pgtune, configurationSlice.js) "mixed", Linux, MEMORY_GIB GB, 2 CPUs (<4: no
# parallel settings), SSD, 100 connections, PostgreSQL 15: shared_buffers RAM/4,
# effective_cache_size 3/4, maintenance_work_mem RAM/16, wal_buffers 3 % of shared_buffers rounded
# up to 16MB from 14MB (and capped there), work_mem = (RAM - shared_buffers) /
# ((max_connections + max_worker_processes(default 8)) * 3) / 2 (mixed), in kB.
pgtune_conf() {
  local ram_kb=$((MEMORY_GIB * 1024 * 1024)) sb_kb=$((MEMORY_GIB * 1024 * 1024 / 4))
  local work_mem_kb=$(((ram_kb - sb_kb) / ((100 + 8) * 3) / 2))
  local wal_buffers_kb=$((sb_kb * 3 / 100))
  if ((wal_buffers_kb > 14 * 1024)); then wal_buffers_kb=$((16 * 1024)); fi
  cat <<EOF
# P: PGTune mixed, $MEMORY_GIB GB, 2 CPUs, SSD, 100 connections
max_connections = 100
shared_buffers = $((sb_kb / 1024))MB
effective_cache_size = $((ram_kb * 3 / 4 / 1024))MB
maintenance_work_mem = $((ram_kb / 16 / 1024))MB
checkpoint_completion_target = 0.9
wal_buffers = ${wal_buffers_kb}kB
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
    if (cd "$REPO" && npx --no-install ts-node --transpile-only bench/tuning-params.ts --memory-gib "$MEMORY_GIB" --conf) >"$OUT/L.conf" 2>"$OUT/tuning-params.stderr" \
      && (cd "$REPO" && npx --no-install ts-node --transpile-only bench/tuning-params.ts --memory-gib "$MEMORY_GIB") >"$OUT/library-params.json" 2>>"$OUT/tuning-params.stderr"; then
      return 0
    fi
    log "bench/tuning-params.ts failed (attempt $attempt); retrying in 120 s"; cat "$OUT/tuning-params.stderr" >&2
    sleep 120
  done
  return 1
}

log "results: $OUT; work dir: $WORK; $HOST:$PORT; ${MEMORY_GIB} GiB, scale $SCALE, rounds $ROUNDS, ${DURATION}s per workload ($WORKLOADS), warm-up ${WARMUP}s"
echo "" >"$OUT/D.conf"
pgtune_conf >"$OUT/P.conf"
library_conf || { echo "could not get the library parameters" >&2; exit 1; }
grep -h 'source' "$OUT/L.conf" | tee -a "$OUT/bench.log" >&2
if [[ $ABLATION == 1 ]]; then
  mapfile -t ABL < <(cd "$REPO" && npx --no-install ts-node --transpile-only bench/tuning-ablation.ts "$OUT/library-params.json" "$OUT")
  [[ ${#ABL[@]} -gt 0 ]] || { echo "bench/tuning-ablation.ts wrote no configuration" >&2; exit 1; }
  CONFIGS=(D L "${ABL[@]}")
else
  CONFIGS=(D P L)
fi
printf '%s\n' "${CONFIGS[@]}" >"$OUT/configs.txt"
log "configs: ${CONFIGS[*]}"

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
printf 'round\tconfig\tworkload\tstatus\ttps\ttxns\tlat_ms\twal_bytes\tbuffers_backend\tcheckpoints\tblks_read\tblks_hit\thit_ratio\tcg_max_usage\tcg_failcnt\toom_kills\tcg_cache\tcg_shmem\tcg_rss\tcpu_ns\ttemp_files\tclients\tsort_rows\n' >"$OUT/results.tsv"

snapshot() {
  psql_q -F ' ' -c "SELECT pg_current_wal_lsn(), b.buffers_backend, b.checkpoints_timed + b.checkpoints_req, d.blks_read, d.blks_hit, d.temp_files
    FROM pg_stat_bgwriter b, pg_stat_database d WHERE d.datname = 'postgres'"
}

# The WM workload's statement: a full in-memory sort of :n pgbench_accounts rows from a random
# start (OFFSET past the end, so nothing is sent back). Its rows are read by the primary key.
WM_SQL='SELECT aid, filler FROM pgbench_accounts WHERE aid BETWEEN :a AND :a + :n - 1 ORDER BY filler, aid DESC OFFSET 1000000000'

# sort_fits ROWS: prints the kB a sort of ROWS rows used; fails when it spilled to disk.
sort_fits() {
  local sql=${WM_SQL//:a/1} plan type space
  sql=${sql//:n/$1}
  plan=$(psql_q -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, FORMAT JSON) $sql" | tr -d ' \n')
  type=$(grep -o '"SortSpaceType":"[A-Za-z]*"' <<<"$plan" | head -1 | cut -d'"' -f4)
  space=$(grep -o '"SortSpaceUsed":[0-9]*' <<<"$plan" | head -1 | cut -d: -f2)
  [[ -n $type ]] || { echo "tuning-bench: no sort in the plan of the WM statement: $plan" >&2; return 2; }
  echo "$space"
  [[ $type == Memory ]]
}

# wm_calibrate: the largest row count whose sort still fits in this config's work_mem (within
# 1 %), by doubling and bisection. Prints "<rows> <kB used> <work_mem kB>".
wm_calibrate() {
  local wm_kb lo=1000 hi n used kb
  wm_kb=$(psql_q -c "SELECT setting FROM pg_settings WHERE name = 'work_mem'")
  used=$(sort_fits "$lo") || { echo "tuning-bench: even a $lo-row sort spills with work_mem ${wm_kb}kB" >&2; return 1; }
  while :; do
    n=$((lo * 2))
    ((n <= ACCOUNTS / 2)) || { echo "tuning-bench: a sort of $lo rows still fits work_mem ${wm_kb}kB" >&2; return 1; }
    if kb=$(sort_fits "$n"); then lo=$n; used=$kb; else hi=$n; break; fi
  done
  while ((hi - lo > lo / 100 + 1)); do
    n=$(((lo + hi) / 2))
    if kb=$(sort_fits "$n"); then lo=$n; used=$kb; else hi=$n; fi
  done
  echo "$lo $used $wm_kb"
}
oom_kills() { awk '$1 == "oom_kill" { print $2 }' "$1/memory.oom_control"; }
memstat() { awk -v k="$2" '$1 == k { print $2 }' "$1/memory.stat"; }

run_pgbench() { # LOGFILE CLIENTS ARGS...: runs pgbench in the background so cleanup can stop it
  local logf=$1 clients=$2; shift 2
  "$PGBIN/pgbench" -h "$HOST" -p "$PORT" -U postgres -n -c "$clients" -j "$THREADS" "$@" postgres >"$logf" 2>&1 &
  PGB_PID=$!
  local rc=0
  wait "$PGB_PID" || rc=$?
  PGB_PID=""
  return $rc
}

run_one() {
  local round=$1 cfg=$2
  local tag="r${round}-${cfg}" data="$WORK/run" cg="$CG_ROOT/$CG_PREFIX-r${round}-${cfg}" cpucg="$CPU_ROOT/$CG_PREFIX-r${round}-${cfg}"
  rm -rf "$data"
  cp -a "$BASE" "$data"
  cp "$OUT/$cfg.conf" "$data/bench.conf"
  chown postgres:postgres "$data/bench.conf"
  sync
  echo 1 >/proc/sys/vm/drop_caches
  mkdir "$cg" "$cpucg"
  CREATED_CGS+=("$cg" "$cpucg")
  echo "$MEM_LIMIT" >"$cg/memory.limit_in_bytes"
  local logf="$OUT/$tag-postgres.log"
  if ! start_pg "$data" "$logf" "$cg" "$cpucg"; then
    # A configuration whose server does not start measures nothing: stop, and say which and why.
    stop_pg; rmdir "$cg" "$cpucg" 2>/dev/null || true
    echo "tuning-bench: configuration $cfg ($OUT/$cfg.conf) did not start PostgreSQL in round $round; its log: $logf" >&2
    exit 1
  fi
  psql_q -c "SHOW shared_buffers" | sed "s/^/$tag shared_buffers=/" >>"$OUT/bench.log"
  psql_q -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" \
    -c "SELECT pg_prewarm(c, 'read') FROM unnest(ARRAY['pgbench_accounts','pgbench_accounts_pkey','pgbench_branches','pgbench_tellers']::regclass[]) c" >/dev/null
  run_pgbench "$OUT/$tag-warmup.log" "$CLIENTS" -S -T "$WARMUP" || true

  local wl
  for wl in $WORKLOADS; do
    local args=(-T "$DURATION") clients=$CLIENTS sort_rows=NA
    case $wl in
      S) args+=(-S) ;;
      WM)
        # Every connection an application may open (the superuser's reserved ones are not), each
        # sorting as many rows as its work_mem holds.
        local cal rows kb_used wm_kb maxc reserved
        cal=$(wm_calibrate) || { echo "tuning-bench: could not calibrate the WM sort for $cfg" >&2; exit 1; }
        read -r rows kb_used wm_kb <<<"$cal"
        maxc=$(psql_q -c "SHOW max_connections"); reserved=$(psql_q -c "SHOW superuser_reserved_connections")
        clients=$((maxc - reserved)); sort_rows=$rows
        printf '%s\n' "\set a random(1, $((ACCOUNTS - rows)))" "${WM_SQL//:n/$rows};" >"$OUT/$tag-wm.sql"
        args+=(-f "$OUT/$tag-wm.sql")
        log "$tag WM: $clients clients, each sorting $rows rows in memory (${kb_used} kB of work_mem ${wm_kb} kB)"
        ;;
    esac
    local oom0 fail0 cpu0 before after status=ok
    oom0=$(oom_kills "$cg"); fail0=$(cat "$cg/memory.failcnt")
    echo 0 >"$cg/memory.max_usage_in_bytes"
    before=$(snapshot)
    cpu0=$(cat "$cpucg/cpuacct.usage")
    run_pgbench "$OUT/$tag-$wl.log" "$clients" "${args[@]}" || status=pgbench_failed
    local cpu_ns=$(($(cat "$cpucg/cpuacct.usage") - cpu0))
    sleep 1 # backends flush their statistics when they exit
    local max_usage failcnt ooms cache shmem rss
    max_usage=$(cat "$cg/memory.max_usage_in_bytes"); failcnt=$(($(cat "$cg/memory.failcnt") - fail0))
    ooms=$(($(oom_kills "$cg") - oom0))
    cache=$(memstat "$cg" total_cache); shmem=$(memstat "$cg" total_shmem); rss=$(memstat "$cg" total_rss)
    [[ $ooms -gt 0 ]] && status=OOM_KILLED
    if ! after=$(snapshot 2>/dev/null); then status=${status/ok/server_down}; after=""; fi
    local tps txns lat wal=NA bb=NA ck=NA br=NA bh=NA hr=NA tf=NA
    tps=$(awk '/^tps = / { print $3; exit }' "$OUT/$tag-$wl.log"); tps=${tps:-NA}
    lat=$(awk '/^latency average = / { print $4; exit }' "$OUT/$tag-$wl.log"); lat=${lat:-NA}
    txns=$(awk -F': ' '/^number of transactions actually processed/ { print $2; exit }' "$OUT/$tag-$wl.log"); txns=${txns:-NA}
    if [[ -n $after ]]; then
      read -r l0 bb0 ck0 br0 bh0 tf0 <<<"$before"
      read -r l1 bb1 ck1 br1 bh1 tf1 <<<"$after"
      wal=$(psql_q -c "SELECT pg_wal_lsn_diff('$l1', '$l0')::bigint")
      bb=$((bb1 - bb0)); ck=$((ck1 - ck0)); br=$((br1 - br0)); bh=$((bh1 - bh0)); tf=$((tf1 - tf0))
      hr=$(awk -v r="$br" -v h="$bh" 'BEGIN { if (r + h > 0) printf "%.5f", h / (r + h); else print "NA" }')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$cfg" "$wl" "$status" "$tps" "$txns" "$lat" \
      "$wal" "$bb" "$ck" "$br" "$bh" "$hr" "$max_usage" "$failcnt" "$ooms" "$cache" "$shmem" "$rss" "$cpu_ns" "$tf" "$clients" "$sort_rows" >>"$OUT/results.tsv"
    log "$tag $wl: $status tps=$tps cpu/tx=$(awk -v c="$cpu_ns" -v t="$txns" 'BEGIN { if (t > 0) printf "%.1f", c / t / 1000; else print "NA" }')us hit=$hr wal=$wal temp_files=$tf max_usage=$((max_usage / 1048576))MiB failcnt=$failcnt oom=$ooms"
    [[ $status == ok ]] || break
  done
  stop_pg
  grep -E 'terminated by signal|out of memory' "$logf" >>"$OUT/bench.log" 2>/dev/null || true
  remove_cgroup "$cg"
  remove_cgroup "$cpucg"
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

cd "$REPO" && npx --no-install ts-node --transpile-only bench/tuning-report.ts "$OUT" | tee "$OUT/report.md"
