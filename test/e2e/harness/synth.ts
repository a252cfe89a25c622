/** Synthesizes a PostgresCluster to YAML on disk: the harness then reads only that file. */
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { PostgresCluster, PostgresClusterProps } from '../../../src';

/** Writes `<outdir>/e2e.k8s.yaml` for one cluster and returns its path. */
export function synthCluster(outdir: string, id: string, props: PostgresClusterProps): string {
  const app = new App({ outdir });
  const chart = new Chart(app, 'e2e');
  new PostgresCluster(chart, id, props);
  app.synth();
  return path.join(outdir, 'e2e.k8s.yaml');
}
