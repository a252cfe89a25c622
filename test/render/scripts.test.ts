import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { tmpdir } from 'os';
import { join } from 'path';
import { ENSURE_SECRETS_SCRIPT, onRoleChangeCommand, POST_BOOTSTRAP_SCRIPT, WAIT_FOR_LEADER_SCRIPT } from '../../src/render/scripts';

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

  test('ensure-secrets.py never prints or embeds a password, and only creates Secrets or updates one it rotates (never patches or deletes)', () => {
    expect(ENSURE_SECRETS_SCRIPT).toContain('secrets.token_urlsafe(32)');
    expect(ENSURE_SECRETS_SCRIPT).not.toMatch(/print\([^)]*password/i);
    expect(ENSURE_SECRETS_SCRIPT).not.toMatch(/(call|request)\("(PATCH|DELETE)"/);
    // The one update: rotate(), with the resourceVersion it read (test/scripts/test_ensure_secrets.py).
    expect([...ENSURE_SECRETS_SCRIPT.matchAll(/(call|request)\("PUT"/g)]).toHaveLength(1);
    const rotate = /\ndef rotate\([\s\S]*?\n\n\n/.exec(ENSURE_SECRETS_SCRIPT)![0];
    expect(rotate).toContain('api.call("PUT"');
  });

  test('post-bootstrap.sh passes bash -n', () => {
    const file = join(dir, 'post-bootstrap.sh');
    writeFileSync(file, POST_BOOTSTRAP_SCRIPT);
    expect(() => execFileSync('bash', ['-n', file], { stdio: 'pipe' })).not.toThrow();
    expect(POST_BOOTSTRAP_SCRIPT.startsWith('#!/bin/bash\nset -euo pipefail\n')).toBe(true);
  });

  /** One psql invocation the fake psql recorded: its argv and what it read on stdin. */
  interface PsqlCall {
    readonly argv: string[];
    readonly stdin: string;
    /** PGC_MONITOR_VERIFIER as psql saw it. */
    readonly verifier: string;
    /** psql's whole environment (NUL separated entries). */
    readonly environ: string;
  }

  /**
   * Runs post-bootstrap.sh with a fake psql that records, per invocation, its arguments (NUL
   * separated) and its stdin, and the environment it saw (to check what reaches a process' argv).
   * PGC_MONITOR_PASSWORD in `env` is written to the password file (PGC_MONITOR_PASSWORD_FILE), as
   * the pod mounts it from the monitoring Secret; it is not passed as a variable.
   */
  function runPostBootstrap(env: Record<string, string | undefined>): { out: string; calls: PsqlCall[]; raw: string } {
    const run = mkdtempSync(join(dir, 'run-'));
    const bin = join(run, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    const log = join(run, 'calls');
    execFileSync('mkdir', ['-p', log]);
    writeFileSync(join(bin, 'psql'), [
      '#!/bin/bash',
      `n=$(ls '${log}' | wc -l)`,
      `f='${log}'/$(printf '%03d' "$n")`,
      'mkdir "$f"',
      'printf \'%s\\0\' "$@" > "$f/argv"',
      'cat > "$f/stdin"',
      'printf \'%s\' "${PGC_MONITOR_VERIFIER:-}" > "$f/verifier"',
      'cat /proc/self/environ > "$f/environ"',
      '',
    ].join('\n'), { mode: 0o755 });
    const file = join(run, 'post-bootstrap.sh');
    writeFileSync(file, POST_BOOTSTRAP_SCRIPT);
    const fullEnv: Record<string, string> = { PATH: process.env.PATH ?? '', PG_BIN_DIR: bin };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) continue;
      if (k === 'PGC_MONITOR_PASSWORD' || k === 'PGC_ACCESS_PASSWORD') {
        writeFileSync(join(run, k), v, { mode: 0o400 });
        fullEnv[`${k}_FILE`] = join(run, k);
      } else {
        fullEnv[k] = v;
      }
    }
    const out = execFileSync('bash', [file, URL], { env: fullEnv, timeout: 10000 }).toString();
    const calls = execFileSync('ls', [log]).toString().split('\n').filter((x) => x).sort().map((n) => ({
      argv: readFileSync(join(log, n, 'argv'), 'utf8').split('\0').slice(0, -1),
      stdin: readFileSync(join(log, n, 'stdin'), 'utf8'),
      verifier: readFileSync(join(log, n, 'verifier'), 'utf8'),
      environ: readFileSync(join(log, n, 'environ'), 'utf8'),
    }));
    rmSync(run, { recursive: true, force: true });
    return { out, calls, raw: calls.map((c) => [...c.argv, c.stdin].join('\n')).join('\n') };
  }

  const URL = 'postgres://postgres@localhost:5432/postgres';
  const BASE_ARGV = [URL, '-X', '-q', '-v', 'ON_ERROR_STOP=1'];
  const MONITOR_PASSWORD = 'S3cret-monitor-pw_xyz';

  test('post-bootstrap.sh creates the database through psql, the name passed as a variable (never spliced into SQL)', () => {
    const { out, calls } = runPostBootstrap({ PGC_DATABASE: 'shop' });
    expect(out).toContain('database shop is ready');
    const db = calls.filter((c) => c.stdin.includes('CREATE DATABASE'));
    expect(db).toHaveLength(1);
    expect(db[0].argv).toEqual([...BASE_ARGV, '-v', 'db=shop']);
    expect(db[0].stdin).toContain("format('CREATE DATABASE %I', :'db')");
    expect(db[0].stdin).toContain('WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :\'db\')');
    expect(db[0].stdin).toContain('\\gexec');
    expect(db[0].stdin).not.toContain('shop');
    expect(POST_BOOTSTRAP_SCRIPT).not.toMatch(/CREATE DATABASE "?\$/);
  });

  test('post-bootstrap.sh always creates the heartbeat schema and table first, with ON_ERROR_STOP', () => {
    const { calls } = runPostBootstrap({});
    expect(calls).toHaveLength(1);
    expect(calls[0].argv).toEqual(BASE_ARGV);
    expect(calls[0].stdin).toContain('CREATE SCHEMA IF NOT EXISTS cdk8s_heartbeat;');
    expect(calls[0].stdin).toMatch(
      /CREATE TABLE IF NOT EXISTS cdk8s_heartbeat\.beat \(id int PRIMARY KEY, at timestamptz NOT NULL, lsn pg_lsn NOT NULL\);/);
    const all = runPostBootstrap({ PGC_DATABASE: 'shop', PGC_MONITOR_USER: 'cdk8s_monitor', PGC_MONITOR_PASSWORD: MONITOR_PASSWORD }).calls;
    expect(all).toHaveLength(3);
    expect(all[0].stdin).toContain('CREATE SCHEMA IF NOT EXISTS cdk8s_heartbeat;');
    expect(all[1].stdin).toContain('GRANT pg_monitor');
    expect(all[2].stdin).toContain('CREATE DATABASE');
  });

  test.each([[undefined], [''], ['postgres']])('post-bootstrap.sh creates no database for PGC_DATABASE %p', (database) => {
    const { out, calls } = runPostBootstrap({ PGC_DATABASE: database });
    expect(calls).toHaveLength(1);
    expect(calls[0].stdin).toContain('cdk8s_heartbeat');
    expect(calls[0].stdin).not.toContain('DATABASE');
    expect(out).not.toContain('database');
  });

  test('post-bootstrap.sh creates the monitoring role with pg_monitor, NOSUPERUSER and read access to the heartbeat', () => {
    const { out, calls } = runPostBootstrap({ PGC_MONITOR_USER: 'cdk8s_monitor', PGC_MONITOR_PASSWORD: MONITOR_PASSWORD });
    expect(out).toContain('monitoring role cdk8s_monitor is ready');
    expect(calls).toHaveLength(2);
    const role = calls[1];
    expect(role.argv).toEqual([...BASE_ARGV, '-v', 'user=cdk8s_monitor']);
    const sql = role.stdin;
    expect(sql).toContain("format('CREATE ROLE %I LOGIN', :'user') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user')");
    expect(sql).toMatch(/ALTER ROLE %I WITH NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'user', :'pw'\)/);
    expect(sql).toContain("format('GRANT pg_monitor TO %I', :'user')");
    expect(sql).toContain("format('GRANT USAGE ON SCHEMA cdk8s_heartbeat TO %I', :'user')");
    expect(sql).toContain("format('GRANT SELECT ON cdk8s_heartbeat.beat TO %I', :'user')");
    expect(sql.replace(/NOSUPERUSER/g, '')).not.toContain('SUPERUSER');
    // Every generated statement is executed: one \gexec after each SELECT format(...).
    expect((sql.match(/^SELECT format\(/gm) ?? []).length).toBe(5);
    expect((sql.match(/^\\gexec$/gm) ?? []).length).toBe(5);
  });

  test('the monitoring password never reaches psql: only its SCRAM verifier, read from the environment with \\getenv', () => {
    const { out, calls, raw } = runPostBootstrap({
      PGC_DATABASE: 'shop', PGC_MONITOR_USER: 'cdk8s_monitor', PGC_MONITOR_PASSWORD: MONITOR_PASSWORD,
    });
    for (const c of calls) for (const a of c.argv) expect(a).not.toContain(MONITOR_PASSWORD);
    // Nor any environment: the password is read from its file, not from a variable.
    for (const c of calls) expect(c.environ).not.toContain(MONITOR_PASSWORD);
    expect(POST_BOOTSTRAP_SCRIPT).not.toMatch(/environ\["PGC_MONITOR_PASSWORD"\]/);
    expect(raw).not.toContain(MONITOR_PASSWORD);
    expect(out).not.toContain(MONITOR_PASSWORD);
    const role = calls.find((c) => c.stdin.includes('pg_monitor'))!;
    expect(role.stdin.split('\n')[0]).toBe('\\getenv pw PGC_MONITOR_VERIFIER');
    // Only a SCRAM-SHA-256 verifier of the password reaches psql, and it is a correct one.
    const m = /^SCRAM-SHA-256\$4096:([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(role.verifier);
    expect(m).not.toBeNull();
    const salted = pbkdf2Sync(MONITOR_PASSWORD, Buffer.from(m![1], 'base64'), 4096, 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    expect(createHash('sha256').update(clientKey).digest('base64')).toBe(m![2]);
    expect(createHmac('sha256', salted).update('Server Key').digest('base64')).toBe(m![3]);
    // The heredoc is quoted: the shell never expands the password into the SQL text either.
    expect(POST_BOOTSTRAP_SCRIPT).not.toMatch(/\$\{?PGC_MONITOR_PASSWORD(?!_FILE)/);
    expect(POST_BOOTSTRAP_SCRIPT).toContain('\\getenv pw PGC_MONITOR_VERIFIER');
  });

  const ACCESS_PASSWORD = 'Acc3ss-pw_secret';

  test('post-bootstrap.sh creates the access role: CREATEROLE CREATEDB, never a superuser, ADMIN OPTION on the grantable predefined roles', () => {
    const { out, calls } = runPostBootstrap({
      PGC_ACCESS_USER: 'cdk8s_access', PGC_ACCESS_PASSWORD: ACCESS_PASSWORD, PGC_ACCESS_GRANTABLE_ROLES: 'pg_monitor pg_read_all_data',
    });
    expect(out).toContain('access role cdk8s_access is ready');
    const role = calls.find((c) => c.stdin.includes('CREATEROLE'))!;
    expect(role.argv).toEqual([...BASE_ARGV, '-v', 'user=cdk8s_access', '-v', 'grantable=pg_monitor pg_read_all_data']);
    expect(role.stdin.split('\n')[0]).toBe('\\getenv pw PGC_ACCESS_VERIFIER');
    expect(role.stdin).toContain("format('ALTER ROLE %I WITH LOGIN NOSUPERUSER CREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', :'user', :'pw')");
    expect(role.stdin).toContain("format('GRANT %I TO %I WITH ADMIN OPTION', rolname, :'user') FROM pg_roles\nWHERE rolname = ANY (string_to_array(:'grantable', ' '))");
    expect(role.environ.split('\0')).toContainEqual(expect.stringMatching(/^PGC_ACCESS_VERIFIER=SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/));
    for (const c of calls) expect([...c.argv, c.stdin, c.environ].join('\n')).not.toContain(ACCESS_PASSWORD);
  });

  test('post-bootstrap.sh installs the pooler lookup in template1, postgres and the cluster database, for a NOLOGIN pooler role the access role administers', () => {
    const { out, calls } = runPostBootstrap({ PGC_DATABASE: 'app', PGC_POOLER_USER: 'cdk8s_pgbouncer', PGC_ACCESS_USER: 'cdk8s_access' });
    expect(out).toContain('pooler lookup is ready in template1 postgres app');
    const role = calls.find((c) => c.stdin.includes('CREATE ROLE %I NOLOGIN'))!;
    expect(role.argv).toEqual([...BASE_ARGV, '-v', 'user=cdk8s_pgbouncer', '-v', 'admin=cdk8s_access']);
    expect(role.stdin).toContain("format('GRANT %I TO %I WITH ADMIN OPTION', :'user', :'admin') WHERE :'admin' <> ''");
    const lookups = calls.filter((c) => c.stdin.includes('CREATE OR REPLACE FUNCTION cdk8s_pgbouncer.get_auth'));
    expect(lookups.map((c) => c.argv.slice(-4))).toEqual([
      ['-v', 'user=cdk8s_pgbouncer', '-v', 'db=template1'], ['-v', 'user=cdk8s_pgbouncer', '-v', 'db=postgres'], ['-v', 'user=cdk8s_pgbouncer', '-v', 'db=app'],
    ]);
    const sql = lookups[0].stdin;
    expect(sql.split('\n')[0]).toBe('\\connect :"db"');
    expect(sql).toContain('SECURITY DEFINER SET search_path = pg_catalog');
    expect(sql).toContain('AND rolcanlogin AND NOT rolsuper');
    expect(sql).toContain("rolname NOT IN ('postgres', 'replicator', 'cdk8s_monitor', 'cdk8s_pgbouncer', 'cdk8s_rewind', 'cdk8s_access')");
    expect(sql).toContain('REVOKE ALL ON FUNCTION cdk8s_pgbouncer.get_auth(text) FROM PUBLIC;');
    expect(sql).toContain('GRANT EXECUTE ON FUNCTION cdk8s_pgbouncer.get_auth(text) TO :"user";');
  });

  test('post-bootstrap.sh creates the preloaded extensions in template1, postgres and the cluster database', () => {
    const { out, calls } = runPostBootstrap({ PGC_DATABASE: 'app', PGC_TEMPLATE_EXTENSIONS: 'pg_stat_statements' });
    expect(out).toContain('extensions pg_stat_statements are ready in template1 postgres app');
    const ext = calls.filter((c) => c.stdin.includes('CREATE EXTENSION'));
    expect(ext.map((c) => c.argv.slice(-4))).toEqual(['template1', 'postgres', 'app'].map((db) => ['-v', `db=${db}`, '-v', 'extension=pg_stat_statements']));
    expect(ext[0].stdin).toContain("SELECT format('CREATE EXTENSION IF NOT EXISTS %I', :'extension')");
  });

  test.each([
    ['no user', { PGC_MONITOR_PASSWORD: MONITOR_PASSWORD }],
    ['no password', { PGC_MONITOR_USER: 'cdk8s_monitor' }],
    ['empty password', { PGC_MONITOR_USER: 'cdk8s_monitor', PGC_MONITOR_PASSWORD: '' }],
    ['a password file that does not exist', { PGC_MONITOR_USER: 'cdk8s_monitor', PGC_MONITOR_PASSWORD_FILE: '/nonexistent/password' }],
  ])('post-bootstrap.sh creates no monitoring role with %s', (_what, env) => {
    const { out, calls } = runPostBootstrap(env);
    expect(calls).toHaveLength(1);
    expect(calls[0].stdin).not.toMatch(/ROLE|pg_monitor/);
    expect(out).not.toContain('monitoring role');
  });

  test('the on_role_change command line: plain words, and what a shell would split quoted so that shlex.split reads it back', () => {
    const input = {
      python3Path: '/usr/bin/python3',
      scriptsDir: '/opt/s',
      scopeLabel: 'example.com/cluster',
      roleLabel: 'example.com/role',
      leaderValue: 'primary',
      leaderObject: 'configmaps/db-leader',
    };
    expect(onRoleChangeCommand(input)).toBe('/usr/bin/python3 /opt/s/on-role-change.py --scope-label=example.com/cluster '
      + '--role-label=example.com/role --leader-value=primary --leader-object=configmaps/db-leader');
    const odd = onRoleChangeCommand({ ...input, python3Path: "/opt/it's $HOME/python3" });
    const split = execFileSync('python3', ['-c', 'import json, shlex, sys; print(json.dumps(shlex.split(sys.argv[1])))', odd], { encoding: 'utf8' });
    expect(JSON.parse(split)[0]).toBe("/opt/it's $HOME/python3");
  });
});
