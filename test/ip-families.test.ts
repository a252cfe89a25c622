/**
 * IPv4, IPv6 and dual-stack clusters (issue 20, item 10): every listener takes both address
 * families, and no address a member publishes is a bare pod IP (an IPv6 one needs brackets).
 */
import { App, Chart } from 'cdk8s';
import { parse } from 'yaml';
import { BackupRepository, IpFamily, ServiceIpFamilies, Tls } from '../src';
import { Manifest, find, synthCluster } from './helpers/manifests';
import { readClusterSpec } from '../src/cli/spec/cluster-spec';

const MEMBERS = ['db-primary', 'db-replica'];

function container(m: Manifest[], sts: string, name: string): any {
  return find(m, 'StatefulSet', sts).spec.template.spec.containers.find((c: any) => c.name === name);
}
function envValue(ctr: any, name: string): string | undefined {
  return ctr.env.find((e: any) => e.name === name)?.value;
}

describe.each([['TLS (the default)', {}], ['without TLS', { tls: Tls.disabled() }]])('%s', (_what, props) => {
  const m = synthCluster({ ...props, pooler: {} });

  test('members publish DNS names on the headless Service, never `$(pod IP):port`', () => {
    for (const sts of MEMBERS) {
      const pg = container(m, sts, 'postgres');
      expect(envValue(pg, 'PATRONI_POSTGRESQL_CONNECT_ADDRESS')).toBe('$(PATRONI_NAME).db-pods:5432');
      expect(envValue(pg, 'PATRONI_RESTAPI_CONNECT_ADDRESS')).toBe('$(PATRONI_NAME).db-pods:8008');
      for (const e of pg.env) expect(String(e.value ?? '')).not.toMatch(/\$\(PATRONI_KUBERNETES_POD_IP\):/);
    }
    // The names resolve before the pods are ready (a replica clones from a leader that may not be).
    expect(find(m, 'Service', 'db-pods').spec.publishNotReadyAddresses).toBe(true);
  });

  test('PostgreSQL, Patroni\'s REST API, the heartbeat and PgBouncer listen on every address family', () => {
    for (const sts of MEMBERS) {
      const cfg = parse(find(m, 'ConfigMap', `${sts}-config`).data['patroni.yaml']);
      expect(cfg.restapi.listen).toBe('*:8008');
      expect(cfg.postgresql.listen).toBe('*:5432');
      expect(envValue(container(m, sts, 'heartbeat'), 'HB_LISTEN')).toBe('*');
    }
    expect(find(m, 'ConfigMap', 'db-pooler').data['pgbouncer.ini']).toMatch(/^listen_addr = \*$/m);
  });
});

describe('the Services\' IP families (network.serviceIpFamilies)', () => {
  const withFamilies = (serviceIpFamilies?: ServiceIpFamilies) => synthCluster({
    pooler: {}, network: { serviceIpFamilies }, backup: { repositories: [BackupRepository.volume()] },
  }).filter((o) => o.kind === 'Service');
  const SERVICES = ['db-pods', 'db-pooler', 'db-primary', 'db-replicas', 'db-repo-host'];

  test('by default no Service states a family: each gets one ClusterIP of the cluster\'s primary family', () => {
    for (const services of [withFamilies(), withFamilies(ServiceIpFamilies.clusterDefault())]) {
      expect(services.map((s) => s.metadata.name).sort()).toEqual(SERVICES);
      for (const svc of services) {
        expect(svc.spec.ipFamilyPolicy).toBeUndefined();
        expect(svc.spec.ipFamilies).toBeUndefined();
      }
    }
  });

  test.each([
    ['single-stack IPv6', ServiceIpFamilies.singleStack(IpFamily.IPV6), 'SingleStack', ['IPv6']],
    ['prefer dual-stack', ServiceIpFamilies.preferDualStack(), 'PreferDualStack', undefined],
    ['require dual-stack, the cluster\'s order', ServiceIpFamilies.requireDualStack(), 'RequireDualStack', undefined],
    ['require dual-stack, IPv6 first', ServiceIpFamilies.requireDualStack(IpFamily.IPV6), 'RequireDualStack', ['IPv6', 'IPv4']],
    ['require dual-stack, IPv4 first', ServiceIpFamilies.requireDualStack(IpFamily.IPV4), 'RequireDualStack', ['IPv4', 'IPv6']],
  ])('%s: every Service of the cluster, the headless ones included, carries it', (_what, families, policy, order) => {
    const services = withFamilies(families);
    expect(services.map((s) => s.metadata.name).sort()).toEqual(SERVICES);
    for (const svc of services) {
      expect(svc.spec.ipFamilyPolicy).toBe(policy);
      expect(svc.spec.ipFamilies).toEqual(order);
    }
  });

  test('the CLI spec reads each choice, and names the allowed ones for a bad value', () => {
    const read = (v: string) => readClusterSpec({ metadata: { name: 'db' }, spec: { network: { serviceIpFamilies: v } } },
      { scope: new Chart(new App(), 'c') }).props.network?.serviceIpFamilies;
    expect(read('ipv6')).toMatchObject({ ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv6'] });
    expect(read('prefer-dual-stack')).toMatchObject({ ipFamilyPolicy: 'PreferDualStack' });
    expect(read('require-dual-stack')).toMatchObject({ ipFamilyPolicy: 'RequireDualStack' });
    expect(read('cluster-default')?.ipFamilyPolicy).toBeUndefined();
    expect(() => read('dual')).toThrow(/network\.serviceIpFamilies.*cluster-default, ipv4, ipv6, prefer-dual-stack, require-dual-stack/);
  });
});
