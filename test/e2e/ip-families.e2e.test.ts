/**
 * IPv6 and dual-stack Kubernetes (issue 20, item 10), on the real control plane: the test cluster
 * started as single-stack IPv6 (pods, Services, the API server's Service and cluster DNS have IPv6
 * addresses only) and then as dual-stack (IPv4 first) with the library's Services asking for both
 * families (network.serviceIpFamilies). In each, the cluster must come up as it does on IPv4:
 * Patroni elects a leader through the Kubernetes DCS, the replica streams, every Job that calls
 * the API server succeeds, the first backup reaches the repository host, an application pod
 * connects by DNS name with verify-full through the read-write and read-only Services and the
 * pooler, and the CLI reads the members and switches over.
 */
import * as path from 'node:path';
import { BackupRepository, FailoverTiming, PostgresClusterProps, ServiceIpFamilies } from '../../src';
import { cli } from './harness/cli';
import { KubeCluster, KubePostgres, Obj, psqlConnecting } from './harness/kube';
import { clientPod, runPod } from './harness/kube-access';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir, removeWorkDir } from './lib/fsutil';
import { psql } from './lib/pg';
import { EXIT_OK } from '../../src/cli/exit';

const RUN = Date.now().toString(36).slice(-5);
const NAME = 'pgip';

const familyOf = (ip: string) => (ip.includes(':') ? 'IPv6' : 'IPv4');

interface Case {
  /** cluster.sh's PGK_IP_FAMILY */
  readonly cluster: 'ipv6' | 'dual';
  /** what the library is asked for */
  readonly serviceIpFamilies?: ServiceIpFamilies;
  /** the families every pod and Service must have, primary first */
  readonly families: string[];
}

const CASES: Array<[string, Case]> = [
  ['single-stack IPv6', { cluster: 'ipv6', families: ['IPv6'] }],
  ['dual-stack, Services of both families', { cluster: 'dual', serviceIpFamilies: ServiceIpFamilies.requireDualStack(), families: ['IPv4', 'IPv6'] }],
];

describe.each(CASES)('%s', (what, c) => {
  const ns = `ip-${c.cluster}-${RUN}`;
  const props: PostgresClusterProps = {
    failoverTiming: FailoverTiming.FAST,
    replicas: { count: 1 },
    databases: [{ name: 'shop', owner: 'shop_app' }],
    users: [{ name: 'shop_app', databases: [{ database: 'shop' }] }],
    pooler: { instances: 1, defaultPoolSize: 5 },
    backup: { repositories: [BackupRepository.volume()] },
    network: { serviceIpFamilies: c.serviceIpFamilies },
  };
  let kube: KubeCluster;
  let pg: KubePostgres;
  let leader: Obj;
  let workDir: string;

  beforeAll(async () => {
    workDir = makeWorkDir(`pg-kube-ip-${c.cluster}`);
    const t0 = Date.now();
    kube = KubeCluster.up(c.cluster);
    await kube.createNamespace(ns);
    await kube.apply(synthCluster(path.join(workDir, ns), NAME, props), ns);
    pg = new KubePostgres(kube, ns, NAME);
    leader = await pg.waitHealthy(2, 420_000);
    record(`kube_${c.cluster}_up_and_healthy_seconds`, Math.round((Date.now() - t0) / 100) / 10);
  });

  afterAll(async () => {
    await kube?.kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
    kube?.down();
    if (workDir) removeWorkDir(workDir);
  });

  test(`${what}: every pod and every Service of the cluster has addresses of exactly ${c.families.join(' and ')}`, async () => {
    const pods = await kube.list('pods', ns);
    expect(pods.length).toBeGreaterThanOrEqual(4);
    for (const pod of pods.filter((p) => p.status?.podIPs)) {
      expect([pod.metadata.name, pod.status.podIPs.map((a: any) => familyOf(a.ip))]).toEqual([pod.metadata.name, c.families]);
    }
    const services = await kube.list('services', ns);
    expect(services.map((s) => s.metadata.name).sort()).toEqual([`${NAME}-pods`, `${NAME}-pooler`, `${NAME}-primary`, `${NAME}-replicas`, `${NAME}-repo-host`]);
    for (const svc of services) {
      expect([svc.metadata.name, svc.spec.ipFamilies]).toEqual([svc.metadata.name, c.families]);
      if (svc.spec.clusterIP !== 'None') expect([svc.metadata.name, svc.spec.clusterIPs.map(familyOf)]).toEqual([svc.metadata.name, c.families]);
    }
    // The members' own API server client sees the API server's Service in the primary family.
    const kubernetes = await kube.get('service', 'kubernetes', 'default');
    expect(familyOf(kubernetes.spec.clusterIP)).toBe(c.families[0]);
  });

  test(`${what}: Patroni leads through the Kubernetes DCS and the replica streams from a pod address`, async () => {
    const replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
    const rows = await psql(await pg.superuserAt(leader), "select application_name || ',' || host(client_addr) || ',' || state from pg_stat_replication");
    const [app, addr, state] = rows.trim().split(',');
    expect([app, state]).toEqual([replica.metadata.name, 'streaming']);
    expect(replica.status.podIPs.map((a: any) => a.ip)).toContain(addr);
    // The leader lock and the members' status annotations are Patroni's, written through the API server.
    const lock = await kube.get('configmap', `${NAME}-leader`, ns);
    expect(lock.metadata.annotations.leader).toBe(leader.metadata.name);
  });

  test(`${what}: every Job that calls the API server or the members succeeds, the first backup among them`, async () => {
    const jobs = await kube.until('the credentials, access, CA, config and backup init Jobs to succeed', 420_000, async () => {
      const all = await kube.list('jobs', ns);
      const prefixes = ['credentials', 'access', 'publish-ca', 'config', 'backup-init'].map((p) => `${NAME}-${p}`);
      const done = prefixes.map((p) => all.find((j) => j.metadata.name.startsWith(p) && j.status?.succeeded === 1));
      return done.every(Boolean) ? all : undefined;
    }, 1000);
    expect(jobs.filter((j) => j.status?.failed)).toEqual([]);
    const status = await cli('status', NAME, '-n', ns, '--kubeconfig', kube.kubeconfig, '-o', 'json');
    expect([status.code, status.err]).toEqual([EXIT_OK, '']);
    const s = JSON.parse(status.out);
    // Read from each member's REST API through the API server's proxy to the pod address.
    expect(s.members.map((m: any) => [m.role, m.state]).sort()).toEqual([['leader', 'running'], ['replica', 'streaming']]);
  });

  test(`${what}: an application pod connects by DNS name with verify-full through the read-write and read-only Services and the pooler`, async () => {
    const sts = await kube.get('statefulset', `${NAME}-primary`, ns);
    const image = sts.spec.template.spec.containers.find((x: any) => x.name === 'postgres').image;
    const psqlBin = `/usr/pgsql-${/:(\d+)\./.exec(image)![1]}/bin/psql`;
    const secret = `${NAME}-user-shop-app`;
    const env = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: secret, key } } });
    const conn = (host: string) => `"host=${host} port=5432 dbname=shop user=$APP_USER password=$APP_PASSWORD sslmode=verify-full"`;
    const sql = (host: string, q: string) => `${psqlBin} -X -A -t -q -v ON_ERROR_STOP=1 -d ${conn(host)} -c "${q}"`;
    const script = ['set -e',
      sql(`${NAME}-primary`, "create table if not exists t (v text); insert into t values ('rw') returning 'rw:' || pg_is_in_recovery() || ':' || host(inet_server_addr())"),
      sql(`${NAME}-replicas`, "select 'ro:' || pg_is_in_recovery() || ':' || host(inet_server_addr())"),
      sql(`${NAME}-pooler`, "select 'pooler:' || pg_is_in_recovery() || ':' || count(*) from t")].join('\n');
    const run = await runPod(kube, ns, clientPod('client', {
      image,
      command: ['/bin/sh', '-c', script],
      env: [{ name: 'PGSSLROOTCERT', value: '/etc/postgres-ca/ca.crt' }, { name: 'PGCONNECT_TIMEOUT', value: '5' },
        env('APP_USER', 'username'), env('APP_PASSWORD', 'password')],
      volumeMounts: [{ name: 'ca', mountPath: '/etc/postgres-ca', readOnly: true }],
    }, [{ name: 'ca', configMap: { name: `${NAME}-ca-cert`, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }]));
    const lines = run.log.trim().split('\n');
    expect({ phase: run.phase, exit: run.exitCode, pooler: lines[2] }).toEqual({ phase: 'Succeeded', exit: 0, pooler: 'pooler:false:1' });
    const replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
    const [rw, ro] = lines.map((l) => l.split(':').slice(0, 2).join(':'));
    expect([rw, ro]).toEqual(['rw:false', 'ro:true']);
    // The server address each saw is one of the pod's own (the Service's DNS name resolved in the
    // cluster's families, kube-proxy translated the ClusterIP to the pod).
    const serverAddr = (l: string) => l.split(':').slice(2).join(':');
    expect(leader.status.podIPs.map((a: any) => a.ip)).toContain(serverAddr(lines[0]));
    expect(replica.status.podIPs.map((a: any) => a.ip)).toContain(serverAddr(lines[1]));
    if (c.families.length === 1) expect(familyOf(serverAddr(lines[0]))).toBe(c.families[0]);
  });

  test(`${what}: each ClusterIP of the read-write Service reaches the leader on its address of that family`, async () => {
    const svc = await kube.get('service', `${NAME}-primary`, ns);
    const target = await pg.superuserVia(`${NAME}-primary`);
    const seen: string[] = [];
    for (const ip of svc.spec.clusterIPs as string[]) seen.push((await psqlConnecting({ ...target, host: ip }, 'select host(inet_server_addr())')).trim());
    const leaderIps: string[] = leader.status.podIPs.map((a: any) => a.ip);
    expect(seen).toEqual(svc.spec.clusterIPs.map((ip: string) => leaderIps.find((a) => familyOf(a) === familyOf(ip))));
  });

  test(`${what}: switchover by the CLI; the labels and the read-write Service follow the new leader`, async () => {
    const replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
    const r = await cli('switchover', NAME, '-n', ns, '--kubeconfig', kube.kubeconfig, '--to', replica.metadata.name, '-o', 'json');
    expect([r.code, r.err]).toEqual([EXIT_OK, '']);
    const result = JSON.parse(r.out);
    expect(result).toMatchObject({ cluster: NAME, namespace: ns, from: leader.metadata.name, to: replica.metadata.name });
    record(`kube_${c.cluster}_cli_switchover_seconds`, result.seconds);
    const newLeader = await pg.waitHealthy(2, 180_000);
    expect(newLeader.metadata.name).toBe(replica.metadata.name);
    const target = await pg.superuserVia(`${NAME}-primary`);
    expect((await psqlConnecting(target, 'select pg_is_in_recovery()::text')).trim()).toBe('false');
    leader = newLeader;
  });
});
