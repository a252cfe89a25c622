import { createHash } from 'crypto';
import { ApiObject, Chart, Duration, JsonPatch, Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ApplicationUser, DatabaseOptions, PoolerOptions, UserOptions } from './access';
import { AccessJob } from './access-job';
import { BackupOptions, RestoreOptions } from './backup';
import { BackupContext, BackupNode, ResolvedBackup, backupNames, repoBackupSchedules, resolveBackup } from './backup-node';
import { CaPublisher } from './ca-publisher';
import { ClusterCertificates } from './certificates';
import { ConfigJob } from './config-job';
import { checkedResources } from './container-resources';
import { CredentialsJob, GeneratedSecret } from './credentials';
import { propError, requireDnsLabel, requireDnsSubdomain, requireInteger } from './errors';
import { FailoverTiming } from './failover-timing';
import { PostgresImage, pinnedImageProblems } from './image';
import { PodMonitor } from './imports/monitoring.coreos.com';
import { clusterLabels, configMapLabels, memberSelector, serviceLabels } from './labels';
import { MemberContext } from './member-context';
import { DEFAULT_REPLICAS, MAX_REPLICAS, MEMBER_VOLUME_CLAIM, PATHS } from './member-statefulset';
import { HeartbeatOptions, MonitoringOptions, SidecarOptions } from './monitoring';
import {
  ACCESS_USER, GRANTABLE_PREDEFINED_ROLES, HEARTBEAT_PORT, HEARTBEAT_RESOURCES, METRICS_PORT, METRICS_RESOURCES,
  MONITORING_USER, POOLER_USER, REWIND_USER,
} from './monitoring-defaults';
import { ApiServerAccess, ClusterNetworkPolicies, NetworkOptions } from './network-policy';
import { NodeConfig, NodeConfigProps } from './node-config';
import { checkSystemRotations, checkedUserRotation } from './password-rotation';
import { Pooler } from './pooler';
import { PrimaryNode, PrimaryNodeOptions } from './primary-node';
import { alertRuleGroups } from './render/alert-rules';
import { exporterQueries } from './render/exporter-queries';
import { grafanaDashboard } from './render/grafana-dashboard';
import { HEARTBEAT_SCRIPT } from './render/heartbeat';
import {
  BACKUP_INIT_SCRIPT, BOOTSTRAP_RESTORE_SCRIPT, ENSURE_SECRETS_SCRIPT, PGBACKREST_SERVER_FILE, PGBACKREST_SERVER_SCRIPT, PGBACKREST_SOURCE_SCRIPT,
  ON_ROLE_CHANGE_FILE, ON_ROLE_CHANGE_SCRIPT, POST_BOOTSTRAP_SCRIPT,
  RELOAD_ON_CHANGE_FILE, RELOAD_ON_CHANGE_SCRIPT, WAIT_FOR_LEADER_SCRIPT,
} from './render/scripts';
import { formatQuantity, parseCpuCores } from './render/units';
import { DelayedReplicaOptions, ReplicaSet, ReplicaSetOptions } from './replica-set';
import { ReplicationMode } from './replication';
import { Resources } from './resources';
import { ResolvedScheduling, SchedulingOptions, resolveScheduling, withScheduling } from './scheduling';
import { StorageOptions } from './storage';
import { IssuerKind, Tls } from './tls';

const k8s = kplus.k8s;

/** Longest cluster name: keeps every derived name (`<name>-credentials-<hash>`, pod names, Patroni's ConfigMaps) within Kubernetes limits. */
const MAX_CLUSTER_NAME = 40;

/**
 * Where Patroni keeps the leader lock and cluster state in the Kubernetes API.
 */
export enum PatroniDcs {
  /** ConfigMaps `<cluster>-leader`, `-config`, `-sync`, `-failover` (the Endpoints API is deprecated since Kubernetes 1.33). */
  CONFIGMAPS = 'configmaps',
  /** Endpoints objects, as older operators do. Needs rights on endpoints and to create Services. */
  ENDPOINTS = 'endpoints',
}

/**
 * Properties of a {@link PostgresCluster}. Every one is optional: `new PostgresCluster(chart, 'db')`
 * is a working HA cluster of one primary and two asynchronous replicas.
 */
export interface PostgresClusterProps {
  /**
   * Name of the cluster: the prefix of every object's name and Patroni's scope.
   * A DNS label of at most 40 characters.
   * @default - the construct id
   */
  readonly clusterName?: string;

  /**
   * Emit the Chart's Namespace with the cluster, before its other objects, so that
   * `kubectl apply -f dist/` needs no namespace created beforehand. It is labelled to enforce the
   * Pod Security Standards "restricted" profile, which every pod of the cluster meets. Needs a
   * Chart with a `namespace`; leave it off when the namespace is made elsewhere (by another
   * cluster in the same Chart, or by whoever runs the Kubernetes cluster).
   * @default false
   */
  readonly createNamespace?: boolean;

  /**
   * PostgreSQL major version, used to pick the default image.
   * @default 17
   */
  readonly postgresVersion?: number;

  /**
   * The image bundling PostgreSQL, Patroni and pgBackRest.
   * @default PostgresImage.percona(postgresVersion)
   */
  readonly image?: PostgresImage;

  /**
   * The streaming replicas.
   * @default - 2 replicas
   */
  readonly replicas?: ReplicaSetOptions;

  /**
   * Delayed replicas, in a StatefulSet of their own.
   * @default - none
   */
  readonly delayedReplicas?: DelayedReplicaOptions;

  /**
   * Settings of the preferred primary that differ from the cluster's.
   * @default - the cluster's resources and storage
   */
  readonly primary?: PrimaryNodeOptions;

  /**
   * How every member is configured: database, connections and authentication, replication,
   * shared memory, resources and raw parameters.
   * @default - see NodeConfigProps: database `app` on 5432, 100 connections, scram-sha-256,
   * asynchronous replication with slots, Resources.SMALL, memory settings derived from the limits
   */
  readonly config?: NodeConfigProps;

  /**
   * Each member's persistent volume.
   * @default - 10 GiB, ReadWriteOnce, the cluster's default StorageClass
   */
  readonly storage?: StorageOptions;

  /**
   * Patroni's leader-election timings: how fast a lost primary is replaced.
   * @default FailoverTiming.DEFAULT (ttl 30 s, loop_wait 10 s, retry_timeout 10 s)
   */
  readonly failoverTiming?: FailoverTiming;

  /**
   * Where Patroni keeps its state in the Kubernetes API.
   * @default PatroniDcs.CONFIGMAPS
   */
  readonly dcs?: PatroniDcs;

  /**
   * Where TLS certificates come from. TLS is on by default: clients must use TLS, replicas
   * authenticate with client certificates, Patroni's REST API serves HTTPS.
   * @default Tls.certManager() (needs cert-manager in the Kubernetes cluster)
   */
  readonly tls?: Tls;

  /**
   * Backups with pgBackRest: WAL archiving from whichever member leads, scheduled full,
   * differential and incremental backups into up to four repositories, retention, and replicas
   * created from the repository. Needs TLS (pgBackRest's TLS server).
   * @default - no backups, WAL is not archived
   */
  readonly backup?: BackupOptions;

  /**
   * Bootstrap the new cluster from another cluster's backup (latest, or a point in time) instead
   * of an empty database. Only used when the cluster is first created.
   * @default - a new, empty database (initdb)
   */
  readonly restore?: RestoreOptions;

  /**
   * Databases to create (never dropped when removed from the declaration).
   * @default - only the application database of `config.database.name`
   */
  readonly databases?: DatabaseOptions[];

  /**
   * Roles for applications (never the superuser). Each login user gets a connection Secret.
   * @default - none
   */
  readonly users?: UserOptions[];

  /**
   * A PgBouncer connection pooler in front of the primary (and, with `readOnly`, the replicas).
   * @default - no pooler
   */
  readonly pooler?: PoolerOptions;

  /**
   * Heartbeat monitoring (drives readiness) and the metrics exporter.
   * @default - heartbeat every 5 s; exporter on port 9187; no PodMonitor
   */
  readonly monitoring?: MonitoringOptions;

  /**
   * Containers of your own added to every member pod. More can be added with `addSidecar()`.
   * @default - none
   */
  readonly sidecars?: SidecarOptions[];

  /**
   * Network isolation: NetworkPolicies for every pod of the cluster.
   * @default - default deny; clients from the same namespace, metrics scrapers from any namespace
   */
  readonly network?: NetworkOptions;

  /**
   * Never schedule two members of the cluster (any node set: primary, replicas, delayed replicas)
   * on one node: a required pod anti-affinity on `kubernetes.io/hostname` to every member. A
   * member that finds no free node stays Pending. Either way members are spread across nodes and
   * zones when the scheduler can (soft topology spread).
   * @default false
   */
  readonly requireSeparateNodes?: boolean;

  /**
   * Where every pod of the cluster may run (members, the backup node and Jobs, the pooler, the
   * credentials, access and CA Jobs): node selector, tolerations, affinity, priority class.
   * `primary`, `replicas`, `delayedReplicas`, `backup` and `pooler` may give their own, which
   * replaces this one for their pods.
   * @default - any node, no tolerations, only the library's affinity rules
   */
  readonly scheduling?: SchedulingOptions;

  /**
   * Your own Secret with the `postgres` superuser's password under the key `password`.
   * @default - `<cluster>-superuser`, created in the cluster with a random password by a Job
   */
  readonly superuserSecret?: kplus.ISecret;

  /**
   * Your own Secret with the replication user's password under the key `password`.
   * @default - `<cluster>-replication`, created in the cluster with a random password by a Job
   */
  readonly replicationSecret?: kplus.ISecret;
}

/**
 * A highly available PostgreSQL cluster as plain Kubernetes objects, with no operator.
 *
 * Every member runs Patroni, which starts PostgreSQL as its child, elects a leader through the
 * Kubernetes API and fails over. Composes a {@link PrimaryNode} (the preferred primary and the
 * read-write Service) and a {@link ReplicaSet} (streaming replicas and the read-only Service),
 * plus what they share: the headless Service, RBAC for Patroni, a PodDisruptionBudget and the
 * Job that creates the credential Secrets in the cluster.
 *
 * The same in the other languages (whole apps in the README; each synthesizes the same YAML):
 *
 * ```python
 * db = PostgresCluster(chart, "db", create_namespace=True)
 * ```
 *
 * ```java
 * PostgresCluster db = PostgresCluster.Builder.create(chart, "db").createNamespace(true).build();
 * ```
 *
 * ```go
 * db := cdk8spostgrescluster.NewPostgresCluster(chart, jsii.String("db"), &cdk8spostgrescluster.PostgresClusterProps{CreateNamespace: jsii.Bool(true)})
 * ```
 *
 * @example
 *
 * import { App, Chart } from 'cdk8s';
 * import { PostgresCluster } from 'cdk8s-postgres-cluster';
 *
 * const app = new App();
 * const chart = new Chart(app, 'orders', { namespace: 'orders' });
 * const db = new PostgresCluster(chart, 'db', { createNamespace: true });
 * // db.primaryHost is "db-primary.orders.svc": read-write, follows the leader
 * app.synth();
 */
export class PostgresCluster extends Construct {
  /** The cluster name (prefix of every object name, Patroni scope). */
  public readonly clusterName: string;
  /** The image members run. */
  public readonly image: PostgresImage;
  /** The preferred primary. */
  public readonly primary: PrimaryNode;
  /** The streaming replicas. */
  public readonly replicas: ReplicaSet;
  /** The delayed replicas, when configured. */
  public readonly delayedReplicas?: ReplicaSet;
  /** The configuration of every member. */
  public readonly config: NodeConfig;
  /** Name of the application database created at bootstrap. */
  public readonly databaseName: string;
  /** Storage of each member unless overridden per node set. */
  public readonly storage: StorageOptions;
  /** DNS name of the read-write Service (always the current leader). */
  public readonly primaryHost: string;
  /** DNS name of the read-only Service (streaming replicas). */
  public readonly replicasHost: string;
  /** PostgreSQL port of both Services. */
  public readonly port: number;
  /** Name of the Secret holding the superuser (`postgres`) password (key `password`). */
  public readonly superuserSecretName: string;
  /** Name of the Secret holding the replication user's password (key `password`). */
  public readonly replicationSecretName: string;
  /** Name of the headless Service giving each member a DNS name. */
  public readonly headlessServiceName: string;

  /** Name of the Secret with the monitoring role's password (key `password`). */
  public readonly monitoringSecretName: string;
  /**
   * Name of the Secret with the password of `cdk8s_rewind` (key `password`), the role pg_rewind
   * connects as between members: no superuser, only pg_ls_dir, pg_stat_file and pg_read_binary_file.
   */
  public readonly rewindSecretName: string;
  /** The Secret of cdk8s_access, the role the access Job connects as (created at bootstrap). */
  private readonly accessSecretName: string;
  /** Where the certificates come from. */
  public readonly tls: Tls;
  /**
   * ConfigMap `<cluster>-ca-cert` whose key `ca.crt` holds the cluster CA's certificate and
   * nothing else: what clients mount to verify the server (`sslmode=verify-full`). A Job fills it
   * in the cluster and a daily CronJob keeps it current. Never give applications the Secrets of
   * the certificates: they hold private keys (the CA's would let its reader mint a replication or
   * server certificate). Undefined without TLS.
   */
  public readonly caConfigMapName?: string;

  /** Name of the pooler's Service (read-write), when a pooler is configured. */
  public readonly poolerHost?: string;

  /** The backup side (pgBackRest), when backups or a restore are configured. */
  public readonly backup?: BackupNode;

  /** @internal */
  public readonly _memberContext: MemberContext;
  /** The cluster's scheduling, validated. */
  private readonly scheduling?: ResolvedScheduling;
  private readonly sidecars: SidecarOptions[] = [];
  private readonly users: UserOptions[] = [];
  private readonly databases: DatabaseOptions[] = [];
  private readonly generatedSecrets: GeneratedSecret[] = [];
  private accessJob?: AccessJob;
  private readonly hasPooler: boolean;
  private readonly primaryHostName: string;
  private readonly replicasHostName: string;
  private readonly connections: Record<string, { host: string; roHost: string; port: number; dbname: string; sslmode: string }> = {};

  constructor(scope: Construct, id: string, props: PostgresClusterProps = {}) {
    super(scope, id);
    const name = requireDnsLabel(this, 'clusterName', props.clusterName ?? id, MAX_CLUSTER_NAME);
    this.clusterName = name;
    if (props.createNamespace) namespaceObject(this, name);

    const postgresVersion = props.postgresVersion ?? 17;
    if (props.image === undefined && !PostgresImage.SUPPORTED_DEFAULT_VERSIONS.includes(postgresVersion)) {
      throw propError(this, 'postgresVersion', postgresVersion,
        `the default image has PostgreSQL ${PostgresImage.SUPPORTED_DEFAULT_VERSIONS.join(', ')}; pass \`image\` for another version`);
    }
    const image = props.image ?? PostgresImage.percona(postgresVersion);
    const imageProblems = image.violations();
    if (imageProblems.length > 0) throw propError(this, 'image', image.image, imageProblems.join('; '));
    if (props.postgresVersion !== undefined && image.postgresVersion !== props.postgresVersion) {
      throw propError(this, 'postgresVersion', props.postgresVersion, `must match the image's PostgreSQL ${image.postgresVersion}`);
    }
    this.image = image;

    const timing = props.failoverTiming ?? FailoverTiming.DEFAULT;
    const timingProblems = timing.violations();
    if (timingProblems.length > 0) {
      throw propError(this, 'failoverTiming', { ttl: timing.ttlSeconds, loopWait: timing.loopWaitSeconds, retryTimeout: timing.retryTimeoutSeconds },
        `Patroni 4 refuses these timings: ${timingProblems.join('; ')}`);
    }

    this.scheduling = resolveScheduling(this, 'scheduling', props.scheduling);
    this.config = new NodeConfig(this, 'Config', props.config);
    const config = this.config;
    this.databaseName = config.databaseName;
    const replicaOptions = props.replicas ?? {};
    const delayedOptions = props.delayedReplicas;
    const count = requireInteger(this, 'replicas.count', replicaOptions.count ?? DEFAULT_REPLICAS, 0, MAX_REPLICAS);
    const delayedCount = delayedOptions
      ? requireInteger(this, 'delayedReplicas.count', delayedOptions.count ?? 1, 1, MAX_REPLICAS - count) : 0;
    const mode = config.replicationMode;
    const synchronous = mode !== ReplicationMode.ASYNCHRONOUS;
    if (synchronous) {
      if (count === 0) {
        throw propError(this, 'config.replication.mode', mode,
          'synchronous replication needs at least one replica (replicas.count is 0; delayed replicas are never synchronous)');
      }
      requireInteger(this, 'config.replication.synchronousStandbys', config.synchronousStandbys, 1, count);
    }
    if (delayedCount > 0 && !config.slots) {
      throw propError(this, 'config.replication.slots', false,
        'delayed replicas need replication slots: without one the primary recycles WAL they have not replayed yet');
    }

    this.storage = props.storage ?? {};
    this.port = config.port;
    const labels = clusterLabels(name);
    const namespace = Chart.of(this).namespace;
    const host = (service: string) => (namespace ? `${service}.${namespace}.svc` : service);

    this.hasPooler = props.pooler !== undefined;
    this.primaryHostName = host(`${name}-primary`);
    this.replicasHostName = host(`${name}-replicas`);
    this.superuserSecretName = props.superuserSecret?.name ?? `${name}-superuser`;
    this.monitoringSecretName = `${name}-monitoring`;
    this.rewindSecretName = `${name}-rewind`;
    this.accessSecretName = `${name}-access`;
    this.replicationSecretName = props.replicationSecret?.name ?? `${name}-replication`;
    this.headlessServiceName = `${name}-pods`;
    const scriptsConfigMapName = `${name}-scripts`;
    const scripts = {
      'ensure-secrets.py': ENSURE_SECRETS_SCRIPT,
      'exporter-queries.yaml': exporterQueries(),
      'heartbeat.py': HEARTBEAT_SCRIPT,
      [ON_ROLE_CHANGE_FILE]: ON_ROLE_CHANGE_SCRIPT,
      'post-bootstrap.sh': POST_BOOTSTRAP_SCRIPT,
      [RELOAD_ON_CHANGE_FILE]: RELOAD_ON_CHANGE_SCRIPT,
      'wait-for-leader.sh': WAIT_FOR_LEADER_SCRIPT,
      ...(props.backup ? { 'backup-init.sh': BACKUP_INIT_SCRIPT, [PGBACKREST_SERVER_FILE]: PGBACKREST_SERVER_SCRIPT } : {}),
      ...(props.restore ? { 'bootstrap-restore.sh': BOOTSTRAP_RESTORE_SCRIPT, 'pgbackrest-source.sh': PGBACKREST_SOURCE_SCRIPT } : {}),
    };
    const useEndpoints = (props.dcs ?? PatroniDcs.CONFIGMAPS) === PatroniDcs.ENDPOINTS;

    this.tls = props.tls ?? Tls.certManager();
    let tlsSecrets: MemberContext['tls'];
    const pgbrNames = backupNames(name);
    const volumeRepo = (props.backup?.repositories ?? []).some((r) => r.type === 'posix');
    if (props.backup && !this.tls.enabled) {
      throw propError(this, 'backup', 'Tls.disabled()', "backups need TLS: pgBackRest's TLS server carries backups between the members and the backup Jobs (use Tls.certManager() or Tls.fromSecrets())");
    }
    if (volumeRepo && this.tls.source === 'secrets') {
      throw propError(this, 'backup.repositories', 'BackupRepository.volume()',
        "a volume repository's backup node gets its certificate from cert-manager: use Tls.certManager(), or object storage with Tls.fromSecrets()");
    }
    // The namespace and extra names the certificates carry (cert-manager only: Tls.fromSecrets certificates are the user's).
    let certNamespace = namespace;
    let extraDnsNames: string[] = [];
    if (this.tls.source === 'cert-manager') {
      const o = this.tls._certManager;
      if (o.namespace !== undefined) {
        requireDnsLabel(this, 'tls.namespace', o.namespace, 63);
        if (namespace !== undefined && o.namespace !== namespace) {
          throw propError(this, 'tls.namespace', o.namespace, `must equal the chart's namespace (${namespace}), or be left unset`);
        }
        certNamespace = o.namespace;
      }
      extraDnsNames = (o.extraDnsNames ?? []).map((n, i) => {
        const dns = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
        if (!dns.test(n) || n.length > 253 || n.split('.').some((l) => l.length > 63)) {
          throw propError(this, `tls.extraDnsNames[${i}]`, n, 'must be a lower-case DNS name, with a wildcard only as the whole first label (*.example.com)');
        }
        return n;
      });
      // cert-manager refuses a renewBefore under 5 minutes; whole hours keep the rendered Go durations exact.
      for (const [prop, d] of [['duration', o.duration], ['renewBefore', o.renewBefore]] as const) {
        if (d && (d.toMinutes({ integral: false }) % 60 !== 0 || d.toHours({ integral: false }) < 1)) {
          throw propError(this, `tls.${prop}`, `${d.toMinutes({ integral: false })}min`, 'must be a whole number of hours, at least 1 h');
        }
      }
      const lifetime = (o.duration ?? Duration.days(90)).toHours({ integral: false });
      const renew = (o.renewBefore ?? Duration.days(15)).toHours({ integral: false });
      if (renew >= lifetime) throw propError(this, 'tls.renewBefore', `${renew}h`, `must be shorter than the certificate lifetime (${lifetime}h)`);
      if (o.issuerName !== undefined) requireDnsSubdomain(this, 'tls.issuerName', o.issuerName);
      const certs = new ClusterCertificates(this, 'Certificates', {
        clusterName: name,
        namespace: certNamespace,
        extraDnsNames,
        serviceNames: [`${name}-primary`, `${name}-replicas`],
        headlessServiceName: this.headlessServiceName,
        options: o,
        pgbackrest: props.backup
          ? { clientSecretName: pgbrNames.clientSecretName, repoHostSecretName: volumeRepo ? pgbrNames.repoHostSecretName : undefined } : undefined,
      });
      tlsSecrets = { serverSecretName: certs.serverSecretName, replicationSecretName: certs.replicationSecretName };
    } else if (this.tls.source === 'secrets') {
      const sec = this.tls._secrets!;
      tlsSecrets = { serverSecretName: sec.server.name, replicationSecretName: sec.replicationClient.name };
    }
    if (tlsSecrets) {
      // The CA certificate alone, for clients: the server Secret's ca.crt is the CA that signed it.
      this.caConfigMapName = `${name}-ca-cert`;
    }

    const backupContext: BackupContext = {
      clusterName: name,
      namespace,
      image,
      port: this.port,
      dataDir: `${PATHS.data}/pg${image.postgresVersion}`,
      socketDir: PATHS.tmp,
      superuser: 'postgres',
      primaryServiceName: `${name}-primary`,
      serverTls: { certFile: `${PATHS.tlsServer}/tls.crt`, keyFile: `${PATHS.tlsServer}/tls.key`, caFile: `${PATHS.tlsServer}/ca.crt` },
      // With certificates of the user's own, the replication client certificate (CN replicator) is pgBackRest's client.
      clientSecretName: this.tls.source === 'secrets' ? tlsSecrets!.replicationSecretName : pgbrNames.clientSecretName,
      clientCn: this.tls.source === 'secrets' ? 'replicator' : 'pgbackrest',
      repoHostSecretName: pgbrNames.repoHostSecretName,
    };
    const resolvedBackup: ResolvedBackup | undefined = resolveBackup(this, backupContext, props.backup, props.restore);

    this._memberContext = {
      clusterName: name,
      image,
      timing,
      config,
      synchronous: { enabled: synchronous, strict: mode === ReplicationMode.SYNCHRONOUS_STRICT, standbys: config.synchronousStandbys },
      maxWorkerProcesses: Math.max(8, 4 + Math.max(...[
        config.resources, props.primary?.resources, replicaOptions.resources, delayedOptions?.resources,
      ].filter((r): r is Resources => r !== undefined).map((r) => Math.floor(parseCpuCores(r.cpuLimit.amount))))),
      useEndpoints,
      port: this.port,
      restApiPort: 8008,
      superuser: 'postgres',
      replicationUser: 'replicator',
      rewindUser: REWIND_USER,
      superuserSecretName: this.superuserSecretName,
      replicationSecretName: this.replicationSecretName,
      rewindSecretName: this.rewindSecretName,
      accessUser: ACCESS_USER,
      accessSecretName: this.accessSecretName,
      poolerUser: POOLER_USER,
      grantableRoles: GRANTABLE_PREDEFINED_ROLES,
      serviceAccountName: name,
      headlessServiceName: this.headlessServiceName,
      primaryServiceName: `${name}-primary`,
      scriptsConfigMapName,
      scriptsHash: createHash('sha256').update(JSON.stringify(scripts)).digest('hex'),
      requireSeparateNodes: props.requireSeparateNodes ?? false,
      heartbeat: resolveHeartbeat(this, props.monitoring?.heartbeat),
      metrics: (props.monitoring?.metrics?.enabled ?? true) ? {
        image: checkedImage(this, 'monitoring.metrics.image', props.monitoring?.metrics?.image ?? DEFAULT_EXPORTER_IMAGE),
        resources: checkedResources(this, 'monitoring.metrics.resources', props.monitoring?.metrics?.resources ?? METRICS_RESOURCES),
      } : undefined,
      monitoringSecretName: this.monitoringSecretName,
      tls: tlsSecrets,
      sidecars: this.sidecars,
      backup: resolvedBackup?.member,
      scheduling: this.scheduling,
    };

    // Not the members' labels: outside Patroni's label selector (it would list and could delete it).
    new k8s.KubeConfigMap(this, 'Scripts', { metadata: { name: scriptsConfigMapName, labels: configMapLabels(name) }, data: scripts });

    // Patroni's rights: only what its Kubernetes DCS uses in the chosen mode, in this namespace.
    new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: { name, labels }, automountServiceAccountToken: false });
    const dcsRules: kplus.k8s.PolicyRule[] = useEndpoints
      ? [
        { apiGroups: [''], resources: ['endpoints'], verbs: ['create', 'get', 'list', 'patch', 'watch'] },
        { apiGroups: [''], resources: ['services'], verbs: ['create'] },
      ]
      : [{ apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'get', 'list', 'patch', 'watch'] }];
    new k8s.KubeRole(this, 'Role', {
      metadata: { name: `${name}-patroni`, labels },
      // Patroni 4's Kubernetes DCS reads (GET) only its leader object, lists and watches by label,
      // creates and patches; it never replaces (PUT) an object or reads a pod by name. The API
      // server's audit log of the end-to-end suite shows these calls and no others.
      rules: [...dcsRules, { apiGroups: [''], resources: ['pods'], verbs: ['list', 'patch', 'watch'] }],
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name: `${name}-patroni`, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-patroni` },
      subjects: [{ kind: 'ServiceAccount', name }],
    });

    new k8s.KubeService(this, 'Headless', {
      metadata: { name: this.headlessServiceName, labels: serviceLabels(name) },
      spec: {
        clusterIp: 'None',
        publishNotReadyAddresses: true,
        selector: memberSelector(name),
        ports: [
          { name: 'postgres', port: this.port, targetPort: k8s.IntOrString.fromString('postgres'), protocol: 'TCP' },
          { name: 'patroni', port: 8008, targetPort: k8s.IntOrString.fromString('patroni'), protocol: 'TCP' },
        ],
      },
    });

    // One budget over every member: at most one down at a time, and a single-member cluster can
    // always be drained (maxUnavailable 1 never blocks it).
    new k8s.KubePodDisruptionBudget(this, 'DisruptionBudget', {
      metadata: { name, labels },
      spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: memberSelector(name) } },
    });

    checkSystemRotations(this, props.config?.connection?.passwordRotation);
    const generated = this.generatedSecrets;
    if (!props.superuserSecret) generated.push({ secretName: this.superuserSecretName, username: 'postgres' });
    if (!props.replicationSecret) generated.push({ secretName: this.replicationSecretName, username: 'replicator' });
    generated.push({ secretName: this.monitoringSecretName, username: MONITORING_USER });
    generated.push({ secretName: this.rewindSecretName, username: REWIND_USER });
    generated.push({ secretName: this.accessSecretName, username: ACCESS_USER });
    {
      new CredentialsJob(this, 'Credentials', {
        clusterName: name,
        image,
        secrets: generated,
        scriptsConfigMapName,
        scriptsMountPath: PATHS.scripts,
        connections: this.connections,
        userlists: props.pooler ? [`${name}-pgbouncer`] : [],
        scheduling: this.scheduling,
      });
    }
    if (tlsSecrets && this.caConfigMapName) {
      new CaPublisher(this, 'CaPublisher', {
        clusterName: name,
        image,
        sourceSecretName: tlsSecrets.serverSecretName,
        configMapName: this.caConfigMapName,
        podSpec: (spec) => withScheduling(spec, this.scheduling),
      });
    }

    this.primary = new PrimaryNode(this, 'Primary', { ...props.primary, cluster: this });
    this.replicas = new ReplicaSet(this, 'Replicas', { ...replicaOptions, count, cluster: this });
    if (delayedOptions) {
      this.delayedReplicas = new ReplicaSet(this, 'DelayedReplicas', { ...delayedOptions, count: delayedCount, cluster: this });
    }
    // The cluster-wide settings reach a running cluster through Patroni's REST API (a Job per change).
    const memberContext = this._memberContext;
    const statefulSets = [this.primary, this.replicas, ...(this.delayedReplicas ? [this.delayedReplicas] : [])].map((set) => ({
      name: set.statefulSetName,
      pods: Array.from({ length: set instanceof PrimaryNode ? 1 : set.count }, (_, i) => `${set.statefulSetName}-${i}`),
      templateHash: set._templateHash,
      expandedClaimSize: set._expandedClaimSize,
    }));
    const memberUrls = statefulSets.flatMap((set) => set.pods.map((pod) =>
      `${memberContext.tls ? 'https' : 'http'}://${pod}.${this.headlessServiceName}:${memberContext.restApiPort}`));
    new ConfigJob(this, 'DynamicConfig', {
      clusterName: name,
      image,
      dynamicConfig: this.primary._dynamicConfig,
      memberUrls,
      statefulSets,
      tlsSecretName: memberContext.tls?.serverSecretName,
      scheduling: this.scheduling,
    });
    if (resolvedBackup) {
      this.backup = BackupNode._build(this, 'Backup', {
        context: backupContext,
        resolved: resolvedBackup,
        scriptsConfigMapName,
        scriptsMountPath: PATHS.scripts,
        scheduling: resolveScheduling(this, 'backup.scheduling', props.backup?.scheduling) ?? this.scheduling,
      });
    }
    for (const sidecar of props.sidecars ?? []) this.addSidecar(sidecar);
    // Users first: a database's owner must be declared before it.
    for (const user of props.users ?? []) this.declareUser(user, props.databases ?? []);
    for (const db of props.databases ?? []) this.addDatabase(db);
    if (props.pooler) {
      const p = props.pooler;
      requireInteger(this, 'pooler.instances', p.instances ?? 2, 1, 100);
      const poolSize = requireInteger(this, 'pooler.defaultPoolSize', p.defaultPoolSize ?? 20, 1, 10000);
      requireInteger(this, 'pooler.maxClientConnections', p.maxClientConnections ?? 1000, 1, 100000);
      const serverRoom = config.maxConnections - 10;
      if ((p.instances ?? 2) * poolSize > serverRoom) {
        throw propError(this, 'pooler.defaultPoolSize', poolSize,
          `instances x defaultPoolSize (${(p.instances ?? 2) * poolSize}) must leave room within max_connections (${config.maxConnections}, 10 kept for members and administration)`);
      }
      const res = checkedResources(this, 'pooler.resources', p.resources ?? POOLER_RESOURCES);
      const authSecret = `${name}-pgbouncer`;
      generated.push({ secretName: authSecret, username: POOLER_USER });
      const issuer = this.tls.source === 'cert-manager'
        ? { name: this.tls._certManager.issuerName ?? `${name}-ca`, kind: this.tls._certManager.issuerKind ?? IssuerKind.ISSUER } : undefined;
      const poolerScheduling = resolveScheduling(this, 'pooler.scheduling', p.scheduling) ?? this.scheduling;
      const poolerFor = (suffix: string, serverHost: string) => new Pooler(this, suffix === '' ? 'Pooler' : 'ReadOnlyPooler', {
        clusterName: name,
        name: `${name}-pooler${suffix}`,
        serverHost,
        port: this.port,
        options: p,
        image: checkedImage(this, 'pooler.image', p.image ?? DEFAULT_POOLER_IMAGE),
        uid: image.uid,
        gid: image.gid,
        authUser: POOLER_USER,
        authSecretName: authSecret,
        scriptsConfigMapName,
        scriptsMountPath: PATHS.scripts,
        tls: tlsSecrets
          ? {
            issuerRef: issuer,
            fallbackSecretName: tlsSecrets.serverSecretName,
            namespace: certNamespace,
            extraDnsNames,
            minVersion: config.tlsMinVersion,
          }
          : undefined,
        resources: { cpu: res.cpuLimit.amount, memoryBytes: res.memoryLimit.toKibibytes({ rounding: SizeRoundingBehavior.NONE }) * 1024 },
        scheduling: poolerScheduling,
      });
      poolerFor('', `${name}-primary`);
      if (p.readOnly) poolerFor('-ro', `${name}-replicas`);
      this.poolerHost = host(`${name}-pooler`);
    }
    if (props.pooler) this.ensureAccessJob();
    const apiServer = resolveApiServer(this, props.network ?? {});
    if (props.network?.policies ?? true) {
      new ClusterNetworkPolicies(this, 'NetworkPolicies', {
        clusterName: name,
        port: this.port,
        restApiPort: 8008,
        metricsPorts: [HEARTBEAT_PORT, ...(this._memberContext.metrics ? [METRICS_PORT] : [])],
        options: props.network ?? {},
        pooler: props.pooler !== undefined,
        caPublisher: this.caConfigMapName !== undefined,
        apiServer,
        backup: resolvedBackup ? {
          repoHost: volumeRepo,
          serverOnMembers: resolvedBackup.member.archiving,
          storePorts: resolvedBackup.storePorts,
          restoreFromVolume: resolvedBackup.restoreRepo?.input.type === 'posix',
        } : undefined,
      });
    }
    const metricsProps = props.monitoring?.metrics ?? {};
    const interval = metricsProps.scrapeInterval ?? Duration.seconds(30);
    const intervalMs = interval.toMilliseconds();
    if (intervalMs % 1000 !== 0 || intervalMs < 1000) {
      throw propError(this, 'monitoring.metrics.scrapeInterval', `${intervalMs}ms`, 'must be a whole number of seconds, at least 1 s');
    }
    if (metricsProps.podMonitor) {
      if (!this._memberContext.metrics) {
        throw propError(this, 'monitoring.metrics.podMonitor', true, 'needs the exporter (monitoring.metrics.enabled is false)');
      }
      new PodMonitor(this, 'PodMonitor', {
        metadata: { name, labels },
        spec: {
          selector: { matchLabels: memberSelector(name) },
          podMetricsEndpoints: [
            { port: 'metrics', path: '/metrics', interval: `${interval.toSeconds()}s` },
            { port: 'heartbeat', path: '/metrics', interval: `${interval.toSeconds()}s` },
          ],
        },
      });
    }
    if (metricsProps.alertRules ?? metricsProps.podMonitor ?? false) {
      if (!this._memberContext.metrics) {
        throw propError(this, 'monitoring.metrics.alertRules', true, 'needs the exporter (monitoring.metrics.enabled is false): the rules read its metrics');
      }
      this.addAlertRules(namespace ?? certNamespace, interval.toSeconds(), resolvedBackup, delayedOptions?.applyDelay?.toSeconds());
    }
    if (metricsProps.grafanaDashboard) {
      if (!this._memberContext.metrics) {
        throw propError(this, 'monitoring.metrics.grafanaDashboard', true, 'needs the exporter (monitoring.metrics.enabled is false): the panels read its metrics');
      }
      const dashboard = grafanaDashboard({
        clusterName: name,
        namespace: namespace ?? certNamespace,
        statefulSetNames: [this.primary, this.replicas, ...(this.delayedReplicas ? [this.delayedReplicas] : [])].map((s) => s.statefulSetName),
        maxLagBytes: this._memberContext.heartbeat.maxLagBytes,
        maxLagSeconds: this._memberContext.heartbeat.maxLagSeconds,
      });
      // Outside Patroni's label selector, like the scripts ConfigMap; the label is Grafana's sidecar convention.
      new k8s.KubeConfigMap(this, 'GrafanaDashboard', {
        metadata: { name: `${name}-grafana-dashboard`, labels: { ...configMapLabels(name), grafana_dashboard: '1' } },
        data: { [`${name}.json`]: JSON.stringify(dashboard, undefined, 2) },
      });
    }
    this.primaryHost = host(this.primary.serviceName);
    this.replicasHost = host(`${name}-replicas`);
    // Last: every Service of the cluster exists now (members, poolers, backup repository host).
    props.network?.serviceIpFamilies?._applyTo(this);
  }

  /** The PrometheusRule of the cluster's alerts, rendered from its settings (src/render/alert-rules.ts). */
  private addAlertRules(
    namespace: string | undefined, scrapeIntervalSeconds: number, backup: ResolvedBackup | undefined, applyDelaySeconds: number | undefined,
  ): void {
    const ctx = this._memberContext;
    const sets = [this.primary, this.replicas, ...(this.delayedReplicas ? [this.delayedReplicas] : [])];
    // Every cert-manager Certificate the cluster emits (members, pooler, pgBackRest), with its renewBefore.
    const certificates = this.node.findAll()
      .filter((c): c is ApiObject => c instanceof ApiObject && c.apiVersion === 'cert-manager.io/v1' && c.kind === 'Certificate')
      .map((c) => {
        const json = c.toJson();
        const renew = /^(\d+)h$/.exec(json.spec?.renewBefore ?? '');
        if (!renew) throw new Error(`Certificate ${json.metadata.name}: renewBefore ${json.spec?.renewBefore} is not whole hours`);
        return { name: json.metadata.name as string, renewBeforeSeconds: Number(renew[1]) * 3600 };
      });
    const groups = alertRuleGroups({
      clusterName: this.clusterName,
      namespace,
      memberSets: sets.map((s) => ({
        statefulSetName: s.statefulSetName,
        count: s instanceof PrimaryNode ? 1 : s.count,
        applyDelaySeconds: s === this.delayedReplicas ? applyDelaySeconds : undefined,
      })),
      volumeClaimTemplate: MEMBER_VOLUME_CLAIM,
      heartbeat: ctx.heartbeat,
      failover: { ttlSeconds: ctx.timing.ttlSeconds, loopWaitSeconds: ctx.timing.loopWaitSeconds },
      scrapeIntervalSeconds,
      archiving: backup?.member.archiving ? { archiveTimeoutSeconds: backup.member.archiveTimeoutSeconds } : undefined,
      certificates,
      backups: (backup?.repos ?? []).map((repo) => {
        const scheduled = repoBackupSchedules(this.clusterName, repo);
        return { repo: repo.input.index, cronJobs: scheduled.map((x) => x.cronJob), schedules: scheduled.map((x) => x.schedule) };
      }).filter((b) => b.cronJobs.length > 0),
    });
    new ApiObject(this, 'AlertRules', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: this.clusterName, labels: clusterLabels(this.clusterName) },
      spec: { groups },
    });
  }

  /** Creates the access Job on first need; it renders every user, database and the pooler at synth. */
  private ensureAccessJob(): void {
    if (this.accessJob) return;
    this.accessJob = new AccessJob(this, 'Access', {
      scheduling: this.scheduling,
      clusterName: this.clusterName,
      image: this.image,
      primaryHost: `${this.clusterName}-primary`,
      port: this.port,
      // The superuser only when the user lets it log in over the network; else the access role.
      login: this.config._superuserNetworkAccess
        ? { user: 'postgres', secretName: this.superuserSecretName }
        : { user: ACCESS_USER, secretName: this.accessSecretName },
      caConfigMapName: this.caConfigMapName,
      users: this.users,
      databases: this.databases,
      userSecretName: (u) => userSecretName(this.clusterName, u),
      pooler: () => (this.hasPooler ? { user: POOLER_USER, secretName: `${this.clusterName}-pgbouncer` } : undefined),
    });
  }

  /**
   * Declares a database (created if missing, never dropped). The access Job applies it.
   */
  public addDatabase(options: DatabaseOptions): void {
    const where = `databases[${options.name}]`;
    requireIdentifier(this, `${where}.name`, options.name);
    if (this.databases.some((d) => d.name === options.name) || ['postgres', 'template0', 'template1'].includes(options.name)) {
      throw propError(this, `${where}.name`, options.name, 'is already declared or is a built-in database');
    }
    for (const [i, ext] of (options.extensions ?? []).entries()) requireIdentifier(this, `${where}.extensions[${i}]`, ext);
    const owner = options.owner ?? ACCESS_USER;
    if (owner === 'postgres' && !this.config._superuserNetworkAccess) {
      throw propError(this, `${where}.owner`, owner, `needs the access Job to run as the superuser (config.connection.superuserNetworkAccess: true); leave it out to have ${ACCESS_USER} own it, or name a declared user`);
    }
    if (owner !== 'postgres' && owner !== ACCESS_USER && !this.users.some((u) => u.name === owner)) {
      throw propError(this, `${where}.owner`, owner, `must be a user declared before the database (declared: ${this.users.map((u) => u.name).join(', ') || 'none'})`);
    }
    this.databases.push(options);
    this.ensureAccessJob();
  }

  /**
   * Declares an application role. A login user gets a Secret (see ApplicationUser) with its
   * password created in the cluster and ready-made connection URIs.
   */
  public addUser(options: UserOptions): ApplicationUser {
    return this.declareUser(options, []);
  }

  /** Declares a user; `pendingDatabases` are declared in the same props (after the users). */
  private declareUser(options: UserOptions, pendingDatabases: DatabaseOptions[]): ApplicationUser {
    const where = `users[${options.name}]`;
    const knownDatabases = [this.databaseName, 'postgres', ...this.databases.map((d) => d.name), ...pendingDatabases.map((d) => d.name)];
    for (const [i, g] of [...(options.databases ?? []), ...(options.schemas ?? [])].entries()) {
      if (!knownDatabases.includes(g.database)) {
        throw propError(this, `${where}.databases[${i}]`, g.database, `is not a declared database (${knownDatabases.join(', ')})`);
      }
    }
    for (const group of options.memberOf ?? []) {
      if (!GRANTABLE_PREDEFINED_ROLES.includes(group) && !this.users.some((u) => u.name === group)) {
        throw propError(this, `${where}.memberOf`, group,
          `must be a user declared before it, or one of ${GRANTABLE_PREDEFINED_ROLES.join(', ')} (roles that reach the server's files or programs are never granted)`);
      }
    }
    requireIdentifier(this, `${where}.name`, options.name);
    if (RESERVED_ROLES.includes(options.name) || options.name.startsWith('pg_')) {
      throw propError(this, `${where}.name`, options.name, `is reserved (${RESERVED_ROLES.join(', ')}, pg_*)`);
    }
    if (this.users.some((u) => u.name === options.name)) throw propError(this, `${where}.name`, options.name, 'is declared twice');
    const secretName = userSecretName(this.clusterName, options.name);
    if (!/[a-z0-9]$/.test(options.name)) {
      throw propError(this, `${where}.name`, options.name, `must end with a letter or digit (it names the Secret ${secretName})`);
    }
    const taken = [this.superuserSecretName, this.replicationSecretName, this.monitoringSecretName, `${this.clusterName}-pgbouncer`,
      ...(this._memberContext.tls ? [this._memberContext.tls.serverSecretName, this._memberContext.tls.replicationSecretName] : []),
      ...this.users.map((u) => userSecretName(this.clusterName, u.name))];
    if (taken.includes(secretName)) {
      throw propError(this, `${where}.name`, options.name, `its Secret name ${secretName} is already used by the cluster`);
    }
    requireInteger(this, `${where}.connectionLimit`, options.connectionLimit ?? -1, -1, 100000);
    const passwordRotation = checkedUserRotation(this, where, options);
    this.users.push(options);
    if (options.login ?? true) {
      const dbname = options.databases?.[0]?.database
        ?? [...this.databases, ...pendingDatabases].find((d) => d.owner === options.name)?.name ?? this.databaseName;
      this.generatedSecrets.push({ secretName, username: options.name, passwordRotation });
      this.connections[secretName] = {
        host: this.primaryHostName,
        roHost: this.replicasHostName,
        port: this.port,
        dbname,
        sslmode: this.tls.enabled ? 'verify-full' : 'prefer',
      };
    }
    this.ensureAccessJob();
    return { name: options.name, secretName };
  }

  /**
   * Adds a container of your own to every member pod. It runs under the pod's restricted
   * security context and must declare resources (requests not above limits).
   */
  public addSidecar(options: SidecarOptions): void {
    const where = `sidecars[${options.name}]`;
    requireDnsLabel(this, `${where}.name`, options.name, 63);
    if (RESERVED_CONTAINERS.includes(options.name) || this.sidecars.some((s) => s.name === options.name)) {
      throw propError(this, `${where}.name`, options.name, `is already a container of the member pods (${[...RESERVED_CONTAINERS, ...this.sidecars.map((s) => s.name)].join(', ')})`);
    }
    const problems = pinnedImageProblems(options.image);
    if (problems.length > 0) throw propError(this, `${where}.image`, options.image, problems.join('; '));
    checkedResources(this, `${where}.resources`, options.resources);
    const taken = [...TAKEN_PORTS(this), ...this.sidecars.flatMap((s) => Object.values(s.ports ?? {}))];
    const takenNames = [...RESERVED_PORT_NAMES, ...this.sidecars.flatMap((s) => Object.keys(s.ports ?? {}))];
    for (const [port, n] of Object.entries(options.ports ?? {})) {
      if (!/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(port) || !/[a-z]/.test(port) || takenNames.includes(port)) {
        throw propError(this, `${where}.ports`, port,
          `port names must be 1 to 15 lower-case letters, digits or '-' with a letter, and not already used (${takenNames.join(', ')})`);
      }
      if (!Number.isInteger(n) || n < 1 || n > 65535 || taken.includes(n)) {
        throw propError(this, `${where}.ports.${port}`, n, `must be a free port from 1 to 65535 (taken: ${taken.join(', ')})`);
      }
    }
    for (const name of Object.keys(options.env ?? {})) {
      if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(name)) {
        throw propError(this, `${where}.env`, name, 'environment variable names are letters, digits, "_", "-" and "." and do not start with a digit');
      }
    }
    if (options.socketMountPath !== undefined && !/^\/[^\0]*$/.test(options.socketMountPath)) {
      throw propError(this, `${where}.socketMountPath`, options.socketMountPath, 'must be an absolute path');
    }
    this.sidecars.push(options);
  }
}

/** Containers the library puts in every member pod. */
const RESERVED_CONTAINERS = ['postgres', 'heartbeat', 'metrics', 'wait-for-leader'];
const TAKEN_PORTS = (c: PostgresCluster) => [c.port, 8008, HEARTBEAT_PORT, METRICS_PORT];
const RESERVED_PORT_NAMES = ['postgres', 'patroni', 'heartbeat', 'metrics'];

/** The default exporter image. */
const DEFAULT_EXPORTER_IMAGE = 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0';

/** The validated API server access of `network` (apiServer, or the deprecated apiServerCidrs). */
function resolveApiServer(scope: Construct, network: NetworkOptions): ApiServerAccess {
  if (network.apiServer && network.apiServerCidrs) {
    throw propError(scope, 'network.apiServerCidrs', network.apiServerCidrs, 'set network.apiServer or network.apiServerCidrs, not both');
  }
  const access = network.apiServer ?? (network.apiServerCidrs ? ApiServerAccess.cidrs(network.apiServerCidrs) : ApiServerAccess.anywhere());
  const where = network.apiServer ? 'network.apiServer' : 'network.apiServerCidrs';
  for (const [i, cidr] of access.cidrBlocks.entries()) {
    const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    const v6 = /^[0-9a-fA-F:]*:[0-9a-fA-F:]*\/(\d{1,3})$/.exec(cidr);
    const ok = v4 ? v4.slice(1, 5).every((o) => Number(o) <= 255) && Number(v4[5]) <= 32 : v6 ? Number(v6[1]) <= 128 : false;
    if (!ok) throw propError(scope, network.apiServer ? `${where}.cidrs[${i}]` : `${where}[${i}]`, cidr, 'must be a CIDR block such as 10.0.0.1/32');
  }
  if (access.form === 'cidrs' && access.cidrBlocks.length === 0) {
    throw propError(scope, `${where}.cidrs`, [], 'must list at least one CIDR block (an empty list lets no pod reach the API server)');
  }
  if (access.ports.length === 0) throw propError(scope, `${where}.ports`, [], 'must list at least one port');
  for (const [i, port] of access.ports.entries()) requireInteger(scope, `${where}.ports[${i}]`, port, 1, 65535);
  return access;
}

function checkedImage(scope: Construct, property: string, image: string): string {
  const problems = pinnedImageProblems(image);
  if (problems.length > 0) throw propError(scope, property, image, problems.join('; '));
  return image;
}

function resolveHeartbeat(scope: Construct, o: HeartbeatOptions = {}): MemberContext['heartbeat'] {
  const secs = (prop: string, d: Duration | undefined, def: number, min: number, max: number) => {
    if (!d) return def;
    const ms = d.toMilliseconds();
    if (ms % 1000 !== 0 || ms / 1000 < min || ms / 1000 > max) {
      throw propError(scope, `monitoring.heartbeat.${prop}`, `${ms}ms`, `must be a whole number of seconds from ${min} to ${max}`);
    }
    return ms / 1000;
  };
  const interval = secs('interval', o.interval, 5, 1, 300);
  const timeout = secs('timeout', o.timeout, 3, 1, 300);
  if (timeout > interval) throw propError(scope, 'monitoring.heartbeat.timeout', `${timeout}s`, `must not exceed the interval (${interval}s)`);
  const maxLagBytes = (o.maxLag ?? Size.mebibytes(16)).toKibibytes({ rounding: SizeRoundingBehavior.NONE }) * 1024;
  if (maxLagBytes < 64 * 1024) throw propError(scope, 'monitoring.heartbeat.maxLag', formatQuantity(maxLagBytes), 'must be at least 64Ki');
  const maxLagSeconds = secs('maxLagTime', o.maxLagTime, 30, 1, 86400);
  if (maxLagSeconds <= interval) {
    throw propError(scope, 'monitoring.heartbeat.maxLagTime', `${maxLagSeconds}s`, `must exceed the interval (${interval}s): the heartbeat is written once per interval`);
  }
  return {
    intervalSeconds: interval,
    timeoutSeconds: timeout,
    failureThreshold: requireInteger(scope, 'monitoring.heartbeat.failureThreshold', o.failureThreshold ?? 3, 1, 100),
    maxLagBytes: Math.floor(maxLagBytes),
    maxLagSeconds,
    resources: checkedResources(scope, 'monitoring.heartbeat.resources', o.resources ?? HEARTBEAT_RESOURCES),
  };
}

/** Roles the library owns. */
const RESERVED_ROLES = ['postgres', 'replicator', MONITORING_USER, POOLER_USER, REWIND_USER, ACCESS_USER, 'public'];
const DEFAULT_POOLER_IMAGE = 'docker.io/percona/percona-pgbouncer:1.25.1-1';
const POOLER_RESOURCES = Resources.of({ cpu: kplus.Cpu.millis(200), memory: Size.mebibytes(128) });

/** The connection Secret of a user: DNS-safe, predictable. */
function userSecretName(cluster: string, user: string): string {
  return `${cluster}-user-${user.replace(/_/g, '-')}`;
}

function requireIdentifier(scope: Construct, property: string, value: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
    throw propError(scope, property, value, 'must be 1 to 63 lower-case letters, digits or underscores, not starting with a digit');
  }
}

/**
 * The Chart's Namespace, as `createNamespace` asks: the first object the cluster adds (kubectl
 * applies a file in order), without the namespace the Chart gives every object (it is
 * cluster-scoped), enforcing the restricted profile.
 */
function namespaceObject(cluster: Construct, clusterName: string): ApiObject {
  const namespace = Chart.of(cluster).namespace;
  if (!namespace) {
    throw propError(cluster, 'createNamespace', true, 'the Chart has no namespace to create: give it one (new Chart(app, id, { namespace: \'orders\' }))');
  }
  requireDnsLabel(cluster, 'the Chart\'s namespace', namespace, 63);
  const ns = new ApiObject(cluster, 'Namespace', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespace,
      labels: {
        ...clusterLabels(clusterName),
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
      },
    },
  });
  ns.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  return ns;
}
