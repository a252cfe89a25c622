import { Duration, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parse } from 'yaml';
import { PatroniDcs, PostgresCluster, ReplicationMode } from '../src';
import {
  Manifest, buildCluster, exampleNames, exampleYaml, find, ofKind, podTemplates, selects, synthCluster, synthWith,
} from './helpers/manifests';

function patroni(manifests: Manifest[], sts: string): any {
  return parse(find(manifests, 'ConfigMap', `${sts}-config`).data['patroni.yaml']);
}

function credentialsJobs(m: Manifest[]): Manifest[] {
  return ofKind(m, 'Job').filter((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-credentials');
}

function key(m: Manifest): string {
  return `${m.kind}/${m.metadata.name}`;
}

describe('PostgresCluster with zero props', () => {
  const manifests = synthCluster();

  test('one primary pod and two replicas', () => {
    expect(find(manifests, 'StatefulSet', 'db-primary').spec.replicas).toBe(1);
    expect(find(manifests, 'StatefulSet', 'db-replica').spec.replicas).toBe(2);
    expect(ofKind(manifests, 'StatefulSet')).toHaveLength(2);
  });

  test('read-write, read-only and headless Services', () => {
    expect(ofKind(manifests, 'Service').map((s) => s.metadata.name).sort()).toEqual(['db-pods', 'db-primary', 'db-replicas']);
    expect(find(manifests, 'Service', 'db-pods').spec.clusterIP).toBe('None');
    expect(find(manifests, 'Service', 'db-primary').spec.selector['postgres.cdk8s.io/role']).toBe('primary');
    expect(find(manifests, 'Service', 'db-replicas').spec.selector['postgres.cdk8s.io/role']).toBe('replica');
    for (const name of ['db-primary', 'db-replicas']) {
      expect(find(manifests, 'Service', name).spec.ports).toEqual([{ name: 'postgres', port: 5432, targetPort: 'postgres', protocol: 'TCP' }]);
    }
  });

  test('asynchronous replication, Patroni defaults, configmaps DCS, failsafe on', () => {
    const dcs = patroni(manifests, 'db-primary').bootstrap.dcs;
    expect(dcs).toMatchObject({
      ttl: 30, loop_wait: 10, retry_timeout: 10, synchronous_mode: false, failsafe_mode: true, maximum_lag_on_failover: 32 * 1024 * 1024,
    });
    expect(patroni(manifests, 'db-primary').kubernetes.use_endpoints).toBe(false);
    expect(dcs.postgresql.parameters.max_connections).toBe(100);
  });

  test('Resources.SMALL and a 10Gi volume on every member; soft spreading', () => {
    for (const sts of ofKind(manifests, 'StatefulSet')) {
      expect(sts.spec.template.spec.containers[0].resources).toEqual({
        requests: { cpu: '500m', memory: '1024Mi' }, limits: { cpu: '500m', memory: '1024Mi' },
      });
      expect(sts.spec.volumeClaimTemplates[0].spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10240Mi' } } });
      expect(sts.spec.template.spec.topologySpreadConstraints.map((c: any) => c.whenUnsatisfiable)).toEqual(['ScheduleAnyway', 'ScheduleAnyway']);
    }
  });

  test('only replicas wait for a leader before cloning', () => {
    expect(find(manifests, 'StatefulSet', 'db-primary').spec.template.spec.initContainers).toBeUndefined();
    const init = find(manifests, 'StatefulSet', 'db-replica').spec.template.spec.initContainers;
    expect(init.map((c: any) => c.name)).toEqual(['wait-for-leader']);
    expect(init[0].env).toContainEqual({ name: 'PGC_LEADER_HOST', value: 'db-primary' });
  });

  test('a credentials Job creates the superuser, replication and monitoring Secrets', () => {
    // Besides the credentials Job, only the CA publisher's Job.
    expect(ofKind(manifests, 'Job').map((j) => j.metadata.labels?.['app.kubernetes.io/name']).sort()).toEqual(['postgresql-ca', 'postgresql-config', 'postgresql-credentials']);
    const jobs = credentialsJobs(manifests);
    expect(jobs).toHaveLength(1);
    expect(jobs[0].metadata.name).toMatch(/^db-credentials-[0-9a-f]{8}$/);
    const env = jobs[0].spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'SECRETS', value: 'db-superuser=postgres db-replication=replicator db-monitoring=cdk8s_monitor db-rewind=cdk8s_rewind db-access=cdk8s_access' });
    const role = find(manifests, 'Role', 'db-credentials');
    expect(role.rules.find((r: any) => r.resourceNames).resourceNames).toEqual(['db-superuser', 'db-replication', 'db-monitoring', 'db-rewind', 'db-access']);
  });

  test('outputs without a chart namespace', () => {
    const { cluster } = buildCluster();
    expect(cluster.clusterName).toBe('db');
    expect(cluster.primaryHost).toBe('db-primary');
    expect(cluster.replicasHost).toBe('db-replicas');
    expect(cluster.port).toBe(5432);
    expect(cluster.superuserSecretName).toBe('db-superuser');
    expect(cluster.replicationSecretName).toBe('db-replication');
    expect(cluster.headlessServiceName).toBe('db-pods');
    expect(cluster.monitoringSecretName).toBe('db-monitoring');
    expect(cluster.primary.statefulSetName).toBe('db-primary');
    expect(cluster.replicas.statefulSetName).toBe('db-replica');
    expect(cluster.replicas.count).toBe(2);
  });

  test('outputs with a chart namespace', () => {
    const { cluster, chart } = buildCluster({}, { namespace: 'shop' });
    expect(cluster.primaryHost).toBe('db-primary.shop.svc');
    expect(cluster.replicasHost).toBe('db-replicas.shop.svc');
    expect(cluster.port).toBe(5432);
    expect(cluster.superuserSecretName).toBe('db-superuser');
    for (const m of Testing.synth(chart)) expect(m.metadata.namespace).toBe('shop');
  });

  test('clusterName overrides the construct id in every name', () => {
    const named = synthCluster({ clusterName: 'orders' });
    for (const m of named) expect(m.metadata.name.startsWith('orders')).toBe(true);
    expect(patroni(named, 'orders-primary').scope).toBe('orders');
  });
});

describe('replication modes', () => {
  test('synchronous mode renders synchronous_mode and synchronous_node_count', () => {
    const m = synthCluster({ replicas: { count: 3 }, config: { replication: { mode: ReplicationMode.SYNCHRONOUS, synchronousStandbys: 2 } } });
    for (const sts of ['db-primary', 'db-replica']) {
      expect(patroni(m, sts).bootstrap.dcs).toMatchObject({ synchronous_mode: true, synchronous_mode_strict: false, synchronous_node_count: 2 });
    }
  });

  test('synchronous mode defaults to one standby', () => {
    const m = synthCluster({ config: { replication: { mode: ReplicationMode.SYNCHRONOUS } } });
    expect(patroni(m, 'db-primary').bootstrap.dcs).toMatchObject({ synchronous_mode: true, synchronous_node_count: 1 });
  });

  test('SYNCHRONOUS_STRICT sets synchronous_mode_strict', () => {
    const m = synthCluster({ config: { replication: { mode: ReplicationMode.SYNCHRONOUS_STRICT } } });
    expect(patroni(m, 'db-primary').bootstrap.dcs).toMatchObject({ synchronous_mode: true, synchronous_mode_strict: true, synchronous_node_count: 1 });
  });
});

describe('user-supplied secrets', () => {
  const build = (both: boolean) => synthWith((chart) => {
    new PostgresCluster(chart, 'db', {
      superuserSecret: kplus.Secret.fromSecretName(chart, 'su', 'my-superuser'),
      replicationSecret: both ? kplus.Secret.fromSecretName(chart, 'repl', 'my-replication') : undefined,
    });
  });

  test('are never generated (the Job only creates the monitoring Secret) and are referenced by every member', () => {
    const m = build(true);
    const jobs = credentialsJobs(m);
    expect(jobs).toHaveLength(1);
    const jobEnv = jobs[0].spec.template.spec.containers[0].env;
    expect(jobEnv).toContainEqual({ name: 'SECRETS', value: 'db-monitoring=cdk8s_monitor db-rewind=cdk8s_rewind db-access=cdk8s_access' });
    expect(JSON.stringify(jobs[0])).not.toMatch(/my-superuser|my-replication|db-superuser|db-replication/);
    const role = find(m, 'Role', 'db-credentials');
    expect(role.rules.find((r: any) => r.resourceNames).resourceNames).toEqual(['db-monitoring', 'db-rewind', 'db-access']);
    const members = podTemplates(m).filter((t) => t.owner.kind === 'StatefulSet');
    expect(members.map((t) => t.owner.metadata.name).sort()).toEqual(['db-primary', 'db-replica']);
    for (const t of members) {
      const env = t.spec.containers[0].env;
      expect(env).toContainEqual({ name: 'PATRONI_SUPERUSER_PASSWORD', valueFrom: { secretKeyRef: { name: 'my-superuser', key: 'password' } } });
      expect(env).toContainEqual({ name: 'PATRONI_REPLICATION_PASSWORD', valueFrom: { secretKeyRef: { name: 'my-replication', key: 'password' } } });
      expect(env).toContainEqual({ name: 'PGC_MONITOR_PASSWORD_FILE', value: '/etc/postgres-monitoring/password' });
    }
    expect(ofKind(m, 'Secret')).toEqual([]);
  });

  test('the outputs name the user secrets', () => {
    const chart = Testing.chart();
    const cluster = new PostgresCluster(chart, 'db', { superuserSecret: kplus.Secret.fromSecretName(chart, 'su', 'my-superuser') });
    expect(cluster.superuserSecretName).toBe('my-superuser');
    expect(cluster.replicationSecretName).toBe('db-replication');
  });

  test('with one user secret, the Job creates only the other and the monitoring Secret', () => {
    const m = build(false);
    const jobs = credentialsJobs(m);
    expect(jobs).toHaveLength(1);
    expect(jobs[0].spec.template.spec.containers[0].env).toContainEqual({ name: 'SECRETS', value: 'db-replication=replicator db-monitoring=cdk8s_monitor db-rewind=cdk8s_rewind db-access=cdk8s_access' });
    const role = find(m, 'Role', 'db-credentials');
    expect(role.rules.find((r: any) => r.resourceNames).resourceNames).toEqual(['db-replication', 'db-monitoring', 'db-rewind', 'db-access']);
  });
});

describe('DCS mode', () => {
  test('ENDPOINTS grants endpoints and services instead of configmaps, and sets use_endpoints', () => {
    const m = synthCluster({ dcs: PatroniDcs.ENDPOINTS });
    const resources = find(m, 'Role', 'db-patroni').rules.flatMap((r: any) => r.resources).sort();
    expect(resources).toEqual(['endpoints', 'pods', 'services']);
    expect(find(m, 'Role', 'db-patroni').rules.find((r: any) => r.resources.includes('services')).verbs).toEqual(['create']);
    expect(patroni(m, 'db-primary').kubernetes.use_endpoints).toBe(true);
    expect(patroni(m, 'db-replica').kubernetes.use_endpoints).toBe(true);
    // The new leader's callback reads Patroni's leader object of this mode.
    expect(patroni(m, 'db-replica').postgresql.callbacks.on_role_change).toMatch(/ --leader-object=endpoints\/db$/);
  });

  test.each(['db-primary', 'db-replica'])('%s: a new leader takes the leader label off a lost leader (Patroni\'s on_role_change callback)', (sts) => {
    const m = synthCluster({ dcs: PatroniDcs.CONFIGMAPS });
    expect(patroni(m, sts).postgresql.callbacks).toEqual({
      on_role_change: '/usr/bin/python3 /opt/cdk8s-postgres/on-role-change.py --scope-label=postgres.cdk8s.io/cluster '
        + '--role-label=postgres.cdk8s.io/role --leader-value=primary --leader-object=configmaps/db-leader',
    });
    // The program it runs ships in the scripts ConfigMap the members mount.
    expect(find(m, 'ConfigMap', 'db-scripts').data['on-role-change.py']).toMatch(/^#!\/usr\/bin\/env python3/);
    expect(find(m, 'StatefulSet', sts).spec.template.spec.containers[0].volumeMounts.map((v: any) => v.mountPath)).toContain('/opt/cdk8s-postgres');
  });

  test('CONFIGMAPS (the default) grants configmaps only', () => {
    const m = synthCluster({ dcs: PatroniDcs.CONFIGMAPS });
    expect(find(m, 'Role', 'db-patroni').rules.flatMap((r: any) => r.resources).sort()).toEqual(['configmaps', 'pods']);
    expect(patroni(m, 'db-primary').kubernetes.use_endpoints).toBe(false);
  });
});

describe('scheduling', () => {
  test('requireSeparateNodes: a required anti-affinity on kubernetes.io/hostname to every member of the cluster, in every node set', () => {
    const m = synthCluster({ requireSeparateNodes: true, delayedReplicas: { applyDelay: Duration.hours(1) } });
    const members = ofKind(m, 'StatefulSet');
    expect(members.map((s) => s.metadata.name).sort()).toEqual(['db-delayed', 'db-primary', 'db-replica']);
    for (const sts of members) {
      const pod = sts.spec.template.spec;
      expect(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual([{
        // every member of the cluster, not only this StatefulSet's: no node set label
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'postgresql', 'postgres.cdk8s.io/cluster': 'db' } },
        topologyKey: 'kubernetes.io/hostname',
      }]);
      // the selector matches every member pod template (so the scheduler refuses any two on one node)
      const selector = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels;
      for (const other of members) expect(selects(selector, other.spec.template.metadata.labels)).toBe(true);
      // spreading stays soft: a hard spread with maxSkew 1 would not refuse 2/1/1 anyway
      expect(pod.topologySpreadConstraints.map((c: any) => c.whenUnsatisfiable)).toEqual(['ScheduleAnyway', 'ScheduleAnyway']);
    }
  });

  test('without requireSeparateNodes there is no required anti-affinity', () => {
    for (const sts of ofKind(synthCluster(), 'StatefulSet')) {
      expect(sts.spec.template.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
    }
  });
});

describe('scaling', () => {
  test('replicas 2 -> 3 changes only the replica StatefulSet and the config Job, its Role and both CronJobs (their list of members)', () => {
    const before = synthCluster({ replicas: { count: 2 } });
    const after = synthCluster({ replicas: { count: 3 } });
    const unhashed = (ms: Manifest[]) => ms.map((m) => key(m).replace(/^(Job\/db-config)-[0-9a-f]{8}$/, '$1'));
    expect(unhashed(after)).toEqual(unhashed(before));
    const changed: string[] = [];
    for (const [i, m] of before.entries()) {
      if (JSON.stringify(m) !== JSON.stringify(after[i])) changed.push(key(m));
    }
    expect(changed.map((c) => c.replace(/-[0-9a-f]{8}$/, '-<hash>'))).toEqual(['StatefulSet/db-replica', 'Role/db-config', 'Job/db-config-<hash>', 'CronJob/db-reconcile', 'CronJob/db-restart']);
    const sts = (ms: Manifest[]) => find(ms, 'StatefulSet', 'db-replica');
    expect(sts(after).spec.replicas).toBe(3);
    expect({ ...sts(after).spec, replicas: 2 }).toEqual(sts(before).spec);
  });

  test('scaling a synchronous cluster changes only the replica StatefulSet and the config Job, its Role and both CronJobs too', () => {
    const props = (count: number) => ({ replicas: { count }, config: { replication: { mode: ReplicationMode.SYNCHRONOUS } } });
    const before = synthCluster(props(2));
    const after = synthCluster(props(5));
    const changed = before.filter((m, i) => JSON.stringify(m) !== JSON.stringify(after[i])).map(key);
    expect(changed.map((c) => c.replace(/-[0-9a-f]{8}$/, '-<hash>'))).toEqual(['StatefulSet/db-replica', 'Role/db-config', 'Job/db-config-<hash>', 'CronJob/db-reconcile', 'CronJob/db-restart']);
  });
});

describe('determinism', () => {
  test.each(exampleNames())('two synths of example %s are byte-identical', (name) => {
    expect(exampleYaml(name)).toBe(exampleYaml(name));
  });

  test('two synths of the same chart are byte-identical', () => {
    const { chart } = buildCluster({ config: { replication: { mode: ReplicationMode.SYNCHRONOUS } } });
    const a = JSON.stringify(Testing.synth(chart));
    const b = JSON.stringify(Testing.synth(chart));
    expect(a).toBe(b);
    expect(JSON.stringify(synthCluster({ config: { replication: { mode: ReplicationMode.SYNCHRONOUS } } }))).toBe(a);
  });

  test('a member setting changes the pod template (config hash) and so makes a new config Job that rolls it; a cluster-wide one only a new config Job; the credentials Job keeps its name', () => {
    const hash = (m: Manifest[], sts: string) => find(m, 'StatefulSet', sts).spec.template.metadata.annotations['postgres.cdk8s.io/config-hash'];
    const job = (m: Manifest[], label: string) => ofKind(m, 'Job').find((j) => j.metadata.labels?.['app.kubernetes.io/name'] === label)!.metadata.name;
    const a = synthCluster();
    // max_connections lives in Patroni's DCS: Patroni ignores bootstrap.dcs on restart, so
    // rolling the pods would apply nothing; the config Job applies it and restarts in order.
    const dcs = synthCluster({ config: { connection: { maxConnections: 200 } } });
    // statement_timeout is in each member's own patroni.yaml: a new pod template.
    const member = synthCluster({ config: { connection: { statementTimeout: Duration.seconds(30) } } });
    expect(hash(a, 'db-primary')).toMatch(/^[0-9a-f]{16}$/);
    for (const sts of ['db-primary', 'db-replica']) {
      expect(hash(dcs, sts)).toBe(hash(a, sts));
      expect(hash(member, sts)).not.toBe(hash(a, sts));
    }
    expect(job(dcs, 'postgresql-config')).not.toBe(job(a, 'postgresql-config'));
    // The rollout of the new template is the config Job's: a new one.
    expect(job(member, 'postgresql-config')).not.toBe(job(a, 'postgresql-config'));
    expect(job(member, 'postgresql-config')).not.toBe(job(dcs, 'postgresql-config'));
    expect(job(dcs, 'postgresql-credentials')).toBe(job(a, 'postgresql-credentials'));
  });
});

describe('snapshots', () => {
  test.each(exampleNames())('example %s', (name) => {
    expect(exampleYaml(name)).toMatchSnapshot();
  });
});
