/**
 * Helpers of the access and TLS suites on the local Kubernetes cluster: client pods that run a
 * program of the library's image under the restricted Pod Security profile (their exit status
 * from the pod's status, their output from the node agent's log file), the Jobs' runs as the Job
 * controller reports them, and host psql with a libpq connection string (`host=<name>
 * hostaddr=<ip>` verifies a certificate by a name without resolving it).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KubeCluster, Obj } from './kube';

const PSQL = '/usr/lib/postgresql/15/bin/psql';

/** What a client pod did: its phase, its container's exit status and its log. */
export interface PodRun {
  readonly pod: Obj;
  readonly phase: string;
  readonly exitCode: number | undefined;
  readonly log: string;
}

/** A container of a client pod: the library's image, a command, env and mounts. */
export interface ClientContainer {
  readonly image: string;
  readonly command: string[];
  readonly env?: any[];
  readonly volumeMounts?: any[];
}

/** The restricted Pod Security profile, as a user's client pod would declare it. */
export function clientPod(name: string, c: ClientContainer, volumes: any[] = [], uid = 26): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'app.kubernetes.io/name': 'e2e-client' } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { runAsUser: uid, runAsGroup: uid, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'client',
        image: c.image,
        command: c.command,
        env: c.env ?? [],
        volumeMounts: c.volumeMounts ?? [],
        resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
      }],
      volumes,
    },
  };
}

/** Applies a pod, waits until it has run to completion and returns its status and log. */
export async function runPod(kube: KubeCluster, namespace: string, pod: Obj, timeoutMs = 120_000): Promise<PodRun> {
  await kube.kubectl(['apply', '--server-side', '--field-manager=cdk8s-e2e', '-n', namespace, '-f', '-'], JSON.stringify(pod));
  const done = await kube.until(`pod ${pod.metadata.name} Succeeded or Failed`, timeoutMs, async () => {
    const p = await kube.get('pod', pod.metadata.name, namespace);
    return ['Succeeded', 'Failed'].includes(p.status?.phase) ? p : undefined;
  }, 500);
  const exitCode = done.status.containerStatuses?.[0]?.state?.terminated?.exitCode;
  const logFile = path.join(kube.podLogDir(namespace, done), 'client.log');
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  return { pod: done, phase: done.status.phase, exitCode, log };
}

/** The Jobs whose name starts with `prefix`, oldest first. */
export async function jobsNamed(kube: KubeCluster, namespace: string, prefix: string): Promise<Obj[]> {
  return (await kube.list('jobs', namespace)).filter((j) => j.metadata.name.startsWith(prefix))
    .sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp));
}

/** Waits for the Job controller to report the Job Complete; throws when it reports it Failed. */
export async function jobComplete(kube: KubeCluster, namespace: string, name: string, timeoutMs = 240_000): Promise<Obj> {
  return kube.until(`Job ${name} Complete`, timeoutMs, async () => {
    const job = await kube.getOptional('job', name, namespace);
    const cond = (t: string) => (job?.status?.conditions ?? []).some((c: any) => c.type === t && c.status === 'True');
    if (cond('Failed')) throw new Error(`Job ${name} failed: ${JSON.stringify(job!.status)}`);
    return cond('Complete') ? job : undefined;
  }, 500);
}

/** The pods the Job controller created for a Job. */
export async function jobPods(kube: KubeCluster, namespace: string, job: Obj): Promise<Obj[]> {
  return kube.list('pods', namespace, `batch.kubernetes.io/controller-uid=${job.metadata.uid}`);
}

/** psql on the host with a libpq connection string (URI or key=value); throws with stderr. */
export function psqlConn(conninfo: string, sql: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(PSQL, ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', conninfo, '-f', '-'], {
      env: { PATH: '/usr/bin:/bin', PGCONNECT_TIMEOUT: '3', PGAPPNAME: 'e2e', ...env },
      timeout: 15_000,
    }, (err, stdout, stderr) => (err ? reject(new Error(stderr.trim() || err.message)) : resolve(stdout.trim())));
    // psql may exit before reading its input (a refused connection): the exit status and stderr
    // say why, so a broken pipe on stdin is not the error to report.
    child.stdin?.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(err);
    });
    child.stdin?.end(sql);
  });
}

/** Quotes a value for a key=value connection string. */
export function connValue(v: string | number): string {
  return `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
