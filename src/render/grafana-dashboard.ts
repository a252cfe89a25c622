/**
 * A Grafana dashboard of one cluster (JSON model), from the same metrics as the alert rules:
 * the heartbeat's and the exporter's. A pure function: the construct puts it in a ConfigMap
 * labelled for Grafana's dashboard sidecar, the tests check every query names a metric the
 * exporter or the heartbeat exports.
 */
import { createHash } from 'crypto';

/** What the dashboard is drawn from. */
export interface DashboardInput {
  readonly clusterName: string;
  /** The members' namespace; undefined matches any. */
  readonly namespace?: string;
  /** The member StatefulSets (pods `<name>-<ordinal>`). */
  readonly statefulSetNames: readonly string[];
  /** The heartbeat's maxLag in bytes, drawn as the lag panel's threshold. */
  readonly maxLagBytes: number;
  /** The heartbeat's maxLagTime in seconds, drawn as the replay lag panel's threshold. */
  readonly maxLagSeconds: number;
}

/** One query of a panel. */
export interface DashboardTarget {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat: string;
  readonly datasource: { readonly type: string; readonly uid: string };
}

/** A panel (the fields this dashboard uses). */
export interface DashboardPanel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly description: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource: { readonly type: string; readonly uid: string };
  readonly targets: DashboardTarget[];
  readonly fieldConfig: Record<string, unknown>;
  readonly options: Record<string, unknown>;
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** The dashboard's JSON model. */
export function grafanaDashboard(input: DashboardInput): Record<string, unknown> & { panels: DashboardPanel[] } {
  const ns = input.namespace !== undefined ? `namespace="${input.namespace}",` : '';
  const sel = `${ns}pod=~"${input.statefulSetNames.map((s) => `${s}-[0-9]+`).join('|')}"`;
  const panels: DashboardPanel[] = [];
  const add = (type: string, title: string, description: string, w: number, h: number,
    queries: Array<[string, string]>, fieldConfig: Record<string, unknown> = { defaults: {}, overrides: [] },
    options: Record<string, unknown> = {}) => {
    // Left to right, wrapping at Grafana's 24 columns.
    const last = panels[panels.length - 1];
    let x = last ? last.gridPos.x + last.gridPos.w : 0;
    let y = last ? last.gridPos.y : 0;
    if (x + w > 24) {
      x = 0;
      y = Math.max(...panels.map((p) => p.gridPos.y + p.gridPos.h));
    }
    panels.push({
      id: panels.length + 1,
      type,
      title,
      description,
      gridPos: { x, y, w, h },
      datasource: DATASOURCE,
      targets: queries.map(([expr, legendFormat], i) => ({ refId: String.fromCharCode(65 + i), expr, legendFormat, datasource: DATASOURCE })),
      fieldConfig,
      options,
    });
  };
  const unit = (u: string, extra: Record<string, unknown> = {}) => ({ defaults: { unit: u, ...extra }, overrides: [] });
  const threshold = (value: number) => ({
    thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'red', value }] },
    custom: { thresholdsStyle: { mode: 'line' } },
  });

  add('stat', 'Members: role', 'Leader or replica, as each member\'s heartbeat sees it (pgc_heartbeat_is_leader).', 12, 5,
    [[`max by (pod) (pgc_heartbeat_is_leader{${sel}})`, '{{pod}}']],
    {
      defaults: {
        mappings: [{ type: 'value', options: { 0: { text: 'replica', color: 'blue' }, 1: { text: 'leader', color: 'green' } } }],
        color: { mode: 'thresholds' },
        thresholds: { mode: 'absolute', steps: [{ color: 'blue', value: null }, { color: 'green', value: 1 }] },
      },
      overrides: [],
    },
    { colorMode: 'background', graphMode: 'none', textMode: 'value_and_name', reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } });
  add('stat', 'Members: up and ready', 'Exporter connected to PostgreSQL (pg_up) and the heartbeat\'s readiness (pgc_heartbeat_ready).', 12, 5,
    [[`min by (pod) (pg_up{${sel}})`, '{{pod}} postgres'], [`min by (pod) (pgc_heartbeat_ready{${sel}})`, '{{pod}} ready']],
    {
      defaults: {
        mappings: [{ type: 'value', options: { 0: { text: 'down', color: 'red' }, 1: { text: 'up', color: 'green' } } }],
        color: { mode: 'thresholds' },
        thresholds: { mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }] },
      },
      overrides: [],
    },
    { colorMode: 'background', graphMode: 'none', textMode: 'value_and_name', reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } });
  add('timeseries', 'Replication lag (bytes)', `WAL each replica has not replayed (pgc_heartbeat_lag_bytes); the line is the heartbeat's maxLag (${input.maxLagBytes} bytes), past which a replica leaves the read-only Service.`, 12, 8,
    [[`max by (pod) (pgc_heartbeat_lag_bytes{${sel}})`, '{{pod}}']], unit('bytes', threshold(input.maxLagBytes)));
  add('timeseries', 'Replication lag (time)', `How long each replica's replay has been behind (pgc_heartbeat_replay_lag_seconds) and the replicated heartbeat's age (pgc_heartbeat_age_seconds); the line is maxLagTime (${input.maxLagSeconds} s).`, 12, 8,
    [[`max by (pod) (pgc_heartbeat_replay_lag_seconds{${sel}})`, '{{pod}} replay'], [`max by (pod) (pgc_heartbeat_age_seconds{${sel}})`, '{{pod}} heartbeat age']],
    unit('s', threshold(input.maxLagSeconds)));
  add('timeseries', 'Connections vs max_connections', 'Client connections by member (pgc_connections_count, background workers left out) against max_connections (pg_settings_max_connections).', 12, 8,
    [
      [`sum by (pod) (pgc_connections_count{${sel},state!="background"})`, '{{pod}}'],
      [`max by (pod) (pg_settings_max_connections{${sel}})`, '{{pod}} max_connections'],
    ], unit('short'));
  add('timeseries', 'Transactions per second', 'Commits and rollbacks per second on each member (pg_stat_database_xact_commit, pg_stat_database_xact_rollback).', 12, 8,
    [
      [`sum by (pod) (rate(pg_stat_database_xact_commit{${sel}}[5m]))`, '{{pod}} commits'],
      [`sum by (pod) (rate(pg_stat_database_xact_rollback{${sel}}[5m]))`, '{{pod}} rollbacks'],
    ], unit('ops'));
  add('timeseries', 'WAL archiving', 'On the leader with backups: 1 while archiving fails (pgc_heartbeat_archive_failing) and the segments waiting for the archiver (pgc_heartbeat_archive_ready_segments).', 12, 8,
    [
      [`max by (pod) (pgc_heartbeat_archive_failing{${sel}})`, '{{pod}} failing'],
      [`max by (pod) (pgc_heartbeat_archive_ready_segments{${sel}})`, '{{pod}} segments waiting'],
    ], unit('short'));
  add('timeseries', 'Last WAL archived (age)', 'Seconds since the leader last archived a WAL segment (pgc_heartbeat_archive_last_success_age_seconds): how much WAL a restore from the repository would lose now.', 12, 8,
    [[`max by (pod) (pgc_heartbeat_archive_last_success_age_seconds{${sel}})`, '{{pod}}']], unit('s'));
  add('timeseries', 'Heartbeat', 'Failed heartbeat checks per minute on each member (pgc_heartbeat_check_failures_total) and its replicas seen from the leader (pgc_heartbeat_replica_lag_seconds).', 24, 8,
    [
      [`sum by (pod) (increase(pgc_heartbeat_check_failures_total{${sel}}[1m]))`, '{{pod}} failed checks'],
      [`max by (application_name) (pgc_heartbeat_replica_lag_seconds{${sel}})`, '{{application_name}} lag seen from the leader'],
    ], unit('short'));

  const scope = `${input.namespace ?? ''}/${input.clusterName}`;
  return {
    uid: `pgc-${createHash('sha256').update(scope).digest('hex').slice(0, 16)}`,
    title: `PostgreSQL ${input.clusterName}${input.namespace !== undefined ? ` (${input.namespace})` : ''}`,
    description: `Members, replication, connections, transactions, WAL archiving and the heartbeat of the PostgreSQL cluster ${input.clusterName}.`,
    tags: ['postgresql', 'cdk8s-postgres-cluster'],
    editable: false,
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    timezone: 'browser',
    templating: {
      list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0 }],
    },
    annotations: { list: [] },
    panels,
  };
}
