import { execFileSync, spawn, spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as http from 'http';
import * as net from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { HEARTBEAT_SCRIPT } from '../../src/render/heartbeat';

/** The interpreter of the postgres images (Debian's, with psycopg2). */
const PYTHON = '/usr/bin/python3';

describe('heartbeat.py', () => {
  let dir: string;
  let script: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pg-heartbeat-'));
    script = join(dir, 'heartbeat.py');
    writeFileSync(script, HEARTBEAT_SCRIPT);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the script with only `env` (plus PATH) and no PostgreSQL to talk to. */
  function run(env: Record<string, string>) {
    return spawnSync(PYTHON, [script], { env: { PATH: '/usr/bin:/bin', PGHOST: join(dir, 'no-socket'), ...env }, encoding: 'utf8', timeout: 10_000 });
  }

  test('passes python3 -m py_compile', () => {
    const copy = join(dir, 'compiled.py');
    writeFileSync(copy, HEARTBEAT_SCRIPT);
    expect(() => execFileSync(PYTHON, ['-m', 'py_compile', copy], { stdio: 'pipe' })).not.toThrow();
    expect(HEARTBEAT_SCRIPT.startsWith('#!/usr/bin/env python3\n')).toBe(true);
  });

  test('uses the standard library and psycopg2 only', () => {
    const modules = [...HEARTBEAT_SCRIPT.matchAll(/^import ([\w.]+)$/gm)].map((m) => m[1].split('.')[0]);
    expect(HEARTBEAT_SCRIPT).not.toMatch(/^from /m);
    const stdlib = spawnSync(PYTHON, ['-c', 'import sys; print(" ".join(sorted(sys.stdlib_module_names)))'], { encoding: 'utf8' }).stdout.trim().split(' ');
    expect(modules.filter((m) => m !== 'psycopg2' && !stdlib.includes(m))).toEqual([]);
  });

  test.each([
    ['HB_INTERVAL_SECONDS', 'abc'],
    ['HB_INTERVAL_SECONDS', '0'],
    ['HB_TIMEOUT_SECONDS', 'nan'],
    ['HB_PORT', '70000'],
    ['HB_PORT', '80.5'],
    ['HB_FAILURE_THRESHOLD', '0'],
    ['HB_MAX_LAG_BYTES', '-1'],
    ['HB_MAX_LAG_SECONDS', 'soon'],
  ])('%s=%s: a message naming the variable and exit 2', (name, value) => {
    const res = run({ [name]: value });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain(`invalid ${name}=`);
    expect(res.stderr).toContain(value);
    expect(res.stderr).not.toContain('Traceback');
  });

  test('a maximum heartbeat age not above the interval is refused (the leader writes once per interval)', () => {
    const res = run({ HB_INTERVAL_SECONDS: '5', HB_MAX_LAG_SECONDS: '5' });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('HB_MAX_LAG_SECONDS=5: must exceed HB_INTERVAL_SECONDS=5');
  });

  test('the JSDoc documents every metric and every variable the program reads, and nothing more', () => {
    const source = readFileSync(join(__dirname, '../../src/render/heartbeat.ts'), 'utf8');
    const jsdoc = source.slice(0, source.indexOf('export const HEARTBEAT_SCRIPT'));
    const metrics = new Set([...HEARTBEAT_SCRIPT.matchAll(/"(pgc_heartbeat_\w+)"/g)].map((m) => m[1]));
    expect([...metrics].sort()).toEqual([
      'pgc_heartbeat_age_seconds', 'pgc_heartbeat_archive_failing', 'pgc_heartbeat_archive_last_success_age_seconds',
      'pgc_heartbeat_archive_ready_segments', 'pgc_heartbeat_check_failures_total', 'pgc_heartbeat_is_leader', 'pgc_heartbeat_lag_bytes',
      'pgc_heartbeat_ready', 'pgc_heartbeat_replay_lag_seconds', 'pgc_heartbeat_replica_lag_bytes', 'pgc_heartbeat_replica_lag_seconds',
      'pgc_heartbeat_streaming',
    ]);
    expect(new Set(jsdoc.match(/pgc_heartbeat_\w+/g))).toEqual(metrics);
    const variables = new Set([...HEARTBEAT_SCRIPT.matchAll(/"(HB_\w+)"/g)].map((m) => m[1]));
    expect(variables.size).toBe(7);
    expect(new Set(jsdoc.match(/HB_\w+/g))).toEqual(variables);
  });

  test('without PostgreSQL: unready with the connection error, valid metrics, exit 0 at once on SIGTERM', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(p));
      });
    });
    const child = spawn(PYTHON, [script], {
      env: { PATH: '/usr/bin:/bin', PGHOST: join(dir, 'no-socket'), HB_PORT: String(port), HB_LISTEN: '127.0.0.1', HB_INTERVAL_SECONDS: '0.2', HB_MAX_LAG_SECONDS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const get = (path: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    try {
      let status: { status: number; body: string } | undefined;
      for (let i = 0; i < 50 && !status?.body.includes('"consecutive_failures": 3'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await get('/status').catch(() => undefined);
      }
      const json = JSON.parse(status!.body);
      expect(json).toMatchObject({ role: 'unknown', ready: false, consecutive_failures: 3, replicas: [] });
      expect(json.reason).toMatch(/^check failed: connection to server on socket .*no-socket/);
      const ready = await get('/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toContain('check failed');
      const metrics = (await get('/metrics')).body.trim().split('\n');
      expect(metrics.filter((l) => !l.startsWith('#') && !/^\w+(\{.*\})? -?\d+(\.\d+)?$/.test(l))).toEqual([]);
      expect(metrics).toContain('pgc_heartbeat_ready 0');
      expect(metrics.find((l) => l.startsWith('pgc_heartbeat_check_failures_total '))).toMatch(/ [1-9]\d*$/);
      expect(metrics).toContain('# TYPE pgc_heartbeat_check_failures_total counter');
      expect((await get('/nothing')).status).toBe(404);
      const t0 = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(2_000);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
