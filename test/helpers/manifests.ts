/** Synthesizes clusters and examples for the unit and synth tests, and finds objects in the output. */
import { App, Chart, ChartProps, Testing } from 'cdk8s';
import { parseAllDocuments } from 'yaml';
import { exampleNames } from '../../examples/synth';
import { PostgresCluster, PostgresClusterProps } from '../../src';

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

/** A test chart (id `test`, so a cluster `db` in it has the construct path `test/db`). */
export function testChart(chartProps?: ChartProps): Chart {
  return chartProps ? new Chart(Testing.app(), 'test', chartProps) : Testing.chart();
}

/** Builds a cluster `db` in a fresh test chart. */
export function buildCluster(props?: PostgresClusterProps, chartProps?: ChartProps): { chart: Chart; cluster: PostgresCluster } {
  const chart = testChart(chartProps);
  const cluster = new PostgresCluster(chart, 'db', props);
  return { chart, cluster };
}

/** The manifests of a cluster `db` built with these props in a fresh test chart. */
export function synthCluster(props?: PostgresClusterProps, chartProps?: ChartProps): Manifest[] {
  return Testing.synth(buildCluster(props, chartProps).chart) as Manifest[];
}

/** The manifests of a test chart filled in by `build`. */
export function synthWith(build: (chart: Chart) => void, chartProps?: ChartProps): Manifest[] {
  const chart = testChart(chartProps);
  build(chart);
  return Testing.synth(chart) as Manifest[];
}

/** The object of this kind and name; throws if it is not in the manifests. */
export function find(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && m.metadata?.name === name);
  if (found.length !== 1) {
    const have = manifests.map((m) => `${m.kind}/${m.metadata?.name}`).join(', ');
    throw new Error(`expected exactly one ${kind}/${name}, found ${found.length} (objects: ${have})`);
  }
  return found[0];
}

/** Every object of a kind. */
export function ofKind(manifests: readonly Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

/** The pod templates of every StatefulSet, Deployment, DaemonSet, Job and CronJob. */
export function podTemplates(manifests: readonly Manifest[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const m of manifests) {
    let template: any;
    if (['StatefulSet', 'Deployment', 'DaemonSet', 'ReplicaSet', 'Job'].includes(m.kind)) template = m.spec?.template;
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

/** Names of the examples (folders under examples/ with an app.ts). */
export { exampleNames };

/** Builds an example's App (no files written). */
export function buildExample(name: string): App {
  // The examples are found at run time, so that a new example is tested without editing the tests.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(`../../examples/${name}/app`) as { buildApp: (outdir?: string) => App };
  if (typeof mod.buildApp !== 'function') throw new Error(`examples/${name}/app.ts does not export buildApp`);
  return mod.buildApp();
}

/** The YAML an example synthesizes (what `cdk8s synth` writes, all charts concatenated). */
export function exampleYaml(name: string): string {
  return buildExample(name).synthYaml();
}

/** Parses a multi-document YAML string into manifests. */
export function parseManifests(yamlText: string): Manifest[] {
  const docs = parseAllDocuments(yamlText);
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`invalid YAML: ${d.errors.map((e) => e.message).join('; ')}`);
  }
  return docs.map((d) => d.toJS() as Manifest).filter((m) => m !== null && m !== undefined);
}

/** The manifests of an example, parsed back from its synthesized YAML. */
export function exampleManifests(name: string): Manifest[] {
  return parseManifests(exampleYaml(name));
}

