import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ENSURE_SECRETS_SCRIPT, POST_BOOTSTRAP_SCRIPT, WAIT_FOR_LEADER_SCRIPT } from '../../src/render/scripts';

describe('scripts', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pg-scripts-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('wait-for-leader.sh passes bash -n', () => {
    const file = join(dir, 'wait-for-leader.sh');
    writeFileSync(file, WAIT_FOR_LEADER_SCRIPT);
    expect(() => execFileSync('bash', ['-n', file], { stdio: 'pipe' })).not.toThrow();
    expect(WAIT_FOR_LEADER_SCRIPT.startsWith('#!/bin/bash\nset -euo pipefail\n')).toBe(true);
  });

  test('bash -n catches a broken script (the check is real)', () => {
    const file = join(dir, 'broken.sh');
    writeFileSync(file, 'if [ -s x ]; then\n  echo\n');
    expect(() => execFileSync('bash', ['-n', file], { stdio: 'pipe' })).toThrow();
  });

  test('wait-for-leader.sh exits at once when the data directory exists', () => {
    const pgdata = join(dir, 'pgdata');
    execFileSync('mkdir', ['-p', pgdata]);
    writeFileSync(join(pgdata, 'PG_VERSION'), '17\n');
    const file = join(dir, 'wait-for-leader.sh');
    writeFileSync(file, WAIT_FOR_LEADER_SCRIPT);
    const out = execFileSync('bash', [file], {
      env: { PATH: process.env.PATH, PGDATA: pgdata, PG_BIN_DIR: '/nonexistent', PGC_LEADER_HOST: 'x', PGC_PORT: '5432' },
      timeout: 10000,
    }).toString();
    expect(out).toContain('starting without waiting for a leader');
  });

  test('ensure-secrets.py passes python3 -m py_compile', () => {
    const file = join(dir, 'ensure_secrets.py');
    writeFileSync(file, ENSURE_SECRETS_SCRIPT);
    expect(() => execFileSync('python3', ['-m', 'py_compile', file], { stdio: 'pipe' })).not.toThrow();
  });

  test('py_compile catches a broken script (the check is real)', () => {
    const file = join(dir, 'broken.py');
    writeFileSync(file, 'def f(:\n  pass\n');
    expect(() => execFileSync('python3', ['-m', 'py_compile', file], { stdio: 'pipe' })).toThrow();
  });

  test('ensure-secrets.py never prints or embeds a password, and only creates (never updates) Secrets', () => {
    expect(ENSURE_SECRETS_SCRIPT).toContain('secrets.token_urlsafe(32)');
    expect(ENSURE_SECRETS_SCRIPT).not.toMatch(/print\([^)]*password/i);
    expect(ENSURE_SECRETS_SCRIPT).not.toMatch(/call\("(PUT|PATCH|DELETE)"/);
  });

  test('post-bootstrap.sh passes bash -n', () => {
    const file = join(dir, 'post-bootstrap.sh');
    writeFileSync(file, POST_BOOTSTRAP_SCRIPT);
    expect(() => execFileSync('bash', ['-n', file], { stdio: 'pipe' })).not.toThrow();
    expect(POST_BOOTSTRAP_SCRIPT.startsWith('#!/bin/bash\nset -euo pipefail\n')).toBe(true);
  });

  /** Runs post-bootstrap.sh with a fake psql that records its arguments and stdin. */
  function runPostBootstrap(database: string | undefined): { out: string; calls: string } {
    const bin = join(dir, 'fakebin');
    execFileSync('mkdir', ['-p', bin]);
    const log = join(dir, `psql-${database ?? 'unset'}.log`);
    rmSync(log, { force: true });
    writeFileSync(join(bin, 'psql'), `#!/bin/bash\nprintf '%s\\n' "$@" >> '${log}'\ncat >> '${log}'\n`, { mode: 0o755 });
    const file = join(dir, 'post-bootstrap.sh');
    writeFileSync(file, POST_BOOTSTRAP_SCRIPT);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', PG_BIN_DIR: bin };
    if (database !== undefined) env.PGC_DATABASE = database;
    const out = execFileSync('bash', [file, 'postgres://postgres@localhost:5432/postgres'], { env, timeout: 10000 }).toString();
    let calls = '';
    try {
      calls = readFileSync(log, 'utf8');
    } catch {
      calls = '';
    }
    return { out, calls };
  }

  test('post-bootstrap.sh creates the database through psql, the name passed as a variable (never spliced into SQL)', () => {
    const { out, calls } = runPostBootstrap('shop');
    expect(out).toContain('database shop is ready');
    expect(calls).toContain('postgres://postgres@localhost:5432/postgres');
    expect(calls).toContain('ON_ERROR_STOP=1');
    expect(calls).toContain('db=shop');
    expect(calls).toContain("format('CREATE DATABASE %I', :'db')");
    expect(calls).toContain('WHERE NOT EXISTS');
    expect(calls).toContain('\\gexec');
    expect(POST_BOOTSTRAP_SCRIPT).not.toMatch(/CREATE DATABASE "?\$/);
  });

  test.each([[undefined], [''], ['postgres']])('post-bootstrap.sh does nothing for PGC_DATABASE %p', (database) => {
    const { calls } = runPostBootstrap(database);
    expect(calls).toBe('');
  });
});
