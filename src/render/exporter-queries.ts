import { Yaml } from 'cdk8s';

/** One column of an exporter query: a label, or a value exported as `<query>_<column>`. */
export interface ExporterColumn {
  readonly usage: 'LABEL' | 'GAUGE' | 'COUNTER';
  readonly description: string;
}

/** One custom query of postgres_exporter's query file. */
export interface ExporterQuery {
  readonly query: string;
  readonly master: boolean;
  readonly metrics: ReadonlyArray<Record<string, ExporterColumn>>;
}

/**
 * Custom queries of the postgres_exporter sidecar (`--extend.query-path`): replication lag in
 * bytes and seconds, WAL archiving status, the heartbeat's age, connections by state, each
 * database's transaction ID age and the settings waiting for a restart. Each works on the leader
 * and on replicas (a query returning no row exports nothing).
 */
export const EXPORTER_QUERIES: Readonly<Record<string, ExporterQuery>> = {
  pgc_replication: {
    query: `SELECT application_name, coalesce(sync_state, 'unknown') AS sync_state,
  coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0) AS lag_bytes,
  coalesce(extract(epoch FROM replay_lag), 0) AS lag_seconds
FROM pg_stat_replication`,
    master: true,
    metrics: [
      { application_name: { usage: 'LABEL', description: 'Replica (Patroni member name)' } },
      { sync_state: { usage: 'LABEL', description: 'async, sync, quorum or potential' } },
      { lag_bytes: { usage: 'GAUGE', description: 'WAL the replica has not replayed yet, in bytes (seen from the leader)' } },
      { lag_seconds: { usage: 'GAUGE', description: 'Replay lag of the replica, in seconds (seen from the leader)' } },
    ],
  },
  pgc_recovery: {
    query: `SELECT CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica,
  CASE WHEN pg_is_in_recovery() THEN coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0) ELSE 0 END AS replay_lag_bytes`,
    master: true,
    metrics: [
      { is_replica: { usage: 'GAUGE', description: '1 on a replica, 0 on the leader' } },
      { replay_lag_bytes: { usage: 'GAUGE', description: 'WAL received but not replayed on this member, in bytes' } },
    ],
  },
  pgc_archiver: {
    query: `SELECT archived_count, failed_count,
  coalesce(extract(epoch FROM now() - last_archived_time), -1) AS last_archive_age_seconds,
  CASE WHEN last_failed_time IS NOT NULL AND (last_archived_time IS NULL OR last_failed_time > last_archived_time) THEN 1 ELSE 0 END AS failing
FROM pg_stat_archiver`,
    master: true,
    metrics: [
      { archived_count: { usage: 'COUNTER', description: 'WAL files archived' } },
      { failed_count: { usage: 'COUNTER', description: 'Failed attempts to archive WAL' } },
      { last_archive_age_seconds: { usage: 'GAUGE', description: 'Seconds since the last WAL file was archived (-1: never)' } },
      { failing: { usage: 'GAUGE', description: '1 when the last archive attempt failed' } },
    ],
  },
  pgc_heartbeat: {
    query: 'SELECT extract(epoch FROM now() - at) AS age_seconds FROM cdk8s_heartbeat.beat WHERE id = 1',
    master: true,
    metrics: [
      { age_seconds: { usage: 'GAUGE', description: 'Age of the heartbeat row the leader writes (replication lag end to end on a replica)' } },
    ],
  },
  pgc_connections: {
    query: 'SELECT coalesce(state, \'background\') AS state, count(*) AS count FROM pg_stat_activity GROUP BY 1',
    master: true,
    metrics: [
      { state: { usage: 'LABEL', description: 'Backend state' } },
      { count: { usage: 'GAUGE', description: 'Connections in this state' } },
    ],
  },
  pgc_database: {
    // age(datfrozenxid): transactions since the database was last frozen; PostgreSQL stops
    // taking writes 3 million short of 2^31 (wraparound). template0 included: it is frozen.
    query: 'SELECT datname, age(datfrozenxid) AS xid_age FROM pg_database',
    master: true,
    metrics: [
      { datname: { usage: 'LABEL', description: 'Database' } },
      { xid_age: { usage: 'GAUGE', description: 'Transactions since the database was last frozen (age of datfrozenxid)' } },
    ],
  },
  pgc_settings: {
    query: 'SELECT count(*) FILTER (WHERE pending_restart) AS pending_restart FROM pg_settings',
    master: true,
    metrics: [
      { pending_restart: { usage: 'GAUGE', description: 'Settings changed in the configuration that take effect only after a restart' } },
    ],
  },
};

/** The exporter's query file (YAML). */
export function exporterQueries(): string {
  return Yaml.stringify(EXPORTER_QUERIES);
}

/**
 * The metric names the custom queries export: `<query>_<column>` for every column that is not a
 * label (postgres_exporter's naming), sorted.
 */
export function exporterMetricNames(): string[] {
  return Object.entries(EXPORTER_QUERIES).flatMap(([name, q]) => q.metrics.flatMap((m) =>
    Object.entries(m).filter(([, c]) => c.usage !== 'LABEL').map(([column]) => `${name}_${column}`))).sort();
}
