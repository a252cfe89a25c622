/**
 * The cluster's Prometheus alerting rules (a PrometheusRule's `spec.groups`), rendered from its
 * own settings: the heartbeat's lag limits, the failover timing, the archive timeout, the
 * certificates' renewBefore and the member and volume names. A pure function: the construct
 * only wires the object, the tests render it and run promtool on it.
 *
 * Every metric a rule reads is exported by the exporter's custom queries (./exporter-queries.ts),
 * the heartbeat sidecar (src/scripts/heartbeat.py), postgres_exporter itself (`pg_up`,
 * `pg_settings_*`), the kubelet (`kubelet_volume_stats_*`), kube-state-metrics
 * (`kube_cronjob_status_last_successful_time`), cert-manager
 * (`certmanager_certificate_expiration_timestamp_seconds`) or Prometheus (`up`). Pod metrics
 * carry the labels a Prometheus Operator PodMonitor gives them (`namespace`, `pod`, `container`).
 */
import { longestCronGapSeconds } from './cron';

/** One member node set: its StatefulSet's pods are `<statefulSetName>-<ordinal>`. */
export interface AlertMemberSet {
  readonly statefulSetName: string;
  readonly count: number;
  /** A delayed replica set's apply delay: it is meant to be this far behind. */
  readonly applyDelaySeconds?: number;
}

/** A cert-manager Certificate of the cluster and when cert-manager should renew it. */
export interface AlertCertificate {
  readonly name: string;
  readonly renewBeforeSeconds: number;
}

/** What the rules are derived from. */
export interface AlertRulesInput {
  readonly clusterName: string;
  /** The namespace of the members and Certificates; undefined matches any. */
  readonly namespace?: string;
  /** The preferred primary's set first, then the replica sets. */
  readonly memberSets: readonly AlertMemberSet[];
  /** The members' volume claim template name (PVCs are `<template>-<pod>`). */
  readonly volumeClaimTemplate: string;
  readonly heartbeat: {
    readonly intervalSeconds: number;
    readonly failureThreshold: number;
    readonly maxLagBytes: number;
    readonly maxLagSeconds: number;
  };
  /** Patroni's leader lease (ttl) and loop wait: how long a failover may take. */
  readonly failover: { readonly ttlSeconds: number; readonly loopWaitSeconds: number };
  readonly scrapeIntervalSeconds: number;
  /** WAL archiving (backups): the archive timeout forces a segment switch at least this often. */
  readonly archiving?: { readonly archiveTimeoutSeconds: number };
  /** The cluster's cert-manager Certificates (none with certificates of the user's own). */
  readonly certificates: readonly AlertCertificate[];
  /** The scheduled backups of each repository (none without backups or schedules). */
  readonly backups?: readonly AlertBackupRepository[];
}

/** One pgBackRest repository's backup CronJobs and their schedules. */
export interface AlertBackupRepository {
  /** The repository number (repo1-repo4). */
  readonly repo: number;
  readonly cronJobs: readonly string[];
  readonly schedules: readonly string[];
}

/** One alerting rule (Prometheus rule file format). */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Record<string, string>;
  readonly annotations: { readonly summary: string; readonly description: string };
}

/** One rule group. */
export interface AlertRuleGroup {
  readonly name: string;
  readonly rules: AlertRule[];
}

/** Share of (max_connections - superuser_reserved_connections) in use that raises the alert. */
export const CONNECTIONS_WARNING_SHARE = 0.9;
/** Free share of a member volume below which it is filling: max_slot_wal_keep_size is 1/4 of it. */
export const VOLUME_WARNING_FREE = 1 / 4;
/** Free share below which the volume is nearly full: max_wal_size (a checkpoint cycle's WAL) is 1/8 of it. */
export const VOLUME_CRITICAL_FREE = 1 / 8;
/** Transaction ID age at which wraparound is near: 3/4 of the 2^31 PostgreSQL stops at (not a setting). */
export const XID_CRITICAL_AGE = 2 ** 31 * 3 / 4;
/** How long settings may wait for a restart before it is reported (the config Job restarts members). */
export const PENDING_RESTART_SECONDS = 3600;
/** How long cert-manager may be late renewing a certificate (renewal takes seconds). */
export const CERTIFICATE_RENEWAL_GRACE_SECONDS = 3600;
/**
 * How late a repository's newest successful backup may be past the longest gap its schedules
 * leave: the backup's own run time (the CronJob records a success when the Job ends) and a
 * daylight-saving hour. At least this, or a quarter of the gap when that is longer.
 */
export const BACKUP_AGE_GRACE_SECONDS = 2 * 3600;

/**
 * The longest gap a repository's schedules leave between runs and the age of its newest
 * successful backup that raises the alert (seconds), or undefined (no schedule runs twice).
 */
export function backupAgeThresholdSeconds(schedules: readonly string[]): { gap: number; threshold: number } | undefined {
  const gap = longestCronGapSeconds(schedules);
  return gap === undefined ? undefined : { gap, threshold: gap + Math.max(BACKUP_AGE_GRACE_SECONDS, gap / 4) };
}

/**
 * The selectors of a metric another exporter publishes about an object in the cluster's
 * namespace: its namespace label is the object's when scraped with honorLabels (kube-prometheus),
 * else exported_namespace (the target's namespace wins); one selector when no namespace is set.
 */
function namespacedSelectors(ns: string | undefined, matcher: string): string[] {
  return ns !== undefined ? [`{namespace="${ns}",${matcher}}`, `{exported_namespace="${ns}",${matcher}}`] : [`{${matcher}}`];
}

/** The metric names (and PromQL functions, keywords) a rule expression references. */
export function ruleMetricNames(expr: string): string[] {
  // Label matchers and grouping clauses name labels, not metrics; strings hold regexes.
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2] !== undefined) continue; // a function call
    if (/^(and|or|unless|bool|offset|inf|nan)$/i.test(m[1])) continue;
    names.add(m[1]);
  }
  return [...names].sort();
}

const quoteRegex = (alternatives: string[]) => alternatives.join('|');

/** A Prometheus duration in whole seconds. */
function seconds(n: number): string {
  return `${Math.ceil(n)}s`;
}

/** The alerting rules of one cluster. */
export function alertRuleGroups(input: AlertRulesInput): AlertRuleGroup[] {
  const ns = input.namespace;
  const nsMatcher = ns !== undefined ? `namespace="${ns}",` : '';
  const pods = (sets: readonly AlertMemberSet[]) => quoteRegex(sets.map((s) => `${s.statefulSetName}-[0-9]+`));
  const allSets = input.memberSets;
  const streamingSets = allSets.filter((s) => s.applyDelaySeconds === undefined);
  const delayedSets = allSets.filter((s) => s.applyDelaySeconds !== undefined);
  const members = `${nsMatcher}pod=~"${pods(allSets)}"`;
  const memberCount = allSets.reduce((n, s) => n + s.count, 0);
  const hb = input.heartbeat;
  // The heartbeat turns a member unready after failureThreshold checks; Prometheus needs two
  // scrapes to see a state hold. A member-level alert waits for the longer of the two.
  const settle = Math.max(hb.intervalSeconds * hb.failureThreshold, 2 * input.scrapeIntervalSeconds);
  // A failover takes up to the leader lease plus one loop: no leader for longer is an outage.
  const failover = Math.max(settle, input.failover.ttlSeconds + input.failover.loopWaitSeconds + input.scrapeIntervalSeconds);
  const labels = (severity: string) => ({ severity, postgres_cluster: input.clusterName });
  const cluster = input.clusterName;

  const rules: AlertRule[] = [
    {
      alert: 'PostgresClusterNoLeader',
      expr: `(sum(pgc_heartbeat_is_leader{${members}}) or vector(0)) < 1`,
      for: seconds(failover),
      labels: labels('critical'),
      annotations: {
        summary: `PostgreSQL cluster ${cluster} has no leader`,
        description: `No member of ${cluster} reports itself the leader (pgc_heartbeat_is_leader) for longer than a failover takes (Patroni ttl ${input.failover.ttlSeconds} s + loop_wait ${input.failover.loopWaitSeconds} s): the cluster takes no writes.`,
      },
    },
    {
      alert: 'PostgresClusterMultipleLeaders',
      expr: `sum(pgc_heartbeat_is_leader{${members}}) > 1`,
      for: seconds(settle),
      labels: labels('critical'),
      annotations: {
        summary: `PostgreSQL cluster ${cluster} has more than one leader`,
        description: `More than one member of ${cluster} runs as a primary (pgc_heartbeat_is_leader): writes may go to a member that is not the cluster's leader (split brain).`,
      },
    },
    {
      alert: 'PostgresMemberDown',
      expr: `up{${members},container=~"metrics|heartbeat"} == 0 or pg_up{${members}} == 0`,
      for: seconds(settle),
      labels: labels('critical'),
      annotations: {
        summary: `PostgreSQL member {{ $labels.pod }} of ${cluster} is down`,
        description: 'The {{ $labels.container }} endpoint of {{ $labels.pod }} cannot be scraped, or its exporter cannot connect to PostgreSQL (pg_up 0).',
      },
    },
    {
      alert: 'PostgresMembersMissing',
      expr: `(count(up{${members},container="heartbeat"} == 1) or vector(0)) < ${memberCount}`,
      for: seconds(settle),
      labels: labels('warning'),
      annotations: {
        summary: `PostgreSQL cluster ${cluster} runs fewer than its ${memberCount} members`,
        description: `Fewer than ${memberCount} member pods of ${cluster} answer on their heartbeat endpoint: a pod is missing, pending or crashing.`,
      },
    },
  ];

  // Lag: the heartbeat's own limits, which already take a lagging replica out of the read-only Service.
  const lagBytes: string[] = [];
  const lagTime: string[] = [];
  if (streamingSets.length > 0) {
    const sel = `${nsMatcher}pod=~"${pods(streamingSets)}"`;
    lagBytes.push(`pgc_heartbeat_lag_bytes{${sel}} > ${hb.maxLagBytes}`);
    lagTime.push(`pgc_heartbeat_replay_lag_seconds{${sel}} > ${hb.maxLagSeconds}`);
  }
  for (const s of delayedSets) {
    // A delayed replica is meant to be applyDelay behind, and its unreplayed WAL has no bound.
    lagTime.push(`pgc_heartbeat_replay_lag_seconds{${nsMatcher}pod=~"${s.statefulSetName}-[0-9]+"} > ${hb.maxLagSeconds + s.applyDelaySeconds!}`);
  }
  if (lagBytes.length > 0) {
    rules.push({
      alert: 'PostgresReplicationLagBytes',
      expr: lagBytes.join(' or '),
      for: seconds(settle),
      labels: labels('warning'),
      annotations: {
        summary: `Replica {{ $labels.pod }} of ${cluster} lags more than ${hb.maxLagBytes} bytes`,
        description: `{{ $labels.pod }} has not replayed more WAL than the heartbeat's maxLag (${hb.maxLagBytes} bytes): it is out of the read-only Service.`,
      },
    });
  }
  rules.push(
    {
      alert: 'PostgresReplicationLagTime',
      expr: lagTime.join(' or '),
      for: seconds(settle),
      labels: labels('warning'),
      annotations: {
        summary: `Replica {{ $labels.pod }} of ${cluster} replays too far behind`,
        description: `{{ $labels.pod }}'s replay has stayed behind the WAL it received for longer than the heartbeat's maxLagTime (${hb.maxLagSeconds} s${delayedSets.length > 0 ? ', plus the apply delay on delayed replicas' : ''}).`,
      },
    },
    {
      alert: 'PostgresReplicaNotStreaming',
      expr: `pgc_heartbeat_streaming{${members}} == 0`,
      for: seconds(settle),
      labels: labels('warning'),
      annotations: {
        summary: `Replica {{ $labels.pod }} of ${cluster} is not streaming`,
        description: '{{ $labels.pod }}\'s WAL receiver is not streaming from the leader (pgc_heartbeat_streaming 0): it falls behind and is out of the read-only Service.',
      },
    },
  );

  if (input.archiving) {
    const timeout = input.archiving.archiveTimeoutSeconds;
    // The leader's heartbeat writes WAL every interval, so archive_timeout switches a segment at
    // least that often: several timeouts without an archived segment means archiving is stuck.
    rules.push(
      {
        alert: 'PostgresWalArchivingFailing',
        expr: `pgc_heartbeat_archive_failing{${members}} == 1`,
        for: seconds(Math.max(settle, 2 * timeout)),
        labels: labels('critical'),
        annotations: {
          summary: `WAL archiving of ${cluster} fails on {{ $labels.pod }}`,
          description: `The leader's last attempt to archive WAL to the backup repository failed and none succeeded since, for two archive timeouts (${2 * timeout} s): unarchived WAL stays on the volume until it fills.`,
        },
      },
      {
        alert: 'PostgresWalArchiveStale',
        expr: `pgc_heartbeat_archive_last_success_age_seconds{${members}} > ${3 * timeout}`,
        for: seconds(settle),
        labels: labels('critical'),
        annotations: {
          summary: `No WAL archived by ${cluster} for over ${3 * timeout} s`,
          description: `The leader {{ $labels.pod }} archived no WAL segment for three archive timeouts (archive_timeout ${timeout} s; the heartbeat writes WAL every interval, so a segment is due at least that often).`,
        },
      },
      {
        alert: 'PostgresWalArchiveBacklogGrowing',
        expr: `pgc_heartbeat_archive_ready_segments{${members}} > 1 and deriv(pgc_heartbeat_archive_ready_segments{${members}}[${seconds(5 * timeout)}]) > 0`,
        for: seconds(Math.max(settle, 5 * timeout)),
        labels: labels('warning'),
        annotations: {
          summary: `WAL waiting for the archiver grows on {{ $labels.pod }} of ${cluster}`,
          description: `More WAL segments wait to be archived on the leader than a moment ago, for five archive timeouts (${5 * timeout} s): the repository is slower than the WAL rate, or unreachable.`,
        },
      },
    );
  }

  const pvcs = `${nsMatcher}persistentvolumeclaim=~"${quoteRegex(allSets.map((s) => `${input.volumeClaimTemplate}-${s.statefulSetName}-[0-9]+`))}"`;
  const free = `kubelet_volume_stats_available_bytes{${pvcs}} / kubelet_volume_stats_capacity_bytes{${pvcs}}`;
  rules.push(
    {
      alert: 'PostgresVolumeFilling',
      expr: `${free} < ${VOLUME_WARNING_FREE}`,
      for: '5m',
      labels: labels('warning'),
      annotations: {
        summary: `Volume {{ $labels.persistentvolumeclaim }} of ${cluster} is filling`,
        description: 'Less than 1/4 of {{ $labels.persistentvolumeclaim }} is free (max_slot_wal_keep_size is 1/4 of the volume): check WAL archiving, replication slots and data growth.',
      },
    },
    {
      alert: 'PostgresVolumeAlmostFull',
      expr: `${free} < ${VOLUME_CRITICAL_FREE}`,
      for: '5m',
      labels: labels('critical'),
      annotations: {
        summary: `Volume {{ $labels.persistentvolumeclaim }} of ${cluster} is almost full`,
        description: 'Less than 1/8 of {{ $labels.persistentvolumeclaim }} is free, less than max_wal_size (1/8 of the volume): PostgreSQL stops when it is full.',
      },
    },
    {
      alert: 'PostgresConnectionsNearMax',
      expr: `sum by (namespace, pod) (pgc_connections_count{${members},state!="background"}) > ${CONNECTIONS_WARNING_SHARE} * sum by (namespace, pod) (pg_settings_max_connections{${members}} - pg_settings_superuser_reserved_connections{${members}})`,
      for: seconds(settle),
      labels: labels('warning'),
      annotations: {
        summary: `{{ $labels.pod }} of ${cluster} is near max_connections`,
        description: 'Client connections on {{ $labels.pod }} use more than 90 % of max_connections less superuser_reserved_connections (the settings the member runs with): new connections will soon be refused.',
      },
    },
    {
      alert: 'PostgresXidWraparoundApproaching',
      expr: `max by (namespace, pod) (pgc_database_xid_age{${members}}) > 2 * max by (namespace, pod) (pg_settings_autovacuum_freeze_max_age{${members}})`,
      for: '30m',
      labels: labels('warning'),
      annotations: {
        summary: `Transaction IDs of ${cluster} age past twice autovacuum_freeze_max_age on {{ $labels.pod }}`,
        description: 'A database\'s oldest unfrozen transaction ID on {{ $labels.pod }} is older than twice autovacuum_freeze_max_age: autovacuum is not keeping up (long transactions, abandoned replication slots or prepared transactions hold it back).',
      },
    },
    {
      alert: 'PostgresXidWraparoundImminent',
      expr: `max by (namespace, pod) (pgc_database_xid_age{${members}}) > ${XID_CRITICAL_AGE}`,
      for: '5m',
      labels: labels('critical'),
      annotations: {
        summary: `Transaction ID wraparound of ${cluster} is near on {{ $labels.pod }}`,
        description: 'A database\'s oldest unfrozen transaction ID on {{ $labels.pod }} is more than 3/4 of the way to 2^31, where PostgreSQL stops taking writes: VACUUM FREEZE it now.',
      },
    },
    {
      alert: 'PostgresPendingRestart',
      expr: `pgc_settings_pending_restart{${members}} > 0`,
      for: seconds(PENDING_RESTART_SECONDS),
      labels: labels('warning'),
      annotations: {
        summary: `{{ $labels.pod }} of ${cluster} waits for a restart`,
        description: `Settings changed on {{ $labels.pod }} take effect only after a restart, for over an hour: the config Job's restart did not run or failed (restart through the ${cluster}-restart CronJob).`,
      },
    },
  );

  for (const b of input.backups ?? []) {
    const age = backupAgeThresholdSeconds(b.schedules);
    if (age === undefined) continue;
    const { gap, threshold } = age;
    // kube-state-metrics' CronJob metrics.
    const metric = 'kube_cronjob_status_last_successful_time';
    const selectors = namespacedSelectors(ns, `cronjob=~"${quoteRegex([...b.cronJobs])}"`);
    const hours = (n: number) => `${Math.round(n / 360) / 10} h`;
    rules.push({
      alert: 'PostgresBackupTooOld',
      expr: `time() - max(${selectors.map((sel) => `${metric}${sel}`).join(' or ')}) > ${Math.ceil(threshold)}`,
      for: '10m',
      labels: { ...labels('warning'), repo: String(b.repo) },
      annotations: {
        summary: `The newest backup of ${cluster} in repository ${b.repo} is older than its schedules allow`,
        description: `No backup CronJob of repository ${b.repo} (${b.cronJobs.join(', ')}) succeeded for ${hours(threshold)}: its schedules leave at most ${hours(gap)} between runs. Check the last Job's log (kubectl get jobs -l app.kubernetes.io/component=backup). Needs kube-state-metrics' CronJob metrics.`,
      },
    });
  }

  if (input.certificates.length > 0) {
    // cert-manager renews renewBefore ahead of expiry.
    const byRenew = new Map<number, string[]>();
    for (const c of [...input.certificates].sort((a, b) => a.name.localeCompare(b.name))) {
      byRenew.set(c.renewBeforeSeconds, [...(byRenew.get(c.renewBeforeSeconds) ?? []), c.name]);
    }
    const metric = 'certmanager_certificate_expiration_timestamp_seconds';
    const clauses = [...byRenew.entries()].sort(([a], [b]) => a - b).flatMap(([renew, names]) => {
      return namespacedSelectors(ns, `name=~"${quoteRegex(names)}"`).map((sel) => `${metric}${sel} - time() < ${renew}`);
    });
    rules.push({
      alert: 'PostgresCertificateNotRenewed',
      expr: clauses.join(' or '),
      for: seconds(CERTIFICATE_RENEWAL_GRACE_SECONDS),
      labels: labels('warning'),
      annotations: {
        summary: `Certificate {{ $labels.name }} of ${cluster} was not renewed`,
        description: '{{ $labels.name }} expires sooner than its renewBefore, for over an hour: cert-manager failed to renew it (kubectl describe certificate {{ $labels.name }}). Members, the pooler and pgBackRest refuse connections once it has expired.',
      },
    });
  }

  return [{ name: `postgres-cluster-${cluster}`, rules }];
}
