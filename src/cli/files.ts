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

/** A file found by searching a folder (it may hold something else than Kubernetes objects), or named. */
export interface FoundFile {
  readonly path: string;
  readonly searched: boolean;
}

/** The YAML and JSON files of these paths: files as given, folders searched recursively, sorted. */
export function yamlFiles(paths: readonly string[]): FoundFile[] {
  const out: FoundFile[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new CliError(`${p}: no such file or folder`, EXIT_USAGE);
    if (statSync(p).isDirectory()) {
      const walk = (dir: string): void => {
        for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
          if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
          const full = join(dir, e.name);
          if (e.isDirectory()) walk(full);
          else if (YAML_FILE.test(e.name)) out.push({ path: full, searched: true });
        }
      };
      walk(p);
    } else {
      out.push({ path: p, searched: false });
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

function isObject(m: unknown): m is Manifest {
  const o = m as Manifest;
  return typeof o === 'object' && o !== null && !Array.isArray(o) && typeof o.kind === 'string' && typeof o.metadata?.name === 'string';
}

/**
 * Reads the Kubernetes objects of these paths. A file that is not YAML is a usage error naming
 * it; so is a named file whose documents are not all Kubernetes objects. Files found in a folder
 * that hold no Kubernetes object (cdk8s.yaml, package.json) are skipped.
 */
export function readManifestFiles(paths: readonly string[]): ManifestFile[] {
  const found = yamlFiles(paths);
  const out: ManifestFile[] = [];
  for (const { path, searched } of found) {
    const shown = relative(process.cwd(), path) || path;
    let manifests: Manifest[];
    try {
      manifests = parseManifests(readText(path));
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`${shown}: ${(err as Error).message}`, EXIT_USAGE);
    }
    if (searched && !manifests.some(isObject)) continue;
    for (const [i, m] of manifests.entries()) {
      if (!isObject(m)) throw new CliError(`${shown}: document ${i + 1} is not a Kubernetes object (it needs kind and metadata.name)`, EXIT_USAGE);
    }
    out.push({ file: shown, manifests });
  }
  if (out.length === 0) throw new CliError(`${paths.join(', ')}: no Kubernetes objects found in .yaml, .yml or .json files`, EXIT_USAGE);
  return out;
}
