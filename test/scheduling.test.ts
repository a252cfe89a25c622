/**
 * Scheduling controls (node selector, tolerations, affinity, priority class) for every pod the
 * library makes: the cluster's `scheduling` for all, a part's own replacing it for its pods, the
 * library's own affinity rules always kept, and every bad value refused naming the property.
 */
import { Duration, Testing } from 'cdk8s';
import { BackupRepository, PostgresCluster, PostgresClusterProps, SchedulingOptions, TaintEffect, TolerationOperator } from '../src';
import { Manifest, podTemplates, synthCluster } from './helpers/manifests';

const EVERYTHING: PostgresClusterProps = {
  delayedReplicas: { applyDelay: Duration.hours(1) },
  users: [{ name: 'app_user' }],
  pooler: { readOnly: true },
  backup: { repositories: [BackupRepository.volume()] },
};

const DB_NODES: SchedulingOptions = {
  nodeSelector: { 'node-role.example.com/db': 'true' },
  tolerations: [
    { key: 'dedicated', operator: TolerationOperator.EQUAL, value: 'db', effect: TaintEffect.NO_SCHEDULE },
    { key: 'node.kubernetes.io/unreachable', operator: TolerationOperator.EXISTS, effect: TaintEffect.NO_EXECUTE, tolerationSeconds: Duration.seconds(30) },
  ],
  priorityClassName: 'database-critical',
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['eu-west-1a', 'eu-west-1b'] }] }],
      },
    },
  },
};

const RENDERED_TOLERATIONS = [
  { key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
];

const who = (t: { owner: Manifest }) => `${t.owner.kind}/${t.owner.metadata.name}`;

describe('the cluster\'s scheduling', () => {
  const m = synthCluster({ ...EVERYTHING, scheduling: DB_NODES });
  const pods = podTemplates(m);

  test('reaches every pod: members of every node set, the backup node, backup Jobs and CronJobs, the poolers, the credentials, access, config and CA Jobs', () => {
    const kinds = new Set(pods.map((t) => t.metadata.labels?.['app.kubernetes.io/name']));
    expect([...kinds].sort()).toEqual(['pgbackrest', 'pgbouncer', 'postgresql', 'postgresql-access', 'postgresql-ca', 'postgresql-config', 'postgresql-credentials']);
    expect(pods.length).toBeGreaterThanOrEqual(12);
    for (const t of pods) {
      expect([who(t), t.spec.nodeSelector]).toEqual([who(t), { 'node-role.example.com/db': 'true' }]);
      expect([who(t), t.spec.tolerations]).toEqual([who(t), RENDERED_TOLERATIONS]);
      expect([who(t), t.spec.priorityClassName]).toEqual([who(t), 'database-critical']);
      expect([who(t), t.spec.affinity.nodeAffinity]).toEqual([who(t), DB_NODES.affinity!.nodeAffinity]);
    }
  });

  test('the library\'s own rules stay: the backup node\'s anti-affinity to the members, the backup Jobs\' affinity to the backup node', () => {
    const repoHost = pods.find((t) => t.owner.metadata.name === 'db-repo-host')!;
    expect(repoHost.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    for (const t of pods.filter((x) => x.metadata.labels?.['app.kubernetes.io/component'] === 'backup')) {
      expect([who(t), t.spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey]).toEqual([who(t), 'kubernetes.io/hostname']);
    }
  });

  test('without scheduling nothing is set', () => {
    for (const t of podTemplates(synthCluster(EVERYTHING))) {
      expect([who(t), t.spec.nodeSelector, t.spec.tolerations, t.spec.priorityClassName]).toEqual([who(t), undefined, undefined, undefined]);
    }
  });
});

describe('a part\'s own scheduling replaces the cluster\'s for its pods', () => {
  const own = (label: string): SchedulingOptions => ({ nodeSelector: { pool: label } });
  const m = synthCluster({
    ...EVERYTHING,
    scheduling: { nodeSelector: { pool: 'cluster' } },
    primary: { scheduling: own('primary') },
    replicas: { scheduling: own('replicas') },
    delayedReplicas: { applyDelay: Duration.hours(1), scheduling: own('delayed') },
    backup: { repositories: [BackupRepository.volume()], scheduling: own('backup') },
    pooler: { readOnly: true, scheduling: own('pooler') },
  });

  test.each([
    ['StatefulSet/db-primary', 'primary'],
    ['StatefulSet/db-replica', 'replicas'],
    ['StatefulSet/db-delayed', 'delayed'],
    ['StatefulSet/db-repo-host', 'backup'],
    ['CronJob/db-repo1-full', 'backup'],
    ['Deployment/db-pooler', 'pooler'],
    ['Deployment/db-pooler-ro', 'pooler'],
  ])('%s runs on pool %s', (pod, pool) => {
    const t = podTemplates(m).find((x) => who(x) === pod)!;
    expect(t.spec.nodeSelector).toEqual({ pool });
  });

  test('the backup init Job follows backup.scheduling; the credentials, access and CA Jobs the cluster\'s', () => {
    for (const t of podTemplates(m).filter((x) => x.owner.kind === 'Job')) {
      const expected = t.metadata.labels?.['app.kubernetes.io/name'] === 'pgbackrest' ? 'backup' : 'cluster';
      expect([who(t), t.spec.nodeSelector]).toEqual([who(t), { pool: expected }]);
    }
  });
});

test('user pod anti-affinity terms are added to requireSeparateNodes\' required term', () => {
  const m = synthCluster({
    requireSeparateNodes: true,
    scheduling: {
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: { labelSelector: { matchLabels: { app: 'noisy' } }, topologyKey: 'kubernetes.io/hostname' } }],
        },
      },
    },
  });
  const primary = podTemplates(m).find((t) => t.owner.metadata.name === 'db-primary')!;
  expect(primary.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
  expect(primary.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels['postgres.cdk8s.io/cluster']).toBe('db');
  expect(primary.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
    { weight: 50, podAffinityTerm: { labelSelector: { matchLabels: { app: 'noisy' } }, topologyKey: 'kubernetes.io/hostname' } },
  ]);
});

describe('bad scheduling is refused, naming the property', () => {
  const refused = (props: PostgresClusterProps) => () => new PostgresCluster(Testing.chart(), 'db', props);
  test.each<[string, PostgresClusterProps, string]>([
    ['a node selector key', { scheduling: { nodeSelector: { 'bad key': 'x' } } }, 'test/db: invalid scheduling.nodeSelector = "bad key": keys must be label keys'],
    ['a node selector value', { scheduling: { nodeSelector: { pool: 'a b' } } }, 'test/db: invalid scheduling.nodeSelector.pool = "a b": must be a label value'],
    ['a toleration with no key and Equal', { scheduling: { tolerations: [{ value: 'x' }] } },
      'test/db: invalid scheduling.tolerations[0].key = undefined: an empty key matches every taint and needs TolerationOperator.EXISTS'],
    ['Exists with a value', { scheduling: { tolerations: [{ key: 'k', operator: TolerationOperator.EXISTS, value: 'v' }] } },
      'test/db: invalid scheduling.tolerations[0].value = "v": TolerationOperator.EXISTS matches any value: leave value unset'],
    ['tolerationSeconds without NoExecute', { scheduling: { tolerations: [{ key: 'k', effect: TaintEffect.NO_SCHEDULE, tolerationSeconds: Duration.seconds(5) }] } },
      'test/db: invalid scheduling.tolerations[0].tolerationSeconds = "5s": only applies with TaintEffect.NO_EXECUTE'],
    ['an unknown effect', { scheduling: { tolerations: [{ key: 'k', effect: 'Never' as TaintEffect }] } },
      'test/db: invalid scheduling.tolerations[0].effect = "Never": must be one of NoSchedule, PreferNoSchedule, NoExecute'],
    ['a priority class name', { scheduling: { priorityClassName: 'High_Priority' } }, 'test/db: invalid scheduling.priorityClassName = "High_Priority": must be a PriorityClass name'],
    ['a pod affinity term without topologyKey', { scheduling: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: '' }] } } } },
      'test/db: invalid scheduling.affinity.podAffinity = "": every term needs a topologyKey'],
    ['a weight out of range', { scheduling: { affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, preference: {} }] } } } },
      'test/db: invalid scheduling.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight = 0: must be a whole number from 1 to 100'],
    ['a part\'s own', { primary: { scheduling: { priorityClassName: 'X' } } }, 'test/db/Primary: invalid primary.scheduling.priorityClassName = "X"'],
    ['the replicas\'', { replicas: { scheduling: { nodeSelector: { '': 'x' } } } }, 'test/db/Replicas: invalid replicas.scheduling.nodeSelector = ""'],
    ['the pooler\'s', { pooler: { scheduling: { tolerations: [{ key: '-x' }] } } }, 'test/db: invalid pooler.scheduling.tolerations[0].key = "-x": must be a label key'],
    ['the backup\'s', { backup: { repositories: [BackupRepository.volume()], scheduling: { priorityClassName: '-' } } }, 'test/db: invalid backup.scheduling.priorityClassName = "-"'],
  ])('%s', (_what, props, message) => {
    expect(refused(props)).toThrow(message);
  });
});
