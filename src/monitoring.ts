import { Duration, Size } from 'cdk8s';
import { Resources } from './resources';

/**
 * The heartbeat monitor: a sidecar in every member pod. On the leader it writes a heartbeat row
 * every interval (so replication lag is measured end to end) and records each connected
 * replica's lag; on a replica it reads the replicated heartbeat and its own receive/replay
 * position. Its status drives the pod's readiness: a replica that lags past the maximum, or is
 * not streaming, leaves the read-only Service until it catches up. The leader is never made
 * unready by replica trouble.
 */
export interface HeartbeatOptions {
  /**
   * How often each member checks (and the leader writes its heartbeat).
   * @default Duration.seconds(5)
   */
  readonly interval?: Duration;
  /**
   * Connect and statement timeout of one check.
   * @default Duration.seconds(3)
   */
  readonly timeout?: Duration;
  /**
   * Consecutive failed checks before the member is reported unready (one success makes it ready again).
   * @default 3
   */
  readonly failureThreshold?: number;
  /**
   * Most WAL a replica may have received but not replayed, or not yet received, and stay ready.
   * @default Size.mebibytes(16)
   */
  readonly maxLag?: Size;
  /**
   * Longest a replica's replay may stay behind the WAL it has received and stay ready (measured
   * on the replica itself). A replicated heartbeat older than this is reported as a warning, not
   * a failure: a replica's readiness never depends on the leader's heartbeat sidecar.
   * @default Duration.seconds(30)
   */
  readonly maxLagTime?: Duration;
  /**
   * CPU and memory of the heartbeat container.
   * @default - 100m CPU, 64 MiB (requests equal limits: the pod keeps Guaranteed QoS)
   */
  readonly resources?: Resources;
}

/**
 * The Prometheus metrics exporter: a postgres_exporter sidecar on port 9187 in every member
 * pod, connecting as a monitoring role that has pg_monitor and no superuser rights, with
 * queries for replication lag, archive status, heartbeat age and connections.
 */
export interface MetricsOptions {
  /**
   * Run the exporter.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * The postgres_exporter image, pinned.
   * @default 'quay.io/prometheuscommunity/postgres-exporter:v0.15.0'
   */
  readonly image?: string;
  /**
   * CPU and memory of the exporter container.
   * @default - 100m CPU, 128 MiB (requests equal limits: the pod keeps Guaranteed QoS)
   */
  readonly resources?: Resources;
  /**
   * Emit a Prometheus Operator PodMonitor that scrapes every member.
   * @default false
   */
  readonly podMonitor?: boolean;
  /**
   * Scrape interval of the PodMonitor (the alert rules' `for` durations allow for two scrapes).
   * @default Duration.seconds(30)
   */
  readonly scrapeInterval?: Duration;
  /**
   * Emit a Prometheus Operator PrometheusRule with the cluster's alerts: no leader or more than
   * one, a member down or missing, replication lag past the heartbeat's limits, a replica not
   * streaming, WAL archiving failing or falling behind (with backups), a member volume filling,
   * connections near max_connections, transaction ID wraparound approaching, a restart pending
   * for over an hour and a cert-manager Certificate not renewed in time. Thresholds come from
   * the cluster's settings (see the README). The rules select the member pods' metrics by the
   * labels a PodMonitor gives them (`namespace`, `pod`, `container`).
   * @default - true when podMonitor is true
   */
  readonly alertRules?: boolean;
  /**
   * Emit a Grafana dashboard of the cluster (members' role and readiness, replication lag,
   * connections against max_connections, transactions per second, WAL archiving, the
   * heartbeat) as JSON in a ConfigMap `<cluster>-grafana-dashboard` labelled
   * `grafana_dashboard: "1"`, which Grafana's dashboard sidecar loads.
   * @default false
   */
  readonly grafanaDashboard?: boolean;
}

/** Heartbeat and metrics sidecars. */
export interface MonitoringOptions {
  /**
   * The heartbeat monitor (always on: it drives readiness).
   * @default - 5 s interval, 3 failures, 16 MiB / 30 s maximum lag
   */
  readonly heartbeat?: HeartbeatOptions;
  /**
   * The metrics exporter.
   * @default - on, port 9187, no PodMonitor, no alert rules
   */
  readonly metrics?: MetricsOptions;
}

/**
 * A container of your own added to every member pod (for example a log shipper). It shares the
 * pod's restricted security context and must declare its resources.
 */
export interface SidecarOptions {
  /** Container name (a DNS label, unique in the pod). */
  readonly name: string;
  /** Image, pinned by tag or digest. */
  readonly image: string;
  /** CPU and memory requests and limits. */
  readonly resources: Resources;
  /**
   * Entrypoint.
   * @default - the image's
   */
  readonly command?: string[];
  /**
   * Arguments.
   * @default - the image's
   */
  readonly args?: string[];
  /**
   * Plain environment variables.
   * @default - none
   */
  readonly env?: { [name: string]: string };
  /**
   * Named container ports.
   * @default - none
   */
  readonly ports?: { [name: string]: number };
  /**
   * Mount the pod's /tmp volume (PostgreSQL's Unix socket lives there) at this absolute path.
   * @default - not mounted
   */
  readonly socketMountPath?: string;
}
