/**
 * How the primary confirms commits to its replicas.
 */
export enum ReplicationMode {
  /**
   * Commits return once they are durable on the primary; replicas follow by streaming.
   * A failover can lose the last transactions the replicas had not received yet
   * (bounded by `maximumLagOnFailover`).
   */
  ASYNCHRONOUS = 'asynchronous',

  /**
   * Patroni synchronous mode: a commit returns only after `synchronousStandbys` replicas have
   * flushed it, and only a synchronous standby may be promoted, so a failover loses no committed
   * transaction. When no replica is healthy, the primary falls back to asynchronous commits
   * (writes keep working).
   */
  SYNCHRONOUS = 'synchronous',

  /**
   * Like SYNCHRONOUS, but the primary never falls back to asynchronous commits: when no
   * synchronous standby is available, writes block until one is. Zero data loss over availability.
   */
  SYNCHRONOUS_STRICT = 'synchronous-strict',
}

/**
 * How much information the primary writes to WAL (PostgreSQL's `wal_level`), equal on every member.
 */
export enum WalLevel {
  /** Enough for streaming replicas, archiving and point-in-time recovery. */
  REPLICA = 'replica',

  /**
   * Also what logical decoding needs: publications and subscriptions, change data capture
   * (Debezium and the like). Each consumer holds a logical replication slot and a WAL sender on
   * the primary: see `ReplicationSettings.logicalSlots`. WAL grows somewhat (more is logged per
   * row change).
   */
  LOGICAL = 'logical',
}
