/**
 * Every ```ts block of README.md compiles as shown, against the library's source: each block is
 * its own module, importing what it uses from 'cdk8s-postgres-cluster' (mapped to src/), cdk8s and
 * cdk8s-plus-27. The one thing a block may use without defining it is `chart`, a cdk8s Chart
 * (the README says so).
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import * as ts from 'typescript';

const root = join(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The ```ts blocks of a markdown text, with the line each starts on. */
export function tsBlocks(markdown: string): Array<{ line: number; code: string }> {
  const out: Array<{ line: number; code: string }> = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```ts\s*$/.exec(lines[i]);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) body.push(lines[j].slice(open[1].length));
    out.push({ line: i + 1, code: body.join('\n') });
    i = j;
  }
  return out;
}

/** Type-checks the blocks as modules; returns each diagnostic as `README.md:<line>: <message>`. */
function compile(blocks: Array<{ line: number; code: string }>): string[] {
  const files = new Map<string, { line: number; text: string; prelude: number }>();
  for (const [i, b] of blocks.entries()) {
    const prelude = /\b(const|let) chart\b/.test(b.code) ? '' : "declare const chart: import('cdk8s').Chart;\n";
    files.set(join(root, 'test', `__readme_snippet_${i}.ts`), { line: b.line, text: `${prelude}${b.code}\nexport {};\n`, prelude: prelude ? 1 : 0 });
  }
  // The project's own compiler options (test/tsconfig.json), the package name mapped to src/.
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'test', 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    // A snippet shows a value on its own line (`db.port;`) or declares what it only describes.
    noUnusedLocals: false,
    paths: { 'cdk8s-postgres-cluster': [join(root, 'src', 'index.ts')] },
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => {
    const f = files.get(name);
    return f ? ts.createSourceFile(name, f.text, lang) : getSourceFile(name, lang, ...rest);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  const program = ts.createProgram([...files.keys()], options, host);
  const out: string[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const f = d.file && files.get(d.file.fileName);
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (!f) {
      out.push(`${d.file?.fileName ?? '(program)'}: ${message}`);
      continue;
    }
    const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
    out.push(`README.md:${f.line + line - f.prelude + 1}: ${message}`);
  }
  return out;
}

describe('README TypeScript snippets', () => {
  const blocks = tsBlocks(readme);

  test('the README has snippets', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6);
  });

  test('every snippet compiles as shown', () => {
    expect(compile(blocks)).toEqual([]);
  });

  test('the check catches a name a snippet never imports, at its README line (fence on line 1)', () => {
    expect(compile([{ line: 1, code: "import { PostgresCluster } from 'cdk8s-postgres-cluster';\nnew PostgresCluster(chart, 'db', { storage: { size: Size.gibibytes(1) } });" }]))
      .toEqual([expect.stringMatching(/^README.md:3: Cannot find name 'Size'/)]);
  });
});
