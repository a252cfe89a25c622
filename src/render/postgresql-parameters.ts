import { Tuning } from './memory-tuning';
import { pgMegabytes } from './units';

/** A postgresql.conf parameter value as Patroni's YAML carries it. */
export type ParameterValue = string | number | boolean;

/** A set of postgresql.conf parameters, rendered with keys in sorted order. */
export type Parameters = Record<string, ParameterValue>;

/** What the cluster-wide parameters depend on (never on the replica count). */
export interface ClusterParameterInput {
  readonly maxConnections: number;
  readonly maxWalSenders: number;
  readonly maxReplicationSlots: number;
  readonly maxWorkerProcesses: number;
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
    wal_level: 'replica',
  });
}

/** What a member's own parameters depend on. */
export interface MemberParameterInput {
  readonly postgresVersion: number;
  readonly tuning: Tuning;
  /** The volume holding the data directory and WAL, in bytes: bounds how much WAL may pile up. */
  readonly storageBytes: number;
  /** Directory of the Unix-domain socket (absolute, outside the data directory). */
  readonly socketDirectory: string;
}

/**
 * Parameters of one member. They may differ between the preferred primary and the replicas (for
 * example memory, when their resources differ) and take effect when the member restarts.
 *
 * WAL on the data volume is bounded: max_wal_size 1/8 of the volume, replication slots may hold
 * back at most 1/4 (`max_slot_wal_keep_size`: a dead replica cannot fill the disk), and
 * wal_keep_size 1/16 (at most 512MB). Together at most ~44 % of the volume.
 */
export function memberParameters(input: MemberParameterInput): Parameters {
  const t = input.tuning;
  const storage = input.storageBytes;
  const params: Parameters = {
    shared_buffers: pgMegabytes(t.sharedBuffers),
    effective_cache_size: pgMegabytes(t.effectiveCacheSize),
    work_mem: pgMegabytes(t.workMem),
    maintenance_work_mem: pgMegabytes(t.maintenanceWorkMem),
    max_parallel_workers: t.maxParallelWorkers,
    max_parallel_workers_per_gather: t.maxParallelWorkersPerGather,
    huge_pages: 'off',
    dynamic_shared_memory_type: 'posix',
    password_encryption: 'scram-sha-256',
    unix_socket_directories: input.socketDirectory,
    wal_log_hints: 'on',
    wal_compression: input.postgresVersion >= 15 ? 'lz4' : 'on',
    max_wal_size: pgMegabytes(Math.min(Math.max(storage / 8, 256 * 2 ** 20), 16 * 2 ** 30)),
    max_slot_wal_keep_size: pgMegabytes(storage / 4),
    wal_keep_size: pgMegabytes(Math.min(storage / 16, 512 * 2 ** 20)),
    checkpoint_timeout: '15min',
    checkpoint_completion_target: 0.9,
    // Without a backup repository nothing archives WAL (a backup repository turns this on).
    archive_mode: 'off',
    jit: 'off',
    logging_collector: 'off',
    log_destination: 'stderr',
    log_line_prefix: '%m [%p] %q%u@%d ',
    log_checkpoints: 'on',
    log_lock_waits: 'on',
    log_temp_files: 0,
  };
  return sorted(params);
}

/** Returns a copy with keys in sorted order, so rendered output is stable. */
export function sorted(params: Parameters): Parameters {
  const out: Parameters = {};
  for (const key of Object.keys(params).sort()) out[key] = params[key];
  return out;
}
