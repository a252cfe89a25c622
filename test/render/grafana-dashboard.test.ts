/**
 * The Grafana dashboard (src/render/grafana-dashboard.ts): every panel's query names a metric the
 * exporter, the heartbeat or postgres_exporter itself really exports, and the ConfigMap the
 * Grafana sidecar picks up.
 */
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Duration } from 'cdk8s';
import { stringify } from 'yaml';
import { ruleMetricNames } from '../../src/render/alert-rules';
import { exporterMetricNames } from '../../src/render/exporter-queries';
import { DashboardInput, grafanaDashboard } from '../../src/render/grafana-dashboard';
import { heartbeatMetricNames } from '../../src/render/heartbeat';
import { ofKind, synthCluster } from '../helpers/manifests';

const BUILTIN = readFileSync(join(__dirname, '..', 'fixtures', 'postgres-exporter-builtin-metrics.txt'), 'utf8')
  .split('\n').filter((l) => l && !l.startsWith('#'));
const OURS = new Set([...exporterMetricNames(), ...heartbeatMetricNames()]);
const KNOWN = new Set([...OURS, ...BUILTIN]);

const INPUT: DashboardInput = {
  clusterName: 'db',
  namespace: 'team-a',
  statefulSetNames: ['db-primary', 'db-replica', 'db-delayed'],
  maxLagBytes: 16777216,
  maxLagSeconds: 30,
};

describe('grafanaDashboard', () => {
  const dashboard = grafanaDashboard(INPUT);

  test('every panel has a query, and every query names only metrics the exporter or the heartbeat exports', () => {
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
    for (const panel of dashboard.panels) {
      expect([panel.title, panel.targets.length > 0]).toEqual([panel.title, true]);
      for (const t of panel.targets) {
        const names = ruleMetricNames(t.expr);
        expect([panel.title, names.length > 0]).toEqual([panel.title, true]);
        expect([panel.title, names.filter((n) => !KNOWN.has(n))]).toEqual([panel.title, []]);
        expect(t.expr).toContain('namespace="team-a",pod=~"db-primary-[0-9]+|db-replica-[0-9]+|db-delayed-[0-9]+"');
      }
    }
    // most panels read the library's own metrics
    expect(dashboard.panels.filter((p) => p.targets.some((t) => ruleMetricNames(t.expr).some((n) => OURS.has(n)))).length)
      .toBeGreaterThanOrEqual(7);
  });

  test('every query is valid PromQL (promtool check rules, each query as a recording rule)', () => {
    expect(existsSync('/usr/bin/promtool')).toBe(true); // Debian's prometheus package (test/e2e/install-deps.sh)
    const dir = mkdtempSync(join(tmpdir(), 'pg-dashboard-'));
    try {
      const rules = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ record: `dashboard:panel${p.id}:${t.refId}`, expr: t.expr })));
      writeFileSync(join(dir, 'queries.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = spawnSync('/usr/bin/promtool', ['check', 'rules', 'queries.yaml'], { cwd: dir, encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the panels the issue asks for', () => {
    const queries = dashboard.panels.map((p) => `${p.title}: ${p.targets.map((t) => t.expr).join(' ')}`);
    for (const pattern of [
      /role: .*pgc_heartbeat_is_leader/, /up and ready: .*pg_up/, /lag \(bytes\): .*pgc_heartbeat_lag_bytes/,
      /Connections vs max_connections: .*pgc_connections_count.*pg_settings_max_connections/,
      /Transactions per second: .*rate\(pg_stat_database_xact_commit/, /WAL archiving: .*pgc_heartbeat_archive_failing/,
      /Last WAL archived \(age\): .*pgc_heartbeat_archive_last_success_age_seconds/, /Heartbeat: .*pgc_heartbeat_check_failures_total/,
    ]) expect(queries.some((q) => pattern.test(q))).toBe(true);
  });

  test('thresholds are the heartbeat limits; panels do not overlap and fit 24 columns; ids unique', () => {
    const lag = dashboard.panels.find((p) => p.title === 'Replication lag (bytes)')!;
    expect(JSON.stringify(lag.fieldConfig)).toContain('"value":16777216');
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  test('deterministic, with a uid of its own per cluster and namespace', () => {
    expect(JSON.stringify(grafanaDashboard({ ...INPUT }))).toBe(JSON.stringify(dashboard));
    expect(grafanaDashboard({ ...INPUT, namespace: 'other' }).uid).not.toBe(dashboard.uid);
    expect(String(dashboard.uid).length).toBeLessThanOrEqual(40);
    expect(grafanaDashboard({ ...INPUT, namespace: undefined }).panels[0].targets[0].expr).not.toContain('namespace=');
  });
});

describe('grafanaDashboard prop', () => {
  test('off by default; on, a ConfigMap labelled grafana_dashboard "1" holding the JSON', () => {
    expect(ofKind(synthCluster({ monitoring: { metrics: { podMonitor: true } } }), 'ConfigMap').map((c) => c.metadata.name)).not.toContain('db-grafana-dashboard');
    const m = synthCluster({ delayedReplicas: { applyDelay: Duration.hours(1) }, monitoring: { metrics: { grafanaDashboard: true } } }, { namespace: 'team-a' });
    const cm = ofKind(m, 'ConfigMap').find((c) => c.metadata.name === 'db-grafana-dashboard')!;
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm.metadata.namespace).toBe('team-a');
    expect(Object.keys(cm.data)).toEqual(['db.json']);
    const json = JSON.parse(cm.data['db.json']);
    expect(json.title).toBe('PostgreSQL db (team-a)');
    expect(json.panels[0].targets[0].expr).toContain('db-delayed-[0-9]+');
  });
});
