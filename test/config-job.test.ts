/**
 * The config Job: what it applies (Patroni's bootstrap.dcs as synthesized), where (every member's
 * REST API), with which credentials (a certificate of the cluster CA), and the NetworkPolicy that
 * lets only it reach the REST API besides the members. Its program is tested in
 * test/scripts/test_apply_config.py and on the real cluster in test/e2e/dynamic-config.e2e.test.ts.
 */
import { Duration } from 'cdk8s';
import { parse as parseYaml } from 'yaml';
import { Tls } from '../src';
import { Manifest, find, ofKind, synthCluster } from './helpers/manifests';
import { APPLY_CONFIG_SCRIPT } from '../src/render/scripts';
import { RESTRICTED_CONTAINER } from '../src/validate/pod-security';

const configJob = (m: Manifest[]) => ofKind(m, 'Job').find((j) => j.metadata.labels?.['app.kubernetes.io/name'] === 'postgresql-config')!;
const env = (job: Manifest) => Object.fromEntries(job.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));

describe('defaults (TLS)', () => {
  const m = synthCluster({ replicas: { count: 2 }, delayedReplicas: { count: 1, applyDelay: Duration.hours(1) } });
  const job = configJob(m);
  const pod = job.spec.template.spec;
  const e = env(job);

  test('named after its spec, restricted, no ServiceAccount token, cleaned up after a day', () => {
    expect(job.metadata.name).toMatch(/^db-config-[0-9a-f]{8}$/);
    expect(pod.automountServiceAccountToken).toBe(false);
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

  test('NetworkPolicy: the Job may reach only DNS and the members\' REST API, and the members admit it there only', () => {
    const own = find(m, 'NetworkPolicy', 'db-config');
    expect(own.spec.podSelector).toEqual({ matchLabels: { 'postgres.cdk8s.io/cluster': 'db', 'app.kubernetes.io/name': 'postgresql-config' } });
    expect(own.spec.ingress).toBeUndefined();
    const egressPorts = own.spec.egress.map((r: any) => r.ports.map((p: any) => `${p.protocol}/${p.port}`).join(','));
    expect(egressPorts).toEqual(['UDP/53,TCP/53', 'TCP/8008']);
    const members = find(m, 'NetworkPolicy', 'db-members');
    const fromJob = members.spec.ingress.filter((r: any) => r.from?.some((f: any) => f.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'postgresql-config'));
    expect(fromJob.map((r: any) => r.ports)).toEqual([[{ protocol: 'TCP', port: 8008 }]]);
  });
});

test('without TLS it speaks plain HTTP and mounts nothing', () => {
  const job = configJob(synthCluster({ tls: Tls.disabled() }));
  expect(env(job).PGC_MEMBERS).toBe('http://db-primary-0.db-pods:8008 http://db-replica-0.db-pods:8008 http://db-replica-1.db-pods:8008');
  expect(env(job).PGC_TLS_DIR).toBe('');
  expect(job.spec.template.spec.volumes).toBeUndefined();
});
