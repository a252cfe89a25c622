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
  /** When the longest gap began and ended (epoch ms). */
  longestGap: { from: number; to: number };
  /** The client's failed writes (epoch ms, first line of the error). */
  failures: Array<{ at: number; error: string }>;
  /** Each change the watcher saw in the member pods (epoch ms; pod:Ready|-:role for each). */
  podStates: Array<{ at: number; pods: string }>;
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
  let longestGap = { from: lastOk, to: lastOk };
  const failures: Measured['failures'] = [];
  const writer = (async () => {
    for (let n = 1; !stop; n++) {
      try {
        await psql(rw, `insert into ${table} values (${n})`, { connectTimeoutSec: 1, timeoutMs: 5000 });
        acknowledged = n;
        const now = Date.now();
        if (now - lastOk > longest) {
          longest = now - lastOk;
          longestGap = { from: lastOk, to: now };
        }
        lastOk = now;
      } catch (err) {
        failures.push({ at: Date.now(), error: (err as Error).message.split('\n')[0] });
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
  const podStates: Measured['podStates'] = [];
  const watcher = (async () => {
    while (!stop) {
      const pods = await pg.pods().catch(() => undefined);
      if (pods) {
        maxDown = Math.max(maxDown, members - pods.filter(KubeCluster.isReady).length);
        const l = pods.filter((p) => p.metadata.labels?.['postgres.cdk8s.io/role'] === 'primary').map((p) => p.metadata.name);
        if (l.length === 1 && leaders[leaders.length - 1] !== l[0]) leaders.push(l[0]);
        const state = pods.map((p) => `${p.metadata.name}:${KubeCluster.isReady(p) ? 'Ready' : '-'}:${p.metadata.labels?.['postgres.cdk8s.io/role'] ?? ''}`).join(' ');
        if (podStates[podStates.length - 1]?.pods !== state) podStates.push({ at: Date.now(), pods: state });
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
  return { seconds, longestWriteOutage: longest / 1000, acknowledged, maxDown, leaders, longestGap, failures, podStates };
}

/**
 * What happened during the longest gap between acknowledged writes: the client's errors, the
 * member pods' states and the members' timestamped log lines, from a few seconds before it to its
 * end. Printed when a test finds the gap too long, so that a failure in CI says its cause.
 */
export function explainLongestGap(pg: KubePostgres, m: Measured, marginMs = 5000): string {
  const { from, to } = m.longestGap;
  const iso = (t: number) => new Date(t).toISOString();
  const inWindow = (t: number) => t >= from - marginMs && t <= to;
  return [
    `longest gap between acknowledged writes: ${((to - from) / 1000).toFixed(1)} s, ${iso(from)} to ${iso(to)}`,
    '-- the client\'s failed writes in it:',
    ...m.failures.filter((f) => inWindow(f.at)).map((f) => `${iso(f.at)} ${f.error}`),
    '-- the member pods (Ready, role label) as the watcher saw them change:',
    ...m.podStates.filter((s, i) => inWindow(s.at) || (m.podStates[i + 1] && inWindow(m.podStates[i + 1].at))).map((s) => `${iso(s.at)} ${s.pods}`),
    '-- the members\' log lines:',
    ...pg.kube.logLinesBetween(pg.namespace, from - marginMs, to),
  ].join('\n');
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
