/** The synthesized outputs the schema and invariant tests check: every example and a few prop variants. */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Manifest, exampleManifests, exampleNames, synthCluster, synthWith } from './manifests';
import {
  BackupCompression, BackupRepository, BackupRetention, RecoveryTarget, S3UriStyle,
  DatabasePrivilege, FailoverTiming, IssuerKind, LogFormat, LogLevel, NetworkPeer, PatroniDcs, PoolMode, PostgresCluster, PostgresImage,
  ReplicationMode, Resources, SchemaPrivilege, TablePrivilege, Tls,
} from '../../src';

/** One synthesized output. */
export interface SynthCase {
  readonly name: string;
  readonly manifests: () => Manifest[];
  /** Secrets the user passed in (credentials or TLS: they exist in the cluster but are not in the output). */
  readonly userSecrets: readonly string[];
  /**
   * Member StatefulSets whose postgres container the case deliberately gives requests below its
   * limits (Burstable). Every other postgres container must be Guaranteed (requests == limits).
   */
  readonly burstablePostgres?: readonly string[];
}

/** StatefulSets of each example whose postgres container has requests below limits on purpose. */
const EXAMPLE_BURSTABLE_POSTGRES: Record<string, readonly string[]> = {
  production: ['orders-db-primary'],
};

/** Secrets each example expects to exist already (object storage credentials). */
const EXAMPLE_USER_SECRETS: Record<string, readonly string[]> = {
  production: ['orders-db-s3', 'orders-db-s3-cipher'],
};

/** Every example, synthesized through its buildApp() and parsed back from YAML. */
export function exampleCases(): SynthCase[] {
  return exampleNames().map((name) => ({
    name: `example ${name}`,
    manifests: () => exampleManifests(name),
    userSecrets: EXAMPLE_USER_SECRETS[name] ?? [],
    burstablePostgres: EXAMPLE_BURSTABLE_POSTGRES[name] ?? [],
  }));
}

/** Prop variants that exercise the other code paths. */
export function variantCases(): SynthCase[] {
  return [
    { name: 'zero props in a namespace', manifests: () => synthCluster({}, { namespace: 'team-a' }), userSecrets: [] },
    { name: 'endpoints DCS', manifests: () => synthCluster({ dcs: PatroniDcs.ENDPOINTS }), userSecrets: [] },
    { name: 'single instance', manifests: () => synthCluster({ replicas: { count: 0 } }), userSecrets: [] },
    {
      name: 'strict synchronous, crunchy image, fast timings',
      manifests: () => synthCluster({
        clusterName: 'ledger',
        image: PostgresImage.crunchy(16),
        replicas: { count: 3, resources: Resources.MEDIUM },
        config: {
          resources: Resources.of({
            cpu: kplus.Cpu.millis(250), memory: Size.mebibytes(512), memoryLimit: Size.gibibytes(1), cpuLimit: kplus.Cpu.units(1),
          }),
          connection: { maxConnections: 500 },
          replication: { mode: ReplicationMode.SYNCHRONOUS_STRICT, synchronousStandbys: 2 },
        },
        storage: { size: Size.gibibytes(1), storageClassName: 'standard' },
        failoverTiming: FailoverTiming.FAST,
        requireSeparateNodes: true,
      }),
      userSecrets: [],
      burstablePostgres: ['ledger-primary'],
    },
    {
      name: 'delayed replicas, custom port, synchronous',
      manifests: () => synthCluster({
        replicas: { count: 2 },
        delayedReplicas: { count: 2, applyDelay: Duration.minutes(30), resources: Resources.MEDIUM },
        config: {
          database: { name: 'shop', port: 6543 },
          replication: { mode: ReplicationMode.SYNCHRONOUS, synchronousStandbys: 2 },
        },
      }, { namespace: 'shop' }),
      userSecrets: [],
    },
    {
      name: 'JSON file logging',
      manifests: () => synthCluster({
        config: { database: { logFormat: LogFormat.JSON, logLevel: LogLevel.INFO, logStatementsSlowerThan: Duration.millis(500) } },
      }),
      userSecrets: [],
    },
    {
      name: 'PodMonitor and a user sidecar',
      manifests: () => synthWith((chart) => {
        const cluster = new PostgresCluster(chart, 'db', {
          delayedReplicas: { applyDelay: Duration.hours(1) },
          monitoring: {
            heartbeat: { interval: Duration.seconds(10), maxLagTime: Duration.minutes(1) },
            metrics: { podMonitor: true, scrapeInterval: Duration.seconds(15) },
          },
        });
        cluster.addSidecar({
          name: 'log-shipper',
          image: 'docker.io/fluent/fluent-bit:3.1.9',
          resources: Resources.of({
            cpu: kplus.Cpu.millis(20), cpuLimit: kplus.Cpu.millis(100), memory: Size.mebibytes(32), memoryLimit: Size.mebibytes(64),
          }),
          env: { LOG_LEVEL: 'info' },
          ports: { 'shipper-http': 2020 },
          socketMountPath: '/var/run/postgresql',
        });
      }, { namespace: 'observability' }),
      userSecrets: [],
    },
    {
      name: 'metrics exporter disabled',
      manifests: () => synthCluster({ monitoring: { metrics: { enabled: false } } }),
      userSecrets: [],
    },
    {
      name: 'user-supplied secrets',
      manifests: () => synthWith((chart) => {
        new PostgresCluster(chart, 'db', {
          superuserSecret: kplus.Secret.fromSecretName(chart, 'su', 'my-superuser'),
          replicationSecret: kplus.Secret.fromSecretName(chart, 'repl', 'my-replication'),
        });
      }),
      userSecrets: ['my-superuser', 'my-replication'],
    },
    {
      name: 'one user-supplied secret',
      manifests: () => synthWith((chart) => {
        new PostgresCluster(chart, 'db', { superuserSecret: kplus.Secret.fromSecretName(chart, 'su', 'my-superuser') });
      }),
      userSecrets: ['my-superuser'],
    },
    { name: 'TLS disabled', manifests: () => synthCluster({ tls: Tls.disabled() }), userSecrets: [] },
    {
      name: 'TLS from user Secrets',
      manifests: () => synthWith((chart) => {
        new PostgresCluster(chart, 'db', {
          tls: Tls.fromSecrets({
            server: kplus.Secret.fromSecretName(chart, 'server-tls', 'my-server-tls'),
            replicationClient: kplus.Secret.fromSecretName(chart, 'replication-tls', 'my-replication-tls'),
          }),
        });
      }, { namespace: 'team-b' }),
      userSecrets: ['my-server-tls', 'my-replication-tls'],
    },
    {
      name: 'cert-manager with an existing ClusterIssuer',
      manifests: () => synthCluster({
        tls: Tls.certManager({
          issuerName: 'internal-ca', issuerKind: IssuerKind.CLUSTER_ISSUER, duration: Duration.days(30), renewBefore: Duration.days(10),
        }),
      }, { namespace: 'team-c' }),
      userSecrets: [],
    },
    {
      name: 'custom network peers',
      manifests: () => synthCluster({
        network: {
          allowFrom: [
            NetworkPeer.pods({ app: 'api' }),
            NetworkPeer.podsInNamespaces({ app: 'reports' }, { 'kubernetes.io/metadata.name': 'analytics' }),
            NetworkPeer.cidr('192.168.10.0/24'),
          ],
          metricsFrom: [NetworkPeer.namespaces({ 'kubernetes.io/metadata.name': 'monitoring' })],
          apiServerCidrs: ['10.96.0.1/32', '172.18.0.2/32'],
        },
      }),
      userSecrets: [],
    },
    { name: 'no NetworkPolicies', manifests: () => synthCluster({ network: { policies: false } }), userSecrets: [] },
    {
      name: 'users and databases',
      manifests: () => synthWith((chart) => {
        const cluster = new PostgresCluster(chart, 'db', {
          databases: [{ name: 'orders', owner: 'orders_owner', extensions: ['pgcrypto'] }, { name: 'reports' }],
          users: [
            { name: 'orders_owner', login: false },
            {
              name: 'orders_app',
              connectionLimit: 50,
              memberOf: ['orders_owner'],
              databases: [{ database: 'orders', privileges: [DatabasePrivilege.CONNECT, DatabasePrivilege.TEMPORARY] }],
              schemas: [{ database: 'orders', privileges: [SchemaPrivilege.USAGE], tables: [TablePrivilege.SELECT, TablePrivilege.INSERT] }],
            },
          ],
        });
        cluster.addUser({ name: 'reporter', databases: [{ database: 'reports' }], schemas: [{ database: 'reports', tables: [TablePrivilege.SELECT] }] });
      }, { namespace: 'apps' }),
      userSecrets: [],
    },
    {
      name: 'pooler with readOnly',
      manifests: () => synthCluster({
        users: [{ name: 'api', databases: [{ database: 'app' }] }],
        pooler: { instances: 3, poolMode: PoolMode.SESSION, defaultPoolSize: 25, maxClientConnections: 500, readOnly: true },
      }, { namespace: 'team-p' }),
      userSecrets: [],
    },
    {
      name: 'password rotation of two users, with a pooler',
      manifests: () => synthCluster({
        users: [{ name: 'api', passwordRotation: 3 }, { name: 'worker' }, { name: 'batch', passwordRotation: 1 }],
        pooler: {},
      }, { namespace: 'team-r' }),
      userSecrets: [],
    },
    {
      name: 'pooler with TLS disabled',
      manifests: () => synthCluster({ tls: Tls.disabled(), pooler: {} }),
      userSecrets: [],
    },
    {
      name: 'backups to a volume and every object store, encrypted',
      manifests: () => synthWith((chart) => {
        const secret = (n: string) => kplus.Secret.fromSecretName(chart, n, n);
        new PostgresCluster(chart, 'vault', {
          backup: {
            repositories: [
              BackupRepository.volume({ size: Size.gibibytes(50), storageClassName: 'standard', encryptionSecret: secret('vault-cipher') }),
              BackupRepository.s3({
                bucket: 'acme-pg',
                region: 'eu-west-1',
                endpoint: 'minio.storage.svc:9000',
                uriStyle: S3UriStyle.PATH,
                credentialsSecret: secret('minio-creds'),
                caSecret: secret('minio-ca'),
                retention: BackupRetention.days(14),
                schedules: { full: '30 2 * * *', timeZone: 'Europe/Berlin' },
              }),
              BackupRepository.gcs({ bucket: 'acme-pg-gcs', credentialsSecret: secret('gcs-key'), path: '/clusters/vault' }),
              BackupRepository.azure({ account: 'acmepg', container: 'backups', credentialsSecret: secret('azure-key'), retention: BackupRetention.count(4, 2) }),
            ],
            schedules: { full: '@weekly', differential: '0 3 * * 3', incremental: '0 3 * * 1,2,4-6' },
            compression: BackupCompression.LZ4,
            archiveTimeout: Duration.minutes(5),
          },
        });
      }, { namespace: 'vault' }),
      userSecrets: ['vault-cipher', 'minio-creds', 'minio-ca', 'gcs-key', 'azure-key'],
    },
    {
      name: 'restore to a point in time from another cluster, with its own backups',
      manifests: () => synthWith((chart) => {
        new PostgresCluster(chart, 'orders-clone', {
          restore: { sourceCluster: 'orders', repository: BackupRepository.volume(), target: RecoveryTarget.time(new Date('2026-11-24T10:00:00Z')) },
          backup: { repositories: [BackupRepository.volume()] },
        });
      }),
      userSecrets: ['orders-pgbackrest'],
    },
    {
      name: 'restore from S3 with certificates of your own, backups to S3',
      manifests: () => synthWith((chart) => {
        const secret = (n: string) => kplus.Secret.fromSecretName(chart, n, n);
        new PostgresCluster(chart, 'rebuilt', {
          tls: Tls.fromSecrets({ server: secret('rebuilt-server'), replicationClient: secret('rebuilt-repl') }),
          restore: {
            sourceCluster: 'orders',
            repository: BackupRepository.s3({ bucket: 'old-pg', region: 'us-east-1', credentialsSecret: secret('old-creds'), encryptionSecret: secret('old-cipher') }),
            target: RecoveryTarget.restorePoint('before_migration'),
            backupSet: '20261124-221645F',
          },
          backup: { repositories: [BackupRepository.s3({ bucket: 'new-pg', region: 'us-east-1', credentialsSecret: secret('new-creds') })] },
        });
      }),
      userSecrets: ['rebuilt-server', 'rebuilt-repl', 'old-creds', 'old-cipher', 'new-creds'],
    },
  ];
}

/** Examples and variants. */
export function allCases(): SynthCase[] {
  return [...exampleCases(), ...variantCases()];
}
