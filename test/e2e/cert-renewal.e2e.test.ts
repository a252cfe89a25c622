/**
 * Certificate renewal on real Kubernetes (test/kube/cluster.sh): cert-manager renews the leaf
 * certificates (a manual renewal, as `cmctl renew` starts it), the node agent swaps the mounted
 * Secret files as the kubelet does, and every TLS server of the cluster serves the new
 * certificate without a restart: PostgreSQL and Patroni's REST API on each member (Patroni gets
 * SIGHUP from the reload wrapper), the members' and the backup node's pgBackRest servers, and
 * PgBouncer. Clients verifying the server by name write all the time and see no failure.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackupRepository, FailoverTiming, Tls } from '../../src';
import { KubeCluster, KubePostgres, Obj, deploy } from './harness/kube';
import { connValue, psqlConn } from './harness/kube-access';
import { record } from './harness/results';
import { makeWorkDir, removeWorkDir } from './lib/fsutil';
import { servedSerial } from './lib/net';

const NAME = 'pgrenew';
const RUN = Date.now().toString(36).slice(-5);
const NS = `day2-renew-${RUN}`;
const PGBACKREST_PORT = 8432;

let kube: KubeCluster;
let pg: KubePostgres;
let workDir: string;
let caFile: string;
let ca: string;

const certificate = (name: string) => kube.get('certificates.cert-manager.io', name, NS);
const secretSerial = async (secret: string) => new X509Certificate((await kube.secret(secret, NS))['tls.crt']).serialNumber.toUpperCase();
const clusterIp = async (svc: string) => (await kube.get('service', svc, NS)).spec.clusterIP as string;
const isReady = (c: Obj) => c.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True');

/** Every TLS endpoint of the cluster: where it listens, the Secret it serves, how to ask. */
interface Endpoint {
  readonly what: string;
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly postgres: boolean;
  /** Servers that ask for a client certificate get one of the cluster's. */
  readonly client?: { cert: string; key: string };
}

async function endpoints(): Promise<Endpoint[]> {
  const server = `${NAME}-server-tls`;
  const backupClient = await kube.secret(`${NAME}-pgbackrest`, NS);
  const client = { cert: backupClient['tls.crt'], key: backupClient['tls.key'] };
  const out: Endpoint[] = [];
  for (const pod of await pg.pods()) {
    const ip = pod.status.podIP;
    const m = pod.metadata.name;
    out.push({ what: `${m} PostgreSQL`, host: ip, port: 5432, secret: server, postgres: true });
    out.push({ what: `${m} Patroni REST API`, host: ip, port: 8008, secret: server, postgres: false });
    out.push({ what: `${m} pgBackRest server`, host: ip, port: PGBACKREST_PORT, secret: server, postgres: false, client });
  }
  const repoHost = await kube.get('pod', `${NAME}-repo-host-0`, NS);
  out.push({ what: 'backup node pgBackRest server', host: repoHost.status.podIP, port: PGBACKREST_PORT, secret: `${NAME}-repo-host-tls`, postgres: false, client });
  for (const pod of await kube.list('pods', NS, `app.kubernetes.io/component=${NAME}-pooler`)) {
    out.push({ what: `${pod.metadata.name} PgBouncer`, host: pod.status.podIP, port: 5432, secret: `${NAME}-pooler-tls`, postgres: true });
  }
  return out;
}

const served = (e: Endpoint) => servedSerial(e.host, e.port, { postgres: e.postgres, ca, ...e.client });

/** A verify-full connection string by the Service's name, at its ClusterIP (no cluster DNS on the host). */
function conn(name: string, addr: string, user: string, password: string, dbname: string): string {
  return [`host=${name}`, `hostaddr=${addr}`, 'port=5432', `user=${user}`, `password=${connValue(password)}`, `dbname=${dbname}`, 'sslmode=verify-full'].join(' ');
}

/** The containers' restart counts and the pods' uids: a reload must change neither. */
async function incarnations(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const pod of await kube.list('pods', NS)) {
    if (pod.metadata.ownerReferences?.some((o: any) => o.kind === 'Job')) continue;
    out[pod.metadata.name] = `${pod.metadata.uid} ${(pod.status.containerStatuses ?? []).map((c: any) => `${c.name}:${c.restartCount}`).sort().join(',')}`;
  }
  return out;
}

beforeAll(async () => {
  workDir = makeWorkDir('pg-e2e-renew');
  kube = KubeCluster.up();
  ({ pg } = await deploy(kube, workDir, NS, NAME, {
    failoverTiming: FailoverTiming.FAST,
    replicas: { count: 1 },
    tls: Tls.certManager({ namespace: NS }),
    users: [{ name: 'renew_app' }],
    pooler: { instances: 1 },
    backup: { repositories: [BackupRepository.volume()] },
  }, 2));
  await kube.until(`StatefulSet ${NAME}-repo-host ready`, 180_000, async () => (await kube.get('statefulset', `${NAME}-repo-host`, NS)).status?.readyReplicas === 1);
  await kube.until(`Deployment ${NAME}-pooler available`, 120_000, async () => (await kube.get('deployment', `${NAME}-pooler`, NS)).status?.availableReplicas === 1);
  ca = await kube.until(`${NAME}-ca-cert filled by the publisher Job`, 120_000, async () =>
    (await kube.get('configmap', `${NAME}-ca-cert`, NS)).data?.['ca.crt'] as string | undefined);
  caFile = path.join(workDir, 'ca.crt');
  fs.writeFileSync(caFile, ca);
}, 600_000);

afterAll(async () => {
  await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  kube?.down();
  if (workDir) removeWorkDir(workDir);
});

test('a renewal of every serving certificate is served by every TLS endpoint without a restart or a failed client', async () => {
  const before = await endpoints();
  expect(before.length).toBe(2 * 3 + 2);
  // Each endpoint serves its Secret's certificate to begin with.
  for (const e of before) expect({ what: e.what, serial: await served(e) }).toEqual({ what: e.what, serial: await secretSerial(e.secret) });
  const oldSerial = new Map(await Promise.all(before.map(async (e) => [e.what, await served(e)] as const)));
  const restartsBefore = await incarnations();

  // Clients that verify the server by name, all the time: a write on the leader through the
  // read-write Service, a read through the pooler as an application user.
  const superuser = (await kube.secret(`${NAME}-superuser`, NS)).password;
  const app = await kube.secret(`${NAME}-user-renew-app`, NS);
  const rw = conn(`${NAME}-primary.${NS}.svc`, await clusterIp(`${NAME}-primary`), 'postgres', superuser, 'postgres');
  const pooled = conn(`${NAME}-pooler.${NS}.svc`, await clusterIp(`${NAME}-pooler`), app.username, app.password, app.dbname);
  const env = { PGSSLROOTCERT: caFile };
  await psqlConn(rw, 'create table renewal_writes (n int primary key)', env);
  let stop = false;
  const failures: string[] = [];
  let writes = 0;
  let reads = 0;
  const loop = (async () => {
    for (let n = 1; !stop; n++) {
      await psqlConn(rw, `insert into renewal_writes values (${n})`, env).then(() => writes++, (err) => failures.push(`write ${n}: ${(err as Error).message}`));
      await psqlConn(pooled, 'select current_user', env).then(() => reads++, (err) => failures.push(`pooled read ${n}: ${(err as Error).message}`));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();

  // A manual renewal, as `cmctl renew` starts one: the Issuing condition on each Certificate.
  const renewed = [`${NAME}-server`, `${NAME}-repo-host`, `${NAME}-pooler`];
  const revisions = new Map<string, number>();
  for (const name of renewed) revisions.set(name, (await certificate(name)).status?.revision ?? 0);
  const t0 = Date.now();
  for (const name of renewed) {
    const condition = { type: 'Issuing', status: 'True', reason: 'ManuallyTriggered', message: 'renewal requested by the end-to-end test', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    await kube.kubectl(['patch', 'certificates.cert-manager.io', name, '-n', NS, '--subresource=status', '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/status/conditions/-', value: condition }])]);
  }
  const issued = new Map<string, number>();
  await kube.until('every renewed Certificate issued again and Ready', 60_000, async () => {
    for (const name of renewed) {
      const c = await certificate(name);
      if (!issued.has(name) && (c.status?.revision ?? 0) > revisions.get(name)! && isReady(c)) issued.set(name, Date.now() - t0);
    }
    return issued.size === renewed.length;
  }, 200);

  // Each endpoint serves its Secret's new certificate: how long after the renewal was asked for.
  const after = new Map<string, number>();
  const newSerial = new Map<string, string>();
  for (const e of before) newSerial.set(e.what, await secretSerial(e.secret));
  for (const e of before) expect({ what: e.what, changed: newSerial.get(e.what) !== oldSerial.get(e.what) }).toEqual({ what: e.what, changed: true });
  await kube.until('every endpoint serving its renewed certificate', 120_000, async () => {
    await Promise.all(before.filter((e) => !after.has(e.what)).map(async (e) => {
      const serial = await served(e).catch(() => undefined);
      if (serial === newSerial.get(e.what)) after.set(e.what, Date.now() - t0);
    }));
    return after.size === before.length;
  }, 500);
  stop = true;
  await loop;

  const seconds = [...after.values()].map((ms) => Math.round(ms / 100) / 10);
  record('kube_renewal_certificate_issued_seconds_max', Math.round(Math.max(...issued.values()) / 100) / 10);
  record('kube_renewal_served_seconds_max', Math.max(...seconds));
  record('kube_renewal_served_seconds_min', Math.min(...seconds));
  record('kube_renewal_client_writes', writes);
  record('kube_renewal_client_failures', failures.length);
  console.log(`renewal: issued after ${[...issued].map(([n, ms]) => `${n} ${ms} ms`).join(', ')}; served after ${[...after].map(([w, ms]) => `${w} ${ms} ms`).join(', ')}; ${writes} writes, ${reads} pooled reads`);

  expect(failures).toEqual([]);
  expect(writes).toBeGreaterThan(10);
  expect(reads).toBeGreaterThan(10);
  // Every write acknowledged is there.
  expect(await psqlConn(rw, 'select count(*) from renewal_writes', env)).toBe(String(writes));
  // Reloaded, not restarted: same pods, no container restart.
  expect(await incarnations()).toEqual(restartsBefore);
  // The members still stream to each other over TLS, and Patroni's REST API answers them.
  await pg.waitHealthy(2, 60_000);
}, 600_000);
