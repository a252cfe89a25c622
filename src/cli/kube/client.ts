/**
 * A small Kubernetes API client for the operations commands: reads a kubeconfig the way kubectl
 * does (KUBECONFIG's files merged, first value wins; ~/.kube/config otherwise; a context, its
 * cluster and user) and sends JSON requests over HTTPS with the user's client certificate, bearer
 * token, token file or exec credential plugin (as EKS, GKE and AKS kubeconfigs use).
 */
import { execFileSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { Agent, request as httpsRequest } from 'https';
import { homedir } from 'os';
import { dirname, isAbsolute, join, resolve } from 'path';
import { parse as parseYaml } from 'yaml';
import { CliError, EXIT_NOT_ALLOWED, EXIT_NOT_FOUND, EXIT_UNREACHABLE, EXIT_USAGE } from '../exit';

/** Which kubeconfig, context and namespace to use (kubectl's flags of the same names). */
export interface KubeTarget {
  /** A kubeconfig file; default: $KUBECONFIG, else ~/.kube/config. */
  readonly kubeconfig?: string;
  /** A context of the kubeconfig; default: its current-context. */
  readonly context?: string;
  /** The namespace; default: the context's, else `default`. */
  readonly namespace?: string;
}

/** Where and as whom to connect, resolved from a kubeconfig. */
export interface KubeConnection {
  readonly server: string;
  readonly namespace: string;
  readonly context: string;
  readonly ca?: Buffer;
  readonly insecure: boolean;
  readonly tlsServerName?: string;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly token?: string;
}

type Named<T> = { name: string } & T;
interface KubeconfigFile {
  readonly dir: string;
  readonly doc: any;
}

function kubeconfigFiles(explicit: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (explicit) return [resolve(explicit)];
  const list = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
  return list.length > 0 ? list.map((p) => resolve(p)) : [join(homedir(), '.kube', 'config')];
}

/** First entry by name across the merged files (kubectl's merge rule: the first file wins). */
function findNamed<T>(files: readonly KubeconfigFile[], list: string, name: string): { file: KubeconfigFile; value: T } | undefined {
  for (const file of files) {
    const entry = ((file.doc?.[list] ?? []) as Array<Named<any>>).find((e) => e?.name === name);
    if (entry) return { file, value: entry[list.slice(0, -1)] as T };
  }
  return undefined;
}

function fileOrData(file: KubeconfigFile, data: string | undefined, p: string | undefined, what: string): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (!p) return undefined;
  const full = isAbsolute(p) ? p : join(file.dir, p);
  if (!existsSync(full)) throw new CliError(`kubeconfig: ${what} file ${full} does not exist`, EXIT_USAGE);
  return readFileSync(full);
}

/** Runs an exec credential plugin and returns its ExecCredential status. */
function execCredential(exec: any, file: KubeconfigFile, env: NodeJS.ProcessEnv): { token?: string; cert?: Buffer; key?: Buffer } {
  const extra = Object.fromEntries(((exec.env ?? []) as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));
  let out: string;
  try {
    out = execFileSync(exec.command, exec.args ?? [], {
      cwd: file.dir,
      encoding: 'utf8',
      env: { ...env, ...extra, KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: exec.apiVersion, kind: 'ExecCredential', spec: { interactive: false } }) },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  } catch (err: any) {
    throw new CliError(`kubeconfig: the credential plugin ${exec.command} failed: ${(err.stderr || err.message).toString().trim()}`, EXIT_NOT_ALLOWED);
  }
  const status = JSON.parse(out).status ?? {};
  return {
    token: status.token,
    cert: status.clientCertificateData ? Buffer.from(status.clientCertificateData) : undefined,
    key: status.clientKeyData ? Buffer.from(status.clientKeyData) : undefined,
  };
}

/** Resolves the connection the kubeconfig gives for a context; clear errors for what is missing. */
export function loadKubeconfig(target: KubeTarget = {}, env: NodeJS.ProcessEnv = process.env): KubeConnection {
  const paths = kubeconfigFiles(target.kubeconfig, env);
  const files: KubeconfigFile[] = paths.filter((p) => existsSync(p)).map((p) => ({ dir: dirname(p), doc: parseYaml(readFileSync(p, 'utf8')) ?? {} }));
  if (files.length === 0) {
    throw new CliError(`no kubeconfig: ${paths.join(', ')} ${paths.length > 1 ? 'do' : 'does'} not exist; pass --kubeconfig or set KUBECONFIG`, EXIT_USAGE);
  }
  const contextName = target.context ?? files.map((f) => f.doc['current-context']).find(Boolean);
  if (!contextName) throw new CliError('kubeconfig: no current-context; pass --context', EXIT_USAGE);
  const context = findNamed<any>(files, 'contexts', contextName);
  if (!context) throw new CliError(`kubeconfig: no context named ${contextName}`, EXIT_USAGE);
  const cluster = findNamed<any>(files, 'clusters', context.value.cluster);
  if (!cluster?.value?.server) throw new CliError(`kubeconfig: context ${contextName} names cluster ${context.value.cluster}, which has no server`, EXIT_USAGE);
  const user = context.value.user ? findNamed<any>(files, 'users', context.value.user) : undefined;
  const u = user?.value ?? {};
  let token: string | undefined = u.token;
  if (!token && u.tokenFile) token = readFileSync(isAbsolute(u.tokenFile) ? u.tokenFile : join(user!.file.dir, u.tokenFile), 'utf8').trim();
  let cert = user ? fileOrData(user.file, u['client-certificate-data'], u['client-certificate'], 'client-certificate') : undefined;
  let key = user ? fileOrData(user.file, u['client-key-data'], u['client-key'], 'client-key') : undefined;
  if (u.exec && !token && !cert) {
    const c = execCredential(u.exec, user!.file, env);
    token = c.token;
    cert = c.cert;
    key = c.key;
  }
  return {
    server: String(cluster.value.server).replace(/\/+$/, ''),
    namespace: target.namespace ?? context.value.namespace ?? 'default',
    context: contextName,
    ca: fileOrData(cluster.file, cluster.value['certificate-authority-data'], cluster.value['certificate-authority'], 'certificate-authority'),
    insecure: cluster.value['insecure-skip-tls-verify'] === true,
    tlsServerName: cluster.value['tls-server-name'],
    cert,
    key,
    token,
  };
}

/** The API server answered with an error status. */
export class KubeApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** JSON requests to the API server of a {@link KubeConnection}. */
export class KubeClient {
  private readonly agent: Agent;

  constructor(readonly conn: KubeConnection, private readonly timeoutMs = 15_000) {
    this.agent = new Agent({
      ca: conn.ca,
      cert: conn.cert,
      key: conn.key,
      rejectUnauthorized: !conn.insecure,
      servername: conn.tlsServerName,
      keepAlive: true,
    });
  }

  /** GET; resolves to the parsed body, undefined for 404. */
  async getOptional(path: string): Promise<any | undefined> {
    try {
      return await this.request('GET', path);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** One request; errors become {@link KubeApiError} or a {@link CliError} for an unreachable server. */
  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<any> {
    const url = new URL(this.conn.server + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolvePromise, reject) => {
      const req = httpsRequest({
        method,
        hostname: url.hostname,
        port: url.port || 443,
        path: url.pathname + url.search,
        agent: this.agent,
        timeout: this.timeoutMs,
        headers: {
          'Accept': 'application/json',
          'User-Agent': 'cdk8s-postgres-cluster',
          ...(this.conn.token ? { Authorization: `Bearer ${this.conn.token}` } : {}),
          ...(payload ? { 'Content-Type': contentType, 'Content-Length': payload.length } : {}),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolvePromise(text ? JSON.parse(text) : undefined);
            return;
          }
          let parsed: any;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          reject(new KubeApiError(status, parsed?.reason ?? String(status), parsed?.message ?? (text.trim() || `HTTP ${status}`)));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs / 1000} s`)));
      req.on('error', (err) => reject(new CliError(`the Kubernetes API at ${this.conn.server} (context ${this.conn.context}) is not reachable: ${err.message}`, EXIT_UNREACHABLE)));
      if (payload) req.write(payload);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Maps an API error to the CLI's exit codes: not allowed (401/403), not found (404), else rethrown. */
export function apiErrorToCli(err: unknown, what: string): never {
  if (err instanceof KubeApiError) {
    if (err.status === 401 || err.status === 403) throw new CliError(`not allowed to ${what}: ${err.message}`, EXIT_NOT_ALLOWED);
    if (err.status === 404) throw new CliError(`${what}: not found: ${err.message}`, EXIT_NOT_FOUND);
    throw new CliError(`${what}: the API server answered ${err.status} ${err.reason}: ${err.message}`, EXIT_UNREACHABLE);
  }
  throw err;
}
