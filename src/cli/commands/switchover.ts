/**
 * `switchover`: asks Patroni for a switchover the way patronictl does when it writes to the DCS:
 * the `<cluster>-failover` ConfigMap gets the annotations `leader` (the member to step down) and
 * `member` (the candidate, optional), with the labels Patroni's own objects carry so that its
 * label-selected watch sees it. The leader's next HA loop demotes itself gracefully (checkpoint,
 * WAL shipped to the candidate) and the candidate takes the lock; Patroni then clears the request.
 * Needs `get`, `create` and `patch` on ConfigMaps in the namespace; no exec, no client certificate.
 */
import { ClusterStatus, clusterStatus, fetchClusterObjects } from './status';
import { CliError, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE } from '../exit';
import { KubeClient, apiErrorToCli } from '../kube/client';

/** What a switchover did. */
export interface SwitchoverResult {
  readonly cluster: string;
  readonly namespace: string;
  readonly from: string;
  readonly to: string;
  /** Seconds from the request to the new leader's lock. */
  readonly seconds: number;
}

/** Options of {@link switchover}. */
export interface SwitchoverOptions {
  /** The member to promote; default: Patroni picks the healthiest replica. */
  readonly to?: string;
  /** How long to wait for the new leader. */
  readonly timeoutSeconds: number;
  /** Polling interval (tests shorten it). */
  readonly pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Checks the request against the cluster's state; the error says what to change. */
export function checkSwitchover(status: ClusterStatus, to: string | undefined): string {
  if (!status.leader) throw new CliError(`cluster ${status.cluster} has no leader now: a switchover needs one (a failover happens by itself when the lease expires)`, EXIT_FAILED);
  if (to !== undefined) {
    const target = status.members.find((m) => m.name === to);
    if (!target) throw new CliError(`cluster ${status.cluster} has no member ${to}; members: ${status.members.map((m) => m.name).join(', ')}`, EXIT_NOT_FOUND);
    if (to === status.leader) throw new CliError(`${to} is the leader already; name a replica with --to, or leave it out to let Patroni pick one`, EXIT_USAGE);
    if (!target.ready || target.role === '-') throw new CliError(`${to} is not a ready replica (state ${target.state}, ready ${target.ready}); wait for it or pick another`, EXIT_FAILED);
  } else if (!status.members.some((m) => m.name !== status.leader && m.ready)) {
    throw new CliError(`cluster ${status.cluster} has no ready replica to switch over to`, EXIT_FAILED);
  }
  return status.leader;
}

/** Requests the switchover and waits for the new leader. */
export async function switchover(client: KubeClient, cluster: string, namespace: string, opts: SwitchoverOptions): Promise<SwitchoverResult> {
  const objects = await fetchClusterObjects(client, cluster, namespace);
  const from = checkSwitchover(clusterStatus(cluster, namespace, objects), opts.to);
  const ns = encodeURIComponent(namespace);
  // The leader lock as the fetch above read it: its labels are what the request must carry.
  const leaderCm = objects.leaderConfigMap;
  const name = `${cluster}-failover`;
  const annotations = { leader: from, member: opts.to ?? null, scheduled_at: null };
  const t0 = Date.now();
  try {
    const existing = await client.getOptional(`/api/v1/namespaces/${ns}/configmaps/${encodeURIComponent(name)}`);
    if (existing) {
      await client.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/${encodeURIComponent(name)}`, { metadata: { annotations } }, 'application/merge-patch+json');
    } else {
      await client.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        // Patroni watches its objects by label selector: the request carries the same labels as its leader lock.
        metadata: { name, labels: leaderCm?.metadata?.labels ?? {}, annotations: { leader: from, ...(opts.to ? { member: opts.to } : {}) } },
      });
    }
  } catch (err) {
    apiErrorToCli(err, `write ConfigMap ${name}`);
  }
  const deadline = t0 + opts.timeoutSeconds * 1000;
  let cleared = 0;
  while (Date.now() < deadline) {
    await sleep(opts.pollMs ?? 250);
    const lock = await client.getOptional(`/api/v1/namespaces/${ns}/configmaps/${encodeURIComponent(`${cluster}-leader`)}`).catch(() => undefined);
    const leader: string | undefined = lock?.metadata?.annotations?.leader || undefined;
    if (leader && leader !== from && (!opts.to || leader === opts.to)) {
      return { cluster, namespace, from, to: leader, seconds: (Date.now() - t0) / 1000 };
    }
    // Patroni clears the request when it acts on it or refuses it; a cleared request with the old
    // leader still holding the lock for a while is a refusal (its log says why).
    const req = await client.getOptional(`/api/v1/namespaces/${ns}/configmaps/${encodeURIComponent(name)}`).catch(() => undefined);
    if (leader === from && !req?.metadata?.annotations?.leader) {
      if (++cleared * (opts.pollMs ?? 250) >= 5000) {
        throw new CliError(`Patroni refused the switchover from ${from}${opts.to ? ` to ${opts.to}` : ''}: the request was cleared and ${from} still leads (see its log for why: e.g. the candidate is not a synchronous standby, or lags more than maximum_lag_on_failover)`, EXIT_FAILED);
      }
    }
  }
  throw new CliError(`no new leader within ${opts.timeoutSeconds} s after asking ${from} to step down; check \`status\` and the members' logs`, EXIT_FAILED);
}
