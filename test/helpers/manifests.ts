/** Synthesizes clusters and examples for the unit and synth tests, and finds objects in the output. */
import { App, Chart, ChartProps, Testing } from 'cdk8s';
import { exampleNames } from '../../examples/synth';
import { PostgresCluster, PostgresClusterProps } from '../../src';
import { Manifest, parseManifests } from '../../src/validate/manifest';

// The object model and its lookups are the validate checks' own (src/validate), shared with the CLI.
export type { Manifest, PodTemplate } from '../../src/validate/manifest';
export { allContainers, ofKind, parseManifests, podTemplates, selects } from '../../src/validate/manifest';

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

/** The manifests of an example, parsed back from its synthesized YAML. */
export function exampleManifests(name: string): Manifest[] {
  return parseManifests(exampleYaml(name));
}

