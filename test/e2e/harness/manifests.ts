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

/** The object of this kind and name; throws if it is not in the manifests. */
export function findObject(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} is not in the synthesized manifests`);
  return found;
}

/** Every object of a kind. */
export function objectsOfKind(manifests: readonly Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

/** True when every label of the selector is on the object (Kubernetes equality-based selection). */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
