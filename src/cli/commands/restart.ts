/**
 * `restart`: restarts PostgreSQL on every member in the safe order, replicas first and each back
 * and streaming before the next, the leader last, through Patroni's REST API. It runs a Job from
 * the cluster's suspended `<cluster>-restart` CronJob (as `kubectl create job --from` does), whose
 * program holds a certificate of the cluster CA: the CLI itself needs no access to the members.
 */
import { CliError, EXIT_NOT_FOUND } from '../exit';
import { createAndFollow, manualJob, manualSuffix } from './manual-job';
import { KubeClient, apiErrorToCli } from '../kube/client';

/** Options of {@link runRestart}. */
export interface RestartOptions {
  /** Wait for the Job to finish (else return once it is created). */
  readonly wait: boolean;
  readonly timeoutSeconds: number;
  /** The current time (tests fix it), for the Job's name. */
  readonly now?: Date;
  readonly pollMs?: number;
}

/** What a restart did. */
export interface RestartResult {
  readonly cluster: string;
  readonly namespace: string;
  readonly job: string;
  readonly fromCronJob: string;
  /** succeeded, or created (without waiting). */
  readonly outcome: string;
  readonly seconds?: number;
}

/** The restart Job made from the cluster's `<cluster>-restart` CronJob. */
export function restartJob(cluster: string, cronJob: any | undefined, now: Date): any {
  if (!cronJob) {
    throw new CliError(`cluster ${cluster} has no CronJob ${cluster}-restart (synthesized by cdk8s-postgres-cluster with the config Job; is the cluster's name right, and its manifests from this version?)`, EXIT_NOT_FOUND);
  }
  return manualJob(cronJob, `${cluster}-restart-${manualSuffix(now)}`);
}

/** Creates the restart Job and (with `wait`) follows it to its end. */
export async function runRestart(client: KubeClient, cluster: string, namespace: string, opts: RestartOptions): Promise<RestartResult> {
  const ns = encodeURIComponent(namespace);
  let cronJob: any;
  try {
    cronJob = await client.getOptional(`/apis/batch/v1/namespaces/${ns}/cronjobs/${encodeURIComponent(`${cluster}-restart`)}`);
  } catch (err) {
    return apiErrorToCli(err, `get cronjob ${cluster}-restart in namespace ${namespace}`);
  }
  const job = restartJob(cluster, cronJob, opts.now ?? new Date());
  const r = await createAndFollow(client, namespace, job, 'restart', { wait: opts.wait, timeoutSeconds: opts.timeoutSeconds, pollMs: opts.pollMs });
  return { cluster, namespace, job: job.metadata.name, fromCronJob: cronJob.metadata.name, ...r };
}
