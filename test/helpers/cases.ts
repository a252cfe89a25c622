/** The synthesized outputs the schema and invariant tests check: every example and a few prop variants. */
import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Manifest, exampleManifests, exampleNames, synthCluster, synthWith } from './manifests';
import {
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

/** Every example, synthesized through its buildApp() and parsed back from YAML. */
export function exampleCases(): SynthCase[] {
  return exampleNames().map((name) => ({
    name: `example ${name}`,
    manifests: () => exampleManifests(name),
    userSecrets: [],
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
      name: 'pooler with TLS disabled',
      manifests: () => synthCluster({ tls: Tls.disabled(), pooler: {} }),
      userSecrets: [],
    },
  ];
}

/** Examples and variants. */
export function allCases(): SynthCase[] {
  return [...exampleCases(), ...variantCases()];
}
