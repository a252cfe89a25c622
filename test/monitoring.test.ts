/**
 * Monitoring: the heartbeat sidecar (drives readiness), the postgres_exporter sidecar, the
 * optional PodMonitor, the exporter's queries and the user's own sidecars.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { PodMonitor as PodMonitorModel } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule as PrometheusRuleModel } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { Duration, Size, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parse } from 'yaml';
import { BackupRepository, PostgresCluster, PostgresClusterProps, PostgresImage, Resources, Tls } from '../src';
import { Manifest, find, ofKind, selects, synthCluster, synthWith, testChart } from './helpers/manifests';
import { SidecarOptions } from '../src/monitoring';
import { exporterQueries } from '../src/render/exporter-queries';
import { RESTRICTED_CONTAINER } from '../src/validate/pod-security';
import { validateManifest } from '../src/validate/schema';

const DEFAULT_EXPORTER_IMAGE = 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0';
const PERCONA_17 = 'docker.io/percona/percona-distribution-postgresql:17.10-1';

/** The member StatefulSets of a synthesized cluster. */
function members(m: Manifest[]): Manifest[] {
  const sets = ofKind(m, 'StatefulSet');
  expect(sets.length).toBeGreaterThan(0);
  return sets;
}

/** The container of a pod spec with this name (fails when missing). */
function containerOf(sts: Manifest, name: string): any {
  const c = sts.spec.template.spec.containers.find((x: any) => x.name === name);
  if (!c) throw new Error(`${sts.metadata.name} has no container ${name}`);
  return c;
}

function envOf(container: any): Record<string, any> {
  return Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));
}

function volumeOf(sts: Manifest, name: string): any {
  return sts.spec.template.spec.volumes.find((v: any) => v.name === name);
}

const sidecar = (overrides: Partial<SidecarOptions> = {}): SidecarOptions => ({
  name: 'log-shipper',
  image: 'docker.io/fluent/fluent-bit:3.1.9',
  resources: Resources.of({
    cpu: kplus.Cpu.millis(20), cpuLimit: kplus.Cpu.millis(100), memory: Size.mebibytes(32), memoryLimit: Size.mebibytes(64),
  }),
  ...overrides,
});

describe('heartbeat sidecar', () => {
  const m = synthCluster({ delayedReplicas: { applyDelay: Duration.hours(1) } });

  test('runs heartbeat.py from the scripts ConfigMap with the postgres image in every member pod', () => {
    for (const sts of members(m)) {
      const hb = containerOf(sts, 'heartbeat');
      expect(hb.image).toBe(containerOf(sts, 'postgres').image);
      expect(hb.image).toBe(PERCONA_17);
      expect(hb.command).toEqual(['/usr/bin/python3', '/opt/cdk8s-postgres/heartbeat.py']);
      const scripts = find(m, 'ConfigMap', volumeOf(sts, 'scripts').configMap.name);
      expect(scripts.data['heartbeat.py']).toMatch(/^#!\/usr\/bin\/env python3\n/);
    }
  });

  test('uses a custom postgres image too', () => {
    const crunchy = synthCluster({ image: PostgresImage.crunchy(16) });
    for (const sts of members(crunchy)) expect(containerOf(sts, 'heartbeat').image).toBe(containerOf(sts, 'postgres').image);
  });

  const DEFAULT_ENV = {
    // Image directories only: nothing on a writable volume can stand in for a binary.
    PATH: '/usr/pgsql-17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HB_LISTEN: '*',
    HB_PORT: '8010',
    HB_INTERVAL_SECONDS: '5',
    HB_TIMEOUT_SECONDS: '3',
    HB_FAILURE_THRESHOLD: '3',
    HB_MAX_LAG_BYTES: String(16 * 1024 * 1024),
    HB_MAX_LAG_SECONDS: '30',
    PGHOST: '/tmp',
    PGPORT: '5432',
    PGUSER: 'postgres',
  };

  test('defaults: every 5 s, 3 s timeout, 3 failures, 16Mi / 30 s maximum lag; connects over the socket as the superuser', () => {
    for (const name of ['db-primary', 'db-replica']) expect(envOf(containerOf(find(m, 'StatefulSet', name), 'heartbeat'))).toEqual(DEFAULT_ENV);
  });

  test('a delayed replica may lag by its delay plus maxLagTime, and by any amount of WAL (it is behind by design)', () => {
    expect(envOf(containerOf(find(m, 'StatefulSet', 'db-delayed'), 'heartbeat'))).toEqual({
      ...DEFAULT_ENV, HB_MAX_LAG_SECONDS: String(3600 + 30), HB_MAX_LAG_BYTES: String(2 ** 50),
    });
    const custom = synthCluster({
      delayedReplicas: { applyDelay: Duration.minutes(30) }, monitoring: { heartbeat: { maxLagTime: Duration.minutes(2) } },
    });
    expect(envOf(containerOf(find(custom, 'StatefulSet', 'db-delayed'), 'heartbeat')).HB_MAX_LAG_SECONDS).toBe(String(1800 + 120));
    expect(envOf(containerOf(find(custom, 'StatefulSet', 'db-replica'), 'heartbeat')).HB_MAX_LAG_SECONDS).toBe('120');
  });

  test('options reach the environment and the readiness probe period', () => {
    const custom = synthCluster({
      config: { database: { port: 6543 } },
      monitoring: {
        heartbeat: {
          interval: Duration.seconds(10),
          timeout: Duration.seconds(4),
          failureThreshold: 5,
          maxLag: Size.mebibytes(64),
          maxLagTime: Duration.minutes(2),
        },
      },
    });
    for (const sts of members(custom)) {
      const hb = containerOf(sts, 'heartbeat');
      expect(envOf(hb)).toMatchObject({
        HB_INTERVAL_SECONDS: '10',
        HB_TIMEOUT_SECONDS: '4',
        HB_FAILURE_THRESHOLD: '5',
        HB_MAX_LAG_BYTES: String(64 * 1024 * 1024),
        HB_MAX_LAG_SECONDS: '120',
        PGPORT: '6543',
      });
      expect(hb.readinessProbe.periodSeconds).toBe(10);
      expect(hb.readinessProbe.timeoutSeconds).toBe(4);
    }
  });

  test('the smallest maxLag (64Ki) is rendered in bytes', () => {
    const small = synthCluster({ monitoring: { heartbeat: { maxLag: Size.kibibytes(64) } } });
    for (const sts of members(small)) expect(envOf(containerOf(sts, 'heartbeat')).HB_MAX_LAG_BYTES).toBe('65536');
  });

  test('port 8010 named heartbeat; readiness /ready with failureThreshold 1 every interval; liveness /status', () => {
    for (const sts of members(m)) {
      const hb = containerOf(sts, 'heartbeat');
      expect(hb.ports).toEqual([{ name: 'heartbeat', containerPort: 8010, protocol: 'TCP' }]);
      expect(hb.readinessProbe).toEqual({
        httpGet: { path: '/ready', port: 'heartbeat', scheme: 'HTTP' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 1,
      });
      expect(hb.livenessProbe.httpGet).toEqual({ path: '/status', port: 'heartbeat', scheme: 'HTTP' });
      expect(hb.livenessProbe.failureThreshold).toBeGreaterThan(1);
      expect(hb.startupProbe).toBeUndefined();
    }
  });

  test('mounts tmp (the Unix socket) and the scripts read-only, nothing else', () => {
    for (const sts of members(m)) {
      const hb = containerOf(sts, 'heartbeat');
      const pg = containerOf(sts, 'postgres');
      expect(hb.volumeMounts).toEqual([
        { name: 'tmp', mountPath: '/tmp' },
        { name: 'scripts', mountPath: '/opt/cdk8s-postgres', readOnly: true },
      ]);
      // the socket directory PostgreSQL uses is the one the heartbeat connects to
      expect(pg.volumeMounts).toContainEqual({ name: 'tmp', mountPath: envOf(hb).PGHOST });
    }
  });

  test('resources default to 100m CPU and 64Mi, requests equal to limits (Guaranteed QoS), and can be set', () => {
    for (const sts of members(m)) {
      expect(containerOf(sts, 'heartbeat').resources).toEqual({ requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '100m', memory: '64Mi' } });
    }
    const resources = Resources.of({ cpu: kplus.Cpu.millis(100), memory: Size.mebibytes(96) });
    const custom = synthCluster({ monitoring: { heartbeat: { resources } } });
    for (const sts of members(custom)) {
      expect(containerOf(sts, 'heartbeat').resources).toEqual({ requests: { cpu: '100m', memory: '96Mi' }, limits: { cpu: '100m', memory: '96Mi' } });
    }
  });

  test('runs under the restricted container security context', () => {
    for (const sts of members(m)) expect(containerOf(sts, 'heartbeat').securityContext).toEqual(RESTRICTED_CONTAINER);
  });

  test('the heartbeat stays when the exporter is disabled (it drives readiness)', () => {
    const off = synthCluster({ monitoring: { metrics: { enabled: false } } });
    for (const sts of members(off)) expect(sts.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['postgres', 'heartbeat']);
  });
});

describe('metrics exporter', () => {
  const m = synthCluster({ delayedReplicas: { applyDelay: Duration.hours(1) } });

  test('every member pod runs postgres, heartbeat and metrics, in that order', () => {
    for (const sts of members(m)) expect(sts.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['postgres', 'heartbeat', 'metrics']);
  });

  test('the default image is pinned', () => {
    for (const sts of members(m)) {
      const image: string = containerOf(sts, 'metrics').image;
      expect(image).toBe(DEFAULT_EXPORTER_IMAGE);
      expect(image).toMatch(/:v\d+\.\d+\.\d+$/);
    }
  });

  test('a pinned custom image is used', () => {
    const image = 'registry.example.com/postgres-exporter@sha256:' + 'a'.repeat(64);
    for (const sts of members(synthCluster({ monitoring: { metrics: { image } } }))) expect(containerOf(sts, 'metrics').image).toBe(image);
  });

  test('--extend.query-path points at exporter-queries.yaml of the mounted scripts ConfigMap', () => {
    for (const sts of members(m)) {
      const metrics = containerOf(sts, 'metrics');
      expect(metrics.args).toContain('--web.listen-address=:9187');
      const arg = metrics.args.find((a: string) => a.startsWith('--extend.query-path='));
      expect(arg).toBeDefined();
      const path: string = arg.slice('--extend.query-path='.length);
      const mount = metrics.volumeMounts.find((v: any) => path.startsWith(`${v.mountPath}/`));
      expect(mount).toBeDefined();
      expect(mount.readOnly).toBe(true);
      const key = path.slice(mount.mountPath.length + 1);
      expect(key).toBe('exporter-queries.yaml');
      const volume = volumeOf(sts, mount.name);
      const configMap = find(m, 'ConfigMap', volume.configMap.name);
      expect(volume.configMap.items).toBeUndefined();
      expect(configMap.data[key]).toBe(exporterQueries());
    }
  });

  test('connects as the monitoring role with the password from the monitoring Secret', () => {
    for (const sts of members(m)) {
      const env = envOf(containerOf(sts, 'metrics'));
      expect(env).toEqual({
        // over the Unix socket in the shared /tmp volume, not TCP
        DATA_SOURCE_URI: ':5432/postgres?host=/tmp&sslmode=disable',
        DATA_SOURCE_USER: 'cdk8s_monitor',
        DATA_SOURCE_PASS: { secretKeyRef: { name: 'db-monitoring', key: 'password' } },
      });
      // the same Secret post-bootstrap.sh sets the role's password from, as a file: a variable of
      // the postgres container would reach the postmaster, every backend and archive_command
      // (Patroni strips only PATRONI_* and KUBERNETES_*)
      const postgres = containerOf(sts, 'postgres');
      expect(envOf(postgres)).toMatchObject({ PGC_MONITOR_USER: 'cdk8s_monitor', PGC_MONITOR_PASSWORD_FILE: '/etc/postgres-monitoring/password' });
      const fromSecrets = (postgres.env ?? []).filter((e: any) => e.valueFrom?.secretKeyRef);
      expect(fromSecrets.map((e: any) => e.name).filter((n: string) => !/^(PATRONI|KUBERNETES)_/.test(n))).toEqual([]);
      expect(postgres.volumeMounts).toContainEqual({ name: 'monitoring-secret', mountPath: '/etc/postgres-monitoring', readOnly: true });
      expect(sts.spec.template.spec.volumes).toContainEqual({
        name: 'monitoring-secret',
        secret: { secretName: 'db-monitoring', items: [{ key: 'password', path: 'password' }], defaultMode: 0o440 },
      });
    }
    const { cluster } = (() => {
      const chart = testChart();
      return { cluster: new PostgresCluster(chart, 'db', { clusterName: 'orders' }) };
    })();
    expect(cluster.monitoringSecretName).toBe('orders-monitoring');
  });

  test('the URI follows a custom port', () => {
    const custom = synthCluster({ config: { database: { port: 6543 } } });
    for (const sts of members(custom)) expect(envOf(containerOf(sts, 'metrics')).DATA_SOURCE_URI).toBe(':6543/postgres?host=/tmp&sslmode=disable');
  });

  test('the monitoring Secret is created by the credentials Job (never in the YAML)', () => {
    const job = ofKind(m, 'Job')[0];
    expect(envOf(job.spec.template.spec.containers[0]).SECRETS.split(' ')).toContain('db-monitoring=cdk8s_monitor');
    expect(ofKind(m, 'Secret')).toEqual([]);
  });

  test('port 9187 named metrics, no readiness probe (never takes the database out of its Services), TCP liveness', () => {
    for (const sts of members(m)) {
      const metrics = containerOf(sts, 'metrics');
      expect(metrics.ports).toEqual([{ name: 'metrics', containerPort: 9187, protocol: 'TCP' }]);
      expect(metrics.readinessProbe).toBeUndefined();
      expect(metrics.startupProbe).toBeUndefined();
      expect(metrics.livenessProbe.tcpSocket).toEqual({ port: 'metrics' });
      expect(metrics.livenessProbe.httpGet).toBeUndefined();
    }
  });

  test('resources default to 100m CPU and 128Mi, requests equal to limits; restricted security context', () => {
    for (const sts of members(m)) {
      const metrics = containerOf(sts, 'metrics');
      expect(metrics.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '100m', memory: '128Mi' } });
      expect(metrics.securityContext).toEqual(RESTRICTED_CONTAINER);
    }
  });

  test('monitoring.metrics.enabled false removes the exporter and leaves no PodMonitor', () => {
    const off = synthCluster({ monitoring: { metrics: { enabled: false } } });
    for (const sts of members(off)) {
      expect(sts.spec.template.spec.containers.map((c: any) => c.name)).not.toContain('metrics');
      for (const c of sts.spec.template.spec.containers) for (const p of c.ports ?? []) expect(p.containerPort).not.toBe(9187);
    }
    expect(ofKind(off, 'PodMonitor')).toEqual([]);
  });

  test('no PodMonitor by default', () => {
    expect(ofKind(m, 'PodMonitor')).toEqual([]);
  });
});

describe('PodMonitor', () => {
  const build = (props: PostgresClusterProps = {}) => synthCluster({
    delayedReplicas: { applyDelay: Duration.hours(1) }, ...props, monitoring: { metrics: { podMonitor: true, ...props.monitoring?.metrics } },
  }, { namespace: 'team-a' });

  test('selects every member pod (and nothing else) and scrapes metrics and heartbeat every 30 s', () => {
    const m = build();
    const monitors = ofKind(m, 'PodMonitor');
    expect(monitors).toHaveLength(1);
    const pm = monitors[0];
    expect(pm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(pm.metadata.name).toBe('db');
    expect(pm.metadata.namespace).toBe('team-a');
    const selector = pm.spec.selector.matchLabels;
    expect(Object.keys(pm.spec.selector)).toEqual(['matchLabels']);
    const sets = members(m);
    expect(sets).toHaveLength(3);
    for (const sts of sets) expect(selects(selector, sts.spec.template.metadata.labels)).toBe(true);
    for (const job of ofKind(m, 'Job')) expect(selects(selector, job.spec.template.metadata.labels)).toBe(false);
    expect(pm.spec.podMetricsEndpoints).toEqual([
      { port: 'metrics', path: '/metrics', interval: '30s' },
      { port: 'heartbeat', path: '/metrics', interval: '30s' },
    ]);
    // each endpoint names a port every selected pod has
    for (const sts of sets) {
      const ports = sts.spec.template.spec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => p.name));
      for (const ep of pm.spec.podMetricsEndpoints) expect(ports).toContain(ep.port);
    }
  });

  test('the interval follows scrapeInterval', () => {
    const pm = ofKind(build({ monitoring: { metrics: { scrapeInterval: Duration.seconds(15) } } }), 'PodMonitor')[0];
    expect(pm.spec.podMetricsEndpoints.map((e: any) => e.interval)).toEqual(['15s', '15s']);
    const minute = ofKind(build({ monitoring: { metrics: { scrapeInterval: Duration.minutes(1) } } }), 'PodMonitor')[0];
    expect(minute.spec.podMetricsEndpoints.map((e: any) => e.interval)).toEqual(['60s', '60s']);
  });

  test('is valid against the upstream prometheus-operator schema', () => {
    for (const pm of ofKind(build(), 'PodMonitor')) {
      expect(() => new PodMonitorModel(JSON.parse(JSON.stringify(pm))).validate()).not.toThrow();
      expect(() => validateManifest(pm)).not.toThrow();
    }
  });

  test('the schema check is real: a bad interval or a missing selector is rejected', () => {
    const pm = JSON.parse(JSON.stringify(ofKind(build(), 'PodMonitor')[0]));
    const badInterval = JSON.parse(JSON.stringify(pm));
    badInterval.spec.podMetricsEndpoints[0].interval = 'thirty seconds';
    expect(() => new PodMonitorModel(badInterval).validate()).toThrow();
    expect(() => validateManifest(badInterval)).toThrow(/PodMonitor\/db/);
    const noSelector = JSON.parse(JSON.stringify(pm));
    delete noSelector.spec.selector;
    expect(() => new PodMonitorModel(noSelector).validate()).toThrow(/selector/);
  });
});

describe('alert rules (PrometheusRule)', () => {
  const alerts = (m: Manifest[]) => ofKind(m, 'PrometheusRule').flatMap((r) => r.spec.groups.flatMap((g: any) => g.rules.map((x: any) => x.alert)));
  const rulesOf = (m: Manifest[]) => Object.fromEntries(ofKind(m, 'PrometheusRule').flatMap((r) => r.spec.groups.flatMap((g: any) => g.rules))
    .map((x: any) => [x.alert, x]));

  test('on with the PodMonitor, off without it; alertRules turns them on or off on their own', () => {
    expect(ofKind(synthCluster(), 'PrometheusRule')).toEqual([]);
    const m = synthCluster({ monitoring: { metrics: { podMonitor: true } } }, { namespace: 'team-a' });
    const rules = ofKind(m, 'PrometheusRule');
    expect(rules).toHaveLength(1);
    expect(rules[0].apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rules[0].metadata).toMatchObject({ name: 'db', namespace: 'team-a', labels: { 'postgres.cdk8s.io/cluster': 'db' } });
    expect(ofKind(synthCluster({ monitoring: { metrics: { podMonitor: true, alertRules: false } } }), 'PrometheusRule')).toEqual([]);
    const alone = synthCluster({ monitoring: { metrics: { alertRules: true } } });
    expect(ofKind(alone, 'PrometheusRule')).toHaveLength(1);
    expect(ofKind(alone, 'PodMonitor')).toEqual([]);
  });

  test('valid against the upstream prometheus-operator schema (and validate knows the kind)', () => {
    const rule = ofKind(synthCluster({ monitoring: { metrics: { podMonitor: true } } }), 'PrometheusRule')[0];
    expect(() => new PrometheusRuleModel(JSON.parse(JSON.stringify(rule))).validate()).not.toThrow();
    expect(() => validateManifest(rule)).not.toThrow();
    const bad = JSON.parse(JSON.stringify(rule));
    delete bad.spec.groups[0].name;
    expect(() => validateManifest(bad)).toThrow(/PrometheusRule\/db/);
  });

  test('the CRD subsets in crds/ (which the end-to-end suite applies) declare every field the objects use', () => {
    const m = synthCluster({ monitoring: { metrics: { podMonitor: true } } });
    /** The paths of `value` that `schema` (an OpenAPI v3 subset) does not declare. */
    const undeclared = (value: any, schema: any, at: string): string[] => {
      if (Array.isArray(value)) return value.flatMap((v, i) => undeclared(v, schema.items ?? {}, `${at}[${i}]`));
      if (value === null || typeof value !== 'object' || schema.type !== 'object' || !schema.properties) return [];
      return Object.entries(value).flatMap(([k, v]) => (schema.properties[k] ? undeclared(v, schema.properties[k], `${at}.${k}`)
        : schema.additionalProperties ? [] : [`${at}.${k}`]));
    };
    for (const [kind, file] of [['PodMonitor', 'podmonitors'], ['PrometheusRule', 'prometheusrules']]) {
      const crd = parse(readFileSync(join(__dirname, '..', 'crds', `${file}.monitoring.coreos.com.yaml`), 'utf8'));
      expect(crd.metadata.name).toBe(`${file}.monitoring.coreos.com`);
      expect(crd.spec.names).toMatchObject({ kind, plural: file });
      const obj = ofKind(m, kind)[0];
      const schema = crd.spec.versions.find((v: any) => `monitoring.coreos.com/${v.name}` === obj.apiVersion).schema.openAPIV3Schema;
      expect([kind, undeclared({ ...obj, metadata: {} }, schema, kind)]).toEqual([kind, []]);
    }
  });

  test('the rules select exactly the member pods and their volume claims', () => {
    const m = synthCluster({ delayedReplicas: { applyDelay: Duration.hours(1) }, monitoring: { metrics: { podMonitor: true } } });
    const down = rulesOf(m).PostgresMemberDown.expr as string;
    const podRegex = new RegExp(`^(${/pod=~"([^"]+)"/.exec(down)![1]})$`);
    const volume = rulesOf(m).PostgresVolumeFilling.expr as string;
    const claimRegex = new RegExp(`^(${/persistentvolumeclaim=~"([^"]+)"/.exec(volume)![1]})$`);
    for (const sts of members(m)) {
      for (let i = 0; i < sts.spec.replicas; i++) {
        expect(`${sts.metadata.name}-${i}`).toMatch(podRegex);
        for (const t of sts.spec.volumeClaimTemplates) expect(`${t.metadata.name}-${sts.metadata.name}-${i}`).toMatch(claimRegex);
      }
    }
    for (const other of ['db-pooler-0', 'db-repo-host-0', 'dbx-primary-0', 'db-primary-x']) expect(other).not.toMatch(podRegex);
    expect(rulesOf(m).PostgresMembersMissing.expr).toMatch(/< 4$/);
  });

  test('thresholds follow the cluster: heartbeat limits, failover timing, scrape interval, archive timeout', () => {
    const m = synthCluster({
      monitoring: {
        heartbeat: { interval: Duration.seconds(10), failureThreshold: 4, maxLag: Size.mebibytes(1), maxLagTime: Duration.seconds(45) },
        metrics: { podMonitor: true, scrapeInterval: Duration.seconds(15) },
      },
      backup: { repositories: [BackupRepository.volume()], archiveTimeout: Duration.seconds(120) },
    });
    const r = rulesOf(m);
    expect(r.PostgresReplicationLagBytes.expr).toMatch(/> 1048576$/);
    expect(r.PostgresReplicationLagTime.expr).toMatch(/> 45$/);
    expect(r.PostgresReplicationLagTime.for).toBe('40s');
    expect(r.PostgresClusterNoLeader.for).toBe('55s');
    expect(r.PostgresWalArchiveStale.expr).toMatch(/> 360$/);
    expect(alerts(synthCluster({ monitoring: { metrics: { podMonitor: true } } })).filter((a) => a.includes('Archiv'))).toEqual([]);
  });

  test('certificate expiry covers every cert-manager Certificate of the cluster (pooler and pgBackRest too), by its renewBefore', () => {
    const m = synthCluster({
      monitoring: { metrics: { podMonitor: true } },
      pooler: {},
      backup: { repositories: [BackupRepository.volume()] },
      tls: Tls.certManager({ renewBefore: Duration.hours(240) }),
    });
    const expr = rulesOf(m).PostgresCertificateNotRenewed.expr as string;
    const named = new Set([...expr.matchAll(/name=~"([^"]+)"/g)].flatMap((x) => x[1].split('|')));
    const certs = ofKind(m, 'Certificate').map((c) => c.metadata.name);
    expect(certs.length).toBeGreaterThan(4);
    expect([...named].sort()).toEqual([...certs].sort());
    for (const c of ofKind(m, 'Certificate')) {
      const seconds = Number(/^(\d+)h$/.exec(c.spec.renewBefore)![1]) * 3600;
      expect(expr).toMatch(new RegExp(`name=~"[^"]*\\b${c.metadata.name}\\b[^"]*"\\} - time\\(\\) < ${seconds}\\b`));
    }
    const own = synthWith((chart) => new PostgresCluster(chart, 'db', {
      monitoring: { metrics: { podMonitor: true } },
      tls: Tls.fromSecrets({
        server: kplus.Secret.fromSecretName(chart, 'server', 'my-server-tls'),
        replicationClient: kplus.Secret.fromSecretName(chart, 'repl', 'my-replication-tls'),
      }),
    }));
    expect(alerts(own)).not.toContain('PostgresCertificateNotRenewed');
  });
});

describe('exporter-queries.yaml', () => {
  const queries = parse(exporterQueries()) as Record<string, any>;
  const USAGES = ['LABEL', 'COUNTER', 'GAUGE', 'MAPPEDMETRIC', 'DURATION', 'DISCARD'];

  test('parses as YAML into named queries', () => {
    expect(Object.keys(queries).sort()).toEqual(['pgc_archiver', 'pgc_connections', 'pgc_database', 'pgc_heartbeat', 'pgc_recovery', 'pgc_replication', 'pgc_settings']);
    for (const name of Object.keys(queries)) expect(name).toMatch(/^[a-z_][a-z0-9_]*$/);
  });

  test.each(Object.entries(parse(exporterQueries()) as Record<string, any>))('%s: every column is a metric with usage and description', (_name, q) => {
    expect(typeof q.query).toBe('string');
    expect(q.query).toMatch(/^SELECT\b/);
    expect(Array.isArray(q.metrics)).toBe(true);
    expect(q.metrics.length).toBeGreaterThan(0);
    const columns: string[] = [];
    for (const metric of q.metrics) {
      expect(Object.keys(metric)).toHaveLength(1);
      const [column, spec] = Object.entries<any>(metric)[0];
      columns.push(column);
      expect(USAGES).toContain(spec.usage);
      expect(typeof spec.description).toBe('string');
      expect(spec.description.length).toBeGreaterThan(5);
    }
    expect(new Set(columns).size).toBe(columns.length);
    // each metric is a column the query returns (an alias or a selected column)
    for (const column of columns) expect(q.query).toMatch(new RegExp(`\\b${column}\\b`));
    // at least one numeric value per query: labels alone export nothing
    expect(q.metrics.some((x: any) => Object.values<any>(x)[0].usage !== 'LABEL')).toBe(true);
  });

  test('SQL is balanced and single-statement (no server here: checked lexically)', () => {
    for (const [name, q] of Object.entries<any>(queries)) {
      const sql: string = q.query;
      let depth = 0;
      for (const ch of sql.replace(/'[^']*'/g, "''")) {
        if (ch === '(') depth++;
        if (ch === ')') depth--;
        expect([name, depth >= 0]).toEqual([name, true]);
      }
      expect([name, depth]).toEqual([name, 0]);
      expect((sql.match(/'/g) ?? []).length % 2).toBe(0);
      expect(sql.trim().endsWith(';')).toBe(false);
      expect(sql).not.toMatch(/;\s*\S/);
    }
  });

  test('reads only what pg_monitor may read, and the heartbeat table the role is granted', () => {
    const sql = Object.values<any>(queries).map((q) => q.query).join('\n');
    expect(sql).not.toMatch(/\b(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|GRANT|TRUNCATE)\b/i);
    expect(queries.pgc_heartbeat.query).toContain('cdk8s_heartbeat.beat');
  });
});

describe('user sidecars', () => {
  test('the sidecars prop adds the container to every member pod, after the library containers', () => {
    const m = synthCluster({ sidecars: [sidecar()], delayedReplicas: { applyDelay: Duration.hours(1) } });
    for (const sts of members(m)) {
      expect(sts.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['postgres', 'heartbeat', 'metrics', 'log-shipper']);
      const c = containerOf(sts, 'log-shipper');
      expect(c.image).toBe('docker.io/fluent/fluent-bit:3.1.9');
      expect(c.resources).toEqual({ requests: { cpu: '20m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } });
      expect(c.command).toBeUndefined();
      expect(c.args).toBeUndefined();
      expect(c.env).toBeUndefined();
      expect(c.ports).toBeUndefined();
      expect(c.volumeMounts).toBeUndefined();
    }
  });

  test('addSidecar() after construction, before synth, reaches every member pod (also in replicas built earlier)', () => {
    const chart = Testing.chart();
    const cluster = new PostgresCluster(chart, 'db', { delayedReplicas: { applyDelay: Duration.hours(1) } });
    cluster.addSidecar(sidecar());
    cluster.addSidecar(sidecar({ name: 'second', ports: { admin: 9100 } }));
    const m = Testing.synth(chart) as Manifest[];
    const sets = members(m);
    expect(sets.map((s) => s.metadata.name).sort()).toEqual(['db-delayed', 'db-primary', 'db-replica']);
    for (const sts of sets) {
      expect(sts.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['postgres', 'heartbeat', 'metrics', 'log-shipper', 'second']);
    }
  });

  test('sidecars from props come before addSidecar() ones', () => {
    const chart = Testing.chart();
    const cluster = new PostgresCluster(chart, 'db', { sidecars: [sidecar({ name: 'from-props' })] });
    cluster.addSidecar(sidecar({ name: 'added' }));
    for (const sts of members(Testing.synth(chart) as Manifest[])) {
      expect(sts.spec.template.spec.containers.map((c: any) => c.name).slice(3)).toEqual(['from-props', 'added']);
    }
  });

  test('env and ports are sorted by name; command and args are kept in order', () => {
    const m = synthCluster({
      sidecars: [sidecar({
        command: ['/bin/agent', '--run'],
        args: ['-z', '-a'],
        env: { ZETA: 'z', ALPHA: 'a', MIDDLE: 'm' },
        ports: { web: 2020, admin: 2021, api: 2019 },
      })],
    });
    for (const sts of members(m)) {
      const c = containerOf(sts, 'log-shipper');
      expect(c.command).toEqual(['/bin/agent', '--run']);
      expect(c.args).toEqual(['-z', '-a']);
      expect(c.env).toEqual([{ name: 'ALPHA', value: 'a' }, { name: 'MIDDLE', value: 'm' }, { name: 'ZETA', value: 'z' }]);
      expect(c.ports).toEqual([
        { name: 'admin', containerPort: 2021, protocol: 'TCP' },
        { name: 'api', containerPort: 2019, protocol: 'TCP' },
        { name: 'web', containerPort: 2020, protocol: 'TCP' },
      ]);
    }
  });

  test('env order does not depend on the order the keys were given (stable config hash)', () => {
    const a = synthCluster({ sidecars: [sidecar({ env: { A: '1', B: '2' }, ports: { x: 2000, y: 2001 } })] });
    const b = synthCluster({ sidecars: [sidecar({ env: { B: '2', A: '1' }, ports: { y: 2001, x: 2000 } })] });
    expect(b).toEqual(a);
  });

  test('socketMountPath mounts the pod\'s tmp volume (PostgreSQL\'s socket directory) there', () => {
    const m = synthCluster({ sidecars: [sidecar({ socketMountPath: '/var/run/postgresql' })] });
    for (const sts of members(m)) {
      const c = containerOf(sts, 'log-shipper');
      expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/var/run/postgresql' }]);
      const pgTmp = containerOf(sts, 'postgres').volumeMounts.find((v: any) => v.name === 'tmp');
      expect(pgTmp.mountPath).toBe('/tmp');
      expect(volumeOf(sts, 'tmp').emptyDir).toBeDefined();
    }
  });

  test('runs under the same restricted security context as the library containers', () => {
    const m = synthCluster({ sidecars: [sidecar()] });
    for (const sts of members(m)) {
      const c = containerOf(sts, 'log-shipper');
      expect(c.securityContext).toEqual(RESTRICTED_CONTAINER);
      expect(c.securityContext).toEqual(containerOf(sts, 'postgres').securityContext);
    }
  });

  test('a sidecar changes nothing else in the pods, only the template hashes the config Job rolls out', () => {
    const without = synthCluster();
    const withSidecar = synthCluster({ sidecars: [sidecar()] });
    const rollout = (objs: Manifest[]) => JSON.parse(ofKind(objs, 'Job').find((j) => j.metadata.name.startsWith('db-config-'))!
      .spec.template.spec.containers[0].env.find((e: any) => e.name === 'PGC_ROLLOUT').value).statefulSets;
    expect(rollout(withSidecar)['db-primary']).not.toBe(rollout(without)['db-primary']);
    const strip = (objs: Manifest[]) => JSON.parse(JSON.stringify(objs), (k, v) => {
      if (k === 'containers') return v.filter((c: any) => c.name !== 'log-shipper');
      if (k === 'postgres.cdk8s.io/template-hash') return undefined;
      if (k === 'name' && typeof v === 'string' && /^db-config-[0-9a-f]{8}$/.test(v)) return 'db-config-<hash>';
      if (k === 'value' && typeof v === 'string' && v.includes('"statefulSets"')) return '<rollout>';
      return v;
    });
    expect(strip(withSidecar)).toEqual(strip(without));
  });
});
