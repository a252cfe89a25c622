import { scriptText } from './script-files';

/**
 * The heartbeat monitor (src/scripts/heartbeat.py): a program run in a sidecar of every member
 * pod. Like the programs of ./scripts.ts it is plain text shipped in a ConfigMap, configured by
 * the environment only, and run by the postgres image's Python 3 (standard library plus psycopg2, which Patroni needs too).
 */

/**
 * Heartbeat monitor sidecar; its `GET /ready` is the member pod's readiness probe.
 *
 * It runs as the PostgreSQL uid on a read-only root filesystem (it writes nothing to disk) and
 * checks its member every interval on a fresh connection over the Unix socket, as the superuser
 * with peer authentication, to database `postgres`:
 * - Leader (`pg_is_in_recovery()` false): in a session with `synchronous_commit = local`, upserts
 *   row 1 of `cdk8s_heartbeat.beat (id int primary key, at timestamptz, lsn pg_lsn)` with `now()`
 *   and `pg_current_wal_lsn()` (creating the schema and table when missing, readable by
 *   pg_monitor), records every replica of `pg_stat_replication` with its lag, and, when
 *   archive_mode is on, WAL archiving from `pg_stat_archiver` (failing when the last attempt failed
 *   after the last success) and the segments waiting in `archive_status`. The leader is ready
 *   whenever PostgreSQL answers: replica or archive trouble never makes it unready.
 * - Replica: reads the replicated heartbeat row (its age is the lag end to end: on an idle leader
 *   replay timestamps stand still, the heartbeat does not), `pg_stat_wal_receiver` and its
 *   receive/replay positions. Its readiness rests on its own WAL receiver and replay, never on
 *   the leader's heartbeat sidecar (another pod, which may crash or be throttled): a check fails
 *   when the WAL receiver is not streaming (`primary unreachable`), replay is paused, more than
 *   HB_MAX_LAG_BYTES of WAL is not replayed (counted from the end of WAL the leader's WAL sender
 *   last reported), or replay has been behind the WAL this replica received for more than
 *   HB_MAX_LAG_SECONDS (measured on the replica across checks: a replay stuck a few bytes behind
 *   turns it unready). A missing heartbeat row, or one older than HB_MAX_LAG_SECONDS, is a
 *   warning (in `/status` and the log), not a failure. With the leader's heartbeat stalled, a
 *   replica cut off from the leader while its connection stays open is noticed by PostgreSQL's
 *   `wal_receiver_timeout` (default 60 s), which ends the WAL receiver.
 * - Either role: a check also fails when PostgreSQL does not answer, or errors, within the timeout.
 *
 * The member is unready after HB_FAILURE_THRESHOLD consecutive failed checks and ready again
 * after one successful check; before its first successful check it is unready (`starting`).
 * SIGTERM (or SIGINT) exits 0 at once.
 *
 * Environment (every variable optional; an invalid value exits 2 with a message naming it):
 * - PGHOST (socket directory), PGPORT, PGUSER: libpq's, for the superuser connection.
 * - HB_PORT: HTTP port (default 8010). HB_LISTEN: address to listen on (default `*`: every
 *   address, IPv4 and IPv6 on one dual-stack socket, or IPv4 alone where the pod has no IPv6;
 *   an IPv4 address listens on it alone, an IPv6 address such as `::` on IPv6).
 * - HB_INTERVAL_SECONDS: time between checks (default 5).
 * - HB_TIMEOUT_SECONDS: connect timeout and statement timeout of each check (default 3).
 * - HB_FAILURE_THRESHOLD: consecutive failed checks before unready (default 3).
 * - HB_MAX_LAG_BYTES: WAL a replica may not have replayed yet (default 16777216).
 * - HB_MAX_LAG_SECONDS: longest a replica's replay may stay behind the WAL it received, and the
 *   heartbeat age above which it warns (default 30; must exceed the interval).
 *
 * HTTP (GET):
 * - `/status`: JSON `{role, ready, reason, checked_at, heartbeat_age_seconds, lag_bytes,
 *   replay_lag_seconds, streaming, replay_paused, replicas: [{application_name, client_addr,
 *   state, sync_state, lag_bytes, lag_seconds}], archive: {failing, last_archived_age_seconds,
 *   failed_count, last_failed_wal, ready_segments} (leader with archive_mode on, else null),
 *   warnings, consecutive_failures}`; `role` is `leader`, `replica` or `unknown` (before
 *   PostgreSQL first answered), values not measured are null, `warnings` is a list of texts.
 * - `/ready`: 200 when ready, 503 otherwise; the body is the reason (`ok`, `starting`, or the
 *   failures of the last check joined by `; `).
 * - `/metrics`: Prometheus text format; a sample whose value is unknown is left out:
 *   - `pgc_heartbeat_ready` (gauge): 1 when ready.
 *   - `pgc_heartbeat_is_leader` (gauge): 1 on the leader, 0 on a replica.
 *   - `pgc_heartbeat_age_seconds` (gauge): age of the replicated heartbeat (replica).
 *   - `pgc_heartbeat_lag_bytes` (gauge): WAL not replayed yet (replica).
 *   - `pgc_heartbeat_replay_lag_seconds` (gauge): how long replay has been behind the WAL
 *     received (replica).
 *   - `pgc_heartbeat_streaming` (gauge): 1 while the WAL receiver streams (replica).
 *   - `pgc_heartbeat_check_failures_total` (counter): failed checks since start.
 *   - `pgc_heartbeat_replica_lag_bytes{application_name, client_addr}` (gauge): each replica's
 *     unreplayed WAL, seen from the leader.
 *   - `pgc_heartbeat_replica_lag_seconds{application_name, client_addr}` (gauge): each replica's
 *     replay lag, seen from the leader.
 *   - `pgc_heartbeat_archive_failing` (gauge): 1 while WAL archiving fails (leader).
 *   - `pgc_heartbeat_archive_ready_segments` (gauge): WAL segments waiting to be archived (leader).
 *   - `pgc_heartbeat_archive_last_success_age_seconds` (gauge): seconds since a segment was last
 *     archived (leader).
 */
export const HEARTBEAT_SCRIPT = scriptText('heartbeat.py');

/**
 * The metric names the heartbeat's `/metrics` exports, read from the program itself (each
 * `metric(lines, "<name>", ...)` call of render_metrics), sorted.
 */
export function heartbeatMetricNames(): string[] {
  return [...HEARTBEAT_SCRIPT.matchAll(/\bmetric\(lines, "([a-z_:][a-z0-9_:]*)"/g)].map((m) => m[1]).sort();
}
