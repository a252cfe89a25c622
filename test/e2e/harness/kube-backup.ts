/**
 * What the backup suite needs on the local Kubernetes cluster besides KubeCluster: an
 * S3-compatible server (s3rver from npm) as a host process on the cluster's bridge address,
 * published to the pods by a Service without selector and an EndpointSlice of our own (as the
 * kube-dns Service of test/kube/bootstrap.yaml is), Jobs waited for through the API, and the
 * container logs the node agent writes.
 */
import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { KubeCluster, Obj } from './kube';

const execFileAsync = promisify(execFile);

/** The host's address on the pods' bridge: pods reach host processes there (test/kube/cluster.sh). */
export const BRIDGE_ADDRESS = '10.250.0.1';

/** A running s3rver: where it listens, the CA of its certificate, and how to stop it. */
export interface S3Server {
  readonly port: number;
  /** PEM of its self-signed certificate (the CA the pods verify it with). */
  readonly ca: string;
  readonly caFile: string;
  stop(): Promise<void>;
}

/**
 * Starts s3rver (an S3-compatible server from npm) in a child Node process on the
 * bridge address, behind TLS with a self-signed certificate for `names` (DNS). A child process, not this one: nothing the test runs synchronously can stall it.
 */
export async function startS3Server(dir: string, bucket: string, names: string[]): Promise<S3Server> {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const san = names.map((n) => `DNS:${n}`).join(',');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  fs.chmodSync(cert, 0o644);
  const script = `
    const fs = require('fs');
    const S3rver = require(${JSON.stringify(require.resolve('s3rver'))});
    const server = new S3rver({
      address: ${JSON.stringify(BRIDGE_ADDRESS)}, port: 0, silent: true, directory: ${JSON.stringify(path.join(dir, 'data'))},
      vhostBuckets: false, key: fs.readFileSync(${JSON.stringify(key)}), cert: fs.readFileSync(${JSON.stringify(cert)}),
      configureBuckets: [{ name: ${JSON.stringify(bucket)} }],
    });
    server.run().then((addr) => process.stdout.write('listening ' + addr.port + '\\n'));
    process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
  `;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', fs.openSync(path.join(dir, 's3rver.log'), 'a')] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${out}`)));
  });
  return {
    port,
    ca: fs.readFileSync(cert, 'utf8'),
    caFile: cert,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A Service without selector and the EndpointSlice that points it at a host process on the
 * bridge address: what a pod of that server would publish.
 */
export function hostServiceManifests(name: string, servicePort: number, hostPort: number): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name },
        spec: { ports: [{ name: 'https', port: servicePort, protocol: 'TCP' }] },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${name}-host`, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'cdk8s-e2e' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: [BRIDGE_ADDRESS], conditions: { ready: true } }],
        ports: [{ name: 'https', port: hostPort, protocol: 'TCP' }],
      },
    ],
  });
}

/** A Job's outcome: its object, its pods and the log of its last pod's container. */
export interface JobResult {
  readonly job: Obj;
  readonly pods: Obj[];
  readonly log: string;
  /** Wall-clock seconds from `since` to when the test saw the Job complete. */
  readonly seconds: number;
}

/** Pods of a Job, oldest first. */
export async function jobPods(kube: KubeCluster, namespace: string, job: string): Promise<Obj[]> {
  const pods = await kube.list('pods', namespace, `batch.kubernetes.io/job-name=${job}`);
  return pods.sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp));
}

/** The log file of a pod's container (the node agent writes it; there is no `kubectl logs`). */
export function containerLog(kube: KubeCluster, namespace: string, pod: Obj, container: string): string {
  const file = path.join(kube.podLogDir(namespace, pod), `${container}.log`);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
}

/**
 * Waits until the Job controller marks the Job Complete (throws with the pods' logs when it is
 * Failed or the time runs out).
 */
export async function waitForJob(kube: KubeCluster, namespace: string, job: string, since = Date.now(), timeoutMs = 300_000): Promise<JobResult> {
  const logs = async () => (await jobPods(kube, namespace, job)).map((p) => `--- ${p.metadata.name}\n${containerLog(kube, namespace, p, 'pgbackrest')}`).join('\n');
  let done: Obj;
  try {
    done = await kube.until(`Job ${job} to complete`, timeoutMs, async () => {
      const j = await kube.getOptional('job', job, namespace);
      const cond = (type: string) => (j?.status?.conditions ?? []).some((c: any) => c.type === type && c.status === 'True');
      if (cond('Failed')) throw new Error(`Job ${job} failed: ${JSON.stringify(j!.status)}\n${await logs()}`);
      return cond('Complete') ? j : undefined;
    }, 250);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${await logs()}`);
  }
  const seconds = (Date.now() - since) / 1000;
  const pods = await jobPods(kube, namespace, job);
  const last = pods[pods.length - 1];
  return { job: done, pods, log: last ? containerLog(kube, namespace, last, 'pgbackrest') : '', seconds };
}

/** Milliseconds pgBackRest reports for each completed command of a kind in a log ("backup command end: completed successfully (812ms)"). */
export function commandMillis(log: string, command: string): number[] {
  return [...log.matchAll(new RegExp(`${command} command end: completed successfully \\((\\d+)ms\\)`, 'g'))].map((m) => Number(m[1]));
}

/** The host directory of the PersistentVolume bound to a claim (the controller manager's host-path provisioner). */
export async function claimHostPath(kube: KubeCluster, namespace: string, claim: string): Promise<string> {
  const pvc = await kube.get('pvc', claim, namespace);
  const pv = await kube.get('pv', pvc.spec.volumeName);
  if (!pv.spec.hostPath?.path) throw new Error(`PersistentVolume ${pv.metadata.name} has no hostPath`);
  return pv.spec.hostPath.path;
}

/** `pgbackrest info --output=json` run on the host with the given repository options; the stanza's entry. */
export async function pgbackrestInfo(stanza: string, repoOptions: string[], env: Record<string, string> = {}): Promise<any> {
  const { stdout } = await execFileAsync('pgbackrest', ['--config=/dev/null', '--log-level-console=off', '--log-level-stderr=error',
    ...repoOptions, `--stanza=${stanza}`, '--output=json', 'info'], { encoding: 'utf8', env: { ...process.env, ...env } });
  return JSON.parse(stdout)[0];
}

