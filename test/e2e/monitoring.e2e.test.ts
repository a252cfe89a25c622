/**
 * Monitoring sidecars of the synthesized pods, run for real: the heartbeat monitor drives
 * readiness (a replica whose replay is paused leaves the read-only Service and comes back), and
 * the metrics exporter serves the library's queries from a member as the monitoring role.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'cdk8s';
import { LoopbackCluster } from './harness/cluster';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { startEtcd } from './lib/etcd';
import { makeWorkDir } from './lib/fsutil';
import { httpRequest, findFreePort } from './lib/net';
import { psql } from './lib/pg';
import { leftoverProcesses, stopAll, waitFor } from './lib/processes';

let cluster: LoopbackCluster;

beforeAll(async () => {
  const workDir = makeWorkDir('pg-e2e-monitoring');
  const etcd = await startEtcd({ workDir, clientPort: await findFreePort(), peerPort: await findFreePort() });
  const dir = path.join(workDir, 'pgmon');
  fs.mkdirSync(dir, { recursive: true });
  const file = synthCluster(path.join(dir, 'manifests'), 'pgmon', {
    monitoring: {
      heartbeat: { interval: Duration.seconds(1), timeout: Duration.seconds(1), failureThreshold: 2, maxLagTime: Duration.seconds(4) },
    },
  });
  cluster = new LoopbackCluster({ manifestFile: file, workDir: dir, etcdEndpoint: etcd.endpoint });
  await cluster.startHealthy();
});

afterAll(async () => {
  if (cluster) await cluster.shutdown();
  await stopAll();
  expect(leftoverProcesses()).toEqual([]);
});

/** Puts Patroni in (or out of) maintenance mode and waits until every member reports it. */
async function setPatroniPause(pause: boolean): Promise<void> {
  const leader = cluster.member('pgmon-primary-0');
  const res = await httpRequest({ host: leader.host, port: leader.apiPort, path: '/config', method: 'PATCH', json: { pause }, tls: leader.apiTls });
  expect(res.status).toBe(200);
  await waitFor(async () => {
    for (const m of cluster.running()) {
      const status = JSON.parse((await httpRequest({ host: m.host, port: m.apiPort, path: '/patroni', tls: m.apiTls })).body);
      if ((status.pause === true) !== pause) return false;
    }
    return true;
  }, 30_000, 250, `every member to report pause=${pause}`);
}

async function get(host: string, port: number, p: string) {
  return httpRequest({ host, port, path: p, timeoutMs: 2000 });
}

test('every pod is ready with its heartbeat; the leader records both replicas', async () => {
  for (const m of cluster.memberList()) {
    await waitFor(() => m.ready(), 30_000, 250, `${m.name} ready`);
  }
  const leader = cluster.member('pgmon-primary-0');
  const status = await waitFor(async () => {
    const s = JSON.parse((await get(leader.host, 8010, '/status')).body);
    return s.replicas?.length === 2 ? s : undefined;
  }, 20_000, 250, 'the leader heartbeat to list both replicas');
  expect(status.role).toBe('leader');
  expect(status.ready).toBe(true);
  expect(status.replicas.map((r: any) => r.application_name).sort()).toEqual(['pgmon-replica-0', 'pgmon-replica-1']);
});

test('a replica whose replay is paused turns unready and leaves the read-only Service, then returns', async () => {
  const replica = cluster.member('pgmon-replica-0');
  const rw = cluster.superuserVia('pgmon-primary');
  await waitFor(() => cluster.serviceEndpoints('pgmon-replicas').length === 2, 20_000, 250, 'two read-only endpoints');
  // Patroni resumes paused WAL replay on its next loop unless it is in maintenance mode: pause
  // Patroni first (as an operator would before pausing replay), and wait until every member knows.
  await setPatroniPause(true);
  await psql(cluster.superuserVia(replica.name), 'select pg_wal_replay_pause()');
  const t0 = Date.now();
  await waitFor(async () => (await get(replica.host, 8010, '/ready')).status === 503, 30_000, 100, `${replica.name} heartbeat to report unready`);
  const unreadySeconds = (Date.now() - t0) / 1000;
  const reason = (await get(replica.host, 8010, '/ready')).body;
  expect(reason).toMatch(/lag|paused|heartbeat/i);
  await waitFor(() => !cluster.serviceEndpoints('pgmon-replicas').some((e) => e.name === replica.name), 10_000, 100, 'the paused replica to leave the read-only Service');
  // The leader is never made unready by replica trouble.
  expect((await get(cluster.member('pgmon-primary-0').host, 8010, '/ready')).status).toBe(200);
  await psql(rw, 'select 1');
  await psql(cluster.superuserVia(replica.name), 'select pg_wal_replay_resume()');
  await setPatroniPause(false);
  const t1 = Date.now();
  await waitFor(async () => (await get(replica.host, 8010, '/ready')).status === 200, 30_000, 100, `${replica.name} heartbeat to report ready`);
  const readySeconds = (Date.now() - t1) / 1000;
  await waitFor(() => cluster.serviceEndpoints('pgmon-replicas').some((e) => e.name === replica.name), 10_000, 100, 'the replica to return to the read-only Service');
  record('heartbeat_unready_after_pause_seconds', Math.round(unreadySeconds * 10) / 10);
  record('heartbeat_ready_after_resume_seconds', Math.round(readySeconds * 10) / 10);
  // maxLagTime 4 s + threshold 2 x interval 1 s, plus scheduling slack
  expect(unreadySeconds).toBeLessThan(4 + 2 + 4);
});

test('the metrics exporter serves the library queries from each member as the monitoring role', async () => {
  const leader = cluster.member('pgmon-primary-0');
  const replica = cluster.member('pgmon-replica-1');
  const leaderMetrics = await waitFor(async () => {
    const body = (await get(leader.host, 9187, '/metrics')).body;
    return /pgc_replication_lag_bytes\{/.test(body) ? body : undefined;
  }, 30_000, 500, 'replication metrics on the leader exporter');
  const names = (body: string) => [...new Set(body.split('\n').filter((l) => /^(pgc_|pg_up)/.test(l)).map((l) => l.split(/[{ ]/)[0]))].sort();
  expect(names(leaderMetrics)).toEqual(expect.arrayContaining([
    'pg_up', 'pgc_archiver_archived_count', 'pgc_archiver_failing', 'pgc_connections_count', 'pgc_heartbeat_age_seconds',
    'pgc_recovery_is_replica', 'pgc_replication_lag_bytes', 'pgc_replication_lag_seconds',
  ]));
  expect(leaderMetrics).toMatch(/^pg_up 1$/m);
  expect(leaderMetrics).toMatch(/pgc_replication_lag_bytes\{application_name="pgmon-replica-0"/);
  expect(leaderMetrics).toMatch(/^pgc_archiver_failing(\{[^}]*\})? 0$/m);
  expect(leaderMetrics).toMatch(/^pgc_heartbeat_age_seconds(\{[^}]*\})? [0-9.e+-]+$/m);
  expect(leaderMetrics).toMatch(/pgc_connections_count\{[^}]*state="active"/);
  const replicaMetrics = (await get(replica.host, 9187, '/metrics')).body;
  expect(replicaMetrics).toMatch(/^pgc_recovery_is_replica(\{[^}]*\})? 1$/m);
  // The exporter's role can monitor but is no superuser.
  const rw = cluster.superuserVia('pgmon-primary');
  expect(await psql(rw, "select rolsuper::text || ',' || pg_has_role('cdk8s_monitor', 'pg_monitor', 'member')::text from pg_roles where rolname = 'cdk8s_monitor'"))
    .toBe('false,true');
  // The heartbeat sidecar's own metrics.
  expect((await get(leader.host, 8010, '/metrics')).body).toMatch(/^pgc_heartbeat_is_leader 1$/m);
});
