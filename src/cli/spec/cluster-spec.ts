/**
 * The spec file of `synth`: a PostgresCluster described in YAML or JSON, for people who do not
 * write TypeScript. Its `spec` mirrors PostgresClusterProps field by field, with plain values
 * (`4Gi`, `500m`, `30s`, `synchronous`). This file is the table of fields: a new prop is a row.
 *
 *   apiVersion: postgres.cdk8s.io/v1alpha1
 *   kind: PostgresCluster
 *   metadata: { name: orders-db, namespace: orders }
 *   spec: { replicas: { count: 2 }, config: { resources: { cpu: 2, memory: 4Gi } } }
 */
import * as kplus from 'cdk8s-plus-27';
import {
  Field, ReadContext, Reader, SpecError, boolean, fieldsOf, isListReader, cpu, duration, enumOf, field, integer, integerMap, list, map,
  object, oneOf, preset, secretRef, size, str, stringMap,
} from './field';
import {
  ApiServerAccess, BackupCompression, BackupRepository, BackupRetention, RecoveryTarget, S3UriStyle,
  ClientAuthMethod, DatabasePrivilege, FailoverTiming, HbaConnectionType, HugePages, IpFamily, IssuerKind, ListenAddress, LogFormat, LogLevel,
  NetworkPeer, PatroniDcs, PoolMode, PostgresClusterProps, PostgresImage, ReplicationMode, Resources, SchemaPrivilege, ServiceIpFamilies, StorageType,
  TablePrivilege, TaintEffect, Tls, TlsVersion, TolerationOperator, WalLevel,
} from '../..';

export const SPEC_API_VERSION = 'postgres.cdk8s.io/v1alpha1';
export const SPEC_KIND = 'PostgresCluster';

/** The construct's default PostgreSQL major version, for `image: percona` without a version. */
const DEFAULT_POSTGRES_VERSION = 17;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `small` or `{cpu: 2, memory: 4Gi, cpuLimit: 4, memoryLimit: 8Gi}`. */
const resources: Reader<Resources> = oneOf(
  preset({
    micro: () => Resources.MICRO,
    small: () => Resources.SMALL,
    medium: () => Resources.MEDIUM,
    large: () => Resources.LARGE,
    xlarge: () => Resources.XLARGE,
  }, true),
  map(object({
    cpu: field(cpu, 'CPU request (and limit unless cpuLimit): cores (2) or millicores (500m)', { required: true }),
    memory: field(size, 'memory request (and limit unless memoryLimit), e.g. 4Gi', { required: true }),
    cpuLimit: field(cpu, 'CPU limit above the request'),
    memoryLimit: field(size, 'memory limit above the request'),
  }), (o: any) => Resources.of(o)),
);

const storage = object({
  size: field(size, 'volume size, e.g. 10Gi'),
  storageClassName: field(str(), 'StorageClass of the volumes'),
  accessMode: field(enumOf(kplus.PersistentVolumeAccessMode as any), 'ReadWriteOnce, ReadWriteOncePod, …'),
  type: field(enumOf(StorageType), 'network-ssd, local-ssd or hdd (tunes the planner)'),
});

/** Where pods run: nodeSelector, tolerations, affinity (the Kubernetes object, as is), priorityClassName. */
const scheduling = object({
  nodeSelector: field(stringMap, 'node labels the pods need'),
  tolerations: field(list(object({
    key: field(str(), 'taint key'),
    operator: field(enumOf(TolerationOperator), 'Equal (default) or Exists'),
    value: field(str(), 'taint value'),
    effect: field(enumOf(TaintEffect), 'NoSchedule, PreferNoSchedule or NoExecute'),
    tolerationSeconds: field(duration, 'with NoExecute: how long the pod stays'),
  })), 'taints the pods tolerate'),
  affinity: field((v) => v, 'the Kubernetes affinity object (added to the library\'s rules)'),
  priorityClassName: field(str(), 'PriorityClass of the pods'),
});

const replicaFields: Record<string, Field> = {
  count: field(integer, 'number of streaming replicas'),
  resources: field(resources, 'resources of the replicas (default: config.resources)'),
  storage: field(storage, 'volumes of the replicas (default: storage)'),
  scheduling: field(scheduling, 'where these members run (default: scheduling)'),
};

const replicas = object({
  ...replicaFields,
  // Shorthands for config.replication, where they are most often looked for.
  mode: field(enumOf(ReplicationMode), 'shorthand for config.replication.mode: asynchronous, synchronous or synchronous-strict'),
  synchronousStandbys: field(integer, 'shorthand for config.replication.synchronousStandbys'),
});

const delayedReplicas = object({
  ...replicaFields,
  applyDelay: field(duration, 'how far behind the delayed replicas replay, e.g. 1h', { required: true }),
});

/** A bundled image family, resolved once postgresVersion is known. */
interface ImageFamily {
  readonly family: 'percona' | 'crunchy';
  readonly version?: number;
}

const image: Reader<PostgresImage | ImageFamily> = oneOf<PostgresImage | ImageFamily>(
  (v, path) => {
    const m = typeof v === 'string' ? /^(percona|crunchy)(?::([0-9]+))?$/.exec(v) : null;
    if (!m) throw new SpecError(path, v, 'must be percona or crunchy (optionally :<postgres major>), or a mapping {image, postgresVersion, …}');
    return { family: m[1] as ImageFamily['family'], version: m[2] ? Number(m[2]) : undefined };
  },
  map(object({
    image: field(str(), 'the image reference', { required: true }),
    postgresVersion: field(integer, 'PostgreSQL major version in the image', { required: true }),
    binDir: field(str(), 'directory of the PostgreSQL binaries'),
    uid: field(integer, 'user id PostgreSQL runs as'),
    gid: field(integer, 'group id'),
    patroniMajorVersion: field(integer, 'Patroni major version'),
  }), (o: any) => PostgresImage.custom(o)),
);

const hbaRule = object({
  type: field(enumOf(HbaConnectionType), 'host, hostssl or hostnossl'),
  database: field(str(), 'database the rule applies to (all, a name)', { required: true }),
  user: field(str(), 'user the rule applies to (all, a name)', { required: true }),
  address: field(str(), 'client addresses (CIDR)', { required: true }),
  method: field(enumOf(ClientAuthMethod), 'scram-sha-256, cert, reject, …', { required: true }),
});

const config = object({
  database: field(object({
    name: field(str(), 'application database'),
    port: field(integer, 'port'),
    listenAddress: field(enumOf(ListenAddress), 'all (*), ipv4 (0.0.0.0) or ipv6 (::)'),
    logLevel: field(enumOf(LogLevel), 'log_min_messages'),
    logFormat: field(enumOf(LogFormat), 'text, csv or json'),
    logStatementsSlowerThan: field(duration, 'log_min_duration_statement'),
  }), 'database settings'),
  connection: field(object({
    maxConnections: field(integer, 'max_connections'),
    superuserReservedConnections: field(integer, 'superuser_reserved_connections'),
    clientAuth: field(enumOf(ClientAuthMethod), 'how clients authenticate'),
    replicationAuth: field(enumOf(ClientAuthMethod), 'how replicas authenticate'),
    hbaRules: field(list(hbaRule), 'pg_hba rules before the defaults'),
    superuserNetworkAccess: field(boolean, 'let postgres log in over TCP (default: local socket only)'),
    connectTimeout: field(duration, 'authentication_timeout'),
    statementTimeout: field(duration, 'statement_timeout'),
    idleInTransactionTimeout: field(duration, 'idle_in_transaction_session_timeout'),
    idleSessionTimeout: field(duration, 'idle_session_timeout'),
    tcpKeepalives: field(object({
      idle: field(duration, 'tcp_keepalives_idle'),
      interval: field(duration, 'tcp_keepalives_interval'),
      count: field(integer, 'tcp_keepalives_count'),
    }), 'TCP keepalives'),
    tlsMinVersion: field(enumOf(TlsVersion), 'oldest TLS version clients may use: TLSv1.3 (default) or TLSv1.2'),
  }), 'connections and authentication'),
  replication: field(object({
    mode: field(enumOf(ReplicationMode), 'asynchronous, synchronous or synchronous-strict'),
    synchronousStandbys: field(integer, 'synchronous standbys a commit waits for'),
    maximumLagOnFailover: field(size, 'most WAL a promoted replica may lag'),
    slots: field(boolean, 'replication slots'),
    maxSlotWalKeepSize: field(size, 'max_slot_wal_keep_size'),
    walKeepSize: field(size, 'wal_keep_size'),
    walLevel: field(enumOf(WalLevel), 'wal_level: replica or logical'),
    logicalSlots: field(integer, 'logical slots for consumers (walLevel logical)'),
  }), 'replication'),
  sharedMemory: field(object({
    sharedBuffers: field(size, 'shared_buffers'),
    devShmSize: field(size, 'size of /dev/shm'),
    hugePages: field(enumOf(HugePages), 'on or off'),
    hugePagesLimit: field(size, 'hugepages-2Mi request and limit'),
  }), 'shared memory'),
  resources: field(resources, 'resources of every member'),
  parameters: field(stringMap, 'raw postgresql.conf parameters'),
});

const peer: Reader<NetworkPeer> = oneOf(
  preset({ 'same-namespace': () => NetworkPeer.sameNamespace(), 'any-namespace': () => NetworkPeer.anyNamespace() }, true),
  map(object({
    pods: field(stringMap, 'pod labels (alone: pods of the cluster\'s own namespace only)'),
    namespaces: field(stringMap, 'namespace labels'),
    cidr: field(str(), 'an IP block'),
  }), (o: any, path) => {
    const keys = Object.keys(o);
    if (keys.length === 0 || (o.cidr !== undefined && keys.length > 1)) throw new SpecError(path, o, 'must have pods, namespaces (or both), or cidr alone');
    if (o.cidr !== undefined) return NetworkPeer.cidr(o.cidr);
    if (o.pods && o.namespaces) return NetworkPeer.podsInNamespaces(o.pods, o.namespaces);
    return o.pods ? NetworkPeer.pods(o.pods) : NetworkPeer.namespaces(o.namespaces);
  }),
);

const tls: Reader<Tls> = oneOf(
  preset({ 'cert-manager': () => Tls.certManager(), 'disabled': () => Tls.disabled() }, true),
  map(object({
    certManager: field(object({
      issuerName: field(str(), 'an existing Issuer or ClusterIssuer (default: a per-cluster CA)'),
      issuerKind: field(enumOf(IssuerKind), 'Issuer or ClusterIssuer'),
      duration: field(duration, 'certificate lifetime'),
      renewBefore: field(duration, 'renew this long before expiry'),
      namespace: field(str(DNS_LABEL, 'must be a DNS label'), 'namespace for the certificates\' namespaced names (default: metadata.namespace)'),
      extraDnsNames: field(list(str()), 'more names for the server and pooler certificates'),
    }), 'certificates from cert-manager'),
    secrets: field(object({
      server: field(secretRef, 'Secret with the server certificate', { required: true }),
      replicationClient: field(secretRef, 'Secret with the replication client certificate', { required: true }),
    }), 'certificates from existing Secrets'),
  }), (o: any, path) => {
    if (Object.keys(o).length !== 1) throw new SpecError(path, o, 'must have exactly one of certManager or secrets (or be cert-manager or disabled)');
    return o.certManager ? Tls.certManager(o.certManager) : Tls.fromSecrets(o.secrets);
  }),
);

/** `{full: 2, differential: 1}` (counts) or `{days: 14}`. */
const retention: Reader<BackupRetention> = map(object({
  full: field(integer, 'full backups to keep (default 2)'),
  differential: field(integer, 'differential backups to keep'),
  days: field(integer, 'keep full backups this many days instead of counting them'),
}), (o: any, path) => {
  if (o.days !== undefined && (o.full !== undefined || o.differential !== undefined)) {
    throw new SpecError(path, o, 'must have days alone, or full (and differential)');
  }
  return o.days !== undefined ? BackupRetention.days(o.days) : BackupRetention.count(o.full ?? 2, o.differential);
});

const schedules = object({
  full: field(str(), 'cron schedule of full backups, e.g. "0 1 * * 0"'),
  differential: field(str(), 'cron schedule of differential backups'),
  incremental: field(str(), 'cron schedule of incremental backups'),
  timeZone: field(str(), 'IANA time zone of the schedules, e.g. Europe/Berlin'),
});

const repositoryCommon: Record<string, Field> = {
  path: field(str(), 'path in the bucket or container (default /pgbackrest)'),
  retention: field(retention, '{full, differential} counts or {days}'),
  schedules: field(schedules, 'full, differential, incremental, timeZone'),
  encryptionSecret: field(secretRef, 'Secret with the cipher pass under cipher-pass'),
};

/** `{volume: {...}}`, `{s3: {...}}`, `{gcs: {...}}` or `{azure: {...}}`. */
const repository: Reader<BackupRepository> = map(object({
  volume: field(object({
    size: field(size, 'repository volume size (default 20Gi)'),
    storageClassName: field(str(), 'StorageClass of the repository volume'),
    ...repositoryCommon,
  }), 'a volume on the cluster\'s backup node'),
  s3: field(object({
    bucket: field(str(), 'the bucket', { required: true }),
    region: field(str(), 'the region, e.g. eu-west-1', { required: true }),
    endpoint: field(str(), 'host[:port] of an S3-compatible endpoint (default s3.<region>.amazonaws.com)'),
    uriStyle: field(enumOf(S3UriStyle), 'host or path'),
    credentialsSecret: field(secretRef, 'Secret with access-key-id and secret-access-key', { required: true }),
    caSecret: field(secretRef, 'Secret whose ca.crt verifies the endpoint'),
    ...repositoryCommon,
  }), 'S3 or an S3-compatible store'),
  gcs: field(object({
    bucket: field(str(), 'the bucket', { required: true }),
    credentialsSecret: field(secretRef, 'Secret with key.json', { required: true }),
    ...repositoryCommon,
  }), 'Google Cloud Storage'),
  azure: field(object({
    account: field(str(), 'the storage account', { required: true }),
    container: field(str(), 'the blob container', { required: true }),
    credentialsSecret: field(secretRef, 'Secret with the shared key under key', { required: true }),
    ...repositoryCommon,
  }), 'Azure Blob Storage'),
}), (o: any, path) => {
  const kinds = Object.keys(o);
  if (kinds.length !== 1) throw new SpecError(path, kinds.join(', ') || '{}', 'must have exactly one of volume, s3, gcs or azure');
  const kind = kinds[0] as 'volume' | 's3' | 'gcs' | 'azure';
  return kind === 'volume' ? BackupRepository.volume(o.volume) : kind === 's3' ? BackupRepository.s3(o.s3)
    : kind === 'gcs' ? BackupRepository.gcs(o.gcs) : BackupRepository.azure(o.azure);
});

/** `latest`, or `{time}`, `{lsn}`, `{transactionId}`, `{restorePoint}`. */
const recoveryTarget: Reader<RecoveryTarget> = oneOf(
  preset({ latest: () => RecoveryTarget.latest() }, true),
  map(object({
    time: field(str(), 'an ISO 8601 timestamp, e.g. 2026-11-24T22:16:53Z'),
    lsn: field(str(), 'a WAL location, e.g. 0/1A0240D0'),
    transactionId: field(integer, 'a transaction id'),
    restorePoint: field(str(), 'a restore point name'),
  }), (o: any, path) => {
    const keys = Object.keys(o);
    if (keys.length !== 1) throw new SpecError(path, o, 'must have exactly one of time, lsn, transactionId or restorePoint (or be latest)');
    if (o.time !== undefined) {
      const when = new Date(o.time);
      if (Number.isNaN(when.getTime())) throw new SpecError(`${path}.time`, o.time, 'must be an ISO 8601 timestamp such as 2026-11-24T22:16:53Z');
      return RecoveryTarget.time(when);
    }
    if (o.lsn !== undefined) return RecoveryTarget.lsn(o.lsn);
    if (o.transactionId !== undefined) return RecoveryTarget.transactionId(o.transactionId);
    return RecoveryTarget.restorePoint(o.restorePoint);
  }),
);

const user = object({
  name: field(str(), 'role name', { required: true }),
  login: field(boolean, 'may log in'),
  connectionLimit: field(integer, 'connection limit'),
  memberOf: field(list(str()), 'roles this role is a member of'),
  databases: field(list(object({
    database: field(str(), 'database', { required: true }),
    privileges: field(list(enumOf(DatabasePrivilege)), 'CONNECT, CREATE, TEMPORARY'),
  })), 'database privileges'),
  schemas: field(list(object({
    database: field(str(), 'database', { required: true }),
    schema: field(str(), 'schema (default public)'),
    privileges: field(list(enumOf(SchemaPrivilege)), 'USAGE, CREATE'),
    tables: field(list(enumOf(TablePrivilege)), 'SELECT, INSERT, …'),
  })), 'schema and table privileges'),
});

/** The fields of `spec`: PostgresClusterProps, one row each. */
export const SPEC_FIELDS: Readonly<Record<string, Field>> = {
  postgresVersion: field(integer, 'PostgreSQL major version (picks the default image)'),
  image: field(image, 'percona, crunchy, or {image, postgresVersion, …}'),
  replicas: field(replicas, 'streaming replicas: count, resources, storage (and mode, synchronousStandbys)'),
  delayedReplicas: field(delayedReplicas, 'delayed replicas: count, applyDelay, resources, storage'),
  primary: field(object({
    resources: field(resources, 'resources of the preferred primary'),
    storage: field(storage, 'its volume'),
    scheduling: field(scheduling, 'where it runs (default: scheduling)'),
  }), 'the preferred primary'),
  scheduling: field(scheduling, 'where every pod of the cluster runs: nodeSelector, tolerations, affinity, priorityClassName'),
  config: field(config, 'database, connection, replication, sharedMemory, resources, parameters'),
  resources: field(resources, 'shorthand for config.resources'),
  storage: field(storage, 'every member\'s volume: size, storageClassName, accessMode, type'),
  failoverTiming: field(oneOf(preset({ default: () => FailoverTiming.DEFAULT, fast: () => FailoverTiming.FAST }, true), map(object({
    ttl: field(duration, 'leader lock TTL', { required: true }),
    loopWait: field(duration, 'Patroni loop wait', { required: true }),
    retryTimeout: field(duration, 'DCS and PostgreSQL retry timeout', { required: true }),
  }), (o: any) => FailoverTiming.of(o))), 'default, fast, or {ttl, loopWait, retryTimeout}'),
  dcs: field(enumOf(PatroniDcs), 'configmaps or endpoints'),
  tls: field(tls, 'cert-manager (default), disabled, {certManager: {...}} or {secrets: {server, replicationClient}}'),
  databases: field(list(object({
    name: field(str(), 'database name', { required: true }),
    owner: field(str(), 'owning role'),
    extensions: field(list(str()), 'extensions to create'),
  })), 'databases to create'),
  users: field(list(user), 'application roles'),
  pooler: field(object({
    instances: field(integer, 'PgBouncer pods'),
    poolMode: field(enumOf(PoolMode), 'transaction, session or statement'),
    defaultPoolSize: field(integer, 'server connections per user and database'),
    maxClientConnections: field(integer, 'client connections'),
    readOnly: field(boolean, 'a second pooler in front of the replicas'),
    scheduling: field(scheduling, 'where the pooler runs (default: scheduling)'),
    image: field(str(), 'PgBouncer image'),
    resources: field(resources, 'resources of each PgBouncer pod'),
  }), 'a PgBouncer connection pooler'),
  monitoring: field(object({
    heartbeat: field(object({
      interval: field(duration, 'check interval'),
      timeout: field(duration, 'check timeout'),
      failureThreshold: field(integer, 'failed checks before not ready'),
      maxLag: field(size, 'replica lag before not ready'),
      maxLagTime: field(duration, 'replica replay delay before not ready'),
      resources: field(resources, 'heartbeat container resources'),
    }), 'heartbeat (readiness)'),
    metrics: field(object({
      enabled: field(boolean, 'the postgres_exporter sidecar'),
      image: field(str(), 'exporter image'),
      resources: field(resources, 'exporter resources'),
      podMonitor: field(boolean, 'a Prometheus Operator PodMonitor'),
      scrapeInterval: field(duration, 'scrape interval'),
      alertRules: field(boolean, 'a Prometheus Operator PrometheusRule of the cluster\'s alerts (default: with the PodMonitor)'),
      grafanaDashboard: field(boolean, 'a Grafana dashboard in a ConfigMap labelled grafana_dashboard: "1"'),
    }), 'metrics exporter'),
  }), 'heartbeat and metrics'),
  sidecars: field(list(object({
    name: field(str(DNS_LABEL, 'must be a DNS label'), 'container name', { required: true }),
    image: field(str(), 'image', { required: true }),
    resources: field(resources, 'resources', { required: true }),
    command: field(list(str()), 'command'),
    args: field(list(str()), 'arguments'),
    env: field(stringMap, 'environment variables'),
    ports: field(integerMap, 'named container ports'),
    socketMountPath: field(str(), 'where the PostgreSQL socket directory is mounted'),
  })), 'containers of your own in every member pod'),
  network: field(object({
    policies: field(boolean, 'emit NetworkPolicies'),
    allowFrom: field(list(peer), 'clients: same-namespace, any-namespace, {pods, namespaces} or {cidr}'),
    metricsFrom: field(list(peer), 'metrics scrapers'),
    apiServer: field(oneOf<ApiServerAccess>(
      preset({ anywhere: () => ApiServerAccess.anywhere(), cilium: () => ApiServerAccess.cilium() }, true),
      map(object({
        cidrs: field(list(str()), 'the API server\'s CIDR blocks', { required: true }),
        ports: field(list(integer), 'its TCP ports (default 443 and 6443)'),
      }), (o: any) => ApiServerAccess.cidrs(o.cidrs, o.ports)),
    ), 'how pods reach the API server: anywhere (default), cilium, or {cidrs, ports}'),
    apiServerCidrs: field(list(str()), 'the Kubernetes API server addresses (shorthand for apiServer: {cidrs})'),
    serviceIpFamilies: field(preset({
      'cluster-default': () => ServiceIpFamilies.clusterDefault(),
      'ipv4': () => ServiceIpFamilies.singleStack(IpFamily.IPV4),
      'ipv6': () => ServiceIpFamilies.singleStack(IpFamily.IPV6),
      'prefer-dual-stack': () => ServiceIpFamilies.preferDualStack(),
      'require-dual-stack': () => ServiceIpFamilies.requireDualStack(),
    }), 'the Services\' IP families: cluster-default, ipv4, ipv6, prefer-dual-stack or require-dual-stack'),
  }), 'network isolation and the Services\' IP families'),
  backup: field(object({
    repositories: field(list(repository), 'one to four repositories: {volume}, {s3}, {gcs}, {azure}', { required: true }),
    schedules: field(schedules, 'schedules of the first repository'),
    archiveTimeout: field(duration, 'force a WAL switch after this long (default 60s)'),
    compression: field(enumOf(BackupCompression), 'zst, lz4, gz or none'),
    processMax: field(integer, 'parallel processes of a backup or restore'),
    resources: field(resources, 'resources of the backup Jobs and the backup node'),
    serverResources: field(resources, 'resources of the pgBackRest server in each member pod'),
    scheduling: field(scheduling, 'where the backup node and the backup Jobs run (default: scheduling)'),
  }), 'pgBackRest backups: repositories, schedules, retention'),
  restore: field(object({
    sourceCluster: field(str(), 'the cluster whose backup is restored (its stanza)', { required: true }),
    repository: field(repository, 'the source\'s repository', { required: true }),
    sourceNamespace: field(str(), 'namespace of the source cluster'),
    target: field(recoveryTarget, 'latest (default), {time}, {lsn}, {transactionId} or {restorePoint}'),
    backupSet: field(str(), 'the backup set to start from'),
  }), 'bootstrap from another cluster\'s backup'),
  requireSeparateNodes: field(boolean, 'never two members on one node'),
  superuserSecret: field(secretRef, 'an existing Secret with the superuser password'),
  replicationSecret: field(secretRef, 'an existing Secret with the replication password'),
  createNamespace: field(boolean, 'emit the Namespace metadata.namespace names, first (enforcing the restricted profile)'),
};

/**
 * PostgresClusterProps a spec cannot set, with why (a test checks every prop is a field of
 * SPEC_FIELDS or listed here, so a new prop is never silently missing from specs).
 */
export const UNSUPPORTED_PROPS: Readonly<Record<string, string>> = {
  clusterName: 'set by metadata.name',
};

/** The envelope of a spec file. */
export interface ClusterSpec {
  /** The cluster name: metadata.name (props.clusterName). */
  readonly name: string;
  /** metadata.namespace: the chart's namespace. */
  readonly namespace?: string;
  readonly props: PostgresClusterProps;
}

const metadata = object<{ name: string; namespace?: string }>({
  name: field(str(DNS_LABEL, 'must be a DNS label: lower-case letters, digits and \'-\''), 'the cluster name', { required: true }),
  namespace: field(str(DNS_LABEL, 'must be a DNS label'), 'the namespace of every object'),
});

const envelope = object<{ apiVersion?: string; kind?: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown> }>({
  apiVersion: field(str(new RegExp(`^${SPEC_API_VERSION.replace(/[./]/g, '\\$&')}$`), `must be ${SPEC_API_VERSION}`), 'the spec format version'),
  kind: field(str(new RegExp(`^${SPEC_KIND}$`), `must be ${SPEC_KIND}`), 'PostgresCluster'),
  metadata: field(metadata, 'name and namespace', { required: true }),
  spec: field((v) => v, 'the cluster\'s props'),
});

/** Reads a parsed spec document into the cluster name, namespace and props; throws a SpecError naming the field. */
export function readClusterSpec(doc: unknown, ctx: ReadContext): ClusterSpec {
  const top = envelope(doc, '', ctx);
  const raw: any = object(SPEC_FIELDS)(top.spec ?? {}, 'spec', ctx);
  const props: any = { ...raw, clusterName: top.metadata.name };
  if (raw.image !== undefined && !(raw.image instanceof PostgresImage)) {
    const family = raw.image as ImageFamily;
    const version = family.version ?? raw.postgresVersion ?? DEFAULT_POSTGRES_VERSION;
    props.image = family.family === 'crunchy' ? PostgresImage.crunchy(version) : PostgresImage.percona(version);
  }
  // The shorthands: replicas.mode and replicas.synchronousStandbys, and resources, go to config.
  const nodeConfig: any = { ...(raw.config ?? {}) };
  if (raw.replicas && (raw.replicas.mode !== undefined || raw.replicas.synchronousStandbys !== undefined)) {
    const { mode, synchronousStandbys, ...rest } = raw.replicas;
    const replication = nodeConfig.replication ?? {};
    const twice = (mode !== undefined && replication.mode !== undefined)
      || (synchronousStandbys !== undefined && replication.synchronousStandbys !== undefined);
    if (twice) {
      throw new SpecError('spec.replicas', (doc as any).spec.replicas, 'set the replication mode in replicas or in config.replication, not both');
    }
    nodeConfig.replication = { ...replication };
    if (mode !== undefined) nodeConfig.replication.mode = mode;
    if (synchronousStandbys !== undefined) nodeConfig.replication.synchronousStandbys = synchronousStandbys;
    props.replicas = rest;
  }
  if (raw.resources !== undefined) {
    if (nodeConfig.resources !== undefined) throw new SpecError('spec.resources', (doc as any).spec.resources, 'set resources or config.resources, not both');
    nodeConfig.resources = raw.resources;
    delete props.resources;
  }
  if (Object.keys(nodeConfig).length > 0) props.config = nodeConfig;
  return { name: top.metadata.name, namespace: top.metadata.namespace, props };
}

/**
 * The field reference: one Markdown list item per field path, with its help. A group of fields
 * used in several places (resources, storage) is spelled out the first time only.
 */
export function specReference(): string {
  const lines: string[] = [];
  const first = new Map<Readonly<Record<string, Field>>, string>();
  const walk = (fields: Readonly<Record<string, Field>>, prefix: string): void => {
    for (const [name, f] of Object.entries(fields)) {
      const path = `${prefix}${name}`;
      const nested = fieldsOf(f.read);
      const seen = nested ? first.get(nested) : undefined;
      lines.push(`- \`${path}\`${f.required ? ' (required)' : ''}: ${f.help}${seen ? ` (fields as in \`${seen}\`)` : ''}`);
      if (nested && !seen) {
        first.set(nested, path);
        walk(nested, `${path}${isListReader(f.read) ? '[]' : ''}.`);
      }
    }
  };
  walk({ metadata: field(metadata, 'name and namespace', { required: true }), spec: field(object(SPEC_FIELDS), 'the cluster\'s props') }, '');
  return `${lines.join('\n')}\n`;
}

/** docs/spec.md: the spec format and the field reference (`npx projen spec-docs` writes it; a test checks it). */
export function specDocument(): string {
  const unsupported = Object.entries(UNSUPPORTED_PROPS).map(([prop, why]) => `- \`${prop}\`: ${why}`).join('\n');
  return `<!-- Generated from src/cli/spec/cluster-spec.ts by \`npx projen spec-docs\`: do not edit. -->
# The spec file of \`cdk8s-postgres-cluster synth\`

A spec file describes one PostgresCluster in YAML (or JSON) for people who do not write
TypeScript. \`metadata.name\` is the cluster name; \`metadata.namespace\` the namespace of every
object; \`spec\` mirrors the construct's props (PostgresClusterProps) field by field, with plain
values:

| prop type | in the spec |
| --- | --- |
| \`Size\` | a binary quantity: \`512Mi\`, \`4Gi\`, \`1.5Ti\` |
| \`Cpu\` | cores \`2\`, \`0.5\`, or millicores \`500m\` |
| \`Duration\` | \`500ms\`, \`30s\`, \`5m\`, \`1h\`, \`7d\` |
| enums | the value (\`synchronous\`, \`ReadWriteOnce\`) or the member name in any case (\`SYNCHRONOUS_STRICT\`) |
| \`Resources\` | a preset (\`micro\`, \`small\`, \`medium\`, \`large\`, \`xlarge\`) or \`{cpu, memory, cpuLimit, memoryLimit}\` |
| \`ISecret\` | the name of an existing Secret |

\`apiVersion: ${SPEC_API_VERSION}\` and \`kind: ${SPEC_KIND}\` are optional, checked when present.
An unknown field, a value of the wrong type or an unknown enum value is an error naming the field
path (\`spec.replicas.count\`), the value and what is allowed, and suggesting the nearest known
field for a typo (exit code 2). Values the construct refuses (a replica count out of range, a
memory limit too small for the settings) are reported in the same terms (exit code 1).

Shorthands: \`spec.replicas.mode\` and \`spec.replicas.synchronousStandbys\` set
\`spec.config.replication\`; \`spec.resources\` sets \`spec.config.resources\` (setting both is an error).

Props that are not fields of \`spec\`:

${unsupported}

## Fields

${specReference()}`;
}
