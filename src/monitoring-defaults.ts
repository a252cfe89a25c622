import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Resources } from './resources';

/** Port of the heartbeat sidecar's HTTP endpoint. */
export const HEARTBEAT_PORT = 8010;
/** Port of the metrics exporter. */
export const METRICS_PORT = 9187;
/** The monitoring role the exporter connects as (pg_monitor, no superuser rights). */
export const MONITORING_USER = 'cdk8s_monitor';

/** Default resources of the heartbeat sidecar. @internal */
export const HEARTBEAT_RESOURCES = Resources.of({ cpu: kplus.Cpu.millis(100), memory: Size.mebibytes(64) });
/** Default resources of the exporter sidecar. @internal */
export const METRICS_RESOURCES = Resources.of({ cpu: kplus.Cpu.millis(100), memory: Size.mebibytes(128) });
/** Resources of the wait-for-leader init container. @internal */
export const INIT_RESOURCES = Resources.of({ cpu: kplus.Cpu.millis(100), memory: Size.mebibytes(64) });

/**
 * ttlSecondsAfterFinished of the library's one-off Jobs (credentials, access, backup init, CA
 * publisher): a finished Job is deleted a day later, so every renamed (hash-named) Job does not
 * stay behind. The Jobs are idempotent: a tool that re-applies a deleted Job only re-runs it.
 * CronJobs' Jobs are bounded by their history limits instead.
 * @internal
 */
export const JOB_TTL_SECONDS = 86400;
