// Markdown summary of bench/tuning-bench.sh's results.tsv: medians per config and workload, and
// P/D, L/D as the median of the per-round ratios (each round runs D, P, L back to back, so the
// per-round ratio cancels most of the machine's noise).
// Usage: npx ts-node --transpile-only bench/tuning-report.ts bench/results/tuning-<stamp>/results.tsv
import * as fs from 'fs';

const file = process.argv[2];
if (!file) throw new Error('usage: tuning-report.ts results.tsv');
const [header, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n');
const cols = header.split('\t');
const rows = lines.map((l) => {
  const v = l.split('\t');
  return Object.fromEntries(cols.map((c, i) => [c, v[i] ?? 'NA'])) as Record<string, string>;
});

const CONFIGS = ['D', 'P', 'L'];
const MiB = 1024 * 1024;
const median = (xs: number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const num = (s: string | undefined) => (s === undefined || s === 'NA' || s === '' ? NaN : Number(s));

interface Metric { label: string; value: (r: Record<string, string>) => number; fmt: (v: number) => string; ratio: boolean }
const fix = (d: number) => (v: number) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const metrics: Metric[] = [
  { label: 'TPS', value: (r) => num(r.tps), fmt: fix(0), ratio: true },
  { label: 'latency ms', value: (r) => num(r.lat_ms), fmt: fix(2), ratio: true },
  { label: 'shared-buffer hit %', value: (r) => 100 * num(r.hit_ratio), fmt: fix(2), ratio: false },
  { label: 'blocks read (shared-buffer misses) per tx', value: (r) => num(r.blks_read) / num(r.txns), fmt: fix(3), ratio: true },
  { label: 'WAL MiB', value: (r) => num(r.wal_bytes) / MiB, fmt: fix(0), ratio: true },
  { label: 'WAL bytes per tx', value: (r) => num(r.wal_bytes) / num(r.txns), fmt: fix(0), ratio: true },
  { label: 'buffers_backend', value: (r) => num(r.buffers_backend), fmt: fix(0), ratio: false },
  { label: 'checkpoints', value: (r) => num(r.checkpoints), fmt: fix(0), ratio: false },
  { label: 'cgroup peak MiB', value: (r) => num(r.cg_max_usage) / MiB, fmt: fix(0), ratio: true },
  { label: 'cgroup shmem MiB at end', value: (r) => num(r.cg_shmem) / MiB, fmt: fix(0), ratio: false },
  { label: 'cgroup failcnt (limit hits, reclaim)', value: (r) => num(r.cg_failcnt), fmt: fix(0), ratio: false },
];

const ok = rows.filter((r) => r.status === 'ok');
const failed = rows.filter((r) => r.status !== 'ok');
const rounds = [...new Set(rows.map((r) => r.round))];
const out: string[] = [];
out.push('| workload | metric | D (defaults) | P (PGTune) | L (library) | P/D | L/D |');
out.push('|---|---|---|---|---|---|---|');
for (const wl of ['S', 'TPCB']) {
  const wlName = wl === 'S' ? 'select-only (-S)' : 'TPC-B (read-write)';
  for (const m of metrics) {
    const med = CONFIGS.map((c) => median(ok.filter((r) => r.workload === wl && r.config === c).map(m.value)));
    const ratio = (c: string) => {
      if (!m.ratio) return '';
      const per = rounds.map((rd) => {
        const get = (cc: string) => ok.find((r) => r.round === rd && r.workload === wl && r.config === cc);
        const a = get(c); const d = get('D');
        return a && d ? m.value(a) / m.value(d) : NaN;
      });
      const v = median(per);
      return Number.isFinite(v) ? v.toFixed(2) : 'n/a';
    };
    out.push(`| ${wlName} | ${m.label} | ${med.map(m.fmt).join(' | ')} | ${ratio('P')} | ${ratio('L')} |`);
  }
}
const ooms = rows.reduce((s, r) => s + (Number.isFinite(num(r.oom_kills)) ? num(r.oom_kills) : 0), 0);
out.push('');
out.push(`Runs: ${rows.length} workload runs over ${rounds.length} rounds; ${ok.length} ok, ${failed.length} failed`
  + `${failed.length ? ` (${failed.map((r) => `r${r.round} ${r.config} ${r.workload}: ${r.status}`).join('; ')})` : ''}; OOM kills: ${ooms}.`);
out.push('');
out.push('Per-round TPS (round order rotates D,P,L / P,L,D / L,D,P):');
out.push('');
out.push(`| round | ${CONFIGS.map((c) => `${c} -S`).join(' | ')} | ${CONFIGS.map((c) => `${c} TPC-B`).join(' | ')} |`);
out.push(`|---|${CONFIGS.map(() => '---|').join('')}${CONFIGS.map(() => '---|').join('')}`);
for (const rd of rounds) {
  const cell = (c: string, wl: string) => {
    const r = rows.find((x) => x.round === rd && x.config === c && x.workload === wl);
    return r ? (r.status === 'ok' ? Number(r.tps).toFixed(0) : r.status) : '-';
  };
  out.push(`| ${rd} | ${CONFIGS.map((c) => cell(c, 'S')).join(' | ')} | ${CONFIGS.map((c) => cell(c, 'TPCB')).join(' | ')} |`);
}
process.stdout.write(out.join('\n') + '\n');
