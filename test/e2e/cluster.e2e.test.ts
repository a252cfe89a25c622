/**
 * End-to-end: the synthesized PostgresCluster runs for real (Patroni, PostgreSQL, etcd) on
 * loopback. The harness reads the YAML the library writes; see harness/differences.ts for the
 * only things it changes. Run as root: `npm run test:e2e`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FailoverTiming, PostgresClusterProps, ReplicationMode } from '../../src';
import { LoopbackCluster, Member } from './harness/cluster';
import { DIFFERENCES } from './harness/differences';
import { record, summarize } from './harness/results';
import { synthCluster } from './harness/synth';
import { EtcdServer, startEtcd } from './lib/etcd';
import { makeWorkDir } from './lib/fsutil';
import { findFreePort } from './lib/net';
import { getCluster, probe, switchover, waitForLeader, waitForStreaming } from './lib/patroni';
import { PgTarget, psql } from './lib/pg';
import { leftoverProcesses, stopAll, waitFor } from './lib/processes';

let etcd: EtcdServer;
let workDir: string;

beforeAll(async () => {
  // eslint-disable-next-line no-console
  console.log(['What the harness changes, and why:', ...DIFFERENCES.map((d) => `- ${d.what} (${d.why})`)].join('\n'));
  workDir = makeWorkDir('pg-e2e');
  // Free ports: a system etcd (Debian's etcd-server) may already hold 2379/2380.
  etcd = await startEtcd({ workDir, clientPort: await findFreePort(), peerPort: await findFreePort() });
});

afterAll(async () => {
  await stopAll();
  expect(leftoverProcesses()).toEqual([]);
  // Logs and data stay in workDir for inspection; E2E_KEEP=0 removes them.
  if (process.env.E2E_KEEP === '0') fs.rmSync(workDir, { recursive: true, force: true });
  // eslint-disable-next-line no-console
  else console.log(`member logs and volumes: ${workDir}`);
});

/** Starts a synthesized cluster and waits until the preferred primary leads and every replica streams. */
async function startCluster(name: string, props: PostgresClusterProps) {
  const dir = path.join(workDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = synthCluster(path.join(dir, 'manifests'), name, props);
  const cluster = new LoopbackCluster({ manifestFile: file, workDir: dir, etcdEndpoint: etcd.endpoint });
  const t0 = Date.now();
  const leader = await cluster.startHealthy();
  return { cluster, dir, leader, seconds: (Date.now() - t0) / 1000 };
}

async function stopCluster(cluster: LoopbackCluster): Promise<void> {
  await cluster.shutdown();
}

async function currentLeader(cluster: LoopbackCluster, exclude: string[] = []): Promise<Member> {
  return (await waitForLeader(cluster.running(), { timeoutMs: 90_000, exclude })) as Member;
}

/** Retries a write through the read-write Service until it commits; returns the elapsed seconds. */
async function firstCommittedWrite(rw: PgTarget, sql: string, since: number): Promise<number> {
  await waitFor(() => psql(rw, sql, { connectTimeoutSec: 1, timeoutMs: 5000 }).then(() => true), 120_000, 100, `a committed write through ${rw.host}`);
  return (Date.now() - since) / 1000;
}

describe('default settings (asynchronous, FailoverTiming.DEFAULT)', () => {
  let cluster: LoopbackCluster;
  let rw: PgTarget;
  let ro: PgTarget;

  beforeAll(async () => {
    const started = await startCluster('pgdefault', {});
    cluster = started.cluster;
    record('bootstrap_seconds_default', Math.round(started.seconds * 10) / 10);
    rw = cluster.superuserVia('pgdefault-primary');
    ro = cluster.superuserVia('pgdefault-replicas');
  });

  afterAll(async () => {
    if (cluster) await stopCluster(cluster);
  });

  test('1. bootstrap: the preferred primary initialises and every replica streams', async () => {
    const leader = await currentLeader(cluster);
    expect(leader.name).toBe('pgdefault-primary-0');
    const replicas = cluster.memberList().filter((m) => m.statefulSet === 'pgdefault-replica');
    expect(replicas.map((m) => m.name)).toEqual(['pgdefault-replica-0', 'pgdefault-replica-1']);
    for (const r of replicas) {
      // The replica's init container waited for the leader behind the read-write Service.
      expect(fs.readFileSync(path.join(r.dir, 'wait-for-leader.log'), 'utf8')).toMatch(/leader at 127\.0\.0\.\d+:5432 answers/);
    }
    const slots = await psql(rw, "select string_agg(slot_name || ':' || active, ',' order by slot_name) from pg_replication_slots");
    expect(slots).toBe('pgdefault_replica_0:true,pgdefault_replica_1:true');
    // Settings rendered by the library are in force.
    expect(await psql(rw, 'show shared_buffers')).toBe('128MB');
    expect(await psql(rw, 'show password_encryption')).toBe('scram-sha-256');
    expect(await psql(rw, 'show data_checksums')).toBe('on');
  });

  test('2. replication: a row written through the primary is read on every replica; replicas refuse writes', async () => {
    await psql(rw, "create table if not exists e2e (id serial primary key, note text); insert into e2e (note) values ('replicated')");
    for (const r of cluster.memberList().filter((m) => m.statefulSet === 'pgdefault-replica')) {
      const target = cluster.superuserVia(r.name);
      await waitFor(async () => (await psql(target, "select count(*) from e2e where note = 'replicated'")) === '1', 30_000, 200, `${r.name} to replay the row`);
      expect(await psql(target, 'select pg_is_in_recovery()')).toBe('t');
    }
    expect(await psql(ro, 'select pg_is_in_recovery()')).toBe('t');
    await expect(psql(ro, "insert into e2e (note) values ('must fail')")).rejects.toThrow(/read-only transaction/);
  });

  test('7. probes: liveness and readiness answer as Kubernetes needs on leader, replica and a stopped member', async () => {
    const leader = await currentLeader(cluster);
    const replica = cluster.running().find((m) => m.name !== leader.name)!;
    for (const m of [leader, replica]) {
      expect(await m.probe('livenessProbe')).toEqual({ status: 200, success: true });
      expect(await m.probe('readinessProbe')).toEqual({ status: 200, success: true });
    }
    // The Services follow the roles: the leader only behind read-write, replicas only behind read-only.
    await waitFor(() => cluster.serviceEndpoints('pgdefault-primary').map((e) => e.name).join() === leader.name, 10_000, 100, 'read-write endpoints');
    expect(cluster.serviceEndpoints('pgdefault-replicas').map((e) => e.name)).not.toContain(leader.name);
    await cluster.stop(replica.name);
    expect(await replica.probe('livenessProbe')).toEqual({ status: undefined, success: false });
    expect(await replica.probe('readinessProbe')).toEqual({ status: undefined, success: false });
    await waitFor(() => !cluster.serviceEndpoints('pgdefault-replicas').some((e) => e.name === replica.name), 10_000, 100, 'stopped replica to leave the read-only Service');
    await cluster.restart(replica.name);
    await waitForStreaming(leader, [replica], { timeoutMs: 60_000 });
  });

  test('4. switchover: planned, measured, no lost rows', async () => {
    const leader = await currentLeader(cluster);
    const candidate = cluster.running().find((m) => m.name !== leader.name)!;
    await psql(rw, "insert into e2e (note) select 'before-switchover' from generate_series(1, 100)");
    const before = await psql(rw, 'select count(*) from e2e');
    const t0 = Date.now();
    const res = await switchover(leader, { leader: leader.name, candidate: candidate.name });
    expect(res.status).toBe(200);
    const seconds = await firstCommittedWrite(rw, "insert into e2e (note) values ('after-switchover')", t0);
    record('switchover_seconds_default', Math.round(seconds * 10) / 10);
    expect((await currentLeader(cluster)).name).toBe(candidate.name);
    expect(Number(await psql(rw, 'select count(*) from e2e'))).toBe(Number(before) + 1);
    await waitForStreaming(candidate, cluster.running().filter((m) => m.name !== candidate.name), { timeoutMs: 90_000 });
  });

  test('5. scale: a replica added to the running cluster streams; removing it keeps the cluster healthy', async () => {
    const dir = path.join(workDir, 'pgdefault');
    const up = await cluster.apply(synthCluster(path.join(dir, 'manifests-3'), 'pgdefault', { replicas: { count: 3 } }));
    expect(up).toEqual({ started: ['pgdefault-replica-2'], stopped: [] });
    let leader = await currentLeader(cluster);
    await waitForStreaming(leader, cluster.running().filter((m) => m.name !== leader.name), { timeoutMs: 120_000 });
    expect(await psql(cluster.superuserVia('pgdefault-replica-2'), "select count(*) > 0 from e2e where note = 'replicated'")).toBe('t');
    const down = await cluster.apply(synthCluster(path.join(dir, 'manifests-2'), 'pgdefault', {}));
    expect(down).toEqual({ started: [], stopped: ['pgdefault-replica-2'] });
    leader = await currentLeader(cluster);
    await waitForStreaming(leader, cluster.running().filter((m) => m.name !== leader.name), { timeoutMs: 60_000 });
    await psql(rw, "insert into e2e (note) values ('after-scale-down')");
  });

  test('6. full restart of every member keeps the data', async () => {
    const before = await psql(rw, 'select count(*) from e2e');
    await Promise.all(cluster.running().map((m) => cluster.stop(m.name)));
    expect(cluster.running()).toEqual([]);
    await Promise.all(['pgdefault-primary-0', 'pgdefault-replica-0', 'pgdefault-replica-1'].map((n) => cluster.restart(n)));
    const leader = await currentLeader(cluster);
    await waitForStreaming(leader, cluster.running().filter((m) => m.name !== leader.name), { timeoutMs: 120_000 });
    await waitFor(() => psql(rw, 'select count(*) from e2e').then((c) => c === before), 60_000, 250, 'the rows through the read-write Service');
  });

  test('3. failover with the default timings: kill -9 of the leader, RTO measured, the old leader rejoins', async () => {
    const rto: number[] = [];
    for (let trial = 0; trial < 3; trial++) {
      const old = await currentLeader(cluster);
      await psql(rw, `insert into e2e (note) values ('before-kill-${trial}')`);
      const t0 = Date.now();
      await cluster.kill(old.name);
      rto.push(await firstCommittedWrite(rw, `insert into e2e (note) values ('after-kill-${trial}')`, t0));
      const next = await currentLeader(cluster, [old.name]);
      expect(next.name).not.toBe(old.name);
      await cluster.restart(old.name);
      await waitForStreaming(next, [old], { timeoutMs: 120_000 });
      expect((await probe(old, 'replica')).status).toBe(200);
    }
    record('rto_seconds_default', rto.map((v) => Math.round(v * 10) / 10));
    record('rto_summary_default', JSON.stringify(summarize(rto)));
    // A lost node is replaced once its lease (ttl 30 s) runs out, plus one loop; the read-write
    // Service then waits for the new leader's pod to be ready (heartbeat: up to two 5 s checks).
    for (const v of rto) expect(v).toBeLessThan(30 + 10 + 2 * 5 + 5);
  });
});

describe('synchronous replication with FailoverTiming.FAST', () => {
  let cluster: LoopbackCluster;
  let rw: PgTarget;

  beforeAll(async () => {
    const started = await startCluster('pgfast', {
      replicas: { count: 2 },
      config: { replication: { mode: ReplicationMode.SYNCHRONOUS } },
      failoverTiming: FailoverTiming.FAST,
    });
    cluster = started.cluster;
    record('bootstrap_seconds_fast_sync', Math.round(started.seconds * 10) / 10);
    rw = cluster.superuserVia('pgfast-primary');
    await psql(rw, 'create table e2e (id serial primary key, note text)');
  });

  afterAll(async () => {
    if (cluster) await stopCluster(cluster);
  });

  test('3. failover with the fastest timings: RTO measured, RPO 0 for a row committed just before the kill', async () => {
    const rto: number[] = [];
    for (let trial = 0; trial < 3; trial++) {
      const old = await currentLeader(cluster);
      // RPO 0 holds while the leader has a synchronous standby: Patroni records it in the DCS, and
      // only that standby may be promoted. (Lost with none recorded, e.g. right after a failover,
      // the leader is not replaced until it returns: Patroni never risks acknowledged commits.)
      await waitFor(async () => (await getCluster(old)).json?.members.some((m) => m.role === 'sync_standby'), 60_000, 250,
        `a synchronous standby of ${old.name} recorded in the DCS`);
      // Committed (acknowledged by the synchronous standby) immediately before the node is lost.
      await psql(rw, `insert into e2e (note) values ('committed-before-kill-${trial}')`);
      const t0 = Date.now();
      await cluster.kill(old.name);
      rto.push(await firstCommittedWrite(rw, `insert into e2e (note) values ('after-kill-${trial}')`, t0));
      const next = await currentLeader(cluster, [old.name]);
      expect(await psql(rw, `select count(*) from e2e where note = 'committed-before-kill-${trial}'`)).toBe('1');
      await cluster.restart(old.name);
      await waitForStreaming(next, [old], { timeoutMs: 120_000 });
    }
    record('rto_seconds_fast_sync', rto.map((v) => Math.round(v * 10) / 10));
    record('rto_summary_fast_sync', JSON.stringify(summarize(rto)));
    // ttl 20 s + loop 2 s + the new leader's readiness (heartbeat: up to two 5 s checks) + slack
    for (const v of rto) expect(v).toBeLessThan(20 + 2 + 2 * 5 + 5);
  });
});
