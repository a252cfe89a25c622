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

/** Where an object of this kind holds its pod template (metadata and spec), or undefined for a kind without one. */
function podTemplateOf(m: Manifest): { field: string; template: any } | undefined {
  if (WORKLOAD_KINDS.includes(m.kind)) return { field: 'spec.template.spec', template: m.spec?.template };
  if (m.kind === 'CronJob') return { field: 'spec.jobTemplate.spec.template.spec', template: m.spec?.jobTemplate?.spec?.template };
  if (m.kind === 'PodTemplate') return { field: 'template.spec', template: m.template };
  // A bare Pod is its own template.
  if (m.kind === 'Pod') return { field: 'spec', template: { metadata: m.metadata, spec: m.spec } };
  return undefined;
}

/** The pod templates of every object that carries a pod spec: workloads, CronJobs, PodTemplates and bare Pods. */
export function podTemplates(manifests: readonly Manifest[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const m of manifests) {
    const where = podTemplateOf(m);
    if (!where) continue;
    const template = where.template;
    // A workload without a pod spec has nothing to check here (the restricted check reports it).
    if (typeof template?.spec !== 'object' || template.spec === null) continue;
    out.push({ owner: m, metadata: template.metadata ?? {}, spec: template.spec });
  }
  return out;
}

/** The field of a workload that should hold its pod spec, and what it holds instead; none when it has one. */
export function missingPodSpecs(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  for (const m of manifests) {
    const where = podTemplateOf(m);
    if (!where) continue;
    const { field, template } = where;
    if (typeof template?.spec !== 'object' || template.spec === null) {
      out.push(`${m.kind}/${m.metadata.name}: field ${field} is ${template?.spec === null ? 'null' : 'missing or not a mapping'}: no pod spec to check`);
    }
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
