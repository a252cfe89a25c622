/** Collects the measurements of an end-to-end run into .e2e/results.json (summarized in BENCHMARKS.md). */
import * as fs from 'node:fs';
import * as path from 'node:path';

const FILE = path.join(__dirname, '..', '..', '..', '.e2e', 'results.json');

/** Records one measurement (seconds or counts) under a name, appending to earlier ones of the run. */
export function record(name: string, value: number | number[] | string): void {
  fs.mkdirSync(path.dirname(FILE), { recursive: true });
  const all = fs.existsSync(FILE) ? JSON.parse(fs.readFileSync(FILE, 'utf8')) : {};
  all[name] = value;
  fs.writeFileSync(FILE, JSON.stringify(all, null, 2) + '\n');
  // eslint-disable-next-line no-console
  console.log(`measured ${name}: ${JSON.stringify(value)}`);
}

/** Median and spread (min-max) of samples. */
export function summarize(samples: number[]): { median: number; min: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median: round(median), min: round(s[0]), max: round(s[s.length - 1]) };
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
