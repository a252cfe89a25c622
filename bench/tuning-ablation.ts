// Ablation configurations for bench/tuning-bench.sh (ABLATION=1): PostgreSQL's defaults plus one
// group of the library's rendered settings ("D+<group>"), and the rendered set minus one group
// ("L-<group>", whose settings fall back to PostgreSQL's defaults).
//
// Usage: npx ts-node --transpile-only bench/tuning-ablation.ts <library-params.json> <outdir>
//   writes <outdir>/D+<group>.conf and <outdir>/L-<group>.conf, <outdir>/groups.tsv (group, the
//   setting names, the settings with their values), and prints the configuration names, one per line.
//
// The groups are the settings that can change what pgbench's statements cost: memory for the
// buffer pool, WAL volume and checkpoints, WAL buffers, hint-bit logging. Everything else the
// library renders (planner costs, work_mem and the maintenance memories, parallel workers, JIT,
// logging, keep-alives, replication limits, huge_pages) is one group, "rest": pgbench's
// statements are single-row index lookups and updates, with no sort, hash or parallel plan.
import * as fs from 'fs';
import * as path from 'path';
import { confLines, ParamValue } from './postgresql-conf';

type Params = Record<string, ParamValue>;

/** Group name -> the settings in it (only those the library renders are used). */
const GROUPS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['shared_buffers', ['shared_buffers']],
  ['wal_compression', ['wal_compression']],
  ['checkpoints', ['max_wal_size', 'min_wal_size', 'checkpoint_timeout', 'checkpoint_completion_target']],
  ['wal_buffers', ['wal_buffers']],
  ['wal_log_hints', ['wal_log_hints']],
];

function conf(title: string, params: Params): string {
  return `# ${title}\n${confLines(params)}`;
}

function main(): void {
  const [file, outDir] = process.argv.slice(2);
  if (!file || !outDir) throw new Error('usage: tuning-ablation.ts <library-params.json> <outdir>');
  const used: Params = JSON.parse(fs.readFileSync(file, 'utf8')).used;
  if (!used || !Object.keys(used).length) throw new Error(`${file} has no "used" parameters`);
  const named = new Set(GROUPS.flatMap(([, keys]) => keys));
  const rest = Object.keys(used).filter((k) => !named.has(k));
  const groups: Array<[string, string[]]> = [
    ...GROUPS.map(([g, keys]) => [g, keys.filter((k) => k in used)] as [string, string[]]),
    ['rest', rest],
  ];
  const names: string[] = [];
  const rows: string[] = ['group\tnames\tsettings'];
  for (const [g, keys] of groups) {
    if (!keys.length) continue;
    const plus: Params = {};
    const minus: Params = { ...used };
    for (const k of keys) {
      plus[k] = used[k];
      delete minus[k];
    }
    fs.writeFileSync(path.join(outDir, `D+${g}.conf`), conf(`D+${g}: PostgreSQL defaults plus the library's ${keys.join(', ')}`, plus));
    fs.writeFileSync(path.join(outDir, `L-${g}.conf`), conf(`L-${g}: the library's settings without ${keys.join(', ')}`, minus));
    names.push(`D+${g}`, `L-${g}`);
    rows.push(`${g}\t${keys.join(',')}\t${keys.map((k) => `${k}=${used[k]}`).join('; ')}`);
  }
  fs.writeFileSync(path.join(outDir, 'groups.tsv'), rows.join('\n') + '\n');
  process.stdout.write(names.join('\n') + '\n');
}

main();
