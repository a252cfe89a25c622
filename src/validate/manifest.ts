/**
 * Synthesized Kubernetes objects as plain data, and the few ways the checks look into them:
 * pod templates, containers, equality-based selection, parsing multi-document YAML.
 */
import { parseAllDocuments } from 'yaml';

/** A synthesized Kubernetes object. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly [key: string]: any;
}

/** A pod template and the object that owns it. */
export interface PodTemplate {
  readonly owner: Manifest;
  readonly metadata: { readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
  readonly spec: any;
}

/** `Kind/name` of an object, how every finding names it. */
export function objectRef(m: { kind?: string; metadata?: { name?: string } }): string {
  return `${m.kind}/${m.metadata?.name}`;
}

/** Every object of a kind. */
export function ofKind(manifests: readonly Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

/** Kinds whose objects carry a pod template directly under `spec.template`. */
export const WORKLOAD_KINDS: readonly string[] = ['StatefulSet', 'Deployment', 'DaemonSet', 'ReplicaSet', 'Job'];

/** The pod templates of every StatefulSet, Deployment, DaemonSet, ReplicaSet, Job and CronJob. */
export function podTemplates(manifests: readonly Manifest[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const m of manifests) {
    let template: any;
    if (WORKLOAD_KINDS.includes(m.kind)) template = m.spec?.template;
    else if (m.kind === 'CronJob') template = m.spec?.jobTemplate?.spec?.template;
    else continue;
    if (!template?.spec) throw new Error(`${m.kind}/${m.metadata.name} has no pod template`);
    out.push({ owner: m, metadata: template.metadata ?? {}, spec: template.spec });
  }
  return out;
}

/** Every container (init containers first) of a pod spec. */
export function allContainers(spec: any): any[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

/** True when every label of the selector is on the object (equality-based selection). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/**
 * Parses a multi-document YAML string into manifests; throws an error naming the first
 * syntax problem (with its line) when the text is not YAML.
 */
export function parseManifests(yamlText: string): Manifest[] {
  const docs = parseAllDocuments(yamlText);
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`invalid YAML: ${d.errors.map((e) => e.message).join('; ')}`);
  }
  return docs.map((d) => d.toJS() as Manifest).filter((m) => m !== null && m !== undefined);
}
