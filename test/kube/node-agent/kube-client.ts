/**
 * A small Kubernetes API client for the node agent: HTTPS with a client certificate from a
 * kubeconfig, JSON in and out, and watches as newline-delimited JSON streams.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import { parse } from 'yaml';

/** A Kubernetes object as JSON. */
export type KubeObject = { apiVersion?: string; kind?: string; metadata: any; spec?: any; status?: any; [k: string]: any };

/** An API error with the server's status code and message. */
export class KubeError extends Error {
  constructor(readonly status: number, readonly body: string, what: string) {
    super(`${what}: HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

/** Options of one request. */
interface RequestOptions {
  readonly method?: string;
  readonly body?: unknown;
  readonly contentType?: string;
}

/** Reads the server, CA and client certificate of the kubeconfig's current context. */
export class KubeClient {
  private readonly agent: https.Agent;
  private readonly server: URL;

  constructor(kubeconfigPath: string) {
    const cfg = parse(fs.readFileSync(kubeconfigPath, 'utf8'));
    const ctx = cfg.contexts.find((c: any) => c.name === cfg['current-context']).context;
    const cluster = cfg.clusters.find((c: any) => c.name === ctx.cluster).cluster;
    const user = cfg.users.find((u: any) => u.name === ctx.user).user;
    this.server = new URL(cluster.server);
    this.agent = new https.Agent({
      ca: fs.readFileSync(cluster['certificate-authority']),
      cert: fs.readFileSync(user['client-certificate']),
      key: fs.readFileSync(user['client-key']),
      keepAlive: true,
      maxSockets: 32,
    });
  }

  /** One request; resolves to the parsed JSON body, rejects with a {@link KubeError}. */
  request<T = any>(path: string, options: RequestOptions = {}): Promise<T> {
    const method = options.method ?? 'GET';
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: this.server.hostname,
        port: this.server.port,
        path,
        method,
        agent: this.agent,
        timeout: 30_000,
        headers: {
          Accept: 'application/json',
          ...(payload ? { 'Content-Type': options.contentType ?? 'application/json', 'Content-Length': payload.length } : {}),
        },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 300) return reject(new KubeError(res.statusCode ?? 0, text, `${method} ${path}`));
          try {
            resolve(text ? JSON.parse(text) : undefined);
          } catch (err) {
            reject(err);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  get<T = any>(path: string): Promise<T> {
    return this.request<T>(path);
  }

  /** GET that resolves to undefined on 404. */
  async getOptional<T = any>(path: string): Promise<T | undefined> {
    try {
      return await this.request<T>(path);
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  create<T = any>(path: string, body: unknown): Promise<T> {
    return this.request<T>(path, { method: 'POST', body });
  }

  put<T = any>(path: string, body: unknown): Promise<T> {
    return this.request<T>(path, { method: 'PUT', body });
  }

  /** A JSON merge patch (RFC 7386). */
  mergePatch<T = any>(path: string, body: unknown): Promise<T> {
    return this.request<T>(path, { method: 'PATCH', body, contentType: 'application/merge-patch+json' });
  }

  /** A strategic merge patch (lists of named items merge by key, as the kubelet's status updates do). */
  strategicPatch<T = any>(path: string, body: unknown): Promise<T> {
    return this.request<T>(path, { method: 'PATCH', body, contentType: 'application/strategic-merge-patch+json' });
  }

  delete<T = any>(path: string, body?: unknown): Promise<T> {
    return this.request<T>(path, { method: 'DELETE', body });
  }

  /**
   * Lists then watches a collection, calling `onEvent` for every object (ADDED for the listed
   * ones); re-lists when the watch ends or its resource version expires. Returns a stop function.
   */
  informer(collectionPath: string, query: string, onEvent: (type: string, obj: KubeObject) => void): () => void {
    let stopped = false;
    let current: { destroy: () => void } | undefined;
    const run = async () => {
      while (!stopped) {
        try {
          const list = await this.get(`${collectionPath}?${query}`);
          for (const item of list.items) onEvent('ADDED', item);
          let rv: string = list.metadata.resourceVersion;
          for (;;) {
            if (stopped) return;
            const ended = await this.watchOnce(`${collectionPath}?${query}&watch=1&allowWatchBookmarks=true&resourceVersion=${rv}&timeoutSeconds=300`,
              (type, obj) => {
                rv = obj.metadata?.resourceVersion ?? rv;
                if (type === 'BOOKMARK') return;
                onEvent(type, obj);
              }, (h) => { current = h; });
            if (ended === 'expired') break;
          }
        } catch (err) {
          if (!stopped) process.stderr.write(`informer ${collectionPath}: ${(err as Error).message}\n`);
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };
    void run();
    return () => { stopped = true; current?.destroy(); };
  }

  private watchOnce(path: string, onEvent: (type: string, obj: KubeObject) => void, handle: (h: { destroy: () => void }) => void): Promise<'ended' | 'expired'> {
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: this.server.hostname,
        port: this.server.port,
        path,
        method: 'GET',
        agent: this.agent,
        headers: { Accept: 'application/json' },
      }, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          res.resume();
          return res.statusCode === 410 ? resolve('expired') : reject(new KubeError(res.statusCode ?? 0, '', `watch ${path}`));
        }
        let buf = '';
        let expired = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            const ev = JSON.parse(line);
            if (ev.type === 'ERROR') {
              expired = true;
              continue;
            }
            onEvent(ev.type, ev.object);
          }
        });
        res.on('end', () => resolve(expired ? 'expired' : 'ended'));
        res.on('error', reject);
      });
      req.on('error', reject);
      handle({ destroy: () => req.destroy() });
      req.end();
    });
  }
}
