/**
 * The CA publisher's program, run for real (/usr/bin/python3) against a fake Kubernetes API over
 * TLS on loopback: it copies certificates (never a key) into its ConfigMap, leaves a current one
 * alone and fails loudly when the API refuses it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PUBLISH_CA_SCRIPT } from '../src/render/publish-ca-script';

interface Recorded { method: string; url: string; auth?: string; contentType?: string; body?: any }

let dir: string;
let key: string;
let cert: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'publish-ca-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'ca.crt')], { stdio: 'pipe' });
  key = readFileSync(join(dir, 'tls.key'), 'utf8');
  cert = readFileSync(join(dir, 'ca.crt'), 'utf8');
  writeFileSync(join(dir, 'token'), 'test-token\n');
  writeFileSync(join(dir, 'namespace'), 'orders\n');
  writeFileSync(join(dir, 'publish-ca.py'), PUBLISH_CA_SCRIPT);
  writeFileSync(join(dir, 'with-key.pem'), cert + key);
  writeFileSync(join(dir, 'two.pem'), `some text\n${cert}\n${cert}`);
});

/** Runs the program with `caFile` against a fake API whose ConfigMap holds `current` and answers PATCH with `patchStatus`. */
async function run(caFile: string, current: Record<string, string> | undefined, patchStatus = 200, readStatus = 200) {
  const requests: Recorded[] = [];
  const server = https.createServer({ key, cert }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, contentType: req.headers['content-type'], body: body ? JSON.parse(body) : undefined });
      res.statusCode = req.method === 'GET' ? readStatus : patchStatus;
      res.end(JSON.stringify(req.method === 'GET' ? { metadata: { name: 'db-ca-cert' }, data: current } : {}));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const child = spawn('/usr/bin/python3', [join(dir, 'publish-ca.py')], {
    env: {
      PATH: '/usr/bin:/bin',
      SA_DIR: dir,
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: String(port),
      CA_FILE: join(dir, caFile),
      CA_CONFIGMAP: 'db-ca-cert',
    },
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
  server.close();
  return { code, output, requests };
}

test('an empty ConfigMap gets the certificate by a merge patch of that one ConfigMap, with the service account token', async () => {
  const { code, output, requests } = await run('ca.crt', undefined);
  expect(code).toBe(0);
  expect(output).toContain('now holds the CA certificate (1 certificate(s))');
  expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
    'GET /api/v1/namespaces/orders/configmaps/db-ca-cert', 'PATCH /api/v1/namespaces/orders/configmaps/db-ca-cert',
  ]);
  for (const r of requests) expect(r.auth).toBe('Bearer test-token');
  expect(requests[1].contentType).toBe('application/merge-patch+json');
  expect(requests[1].body).toEqual({ data: { 'ca.crt': cert.trim() + '\n' } });
});

test('a ConfigMap that holds the current certificate is left alone', async () => {
  const { code, output, requests } = await run('ca.crt', { 'ca.crt': cert.trim() + '\n' });
  expect(code).toBe(0);
  expect(output).toContain('already holds the current CA certificate');
  expect(requests.map((r) => r.method)).toEqual(['GET']);
});

test('a renewed certificate replaces an old one', async () => {
  const { code, requests } = await run('ca.crt', { 'ca.crt': 'old' });
  expect(code).toBe(0);
  expect(requests.map((r) => r.method)).toEqual(['GET', 'PATCH']);
});

test('only the certificates of a bundle are published, text around them dropped', async () => {
  const { code, requests } = await run('two.pem', undefined);
  expect(code).toBe(0);
  const published = requests[1].body.data['ca.crt'];
  expect(published).toBe(`${cert.trim()}\n${cert.trim()}\n`);
  expect(published).not.toContain('some text');
});

test('a file with a private key is never published, and the API is not called', async () => {
  const { code, output, requests } = await run('with-key.pem', undefined);
  expect(code).toBe(1);
  expect(output).toContain('not only certificates: nothing published');
  expect(output).not.toContain(key.split('\n')[1]);
  expect(requests).toEqual([]);
});

test('an API refusal fails the run (the Job retries)', async () => {
  expect((await run('ca.crt', undefined, 403)).code).toBe(1);
  const notFound = await run('ca.crt', undefined, 200, 404);
  expect(notFound.code).toBe(1);
  expect(notFound.output).toContain('unexpected status 404 on read');
});
