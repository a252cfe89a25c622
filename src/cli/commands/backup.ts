/**
 * `backup`: an on-demand pgBackRest backup into one repository, run the way `kubectl create job
 * --from=cronjob/...` runs one: a Job made from the repository's backup CronJob's template (owned
 * by the CronJob, annotated `cronjob.kubernetes.io/instantiate: manual`), with the backup type
 * asked for. pgBackRest's own lock keeps it from running beside a scheduled backup of the stanza.
 */
import { CLUSTER_LABEL } from '../../labels';
import { CliError, EXIT_FAILED, EXIT_NOT_FOUND } from '../exit';
import { KubeClient, apiErrorToCli } from '../kube/client';

/** The pgBackRest backup types. */
export const BACKUP_TYPES = ['full', 'diff', 'incr'] as const;

/** Options of {@link runBackup}. */
export interface BackupOptions {
  /** The repository number (1-4), as in the CronJobs' names `<cluster>-repo<N>-<type>`. */
  readonly repo: number;
  readonly type: typeof BACKUP_TYPES[number];
  /** Wait for the Job to finish (else return once it is created). */
  readonly wait: boolean;
  readonly timeoutSeconds: number;
  /** The current time (tests fix it), for the Job's name. */
  readonly now?: Date;
  readonly pollMs?: number;
}

/** What a backup did. */
export interface BackupResult {
  readonly cluster: string;
  readonly namespace: string;
  readonly job: string;
  readonly fromCronJob: string;
  readonly repo: number;
  readonly type: string;
  /** succeeded, failed, or created (without waiting). */
  readonly outcome: string;
  readonly seconds?: number;
}

const BACKUP_COMPONENT = 'backup';

/**
 * The Job for a backup of `type` into repository `repo`, made from the cluster's backup CronJobs:
 * the one of that repository and type, else another of that repository with its `--type=` changed.
 */
export function backupJob(cluster: string, cronJobs: readonly any[], opts: { repo: number; type: string; now: Date }): { job: any; from: string } {
  const own = cronJobs.filter((c) => c.metadata?.labels?.['app.kubernetes.io/component'] === BACKUP_COMPONENT && c.metadata?.labels?.[CLUSTER_LABEL] === cluster);
  const prefix = `${cluster}-repo${opts.repo}-`;
  const ofRepo = own.filter((c) => c.metadata.name.startsWith(prefix)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  if (ofRepo.length === 0) {
    const repos = [...new Set(own.map((c) => /-repo(\d+)-[a-z]+$/.exec(c.metadata.name)?.[1]).filter(Boolean))].sort();
    throw new CliError(`cluster ${cluster} has no backup schedule for repository ${opts.repo}${repos.length > 0 ? `; its repositories: ${repos.join(', ')}` : ' (no backup CronJobs: is backup configured?)'}`, EXIT_NOT_FOUND);
  }
  const source = ofRepo.find((c) => c.metadata.name === `${prefix}${opts.type}`) ?? ofRepo[0];
  const tmpl = JSON.parse(JSON.stringify(source.spec.jobTemplate));
  for (const c of tmpl.spec.template.spec.containers ?? []) {
    if (Array.isArray(c.command)) c.command = c.command.map((a: string) => (a.startsWith('--type=') ? `--type=${opts.type}` : a));
  }
  const stamp = opts.now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const name = `${cluster}-repo${opts.repo}-${opts.type}-manual-${stamp}`;
  if (name.length > 63) throw new CliError(`the Job name ${name} would be longer than 63 characters; the cluster's name is too long for an on-demand backup Job`, EXIT_FAILED);
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      labels: { ...(tmpl.metadata?.labels ?? {}) },
      annotations: { ...(tmpl.metadata?.annotations ?? {}), 'cronjob.kubernetes.io/instantiate': 'manual' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: source.metadata.name, uid: source.metadata.uid, controller: true, blockOwnerDeletion: false }],
    },
    spec: tmpl.spec,
  };
  return { job, from: source.metadata.name };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates the backup Job and (with `wait`) follows it to its end. */
export async function runBackup(client: KubeClient, cluster: string, namespace: string, opts: BackupOptions): Promise<BackupResult> {
  const ns = encodeURIComponent(namespace);
  let cronJobs: any[];
  try {
    cronJobs = (await client.request('GET', `/apis/batch/v1/namespaces/${ns}/cronjobs?labelSelector=${encodeURIComponent(`${CLUSTER_LABEL}=${cluster}`)}`)).items ?? [];
  } catch (err) {
    return apiErrorToCli(err, `list cronjobs in namespace ${namespace}`);
  }
  const { job, from } = backupJob(cluster, cronJobs, { repo: opts.repo, type: opts.type, now: opts.now ?? new Date() });
  const t0 = Date.now();
  try {
    await client.request('POST', `/apis/batch/v1/namespaces/${ns}/jobs`, job);
  } catch (err) {
    return apiErrorToCli(err, `create Job ${job.metadata.name} in namespace ${namespace}`);
  }
  const base = { cluster, namespace, job: job.metadata.name, fromCronJob: from, repo: opts.repo, type: opts.type };
  if (!opts.wait) return { ...base, outcome: 'created' };
  const deadline = t0 + opts.timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    await sleep(opts.pollMs ?? 1000);
    const j = await client.getOptional(`/apis/batch/v1/namespaces/${ns}/jobs/${encodeURIComponent(job.metadata.name)}`).catch(() => undefined);
    const conds: any[] = j?.status?.conditions ?? [];
    if (conds.some((c) => c.type === 'Complete' && c.status === 'True')) return { ...base, outcome: 'succeeded', seconds: (Date.now() - t0) / 1000 };
    const failed = conds.find((c) => c.type === 'Failed' && c.status === 'True');
    if (failed) {
      throw new CliError(`backup Job ${job.metadata.name} failed (${failed.reason ?? 'Failed'}: ${failed.message ?? ''}); its pods' logs say why (kubectl logs -n ${namespace} job/${job.metadata.name})`, EXIT_FAILED);
    }
  }
  throw new CliError(`backup Job ${job.metadata.name} did not finish within ${opts.timeoutSeconds} s; it keeps running (kubectl get job -n ${namespace} ${job.metadata.name})`, EXIT_FAILED);
}
