/**
 * Upgrading the library over a running cluster, on real Kubernetes (test/kube/cluster.sh). The
 * cluster is applied as an earlier version synthesized it (test/e2e/fixtures/previous.k8s.yaml,
 * written from that version's sources by fixtures/synth-previous.sh), then as this version
 * synthesizes it, while a client writes. The API server must accept every object of the new
 * version over the old ones (a StatefulSet's selector, serviceName and volumeClaimTemplates cannot
 * change), and the members must end on the new pod templates with no acknowledged write lost.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FailoverTiming } from '../../src';
import { KubeCluster, KubePostgres } from './harness/kube';
import { jobComplete, jobsNamed } from './harness/kube-access';
import { allUpdated, writeWhileApplying } from './harness/kube-rollout';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir, removeWorkDir } from './lib/fsutil';
import { psql } from './lib/pg';

const NAME = 'pgup';
const MEMBERS = 3;
const RUN = Date.now().toString(36).slice(-5);
const NS = `upgrade-${RUN}`;
const PREVIOUS = path.join(__dirname, 'fixtures/previous.k8s.yaml');

let kube: KubeCluster;
let workDir: string;
let pg: KubePostgres;

beforeAll(async () => {
  workDir = makeWorkDir('pg-e2e-upgrade');
  kube = KubeCluster.up();
  await kube.createNamespace(NS);
  await kube.apply(PREVIOUS, NS);
  pg = new KubePostgres(kube, NS, NAME);
  await pg.waitHealthy(MEMBERS);
}, 600_000);

afterAll(async () => {
  await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  kube?.down();
  if (workDir) removeWorkDir(workDir);
});

test('the current version applied over the previous one: accepted, rolled in order, nothing lost', async () => {
  expect(fs.readFileSync(PREVIOUS, 'utf8').split('\n')[0]).toMatch(/^# The upgrade suite's cluster as synthesized by [0-9a-f]{7}/);
  const rw = await pg.superuserVia(`${NAME}-primary`);
  await psql(rw, 'create table before_upgrade as select generate_series(1, 1000) n');
  const before = await pg.pods();
  const oldJobs = (await jobsNamed(kube, NS, `${NAME}-config-`)).map((j) => j.metadata.name);
  // The same props as the fixture's (synth-previous.sh).
  const file = synthCluster(path.join(workDir, 'current'), NAME, { failoverTiming: FailoverTiming.FAST, replicas: { count: MEMBERS - 1 } });
  const m = await writeWhileApplying(pg, MEMBERS, 'upgrade_writes', file, async () => {
    const job = await kube.until('the new version\'s config Job', 60_000, async () =>
      (await jobsNamed(kube, NS, `${NAME}-config-`)).find((j) => !oldJobs.includes(j.metadata.name)));
    await jobComplete(kube, NS, job.metadata.name, 500_000);
    await kube.until('every member on the new pod template', 120_000, async () => (await allUpdated(pg, MEMBERS, before)) || undefined, 1000);
  });
  record('kube_upgrade', JSON.stringify({
    seconds: Math.round(m.seconds * 10) / 10,
    longestWriteOutageSeconds: Math.round(m.longestWriteOutage * 10) / 10,
    maxMembersDown: m.maxDown,
    leaderChanges: m.leaders.length - 1,
    acknowledgedWrites: m.acknowledged,
  }));
  // Every StatefulSet now carries the new version's strategy and template.
  for (const sts of [`${NAME}-primary`, `${NAME}-replica`]) {
    const s = await kube.get('statefulset', sts, NS);
    expect(s.spec.updateStrategy.type).toBe('OnDelete');
    expect(s.metadata.annotations['postgres.cdk8s.io/template-hash']).toMatch(/^[0-9a-f]{16}$/);
  }
  expect(m.maxDown).toBeLessThanOrEqual(1);
  expect(Number(await psql(rw, 'select count(*) from before_upgrade'))).toBe(1000);
  // Re-applying the same version changes nothing and makes no new Job.
  const jobs = (await jobsNamed(kube, NS, `${NAME}-config-`)).map((j) => j.metadata.name).sort();
  await kube.apply(file, NS);
  expect((await jobsNamed(kube, NS, `${NAME}-config-`)).map((j) => j.metadata.name).sort()).toEqual(jobs);
}, 700_000);
