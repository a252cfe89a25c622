/**
 * The credentials Job's script, run for real (/usr/bin/python3) against a fake Kubernetes API
 * server over TLS on loopback: it creates missing Secrets, never touches existing ones, and
 * fails loudly when the API refuses it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import * as https from 'node:https';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENSURE_SECRETS_SCRIPT } from '../src/render/scripts';

interface Recorded { method: string; url: string; auth?: string; body?: any }

let dir: string;
let key: string;
let cert: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ensure-secrets-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'ca.crt')], { stdio: 'pipe' });
  key = readFileSync(join(dir, 'tls.key'), 'utf8');
  cert = readFileSync(join(dir, 'ca.crt'), 'utf8');
  writeFileSync(join(dir, 'token'), 'test-token\n');
  writeFileSync(join(dir, 'namespace'), 'orders\n');
  writeFileSync(join(dir, 'ensure-secrets.py'), ENSURE_SECRETS_SCRIPT);
});

/** Runs the script against a fake API where `existing` Secrets exist and POSTs answer `createStatus`. */
async function run(existing: string[], createStatus = 201, readStatus?: number, extraEnv: Record<string, string> = {}) {
  const requests: Recorded[] = [];
  const server = https.createServer({ key, cert }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body: body ? JSON.parse(body) : undefined });
      const name = req.url!.split('/').pop()!;
      if (req.method === 'GET') res.statusCode = readStatus ?? (existing.includes(name) ? 200 : 404);
      else res.statusCode = createStatus;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const child = spawn('/usr/bin/python3', [join(dir, 'ensure-secrets.py')], {
    env: {
      PATH: '/usr/bin:/bin',
      SA_DIR: dir,
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: String(port),
      SECRETS: 'db-superuser=postgres db-replication=replicator',
      SECRET_LABELS: '{"postgres.cdk8s.io/cluster":"db"}',
      ...extraEnv,
    },
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
  server.close();
  return { code, output, requests };
}

test('creates each missing Secret with a random password, authenticated with the service account token', async () => {
  const { code, output, requests } = await run([]);
  expect(code).toBe(0);
  expect(output).toContain('secret db-superuser created');
  const posts = requests.filter((r) => r.method === 'POST');
  expect(posts.map((p) => p.url)).toEqual(['/api/v1/namespaces/orders/secrets', '/api/v1/namespaces/orders/secrets']);
  for (const r of requests) expect(r.auth).toBe('Bearer test-token');
  const decode = (b64: string) => Buffer.from(b64, 'base64').toString();
  expect(posts.map((p) => p.body.metadata.name)).toEqual(['db-superuser', 'db-replication']);
  expect(posts.map((p) => decode(p.body.data.username))).toEqual(['postgres', 'replicator']);
  const passwords = posts.map((p) => decode(p.body.data.password));
  for (const pw of passwords) expect(pw).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(passwords[0]).not.toBe(passwords[1]);
  expect(posts[0].body.type).toBe('kubernetes.io/basic-auth');
  expect(posts[0].body.metadata.labels).toEqual({ 'postgres.cdk8s.io/cluster': 'db' });
  expect(output).not.toContain(passwords[0]);
});

test('leaves existing Secrets unchanged (re-applying never rotates a password)', async () => {
  const { code, output, requests } = await run(['db-superuser', 'db-replication']);
  expect(code).toBe(0);
  expect(requests.every((r) => r.method === 'GET')).toBe(true);
  expect(output).toContain('secret db-superuser exists, left unchanged');
});

test('a concurrent creation (409) is fine', async () => {
  const { code } = await run([], 409);
  expect(code).toBe(0);
});

test('a refused creation (403) fails the Job so it is retried and visible', async () => {
  const { code, output } = await run([], 403);
  expect(code).toBe(1);
  expect(output).toMatch(/unexpected status 403 on create/);
});

test('an unreadable Secret (403 on read) fails without creating anything', async () => {
  const { code, requests } = await run([], 201, 403);
  expect(code).toBe(1);
  expect(requests.some((r) => r.method === 'POST')).toBe(false);
});

describe('user connection Secrets and the pooler\'s userlist', () => {
  const env = {
    SECRETS: 'db-superuser=postgres db-user-orders-app=orders_app db-pgbouncer=cdk8s_pgbouncer',
    SECRET_CONNECTIONS: JSON.stringify({
      'db-user-orders-app': { host: 'db-primary.shop.svc', roHost: 'db-replicas.shop.svc', port: 6543, dbname: 'orders', sslmode: 'verify-full' },
    }),
    SECRET_USERLISTS: 'db-pgbouncer',
  };
  const decode = (b64: string) => Buffer.from(b64, 'base64').toString();
  const created = async () => {
    const { code, output, requests } = await run([], 201, undefined, env);
    expect(code).toBe(0);
    const posts = requests.filter((r) => r.method === 'POST');
    const decoded = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, decode(v)]));
    const byName = Object.fromEntries(posts.map((p) => [p.body.metadata.name, decoded(p.body.data)]));
    return { output, byName };
  };

  test('a user Secret has host, port, dbname and URIs for the read-write and read-only Services, all with the same password', async () => {
    const { byName, output } = await created();
    const s = byName['db-user-orders-app'];
    const pw = s.password;
    expect(pw).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s).toEqual({
      'username': 'orders_app',
      'password': pw,
      'host': 'db-primary.shop.svc',
      'ro-host': 'db-replicas.shop.svc',
      'port': '6543',
      'dbname': 'orders',
      'uri': `postgresql://orders_app:${pw}@db-primary.shop.svc:6543/orders?sslmode=verify-full`,
      'ro-uri': `postgresql://orders_app:${pw}@db-replicas.shop.svc:6543/orders?sslmode=verify-full`,
      'jdbc-uri': `jdbc:postgresql://db-primary.shop.svc:6543/orders?sslmode=verify-full&user=orders_app&password=${pw}`,
      'ro-jdbc-uri': `jdbc:postgresql://db-replicas.shop.svc:6543/orders?sslmode=verify-full&user=orders_app&password=${pw}`,
    });
    expect(output).not.toContain(pw);
  });

  test('the pooler\'s Secret gets userlist.txt with its own password; the others do not', async () => {
    const { byName } = await created();
    const pg = byName['db-pgbouncer'];
    expect(pg['userlist.txt']).toBe(`"cdk8s_pgbouncer" "${pg.password}"\n`);
    expect(Object.keys(pg).sort()).toEqual(['password', 'userlist.txt', 'username']);
    expect(Object.keys(byName['db-superuser']).sort()).toEqual(['password', 'username']);
    expect(byName['db-user-orders-app']['userlist.txt']).toBeUndefined();
  });
});
