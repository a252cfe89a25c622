/**
 * The CLI as the package ships it, built for the spawn tests without `lib/` (the unit suite runs
 * before compiling): src/ transpiled (no type check; the typecheck task does that) into a temp
 * folder laid out like the package — bin/, lib/ (with lib/scripts), package.json — and run through
 * the real bin file.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import * as ts from 'typescript';

const ROOT = join(__dirname, '..', '..');

function transpileTree(from: string, to: string): void {
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, e.name);
    if (e.isDirectory()) {
      transpileTree(src, join(to, e.name));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      const out = ts.transpileModule(readFileSync(src, 'utf8'), {
        fileName: src,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      });
      const file = join(to, e.name.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, out.outputText);
    } else if (/\.(py|sh)$/.test(e.name)) {
      // The programs of src/scripts, copied as the compile task copies them to lib/scripts.
      mkdirSync(to, { recursive: true });
      copyFileSync(src, join(to, e.name));
    }
  }
}

/** Builds the package layout in a new temp folder; returns the path of its bin. */
export function buildCli(): { bin: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cli-build-'));
  transpileTree(join(ROOT, 'src'), join(dir, 'lib'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  mkdirSync(join(dir, 'bin'));
  const bin = join(dir, 'bin', 'cdk8s-postgres-cluster');
  copyFileSync(join(ROOT, 'bin', 'cdk8s-postgres-cluster'), bin);
  return { bin, dir };
}

/** The environment the built CLI runs in: dependencies from this repository's node_modules. */
export function cliEnv(): NodeJS.ProcessEnv {
  return { ...process.env, NODE_PATH: join(ROOT, 'node_modules') };
}
