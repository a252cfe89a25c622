/**
 * The synthesized NetworkPolicies enforced by a real implementation: kube-router's network
 * policy controller (iptables + ipset, test/kube/build-kube-router.sh) runs for this suite's
 * duration, scoped to its namespace, while a two-member cluster with a volume backup repository
 * is applied, comes up and is probed from pods. The members replicate, the credentials, access,
 * config, CA publisher and backup init Jobs succeed (all under the default deny), a pod of an `allowFrom`
 * peer connects to PostgreSQL through the read-write Service, a pod of a `metricsFrom` peer reaches
 * the heartbeat port, and a pod that no rule admits is refused on 5432, 8008 (Patroni), 8010
 * (heartbeat) and 8432 (pgBackRest) by kube-router's REJECT rule, while the host (root, the
 * node's own address, which kube-router always admits) connects to the same ports.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BackupRepository, FailoverTiming, NetworkPeer, PostgresClusterProps, PostgresImage } from '../../src';
import { KubeCluster, KubePostgres, Obj } from './harness/kube';
import { KubeRouter, filterRules, ipsetMembers, kubeRouterState } from './harness/kube-router';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir } from './lib/fsutil';
import { psql } from './lib/pg';
import { waitFor } from './lib/processes';

const RUN = Date.now().toString(36).slice(-5);
const NS = `np-${RUN}`;
const NAME = 'pgnp';
const CLIENT_LABEL = 'np.e2e/client';
const SCRAPER_LABEL = 'np.e2e/scraper';
const IMAGE = PostgresImage.percona(17);
const PSQL = '/usr/pgsql-17/bin/psql';
const PORTS = { postgres: 5432, patroni: 8008, heartbeat: 8010, pgbackrest: 8432 };

const PROPS: PostgresClusterProps = {
  failoverTiming: FailoverTiming.FAST,
  image: IMAGE,
  replicas: { count: 1 },
  databases: [{ name: 'shop', owner: 'shop_app' }],
  users: [{ name: 'shop_app', databases: [{ database: 'shop' }] }],
  backup: { repositories: [BackupRepository.volume()] },
  network: {
    allowFrom: [NetworkPeer.pods({ [CLIENT_LABEL]: 'yes' })],
    metricsFrom: [NetworkPeer.pods({ [SCRAPER_LABEL]: 'yes' })],
  },
};

let kube: KubeCluster;
let workDir: string;
let router: KubeRouter | undefined;
let pg: KubePostgres;
let members: Obj[];

beforeAll(async () => {
  kube = KubeCluster.up();
  workDir = makeWorkDir('pg-e2e-netpol');
  await kube.createNamespace(NS);
  const t0 = Date.now();
  router = await KubeRouter.start(NS, kube.kubeconfig, path.join(workDir, 'kube-router.log'));
  record('netpol.kube_router_start_seconds', round((Date.now() - t0) / 1000));
  const file = synthCluster(path.join(workDir, 'manifests'), NAME, PROPS);
  const t1 = Date.now();
  await kube.apply(file, NS);
  pg = new KubePostgres(kube, NS, NAME);
  await pg.waitHealthy(2);
  record('netpol.cluster_healthy_seconds', round((Date.now() - t1) / 1000));
  members = await pg.pods();
}, 600_000);

afterAll(async () => {
  try {
    if (router) await router.stop();
  } finally {
    await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
    kube?.down();
  }
}, 120_000);

const round = (v: number) => Math.round(v * 10) / 10;

/** A TCP connection from the host (root, the node's address). */
function hostConnects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 3000 });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(false));
  });
}

/** One probe of a client pod: `connect` stops at the first connection, `denied` must never connect within the window. */
interface Probe { readonly name: string; readonly host: string; readonly port: number; readonly expect: 'connect' | 'denied' }

/**
 * The client pods' program (the host's python3, as the node agent runs it): every probe (all at
 * once, one thread each) tries a TCP connection every 0.3 s for WINDOW seconds. A `connect` probe is met at its first connection;
 * kube-router adds a new pod's address to its ipsets only after the pod's IP reaches the API
 * server, so the first attempts of an admitted pod may be refused, and the number of attempts it
 * needed is printed. A `denied` probe is met only if every attempt of the window is refused
 * (kube-router's REJECT answers with an ICMP port unreachable) or times out: the kernel sends at
 * most 6 port-unreachables at once and then 1 per second to one address (net.ipv4.icmp_ratelimit
 * 1000 ms, dest-unreachable in icmp_ratemask), so once a pod's probes used that burst, further
 * rejected SYNs go unanswered. The counts of both are printed. Then, when PGURI is set, psql runs a query through the read-write Service (retried within
 * the window in the same way). One JSON line on stdout; exit 0 when every expectation is met.
 */
const CLIENT_PY = `
import json, os, socket, subprocess, sys, threading, time
window = float(os.environ['WINDOW'])
out = {'probes': []}

def probe(p):
    t0 = time.time(); outcomes = []
    while True:
        try:
            socket.create_connection((p['host'], p['port']), timeout=2).close(); outcomes.append('connected')
        except ConnectionRefusedError: outcomes.append('refused')
        except socket.timeout: outcomes.append('timeout')
        except OSError as e: outcomes.append('error:' + str(e.errno))
        if p['expect'] == 'connect' and outcomes[-1] == 'connected': break
        if time.time() - t0 >= window: break
        time.sleep(0.3)
    met = outcomes[-1] == 'connected' if p['expect'] == 'connect' else all(o in ('refused', 'timeout') for o in outcomes)
    out['probes'].append({'name': p['name'], 'met': met, 'attempts': len(outcomes), 'refused': outcomes.count('refused'),
                          'timeouts': outcomes.count('timeout'), 'last': outcomes[-1], 'seconds': round(time.time() - t0, 2)})

threads = [threading.Thread(target=probe, args=(p,)) for p in json.loads(os.environ['PROBES'])]
for t in threads: t.start()
for t in threads: t.join()
ok = all(p['met'] for p in out['probes'])
if os.environ.get('PGURI'):
    t0 = time.time(); attempts = 0
    while True:
        attempts += 1
        r = subprocess.run([os.environ['PSQL'], os.environ['PGURI'], '-XAtc', 'select current_user, current_database(), pg_is_in_recovery()'],
                           capture_output=True, text=True, env={**os.environ, 'PGCONNECT_TIMEOUT': '3'})
        if r.returncode == 0 or time.time() - t0 >= window: break
        time.sleep(0.3)
    out['psql'] = {'exit': r.returncode, 'stdout': r.stdout.strip(), 'stderr': r.stderr.strip()[-300:], 'attempts': attempts}
    ok = ok and r.returncode == 0
print(json.dumps(out), flush=True)
sys.exit(0 if ok else 1)
`;

interface ProbeResult { name: string; met: boolean; attempts: number; refused: number; timeouts: number; last: string; seconds: number }
interface ClientResult {
  exitCode: number;
  result: { probes: ProbeResult[]; psql?: { exit: number; stdout: string; stderr: string; attempts: number } };
  rejects: number;
}

/**
 * Runs a client pod (restricted Pod Security, the library's PostgreSQL image) with these labels
 * until it ends; its exit code from the pod status, its JSON result from its log file. While it
 * runs, the packet counters of kube-router's REJECT rules for the members' chains are sampled.
 */
async function runClient(name: string, labels: Record<string, string>, probes: Probe[],
  opts: { psql?: boolean; window?: number } = {}): Promise<ClientResult> {
  const env: any[] = [
    { name: 'PROBES', value: JSON.stringify(probes) },
    { name: 'WINDOW', value: String(opts.window ?? 8) },
    { name: 'PSQL', value: PSQL },
  ];
  const volumes: any[] = [];
  const mounts: any[] = [];
  if (opts.psql) {
    // What an application mounts: its user's Secret (a ready-made URI to the read-write Service,
    // sslmode=verify-full) and the CA the publisher Job put in the clients' ConfigMap.
    env.push({ name: 'PGURI', valueFrom: { secretKeyRef: { name: `${NAME}-user-shop-app`, key: 'uri' } } });
    env.push({ name: 'PGSSLROOTCERT', value: '/etc/pg-ca/ca.crt' });
    volumes.push({ name: 'ca', configMap: { name: `${NAME}-ca-cert` } });
    mounts.push({ name: 'ca', mountPath: '/etc/pg-ca', readOnly: true });
  }
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels },
    spec: {
      restartPolicy: 'Never',
      securityContext: { runAsNonRoot: true, runAsUser: 26, runAsGroup: 26, seccompProfile: { type: 'RuntimeDefault' } },
      volumes,
      containers: [{
        name: 'client',
        image: IMAGE.image,
        command: ['/usr/bin/python3', '-c', CLIENT_PY],
        env,
        volumeMounts: mounts,
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      }],
    },
  };
  await kube.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(pod));
  let rejects = 0;
  const done = await kube.until(`client pod ${name} to end`, 120_000, async () => {
    rejects = Math.max(rejects, memberRejects());
    const p = await kube.get('pod', name, NS);
    return ['Succeeded', 'Failed'].includes(p.status?.phase) ? p : undefined;
  }, 300);
  const exitCode = done.status.containerStatuses[0].state.terminated.exitCode as number;
  const log = fs.readFileSync(path.join(kube.podLogDir(NS, done), 'client.log'), 'utf8').trim().split('\n').pop()!;
  return { exitCode, result: JSON.parse(log), rejects };
}

/** Packets counted by kube-router's REJECT rules of the members' pod chains (the chains are rebuilt on every sync). */
function memberRejects(): number {
  return filterRules().split('\n')
    .filter((l) => / -j REJECT/.test(l) && members.some((m) => l.includes(`destined for POD name:${m.metadata.name} namespace: ${NS}`)))
    .reduce((n, l) => n + Number(/^\[(\d+):/.exec(l)?.[1] ?? 0), 0);
}

const memberProbes = (expect: (port: keyof typeof PORTS) => Probe['expect'], ports: Array<keyof typeof PORTS>): Probe[] =>
  members.flatMap((m) => ports.map((p) => ({ name: `${m.metadata.name}:${p}`, host: m.status.podIP, port: PORTS[p], expect: expect(p) })));

test('kube-router enforces for the members: each has its pod chain, the members policy its ipsets', async () => {
  const rules = filterRules();
  for (const m of members) {
    expect(rules).toContain(`rule to REJECT traffic destined for POD name:${m.metadata.name} namespace: ${NS}`);
    expect(rules).toContain(`run through nw policy ${NAME}-members`);
    expect(rules).toContain(`run through nw policy ${NAME}-default-deny`);
  }
  // The ipset of the members policy's own pods holds exactly the members' addresses.
  const sets = kubeRouterState().ipsets;
  const memberIps = members.map((m) => m.status.podIP).sort();
  expect(sets.some((s) => JSON.stringify(ipsetMembers(s).sort()) === JSON.stringify(memberIps))).toBe(true);
});

test('under the default deny the members replicate and the credentials, access, config, CA publisher and backup init Jobs succeed', async () => {
  const jobs = await kube.until('the Jobs to complete', 240_000, async () => {
    const list = await kube.list('jobs', NS);
    const names = ['credentials', 'access', 'config', 'publish-ca', 'backup-init'];
    const found = names.map((n) => list.find((j) => j.metadata.name.startsWith(`${NAME}-${n}-`)));
    if (found.some((j) => j?.status?.failed)) throw new Error(`a Job failed: ${JSON.stringify(found.map((j) => [j?.metadata.name, j?.status]))}`);
    return found.every((j) => j?.status?.succeeded === 1) ? found : undefined;
  }, 1000);
  expect(jobs).toHaveLength(5);
  // Members replicate: a row written through the read-write Service is read on the replica.
  const rw = await pg.superuserVia(`${NAME}-primary`);
  await psql(rw, "create table np (note text); insert into np values ('replicated')");
  const leader = (await pg.labelledLeader())!;
  const replica = members.find((m) => m.metadata.name !== leader.metadata.name)!;
  const onReplica = await pg.superuserAt(replica);
  await waitFor(async () => (await psql(onReplica, "select count(*) from np where note = 'replicated'")) === '1', 30_000, 250, 'the row on the replica');
  expect(await psql(onReplica, 'select pg_is_in_recovery()')).toBe('t');
  // WAL reaches the backup node (members -> repo host on 8432 under the policies).
  expect(Number(await psql(rw, 'select archived_count from pg_stat_archiver'))).toBeGreaterThan(0);
});

test('under the default deny a backup Job from a CronJob (kubectl create job --from) reaches the leader and the backup node', async () => {
  const job = `${NAME}-np-incr`;
  await kube.kubectl(['create', 'job', '-n', NS, `--from=cronjob/${NAME}-repo1-incr`, job]);
  const done = await kube.until(`Job ${job} to finish`, 180_000, async () => {
    const j = await kube.get('job', job, NS);
    return j.status?.succeeded === 1 || j.status?.failed ? j : undefined;
  }, 1000);
  expect(done.status.succeeded).toBe(1);
  const [pod] = await kube.list('pods', NS, `job-name=${job}`);
  const log = fs.readFileSync(path.join(kube.podLogDir(NS, pod), 'pgbackrest.log'), 'utf8');
  expect(log).toMatch(/new backup label = \d{8}-\d{6}F_\d{8}-\d{6}I/);
});

test('the host (root, the node address) connects to every member port the probes use', async () => {
  for (const m of members) {
    for (const port of Object.values(PORTS)) {
      const connected = await hostConnects(m.status.podIP, port);
      expect({ pod: m.metadata.name, port, connected }).toEqual({ pod: m.metadata.name, port, connected: true });
    }
  }
});

test('a pod of the allowFrom peer connects to PostgreSQL through the read-write Service (verify-full); Patroni and pgBackRest refuse it', async () => {
  const probes = [
    ...memberProbes(() => 'connect', ['postgres']),
    ...memberProbes(() => 'denied', ['patroni', 'pgbackrest', 'heartbeat']),
  ];
  const r = await runClient('client-allowed', { [CLIENT_LABEL]: 'yes' }, probes, { psql: true });
  expect({ exit: r.exitCode, unmet: r.result.probes.filter((p) => !p.met) }).toEqual({ exit: 0, unmet: [] });
  expect(r.result.psql).toMatchObject({ exit: 0, stdout: 'shop_app|shop|f' });
  expect(r.rejects).toBeGreaterThan(0);
  record('netpol.allowed_client_attempts_to_first_connection', r.result.probes.filter((p) => p.met && p.last === 'connected').map((p) => p.attempts));
  record('netpol.allowed_client_psql_attempts', r.result.psql!.attempts);
});

test('a pod of the metricsFrom peer reaches the heartbeat port and nothing else', async () => {
  const probes = [
    ...memberProbes(() => 'connect', ['heartbeat']),
    ...memberProbes(() => 'denied', ['postgres', 'patroni']),
  ];
  const r = await runClient('client-scraper', { [SCRAPER_LABEL]: 'yes' }, probes);
  expect({ exit: r.exitCode, unmet: r.result.probes.filter((p) => !p.met) }).toEqual({ exit: 0, unmet: [] });
});

test('a pod no rule admits never connects to 5432, 8008, 8010 or 8432 of a member, nor through the Services: kube-router rejects it', async () => {
  const services = await Promise.all([`${NAME}-primary`, `${NAME}-replicas`].map((s) => kube.get('service', s, NS)));
  const probes = [
    ...memberProbes(() => 'denied', ['postgres', 'patroni', 'heartbeat', 'pgbackrest']),
    ...services.map((s) => ({ name: `${s.metadata.name}:postgres`, host: s.spec.clusterIP, port: 5432, expect: 'denied' as const })),
  ];
  const t0 = Date.now();
  const r = await runClient('client-denied', { [CLIENT_LABEL]: 'no' }, probes);
  expect({ exit: r.exitCode, unmet: r.result.probes.filter((p) => !p.met) }).toEqual({ exit: 0, unmet: [] });
  // kube-router's REJECT answered (the pod saw port-unreachables, the rules counted packets).
  const refused = r.result.probes.reduce((n, p) => n + p.refused, 0);
  const timeouts = r.result.probes.reduce((n, p) => n + p.timeouts, 0);
  expect(refused).toBeGreaterThan(0);
  expect(r.rejects).toBeGreaterThan(0);
  record('netpol.denied_client_refused_attempts', refused);
  record('netpol.denied_client_unanswered_attempts', timeouts);
  record('netpol.denied_client_seconds', round((Date.now() - t0) / 1000));
  // The same ports still answer the host, so the denials were the policy's.
  for (const m of members) {
    for (const port of Object.values(PORTS)) expect({ port, connected: await hostConnects(m.status.podIP, port) }).toEqual({ port, connected: true });
  }
});
