/**
 * Spurious failovers when the Kubernetes API server stops answering: for each FailoverTiming
 * profile, a 3-member cluster on the local cluster (test/kube/cluster.sh, started if needed)
 * writes through its read-write ClusterIP while the API server is paused (SIGSTOP: connections
 * stay open and nothing answers, as an overloaded or partitioned API server does) for a few
 * seconds, for longer than Patroni's retry_timeout, and for longer than the lease (ttl). After
 * the API server resumes (SIGCONT), the run waits two leases and for the cluster to be healthy.
 * A failover is spurious when the leader changed or its timeline moved.
 *
 * Run: `npx ts-node --transpile-only bench/api-pause-bench.ts` (as root, like the e2e suite).
 * BENCH_TRIALS: trials per pause (default 2); BENCH_PROFILES: DEFAULT,FAST (default both);
 * BENCH_PAUSES: short,retry,lease (default all three); BENCH_PATRONI_LOG_INFO=1: Patroni logs at
 * INFO (it logs warnings only by default) to see why a member acted. Prints one JSON line per
 * trial and a table; the numbers are in BENCHMARKS.md. Not part of `npm test`: it pauses the API server every other
 * suite uses.
 */
import { FailoverTiming, LogLevel, PostgresClusterProps } from '../src';
import { deploy, KubeCluster, KubePostgres } from '../test/e2e/harness/kube';
import { makeWorkDir } from '../test/e2e/lib/fsutil';
import { PgTarget, psql } from '../test/e2e/lib/pg';
import { sleep } from '../test/e2e/lib/processes';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 2);
const ALL_PROFILES: Array<[string, FailoverTiming]> = [['DEFAULT', FailoverTiming.DEFAULT], ['FAST', FailoverTiming.FAST]];
const PROFILES = ALL_PROFILES.filter(([name]) => (process.env.BENCH_PROFILES ?? 'DEFAULT,FAST').split(',').includes(name));
const PAUSES = (process.env.BENCH_PAUSES ?? 'short,retry,lease').split(',');
/** A few seconds; past Patroni's retry_timeout (the DCS counts as failed, failsafe_mode acts); past the lease. */
const pauseLength = (kind: string, t: FailoverTiming): number => {
  if (kind === 'short') return 5;
  if (kind === 'retry') return t.retryTimeoutSeconds + 5;
  if (kind === 'lease') return t.ttlSeconds + 10;
  throw new Error(`BENCH_PAUSES: unknown pause ${kind} (short, retry, lease)`);
};

interface Trial {
  readonly profile: string;
  readonly pauseSeconds: number;
  readonly spurious: boolean;
  readonly leaderBefore: string;
  readonly leaderAfter: string;
  readonly timelineBefore: number;
  readonly timelineAfter: number;
  /** Longest time between two committed writes from the pause to the end of the settling wait. */
  readonly longestWriteGapSeconds: number;
  readonly writesDuringPause: number;
}

/** The leader's name and timeline, from its Patroni REST API (no API server needed). */
async function leaderState(pg: KubePostgres): Promise<{ name: string; timeline: number }> {
  const leader = (await pg.labelledLeader())!;
  const status = JSON.parse((await pg.patroni(leader, '/patroni')).body);
  return { name: leader.metadata.name, timeline: Number(status.timeline) };
}

/** Writes through `rw` every 200 ms until stopped; the times (ms) of the committed ones. */
function writeLoop(rw: PgTarget): { stop: () => Promise<number[]> } {
  const committed: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      await psql(rw, "insert into bench (note) values ('pause')", { connectTimeoutSec: 1, timeoutMs: 3000 })
        .then(() => committed.push(Date.now()), () => undefined);
      await sleep(200);
    }
  })();
  return { stop: async () => { running = false; await loop; return committed; } };
}

async function trial(profile: string, timing: FailoverTiming, pg: KubePostgres, rw: PgTarget, pauseSeconds: number): Promise<Trial> {
  const before = await leaderState(pg);
  const writes = writeLoop(rw);
  await sleep(2000);
  const pid = pg.kube.apiServerPid();
  const t0 = Date.now();
  process.kill(pid, 'SIGSTOP');
  try {
    await sleep(pauseSeconds * 1000);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  const t1 = Date.now();
  // Two leases for whatever the members decide after the API server is back.
  await sleep(2 * timing.ttlSeconds * 1000);
  const committed = await writes.stop();
  await pg.waitHealthy(3, 300_000);
  const after = await leaderState(pg);
  const times = [t0, ...committed.filter((t) => t >= t0), Date.now()];
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  return {
    profile,
    pauseSeconds,
    spurious: after.name !== before.name || after.timeline !== before.timeline,
    leaderBefore: before.name,
    leaderAfter: after.name,
    timelineBefore: before.timeline,
    timelineAfter: after.timeline,
    longestWriteGapSeconds: Math.round(Math.max(...gaps) / 100) / 10,
    writesDuringPause: committed.filter((t) => t >= t0 && t <= t1).length,
  };
}

async function main(): Promise<void> {
  const kube = KubeCluster.up();
  const workDir = makeWorkDir('pg-api-pause');
  const results: Trial[] = [];
  const run = Date.now().toString(36).slice(-5);
  try {
    for (const [profile, timing] of PROFILES) {
      const props: PostgresClusterProps = {
        failoverTiming: timing,
        ...(process.env.BENCH_PATRONI_LOG_INFO === '1' ? { config: { database: { logLevel: LogLevel.INFO } } } : {}),
      };
      const { pg } = await deploy(kube, workDir, `pause-${profile.toLowerCase()}-${run}`, 'pgp', props, 3);
      const rw = await pg.superuserVia('pgp-primary');
      await psql(rw, 'create table bench (id serial primary key, note text)');
      for (const kind of PAUSES) {
        for (let i = 0; i < TRIALS; i++) {
          const t = await trial(profile, timing, pg, rw, pauseLength(kind, timing));
          results.push(t);
          // eslint-disable-next-line no-console
          console.log(JSON.stringify(t));
        }
      }
      await kube.kubectl(['delete', 'namespace', pg.namespace, '--wait=false']);
    }
  } finally {
    kube.down();
  }
  const rows = results.reduce<Record<string, Trial[]>>((acc, t) => {
    (acc[`${t.profile} ${t.pauseSeconds}`] ??= []).push(t);
    return acc;
  }, {});
  // eslint-disable-next-line no-console
  console.log(['| profile | API server paused | spurious failovers | longest write gap | writes committed during the pause |', '|---|---|---|---|---|',
    ...Object.values(rows).map((ts) => `| ${ts[0].profile} | ${ts[0].pauseSeconds} s | ${ts.filter((t) => t.spurious).length} of ${ts.length} | `
      + `${ts.map((t) => `${t.longestWriteGapSeconds} s`).join(', ')} | ${ts.map((t) => t.writesDuringPause).join(', ')} |`)].join('\n'));
}

main().catch((err) => {
  // eslint-disable-next-line no-console
  console.error(err);
  process.exitCode = 1;
});
