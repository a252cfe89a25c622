/** Changes applied to a running cluster while a client writes: what the rollout and upgrade suites measure. */
import { KubeCluster, KubePostgres, Obj } from './kube';
import { psql } from '../lib/pg';

/** What a client and a watcher saw while a change was applied. */
export interface Measured {
  /** From the apply to `done`. */
  seconds: number;
  /** The longest gap between two acknowledged writes, seconds. */
  longestWriteOutage: number;
  acknowledged: number;
  /** The most member pods not Ready at once. */
  maxDown: number;
  /** The labelled leaders, in the order they led. */
  leaders: string[];
}

/**
 * Applies `file` while a client inserts through the read-write Service (every 100 ms) and a
 * watcher lists the member pods (every 250 ms), until `done` resolves and the cluster is healthy
 * again; then checks that every acknowledged write is there.
 */
export async function writeWhileApplying(
  pg: KubePostgres, members: number, table: string, file: string, done: () => Promise<void>,
): Promise<Measured> {
  const rw = await pg.superuserVia(`${pg.name}-primary`);
  await psql(rw, `create table ${table} (n int primary key)`);
  let stop = false;
  let acknowledged = 0;
  let lastOk = Date.now();
  let longest = 0;
  const writer = (async () => {
    for (let n = 1; !stop; n++) {
      try {
        await psql(rw, `insert into ${table} values (${n})`, { connectTimeoutSec: 1, timeoutMs: 5000 });
        acknowledged = n;
        longest = Math.max(longest, Date.now() - lastOk);
        lastOk = Date.now();
      } catch (err) {
        // The row is there: the failed attempt before committed, its answer was lost (in doubt).
        if (/duplicate key/.test((err as Error).message)) {
          acknowledged = n;
        } else {
          n--; // the same row again: only acknowledged writes count
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  let maxDown = 0;
  const leaders: string[] = [];
  const watcher = (async () => {
    while (!stop) {
      const pods = await pg.pods().catch(() => undefined);
      if (pods) {
        maxDown = Math.max(maxDown, members - pods.filter(KubeCluster.isReady).length);
        const l = pods.filter((p) => p.metadata.labels?.['postgres.cdk8s.io/role'] === 'primary').map((p) => p.metadata.name);
        if (l.length === 1 && leaders[leaders.length - 1] !== l[0]) leaders.push(l[0]);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const t0 = Date.now();
  try {
    await pg.kube.apply(file, pg.namespace);
    await done();
  } catch (err) {
    stop = true;
    await Promise.all([writer, watcher]);
    throw err;
  }
  const seconds = (Date.now() - t0) / 1000;
  await pg.waitHealthy(members, 180_000);
  stop = true;
  await Promise.all([writer, watcher]);
  // Every acknowledged write is there (a last one in doubt may be too).
  expect(Number(await psql(rw, `select count(*) from ${table} where n <= ${acknowledged}`))).toBe(acknowledged);
  return { seconds, longestWriteOutage: longest / 1000, acknowledged, maxDown, leaders };
}

/** Every member pod runs its StatefulSet's update revision, Ready, and none is one of `replaced`. */
export async function allUpdated(pg: KubePostgres, members: number, replaced: Obj[] = []): Promise<boolean> {
  const pods = await pg.pods();
  if (pods.length !== members) return false;
  const old = new Set(replaced.map((p) => p.metadata.uid));
  for (const p of pods) {
    if (old.has(p.metadata.uid)) return false;
    const owner = p.metadata.ownerReferences.find((o: any) => o.kind === 'StatefulSet').name;
    const sts = await pg.kube.get('statefulset', owner, pg.namespace);
    if (p.metadata.labels['controller-revision-hash'] !== sts.status.updateRevision || !KubeCluster.isReady(p)) return false;
  }
  return true;
}
