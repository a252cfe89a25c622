// The zero-prop cluster: one primary, two asynchronous replicas, 500m CPU / 1 GiB each,
// 10 GiB volumes, passwords created in the cluster.
import { App, Chart } from 'cdk8s';
import { PostgresCluster } from '../../src';

export function buildApp(outdir?: string): App {
  const app = new App({ outdir });
  const chart = new Chart(app, 'basic');
  new PostgresCluster(chart, 'db');
  return app;
}
