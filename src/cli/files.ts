/** Reading the YAML and JSON files the commands take: a spec file, or folders of synthesized objects. */
import { existsSync, readdirSync, readFileSync, statSync } from 'fs';
import { join, relative } from 'path';
import { CliError, EXIT_USAGE } from './exit';
import { Manifest, parseManifests } from '../validate/manifest';

/** Objects read from one file. */
export interface ManifestFile {
  readonly file: string;
  readonly manifests: readonly Manifest[];
}

const YAML_FILE = /\.(ya?ml|json)$/;

/** The YAML and JSON files of these paths: files as given, folders searched recursively, sorted. */
export function yamlFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new CliError(`${p}: no such file or folder`, EXIT_USAGE);
    if (statSync(p).isDirectory()) {
      const walk = (dir: string): void => {
        for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
          if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
          const full = join(dir, e.name);
          if (e.isDirectory()) walk(full);
          else if (YAML_FILE.test(e.name)) out.push(full);
        }
      };
      walk(p);
    } else {
      out.push(p);
    }
  }
  return out;
}

/** Reads a text file, or fails with a usage error naming it. */
export function readText(file: string): string {
  if (!existsSync(file)) throw new CliError(`${file}: no such file`, EXIT_USAGE);
  if (statSync(file).isDirectory()) throw new CliError(`${file}: is a folder, not a file`, EXIT_USAGE);
  return readFileSync(file, 'utf8');
}

/** Reads the Kubernetes objects of these paths; a file that is not YAML is a usage error naming it. */
export function readManifestFiles(paths: readonly string[]): ManifestFile[] {
  const files = yamlFiles(paths);
  if (files.length === 0) throw new CliError(`${paths.join(', ')}: no .yaml, .yml or .json file found`, EXIT_USAGE);
  return files.map((file) => {
    const shown = relative(process.cwd(), file) || file;
    let manifests: Manifest[];
    try {
      manifests = parseManifests(readText(file));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`${shown}: ${(err as Error).message}`, EXIT_USAGE);
    }
    for (const [i, m] of manifests.entries()) {
      if (typeof m !== 'object' || Array.isArray(m) || typeof m.kind !== 'string' || typeof m.metadata?.name !== 'string') {
        throw new CliError(`${shown}: document ${i + 1} is not a Kubernetes object (it needs kind and metadata.name)`, EXIT_USAGE);
      }
    }
    return { file: shown, manifests };
  });
}
