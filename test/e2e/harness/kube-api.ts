/**
 * A tiny Kubernetes API server for the Secrets the credentials Job manages: HTTPS on loopback,
 * bearer-token authentication, `GET /api/v1/namespaces/<ns>/secrets/<name>` (200 or 404) and
 * `POST /api/v1/namespaces/<ns>/secrets` (201, 409 when it exists). The Job's real script runs
 * against it, and the Secrets it creates are read back from here.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { makeServiceDir, writeServiceFile } from '../lib/fsutil';

/** A Secret as the API stores it, its data decoded. */
export interface StoredSecret {
  readonly name: string;
  readonly type?: string;
  readonly labels: Record<string, string>;
  readonly data: Record<string, string>;
}

/** A running fake API server. */
export class FakeKubeApi {
  /** Starts listening on 127.0.0.1 (a free port) and writes the service account mount to `<dir>/serviceaccount`. */
  public static async start(dir: string, namespace = 'default'): Promise<FakeKubeApi> {
    const saDir = makeServiceDir(path.join(dir, 'serviceaccount'), 0o755);
    const key = path.join(dir, 'api.key');
    const crt = path.join(dir, 'api.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=kubernetes', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc',
      '-keyout', key, '-out', crt], { stdio: 'pipe' });
    const token = `e2e-${Date.now().toString(36)}`;
    writeServiceFile(path.join(saDir, 'token'), token + '\n', 0o644);
    writeServiceFile(path.join(saDir, 'namespace'), namespace + '\n', 0o644);
    writeServiceFile(path.join(saDir, 'ca.crt'), fs.readFileSync(crt, 'utf8'), 0o644);
    const api = new FakeKubeApi(fs.readFileSync(key), fs.readFileSync(crt), token, namespace, saDir);
    await new Promise<void>((resolve, reject) => {
      api.server.once('error', reject);
      api.server.listen(0, '127.0.0.1', () => resolve());
    });
    return api;
  }

  /** Secrets by name. */
  public readonly secrets = new Map<string, StoredSecret>();
  /** Every request, in order (method and path). */
  public readonly requests: Array<{ method: string; path: string; status: number }> = [];
  private readonly server: https.Server;

  private constructor(key: Buffer, cert: Buffer, private readonly token: string, public readonly namespace: string,
    /** The directory standing for the service account token mount. */
    public readonly saDir: string) {
    this.server = https.createServer({ key, cert }, (req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const status = this.handle(req.method ?? '', req.url ?? '', req.headers.authorization, body);
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', status });
        res.statusCode = status;
        res.setHeader('Content-Type', 'application/json');
        res.end('{}');
      });
    });
  }

  /** Host and port, as KUBERNETES_SERVICE_HOST/PORT give them to pods. */
  public get address(): { host: string; port: number } {
    return { host: '127.0.0.1', port: (this.server.address() as AddressInfo).port };
  }

  private handle(method: string, url: string, auth: string | undefined, body: string): number {
    if (auth !== `Bearer ${this.token}`) return 401;
    const base = `/api/v1/namespaces/${this.namespace}/secrets`;
    if (method === 'GET' && url.startsWith(base + '/')) {
      return this.secrets.has(decodeURIComponent(url.slice(base.length + 1))) ? 200 : 404;
    }
    if (method === 'POST' && url === base) {
      let obj: any;
      try {
        obj = JSON.parse(body);
      } catch {
        return 400;
      }
      if (obj.kind !== 'Secret' || !obj.metadata?.name) return 422;
      if (this.secrets.has(obj.metadata.name)) return 409;
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, string>)) data[k] = Buffer.from(v, 'base64').toString('utf8');
      for (const [k, v] of Object.entries((obj.stringData ?? {}) as Record<string, string>)) data[k] = v;
      this.secrets.set(obj.metadata.name, { name: obj.metadata.name, type: obj.type, labels: obj.metadata.labels ?? {}, data });
      return 201;
    }
    return 404;
  }

  /** Stops listening. */
  public async close(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
