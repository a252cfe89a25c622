import { Tuning } from './memory-tuning';
import { pgMegabytes } from './units';

/** A postgresql.conf parameter value as Patroni's YAML carries it. */
export type ParameterValue = string | number | boolean;

/** A set of postgresql.conf parameters, rendered with keys in sorted order. */
export type Parameters = Record<string, ParameterValue>;

/**
 * Parameters the library (or Patroni) owns: set from typed settings or required for the cluster
 * to work. A raw `parameters` entry for one of them is refused, naming where it is set instead.
 */
export const OWNED_PARAMETERS: Readonly<Record<string, string>> = {
  listen_addresses: 'config.database.listenAddress',
  port: 'config.database.port',
  max_connections: 'config.connection.maxConnections',
  archive_mode: 'the backup configuration',
  archive_command: 'the backup configuration',
  archive_library: 'the backup configuration',
  restore_command: 'the backup configuration',
  recovery_target: 'a restore',
  recovery_target_lsn: 'a restore',
  recovery_target_name: 'a restore',
  recovery_target_time: 'a restore',
  recovery_target_xid: 'a restore',
  recovery_target_timeline: 'a restore',
  recovery_target_action: 'a restore',
  recovery_target_inclusive: 'a restore',
  ssl: 'the TLS configuration',
  ssl_cert_file: 'the TLS configuration',
  ssl_key_file: 'the TLS configuration',
  ssl_ca_file: 'the TLS configuration',
  ssl_crl_file: 'the TLS configuration',
  ssl_min_protocol_version: 'config.connection.tlsMinVersion',
  unix_socket_directories: 'the library (the pod\'s /tmp volume)',
  unix_socket_permissions: 'the library',
  unix_socket_group: 'the library',
  hot_standby: 'Patroni',
  primary_conninfo: 'Patroni',
  primary_slot_name: 'Patroni',
  promote_trigger_file: 'Patroni',
  synchronous_standby_names: 'Patroni (config.replication.mode)',
  cluster_name: 'Patroni',
  data_directory: 'the library',
  hba_file: 'the library',
  ident_file: 'the library',
  config_file: 'the library',
  wal_level: 'config.replication.walLevel',
  wal_log_hints: 'the library (pg_rewind needs it)',
  max_wal_senders: 'the library (fixed so scaling never restarts the primary; config.replication.logicalSlots adds to it)',
  max_replication_slots: 'the library (fixed so scaling never restarts the primary; config.replication.logicalSlots adds to it)',
  max_worker_processes: 'the library (derived from the CPU limits)',
  recovery_min_apply_delay: 'delayedReplicas.applyDelay',
  shared_buffers: 'config.sharedMemory.sharedBuffers',
  huge_pages: 'config.sharedMemory.hugePages',
  log_destination: 'config.database.logFormat',
  logging_collector: 'config.database.logFormat',
  log_min_messages: 'config.database.logLevel',
  statement_timeout: 'config.connection.statementTimeout',
  idle_in_transaction_session_timeout: 'config.connection.idleInTransactionTimeout',
  idle_session_timeout: 'config.connection.idleSessionTimeout',
  authentication_timeout: 'config.connection.connectTimeout',
  max_slot_wal_keep_size: 'config.replication.maxSlotWalKeepSize',
  wal_keep_size: 'config.replication.walKeepSize',
};

/**
 * Raw parameters Patroni only takes from its DCS (equal on every member): a raw value for one of
 * them goes into the cluster-wide parameters, not a member's own.
 */
export const CLUSTER_WIDE_RAW_PARAMETERS: readonly string[] = ['max_locks_per_transaction', 'max_prepared_transactions', 'track_commit_timestamp'];

/** What the cluster-wide parameters depend on (never on the replica count). */
export interface ClusterParameterInput {
  readonly maxConnections: number;
  readonly maxWalSenders: number;
  readonly maxReplicationSlots: number;
  readonly maxWorkerProcesses: number;
  /** wal_level: replica, or logical for logical decoding. */
  readonly walLevel: string;
  /** Raw values of {@link CLUSTER_WIDE_RAW_PARAMETERS}. */
  readonly overrides?: Record<string, string>;
}

/**
 * Parameters that must be equal on every member (a hot standby refuses to start with lower values
 * than its primary). Patroni keeps these in its DCS and applies them everywhere.
 */
export function clusterParameters(input: ClusterParameterInput): Parameters {
  return sorted({
    max_connections: input.maxConnections,
    max_locks_per_transaction: 64,
    max_prepared_transactions: 0,
    max_replication_slots: input.maxReplicationSlots,
    max_wal_senders: input.maxWalSenders,
    max_worker_processes: input.maxWorkerProcesses,
    track_commit_timestamp: 'off',
    wal_level: input.walLevel,
    ...input.overrides,
  });
}

/** Logging as rendered. */
export interface LoggingInput {
  /** log_min_messages value (debug1, info, notice, warning, error). */
  readonly minMessages: string;
  /** stderr (container log), or files in the data directory's `log/` folder. */
  readonly toFiles: boolean;
  /** text, csv or json (csv/json only to files). */
  readonly format: 'text' | 'csv' | 'json';
  /** log_min_duration_statement in milliseconds, or undefined for off. */
  readonly slowStatementMs?: number;
}

/** Connection limits and timeouts as rendered (milliseconds or seconds as PostgreSQL takes them). */
export interface ConnectionInput {
  readonly superuserReservedConnections: number;
  readonly authenticationTimeoutSeconds?: number;
  readonly statementTimeoutMs?: number;
  readonly idleInTransactionTimeoutMs?: number;
  readonly idleSessionTimeoutMs?: number;
  readonly tcpKeepalivesIdleSeconds: number;
  readonly tcpKeepalivesIntervalSeconds: number;
  readonly tcpKeepalivesCount: number;
}

/** What a member's own parameters depend on. */
export interface MemberParameterInput {
  readonly postgresVersion: number;
  readonly tuning: Tuning;
  /** WAL bounds, bytes. */
  readonly maxWalSize: number;
  readonly maxSlotWalKeepSize: number;
  readonly walKeepSize: number;
  /** Directory of the Unix-domain socket (absolute, outside the data directory). */
  readonly socketDirectory: string;
  readonly hugePages: 'off' | 'try' | 'on';
  readonly logging: LoggingInput;
  readonly connection: ConnectionInput;
  /** recovery_min_apply_delay in seconds, for a delayed replica. */
  readonly applyDelaySeconds?: number;
  /** Raw parameters from the user; they win over derived values (owned ones are refused earlier). */
  readonly overrides: Record<string, string>;
  /** Server TLS files, when TLS is on. */
  readonly ssl?: SslFiles;
}

/** Paths of a TLS key pair and its CA inside the pod. */
export interface SslFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** ssl_min_protocol_version (`TLSv1.2` or `TLSv1.3`). @default 'TLSv1.3' */
  readonly minProtocolVersion?: string;
}

/**
 * Parameters of one member. They may differ between node sets (for example memory, when their
 * resources differ) and take effect when the member restarts.
 */
export function memberParameters(input: MemberParameterInput): Parameters {
  const t = input.tuning;
  const c = input.connection;
  const log = input.logging;
  const params: Parameters = {
    shared_buffers: pgMegabytes(t.sharedBuffers),
    effective_cache_size: pgMegabytes(t.effectiveCacheSize),
    work_mem: pgKilobytes(t.workMem),
    maintenance_work_mem: pgMegabytes(t.maintenanceWorkMem),
    autovacuum_work_mem: pgMegabytes(t.autovacuumWorkMem),
    wal_buffers: pgKilobytes(t.walBuffers),
    max_parallel_workers: t.maxParallelWorkers,
    max_parallel_workers_per_gather: t.maxParallelWorkersPerGather,
    max_parallel_maintenance_workers: t.maxParallelMaintenanceWorkers,
    random_page_cost: t.randomPageCost,
    effective_io_concurrency: t.effectiveIoConcurrency,
    huge_pages: input.hugePages,
    dynamic_shared_memory_type: 'posix',
    password_encryption: 'scram-sha-256',
    unix_socket_directories: input.socketDirectory,
    wal_log_hints: 'on',
    wal_compression: input.postgresVersion >= 15 ? 'lz4' : 'on',
    max_wal_size: pgMegabytes(input.maxWalSize),
    max_slot_wal_keep_size: pgMegabytes(input.maxSlotWalKeepSize),
    wal_keep_size: pgMegabytes(input.walKeepSize),
    checkpoint_timeout: '15min',
    checkpoint_completion_target: 0.9,
    // Without a backup repository nothing archives WAL (a backup repository turns this on).
    archive_mode: 'off',
    jit: 'off',
    superuser_reserved_connections: c.superuserReservedConnections,
    tcp_keepalives_idle: c.tcpKeepalivesIdleSeconds,
    tcp_keepalives_interval: c.tcpKeepalivesIntervalSeconds,
    tcp_keepalives_count: c.tcpKeepalivesCount,
    log_min_messages: log.minMessages,
    logging_collector: log.toFiles ? 'on' : 'off',
    log_destination: log.format === 'text' ? 'stderr' : log.format === 'csv' ? 'csvlog' : 'jsonlog',
    log_line_prefix: '%m [%p] %q%u@%d ',
    log_checkpoints: 'on',
    log_lock_waits: 'on',
    log_temp_files: 0,
  };
  if (log.toFiles) {
    Object.assign(params, {
      log_directory: 'log',
      log_filename: 'postgresql-%a.log',
      log_rotation_age: '1d',
      log_rotation_size: '100MB',
      log_truncate_on_rotation: 'on',
    });
  }
  if (log.slowStatementMs !== undefined) params.log_min_duration_statement = log.slowStatementMs;
  if (c.authenticationTimeoutSeconds !== undefined) params.authentication_timeout = c.authenticationTimeoutSeconds;
  if (c.statementTimeoutMs !== undefined) params.statement_timeout = c.statementTimeoutMs;
  if (c.idleInTransactionTimeoutMs !== undefined) params.idle_in_transaction_session_timeout = c.idleInTransactionTimeoutMs;
  if (c.idleSessionTimeoutMs !== undefined) params.idle_session_timeout = c.idleSessionTimeoutMs;
  if (input.applyDelaySeconds !== undefined) params.recovery_min_apply_delay = `${input.applyDelaySeconds}s`;
  if (input.ssl) {
    Object.assign(params, {
      ssl: 'on',
      ssl_cert_file: input.ssl.certFile,
      ssl_key_file: input.ssl.keyFile,
      ssl_ca_file: input.ssl.caFile,
      ssl_min_protocol_version: input.ssl.minProtocolVersion ?? 'TLSv1.3',
    });
  }
  const own = Object.fromEntries(Object.entries(input.overrides).filter(([k]) => !CLUSTER_WIDE_RAW_PARAMETERS.includes(k)));
  return sorted({ ...params, ...own });
}

/** Returns a copy with keys in sorted order, so rendered output is stable. */
export function sorted(params: Parameters): Parameters {
  const out: Parameters = {};
  for (const key of Object.keys(params).sort()) out[key] = params[key];
  return out;
}

/** A byte count as whole kilobytes (PostgreSQL's kB), never below 64kB. */
function pgKilobytes(bytes: number): string {
  return `${Math.max(64, Math.floor(bytes / 1024))}kB`;
}
