/**
 * The alert rules (src/render/alert-rules.ts): thresholds from the cluster's settings, every
 * metric one a real exporter exports, and every rule proven by promtool (Debian's prometheus
 * package, test/e2e/install-deps.sh): for each rule a series that fires it and one that does not.
 */
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Duration } from 'cdk8s';
import { stringify } from 'yaml';
import { BackupRepository } from '../../src';
import { AlertRule, AlertRulesInput, BACKUP_AGE_GRACE_SECONDS, alertRuleGroups, backupAgeThresholdSeconds, ruleMetricNames } from '../../src/render/alert-rules';
import { exporterMetricNames } from '../../src/render/exporter-queries';
import { heartbeatMetricNames } from '../../src/render/heartbeat';
import { ofKind, synthCluster } from '../helpers/manifests';

const PROMTOOL = '/usr/bin/promtool';

/** postgres_exporter's own metrics, as a real exporter printed them (test/fixtures). */
const BUILTIN = readFileSync(join(__dirname, '..', 'fixtures', 'postgres-exporter-builtin-metrics.txt'), 'utf8')
  .split('\n').filter((l) => l && !l.startsWith('#'));
/** Metrics of the other exporters the rules read: Prometheus' scrape health, the kubelet, cert-manager, kube-state-metrics. */
const EXTERNAL = [
  'up',
  'kubelet_volume_stats_available_bytes',
  'kubelet_volume_stats_capacity_bytes',
  'certmanager_certificate_expiration_timestamp_seconds',
  'kube_cronjob_status_last_successful_time',
];
const KNOWN = new Set([...exporterMetricNames(), ...heartbeatMetricNames(), ...BUILTIN, ...EXTERNAL]);

/** A cluster with every optional part the rules know: delayed replicas, backups (archiving), cert-manager TLS, a namespace. */
const FULL = () => synthCluster({
  delayedReplicas: { applyDelay: Duration.hours(1) },
  backup: { repositories: [BackupRepository.volume()] },
  monitoring: { metrics: { podMonitor: true } },
}, { namespace: 'team-a' });

function rulesOf(manifests: any[]): AlertRule[] {
  const rules = ofKind(manifests, 'PrometheusRule');
  expect(rules).toHaveLength(1);
  return rules[0].spec.groups.flatMap((g: any) => g.rules);
}

const INPUT: AlertRulesInput = {
  clusterName: 'db',
  namespace: 'ns',
  memberSets: [{ statefulSetName: 'db-primary', count: 1 }, { statefulSetName: 'db-replica', count: 2 }],
  volumeClaimTemplate: 'pgdata',
  heartbeat: { intervalSeconds: 5, failureThreshold: 3, maxLagBytes: 16777216, maxLagSeconds: 30 },
  failover: { ttlSeconds: 30, loopWaitSeconds: 10 },
  scrapeIntervalSeconds: 30,
  certificates: [{ name: 'db-server', renewBeforeSeconds: 1296000 }],
};
const rule = (input: AlertRulesInput, alert: string) => {
  const r = alertRuleGroups(input).flatMap((g) => g.rules).find((x) => x.alert === alert);
  if (!r) throw new Error(`no rule ${alert}`);
  return r;
};

describe('alertRuleGroups', () => {
  test('metric names are read from the expressions, not labels, functions or keywords', () => {
    expect(ruleMetricNames('sum by (namespace, pod) (a{pod=~"x|y",b!="c"}) > 0.9 * max(b_c[5m]) or vector(0) and on(pod) c == 1e9'))
      .toEqual(['a', 'b_c', 'c']);
  });

  test('every metric a rule names is exported by the exporter queries, the heartbeat, postgres_exporter, the kubelet, cert-manager or kube-state-metrics', () => {
    const rules = rulesOf(FULL());
    const used = new Set(rules.flatMap((r) => ruleMetricNames(r.expr)));
    expect([...used].filter((n) => !KNOWN.has(n))).toEqual([]);
    // the derived lists are real: they hold what the queries and the heartbeat define
    expect(exporterMetricNames()).toEqual(expect.arrayContaining(['pgc_connections_count', 'pgc_database_xid_age', 'pgc_settings_pending_restart']));
    expect(exporterMetricNames()).not.toContain('pgc_connections_state');
    expect(heartbeatMetricNames()).toEqual(expect.arrayContaining(['pgc_heartbeat_is_leader', 'pgc_heartbeat_archive_ready_segments']));
    expect(heartbeatMetricNames()).toHaveLength(12);
    // and each source is used
    for (const source of [exporterMetricNames(), heartbeatMetricNames(), BUILTIN, EXTERNAL]) {
      expect([...used].some((n) => source.includes(n))).toBe(true);
    }
  });

  test('thresholds follow the heartbeat limits, the failover timing and the scrape interval', () => {
    const custom: AlertRulesInput = {
      ...INPUT,
      heartbeat: { intervalSeconds: 10, failureThreshold: 6, maxLagBytes: 1048576, maxLagSeconds: 45 },
      failover: { ttlSeconds: 60, loopWaitSeconds: 20 },
      scrapeIntervalSeconds: 15,
    };
    expect(rule(custom, 'PostgresReplicationLagBytes').expr).toMatch(/> 1048576$/);
    expect(rule(custom, 'PostgresReplicationLagTime').expr).toMatch(/> 45$/);
    expect(rule(custom, 'PostgresReplicationLagTime').for).toBe('60s'); // 6 checks of 10 s
    expect(rule(custom, 'PostgresClusterNoLeader').for).toBe('95s'); // ttl 60 + loop 20 + a scrape
    expect(rule(INPUT, 'PostgresReplicationLagTime').for).toBe('60s'); // two scrapes of 30 s
    expect(rule(INPUT, 'PostgresMembersMissing').expr).toMatch(/< 3$/);
  });

  test('a delayed replica set is allowed its apply delay and no byte limit', () => {
    const input = { ...INPUT, memberSets: [...INPUT.memberSets, { statefulSetName: 'db-delayed', count: 1, applyDelaySeconds: 3600 }] };
    expect(rule(input, 'PostgresReplicationLagTime').expr).toContain('pod=~"db-delayed-[0-9]+"} > 3630');
    expect(rule(input, 'PostgresReplicationLagBytes').expr).not.toContain('db-delayed');
    expect(rule(input, 'PostgresMembersMissing').expr).toMatch(/< 4$/);
  });

  test('archiving rules only with archiving, from its archive timeout', () => {
    const alerts = (i: AlertRulesInput) => alertRuleGroups(i).flatMap((g) => g.rules).map((r) => r.alert);
    expect(alerts(INPUT).filter((a) => a.startsWith('PostgresWalArchiv'))).toEqual([]);
    const archiving = { ...INPUT, archiving: { archiveTimeoutSeconds: 120 } };
    expect(rule(archiving, 'PostgresWalArchiveStale').expr).toMatch(/> 360$/);
    expect(rule(archiving, 'PostgresWalArchivingFailing').for).toBe('240s');
    expect(rule(archiving, 'PostgresWalArchiveBacklogGrowing').expr).toContain('[600s]');
  });

  test('backup age: per repository with schedules, from the longest gap between its runs', () => {
    const withBackups: AlertRulesInput = {
      ...INPUT,
      backups: [
        { repo: 1, cronJobs: ['db-repo1-full', 'db-repo1-incr'], schedules: ['0 1 * * 0', '0 1 * * 1-6'] },
        { repo: 2, cronJobs: ['db-repo2-full'], schedules: ['0 2 * * 0'] },
      ],
    };
    const rules = alertRuleGroups(withBackups).flatMap((g) => g.rules).filter((r) => r.alert === 'PostgresBackupTooOld');
    expect(rules.map((r) => [r.labels.repo, r.expr])).toEqual([
      ['1', 'time() - max(kube_cronjob_status_last_successful_time{namespace="ns",cronjob=~"db-repo1-full|db-repo1-incr"} or kube_cronjob_status_last_successful_time{exported_namespace="ns",cronjob=~"db-repo1-full|db-repo1-incr"}) > 108000'],
      // a week apart: 168 h + 42 h
      ['2', 'time() - max(kube_cronjob_status_last_successful_time{namespace="ns",cronjob=~"db-repo2-full"} or kube_cronjob_status_last_successful_time{exported_namespace="ns",cronjob=~"db-repo2-full"}) > 756000'],
    ]);
    expect(backupAgeThresholdSeconds(['*/15 * * * *'])).toEqual({ gap: 15 * 60, threshold: 15 * 60 + BACKUP_AGE_GRACE_SECONDS });
    expect(backupAgeThresholdSeconds(['0 0 30 2 *'])).toBeUndefined();
    // without backups, or with schedules that never run twice, no rule
    expect(alertRuleGroups(INPUT).flatMap((g) => g.rules).some((r) => r.alert === 'PostgresBackupTooOld')).toBe(false);
    expect(alertRuleGroups({ ...INPUT, backups: [{ repo: 1, cronJobs: ['db-repo1-full'], schedules: ['0 0 30 2 *'] }] })
      .flatMap((g) => g.rules).some((r) => r.alert === 'PostgresBackupTooOld')).toBe(false);
    // a synthesized cluster: repository 1 with the default schedules (full and incremental)
    const rendered = rulesOf(FULL()).filter((r) => r.alert === 'PostgresBackupTooOld');
    expect(rendered.map((r) => [r.labels.repo, r.expr.endsWith(' > 108000'), r.expr.includes('cronjob=~"db-repo1-full|db-repo1-incr"')])).toEqual([['1', true, true]]);
  });

  test('certificates: one clause per renewBefore, either namespace label; none without cert-manager certificates', () => {
    const certs = { ...INPUT, certificates: [{ name: 'db-server', renewBeforeSeconds: 100 }, { name: 'db-ca', renewBeforeSeconds: 200 }, { name: 'db-replication', renewBeforeSeconds: 100 }] };
    expect(rule(certs, 'PostgresCertificateNotRenewed').expr).toBe([
      'certmanager_certificate_expiration_timestamp_seconds{namespace="ns",name=~"db-replication|db-server"} - time() < 100',
      'certmanager_certificate_expiration_timestamp_seconds{exported_namespace="ns",name=~"db-replication|db-server"} - time() < 100',
      'certmanager_certificate_expiration_timestamp_seconds{namespace="ns",name=~"db-ca"} - time() < 200',
      'certmanager_certificate_expiration_timestamp_seconds{exported_namespace="ns",name=~"db-ca"} - time() < 200',
    ].join(' or '));
    expect(alertRuleGroups({ ...INPUT, certificates: [] }).flatMap((g) => g.rules).map((r) => r.alert)).not.toContain('PostgresCertificateNotRenewed');
  });

  test('without a namespace the rules match any namespace', () => {
    const rules = alertRuleGroups({ ...INPUT, namespace: undefined }).flatMap((g) => g.rules);
    for (const r of rules) expect(r.expr).not.toMatch(/namespace="/);
  });

  test('the README\'s table lists every alert', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const start = readme.indexOf('### Alert rules');
    const section = readme.slice(start, readme.indexOf('\n### ', start + 1));
    const listed = new Set([...section.matchAll(/`(Postgres[A-Za-z]+)`/g)].map((m) => m[1]));
    expect([...listed].sort()).toEqual(rulesOf(FULL()).map((r) => r.alert).sort());
  });

  test('deterministic: the same input renders the same rules', () => {
    expect(stringify(alertRuleGroups(INPUT))).toBe(stringify(alertRuleGroups({ ...INPUT })));
    expect(stringify(rulesOf(FULL()))).toBe(stringify(rulesOf(FULL())));
  });
});

// ---------------------------------------------------------------------------------------------
// promtool: every rule of a synthesized cluster fires on a series that breaks it, and stays quiet
// on one that does not.

interface Series { readonly name: string; readonly labels: Record<string, string>; readonly values: string }
interface Case {
  readonly alert: string;
  /** What the case shows. */
  readonly what: string;
  readonly evalTime: string;
  readonly series: Series[];
  /** The labels of each alert expected to fire (besides the rule's own); empty: none fires. */
  readonly firing: Array<Record<string, string>>;
  /**
   * Cases over many hours: the series' sample interval and the rules' evaluation interval (a
   * test file of their own; promtool evaluates every rule at each step). Default 30 s.
   */
  readonly hours?: true;
}

const NS = 'team-a';
const s = (name: string, labels: Record<string, string>, values: string): Series => ({ name, labels, values });
const hb = (pod: string) => ({ namespace: NS, pod, container: 'heartbeat' });
const ex = (pod: string) => ({ namespace: NS, pod, container: 'metrics', server: '/tmp:5432' });
const MEMBERS = ['db-primary-0', 'db-replica-0', 'db-replica-1', 'db-delayed-0'];
const leaders = (flags: number[]) => MEMBERS.map((p, i) => s('pgc_heartbeat_is_leader', hb(p), `${flags[i]}x200`));
const ups = (pods: string[], container: string, value = 1) => pods.map((p) => s('up', { namespace: NS, pod: p, container }, `${value}x200`));
const pvc = (claim: string, available: number, capacity = 100) => [
  s('kubelet_volume_stats_available_bytes', { namespace: NS, persistentvolumeclaim: claim }, `${available}x200`),
  s('kubelet_volume_stats_capacity_bytes', { namespace: NS, persistentvolumeclaim: claim }, `${capacity}x200`),
];
const connections = (pod: string, counts: Record<string, number>) => [
  ...Object.entries(counts).map(([state, n]) => s('pgc_connections_count', { ...ex(pod), state }, `${n}x200`)),
  s('pg_settings_max_connections', ex(pod), '100x200'),
  s('pg_settings_superuser_reserved_connections', ex(pod), '3x200'),
];
const xid = (pod: string, age: number) => [
  s('pgc_database_xid_age', { ...ex(pod), datname: 'postgres' }, `${age}x200`),
  s('pgc_database_xid_age', { ...ex(pod), datname: 'template0' }, '10x200'),
  s('pg_settings_autovacuum_freeze_max_age', ex(pod), '200000000x200'),
];
const expiry = (name: string, at: number, labels: Record<string, string> = { namespace: NS }) =>
  s('certmanager_certificate_expiration_timestamp_seconds', { ...labels, name, issuer_name: 'db-ca' }, `${at}x200`);
const backupSuccess = (cronjob: string, values: string, labels: Record<string, string> = { namespace: NS }) =>
  s('kube_cronjob_status_last_successful_time', { ...labels, cronjob, job: 'kube-state-metrics' }, values);
// renewBefore of the server and client certificates (15 days) and of the CA (30 days).
const RENEW = 360 * 3600;
const CA_RENEW = 720 * 3600;

const CASES: Case[] = [
  { alert: 'PostgresClusterNoLeader', what: 'no member is the leader', evalTime: '10m', series: leaders([0, 0, 0, 0]), firing: [{}] },
  { alert: 'PostgresClusterNoLeader', what: 'no heartbeat at all', evalTime: '10m', series: ups(MEMBERS, 'metrics'), firing: [{}] },
  { alert: 'PostgresClusterNoLeader', what: 'one leader', evalTime: '10m', series: leaders([0, 1, 0, 0]), firing: [] },
  {
    alert: 'PostgresClusterNoLeader',
    what: 'a failover shorter than ttl + loop_wait',
    evalTime: '10m',
    series: [s('pgc_heartbeat_is_leader', hb('db-primary-0'), '1x17 0x2 0x20'), s('pgc_heartbeat_is_leader', hb('db-replica-0'), '0x19 1x20')],
    firing: [],
  },
  { alert: 'PostgresClusterMultipleLeaders', what: 'two leaders', evalTime: '10m', series: leaders([1, 1, 0, 0]), firing: [{}] },
  { alert: 'PostgresClusterMultipleLeaders', what: 'one leader', evalTime: '10m', series: leaders([1, 0, 0, 0]), firing: [] },
  {
    alert: 'PostgresMemberDown',
    what: 'a scrape target down',
    evalTime: '10m',
    series: [...ups(MEMBERS.slice(0, 3), 'metrics'), ...ups(['db-delayed-0'], 'metrics', 0)],
    firing: [{ namespace: NS, pod: 'db-delayed-0', container: 'metrics' }],
  },
  {
    alert: 'PostgresMemberDown',
    what: 'the exporter cannot reach PostgreSQL',
    evalTime: '10m',
    series: [s('pg_up', { namespace: NS, pod: 'db-replica-1', container: 'metrics' }, '0x200')],
    firing: [{ namespace: NS, pod: 'db-replica-1', container: 'metrics' }],
  },
  {
    alert: 'PostgresMemberDown',
    what: 'every target up, another cluster down',
    evalTime: '10m',
    series: [...ups(MEMBERS, 'metrics'), ...ups(MEMBERS, 'heartbeat'), s('up', { namespace: NS, pod: 'other-primary-0', container: 'metrics' }, '0x200'),
      s('pg_up', { namespace: NS, pod: 'db-primary-0', container: 'metrics' }, '1x200')],
    firing: [],
  },
  { alert: 'PostgresMembersMissing', what: 'three of four members answer', evalTime: '10m', series: ups(MEMBERS.slice(0, 3), 'heartbeat'), firing: [{}] },
  { alert: 'PostgresMembersMissing', what: 'all four answer', evalTime: '10m', series: ups(MEMBERS, 'heartbeat'), firing: [] },
  {
    alert: 'PostgresReplicationLagBytes',
    what: 'a replica over maxLag',
    evalTime: '10m',
    series: [s('pgc_heartbeat_lag_bytes', hb('db-replica-0'), `${16 * 1024 * 1024 + 1}x200`)],
    firing: [hb('db-replica-0')],
  },
  {
    alert: 'PostgresReplicationLagBytes',
    what: 'a replica at maxLag, a delayed replica far behind',
    evalTime: '10m',
    series: [s('pgc_heartbeat_lag_bytes', hb('db-replica-0'), `${16 * 1024 * 1024}x200`), s('pgc_heartbeat_lag_bytes', hb('db-delayed-0'), '1e12x200')],
    firing: [],
  },
  {
    alert: 'PostgresReplicationLagTime',
    what: 'a replica over maxLagTime, a delayed replica over its delay + maxLagTime',
    evalTime: '10m',
    series: [s('pgc_heartbeat_replay_lag_seconds', hb('db-replica-1'), '31x200'), s('pgc_heartbeat_replay_lag_seconds', hb('db-delayed-0'), '3631x200')],
    firing: [hb('db-replica-1'), hb('db-delayed-0')],
  },
  {
    alert: 'PostgresReplicationLagTime',
    what: 'within the limits',
    evalTime: '10m',
    series: [s('pgc_heartbeat_replay_lag_seconds', hb('db-replica-1'), '30x200'), s('pgc_heartbeat_replay_lag_seconds', hb('db-delayed-0'), '3600x200')],
    firing: [],
  },
  {
    alert: 'PostgresReplicationLagTime',
    what: 'a spike shorter than the heartbeat failure window',
    evalTime: '10m',
    series: [s('pgc_heartbeat_replay_lag_seconds', hb('db-replica-1'), '0x17 100 0x22')],
    firing: [],
  },
  {
    alert: 'PostgresReplicaNotStreaming',
    what: 'a WAL receiver not streaming',
    evalTime: '10m',
    series: [s('pgc_heartbeat_streaming', hb('db-replica-0'), '0x200'), s('pgc_heartbeat_streaming', hb('db-replica-1'), '1x200')],
    firing: [hb('db-replica-0')],
  },
  { alert: 'PostgresReplicaNotStreaming', what: 'streaming', evalTime: '10m', series: [s('pgc_heartbeat_streaming', hb('db-replica-0'), '1x200')], firing: [] },
  { alert: 'PostgresWalArchivingFailing', what: 'archiving failing', evalTime: '10m', series: [s('pgc_heartbeat_archive_failing', hb('db-primary-0'), '1x200')], firing: [hb('db-primary-0')] },
  { alert: 'PostgresWalArchivingFailing', what: 'one failure, then success', evalTime: '10m', series: [s('pgc_heartbeat_archive_failing', hb('db-primary-0'), '0x15 1x2 0x22')], firing: [] },
  {
    alert: 'PostgresWalArchiveStale',
    what: 'nothing archived for three archive timeouts',
    evalTime: '10m',
    series: [s('pgc_heartbeat_archive_last_success_age_seconds', hb('db-primary-0'), '200+30x200')],
    firing: [hb('db-primary-0')],
  },
  {
    alert: 'PostgresWalArchiveStale',
    what: 'archived every timeout',
    evalTime: '10m',
    series: [s('pgc_heartbeat_archive_last_success_age_seconds', hb('db-primary-0'), '30x200')],
    firing: [],
  },
  {
    alert: 'PostgresWalArchiveBacklogGrowing',
    what: 'segments waiting, more each scrape',
    evalTime: '20m',
    series: [s('pgc_heartbeat_archive_ready_segments', hb('db-primary-0'), '2+1x200')],
    firing: [hb('db-primary-0')],
  },
  {
    alert: 'PostgresWalArchiveBacklogGrowing',
    what: 'a steady backlog',
    evalTime: '20m',
    series: [s('pgc_heartbeat_archive_ready_segments', hb('db-primary-0'), '5x200')],
    firing: [],
  },
  {
    alert: 'PostgresVolumeFilling',
    what: '20 % free on a member volume',
    evalTime: '10m',
    series: [...pvc('pgdata-db-replica-0', 20), ...pvc('pgdata-db-primary-0', 90)],
    firing: [{ namespace: NS, persistentvolumeclaim: 'pgdata-db-replica-0' }],
  },
  {
    alert: 'PostgresVolumeFilling',
    what: '30 % free, and another claim full',
    evalTime: '10m',
    series: [...pvc('pgdata-db-replica-0', 30), ...pvc('pgdata-other-primary-0', 1), ...pvc('db-repo-host', 1)],
    firing: [],
  },
  { alert: 'PostgresVolumeAlmostFull', what: '10 % free', evalTime: '10m', series: pvc('pgdata-db-delayed-0', 10), firing: [{ namespace: NS, persistentvolumeclaim: 'pgdata-db-delayed-0' }] },
  { alert: 'PostgresVolumeAlmostFull', what: '20 % free', evalTime: '10m', series: pvc('pgdata-db-delayed-0', 20), firing: [] },
  {
    alert: 'PostgresConnectionsNearMax',
    what: '88 client connections of 100 - 3 reserved',
    evalTime: '10m',
    series: connections('db-primary-0', { active: 80, idle: 8, background: 5 }),
    firing: [{ namespace: NS, pod: 'db-primary-0' }],
  },
  {
    alert: 'PostgresConnectionsNearMax',
    what: '87 client connections and background workers',
    evalTime: '10m',
    series: connections('db-primary-0', { active: 80, idle: 7, background: 20 }),
    firing: [],
  },
  {
    alert: 'PostgresXidWraparoundApproaching',
    what: 'xid age past twice autovacuum_freeze_max_age',
    evalTime: '40m',
    series: xid('db-primary-0', 400000001),
    firing: [{ namespace: NS, pod: 'db-primary-0' }],
  },
  { alert: 'PostgresXidWraparoundApproaching', what: 'xid age within', evalTime: '40m', series: xid('db-primary-0', 300000000), firing: [] },
  {
    alert: 'PostgresXidWraparoundImminent',
    what: 'xid age past 3/4 of 2^31',
    evalTime: '10m',
    series: xid('db-replica-0', 1700000000),
    firing: [{ namespace: NS, pod: 'db-replica-0' }],
  },
  { alert: 'PostgresXidWraparoundImminent', what: 'xid age below', evalTime: '10m', series: xid('db-replica-0', 1600000000), firing: [] },
  {
    alert: 'PostgresPendingRestart',
    what: 'a restart pending for over an hour',
    evalTime: '70m',
    series: [s('pgc_settings_pending_restart', ex('db-replica-0'), '2x200')],
    firing: [ex('db-replica-0')],
  },
  {
    alert: 'PostgresPendingRestart',
    what: 'a restart pending for 50 minutes',
    evalTime: '50m',
    series: [s('pgc_settings_pending_restart', ex('db-replica-0'), '2x200')],
    firing: [],
  },
  // The default schedules (full on Sundays, incremental the other days, at 01:00): 24 h apart,
  // so 30 h allowed. Samples every 10 minutes; the last success at time 0, or at each sample's time.
  {
    alert: 'PostgresBackupTooOld',
    what: 'no success for 31 h (full and incremental both old)',
    evalTime: '1860m',
    series: [backupSuccess('db-repo1-full', '0x200'), backupSuccess('db-repo1-incr', '0x200')],
    firing: [{}],
    hours: true,
  },
  {
    alert: 'PostgresBackupTooOld',
    what: 'no success for 31 h, scraped without honorLabels (exported_namespace)',
    evalTime: '1860m',
    series: [backupSuccess('db-repo1-incr', '0x200', { namespace: 'monitoring', exported_namespace: NS })],
    firing: [{}],
    hours: true,
  },
  {
    alert: 'PostgresBackupTooOld',
    what: 'the full backup is a week old but the incremental ones succeed',
    evalTime: '1860m',
    series: [backupSuccess('db-repo1-full', '0x200'), backupSuccess('db-repo1-incr', '0+600x200')],
    firing: [],
    hours: true,
  },
  {
    alert: 'PostgresBackupTooOld',
    what: 'no success for 29 h; another cluster\'s and another namespace\'s backups old',
    evalTime: '1740m',
    series: [backupSuccess('db-repo1-incr', '0x200'), backupSuccess('other-repo1-incr', '0x200'), backupSuccess('db-repo1-full', '0x200', { namespace: 'elsewhere' })],
    firing: [],
    hours: true,
  },
  {
    alert: 'PostgresCertificateNotRenewed',
    what: 'past renewBefore (per certificate; either namespace label)',
    evalTime: '70m',
    series: [expiry('db-server', RENEW), expiry('db-ca', CA_RENEW), expiry('db-replication', RENEW, { namespace: 'cert-manager', exported_namespace: NS })],
    firing: [
      { namespace: NS, name: 'db-server', issuer_name: 'db-ca' },
      { namespace: NS, name: 'db-ca', issuer_name: 'db-ca' },
      { namespace: 'cert-manager', exported_namespace: NS, name: 'db-replication', issuer_name: 'db-ca' },
    ],
  },
  {
    alert: 'PostgresCertificateNotRenewed',
    what: 'renewed in time; another cluster\'s certificate late',
    evalTime: '70m',
    series: [expiry('db-server', RENEW + 7200), expiry('db-ca', CA_RENEW + 7200), expiry('other-server', 10), expiry('db-server', 10, { namespace: 'elsewhere' })],
    firing: [],
  },
  {
    alert: 'PostgresCertificateNotRenewed',
    what: 'late for less than an hour',
    evalTime: '70m',
    series: [expiry('db-server', RENEW + 4200 - 1800)],
    firing: [],
  },
];

/** `{{ $labels.x }}` of an annotation, as Prometheus expands it. */
function expand(template: string, labels: Record<string, string>): string {
  return template.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_m, k: string) => labels[k] ?? '<no value>');
}

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  if (!existsSync(PROMTOOL)) {
    throw new Error(`${PROMTOOL} is missing: install Debian's prometheus package (test/e2e/install-deps.sh installs it)`);
  }
  const r = spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('promtool', () => {
  let dir: string;
  const manifests = FULL();
  const rules = rulesOf(manifests);
  const groups = ofKind(manifests, 'PrometheusRule')[0].spec.groups;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pg-alert-rules-'));
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('promtool check rules accepts the rendered rules', () => {
    const r = promtool(['check', 'rules', 'rules.yaml'], dir);
    expect(r.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
  });

  test('every rule has a case that fires it and one that does not', () => {
    for (const r of rules) {
      expect([r.alert, CASES.some((c) => c.alert === r.alert && c.firing.length > 0)]).toEqual([r.alert, true]);
      expect([r.alert, CASES.some((c) => c.alert === r.alert && c.firing.length === 0)]).toEqual([r.alert, true]);
    }
    expect(CASES.filter((c) => !rules.some((r) => r.alert === c.alert))).toEqual([]);
  });

  test('promtool test rules: each case fires exactly the expected alerts', () => {
    const byName = new Map(rules.map((r) => [r.alert, r]));
    const test = (c: Case) => {
      const r = byName.get(c.alert)!;
      return {
        name: `${c.alert}: ${c.what}`,
        interval: c.hours ? '10m' : '30s',
        input_series: c.series.map((x) => ({
          series: `${x.name}{${Object.entries(x.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`,
          values: x.values,
        })),
        alert_rule_test: [{
          eval_time: c.evalTime,
          alertname: c.alert,
          exp_alerts: c.firing.map((labels) => {
            const all = { ...labels, ...r.labels };
            const annotations = { summary: expand(r.annotations.summary, all), description: expand(r.annotations.description, all) };
            return { exp_labels: all, exp_annotations: annotations };
          }),
        }],
      };
    };
    writeFileSync(join(dir, 'tests.yaml'), stringify({ rule_files: ['rules.yaml'], evaluation_interval: '30s', tests: CASES.filter((c) => !c.hours).map(test) }));
    writeFileSync(join(dir, 'tests-hours.yaml'), stringify({ rule_files: ['rules.yaml'], evaluation_interval: '10m', tests: CASES.filter((c) => c.hours).map(test) }));
    const r = promtool(['test', 'rules', 'tests.yaml', 'tests-hours.yaml'], dir);
    if (r.status !== 0) throw new Error(`promtool test rules failed:\n${r.output}`);
    expect(r.output).toContain('SUCCESS');
  });

  test('promtool test rules is real: a wrong expectation fails', () => {
    const c = CASES.find((x) => x.alert === 'PostgresReplicationLagBytes' && x.firing.length === 0)!;
    const test = {
      interval: '30s',
      input_series: c.series.map((x) => ({ series: `${x.name}{${Object.entries(x.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`, values: x.values })),
      alert_rule_test: [{ eval_time: c.evalTime, alertname: c.alert, exp_alerts: [{ exp_labels: { severity: 'warning' } }] }],
    };
    writeFileSync(join(dir, 'wrong.yaml'), stringify({ rule_files: ['rules.yaml'], evaluation_interval: '30s', tests: [test] }));
    const r = promtool(['test', 'rules', 'wrong.yaml'], dir);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/FAILED/);
  });
});
