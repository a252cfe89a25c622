/**
 * `backup`: an on-demand pgBackRest backup into one repository, run the way `kubectl create job
 * --from=cronjob/...` runs one: a Job made from the repository's backup CronJob's template (owned
 * by the CronJob, annotated `cronjob.kubernetes.io/instantiate: manual`), with the backup type
 * asked for. pgBackRest's own lock keeps it from running beside a scheduled backup of the stanza.
 */
import { CLUSTER_LABEL } from '../../labels';
import { CliError, EXIT_NOT_FOUND } from '../exit';
import { createAndFollow, manualJob, manualSuffix } from './manual-job';
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
  const job = manualJob(source, `${cluster}-repo${opts.repo}-${opts.type}-${manualSuffix(opts.now)}`, (tmpl) => {
    for (const c of tmpl.spec.template.spec.containers ?? []) {
      if (Array.isArray(c.command)) c.command = c.command.map((a: string) => (a.startsWith('--type=') ? `--type=${opts.type}` : a));
    }
  });
  return { job, from: source.metadata.name };
}

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
  const r = await createAndFollow(client, namespace, job, 'backup', { wait: opts.wait, timeoutSeconds: opts.timeoutSeconds, pollMs: opts.pollMs });
  return { cluster, namespace, job: job.metadata.name, fromCronJob: from, repo: opts.repo, type: opts.type, ...r };
}
