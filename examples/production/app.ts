// A production-shaped cluster: synchronous replication, bigger resources, a storage class,
// the fast failover timings and members on separate nodes.
import { App, Chart, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import {
  FailoverTiming, PatroniDcs, PostgresCluster, PostgresImage, ReplicationMode, Resources,
} from '../../src';

export function buildApp(outdir?: string): App {
  const app = new App({ outdir });
  const chart = new Chart(app, 'production', { namespace: 'orders' });
  const db = new PostgresCluster(chart, 'db', {
    clusterName: 'orders-db',
    image: PostgresImage.percona(17),
    replicas: {
      count: 2,
      mode: ReplicationMode.SYNCHRONOUS,
      synchronousStandbys: 1,
      maximumLagOnFailover: Size.mebibytes(16),
    },
    resources: Resources.LARGE,
    primary: {
      resources: Resources.of({ cpu: kplus.Cpu.units(2), memory: Size.gibibytes(4), cpuLimit: kplus.Cpu.units(4) }),
    },
    storage: {
      size: Size.gibibytes(100),
      storageClassName: 'fast-ssd',
      accessMode: kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE,
    },
    failoverTiming: FailoverTiming.FAST,
    dcs: PatroniDcs.CONFIGMAPS,
    maxConnections: 200,
    requireSeparateNodes: true,
  });

  // What other constructs consume: the read-write host, its port and the credentials Secret.
  new kplus.ConfigMap(chart, 'app-settings', {
    metadata: { name: 'orders-app-settings' },
    data: { DATABASE_HOST: db.primaryHost, DATABASE_PORT: String(db.port), DATABASE_READONLY_HOST: db.replicasHost },
  });
  return app;
}
