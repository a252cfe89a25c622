/**
 * The `dashboard` server as a function, over HTTP on a free loopback port with a stub backend:
 * what the page gets, the Host check against DNS rebinding, read-only mode, the token actions
 * need, one action at a time, and how failures reach the page. The page against a real API
 * server, in Chromium, is test/e2e/dashboard.e2e.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'fs';
import { request } from 'http';
import { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { stringify } from 'yaml';
import { DashboardBackend, dashboardServer, isLoopback, loopbackHosts } from '../src/cli/commands/dashboard';
import { ClusterStatus } from '../src/cli/commands/status';
import { CliError, EXIT_FAILED, EXIT_UNREACHABLE } from '../src/cli/exit';
import { main } from '../src/cli/main';

const STATUS: ClusterStatus = {
  cluster: 'db',
  namespace: 'orders',
  leader: 'db-primary-0',
  members: [
    { name: 'db-primary-0', role: 'leader', state: 'running', ready: true, timeline: 2, lagBytes: 0, pendingRestart: false },
    { name: 'db-replica-0', role: 'replica', state: 'streaming', ready: true, timeline: 2, lagBytes: 0, pendingRestart: false },
  ],
  services: [{ name: 'db-primary', endpoints: ['db-primary-0'] }],
  backups: [],
  certificates: [],
};

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

interface CallOptions { host?: string; headers?: Record<string, string>; body?: string }

function call(port: number, method: string, path: string, opts: CallOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { Host: opts.host ?? `127.0.0.1:${port}`, ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const calls: string[] = [];
function backend(overrides: Partial<DashboardBackend> = {}): DashboardBackend {
  return {
    status: async () => {
      calls.push('status');
      return STATUS;
    },
    switchover: async (to) => {
      calls.push(`switchover ${to}`);
      return { cluster: 'db', namespace: 'orders', from: 'db-primary-0', to: to ?? 'db-replica-0', seconds: 1.5 };
    },
    restart: async () => {
      calls.push('restart');
      return { cluster: 'db', namespace: 'orders', job: 'db-restart-x', fromCronJob: 'db-restart', outcome: 'succeeded', seconds: 30 };
    },
    backup: async (repo, type) => {
      calls.push(`backup ${repo} ${type}`);
      return { cluster: 'db', namespace: 'orders', job: 'db-repo1-full-x', fromCronJob: 'db-repo1-full', repo, type, outcome: 'succeeded', seconds: 5 };
    },
    ...overrides,
  };
}

async function serve(b: DashboardBackend, allowActions: boolean): Promise<{ port: number; close: () => Promise<void> }> {
  let hosts: string[] | undefined;
  const server = dashboardServer(b, { allowActions, token: 'secret-token' }, () => hosts);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  hosts = loopbackHosts('127.0.0.1', port);
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const JSON_HEADERS = { 'Content-Type': 'application/json', 'X-Dashboard-Token': 'secret-token' };

beforeEach(() => {
  calls.length = 0;
});

describe('read-only (the default)', () => {
  test('the page, its script and style, with a content security policy that allows only them', async () => {
    const s = await serve(backend(), false);
    try {
      const page = await call(s.port, 'GET', '/');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      // Read-only: the page carries no token.
      expect(page.body).toContain('<script type="application/json" id="config">{"allowActions":false,"token":""}</script>');
      for (const asset of ['/page.js', '/page.css']) expect((await call(s.port, 'GET', asset)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  test('/api/status is a fresh read of the cluster each time', async () => {
    const s = await serve(backend(), false);
    try {
      const a = await call(s.port, 'GET', '/api/status');
      await call(s.port, 'GET', '/api/status');
      expect(a.status).toBe(200);
      const body = JSON.parse(a.body);
      expect(body.status.leader).toBe('db-primary-0');
      expect(body.running).toBeNull();
      expect(calls).toEqual(['status', 'status']);
    } finally {
      await s.close();
    }
  });

  test('a request for another Host (DNS rebinding) is refused before anything is read', async () => {
    const s = await serve(backend(), false);
    try {
      const r = await call(s.port, 'GET', '/api/status', { host: `attacker.example:${s.port}` });
      expect(r.status).toBe(421);
      expect(JSON.parse(r.body).error).toContain(`127.0.0.1:${s.port}`);
      expect((await call(s.port, 'GET', '/', { host: `localhost:${s.port}` })).status).toBe(200);
      expect(calls).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test('actions are refused, with the flag that enables them named', async () => {
    const s = await serve(backend(), false);
    try {
      const r = await call(s.port, 'POST', '/api/switchover', { headers: JSON_HEADERS, body: '{}' });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body).error).toContain('--allow-actions');
      expect(calls).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test('a failed read reaches the page as its message', async () => {
    const s = await serve(backend({ status: async () => { throw new CliError('cluster db not found in namespace orders', 3); } }), false);
    try {
      const r = await call(s.port, 'GET', '/api/status');
      expect(r.status).toBe(502);
      expect(JSON.parse(r.body).error).toBe('cluster db not found in namespace orders');
    } finally {
      await s.close();
    }
  });
});

describe('with --allow-actions', () => {
  test('the page carries the token, and an action needs it', async () => {
    const s = await serve(backend(), true);
    try {
      expect((await call(s.port, 'GET', '/')).body).toContain('{"allowActions":true,"token":"secret-token"}');
      const noToken = await call(s.port, 'POST', '/api/switchover', { headers: { 'Content-Type': 'application/json' }, body: '{}' });
      expect(noToken.status).toBe(403);
      const wrong = await call(s.port, 'POST', '/api/switchover', { headers: { ...JSON_HEADERS, 'X-Dashboard-Token': 'guess' }, body: '{}' });
      expect(wrong.status).toBe(403);
      // A cross-site form can send neither the header nor a JSON content type.
      const form = await call(s.port, 'POST', '/api/switchover', { headers: { 'X-Dashboard-Token': 'secret-token', 'Content-Type': 'text/plain' }, body: '{}' });
      expect(form.status).toBe(415);
      expect(calls).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test('switchover (to a member or to Patroni\'s pick), restart and backup run the commands', async () => {
    const s = await serve(backend(), true);
    try {
      const to = await call(s.port, 'POST', '/api/switchover', { headers: JSON_HEADERS, body: '{"to":"db-replica-0"}' });
      expect(to.status).toBe(200);
      expect(JSON.parse(to.body).result).toMatchObject({ from: 'db-primary-0', to: 'db-replica-0' });
      await call(s.port, 'POST', '/api/switchover', { headers: JSON_HEADERS, body: '{"to":null}' });
      expect((await call(s.port, 'POST', '/api/restart', { headers: JSON_HEADERS, body: '{}' })).status).toBe(200);
      expect((await call(s.port, 'POST', '/api/backup', { headers: JSON_HEADERS, body: '{"repo":2,"type":"diff"}' })).status).toBe(200);
      expect(calls).toEqual(['switchover db-replica-0', 'switchover undefined', 'restart', 'backup 2 diff']);
    } finally {
      await s.close();
    }
  });

  test('bad backup arguments are refused with what is allowed', async () => {
    const s = await serve(backend(), true);
    try {
      const repo = await call(s.port, 'POST', '/api/backup', { headers: JSON_HEADERS, body: '{"repo":9,"type":"full"}' });
      expect(repo.status).toBe(400);
      expect(JSON.parse(repo.body).error).toBe('repo must be a repository number from 1 to 4, not 9');
      const type = await call(s.port, 'POST', '/api/backup', { headers: JSON_HEADERS, body: '{"repo":1,"type":"snapshot"}' });
      expect(JSON.parse(type.body).error).toBe('type must be one of full, diff, incr, not "snapshot"');
      expect((await call(s.port, 'POST', '/api/backup', { headers: JSON_HEADERS, body: '{' })).status).toBe(400);
      expect(calls).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test('one action at a time: a second one while the first runs is refused', async () => {
    let finish: () => void = () => undefined;
    const slow = backend({
      restart: () => new Promise((resolve) => {
        finish = () => resolve({ cluster: 'db', namespace: 'orders', job: 'j', fromCronJob: 'db-restart', outcome: 'succeeded' });
      }),
    });
    const s = await serve(slow, true);
    try {
      const first = call(s.port, 'POST', '/api/restart', { headers: JSON_HEADERS, body: '{}' });
      // The status shows the running action while it runs.
      let status: any;
      for (let i = 0; i < 50; i++) {
        status = JSON.parse((await call(s.port, 'GET', '/api/status')).body);
        if (status.running) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(status.running).toBe('restart');
      const second = await call(s.port, 'POST', '/api/switchover', { headers: JSON_HEADERS, body: '{}' });
      expect(second.status).toBe(409);
      expect(JSON.parse(second.body).error).toBe('restart is running: one action at a time');
      finish();
      expect((await first).status).toBe(200);
      expect(calls.filter((c) => c.startsWith('switchover'))).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test('an action that did not complete (a refused switchover) reaches the page as 409 with its message', async () => {
    const refusing = backend({ switchover: async () => { throw new CliError('Patroni refused the switchover from db-primary-0', EXIT_FAILED); } });
    const s = await serve(refusing, true);
    try {
      const r = await call(s.port, 'POST', '/api/switchover', { headers: JSON_HEADERS, body: '{}' });
      expect(r.status).toBe(409);
      expect(JSON.parse(r.body).error).toBe('Patroni refused the switchover from db-primary-0');
    } finally {
      await s.close();
    }
  });
});

test('until the port is known (no allowed hosts yet), nothing is answered', async () => {
  const server = dashboardServer(backend(), { allowActions: true, token: 'secret-token' }, () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    expect((await call(port, 'GET', '/api/status')).status).toBe(503);
    expect(calls).toEqual([]);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('loopback addresses and the Host values they answer', () => {
  expect(['127.0.0.1', '127.0.0.53', 'localhost', '::1'].map(isLoopback)).toEqual([true, true, true, true]);
  expect(['0.0.0.0', '10.0.0.1', '::', 'example.com'].map(isLoopback)).toEqual([false, false, false, false]);
  expect(loopbackHosts('::1', 8432)).toEqual(['[::1]:8432', 'localhost:8432', '127.0.0.1:8432']);
});

test('the command: an API server that does not answer fails before it listens (exit code 4)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
  const p = join(dir, 'down.yaml');
  writeFileSync(p, stringify({
    'apiVersion': 'v1',
    'kind': 'Config',
    'current-context': 'main',
    'contexts': [{ name: 'main', context: { cluster: 'c1', user: 'u1' } }],
    'clusters': [{ name: 'c1', cluster: { server: 'https://127.0.0.1:1' } }],
    'users': [{ name: 'u1', user: { token: 't' } }],
  }));
  const err: string[] = [];
  const code = await main(['dashboard', 'db', '--kubeconfig', p, '--port', '0'], { out: () => undefined, err: (t) => err.push(t) });
  expect(code).toBe(EXIT_UNREACHABLE);
  expect(err.join('')).toContain('127.0.0.1:1');
});
