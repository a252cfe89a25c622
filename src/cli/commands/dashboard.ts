/**
 * `dashboard`: a local web page of a running cluster. The server reads the cluster through the
 * same functions as `status` (every request a fresh read of the Kubernetes API, through the
 * kubeconfig) and, when started with `--allow-actions`, runs `switchover`, `restart` and
 * `backup` for the page. The page (src/cli/dashboard/) polls `/api/status` and asks for a
 * confirmation before every action.
 *
 * Safety: it listens on 127.0.0.1 unless told otherwise; on a loopback address it answers only
 * requests whose Host header names that address (so a web page in the same browser cannot reach
 * it through DNS rebinding); actions need the per-run token the page carries, so another site's
 * form cannot post one; one action runs at a time.
 */
import { randomBytes } from 'crypto';
import { readFileSync } from 'fs';
import { IncomingMessage, Server, ServerResponse, createServer } from 'http';
import { AddressInfo } from 'net';
import { join } from 'path';
import { BACKUP_TYPES, BackupResult } from './backup';
import { RestartResult } from './restart';
import { ClusterStatus } from './status';
import { SwitchoverResult } from './switchover';
import { CliError, EXIT_FAILED, EXIT_USAGE } from '../exit';

/** What the page can ask the server for: the `status`, `switchover`, `restart` and `backup` commands. */
export interface DashboardBackend {
  readonly status: () => Promise<ClusterStatus>;
  readonly switchover: (to: string | undefined) => Promise<SwitchoverResult>;
  readonly restart: () => Promise<RestartResult>;
  readonly backup: (repo: number, type: typeof BACKUP_TYPES[number]) => Promise<BackupResult>;
}

/** Options of {@link dashboardServer}. */
export interface DashboardOptions {
  /** Run switchover, restart and backup when the page asks (else the page is read-only). */
  readonly allowActions: boolean;
  /** The value every action request must carry in `X-Dashboard-Token` (default: 32 random bytes). */
  readonly token?: string;
}

/** The address a dashboard listens on, and whether it is a loopback one (Host checks apply). */
export function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

const PAGE_DIR = join(__dirname, '..', 'dashboard');
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'page.html', type: 'text/html; charset=utf-8' },
  '/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
  '/page.css': { file: 'page.css', type: 'text/css; charset=utf-8' },
};

/** An action request the server refuses: its HTTP status and the reason the page shows. */
class Refused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    // The page loads its own script and style only, and talks to this server only.
    'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'",
    'Referrer-Policy': 'no-referrer',
  });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024) throw new Refused(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Refused(400, 'the request body is not JSON');
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The dashboard's HTTP server (not yet listening). `allowedHosts`: the Host header values it
 * answers (empty: any, for a non-loopback address); undefined until the port is known, when it
 * answers nothing.
 */
export function dashboardServer(backend: DashboardBackend, opts: DashboardOptions, allowedHosts: () => readonly string[] | undefined): Server {
  const token = opts.token ?? randomBytes(32).toString('hex');
  let running: string | undefined;

  const act = async (path: string, body: any): Promise<unknown> => {
    switch (path) {
      case '/api/switchover': {
        const to = body.to === undefined || body.to === null || body.to === '' ? undefined : String(body.to);
        return backend.switchover(to);
      }
      case '/api/restart':
        return backend.restart();
      case '/api/backup': {
        const repo = Number(body.repo ?? 1);
        const type = String(body.type ?? 'full');
        if (!Number.isInteger(repo) || repo < 1 || repo > 4) throw new Refused(400, `repo must be a repository number from 1 to 4, not ${JSON.stringify(body.repo)}`);
        if (!(BACKUP_TYPES as readonly string[]).includes(type)) throw new Refused(400, `type must be one of ${BACKUP_TYPES.join(', ')}, not ${JSON.stringify(body.type)}`);
        return backend.backup(repo, type as typeof BACKUP_TYPES[number]);
      }
      default:
        throw new Refused(404, `no action ${path}`);
    }
  };

  const server = createServer((req, res) => {
    void (async () => {
      const hosts = allowedHosts();
      if (hosts === undefined) return json(res, 503, { error: 'the dashboard is starting' });
      if (hosts.length > 0 && !hosts.includes(String(req.headers.host ?? ''))) {
        return json(res, 421, { error: `this dashboard answers requests for ${hosts.join(' or ')} only` });
      }
      const path = new URL(req.url ?? '/', 'http://dashboard').pathname;
      if (req.method === 'GET' && ASSETS[path]) {
        const asset = ASSETS[path];
        let text = readFileSync(join(PAGE_DIR, asset.file), 'utf8');
        if (asset.file === 'page.html') {
          // What the page needs to know: whether actions are on, and the token they must carry.
          const config = JSON.stringify({ allowActions: opts.allowActions, token: opts.allowActions ? token : '' }).replace(/</g, '\\u003c');
          text = text.replace('{"allowActions":false,"token":""}', config);
        }
        return send(res, 200, asset.type, text);
      }
      if (req.method === 'GET' && path === '/api/status') {
        try {
          return json(res, 200, { status: await backend.status(), readAt: new Date().toISOString(), running: running ?? null });
        } catch (err) {
          return json(res, 502, { error: errorMessage(err) });
        }
      }
      if (req.method === 'POST' && path.startsWith('/api/')) {
        try {
          if (!opts.allowActions) throw new Refused(403, 'this dashboard is read-only: start it with --allow-actions to switch over, restart or back up from the page');
          if (req.headers['x-dashboard-token'] !== token) throw new Refused(403, 'missing or wrong X-Dashboard-Token: actions come from the page this server served');
          if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) throw new Refused(415, 'actions take a JSON body');
          const body = await readBody(req);
          if (running) throw new Refused(409, `${running} is running: one action at a time`);
          running = path.slice('/api/'.length);
          try {
            return json(res, 200, { result: await act(path, body) });
          } finally {
            running = undefined;
          }
        } catch (err) {
          if (err instanceof Refused) return json(res, err.status, { error: err.message });
          const failed = err instanceof CliError && err.exitCode === EXIT_FAILED;
          return json(res, failed ? 409 : 502, { error: errorMessage(err) });
        }
      }
      return json(res, 404, { error: `no ${req.method} ${path}` });
    })().catch((err) => {
      if (!res.headersSent) json(res, 500, { error: errorMessage(err) });
      else res.destroy();
    });
  });
  // A restart or a backup the page asked for is answered when it ends, which may take longer
  // than Node's default limit of 5 minutes on a request.
  server.requestTimeout = 0;
  return server;
}

/** The Host header values a dashboard on a loopback `address` and `port` answers. */
export function loopbackHosts(address: string, port: number): string[] {
  const own = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  return [...new Set([own, `localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`])];
}

/** Where {@link runDashboard} listens, and whether the page may run actions. */
export interface DashboardListen {
  readonly address: string;
  /** 0: any free port. */
  readonly port: number;
  readonly allowActions: boolean;
}

/**
 * Serves the dashboard until SIGINT or SIGTERM. Once it listens, `started` gets the page's URL
 * and, when the address is not a loopback one, a warning that others can reach it. An address
 * it cannot listen on fails with the usage exit code.
 */
export async function runDashboard(
  backend: DashboardBackend, listen: DashboardListen, started: (url: string, warning?: string) => void,
): Promise<void> {
  let hosts: string[] | undefined;
  const server = dashboardServer(backend, { allowActions: listen.allowActions }, () => hosts);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new CliError(`cannot listen on ${listen.address}:${listen.port}: ${err.message}`, EXIT_USAGE)));
    server.listen(listen.port, listen.address, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const loopback = isLoopback(listen.address);
  hosts = loopback ? loopbackHosts(listen.address, port) : [];
  const shown = listen.address.includes(':') ? `[${listen.address}]` : listen.address;
  started(`http://${shown}:${port}/`, loopback ? undefined
    : `${listen.address} is not a loopback address: whoever reaches it can read the cluster's status${listen.allowActions ? ' and run its actions' : ''}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
