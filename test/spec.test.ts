/**
 * The spec file of `synth` (src/cli/spec): plain YAML values map to the construct props, so a spec
 * synthesizes exactly what the equivalent TypeScript does; bad fields are errors naming them.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { App, Chart, ChartProps, Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parse } from 'yaml';
import {
  ApiServerAccess, TaintEffect, TlsVersion, TolerationOperator,
  BackupCompression, BackupRepository, BackupRetention, RecoveryTarget, S3UriStyle,
  DatabasePrivilege, FailoverTiming, IssuerKind, LogLevel, NetworkPeer, PoolMode, PostgresCluster, PostgresClusterProps, PostgresImage,
  ReplicationMode, Resources, StorageType, TablePrivilege, Tls,
} from '../src';
import { specTemplate } from '../src/cli/commands/init';
import { synthSpec } from '../src/cli/commands/synth';
import { CliError } from '../src/cli/exit';
import { SPEC_FIELDS, UNSUPPORTED_PROPS, specDocument, specReference } from '../src/cli/spec/cluster-spec';
import { SpecError, cpu, duration, editDistance, enumOf, nearest, size } from '../src/cli/spec/field';

/** What the construct synthesizes for these props in a chart named like synth's. */
function tsYaml(name: string, props: PostgresClusterProps, chartProps?: ChartProps): string {
  const app = new App();
  const chart = new Chart(app, name, chartProps);
  new PostgresCluster(chart, name, { ...props, clusterName: name });
  return app.synthYaml();
}

function specYaml(text: string): string {
  return synthSpec(text, 'spec.yaml').yaml;
}

function specError(text: string): CliError {
  try {
    synthSpec(text, 'spec.yaml');
  } catch (err) {
    return err as CliError;
  }
  throw new Error('expected an error');
}

describe('a spec synthesizes what the same props in TypeScript do', () => {
  test('the minimal spec: a name', () => {
    expect(specYaml('metadata: { name: db }\n')).toBe(tsYaml('db', {}));
  });

  test('the commonly used props', () => {
    const text = `
apiVersion: postgres.cdk8s.io/v1alpha1
kind: PostgresCluster
metadata: { name: orders-db, namespace: orders }
spec:
  postgresVersion: 16
  replicas: { count: 3, mode: synchronous, synchronousStandbys: 2 }
  resources: { cpu: 2, memory: 4Gi, cpuLimit: 4 }
  storage: { size: 20Gi, storageClassName: fast-ssd, accessMode: ReadWriteOnce, type: network-ssd }
  tls: disabled
  failoverTiming: fast
  monitoring: { metrics: { podMonitor: true, scrapeInterval: 30s }, heartbeat: { interval: 5s } }
  databases: [{ name: orders, owner: orders_owner, extensions: [pg_stat_statements] }]
  users:
    - { name: orders_owner, login: false }
    - name: orders_app
      connectionLimit: 50
      memberOf: [orders_owner]
      databases: [{ database: orders, privileges: [connect] }]
      schemas: [{ database: orders, tables: [select, insert] }]
  pooler: { instances: 2, poolMode: transaction, readOnly: true }
  requireSeparateNodes: true
`;
    const props: PostgresClusterProps = {
      postgresVersion: 16,
      replicas: { count: 3 },
      config: {
        replication: { mode: ReplicationMode.SYNCHRONOUS, synchronousStandbys: 2 },
        resources: Resources.of({ cpu: kplus.Cpu.units(2), memory: Size.gibibytes(4), cpuLimit: kplus.Cpu.units(4) }),
      },
      storage: { size: Size.gibibytes(20), storageClassName: 'fast-ssd', accessMode: kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE, type: StorageType.NETWORK_SSD },
      tls: Tls.disabled(),
      failoverTiming: FailoverTiming.FAST,
      monitoring: { metrics: { podMonitor: true, scrapeInterval: Duration.seconds(30) }, heartbeat: { interval: Duration.seconds(5) } },
      databases: [{ name: 'orders', owner: 'orders_owner', extensions: ['pg_stat_statements'] }],
      users: [
        { name: 'orders_owner', login: false },
        {
          name: 'orders_app',
          connectionLimit: 50,
          memberOf: ['orders_owner'],
          databases: [{ database: 'orders', privileges: [DatabasePrivilege.CONNECT] }],
          schemas: [{ database: 'orders', tables: [TablePrivilege.SELECT, TablePrivilege.INSERT] }],
        },
      ],
      pooler: { instances: 2, poolMode: PoolMode.TRANSACTION, readOnly: true },
      requireSeparateNodes: true,
    };
    expect(specYaml(text)).toBe(tsYaml('orders-db', props, { namespace: 'orders' }));
  });

  test('nested config, presets, delayed replicas, image, network peers, cert-manager options, sidecars', () => {
    const text = `
metadata: { name: db }
spec:
  image: crunchy:16
  delayedReplicas: { count: 1, applyDelay: 1h, resources: medium }
  primary: { resources: large }
  config:
    resources: medium
    database: { logLevel: warning, logStatementsSlowerThan: 2s }
    connection: { maxConnections: 100, tcpKeepalives: { idle: 60s, count: 3 } }
    sharedMemory: { sharedBuffers: 256Mi }
    parameters: { work_mem: 8MB, jit: off, random_page_cost: 1.1 }
  tls: { certManager: { issuerName: corp-ca, issuerKind: ClusterIssuer, duration: 60d } }
  network: { allowFrom: [same-namespace, { namespaces: { team: a } }, { pods: { app: x }, namespaces: { team: b } }, { cidr: 10.0.0.0/8 }] }
  sidecars: [{ name: logs, image: busybox:1, resources: micro, args: [sh, -c, sleep infinity], env: { A: 1 }, ports: { http: 8080 } }]
`;
    const props: PostgresClusterProps = {
      image: PostgresImage.crunchy(16),
      delayedReplicas: { count: 1, applyDelay: Duration.hours(1), resources: Resources.MEDIUM },
      primary: { resources: Resources.LARGE },
      config: {
        resources: Resources.MEDIUM,
        database: { logLevel: LogLevel.WARNING, logStatementsSlowerThan: Duration.seconds(2) },
        connection: { maxConnections: 100, tcpKeepalives: { idle: Duration.seconds(60), count: 3 } },
        sharedMemory: { sharedBuffers: Size.mebibytes(256) },
        parameters: { work_mem: '8MB', jit: 'off', random_page_cost: '1.1' },
      },
      tls: Tls.certManager({ issuerName: 'corp-ca', issuerKind: IssuerKind.CLUSTER_ISSUER, duration: Duration.days(60) }),
      network: {
        allowFrom: [
          NetworkPeer.sameNamespace(), NetworkPeer.namespaces({ team: 'a' }), NetworkPeer.podsInNamespaces({ app: 'x' }, { team: 'b' }), NetworkPeer.cidr('10.0.0.0/8'),
        ],
      },
      sidecars: [{ name: 'logs', image: 'busybox:1', resources: Resources.MICRO, args: ['sh', '-c', 'sleep infinity'], env: { A: '1' }, ports: { http: 8080 } }],
    };
    expect(specYaml(text)).toBe(tsYaml('db', props));
  });

  test('backups to a volume and S3, and a restore to a point in time', () => {
    const text = `
metadata: { name: clone, namespace: orders }
spec:
  backup:
    repositories:
      - volume: { size: 50Gi, retention: { full: 3 } }
      - s3:
          bucket: acme-pg
          region: eu-west-1
          endpoint: minio.storage.svc:9000
          uriStyle: path
          credentialsSecret: pg-s3
          caSecret: minio-ca
          encryptionSecret: pg-cipher
          retention: { days: 14 }
          schedules: { full: "0 2 * * 0", incremental: "0 2 * * 1-6", timeZone: Europe/Berlin }
    schedules: { full: "@weekly", differential: "0 3 * * 3" }
    archiveTimeout: 2m
    compression: lz4
  restore:
    sourceCluster: orders
    repository: { volume: {} }
    target: { time: "2026-11-24T22:16:53Z" }
`;
    const refs = new Chart(new App(), 'refs');
    const secret = (n: string) => kplus.Secret.fromSecretName(refs, n, n);
    const props: PostgresClusterProps = {
      backup: {
        repositories: [
          BackupRepository.volume({ size: Size.gibibytes(50), retention: BackupRetention.count(3) }),
          BackupRepository.s3({
            bucket: 'acme-pg',
            region: 'eu-west-1',
            endpoint: 'minio.storage.svc:9000',
            uriStyle: S3UriStyle.PATH,
            credentialsSecret: secret('pg-s3'),
            caSecret: secret('minio-ca'),
            encryptionSecret: secret('pg-cipher'),
            retention: BackupRetention.days(14),
            schedules: { full: '0 2 * * 0', incremental: '0 2 * * 1-6', timeZone: 'Europe/Berlin' },
          }),
        ],
        schedules: { full: '@weekly', differential: '0 3 * * 3' },
        archiveTimeout: Duration.minutes(2),
        compression: BackupCompression.LZ4,
      },
      restore: { sourceCluster: 'orders', repository: BackupRepository.volume(), target: RecoveryTarget.time(new Date('2026-11-24T22:16:53Z')) },
    };
    expect(specYaml(text)).toBe(tsYaml('clone', props, { namespace: 'orders' }));
  });

  test('backup errors name the field', () => {
    expect(specError('metadata: { name: db }\nspec: { backup: { repositories: [{ s3: { bucket: b } }] } }').message).toMatch(/spec\.backup\.repositories\[0\]\.s3\.region/);
    expect(specError('metadata: { name: db }\nspec: { backup: { repositories: [{ volume: {}, gcs: { bucket: b, credentialsSecret: g } }] } }').message).toMatch(/exactly one of volume, s3, gcs or azure/);
    expect(specError('metadata: { name: db }\nspec: { restore: { sourceCluster: a, repository: { volume: {} }, target: { time: yesterday } } }').message).toMatch(/target\.time.*ISO 8601/);
    expect(specError('metadata: { name: db }\nspec: { backup: { repositories: [{ volume: { retention: { days: 3, full: 2 } } }] } }').message).toMatch(/days alone/);
  });

  test('JSON is accepted too', () => {
    expect(specYaml('{"metadata": {"name": "db"}, "spec": {"replicas": {"count": 1}}}')).toBe(tsYaml('db', { replicas: { count: 1 } }));
  });

  test('the spec init writes builds, with the values it spells out', () => {
    const yaml = specYaml(specTemplate('billing'));
    expect(yaml).toContain('name: billing-primary');
    expect(parse(specTemplate('billing')).spec.replicas.count).toBe(2);
  });
});

describe('errors name the field, the value and what is allowed', () => {
  test.each<[string, string, RegExp]>([
    ['an unknown top-level field', 'metadata: { name: db }\nspek: {}', /^spec\.yaml: spek: invalid value \{\}: unknown field; did you mean spec\? known fields here: apiVersion, kind, metadata, spec$/],
    ['a missing name', 'spec: {}', /^spec\.yaml: metadata: missing: required: name and namespace$/],
    ['a name that is not a DNS label', 'metadata: { name: Orders }', /^spec\.yaml: metadata\.name: invalid value "Orders": must be a DNS label/],
    ['a wrong kind', 'kind: Deployment\nmetadata: { name: db }', /^spec\.yaml: kind: invalid value "Deployment": must be PostgresCluster$/],
    ['a nested unknown field', 'metadata: { name: db }\nspec: { config: { connection: { maxConnection: 5 } } }',
      /^spec\.yaml: spec\.config\.connection\.maxConnection: invalid value 5: unknown field; did you mean maxConnections\?/],
    ['a bad enum', 'metadata: { name: db }\nspec: { replicas: { mode: sync } }',
      /^spec\.yaml: spec\.replicas\.mode: invalid value "sync": must be one of asynchronous, synchronous, synchronous-strict$/],
    ['a bad preset', 'metadata: { name: db }\nspec: { resources: huge }', /^spec\.yaml: spec\.resources: invalid value "huge": must be one of micro, small, medium, large, xlarge, or a mapping$/],
    ['a list where a mapping belongs', 'metadata: { name: db }\nspec: { storage: [10Gi] }', /^spec\.yaml: spec\.storage: invalid value \["10Gi"\]: must be a mapping with the fields size, /],
    ['an item of a list', 'metadata: { name: db }\nspec: { users: [{ name: a }, { nam: b }] }', /^spec\.yaml: spec\.users\[1\]\.nam: invalid value "b": unknown field; did you mean name\?/],
    ['a missing required field', 'metadata: { name: db }\nspec: { delayedReplicas: { count: 1 } }', /^spec\.yaml: spec\.delayedReplicas\.applyDelay: missing: required: /],
    ['the mode set twice', 'metadata: { name: db }\nspec: { replicas: { mode: synchronous }, config: { replication: { mode: asynchronous } } }',
      /^spec\.yaml: spec\.replicas: .*set the replication mode in replicas or in config\.replication, not both$/],
    ['two documents', 'metadata: { name: a }\n---\nmetadata: { name: b }\n', /^spec\.yaml: expected one PostgresCluster document, found 2$/],
  ])('%s', (_what, text, message) => {
    const err = specError(text);
    expect(err).toBeInstanceOf(CliError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(message);
  });

  test('a value the construct refuses is exit 1, in the spec\'s terms', () => {
    const err = specError('metadata: { name: db }\nspec: { postgresVersion: 9 }');
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/^spec\.yaml: spec\.postgresVersion: invalid value 9: /);
  });
});

describe('value readers', () => {
  const ctx = { scope: new Chart(new App(), 'c') };
  test.each<[unknown, string]>([['512Mi', '512'], ['4Gi', '4096'], ['1.5Gi', '1536'], ['1Ti', String(1024 * 1024)]])('size %s is %s MiB', (v, mib) => {
    expect(String(size(v, 'x', ctx).toMebibytes())).toBe(mib);
  });
  test.each<[unknown, string]>([[2, '2'], ['500m', '500m'], [0.5, '500m'], ['1.5', '1500m']])('cpu %s is %s', (v, k8s) => {
    expect(cpu(v, 'x', ctx).amount).toBe(k8s);
  });
  test.each<[string, number]>([['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['1h', 3_600_000], ['2d', 172_800_000]])('duration %s is %i ms', (v, ms) => {
    expect(duration(v, 'x', ctx).toMilliseconds()).toBe(ms);
  });
  test.each<unknown>(['1.5h', '10', 10, '5 minutes'])('duration %j is refused', (v) => {
    expect(() => duration(v, 'spec.x', ctx)).toThrow(/must be a duration like 500ms, 30s, 5m, 1h or 7d/);
  });
  test.each<[unknown, RegExp]>([['4GB', /binary unit/], [4, /binary unit/], ['0Mi', /positive/]])('size %j is refused', (v, rule) => {
    expect(() => size(v, 'spec.storage.size', ctx)).toThrow(rule);
  });
  test.each<unknown>(['two', 0, '-1', '', '0m'])('cpu %j is refused', (v) => {
    expect(() => cpu(v, 'x', ctx)).toThrow(SpecError);
  });
  test('enums take the value or the member name in any case', () => {
    const mode = enumOf(ReplicationMode);
    expect(['synchronous-strict', 'SYNCHRONOUS_STRICT', 'Synchronous-Strict'].map((v) => mode(v, 'x', ctx))).toEqual(Array(3).fill(ReplicationMode.SYNCHRONOUS_STRICT));
  });
  test('suggestions come only when close', () => {
    expect(editDistance('replica', 'replicas')).toBe(1);
    expect(nearest('replica', ['replicas', 'storage'])).toBe('replicas');
    expect(nearest('zzz', ['replicas', 'storage'])).toBeUndefined();
  });
});

describe('the spec covers the props and its reference is up to date', () => {
  /** The props of PostgresClusterProps, read from its declaration. */
  function clusterProps(): string[] {
    const text = readFileSync(join(__dirname, '..', 'src', 'postgres-cluster.ts'), 'utf8');
    const body = /export interface PostgresClusterProps \{([\s\S]*?)\n\}/.exec(text)![1];
    return [...body.matchAll(/^ {2}readonly (\w+)\?:/gm)].map((m) => m[1]);
  }

  test('every PostgresClusterProps prop is a spec field or listed as not one (with why)', () => {
    const props = clusterProps();
    expect(props.length).toBeGreaterThan(15);
    const missing = props.filter((p) => !(p in SPEC_FIELDS) && !(p in UNSUPPORTED_PROPS));
    expect(missing).toEqual([]);
    for (const f of Object.keys(SPEC_FIELDS).filter((k) => k !== 'resources')) expect(props).toContain(f);
  });

  test('docs/spec.md is what `npx projen spec-docs` writes', () => {
    expect(readFileSync(join(__dirname, '..', 'docs', 'spec.md'), 'utf8')).toBe(specDocument());
  });

  test('the reference lists nested fields by path, list items with []', () => {
    const ref = specReference();
    expect(ref).toContain('- `spec.replicas.count`: number of streaming replicas\n');
    expect(ref).toContain('- `spec.users[].databases[].privileges`: CONNECT, CREATE, TEMPORARY\n');
    expect(ref).toContain('- `spec.primary.resources`: resources of the preferred primary (fields as in `spec.replicas.resources`)\n');
  });
});

test('createNamespace in a spec emits the Namespace metadata.namespace names, first', () => {
  const { yaml } = synthSpec('apiVersion: postgres.cdk8s.io/v1alpha1\nkind: PostgresCluster\nmetadata: { name: orders-db, namespace: orders }\nspec: { createNamespace: true }\n', 'orders.yaml');
  expect(yaml.startsWith('apiVersion: v1\nkind: Namespace\nmetadata:\n')).toBe(true);
  expect(yaml).toMatch(/^ {2}name: orders$/m);
});

describe('the hardening settings in a spec', () => {
  test('network.apiServer (cilium, {cidrs, ports}), tls certManager namespace/extraDnsNames, tlsMinVersion', () => {
    const head = 'apiVersion: postgres.cdk8s.io/v1alpha1\nkind: PostgresCluster\nmetadata: { name: db }\nspec:\n';
    expect(specYaml(`${head}  network: { apiServer: cilium }\n`)).toBe(tsYaml('db', { network: { apiServer: ApiServerAccess.cilium() } }));
    expect(specYaml(`${head}  network: { apiServer: { cidrs: [10.0.0.10/32], ports: [6443] } }\n`))
      .toBe(tsYaml('db', { network: { apiServer: ApiServerAccess.cidrs(['10.0.0.10/32'], [6443]) } }));
    expect(specYaml(`${head}  tls: { certManager: { namespace: orders, extraDnsNames: [pg.example.com] } }\n  config: { connection: { tlsMinVersion: TLSv1.2 } }\n`))
      .toBe(tsYaml('db', { tls: Tls.certManager({ namespace: 'orders', extraDnsNames: ['pg.example.com'] }), config: { connection: { tlsMinVersion: TlsVersion.TLS_1_2 } } }));
  });

  test('scheduling for the cluster and per node set', () => {
    const head = 'apiVersion: postgres.cdk8s.io/v1alpha1\nkind: PostgresCluster\nmetadata: { name: db }\nspec:\n';
    const text = `${head}  scheduling:\n    nodeSelector: { pool: db }\n    tolerations: [{ key: dedicated, value: db, effect: NoSchedule }]\n    priorityClassName: high\n`
      + '  primary: { scheduling: { nodeSelector: { pool: primary } } }\n  replicas: { scheduling: { tolerations: [{ operator: Exists }] } }\n';
    expect(specYaml(text)).toBe(tsYaml('db', {
      scheduling: { nodeSelector: { pool: 'db' }, tolerations: [{ key: 'dedicated', value: 'db', effect: TaintEffect.NO_SCHEDULE }], priorityClassName: 'high' },
      primary: { scheduling: { nodeSelector: { pool: 'primary' } } },
      replicas: { scheduling: { tolerations: [{ operator: TolerationOperator.EXISTS }] } },
    }));
  });
});
