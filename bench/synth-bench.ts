/**
 * Synthesis benchmark: wall time and peak memory (max RSS) of synthesizing, in a fresh Node
 * process each time, from the compiled library in lib/:
 *  - floor:    a bare cdk8s chart holding one cdk8s-plus StatefulSet;
 *  - default:  the zero-prop PostgresCluster (examples/basic);
 *  - hundred:  one app holding 100 zero-prop clusters.
 * Cases are interleaved round by round (the machine is shared and noisy) and reported as medians
 * and as ratios to the floor. Run: `npm run bench` (compiles first). Results: BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);

const PRELUDE = `
const t0 = process.hrtime.bigint();
const { App, Chart, Testing } = require('cdk8s');
const kplus = require('cdk8s-plus-27');
`;
const REPORT = `
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
process.stdout.write(JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS, bytes: yaml.length }));
`;

const CASES: Record<string, string> = {
  floor: `${PRELUDE}
const app = Testing.app();
const chart = new Chart(app, 'floor');
new kplus.StatefulSet(chart, 'sts', { containers: [{ image: 'postgres:17', portNumber: 5432 }] });
const yaml = app.synthYaml();${REPORT}`,
  default: `${PRELUDE}
const { PostgresCluster } = require('./lib');
const app = Testing.app();
const chart = new Chart(app, 'basic');
new PostgresCluster(chart, 'db');
const yaml = app.synthYaml();${REPORT}`,
  hundred: `${PRELUDE}
const { PostgresCluster } = require('./lib');
const app = Testing.app();
const chart = new Chart(app, 'many');
for (let i = 0; i < 100; i++) new PostgresCluster(chart, 'db' + i);
const yaml = app.synthYaml();${REPORT}`,
};

interface Sample { ms: number; maxRssKiB: number; bytes: number; wallMs: number }

function runOnce(script: string): Sample {
  const start = process.hrtime.bigint();
  const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  return { ...JSON.parse(out), wallMs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(CASES).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, script] of Object.entries(CASES)) samples[name].push(runOnce(script));
}
const floor = samples.floor;
const rows = Object.entries(samples).map(([name, s]) => {
  const synthMs = median(s.map((x) => x.ms));
  const wall = median(s.map((x) => x.wallMs));
  const rss = median(s.map((x) => x.maxRssKiB)) / 1024;
  return {
    'case': name,
    'synth ms (in-process, median)': synthMs.toFixed(0),
    'process wall ms (median)': wall.toFixed(0),
    'peak RSS MiB (median)': rss.toFixed(1),
    'YAML KiB': (s[0].bytes / 1024).toFixed(0),
    'time / floor': (synthMs / median(floor.map((x) => x.ms))).toFixed(2),
    'RSS / floor': (rss / (median(floor.map((x) => x.maxRssKiB)) / 1024)).toFixed(2),
  };
});
console.log(`rounds: ${ROUNDS}, node ${process.version}`);
console.table(rows);
