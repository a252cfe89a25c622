import { Duration, Size, SizeRoundingBehavior } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { PasswordRotationOptions } from './access';
import { ClientAuthMethod, HbaConnectionType, HbaRule } from './access-rules';
import { propError, requireInteger } from './errors';
import { REWIND_USER } from './monitoring-defaults';
import { memoryBudget, requiredSharedMemory, tuneFromLimits, Tuning } from './render/memory-tuning';
import { hbaRules, renderHbaRule } from './render/pg-hba';
import { CLUSTER_WIDE_RAW_PARAMETERS, MemberParameterInput, OWNED_PARAMETERS, SslFiles, memberParameters } from './render/postgresql-parameters';
import { formatQuantity, MiB, parseCpuCores, parsePgMemory } from './render/units';
import { ReplicationMode, WalLevel } from './replication';
import { Resources } from './resources';
import { StorageOptions, StorageType } from './storage';
import { TlsVersion } from './tls';

/** How much PostgreSQL and Patroni log. */
export enum LogLevel {
  /** Debug messages (log_min_messages debug1; Patroni DEBUG). */
  DEBUG = 'debug1',
  /** Informational messages (log_min_messages info; Patroni INFO). */
  INFO = 'info',
  /** Notices and above (Patroni INFO). */
  NOTICE = 'notice',
  /** Warnings and above (PostgreSQL's own default; Patroni WARNING). */
  WARNING = 'warning',
  /** Errors only (Patroni ERROR). */
  ERROR = 'error',
}

/** The format of PostgreSQL's log. */
export enum LogFormat {
  /** Plain text lines on the container's standard error (`kubectl logs`). */
  TEXT = 'text',
  /** CSV files in the data directory's `log/` folder (logging_collector). */
  CSV = 'csv',
  /** JSON lines in files in the data directory's `log/` folder (logging_collector). */
  JSON = 'json',
}

/** Which addresses PostgreSQL listens on inside the pod. */
export enum ListenAddress {
  /** Every IPv4 and IPv6 address (`*`). */
  ALL = '*',
  /** Every IPv4 address (`0.0.0.0`). */
  IPV4 = '0.0.0.0',
  /** Every IPv6 address (`::`). */
  IPV6 = '::',
}

/** Whether PostgreSQL puts shared memory on huge pages. */
export enum HugePages {
  /** Never (the default: huge pages present on a node but not granted to the pod crash initdb). */
  OFF = 'off',
  /** Use huge pages; needs `sharedMemory.hugePagesLimit` so the pod is granted them. */
  ON = 'on',
}

/** Database settings. */
export interface DatabaseSettings {
  /**
   * Application database created when the cluster is bootstrapped (owned by the superuser).
   * @default 'app'
   */
  readonly name?: string;
  /**
   * PostgreSQL port, in the pods and on the Services.
   * @default 5432
   */
  readonly port?: number;
  /**
   * Addresses PostgreSQL listens on inside the pod.
   * @default ListenAddress.ALL
   */
  readonly listenAddress?: ListenAddress;
  /**
   * Log level of PostgreSQL (log_min_messages) and Patroni.
   * @default LogLevel.WARNING
   */
  readonly logLevel?: LogLevel;
  /**
   * Log format. TEXT goes to the container log; CSV and JSON to rotated files in the data directory.
   * @default LogFormat.TEXT
   */
  readonly logFormat?: LogFormat;
  /**
   * Log every statement that runs longer than this (log_min_duration_statement).
   * @default - statements are not logged for their duration
   */
  readonly logStatementsSlowerThan?: Duration;
}

/** TCP keepalive probes on client connections (dead clients behind NAT or a load balancer are detected). */
export interface TcpKeepalives {
  /**
   * Idle time before the first probe.
   * @default Duration.seconds(60)
   */
  readonly idle?: Duration;
  /**
   * Time between probes.
   * @default Duration.seconds(10)
   */
  readonly interval?: Duration;
  /**
   * Unanswered probes before the connection is dropped.
   * @default 6
   */
  readonly count?: number;
}

/** Connection, authentication and timeout settings. */
export interface ConnectionSettings {
  /**
   * max_connections, equal on every member (10 to 10000). Must fit the memory limit with work_mem.
   * @default 100
   */
  readonly maxConnections?: number;
  /**
   * Connections kept for superusers (superuser_reserved_connections).
   * @default 3
   */
  readonly superuserReservedConnections?: number;
  /**
   * How network clients authenticate.
   * @default ClientAuthMethod.SCRAM_SHA_256
   */
  readonly clientAuth?: ClientAuthMethod;
  /**
   * How replicas authenticate to the primary.
   * @default - ClientAuthMethod.CERT with TLS (the default), ClientAuthMethod.SCRAM_SHA_256 without
   */
  readonly replicationAuth?: ClientAuthMethod;
  /**
   * Let the superuser `postgres` log in over TCP (by password, like any client). Off, it logs in
   * only over the local socket inside its pod (`kubectl exec`), so a leaked superuser Secret is
   * no use from the network: pg_rewind between members runs as `cdk8s_rewind` (only the
   * functions it reads files with) and the access Job as `cdk8s_access` (creates roles and
   * databases, no superuser). On, the access Job runs as `postgres` too, which extensions that
   * are not trusted (pg_stat_statements, postgis, ...) need.
   * @default false
   */
  readonly superuserNetworkAccess?: boolean;
  /**
   * Password rotation of the roles the library owns (superuser, replication, monitoring, pooler).
   * Application users rotate with their own `passwordRotation`; these are refused for now, each
   * with its reason (see PasswordRotationOptions).
   * @default - no rotation (every counter 0)
   */
  readonly passwordRotation?: PasswordRotationOptions;
  /**
   * Extra pg_hba rules, matched before the catch-all client rule.
   * @default - none
   */
  readonly hbaRules?: HbaRule[];
  /**
   * Time a client has to complete authentication (authentication_timeout, 1 s to 600 s).
   * @default Duration.minutes(1)
   */
  readonly connectTimeout?: Duration;
  /**
   * Abort statements running longer than this (statement_timeout).
   * @default - no limit
   */
  readonly statementTimeout?: Duration;
  /**
   * Close sessions idle inside a transaction for longer than this (idle_in_transaction_session_timeout).
   * @default - no limit
   */
  readonly idleInTransactionTimeout?: Duration;
  /**
   * Close sessions idle outside a transaction for longer than this (idle_session_timeout).
   * @default - no limit
   */
  readonly idleSessionTimeout?: Duration;
  /**
   * TCP keepalives on client connections.
   * @default - idle 60 s, interval 10 s, 6 probes
   */
  readonly tcpKeepalives?: TcpKeepalives;
  /**
   * The oldest TLS version PostgreSQL accepts (ssl_min_protocol_version), and the pooler towards
   * its clients. TLS 1.3 refuses older Java/JDBC stacks; choose TLS_1_2 for them. Only with TLS.
   * @default TlsVersion.TLS_1_3
   */
  readonly tlsMinVersion?: TlsVersion;
}

/** Replication settings. */
export interface ReplicationSettings {
  /**
   * How commits are confirmed by the replicas.
   * @default ReplicationMode.ASYNCHRONOUS
   */
  readonly mode?: ReplicationMode;
  /**
   * With a synchronous mode: how many replicas confirm each commit (at most the replica count).
   * @default 1
   */
  readonly synchronousStandbys?: number;
  /**
   * A replica further behind the primary than this is never promoted by a failover.
   * @default Size.mebibytes(32)
   */
  readonly maximumLagOnFailover?: Size;
  /**
   * One replication slot per member on the leader, so the primary keeps the WAL a replica still needs.
   * @default true
   */
  readonly slots?: boolean;
  /**
   * Most WAL a slot may hold back (max_slot_wal_keep_size): past it a dead replica loses its slot
   * and must re-clone, instead of filling the disk.
   * @default - 1/4 of the volume
   */
  readonly maxSlotWalKeepSize?: Size;
  /**
   * wal_level, equal on every member (kept in Patroni's DCS). With WalLevel.LOGICAL, databases can
   * be published and read by logical decoding; the slots consumers need are added on top of the
   * cluster's own (see `logicalSlots`). Consequences to plan for:
   * - Patroni is told to leave logical slots alone (`ignore_slots`), since it drops every slot it
   *   does not manage, including a disconnected consumer's;
   * - a logical slot lives on the primary only: after a failover or switchover it is gone from the
   *   new primary, and each consumer must create its slot again and resynchronise (the changes in
   *   between are not decoded for it);
   * - a consumer that stops holds WAL back on the primary until its slot is past
   *   `maxSlotWalKeepSize` (then PostgreSQL invalidates the slot and the consumer must resynchronise):
   *   the volume check counts that WAL;
   * - like every cluster-wide setting it applies when the cluster bootstraps; on a running
   *   cluster change it with `patronictl edit-config` (a restart of every member follows).
   * @default WalLevel.REPLICA
   */
  readonly walLevel?: WalLevel;
  /**
   * Logical replication slots (and WAL senders) consumers may hold on the primary, beyond those
   * of the cluster's own replicas: max_replication_slots and max_wal_senders grow by this. Only
   * with WalLevel.LOGICAL (1 to 64).
   * @default - 4 with WalLevel.LOGICAL, none otherwise
   */
  readonly logicalSlots?: number;
  /**
   * WAL kept for replicas without a slot (wal_keep_size).
   * @default - 1/16 of the volume, at most 512 MiB
   */
  readonly walKeepSize?: Size;
}

/** Shared memory settings. */
export interface SharedMemorySettings {
  /**
   * shared_buffers.
   * @default - 1/8 of the memory limit (at least 32 MiB)
   */
  readonly sharedBuffers?: Size;
  /**
   * Size limit of the `/dev/shm` memory volume (parallel query's dynamic shared memory). It is
   * charged to the container's memory limit.
   * @default - 1/8 of the memory limit, 64 MiB to 1 GiB
   */
  readonly devShmSize?: Size;
  /**
   * Huge pages for shared memory.
   * @default HugePages.OFF
   */
  readonly hugePages?: HugePages;
  /**
   * 2 MiB huge pages requested for the container (`hugepages-2Mi`), at least shared_buffers plus
   * 10 %. Required with HugePages.ON.
   * @default - none
   */
  readonly hugePagesLimit?: Size;
}

/**
 * How every member is configured: database, connections and authentication, replication, shared
 * memory and resources. Memory, parallelism and I/O settings are derived from the container
 * limits (see the README); explicit values win over derived ones.
 */
export interface NodeConfigProps {
  /**
   * Database settings.
   * @default - database `app` on port 5432, text logs at WARNING
   */
  readonly database?: DatabaseSettings;
  /**
   * Connections, authentication and timeouts.
   * @default - 100 connections, scram-sha-256, TCP keepalives on
   */
  readonly connection?: ConnectionSettings;
  /**
   * Replication.
   * @default - asynchronous streaming through replication slots
   */
  readonly replication?: ReplicationSettings;
  /**
   * Shared memory.
   * @default - derived from the memory limit
   */
  readonly sharedMemory?: SharedMemorySettings;
  /**
   * CPU and memory of each member's postgres container (its cgroup). `primary.resources` and
   * `replicas.resources` override it per node set.
   * @default Resources.SMALL (500m CPU, 1 GiB, Guaranteed QoS)
   */
  readonly resources?: Resources;
  /**
   * Raw postgresql.conf parameters, the escape hatch. They win over derived values; parameters
   * the library owns (listen_addresses, port, archive and restore commands, ssl files, socket
   * directories, hot_standby, primary_conninfo, synchronous_standby_names, ...) are refused with
   * the setting to use instead.
   * @default - none
   */
  readonly parameters?: { [name: string]: string };
}

/** One node set's member configuration, as rendered. @internal */
export interface RenderedMember {
  readonly tuning: Tuning;
  readonly sharedMemoryVolume: number;
  readonly parameters: Record<string, string | number | boolean>;
  /** The claims' size (storage.size, validated). */
  readonly claimBytes: number;
  /** What the claims grow to (storage.expandedSize), only when it is larger than `claimBytes`. */
  readonly expandedClaimBytes?: number;
}

/** What a node set brings to its members' configuration. @internal */
export interface NodeSetConfigInput {
  readonly scope: IConstruct;
  readonly resources: Resources;
  readonly resourcesProperty: string;
  readonly storage: StorageOptions;
  readonly storageProperty: string;
  readonly postgresVersion: number;
  readonly socketDirectory: string;
  readonly applyDelaySeconds?: number;
  /** Server TLS files, when TLS is on. */
  readonly ssl?: SslFiles;
}

const RAW_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/**
 * The configuration of every member of a {@link PostgresCluster}, validated when the cluster is
 * built: memory must fit the container limit, `/dev/shm` must hold what parallel query needs,
 * replication settings must be consistent. Created by the cluster from its `config` property;
 * reach it as `cluster.config`.
 */
export class NodeConfig extends Construct {
  /** Application database created at bootstrap. */
  public readonly databaseName: string;
  /** PostgreSQL port. */
  public readonly port: number;
  /** max_connections. */
  public readonly maxConnections: number;
  /** Replication mode. */
  public readonly replicationMode: ReplicationMode;
  /** Synchronous standbys per commit (1 when asynchronous, unused). */
  public readonly synchronousStandbys: number;
  /** Default resources of each member. */
  public readonly resources: Resources;
  /** Whether each member gets a replication slot on the leader. */
  public readonly slots: boolean;
  /** maximum_lag_on_failover in bytes. */
  public readonly maximumLagOnFailoverBytes: number;
  /** wal_level of every member. */
  public readonly walLevel: WalLevel;
  /** Logical replication slots (and WAL senders) kept for consumers beyond the cluster's own. */
  public readonly logicalSlots: number;
  /** The address PostgreSQL listens on. */
  public readonly listenAddress: ListenAddress;
  /** The oldest TLS version clients may use (when TLS is on). */
  public readonly tlsMinVersion: TlsVersion;

  private readonly props: NodeConfigProps;

  constructor(scope: Construct, id: string, props: NodeConfigProps = {}) {
    super(scope, id);
    this.props = props;
    const db = props.database ?? {};
    const conn = props.connection ?? {};
    const repl = props.replication ?? {};
    const shm = props.sharedMemory ?? {};
    const owner = scope;

    this.databaseName = db.name ?? 'app';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.databaseName)) {
      throw propError(owner, 'config.database.name', this.databaseName,
        'must be 1 to 63 lower-case letters, digits or underscores, not starting with a digit');
    }
    this.port = requireInteger(owner, 'config.database.port', db.port ?? 5432, 1024, 65535);
    if (this.port === 8008) throw propError(owner, 'config.database.port', 8008, "8008 is Patroni's REST API port");
    this.listenAddress = db.listenAddress ?? ListenAddress.ALL;
    this.tlsMinVersion = conn.tlsMinVersion ?? TlsVersion.TLS_1_3;
    if (!Object.values(TlsVersion).includes(this.tlsMinVersion)) {
      throw propError(owner, 'config.connection.tlsMinVersion', this.tlsMinVersion, `must be one of ${Object.values(TlsVersion).join(', ')}`);
    }
    this.maxConnections = requireInteger(owner, 'config.connection.maxConnections', conn.maxConnections ?? 100, 10, 10000);
    const reserved = requireInteger(owner, 'config.connection.superuserReservedConnections', conn.superuserReservedConnections ?? 3, 1, 50);
    if (reserved >= this.maxConnections) {
      throw propError(owner, 'config.connection.superuserReservedConnections', reserved, `must be below maxConnections (${this.maxConnections})`);
    }
    const ka = conn.tcpKeepalives ?? {};
    requireInteger(owner, 'config.connection.tcpKeepalives.count', ka.count ?? 6, 1, 100);
    for (const [name, d] of [['idle', ka.idle], ['interval', ka.interval]] as const) {
      if (d) wholeSeconds(owner, `config.connection.tcpKeepalives.${name}`, d, 1, 7200);
    }
    if (conn.connectTimeout) wholeSeconds(owner, 'config.connection.connectTimeout', conn.connectTimeout, 1, 600);
    for (const [name, d] of [
      ['statementTimeout', conn.statementTimeout], ['idleInTransactionTimeout', conn.idleInTransactionTimeout],
      ['idleSessionTimeout', conn.idleSessionTimeout], ['logStatementsSlowerThan', db.logStatementsSlowerThan],
    ] as const) {
      if (d && (d.toMilliseconds() < 1 || d.toMilliseconds() > 2 ** 31 - 1)) {
        throw propError(owner, name === 'logStatementsSlowerThan' ? `config.database.${name}` : `config.connection.${name}`,
          `${d.toMilliseconds()}ms`, 'must be from 1 ms to 24 days');
      }
    }

    this.replicationMode = repl.mode ?? ReplicationMode.ASYNCHRONOUS;
    this.synchronousStandbys = repl.synchronousStandbys ?? 1;
    if (this.replicationMode === ReplicationMode.ASYNCHRONOUS && repl.synchronousStandbys !== undefined) {
      throw propError(owner, 'config.replication.synchronousStandbys', repl.synchronousStandbys,
        'only applies with ReplicationMode.SYNCHRONOUS or SYNCHRONOUS_STRICT');
    }
    const maxLag = bytes(repl.maximumLagOnFailover ?? Size.mebibytes(32));
    if (maxLag < MiB) throw propError(owner, 'config.replication.maximumLagOnFailover', formatQuantity(maxLag), 'must be at least 1Mi');
    this.maximumLagOnFailoverBytes = maxLag;
    this.slots = repl.slots ?? true;
    this.walLevel = repl.walLevel ?? WalLevel.REPLICA;
    if (this.walLevel === WalLevel.LOGICAL) {
      this.logicalSlots = requireInteger(owner, 'config.replication.logicalSlots', repl.logicalSlots ?? 4, 1, 64);
    } else {
      if (repl.logicalSlots !== undefined) {
        throw propError(owner, 'config.replication.logicalSlots', repl.logicalSlots, 'needs config.replication.walLevel: WalLevel.LOGICAL (logical decoding)');
      }
      this.logicalSlots = 0;
    }

    if ((shm.hugePages ?? HugePages.OFF) === HugePages.ON && !shm.hugePagesLimit) {
      throw propError(owner, 'config.sharedMemory.hugePages', 'on', 'needs config.sharedMemory.hugePagesLimit, so the pod is granted huge pages');
    }
    if (shm.hugePagesLimit && (shm.hugePages ?? HugePages.OFF) !== HugePages.ON) {
      throw propError(owner, 'config.sharedMemory.hugePagesLimit', formatQuantity(bytes(shm.hugePagesLimit)), 'only applies with HugePages.ON');
    }
    if (shm.hugePagesLimit && bytes(shm.hugePagesLimit) % (2 * MiB) !== 0) {
      throw propError(owner, 'config.sharedMemory.hugePagesLimit', formatQuantity(bytes(shm.hugePagesLimit)), 'must be a multiple of 2Mi');
    }

    for (const [name, value] of Object.entries(props.parameters ?? {})) {
      if (!RAW_NAME.test(name)) throw propError(owner, `config.parameters.${name}`, value, 'is not a PostgreSQL parameter name');
      const owned = OWNED_PARAMETERS[name];
      if (owned) throw propError(owner, `config.parameters.${name}`, value, `is set by ${owned}, not as a raw parameter`);
      if (typeof value !== 'string' || value.includes('\n')) {
        throw propError(owner, `config.parameters.${name}`, value, 'must be a single-line string');
      }
    }

    (conn.hbaRules ?? []).forEach((r, i) => {
      const where = `config.connection.hbaRules[${i}]`;
      if (!isCidr(r.address)) throw propError(owner, `${where}.address`, r.address, 'must be a CIDR address such as 10.0.0.0/8 or fd00::/8');
      for (const [field, v] of [['database', r.database], ['user', r.user]] as const) {
        if (!/^[A-Za-z0-9_+,.-]+$/.test(v)) throw propError(owner, `${where}.${field}`, v, 'must be names, `all` or `+group`, comma-separated, without spaces');
      }
    });

    this.resources = props.resources ?? Resources.SMALL;
  }

  /** Raw parameters that belong to the cluster-wide (DCS) set. @internal */
  public get _clusterOverrides(): Record<string, string> {
    const raw = this.props.parameters ?? {};
    return Object.fromEntries(Object.entries(raw).filter(([k]) => CLUSTER_WIDE_RAW_PARAMETERS.includes(k)));
  }

  /**
   * pg_hba.conf lines of every member. With TLS, replication defaults to client certificates;
   * without it, client certificates cannot work and are refused.
   * @internal
   */
  public _hba(scope: IConstruct, tls: boolean): string[] {
    const conn = this.props.connection ?? {};
    const rules = conn.hbaRules ?? [];
    if (!tls) {
      const where = [
        ['config.connection.clientAuth', conn.clientAuth], ['config.connection.replicationAuth', conn.replicationAuth],
        ...rules.map((r, i) => [`config.connection.hbaRules[${i}].method`, r.method]),
      ].find(([, m]) => m === ClientAuthMethod.CERT);
      if (where) throw propError(scope, where[0] as string, 'cert', 'client certificates need TLS (tls is Tls.disabled())');
      const ssl = rules.findIndex((r) => r.type === HbaConnectionType.HOSTSSL);
      if (ssl >= 0) throw propError(scope, `config.connection.hbaRules[${ssl}].type`, 'hostssl', 'needs TLS (tls is Tls.disabled())');
    }
    return hbaRules({
      superuser: 'postgres',
      replicationUser: 'replicator',
      rewindUser: REWIND_USER,
      superuserNetworkAccess: conn.superuserNetworkAccess ?? false,
      clientMethod: conn.clientAuth ?? ClientAuthMethod.SCRAM_SHA_256,
      replicationMethod: conn.replicationAuth ?? (tls ? ClientAuthMethod.CERT : ClientAuthMethod.SCRAM_SHA_256),
      extra: rules.map((r) => ({
        type: r.type ?? (tls ? HbaConnectionType.HOSTSSL : HbaConnectionType.HOST),
        database: r.database,
        user: r.user,
        address: r.address,
        method: r.method,
      })),
      tls,
    }).map(renderHbaRule);
  }

  /**
   * Extensions of preloaded libraries (shared_preload_libraries) that post-bootstrap.sh creates
   * in template1, so that the access Job, no superuser, finds them in every database it creates.
   * @internal
   */
  public get _templateExtensions(): string[] {
    const preload = (this.props.parameters ?? {}).shared_preload_libraries ?? '';
    const libraries = preload.split(',').map((l) => l.trim().replace(/^'|'$/g, ''));
    return ['pg_stat_statements'].filter((e) => libraries.includes(e));
  }

  /** The superuser may log in over TCP (config.connection.superuserNetworkAccess). @internal */
  public get _superuserNetworkAccess(): boolean {
    return this.props.connection?.superuserNetworkAccess ?? false;
  }

  /** Log level of Patroni for this configuration. @internal */
  public get _patroniLogLevel(): string {
    const level = this.props.database?.logLevel ?? LogLevel.WARNING;
    return level === LogLevel.DEBUG ? 'DEBUG' : level === LogLevel.WARNING ? 'WARNING' : level === LogLevel.ERROR ? 'ERROR' : 'INFO';
  }

  /** Huge pages requested per member, in bytes (0 when off). @internal */
  public get _hugePagesBytes(): number {
    const limit = this.props.sharedMemory?.hugePagesLimit;
    return limit ? bytes(limit) : 0;
  }

  /**
   * Renders and validates the parameters of one node set's members.
   * @internal
   */
  public _renderMember(input: NodeSetConfigInput): RenderedMember {
    const scope = input.scope;
    const props = this.props;
    const shm = props.sharedMemory ?? {};
    const repl = props.replication ?? {};
    const conn = props.connection ?? {};
    const db = props.database ?? {};
    const res = input.resources;
    const r = input.resourcesProperty;
    const memoryLimit = bytes(res.memoryLimit);
    const memoryRequest = bytes(res.memoryRequest);
    const cpuLimit = parseCpuCores(res.cpuLimit.amount);
    const cpuRequest = parseCpuCores(res.cpuRequest.amount);
    if (memoryRequest > memoryLimit) {
      throw propError(scope, `${r}.memory`, formatQuantity(memoryRequest), `must not exceed the memory limit (${formatQuantity(memoryLimit)})`);
    }
    if (cpuRequest > cpuLimit) {
      throw propError(scope, `${r}.cpu`, res.cpuRequest.amount, `must not exceed the CPU limit (${res.cpuLimit.amount})`);
    }
    if (memoryLimit < 256 * MiB) {
      throw propError(scope, `${r}.memoryLimit`, formatQuantity(memoryLimit), 'must be at least 256Mi for a PostgreSQL member');
    }
    if (cpuLimit < 0.1) {
      throw propError(scope, `${r}.cpuLimit`, res.cpuLimit.amount, 'must be at least 100m for a PostgreSQL member');
    }
    const storageBytes = bytes(input.storage.size ?? Size.gibibytes(10));
    if (storageBytes < 2 ** 30) {
      throw propError(scope, `${input.storageProperty}.size`, formatQuantity(storageBytes), 'must be at least 1Gi');
    }
    const expandedBytes = input.storage.expandedSize ? bytes(input.storage.expandedSize) : undefined;
    if (expandedBytes !== undefined && expandedBytes < storageBytes) {
      throw propError(scope, `${input.storageProperty}.expandedSize`, formatQuantity(expandedBytes),
        `must be at least size (${formatQuantity(storageBytes)}): volume claims only grow`);
    }
    // The room WAL may take: the grown volume. The derived limits stay those of `size`, so that
    // growing the volumes changes no member's configuration (and restarts nothing).
    const volumeBytes = expandedBytes ?? storageBytes;

    const derived = tuneFromLimits({
      memoryBytes: memoryLimit, cpus: cpuLimit, maxConnections: this.maxConnections, disk: input.storage.type ?? StorageType.NETWORK_SSD,
    });
    const raw = props.parameters ?? {};
    const rawMemory = (name: string): number | undefined => {
      if (raw[name] === undefined) return undefined;
      const v = parsePgMemory(raw[name]);
      if (v === undefined) throw propError(this, `config.parameters.${name}`, raw[name], 'must be a memory size such as 4MB, 512kB or 1GB');
      return v;
    };
    const tuning: Tuning = {
      ...derived,
      sharedBuffers: shm.sharedBuffers ? bytes(shm.sharedBuffers) : derived.sharedBuffers,
      sharedMemoryVolume: shm.devShmSize ? bytes(shm.devShmSize) : derived.sharedMemoryVolume,
      workMem: rawMemory('work_mem') ?? derived.workMem,
      maintenanceWorkMem: rawMemory('maintenance_work_mem') ?? derived.maintenanceWorkMem,
      autovacuumWorkMem: rawMemory('autovacuum_work_mem') ?? derived.autovacuumWorkMem,
    };
    if (tuning.sharedBuffers < 16 * MiB) {
      throw propError(this, 'config.sharedMemory.sharedBuffers', formatQuantity(tuning.sharedBuffers), 'must be at least 16Mi');
    }
    if (tuning.sharedMemoryVolume < 16 * MiB) {
      throw propError(this, 'config.sharedMemory.devShmSize', formatQuantity(tuning.sharedMemoryVolume), 'must be at least 16Mi');
    }
    const hugePages = this._hugePagesBytes;
    if (hugePages > 0 && hugePages < tuning.sharedBuffers * 1.1) {
      throw propError(this, 'config.sharedMemory.hugePagesLimit', formatQuantity(hugePages),
        `must hold shared_buffers (${formatQuantity(tuning.sharedBuffers)}) plus 10 %`);
    }

    // shared_buffers on huge pages is charged to the hugepages limit, not the memory limit.
    const budget = memoryBudget({
      memoryLimit,
      sharedBuffers: hugePages > 0 ? 0 : tuning.sharedBuffers,
      sharedMemoryVolume: tuning.sharedMemoryVolume,
      maxConnections: this.maxConnections,
      workMem: tuning.workMem,
      maintenanceWorkMem: tuning.maintenanceWorkMem,
      autovacuumWorkMem: tuning.autovacuumWorkMem,
    });
    if (!budget.fits) {
      throw propError(scope, `${r}.memoryLimit`, formatQuantity(memoryLimit),
        `the worst case does not fit (${budget.breakdown}): raise the memory limit or lower maxConnections, work_mem or shared_buffers`);
    }
    const maxParallel = raw.max_parallel_workers !== undefined ? Number(raw.max_parallel_workers) : tuning.maxParallelWorkers;
    if (!Number.isInteger(maxParallel) || maxParallel < 0) {
      throw propError(this, 'config.parameters.max_parallel_workers', raw.max_parallel_workers, 'must be a whole number');
    }
    const needShm = requiredSharedMemory(maxParallel, tuning.workMem);
    if (tuning.sharedMemoryVolume < needShm) {
      throw propError(scope, 'config.sharedMemory.devShmSize', formatQuantity(tuning.sharedMemoryVolume),
        `/dev/shm must hold what parallel query needs: (max_parallel_workers ${maxParallel} + 1) x work_mem + 16Mi = ${formatQuantity(Math.ceil(needShm / MiB) * MiB)}`);
    }

    const maxSlotKeep = repl.maxSlotWalKeepSize ? bytes(repl.maxSlotWalKeepSize) : storageBytes / 4;
    const walKeep = repl.walKeepSize ? bytes(repl.walKeepSize) : Math.min(storageBytes / 16, 512 * MiB);
    // A raw max_wal_size (bare numbers are MB) obeys the same bound as the derived one.
    const rawMaxWal = raw.max_wal_size !== undefined ? parsePgMemory(raw.max_wal_size, 'MB') : undefined;
    if (raw.max_wal_size !== undefined && rawMaxWal === undefined) {
      throw propError(scope, 'config.parameters.max_wal_size', raw.max_wal_size, 'must be a size such as 1024MB or 4GB (a bare number is MB)');
    }
    const maxWal = rawMaxWal ?? Math.min(Math.max(storageBytes / 8, 256 * MiB), 16 * 2 ** 30);
    if (maxWal + maxSlotKeep + walKeep > volumeBytes * 0.8) {
      const walSum = `max_wal_size ${rawMaxWal !== undefined ? raw.max_wal_size : formatQuantity(Math.floor(maxWal / MiB) * MiB)} + maxSlotWalKeepSize`
        + ` ${formatQuantity(Math.floor(maxSlotKeep / MiB) * MiB)} + walKeepSize ${formatQuantity(Math.floor(walKeep / MiB) * MiB)}`;
      if (rawMaxWal !== undefined) {
        throw propError(scope, 'config.parameters.max_wal_size', raw.max_wal_size,
          `WAL could fill the volume: ${walSum} must stay within 80 % of ${input.storageProperty}.${expandedBytes !== undefined ? 'expandedSize' : 'size'} ${formatQuantity(volumeBytes)}`);
      }
      throw propError(scope, `${input.storageProperty}.${expandedBytes !== undefined ? 'expandedSize' : 'size'}`, formatQuantity(volumeBytes),
        `WAL could fill the volume: ${walSum} must stay within 80 % of it`);
    }

    const format = db.logFormat ?? LogFormat.TEXT;
    const ka = conn.tcpKeepalives ?? {};
    const seconds = (d: Duration | undefined) => (d ? d.toSeconds() : undefined);
    const millis = (d: Duration | undefined) => (d ? d.toMilliseconds() : undefined);
    const paramInput: MemberParameterInput = {
      postgresVersion: input.postgresVersion,
      tuning,
      maxWalSize: maxWal,
      maxSlotWalKeepSize: maxSlotKeep,
      walKeepSize: walKeep,
      socketDirectory: input.socketDirectory,
      hugePages: hugePages > 0 ? 'on' : 'off',
      logging: {
        minMessages: db.logLevel ?? LogLevel.WARNING,
        toFiles: format !== LogFormat.TEXT,
        format,
        slowStatementMs: millis(db.logStatementsSlowerThan),
      },
      connection: {
        superuserReservedConnections: conn.superuserReservedConnections ?? 3,
        authenticationTimeoutSeconds: seconds(conn.connectTimeout),
        statementTimeoutMs: millis(conn.statementTimeout),
        idleInTransactionTimeoutMs: millis(conn.idleInTransactionTimeout),
        idleSessionTimeoutMs: millis(conn.idleSessionTimeout),
        tcpKeepalivesIdleSeconds: seconds(ka.idle) ?? 60,
        tcpKeepalivesIntervalSeconds: seconds(ka.interval) ?? 10,
        tcpKeepalivesCount: ka.count ?? 6,
      },
      applyDelaySeconds: input.applyDelaySeconds,
      overrides: raw,
      ssl: input.ssl ? { ...input.ssl, minProtocolVersion: this.tlsMinVersion } : undefined,
    };
    return {
      tuning,
      sharedMemoryVolume: tuning.sharedMemoryVolume,
      parameters: memberParameters(paramInput),
      claimBytes: storageBytes,
      expandedClaimBytes: expandedBytes !== undefined && expandedBytes > storageBytes ? expandedBytes : undefined,
    };
  }
}

function bytes(size: Size): number {
  return size.toKibibytes({ rounding: SizeRoundingBehavior.NONE }) * 1024;
}

function wholeSeconds(scope: IConstruct, property: string, d: Duration, min: number, max: number): void {
  const ms = d.toMilliseconds();
  if (ms % 1000 !== 0 || ms / 1000 < min || ms / 1000 > max) {
    throw propError(scope, property, `${ms}ms`, `must be a whole number of seconds from ${min} to ${max}`);
  }
}

function isCidr(address: string): boolean {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(address);
  if (v4) return v4.slice(1, 5).every((o) => Number(o) <= 255) && Number(v4[5]) <= 32;
  const v6 = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(address);
  return !!v6 && v6[1].includes(':') && Number(v6[2]) <= 128;
}
