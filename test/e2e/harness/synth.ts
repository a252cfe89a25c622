/** Synthesizes a PostgresCluster to YAML on disk: the harness then reads only that file. */
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { PostgresCluster, PostgresClusterProps } from '../../../src';

/**
 * Writes `<outdir>/e2e.k8s.yaml` for one cluster and returns its path. The tests' own client
 * connects as `postgres` over TCP, so test clusters opt in to `superuserNetworkAccess` unless a
 * test says otherwise (the default, superuser refused over TCP, is what the synth tests check).
 */
export function synthCluster(outdir: string, id: string, props: PostgresClusterProps): string {
  const app = new App({ outdir });
  const chart = new Chart(app, 'e2e');
  const connection = { superuserNetworkAccess: true, ...props.config?.connection };
  new PostgresCluster(chart, id, { ...props, config: { ...props.config, connection } });
  app.synth();
  return path.join(outdir, 'e2e.k8s.yaml');
}
