// Synthesizes every example (a folder under examples/ with an app.ts exporting buildApp)
// to dist/examples/<example>/*.k8s.yaml. Run with `npm run synth`.
import { readdirSync, existsSync, rmSync } from 'fs';
import { join } from 'path';

export function exampleNames(): string[] {
  return readdirSync(__dirname, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(__dirname, d.name, 'app.ts')))
    .map((d) => d.name)
    .sort();
}

if (require.main === module) {
  for (const name of exampleNames()) {
    const outdir = join(__dirname, '..', 'dist', 'examples', name);
    rmSync(outdir, { recursive: true, force: true });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { buildApp } = require(`./${name}/app`);
    buildApp(outdir).synth();
    const files = readdirSync(outdir).map((f) => join('dist', 'examples', name, f));
    console.log(`${name}: ${files.join(', ')}`);
  }
}
