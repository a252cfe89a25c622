/**
 * A Job run by hand from a CronJob's template, the way `kubectl create job --from=cronjob/...`
 * makes one (owned by the CronJob, annotated `cronjob.kubernetes.io/instantiate: manual`), and
 * followed to its end. The operations CLI's `backup` and `restart` are such Jobs.
 */
import { CliError, EXIT_FAILED } from '../exit';
import { KubeClient, apiErrorToCli } from '../kube/client';

/** The Job `name` made from `source`'s jobTemplate; `edit` may change the copied template. */
export function manualJob(source: any, name: string, edit: (template: any) => void = () => undefined): any {
  if (name.length > 63) throw new CliError(`the Job name ${name} would be longer than 63 characters; the cluster's name is too long for an on-demand Job`, EXIT_FAILED);
  const tmpl = JSON.parse(JSON.stringify(source.spec.jobTemplate));
  edit(tmpl);
  return {
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
}

/** `-manual-<yyyymmddhhmmss>`: what makes a hand-made Job's name unique. */
export function manualSuffix(now: Date): string {
  return `manual-${now.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
}

/** How a followed Job ended. */
export interface JobOutcome {
  /** succeeded, or created (not waited for). */
  readonly outcome: string;
  readonly seconds?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates `job` in `namespace` and, with `wait`, follows it until it completes; a failure or the timeout is a CliError. */
export async function createAndFollow(client: KubeClient, namespace: string, job: any, what: string,
  opts: { wait: boolean; timeoutSeconds: number; pollMs?: number }): Promise<JobOutcome> {
  const ns = encodeURIComponent(namespace);
  const name = job.metadata.name;
  const t0 = Date.now();
  try {
    await client.request('POST', `/apis/batch/v1/namespaces/${ns}/jobs`, job);
  } catch (err) {
    return apiErrorToCli(err, `create Job ${name} in namespace ${namespace}`);
  }
  if (!opts.wait) return { outcome: 'created' };
  const deadline = t0 + opts.timeoutSeconds * 1000;
  while (Date.now() < deadline) {
    await sleep(opts.pollMs ?? 1000);
    const j = await client.getOptional(`/apis/batch/v1/namespaces/${ns}/jobs/${encodeURIComponent(name)}`).catch(() => undefined);
    const conds: any[] = j?.status?.conditions ?? [];
    if (conds.some((c) => c.type === 'Complete' && c.status === 'True')) return { outcome: 'succeeded', seconds: (Date.now() - t0) / 1000 };
    const failed = conds.find((c) => c.type === 'Failed' && c.status === 'True');
    if (failed) {
      throw new CliError(`${what} Job ${name} failed (${failed.reason ?? 'Failed'}: ${failed.message ?? ''}); its pods' logs say why (kubectl logs -n ${namespace} job/${name})`, EXIT_FAILED);
    }
  }
  throw new CliError(`${what} Job ${name} did not finish within ${opts.timeoutSeconds} s; it keeps running (kubectl get job -n ${namespace} ${name})`, EXIT_FAILED);
}
