/**
 * Ordered rollouts of a changed pod template on real Kubernetes (test/kube/cluster.sh). The member
 * StatefulSets are OnDelete; the config Job of the new declaration replaces the out-of-date
 * members: replicas one at a time through the eviction API, one switchover, the old leader last.
 * A client writes through the read-write Service all the time while a watcher counts the members
 * down at once; the same change made the way the StatefulSet controller makes it by itself
 * (RollingUpdate, the library's behaviour before the ordered rollout) is measured beside it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { FailoverTiming, LogLevel, PostgresClusterProps, PostgresImage, ReplicationMode } from '../../src';
import { KubeCluster, KubePostgres, Obj, deploy } from './harness/kube';
import { jobComplete, jobPods, jobsNamed } from './harness/kube-access';
import { containerLog } from './harness/kube-backup';
import { Measured, allUpdated, explainLongestGap, writeWhileApplying } from './harness/kube-rollout';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir, removeWorkDir } from './lib/fsutil';

const RUN = Date.now().toString(36).slice(-5);
const MEMBERS = 3;
const TAGS = ['17.10-1', '17.10-2'];

let kube: KubeCluster;
let workDir: string;

beforeAll(() => {
  workDir = makeWorkDir('pg-e2e-rollout');
  kube = KubeCluster.up();
});

afterAll(() => {
  kube?.down();
  if (workDir) removeWorkDir(workDir);
});

const props = (mode: ReplicationMode, tag: string): PostgresClusterProps => ({
  failoverTiming: FailoverTiming.FAST,
  replicas: { count: MEMBERS - 1 },
  // Patroni at INFO: its decisions are in the members' logs a too-long write gap prints.
  config: { replication: { mode }, database: { logLevel: LogLevel.NOTICE } },
  image: PostgresImage.custom({ image: `docker.io/percona/percona-distribution-postgresql:${tag}`, postgresVersion: 17 }),
});

/**
 * The synthesized manifests as this suite applies them. The CronJob `<cluster>-reconcile` is
 * suspended, so that each change is the work of one Job whose log the tests read (its five-minute
 * schedule would otherwise run the same program beside it at times of its own); the rollback test
 * runs it by hand. `unordered`: rolled the way the StatefulSet controller rolls by itself, both
 * member StatefulSets RollingUpdate and the config Job (renamed: a Job's template is immutable)
 * without its rollout.
 */
function variant(file: string, unordered: boolean): string {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS());
  for (const d of docs) {
    if (d.kind === 'CronJob' && /-reconcile$/.test(d.metadata.name)) d.spec.suspend = true;
    if (!unordered) continue;
    if (d.kind === 'StatefulSet' && d.spec.updateStrategy?.type === 'OnDelete') d.spec.updateStrategy = { type: 'RollingUpdate' };
    const pod = d.kind === 'Job' ? d.spec.template.spec : d.kind === 'CronJob' ? d.spec.jobTemplate.spec.template.spec : undefined;
    if (pod && pod.containers[0].name === 'apply-config') pod.containers[0].env = pod.containers[0].env.filter((e: any) => e.name !== 'PGC_ROLLOUT');
    if (d.kind === 'Job' && d.metadata.name.includes('-config-')) d.metadata.name += 'u';
  }
  const out = file.replace(/\.yaml$/, unordered ? '.unordered.yaml' : '.suite.yaml');
  fs.writeFileSync(out, docs.map((d) => JSON.stringify(d)).join('\n---\n'));
  return out;
}

const round = (v: number) => Math.round(v * 10) / 10;

function recordRun(key: string, m: Measured): void {
  record(`kube_rollout_${key}`, JSON.stringify({
    seconds: round(m.seconds),
    longestWriteOutageSeconds: round(m.longestWriteOutage),
    maxMembersDown: m.maxDown,
    leaderChanges: m.leaders.length - 1,
    acknowledgedWrites: m.acknowledged,
  }));
}

describe.each([
  ['async', ReplicationMode.ASYNCHRONOUS],
  ['sync', ReplicationMode.SYNCHRONOUS],
])('a changed image tag, %s replication', (key, mode) => {
  const name = `pgro${key[0]}`;
  const ns = `day2-rollout-${key}-${RUN}`;
  let pg: KubePostgres;

  beforeAll(async () => {
    const d = await deploy(kube, workDir, ns, name, props(mode, TAGS[0]), MEMBERS);
    pg = d.pg;
    await kube.apply(variant(d.file, false), ns);
  }, 600_000);

  afterAll(async () => {
    await kube?.kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
  });

  test('ordered: replicas one at a time, one switchover, the old leader last; never two members down, no acknowledged write lost', async () => {
    const firstJobs = (await jobsNamed(kube, ns, `${name}-config-`)).map((j) => j.metadata.name);
    const before = await pg.pods();
    const leader = (await pg.labelledLeader())!.metadata.name;
    const file = variant(synthCluster(path.join(workDir, `${ns}-ordered`), name, props(mode, TAGS[1])), false);
    let job: Obj | undefined;
    const m = await writeWhileApplying(pg, MEMBERS, 'ordered_writes', file, async () => {
      job = await kube.until('the new config Job', 60_000, async () =>
        (await jobsNamed(kube, ns, `${name}-config-`)).find((j) => !firstJobs.includes(j.metadata.name)));
      await jobComplete(kube, ns, job.metadata.name, 500_000);
    });
    recordRun(`ordered_${key}`, m);

    // Every pod was replaced, and runs the new image.
    expect(await allUpdated(pg, MEMBERS, before)).toBe(true);
    for (const p of await pg.pods()) expect(p.spec.containers[0].image).toContain(TAGS[1]);
    // In order: the replicas by name, one switchover from the leader, the old leader last.
    const log = (await jobPods(kube, ns, job!)).map((p) => containerLog(kube, ns, p, 'apply-config')).join('\n');
    const steps = [...log.matchAll(/^(evicting|switching over from) (\S+)/gm)].map((x) => `${x[1].split(' ')[0]} ${x[2]}`);
    const replicas = before.map((p) => p.metadata.name).filter((n) => n !== leader);
    expect(steps).toEqual([...replicas.map((r) => `evicting ${r}`), `switching ${leader}`, `evicting ${leader}`]);
    expect(m.maxDown).toBe(1);
    expect(m.leaders.length - 1).toBe(1);
    expect(m.leaders[0]).toBe(leader);
    // One switchover's worth of outage.
    if (m.longestWriteOutage >= 15) console.log(`${explainLongestGap(pg, m)}\n-- the config Job's log:\n${log}`);
    expect(m.longestWriteOutage).toBeLessThan(15);
  }, 700_000);

  test('unordered, the StatefulSet controller rolling by itself: measured beside it', async () => {
    const file = variant(synthCluster(path.join(workDir, `${ns}-unordered`), name, props(mode, TAGS[0])), true);
    const before = await pg.pods();
    const m = await writeWhileApplying(pg, MEMBERS, 'unordered_writes', file, async () => {
      await kube.until('every member replaced, at its update revision', 500_000, async () => (await allUpdated(pg, MEMBERS, before)) || undefined, 1000);
    });
    recordRun(`unordered_${key}`, m);
    // Nothing is asserted of the unordered roll but that it finished and lost no acknowledged write.
    expect(await allUpdated(pg, MEMBERS, before)).toBe(true);
  }, 700_000);

  test('a rollback to a declaration whose Job already ran: no new Job, the CronJob <cluster>-reconcile rolls it, in order', async () => {
    // The members run TAGS[0] (the unordered roll); the ordered change's declaration comes back.
    const jobsBefore = (await jobsNamed(kube, ns, `${name}-config-`)).map((j) => j.metadata.name);
    const before = await pg.pods();
    await kube.apply(variant(synthCluster(path.join(workDir, `${ns}-rollback`), name, props(mode, TAGS[1])), false), ns);
    expect((await jobsNamed(kube, ns, `${name}-config-`)).map((j) => j.metadata.name).sort()).toEqual([...jobsBefore].sort());
    const run = `${name}-reconcile-now`;
    await kube.kubectl(['create', 'job', '-n', ns, `--from=cronjob/${name}-reconcile`, run]);
    const job = await jobComplete(kube, ns, run, 500_000);
    expect(await allUpdated(pg, MEMBERS, before)).toBe(true);
    for (const p of await pg.pods()) expect(p.spec.containers[0].image).toContain(TAGS[1]);
    const log = (await jobPods(kube, ns, job)).map((p) => containerLog(kube, ns, p, 'apply-config')).join('\n');
    expect([...log.matchAll(/^switching over from/gm)].length).toBe(1);
    expect([...log.matchAll(/^evicting (\S+)/gm)].length).toBe(MEMBERS);
  }, 700_000);

  test('RBAC: the config Job\'s ServiceAccount used every grant of its Role, and was never refused', async () => {
    const sa = `system:serviceaccount:${ns}:${name}-config`;
    const events = kube.auditEvents().filter((e) => e.user?.username === sa && e.stage === 'ResponseComplete');
    expect(events.filter((e) => e.responseStatus?.code === 403).map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
    const used = new Set(events.map((e) => `${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} ${e.verb}`));
    const role = await kube.get('role', `${name}-config`, ns);
    const granted = role.rules.flatMap((r: any) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${res} ${v}`)));
    expect(granted.filter((g: string) => !used.has(g))).toEqual([]);
  });
});
