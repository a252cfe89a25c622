/**
 * The config Job: what it applies (Patroni's bootstrap.dcs as synthesized), where (every member's
 * REST API), with which credentials (a certificate of the cluster CA), and the NetworkPolicy that
 * lets only it reach the REST API besides the members. Its program is tested in
 * test/scripts/test_apply_config.py and on the real cluster in test/e2e/dynamic-config.e2e.test.ts.
 */
import { createHash } from 'crypto';
import { Duration, JsonPatch, Size, Testing } from 'cdk8s';
import { Cpu } from 'cdk8s-plus-27';
import { parse as parseYaml } from 'yaml';
import { PostgresCluster, PostgresImage, Resources, Tls } from '../src';
import { Manifest, buildCluster, find, ofKind, synthCluster } from './helpers/manifests';
import { TEMPLATE_HASH_ANNOTATION } from '../src/labels';
import { APPLY_CONFIG_SCRIPT } from '../src/render/scripts';
import { RESTRICTED_CONTAINER } from '../src/validate/pod-security';

const configJob = (m: Manifest[]) => ofKind(m, 'Job').find((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-config')!;
/** A cluster `db` (default props) changed after construction by `change`, synthesized. */
function synthWith(change: (c: PostgresCluster) => void): { cluster: PostgresCluster; manifests: Manifest[] } {
  const { chart, cluster } = buildCluster();
  change(cluster);
  return { cluster, manifests: Testing.synth(chart) as Manifest[] };
}
const env = (job: Manifest) => Object.fromEntries(job.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));

describe('defaults (TLS)', () => {
  const m = synthCluster({ replicas: { count: 2 }, delayedReplicas: { count: 1, applyDelay: Duration.hours(1) } });
  const job = configJob(m);
  const pod = job.spec.template.spec;
  const e = env(job);

  test('named after its spec, restricted, its own ServiceAccount\'s token, cleaned up after a day', () => {
    expect(job.metadata.name).toMatch(/^db-config-[0-9a-f]{8}$/);
    expect(pod.serviceAccountName).toBe('db-config');
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(find(m, 'ServiceAccount', 'db-config').automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].securityContext).toEqual(RESTRICTED_CONTAINER);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(pod.containers[0].command.slice(1)).toEqual(['-c', APPLY_CONFIG_SCRIPT]);
  });

  test('it applies bootstrap.dcs exactly as the members\' patroni.yaml declares it', () => {
    const dcs = parseYaml(find(m, 'ConfigMap', 'db-primary-config').data['patroni.yaml']).bootstrap.dcs;
    expect(JSON.parse(e.PGC_CONFIG)).toEqual({ config: dcs, removable: ['ignore_slots'] });
    // Every node set declares the same cluster-wide settings.
    for (const cm of ['db-replica-config', 'db-delayed-config']) {
      expect(parseYaml(find(m, 'ConfigMap', cm).data['patroni.yaml']).bootstrap.dcs).toEqual(dcs);
    }
  });

  test('it reaches every member by its headless name over HTTPS, with the server certificate of the cluster CA', () => {
    expect(e.PGC_MEMBERS.split(' ')).toEqual([
      'https://db-primary-0.db-pods:8008', 'https://db-replica-0.db-pods:8008', 'https://db-replica-1.db-pods:8008', 'https://db-delayed-0.db-pods:8008',
    ]);
    expect(e.PGC_TLS_DIR).toBe('/etc/postgres-tls/client');
    expect(pod.volumes).toEqual([{ name: 'tls', secret: { secretName: 'db-server-tls', items: ['ca.crt', 'tls.crt', 'tls.key'].map((k) => ({ key: k, path: k })), defaultMode: 0o440 } }]);
  });

  test('NetworkPolicy: the Job may reach only DNS, the API server and the members\' REST API, and the members admit it there only', () => {
    const own = find(m, 'NetworkPolicy', 'db-config');
    expect(own.spec.podSelector).toEqual({ matchLabels: { 'postgres.cdk8s.io/cluster': 'db', 'app.kubernetes.io/name': 'postgresql-config' } });
    expect(own.spec.ingress).toBeUndefined();
    const egressPorts = own.spec.egress.map((r: any) => r.ports.map((p: any) => `${p.protocol}/${p.port}`).join(','));
    expect(egressPorts).toEqual(['UDP/53,TCP/53', 'TCP/443,TCP/6443', 'TCP/8008']);
    const members = find(m, 'NetworkPolicy', 'db-members');
    const fromJob = members.spec.ingress.filter((r: any) => r.from?.some((f: any) => f.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'postgresql-config'));
    expect(fromJob.map((r: any) => r.ports)).toEqual([[{ protocol: 'TCP', port: 8008 }]]);
  });
});

describe('rollout: every member StatefulSet is OnDelete, and the Job replaces its out-of-date pods', () => {
  const m = synthCluster({ replicas: { count: 2 }, delayedReplicas: { count: 1, applyDelay: Duration.hours(1) } });
  const job = configJob(m);
  const sets = ['db-primary', 'db-replica', 'db-delayed'];

  test('no StatefulSet replaces pods by itself', () => {
    for (const s of sets) expect(find(m, 'StatefulSet', s).spec.updateStrategy).toEqual({ type: 'OnDelete' });
  });

  test('the Job declares each StatefulSet\'s template hash, the one the StatefulSet carries, a hash of the template as written', () => {
    const rollout = JSON.parse(env(job).PGC_ROLLOUT);
    expect(rollout.selector).toBe('app.kubernetes.io/name=postgresql,postgres.cdk8s.io/cluster=db');
    // The runs of the program take turns: every config Job, reconcile and restart run carries these labels.
    expect(rollout.jobSelector).toBe('postgres.cdk8s.io/cluster=db,app.kubernetes.io/name=postgresql-config');
    for (const t of [job.spec.template, find(m, 'CronJob', 'db-reconcile').spec.jobTemplate.spec.template, find(m, 'CronJob', 'db-restart').spec.jobTemplate.spec.template]) {
      expect(t.metadata.labels).toMatchObject({ 'postgres.cdk8s.io/cluster': 'db', 'app.kubernetes.io/name': 'postgresql-config' });
    }
    const jobName = job.spec.template.spec.containers[0].env.find((e: any) => e.name === 'PGC_JOB_NAME');
    expect(jobName.valueFrom).toEqual({ fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } });
    for (const s of sets) {
      const sts = find(m, 'StatefulSet', s);
      const hash = sts.metadata.annotations?.[TEMPLATE_HASH_ANNOTATION];
      expect(hash).toMatch(/^[0-9a-f]{16}$/);
      expect(rollout.statefulSets[s]).toBe(hash);
      expect(hash).toBe(createHash('sha256').update(JSON.stringify(sts.spec.template)).digest('hex').slice(0, 16));
    }
    const namespace = job.spec.template.spec.containers[0].env.find((e: any) => e.name === 'PGC_NAMESPACE');
    expect(namespace.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
  });

  test('a changed pod template is a new Job; a changed replica count is not a new template', () => {
    const delayedReplicas = { count: 1, applyDelay: Duration.hours(1) };
    const image = synthCluster({ replicas: { count: 2 }, delayedReplicas, image: PostgresImage.crunchy(17) });
    expect(configJob(image).metadata.name).not.toBe(job.metadata.name);
    const changed = JSON.parse(env(configJob(image)).PGC_ROLLOUT).statefulSets;
    expect(changed['db-replica']).not.toBe(JSON.parse(env(job).PGC_ROLLOUT).statefulSets['db-replica']);
    const scaled = synthCluster({ replicas: { count: 3 }, delayedReplicas: { count: 1, applyDelay: Duration.hours(1) } });
    expect(JSON.parse(env(configJob(scaled)).PGC_ROLLOUT).statefulSets).toEqual(JSON.parse(env(job).PGC_ROLLOUT).statefulSets);
  });

  test('a sidecar added after the cluster was built and an escape-hatch patch change the template hash', () => {
    const { cluster, manifests } = synthWith((c) => c.addSidecar({ name: 'shipper', image: 'shipper:1', resources: Resources.of({ cpu: Cpu.millis(50), memory: Size.mebibytes(32) }) }));
    expect(cluster).toBeDefined();
    const base = JSON.parse(env(configJob(synthWith(() => undefined).manifests)).PGC_ROLLOUT).statefulSets;
    const withSidecar = JSON.parse(env(configJob(manifests)).PGC_ROLLOUT).statefulSets;
    expect(withSidecar['db-primary']).not.toBe(base['db-primary']);
    const patched = synthWith((c) => c.primary.statefulSet.addJsonPatch(JsonPatch.add('/spec/template/metadata/annotations/x', 'y'))).manifests;
    const patchedHash = JSON.parse(env(configJob(patched)).PGC_ROLLOUT).statefulSets;
    expect(patchedHash['db-primary']).not.toBe(base['db-primary']);
    expect(patchedHash['db-replica']).toBe(base['db-replica']);
  });

  test('RBAC: get the member StatefulSets, list pods, evict the member pods by name, list Jobs; nothing else', () => {
    expect(find(m, 'Role', 'db-config').rules).toEqual([
      { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get'], resourceNames: sets },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'], resourceNames: ['db-primary-0', 'db-replica-0', 'db-replica-1', 'db-delayed-0'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['list'] },
    ]);
    expect(find(m, 'RoleBinding', 'db-config').subjects).toEqual([{ kind: 'ServiceAccount', name: 'db-config' }]);
  });

  test('the CronJob db-reconcile applies the same declaration every five minutes (a rollback to a declaration whose Job ran), never two at once', () => {
    const cron = find(m, 'CronJob', 'db-reconcile');
    expect(cron.spec.schedule).toBe('*/5 * * * *');
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(cron.spec.suspend).toBeUndefined();
    const { ttlSecondsAfterFinished, ...jobSpec } = job.spec;
    expect(ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(cron.spec.jobTemplate.spec).toEqual(jobSpec);
  });

  test('the restart CronJob runs the same program with the same rollout, restarting every member', () => {
    const cron = find(m, 'CronJob', 'db-restart');
    const cronEnv = Object.fromEntries(cron.spec.jobTemplate.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    expect(cronEnv.PGC_RESTART).toBe('all');
    expect(cronEnv.PGC_ROLLOUT).toBe(env(job).PGC_ROLLOUT);
    expect(cron.spec.jobTemplate.spec.ttlSecondsAfterFinished).toBeUndefined();
  });
});

test('without TLS it speaks plain HTTP and mounts nothing', () => {
  const job = configJob(synthCluster({ tls: Tls.disabled() }));
  expect(env(job).PGC_MEMBERS).toBe('http://db-primary-0.db-pods:8008 http://db-replica-0.db-pods:8008 http://db-replica-1.db-pods:8008');
  expect(env(job).PGC_TLS_DIR).toBe('');
  expect(job.spec.template.spec.volumes).toBeUndefined();
});

describe('storage.expandedSize: the Job grows the existing claims; nothing else changes', () => {
  const base = synthCluster({ replicas: { count: 2 }, storage: { size: Size.gibibytes(10) } });
  const grown = synthCluster({ replicas: { count: 2 }, storage: { size: Size.gibibytes(10), expandedSize: Size.gibibytes(20) } });
  const claims = ['pgdata-db-primary-0', 'pgdata-db-replica-0', 'pgdata-db-replica-1'];

  test('the Job names each member\'s claim and the size it grows to; a new Job, the same CronJobs\' program', () => {
    expect(env(configJob(base)).PGC_EXPAND_CLAIMS).toBeUndefined();
    const job = configJob(grown);
    expect(JSON.parse(env(job).PGC_EXPAND_CLAIMS)).toEqual(claims.map((name) => ({ name, size: '20480Mi' })));
    expect(job.metadata.name).not.toBe(configJob(base).metadata.name);
    const reconcile = find(grown, 'CronJob', 'db-reconcile').spec.jobTemplate.spec.template.spec.containers[0].env;
    expect(reconcile.find((e: any) => e.name === 'PGC_EXPAND_CLAIMS').value).toBe(env(job).PGC_EXPAND_CLAIMS);
  });

  test('the StatefulSets, their pod templates and the members\' configuration stay as they were (Kubernetes forbids a changed claim template; nothing restarts)', () => {
    for (const kind of ['StatefulSet', 'ConfigMap']) {
      const members = (m: Manifest[]) => ofKind(m, kind).filter((o) => o.metadata.name.startsWith('db-'));
      expect(members(grown)).toEqual(members(base));
    }
    expect(find(grown, 'StatefulSet', 'db-primary').spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('10240Mi');
  });

  test('RBAC: get and patch those claims by name, only when they grow', () => {
    expect(find(base, 'Role', 'db-config').rules.some((r: any) => r.resources.includes('persistentvolumeclaims'))).toBe(false);
    expect(find(grown, 'Role', 'db-config').rules.filter((r: any) => r.resources.includes('persistentvolumeclaims'))).toEqual([
      { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get', 'patch'], resourceNames: claims },
    ]);
  });

  test('per node set: only the set whose claims grow is named; expandedSize equal to size grows nothing', () => {
    const replicasOnly = synthCluster({ replicas: { count: 1, storage: { size: Size.gibibytes(10), expandedSize: Size.gibibytes(15) } } });
    expect(JSON.parse(env(configJob(replicasOnly)).PGC_EXPAND_CLAIMS)).toEqual([{ name: 'pgdata-db-replica-0', size: '15360Mi' }]);
    const same = synthCluster({ storage: { size: Size.gibibytes(10), expandedSize: Size.gibibytes(10) } });
    expect(env(configJob(same)).PGC_EXPAND_CLAIMS).toBeUndefined();
  });

  test('claims only grow: an expandedSize below size is an error naming the property', () => {
    expect(() => synthCluster({ storage: { size: Size.gibibytes(10), expandedSize: Size.gibibytes(5) } }))
      .toThrow(/storage\.expandedSize.*5Gi.*must be at least size \(10Gi\): volume claims only grow/);
  });

  test('explicit WAL settings may use the grown room; the derived ones stay those of size', () => {
    const big = { max_wal_size: '6GB' };
    expect(() => synthCluster({ storage: { size: Size.gibibytes(10) }, config: { parameters: big } })).toThrow(/WAL could fill the volume.*storage\.size 10Gi/);
    const grownRoom = { size: Size.gibibytes(10), expandedSize: Size.gibibytes(20) };
    expect(() => synthCluster({ storage: grownRoom, config: { parameters: big } })).not.toThrow();
  });
});
