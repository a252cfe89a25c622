/** Reads synthesized Kubernetes YAML, the way `kubectl apply -f` would. */
import * as fs from 'node:fs';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as parsed from YAML. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [key: string]: any;
}

/** Parses every document of a multi-document YAML file. */
export function loadManifests(file: string): Manifest[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  return docs.map((d) => d.toJS() as Manifest).filter((m) => m && m.kind);
}

/** Every object of a kind. */
export function objectsOfKind(manifests: readonly Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}
