// A production-shaped cluster: synchronous replication, bigger resources, a storage class,
// the fast failover timings, members on separate nodes, a delayed replica, backups to a volume
// and to S3, and every NodeConfig setting spelled out.
import { App, Chart, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import {
  BackupRepository, BackupRetention, ClientAuthMethod, DatabasePrivilege, FailoverTiming, PoolMode, SchemaPrivilege, TablePrivilege,
  HbaConnectionType, HugePages, ListenAddress, LogFormat, LogLevel, NetworkPeer,
  PatroniDcs, PostgresCluster, PostgresImage, ReplicationMode, Resources, StorageType, Tls, TlsVersion,
} from '../../src';

export function buildApp(outdir?: string): App {
  const app = new App({ outdir });
  const chart = new Chart(app, 'production', { namespace: 'orders' });
  const db = new PostgresCluster(chart, 'db', {
    clusterName: 'orders-db',
    // The Namespace `orders` comes with the cluster: kubectl apply needs it first.
    createNamespace: true,
    image: PostgresImage.percona(17),
    replicas: { count: 2 },
    delayedReplicas: { count: 1, applyDelay: Duration.hours(1), resources: Resources.MEDIUM },
    primary: {
      resources: Resources.of({ cpu: kplus.Cpu.units(2), memory: Size.gibibytes(4), cpuLimit: kplus.Cpu.units(4) }),
    },
    storage: {
      size: Size.gibibytes(100),
      storageClassName: 'fast-ssd',
      accessMode: kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE,
      type: StorageType.NETWORK_SSD,
    },
    failoverTiming: FailoverTiming.FAST,
    // TLS from cert-manager (the default), with a per-cluster CA and 60-day certificates.
    tls: Tls.certManager({ duration: Duration.days(60), renewBefore: Duration.days(10) }),
    network: {
      allowFrom: [NetworkPeer.namespaces({ 'kubernetes.io/metadata.name': 'orders' }), NetworkPeer.pods({ 'app.kubernetes.io/part-of': 'orders' })],
      metricsFrom: [NetworkPeer.namespaces({ 'kubernetes.io/metadata.name': 'monitoring' })],
    },
    monitoring: {
      heartbeat: { interval: Duration.seconds(5), failureThreshold: 3, maxLag: Size.mebibytes(32), maxLagTime: Duration.seconds(30) },
      metrics: { podMonitor: true, scrapeInterval: Duration.seconds(30) },
    },
    dcs: PatroniDcs.CONFIGMAPS,
    requireSeparateNodes: true,
    // Applications never connect as the superuser: declared roles and databases, applied by a Job.
    databases: [{ name: 'orders', owner: 'orders_owner', extensions: ['pg_stat_statements'] }],
    users: [
      { name: 'orders_owner', login: false },
      {
        name: 'orders_app',
        connectionLimit: 100,
        memberOf: ['orders_owner'],
        databases: [{ database: 'orders', privileges: [DatabasePrivilege.CONNECT] }],
        schemas: [{ database: 'orders', schema: 'public', privileges: [SchemaPrivilege.USAGE], tables: [TablePrivilege.SELECT, TablePrivilege.INSERT, TablePrivilege.UPDATE, TablePrivilege.DELETE] }],
      },
      {
        name: 'orders_reporting',
        connectionLimit: 10,
        databases: [{ database: 'orders' }],
        schemas: [{ database: 'orders', tables: [TablePrivilege.SELECT] }],
      },
    ],
    pooler: { instances: 2, poolMode: PoolMode.TRANSACTION, defaultPoolSize: 40, maxClientConnections: 2000, readOnly: true },
    // pgBackRest: a backup node on the cluster's own volume, and an encrypted off-site copy in S3.
    backup: {
      repositories: [
        BackupRepository.volume({ size: Size.gibibytes(200), storageClassName: 'standard' }),
        BackupRepository.s3({
          bucket: 'acme-orders-pg',
          region: 'eu-west-1',
          credentialsSecret: kplus.Secret.fromSecretName(chart, 's3-credentials', 'orders-db-s3'),
          encryptionSecret: kplus.Secret.fromSecretName(chart, 's3-cipher', 'orders-db-s3-cipher'),
          retention: BackupRetention.days(30),
          schedules: { full: '0 2 * * 0', differential: '0 2 * * 3', incremental: '0 */6 * * *', timeZone: 'Europe/Berlin' },
        }),
      ],
      schedules: { full: '0 1 * * 0', incremental: '0 1 * * 1-6' },
      archiveTimeout: Duration.seconds(60),
    },
    config: {
      resources: Resources.LARGE,
      database: {
        name: 'app',
        port: 5432,
        listenAddress: ListenAddress.ALL,
        logLevel: LogLevel.WARNING,
        logFormat: LogFormat.TEXT,
        logStatementsSlowerThan: Duration.seconds(2),
      },
      connection: {
        maxConnections: 200,
        superuserReservedConnections: 5,
        clientAuth: ClientAuthMethod.SCRAM_SHA_256,
        replicationAuth: ClientAuthMethod.CERT,
        hbaRules: [
          { type: HbaConnectionType.HOSTSSL, database: 'all', user: 'all', address: '169.254.0.0/16', method: ClientAuthMethod.REJECT },
        ],
        connectTimeout: Duration.seconds(30),
        statementTimeout: Duration.minutes(5),
        idleInTransactionTimeout: Duration.minutes(10),
        idleSessionTimeout: Duration.hours(12),
        tcpKeepalives: { idle: Duration.seconds(60), interval: Duration.seconds(10), count: 6 },
        tlsMinVersion: TlsVersion.TLS_1_3,
      },
      replication: {
        mode: ReplicationMode.SYNCHRONOUS,
        synchronousStandbys: 1,
        maximumLagOnFailover: Size.mebibytes(16),
        slots: true,
        maxSlotWalKeepSize: Size.gibibytes(20),
        walKeepSize: Size.gibibytes(1),
      },
      sharedMemory: {
        sharedBuffers: Size.mebibytes(768),
        devShmSize: Size.mebibytes(512),
        hugePages: HugePages.OFF,
      },
      parameters: {
        'shared_preload_libraries': 'pg_stat_statements',
        'pg_stat_statements.track': 'top',
      },
    },
  });

  // What other constructs consume: the read-write host, its port and the credentials Secret.
  new kplus.ConfigMap(chart, 'app-settings', {
    metadata: { name: 'orders-app-settings' },
    data: {
      DATABASE_HOST: db.primaryHost,
      DATABASE_PORT: String(db.port),
      DATABASE_NAME: db.databaseName,
      DATABASE_READONLY_HOST: db.replicasHost,
      DATABASE_SSLMODE: 'verify-full',
      // The CA certificate alone (a ConfigMap): never a certificate's Secret, which holds a private key.
      DATABASE_CA_CONFIGMAP: db.caConfigMapName ?? '',
    },
  });
  return app;
}
