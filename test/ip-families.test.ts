/**
 * IPv4, IPv6 and dual-stack clusters (issue 20, item 10): every listener takes both address
 * families, and no address a member publishes is a bare pod IP (an IPv6 one needs brackets).
 */
import { parse } from 'yaml';
import { Tls } from '../src';
import { Manifest, find, synthCluster } from './helpers/manifests';

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
