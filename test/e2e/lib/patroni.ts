/** Helpers for the Patroni REST API of a set of members. */
import { HttpsOptions, httpRequest } from './net';
import { waitFor } from './processes';

/** Addresses of one Patroni member (one "pod"). */
export interface PatroniMember {
  /** Patroni `name`; also the replication `application_name`. */
  readonly name: string;
  readonly host: string;
  /** REST API port (8008 in a pod). */
  readonly apiPort: number;
  /** PostgreSQL port (5432 in a pod). */
  readonly pgPort: number;
  /** HTTPS, when the REST API serves TLS: the CA and this client's certificate and key (PEM). */
  readonly apiTls?: HttpsOptions;
}

/** Status code plus body, parsed as JSON when possible (`json` is undefined otherwise). */
export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly json: T | undefined;
  readonly body: string;
}

/** One entry of `GET /cluster`. */
export interface ClusterMember {
  readonly name: string;
  /** `leader`, `replica`, `sync_standby`, `standby_leader`. */
  readonly role: string;
  readonly state: string;
  readonly api_url?: string;
  readonly host?: string;
  readonly port?: number;
  readonly timeline?: number;
  readonly lag?: number | 'unknown';
}

/** Body of `GET /cluster`. */
export interface ClusterInfo {
  readonly members: ClusterMember[];
  readonly scope?: string;
}

/** Body of `GET /patroni` (and of the health-check endpoints), fields used here. */
export interface MemberStatus {
  readonly state: string;
  readonly role: string;
  readonly timeline?: number;
  readonly replication?: Array<{ application_name: string; state: string; sync_state: string; client_addr?: string }>;
  readonly patroni?: { version: string; scope: string };
}

/** Health-check endpoints answering 200/503. */
export type HealthEndpoint = 'leader' | 'primary' | 'replica' | 'liveness' | 'readiness' | 'health';

async function call<T>(member: PatroniMember, method: 'GET' | 'POST', path: string, json?: unknown): Promise<ApiResponse<T>> {
  const res = await httpRequest({ host: member.host, port: member.apiPort, path, method, json, tls: member.apiTls });
  let parsed: T | undefined;
  try {
    parsed = JSON.parse(res.body) as T;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, json: parsed, body: res.body };
}

/** `GET <path>` on the member's REST API. */
export function apiGet<T = unknown>(member: PatroniMember, path: string): Promise<ApiResponse<T>> {
  return call<T>(member, 'GET', path);
}

/** `GET /cluster`: topology as seen by this member. */
export function getCluster(member: PatroniMember): Promise<ApiResponse<ClusterInfo>> {
  return apiGet<ClusterInfo>(member, '/cluster');
}

/** `GET /patroni`: the member's own status (a leader includes `replication`). */
export function getStatus(member: PatroniMember): Promise<ApiResponse<MemberStatus>> {
  return apiGet<MemberStatus>(member, '/patroni');
}

/** `GET /leader`, `/replica`, `/liveness`, `/readiness`, `/health` ... */
export function probe(member: PatroniMember, endpoint: HealthEndpoint): Promise<ApiResponse<MemberStatus>> {
  return apiGet<MemberStatus>(member, `/${endpoint}`);
}

/** Probes `endpoint` on every member; unreachable members yield `undefined`. */
async function probeAll(members: readonly PatroniMember[], endpoint: HealthEndpoint): Promise<Array<number | undefined>> {
  return Promise.all(members.map((m) => probe(m, endpoint).then((r) => r.status, () => undefined)));
}

/** Options of the wait helpers. */
export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/**
 * Waits until the leader reports every replica in `pg_stat_replication` with state `streaming`
 * and each replica passes `/readiness` (what the pod's readiness probe asks; `/replica` would
 * refuse members tagged noloadbalance, such as delayed replicas).
 */
export async function waitForStreaming(
  leader: PatroniMember,
  replicas: readonly PatroniMember[],
  options: WaitOptions = {},
): Promise<void> {
  await waitFor(async () => {
    const { json } = await getStatus(leader);
    const streaming = new Set((json?.replication ?? []).filter((r) => r.state === 'streaming').map((r) => r.application_name));
    const missing = replicas.filter((r) => !streaming.has(r.name)).map((r) => r.name);
    if (missing.length > 0) throw new Error(`not streaming from ${leader.name}: ${missing.join(', ')}`);
    const statuses = await probeAll(replicas, 'readiness');
    const notReady = replicas.filter((_, i) => statuses[i] !== 200).map((r) => r.name);
    if (notReady.length > 0) throw new Error(`/readiness not 200 on: ${notReady.join(', ')}`);
    return true;
  }, options.timeoutMs ?? 60_000, options.intervalMs ?? 250, `${replicas.map((r) => r.name).join(', ')} streaming from ${leader.name}`);
}
