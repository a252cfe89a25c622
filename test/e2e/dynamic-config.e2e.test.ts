/**
 * Cluster-wide settings changed after bootstrap, on real Kubernetes (test/kube/cluster.sh).
 * Patroni reads `bootstrap.dcs` only when it creates a cluster; the config Job, a new one for
 * each declared change, applies the declaration through Patroni's REST API and restarts the
 * members that need it: replicas first, the leader last, one at a time. The member pods are not
 * rolled for it. A client writes all the time and no acknowledged write is lost.
 */
import * as path from 'node:path';
import { FailoverTiming, PostgresClusterProps, ReplicationMode } from '../../src';
import { KubeCluster, KubePostgres, Obj, deploy } from './harness/kube';
import { jobComplete, jobPods, jobsNamed } from './harness/kube-access';
import { containerLog } from './harness/kube-backup';
import { writeWhileApplying } from './harness/kube-rollout';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir, removeWorkDir } from './lib/fsutil';
import { psql } from './lib/pg';

const NAME = 'pgcfg';
const RUN = Date.now().toString(36).slice(-5);
const NS = `day2-config-${RUN}`;

let kube: KubeCluster;
let pg: KubePostgres;
let workDir: string;

const props = (maxConnections: number, mode: ReplicationMode): PostgresClusterProps => ({
  failoverTiming: FailoverTiming.FAST,
  replicas: { count: 1 },
  config: { connection: { maxConnections }, replication: { mode } },
});

/** The pods' uids and container restart counts: the change must roll no pod. */
async function incarnations(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const pod of await pg.pods()) {
    out[pod.metadata.name] = `${pod.metadata.uid} ${(pod.status.containerStatuses ?? []).map((c: any) => `${c.name}:${c.restartCount}`).sort().join(',')}`;
  }
  return out;
}

/** What each member's PostgreSQL reports, read on the member itself. */
async function settings(sql: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const pod of await pg.pods()) out[pod.metadata.name] = await psql(await pg.superuserAt(pod), sql);
  return out;
}

async function configJob(): Promise<Obj> {
  const jobs = await kube.until('a config Job', 60_000, async () => {
    const j = await jobsNamed(kube, NS, `${NAME}-config-`);
    return j.length > 0 ? j : undefined;
  });
  return jobs[jobs.length - 1];
}

beforeAll(async () => {
  workDir = makeWorkDir('pg-e2e-config');
  kube = KubeCluster.up();
  ({ pg } = await deploy(kube, workDir, NS, NAME, props(100, ReplicationMode.ASYNCHRONOUS), 2));
}, 600_000);

afterAll(async () => {
  await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  kube?.down();
  if (workDir) removeWorkDir(workDir);
});

test('the first config Job finds the cluster as declared and changes nothing', async () => {
  const job = await jobComplete(kube, NS, (await configJob()).metadata.name);
  const log = (await jobPods(kube, NS, job)).map((p) => containerLog(kube, NS, p, 'apply-config')).join('\n');
  expect(log).toMatch(/the cluster configuration already matches the declaration/);
  expect(log).toMatch(/done: 0 member\(s\) restarted/);
}, 300_000);

test('maxConnections and synchronous mode changed in code reach every member: replicas restarted first, the leader last, no pod rolled', async () => {
  const firstJob = (await configJob()).metadata.name;
  const before = await incarnations();
  const started = await settings('select pg_postmaster_start_time()');
  expect(Object.values(await settings('show max_connections'))).toEqual(['100', '100']);
  const leader = (await pg.labelledLeader())!.metadata.name;

  // A client writing all the time through the read-write Service.
  let job: Obj | undefined;
  const run = await writeWhileApplying(pg, 2, 'config_writes', synthCluster(path.join(workDir, 'changed'), NAME, props(150, ReplicationMode.SYNCHRONOUS)), async () => {
    job = await kube.until('the new config Job', 60_000, async () => {
      const j = await configJob();
      return j.metadata.name !== firstJob ? j : undefined;
    });
    await jobComplete(kube, NS, job.metadata.name, 400_000);
  });

  // Live on every member, and each PostgreSQL was restarted for it.
  expect(Object.values(await settings('show max_connections'))).toEqual(['150', '150']);
  const restarted = await settings('select pg_postmaster_start_time()');
  for (const m of Object.keys(started)) expect({ m, restarted: restarted[m] !== started[m] }).toEqual({ m, restarted: true });
  // In order: the replica first, the leader last.
  const log = (await jobPods(kube, NS, job!)).map((p) => containerLog(kube, NS, p, 'apply-config')).join('\n');
  const order = [...log.matchAll(/^restarting (\S+)/gm)].map((x) => x[1]);
  expect(order).toEqual([...Object.keys(started).filter((m) => m !== leader), leader]);
  // Synchronous mode is on: the leader names the replica its synchronous standby.
  const newLeader = (await pg.labelledLeader())!;
  expect(await psql(await pg.superuserAt(newLeader), 'show synchronous_standby_names')).not.toBe('');
  // Patroni's DCS holds the declaration; nothing is left pending.
  const config = JSON.parse((await pg.patroni(newLeader, '/config')).body);
  expect({ sync: config.synchronous_mode, max: String(config.postgresql.parameters.max_connections) }).toEqual({ sync: true, max: '150' });
  const cluster = JSON.parse((await pg.patroni(newLeader, '/cluster')).body);
  expect(cluster.members.filter((m: any) => m.pending_restart).map((m: any) => m.name)).toEqual([]);
  // No pod was rolled: the same pods, no container restarted.
  expect(await incarnations()).toEqual(before);
  // Every acknowledged write is there (writeWhileApplying checked it); one member restarting at a time.
  expect(run.maxDown).toBeLessThanOrEqual(1);

  record('kube_config_apply_to_job_complete_seconds', Math.round(run.seconds * 10) / 10);
  record('kube_config_longest_write_outage_seconds', Math.round(run.longestWriteOutage * 10) / 10);
  record('kube_config_acknowledged_writes', run.acknowledged);

  // Re-applying the same declaration makes no new Job.
  await kube.apply(synthCluster(path.join(workDir, 'again'), NAME, props(150, ReplicationMode.SYNCHRONOUS)), NS);
  expect((await jobsNamed(kube, NS, `${NAME}-config-`)).map((j) => j.metadata.name)).toContain(job!.metadata.name);
  expect((await configJob()).metadata.name).toBe(job!.metadata.name);
}, 600_000);
