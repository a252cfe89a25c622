import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Resources } from './resources';

/** Port of the heartbeat sidecar's HTTP endpoint. */
export const HEARTBEAT_PORT = 8010;
/** Port of the metrics exporter. */
export const METRICS_PORT = 9187;
/** The monitoring role the exporter connects as (pg_monitor, no superuser rights). */
export const MONITORING_USER = 'cdk8s_monitor';
/** The role pg_rewind connects as between members: no superuser, only the functions it reads files with. */
export const REWIND_USER = 'cdk8s_rewind';
/** The role the access Job connects as: creates roles and databases, never a superuser. */
export const ACCESS_USER = 'cdk8s_access';
/** The role PgBouncer's auth_query runs as. */
export const POOLER_USER = 'cdk8s_pgbouncer';
/** Predefined roles an application user may be granted (none reaches the server's files or programs). */
export const GRANTABLE_PREDEFINED_ROLES = [
  'pg_read_all_data', 'pg_write_all_data', 'pg_read_all_settings', 'pg_read_all_stats', 'pg_stat_scan_tables',
  'pg_monitor', 'pg_signal_backend', 'pg_checkpoint', 'pg_create_subscription', 'pg_use_reserved_connections',
];

/** Default resources of the heartbeat sidecar. @internal */
export const HEARTBEAT_RESOURCES = Resources.of({ cpu: kplus.Cpu.millis(100), memory: Size.mebibytes(64) });
/** Default resources of the exporter sidecar. @internal */
export const METRICS_RESOURCES = Resources.of({ cpu: kplus.Cpu.millis(100), memory: Size.mebibytes(128) });
/** Resources of the wait-for-leader init container. @internal */
export const INIT_RESOURCES = Resources.of({ cpu: kplus.Cpu.millis(100), memory: Size.mebibytes(64) });

/**
 * ttlSecondsAfterFinished of the library's one-off Jobs (credentials, access, backup init, CA
 * publisher): a finished Job is deleted a day later, so every renamed (hash-named) Job does not
 * stay behind. The Jobs are idempotent: a tool that re-applies a deleted Job only re-runs it.
 * CronJobs' Jobs are bounded by their history limits instead.
 * @internal
 */
export const JOB_TTL_SECONDS = 86400;
