/**
 * README.md as a user reads it: in the installed package (npm shows it, and it sits in
 * node_modules/cdk8s-postgres-cluster) every link must lead somewhere.
 */
import { execFileSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';

const root = join(__dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const repoBlob = 'https://github.com/cdk8s-postgres-cluster/cdk8s-postgres-cluster/blob/main/';

/** The targets of every markdown link `[text](target)` in a text. */
function linkTargets(text: string): string[] {
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

/** The files `npm pack` would put in the tarball (no scripts run: the listing only). */
let packed: Set<string> | undefined;
function packedFiles(): Set<string> {
  if (packed) return packed;
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const files = (JSON.parse(out) as Array<{ files: Array<{ path: string }> }>)[0].files.map((f) => f.path);
  packed = new Set(files.filter((f) => !f.startsWith('node_modules/')));
  return packed;
}

describe('README links', () => {
  const targets = linkTargets(readme);

  test('the README has links to check', () => {
    expect(targets.length).toBeGreaterThan(5);
  });

  test('every relative link names a file the package ships', () => {
    const shipped = packedFiles();
    const relative = targets.filter((t) => !/^[a-z]+:/.test(t) && !t.startsWith('#')).map((t) => t.split('#')[0]);
    expect(relative.filter((t) => !shipped.has(t))).toEqual([]);
  });

  test('every link into the repository names a file the repository has', () => {
    const intoRepo = targets.filter((t) => t.startsWith(repoBlob)).map((t) => t.slice(repoBlob.length).split('#')[0]);
    expect(intoRepo.length).toBeGreaterThan(0);
    expect(intoRepo.filter((t) => !existsSync(join(root, t)))).toEqual([]);
  });

  test('every in-page anchor names a heading', () => {
    const slugs = new Set(
      [...readme.matchAll(/^#+ (.+)$/gm)].map((m) => m[1].trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')),
    );
    const anchors = targets.filter((t) => t.startsWith('#')).map((t) => t.slice(1));
    expect(anchors.filter((a) => !slugs.has(a))).toEqual([]);
  });

  test('the repository URL the links use is the package\'s repository', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(repoBlob.startsWith(pkg.repository.url.replace(/\.git$/, ''))).toBe(true);
  });
});

describe('packing', () => {
  test('npm pack compiles lib/ first (prepack), so a pack from a fresh clone is never empty', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.scripts.prepack).toBe('projen prepack');
    const tasks = JSON.parse(readFileSync(join(root, '.projen', 'tasks.json'), 'utf8')).tasks;
    expect(tasks.prepack.steps).toEqual([{ spawn: 'compile' }]);
  });

  test('the package ships the bin the package.json names', () => {
    const shipped = packedFiles();
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(shipped.has(pkg.bin['cdk8s-postgres-cluster'])).toBe(true);
    expect(readFileSync(join(root, 'bin', 'cdk8s-postgres-cluster'), 'utf8')).toContain("require('../lib/cli/main')");
  });
});
