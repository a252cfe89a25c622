// Markdown summary of one bench/tuning-bench.sh run: medians per config and workload, and ratios
// between configs as the median of the per-round ratios with their range (each round runs every
// config back to back, so a per-round ratio cancels most of the machine's noise).
// Usage: npx ts-node --transpile-only bench/tuning-report.ts bench/results/tuning-<stamp>
import * as fs from 'fs';
import * as path from 'path';

type Row = Record<string, string>;

const dir = process.argv[2];
if (!dir) throw new Error('usage: tuning-report.ts <results dir of bench/tuning-bench.sh>');
const [header, ...lines] = fs.readFileSync(path.join(dir, 'results.tsv'), 'utf8').trim().split('\n');
const cols = header.split('\t');
const rows: Row[] = lines.map((l) => {
  const v = l.split('\t');
  return Object.fromEntries(cols.map((c, i) => [c, v[i] ?? 'NA']));
});
const configsFile = path.join(dir, 'configs.txt');
const configs = fs.existsSync(configsFile)
  ? fs.readFileSync(configsFile, 'utf8').trim().split('\n')
  : [...new Set(rows.map((r) => r.config))];
const groupsFile = path.join(dir, 'groups.tsv');
// group, setting names (comma-separated), the settings with their values ('; '-separated).
const groups: Array<[string, string, string]> = fs.existsSync(groupsFile)
  ? fs.readFileSync(groupsFile, 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t') as [string, string, string])
  : [];

const MiB = 1024 * 1024;
const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const num = (s: string | undefined) => (s === undefined || s === 'NA' || s === '' ? NaN : Number(s));
const fix = (d: number) => (v: number) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');

interface Metric { label: string; value: (r: Row) => number; fmt: (v: number) => string; ratio: boolean }
const M: Record<string, Metric> = {
  tps: { label: 'TPS', value: (r) => num(r.tps), fmt: fix(0), ratio: true },
  cpu: { label: 'server CPU µs per tx', value: (r) => num(r.cpu_ns) / num(r.txns) / 1000, fmt: fix(1), ratio: true },
  lat: { label: 'latency ms', value: (r) => num(r.lat_ms), fmt: fix(2), ratio: true },
  hit: { label: 'shared-buffer hit %', value: (r) => 100 * num(r.hit_ratio), fmt: fix(1), ratio: false },
  miss: { label: 'shared-buffer misses per tx', value: (r) => num(r.blks_read) / num(r.txns), fmt: fix(2), ratio: true },
  walTx: { label: 'WAL bytes per tx', value: (r) => num(r.wal_bytes) / num(r.txns), fmt: fix(0), ratio: true },
  ckpt: { label: 'checkpoints', value: (r) => num(r.checkpoints), fmt: fix(0), ratio: false },
  peak: { label: 'cgroup peak MiB', value: (r) => num(r.cg_max_usage) / MiB, fmt: fix(0), ratio: false },
  fail: { label: 'cgroup failcnt (limit hits)', value: (r) => num(r.cg_failcnt), fmt: fix(0), ratio: false },
  oom: { label: 'OOM kills', value: (r) => num(r.oom_kills), fmt: fix(0), ratio: false },
  temp: { label: 'temp files', value: (r) => num(r.temp_files), fmt: fix(0), ratio: false },
  clients: { label: 'clients', value: (r) => num(r.clients), fmt: fix(0), ratio: false },
  sortRows: { label: 'rows per sort', value: (r) => num(r.sort_rows), fmt: fix(0), ratio: false },
};
const WORKLOADS: Record<string, { name: string; metrics: Metric[] }> = {
  S: { name: 'select-only', metrics: [M.tps, M.cpu, M.lat, M.hit, M.miss, M.peak, M.fail] },
  TPCB: { name: 'TPC-B', metrics: [M.tps, M.cpu, M.lat, M.hit, M.walTx, M.ckpt, M.peak, M.fail] },
  WM: { name: 'work_mem sorts', metrics: [M.clients, M.sortRows, { ...M.tps, ratio: false }, M.temp, M.peak, M.fail, M.oom] },
};

const rounds = [...new Set(rows.map((r) => r.round))];
const ok = rows.filter((r) => r.status === 'ok');
const get = (rd: string, wl: string, c: string) => ok.find((r) => r.round === rd && r.workload === wl && r.config === c);

/** Median [min–max] over rounds of metric(a) / metric(b). */
function ratio(wl: string, m: Metric, a: string, b: string): string {
  const per = rounds.map((rd) => {
    const x = get(rd, wl, a); const y = get(rd, wl, b);
    return x && y ? m.value(x) / m.value(y) : NaN;
  }).filter((v) => Number.isFinite(v));
  if (!per.length) return 'n/a';
  return `${median(per).toFixed(2)} [${Math.min(...per).toFixed(2)}–${Math.max(...per).toFixed(2)}]`;
}

const out: string[] = [];
const wls = Object.keys(WORKLOADS).filter((wl) => rows.some((r) => r.workload === wl));

const main = ['D', 'P', 'L'].filter((c) => configs.includes(c));
if (main.length > 1) {
  const pairs = [['L', 'D'], ['P', 'D'], ['L', 'P']].filter(([a, b]) => main.includes(a) && main.includes(b));
  out.push(`| workload | metric | ${main.join(' | ')} | ${pairs.map(([a, b]) => `${a}/${b}`).join(' | ')} |`);
  out.push(`|---|---|${main.map(() => '---|').join('')}${pairs.map(() => '---|').join('')}`);
  for (const wl of wls) {
    for (const m of WORKLOADS[wl].metrics) {
      const med = main.map((c) => m.fmt(median(ok.filter((r) => r.workload === wl && r.config === c).map(m.value))));
      const rat = pairs.map(([a, b]) => (m.ratio ? ratio(wl, m, a, b) : ''));
      out.push(`| ${WORKLOADS[wl].name} | ${m.label} | ${med.join(' | ')} | ${rat.join(' | ')} |`);
    }
  }
  out.push('');
}

if (groups.length) {
  const cells: Array<[string, Metric]> = [['S', M.tps], ['S', M.cpu], ['TPCB', M.tps], ['TPCB', M.cpu], ['TPCB', M.walTx]];
  const head = (what: string) => cells.map(([wl, m]) => `${what} ${wl} ${m.label}`).join(' | ');
  out.push(`| group | settings | ${head('D+g / D:')} | ${head('L-g / L:')} |`);
  out.push(`|---|---|${cells.map(() => '---|').join('')}${cells.map(() => '---|').join('')}`);
  out.push(`| (L itself) | all | ${cells.map(([wl, m]) => ratio(wl, m, 'L', 'D')).join(' | ')} | ${cells.map(() => '').join(' | ')} |`);
  for (const [g, names, settings] of groups) {
    const plus = cells.map(([wl, m]) => ratio(wl, m, `D+${g}`, 'D'));
    const minus = cells.map(([wl, m]) => ratio(wl, m, `L-${g}`, 'L'));
    const list = names.split(',');
    const shown = g === 'rest' ? `${list.length} others: ${list.join(', ')}` : settings;
    out.push(`| ${g} | ${shown} | ${plus.join(' | ')} | ${minus.join(' | ')} |`);
  }
  out.push('');
}

const failed = rows.filter((r) => r.status !== 'ok');
const ooms = rows.reduce((s, r) => s + (Number.isFinite(num(r.oom_kills)) ? num(r.oom_kills) : 0), 0);
out.push(`Runs: ${rows.length} workload runs over ${rounds.length} rounds; ${ok.length} ok, ${failed.length} failed`
  + `${failed.length ? ` (${failed.map((r) => `r${r.round} ${r.config} ${r.workload}: ${r.status}`).join('; ')})` : ''}; OOM kills: ${ooms}.`);
out.push('');
out.push('Per-round TPS (the order of the configs rotates by one each round):');
out.push('');
out.push(`| config | ${wls.map((wl) => rounds.map((rd) => `${wl} r${rd}`).join(' | ')).join(' | ')} |`);
out.push(`|---|${wls.map(() => rounds.map(() => '---|').join('')).join('')}`);
for (const c of configs) {
  const cell = (rd: string, wl: string) => {
    const r = rows.find((x) => x.round === rd && x.config === c && x.workload === wl);
    return r ? (r.status === 'ok' ? Number(r.tps).toFixed(0) : r.status) : '-';
  };
  out.push(`| ${c} | ${wls.map((wl) => rounds.map((rd) => cell(rd, wl)).join(' | ')).join(' | ')} |`);
}
process.stdout.write(out.join('\n') + '\n');
