/**
 * The access Job's program, run for real with python3 against a fake psycopg2 (written to a temp
 * directory) that records every statement: what it issues and in which order, that it never
 * drops anything, that passwords reach the server only as SCRAM-SHA-256 verifiers (checked
 * here with Node's crypto), and that it refuses the library's reserved roles.
 */
import { spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { tmpdir } from 'os';
import { join } from 'path';
import { APPLY_ACCESS_SCRIPT } from '../../src/render/access-script';
import { ofKind, synthCluster } from '../helpers/manifests';

const FAKE_PSYCOPG2 = `import json, os
from . import errors, sql


class OperationalError(Exception):
    pass


_STATE = json.loads(os.environ.get("FAKE_STATE", "{}"))
_COUNTER = [0]


def _record(entry):
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(json.dumps(entry) + "\\n")


class _Cursor:
    def __init__(self, conn):
        self.conn = conn
        self.result = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, query, params=None):
        if isinstance(query, sql.Composable):
            text = query.as_string(self.conn)
        elif isinstance(query, str):
            text = query
        else:
            raise TypeError("execute() takes a string or a Composable, got %r" % type(query))
        if params is not None and not isinstance(params, tuple):
            raise TypeError("params must be a tuple")
        if params is not None and text.count("%s") != len(params):
            raise ValueError("%d placeholders for %d params in %s" % (text.count("%s"), len(params), text))
        _record({"conn": self.conn.id, "db": self.conn.dbname, "sql": text, "params": list(params) if params is not None else None})
        if text == "SELECT pg_is_in_recovery()":
            self.result = (_STATE.get("in_recovery", False),)
        elif text.startswith("SELECT 1 FROM pg_roles"):
            self.result = (1,) if params[0] in _STATE.get("roles", []) else None
        elif text.startswith("SELECT 1 FROM pg_database"):
            self.result = (1,) if params[0] in _STATE.get("databases", []) else None
        elif text.startswith("SELECT current_user, rolsuper"):
            self.result = (_STATE.get("user", "cdk8s_access"), _STATE.get("superuser", False))
        elif text.startswith("SELECT datname FROM pg_database WHERE datallowconn"):
            # What the server holds besides the declared databases (created by this run or before).
            names = ["postgres", "template1"] + _STATE.get("databases", []) + _STATE.get("other_databases", [])
            self.result = [(n,) for n in sorted(set(names))]
        elif text.startswith("SELECT to_regprocedure('cdk8s_pgbouncer.get_auth(text)')"):
            self.result = (self.conn.dbname not in _STATE.get("without_lookup", []),)
        elif text.startswith("CREATE EXTENSION") and text.split('"')[1] in _STATE.get("untrusted", []):
            raise errors.InsufficientPrivilege("permission denied to create extension")
        else:
            self.result = None

    def fetchone(self):
        return self.result

    def fetchall(self):
        return self.result


class _Connection:
    def __init__(self, dbname, **kwargs):
        _COUNTER[0] += 1
        self.id = _COUNTER[0]
        self.dbname = dbname
        self.autocommit = False

    def cursor(self):
        return _Cursor(self)

    def close(self):
        _record({"conn": self.id, "db": self.dbname, "close": True})


def connect(**kwargs):
    conn = _Connection(**kwargs)
    _record({"conn": conn.id, "db": conn.dbname, "connect": sorted(kwargs)})
    return conn
`;

const FAKE_SQL = `class Composable:
    def as_string(self, context):
        raise NotImplementedError


class SQL(Composable):
    def __init__(self, string):
        if not isinstance(string, str):
            raise TypeError("SQL values must be strings")
        self.string = string

    def as_string(self, context):
        return self.string

    def format(self, *args):
        parts = self.string.split("{}")
        if len(parts) - 1 != len(args):
            raise ValueError("%d placeholders for %d arguments in %s" % (len(parts) - 1, len(args), self.string))
        out = parts[0]
        for arg, rest in zip(args, parts[1:]):
            if not isinstance(arg, Composable):
                raise TypeError("format() takes Composables, got %r" % type(arg))
            out += arg.as_string(None) + rest
        return SQL(out)

    def join(self, seq):
        items = list(seq)
        for item in items:
            if not isinstance(item, Composable):
                raise TypeError("join() takes Composables")
        return SQL(self.string.join(item.as_string(None) for item in items))


class Identifier(Composable):
    def __init__(self, *strings):
        if not strings or not all(isinstance(s, str) for s in strings):
            raise TypeError("Identifier takes strings")
        self.strings = strings

    def as_string(self, context):
        return ".".join('"' + s.replace('"', '""') + '"' for s in self.strings)
`;

interface Entry { conn: number; db: string; sql?: string; params?: string[] | null; connect?: string[]; close?: boolean }

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'access-script-'));
  mkdirSync(join(dir, 'psycopg2'));
  writeFileSync(join(dir, 'psycopg2', '__init__.py'), FAKE_PSYCOPG2);
  writeFileSync(join(dir, 'psycopg2', 'sql.py'), FAKE_SQL);
  writeFileSync(join(dir, 'psycopg2', 'errors.py'), 'class InsufficientPrivilege(Exception):\n    pass\n');
  writeFileSync(join(dir, 'apply-access.py'), APPLY_ACCESS_SCRIPT);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let runs = 0;
/** Runs the script (as the Job does: python3 -c) with the declaration, extra env and server state. */
interface FakeState {
  roles?: string[];
  databases?: string[];
  other_databases?: string[];
  /** The role the Job connects as, and whether it is a superuser (default cdk8s_access, no). */
  user?: string;
  superuser?: boolean;
  /** Databases without the pooler lookup; extensions only a superuser may create. */
  without_lookup?: string[];
  untrusted?: string[];
}
function run(spec: unknown, env: Record<string, string> = {}, state: FakeState = {}) {
  const log = join(dir, `log-${++runs}.jsonl`);
  writeFileSync(log, '');
  const r = spawnSync('python3', ['-c', APPLY_ACCESS_SCRIPT], {
    env: {
      PATH: process.env.PATH,
      PYTHONPATH: dir,
      PYTHONDONTWRITEBYTECODE: '1',
      FAKE_LOG: log,
      FAKE_STATE: JSON.stringify(state),
      PGC_ACCESS: JSON.stringify(spec),
      ...env,
    },
    encoding: 'utf8',
    timeout: 20000,
  });
  const entries = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry);
  return { code: r.status, output: `${r.stdout}${r.stderr}`, entries, statements: entries.filter((e) => e.sql !== undefined) };
}

const OPTIONS = 'NOSUPERUSER NOREPLICATION NOBYPASSRLS NOCREATEDB NOCREATEROLE';
/** What a non-superuser (the access role) sets on each role it manages. */
const ROLE_OPTIONS = 'NOCREATEDB NOCREATEROLE';
const APP_PASSWORD = 'app-Secret-Password-123';
const POOLER_PASSWORD = 'pooler-Secret-Password-456';

const SPEC = {
  users: [
    { name: 'orders_owner', login: false, connectionLimit: -1, memberOf: [], databases: [], schemas: [] },
    {
      name: 'orders_app',
      login: true,
      connectionLimit: 10,
      memberOf: ['orders_owner'],
      passwordEnv: 'PGC_PASSWORD_1',
      databases: [{ database: 'orders', privileges: ['CONNECT', 'TEMPORARY'] }],
      schemas: [{ database: 'orders', schema: 'sales', privileges: ['USAGE'], tables: ['SELECT', 'INSERT'] }],
    },
  ],
  databases: [{ name: 'orders', owner: 'orders_owner', extensions: ['pgcrypto'] }],
  pooler: { user: 'cdk8s_pgbouncer', passwordEnv: 'PGC_POOLER_PASSWORD' },
};
const ENV = { PGC_PASSWORD_1: APP_PASSWORD, PGC_POOLER_PASSWORD: POOLER_PASSWORD };

/** Checks a SCRAM-SHA-256 verifier against a password as PostgreSQL would. */
function verifies(verifier: string, password: string): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
  if (!m) return false;
  const salted = pbkdf2Sync(password, Buffer.from(m[2], 'base64'), Number(m[1]), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return storedKey.toString('base64') === m[3] && serverKey.toString('base64') === m[4];
}

test('the script passes py_compile', () => {
  const file = join(dir, 'apply-access.py');
  const r = spawnSync('python3', ['-m', 'py_compile', file], { encoding: 'utf8', env: { PATH: process.env.PATH, PYTHONPYCACHEPREFIX: join(dir, 'pycache') } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

test('py_compile catches a broken script (the check is real)', () => {
  const file = join(dir, 'broken.py');
  writeFileSync(file, 'def main(:\n    pass\n');
  const r = spawnSync('python3', ['-m', 'py_compile', file], { encoding: 'utf8', env: { PATH: process.env.PATH, PYTHONPYCACHEPREFIX: join(dir, 'pycache') } });
  expect(r.status).not.toBe(0);
});

describe('a fresh cluster (no declared role or database exists yet)', () => {
  const result = () => run(SPEC, ENV, { roles: [], databases: [] });

  test('exits 0 and reports what it applied', () => {
    const { code, output } = result();
    expect(output).toContain('access applied: 2 roles, 1 databases');
    expect(code).toBe(0);
  });

  test('the statements, in order, on which connection', () => {
    const { statements, entries } = result();
    const verifierParam = expect.arrayContaining([expect.stringMatching(/^SCRAM-SHA-256\$4096:/)]);
    expect(statements.map((s) => [s.conn, s.db, s.sql, s.params ?? null])).toEqual([
      [1, 'postgres', 'SELECT pg_is_in_recovery()', null],
      [1, 'postgres', 'SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user', null],
      [1, 'postgres', 'SELECT 1 FROM pg_roles WHERE rolname = %s', ['orders_owner']],
      [1, 'postgres', 'CREATE ROLE "orders_owner"', null],
      // Not a superuser: SUPERUSER, REPLICATION and BYPASSRLS are not even named.
      [1, 'postgres', `ALTER ROLE "orders_owner" WITH ${ROLE_OPTIONS} NOLOGIN CONNECTION LIMIT -1`, null],
      [1, 'postgres', 'SELECT 1 FROM pg_roles WHERE rolname = %s', ['orders_app']],
      [1, 'postgres', 'CREATE ROLE "orders_app"', null],
      [1, 'postgres', `ALTER ROLE "orders_app" WITH ${ROLE_OPTIONS} LOGIN CONNECTION LIMIT 10 PASSWORD %s`, verifierParam],
      [1, 'postgres', 'GRANT "orders_owner" TO "orders_app"', null],
      // It gives the database to its owner, and grants on it, as a member of the owner.
      [1, 'postgres', 'GRANT "orders_owner" TO "cdk8s_access"', null],
      [1, 'postgres', 'SELECT 1 FROM pg_database WHERE datname = %s', ['orders']],
      [1, 'postgres', 'CREATE DATABASE "orders" OWNER "orders_owner"', null],
      [1, 'postgres', 'REVOKE CONNECT, TEMPORARY ON DATABASE "orders" FROM PUBLIC', null],
      [1, 'postgres', 'GRANT CONNECT, TEMPORARY ON DATABASE "orders" TO "orders_app"', null],
      [1, 'postgres', 'SELECT 1 FROM pg_roles WHERE rolname = %s', ['cdk8s_pgbouncer']],
      [1, 'postgres', 'CREATE ROLE "cdk8s_pgbouncer"', null],
      [1, 'postgres', `ALTER ROLE "cdk8s_pgbouncer" WITH ${ROLE_OPTIONS} LOGIN CONNECTION LIMIT -1 PASSWORD %s`, verifierParam],
      [1, 'postgres', 'GRANT CONNECT ON DATABASE "orders" TO "cdk8s_pgbouncer"', null],
      [1, 'postgres', 'SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname', null],
      // In each database: extensions and schema grants; with a pooler, a check for its lookup.
      [2, 'postgres', "SELECT to_regprocedure('cdk8s_pgbouncer.get_auth(text)') IS NOT NULL", null],
      [3, 'orders', 'CREATE EXTENSION IF NOT EXISTS "pgcrypto"', null],
      [3, 'orders', 'GRANT USAGE ON SCHEMA "sales" TO "orders_app"', null],
      [3, 'orders', 'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA "sales" TO "orders_app"', null],
      [3, 'orders', 'ALTER DEFAULT PRIVILEGES FOR ROLE "orders_owner" IN SCHEMA "sales" GRANT SELECT, INSERT ON TABLES TO "orders_app"', null],
      [3, 'orders', "SELECT to_regprocedure('cdk8s_pgbouncer.get_auth(text)') IS NOT NULL", null],
      [4, 'template1', "SELECT to_regprocedure('cdk8s_pgbouncer.get_auth(text)') IS NOT NULL", null],
    ]);
    // Every per-database connection is closed.
    expect(entries.filter((e) => e.close).map((e) => e.conn)).toEqual([2, 3, 4]);
  });

  test('as the superuser (superuserNetworkAccess), roles are also forced to NOSUPERUSER NOREPLICATION NOBYPASSRLS, with no membership grants', () => {
    const { code, statements } = run(SPEC, ENV, { user: 'postgres', superuser: true });
    expect(code).toBe(0);
    const sqls = statements.map((s) => s.sql!);
    expect(sqls).toContain(`ALTER ROLE "orders_owner" WITH ${OPTIONS} NOLOGIN CONNECTION LIMIT -1`);
    expect(sqls.filter((q) => q.endsWith('TO "postgres"'))).toEqual([]);
  });

  test('passwords reach the server only as SCRAM-SHA-256 verifiers of the right password', () => {
    const { statements, output, entries } = result();
    const withPassword = statements.filter((s) => s.sql!.includes('PASSWORD'));
    expect(withPassword.map((s) => s.sql!.split(' ')[2])).toEqual(['"orders_app"', '"cdk8s_pgbouncer"']);
    const [app, pooler] = withPassword.map((s) => s.params![0]);
    expect(verifies(app, APP_PASSWORD)).toBe(true);
    expect(verifies(pooler, POOLER_PASSWORD)).toBe(true);
    // the check is real: a verifier does not verify another password
    expect(verifies(app, POOLER_PASSWORD)).toBe(false);
    expect(verifies(app.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), APP_PASSWORD)).toBe(false);
    const everything = JSON.stringify(entries) + output;
    for (const pw of [APP_PASSWORD, POOLER_PASSWORD]) expect(everything).not.toContain(pw);
  });

  test('a fresh salt on each run', () => {
    const a = result().statements.find((s) => s.sql!.startsWith('ALTER ROLE "orders_app"'))!.params![0];
    const b = result().statements.find((s) => s.sql!.startsWith('ALTER ROLE "orders_app"'))!.params![0];
    expect(a).not.toBe(b);
    expect(verifies(b, APP_PASSWORD)).toBe(true);
  });
});

describe('a user with a declared password rotation', () => {
  /** The declaration with orders_app rotated: its password from a mounted Secret directory. */
  function rotatedSpec(passwordDir: string, rotation: number) {
    const [owner, app] = SPEC.users;
    const { passwordEnv: _env, ...rest } = app;
    return { ...SPEC, users: [owner, { ...rest, rotation, passwordDir }] };
  }
  function secretDir(password: string, rotation: string): string {
    const d = mkdtempSync(join(dir, 'rotated-'));
    writeFileSync(join(d, 'password'), password);
    writeFileSync(join(d, 'password-rotation'), rotation);
    return d;
  }

  test('its password comes from the mounted Secret once it records the rotation, as a verifier of that password', () => {
    const d = secretDir('rotated-Password-789', '2');
    // The environment's value is not used for it (it has none in the real Job).
    const { code, statements, output } = run(rotatedSpec(d, 2), { PGC_POOLER_PASSWORD: POOLER_PASSWORD, PGC_PASSWORD_1: APP_PASSWORD });
    expect(code).toBe(0);
    const app = statements.find((s) => s.sql!.startsWith('ALTER ROLE "orders_app"') && s.sql!.includes('PASSWORD'))!.params![0];
    expect(verifies(app, 'rotated-Password-789')).toBe(true);
    expect(output).not.toContain('rotated-Password-789');
    expect(output).not.toContain('waiting for the Secret');
  });

  test('an earlier rotation in the Secret is never set: the Job waits (and fails after its wait, leaving the old password)', () => {
    const d = secretDir('old-Password', '1');
    const script = 'import os, time\ntime.sleep = lambda s: None\nexec(compile(open(os.environ["SCRIPT"]).read(), "apply-access", "exec"), {"__name__": "__main__"})';
    writeFileSync(join(dir, 'apply-access.py'), APPLY_ACCESS_SCRIPT);
    const r = spawnSync('python3', ['-c', script], {
      env: {
        PATH: process.env.PATH,
        PYTHONPATH: dir,
        PYTHONDONTWRITEBYTECODE: '1',
        SCRIPT: join(dir, 'apply-access.py'),
        FAKE_LOG: join(dir, 'rotation-wait.jsonl'),
        FAKE_STATE: '{}',
        PGC_ACCESS: JSON.stringify(rotatedSpec(d, 2)),
        PGC_POOLER_PASSWORD: POOLER_PASSWORD,
      },
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(r.status).toBe(1);
    expect(`${r.stdout}${r.stderr}`).toContain('waiting for the Secret of orders_app to reach password rotation 2 (now 1)');
    expect(r.stderr).toContain('the Secret of orders_app is at password rotation 1, not 2, after 600 s: did the credentials Job run?');
    const sqls = readFileSync(join(dir, 'rotation-wait.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).sql ?? '');
    expect(sqls.filter((q: string) => q.includes('PASSWORD'))).toEqual([]);
  });
});

describe('the pooler forwards every database: its lookup is checked in each one', () => {
  test('every database that takes connections is checked, also those the declaration does not name; a missing lookup is reported', () => {
    const { code, statements, output } = run(SPEC, ENV, { other_databases: ['app', 'made_by_hand'], without_lookup: ['made_by_hand'] });
    expect(code).toBe(0);
    const checked = statements.filter((s) => s.sql!.startsWith("SELECT to_regprocedure('cdk8s_pgbouncer.get_auth(text)')")).map((s) => s.db);
    expect(checked).toEqual(['postgres', 'orders', 'app', 'made_by_hand', 'template1']);
    expect(output).toContain('WARNING: no pooler lookup cdk8s_pgbouncer.get_auth in database(s) made_by_hand: the pooler cannot log in to them');
    // The lookup itself is post-bootstrap.sh's (a superuser's): the access role creates no function.
    expect(statements.filter((s) => /FUNCTION/.test(s.sql!) && !s.sql!.startsWith('SELECT'))).toEqual([]);
  });

  test('without a pooler, only the declared databases are visited', () => {
    const { statements } = run({ ...SPEC, pooler: null }, ENV, { other_databases: ['app'] });
    expect(new Set(statements.map((s) => s.db))).toEqual(new Set(['postgres', 'orders']));
    expect(statements.map((s) => s.sql)).not.toContain('SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname');
  });
});

describe('extensions that are not trusted', () => {
  test('the access role cannot create them: a message naming the extension, the database and the opt-in, exit non-zero', () => {
    const { code, output } = run(SPEC, ENV, { untrusted: ['pgcrypto'] });
    expect(code).not.toBe(0);
    expect(output).toContain('extension pgcrypto in database orders is not trusted: only a superuser may create it (cdk8s_access is not one; '
      + 'config.connection.superuserNetworkAccess lets the access Job run as postgres)');
    expect(output).not.toContain('Traceback');
  });
});

describe('idempotent and never destructive', () => {
  test('existing roles and databases are altered, not created again', () => {
    const { code, statements } = run(SPEC, ENV, { roles: ['orders_owner', 'orders_app', 'cdk8s_pgbouncer'], databases: ['orders'] });
    expect(code).toBe(0);
    const sqls = statements.map((s) => s.sql!);
    expect(sqls.filter((s) => /^CREATE (ROLE|DATABASE)/.test(s))).toEqual([]);
    expect(sqls).toContain('ALTER DATABASE "orders" OWNER TO "orders_owner"');
    expect(sqls.filter((s) => s.startsWith('ALTER ROLE'))).toHaveLength(3);
  });

  test.each([
    ['a fresh cluster', {}],
    ['an existing cluster', { roles: ['orders_owner', 'orders_app', 'cdk8s_pgbouncer'], databases: ['orders'] }],
  ])('no DROP, no superuser grant, in %s', (_name, state) => {
    const { statements } = run(SPEC, ENV, state);
    expect(statements.length).toBeGreaterThan(10);
    for (const s of statements) {
      expect(s.sql).not.toMatch(/\bDROP\b/i);
      expect(s.sql).not.toMatch(/\bSUPERUSER\b(?<!NOSUPERUSER)/);
    }
  });

  test('the script has no DROP at all (a role or database removed from the declaration stays)', () => {
    expect(APPLY_ACCESS_SCRIPT).not.toMatch(/\bDROP\b/i);
  });

  test('an empty declaration connects, changes nothing and exits 0', () => {
    const { code, statements } = run({ users: [], databases: [], pooler: null });
    expect(code).toBe(0);
    expect(statements.map((s) => s.sql)).toEqual(['SELECT pg_is_in_recovery()', 'SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user']);
  });

  test('identifiers are quoted, so a name cannot inject SQL', () => {
    const spec = { users: [{ ...SPEC.users[0], name: 'x"; DROP TABLE t; --' }], databases: [], pooler: null };
    const { statements } = run(spec);
    expect(statements.map((s) => s.sql)).toContain('CREATE ROLE "x""; DROP TABLE t; --"');
  });
});

describe('refusals', () => {
  test.each(['postgres', 'replicator', 'cdk8s_monitor', 'cdk8s_pgbouncer'])('the reserved role %s: exit non-zero before changing anything', (name) => {
    const spec = { users: [{ ...SPEC.users[1], name, passwordEnv: 'PGC_PASSWORD_0' }], databases: [], pooler: null };
    const { code, output, statements } = run(spec, { PGC_PASSWORD_0: 'x' });
    expect(code).not.toBe(0);
    expect(output).toContain(`refusing to manage the reserved role ${name}`);
    expect(statements.filter((s) => /^(CREATE|ALTER|GRANT|REVOKE)/.test(s.sql!))).toEqual([]);
  });

  // The library refuses `public` and `pg_*` names too (see errors.test.ts); the script is the last
  // line of defence and should refuse every name the library reserves.
  test.each(['public', 'pg_monitor', 'pg_read_all_data'])('the reserved role %s: exit non-zero too', (name) => {
    const spec = { users: [{ ...SPEC.users[0], name }], databases: [], pooler: null };
    const { code, statements } = run(spec);
    expect(code).not.toBe(0);
    expect(statements.filter((s) => /^(CREATE|ALTER|GRANT|REVOKE)/.test(s.sql!))).toEqual([]);
  });

  test('a login user whose password variable is empty: exit non-zero, naming the user and the variable', () => {
    const { code, output } = run({ users: [SPEC.users[1]], databases: [], pooler: null }, { PGC_PASSWORD_1: '' });
    expect(code).not.toBe(0);
    expect(output).toContain('password of orders_app missing (PGC_PASSWORD_1)');
  });
});

test('the declaration the access Job renders is accepted as is', () => {
  const m = synthCluster({
    databases: [{ name: 'orders', owner: 'orders_owner', extensions: ['pgcrypto'] }],
    users: [
      { name: 'orders_owner', login: false },
      { name: 'orders_app', memberOf: ['orders_owner'], databases: [{ database: 'orders' }], schemas: [{ database: 'orders', tables: [] }] },
    ],
  });
  const job = ofKind(m, 'Job').find((j) => j.metadata.name.startsWith('db-access-'))!;
  const env = job.spec.template.spec.containers[0].env;
  const spec = JSON.parse(env.find((e: any) => e.name === 'PGC_ACCESS').value);
  const passwords: Record<string, string> = {};
  for (const e of env) if (/^PGC_(PASSWORD_\d+|POOLER_PASSWORD)$/.test(e.name)) passwords[e.name] = `pw-${e.name}`;
  expect(Object.keys(passwords)).toEqual(['PGC_PASSWORD_1']);
  const { code, statements, output } = run(spec, passwords);
  expect(output).toContain('access applied: 2 roles, 1 databases');
  expect(code).toBe(0);
  expect(statements.map((s) => s.sql)).toEqual(expect.arrayContaining([
    'CREATE DATABASE "orders" OWNER "orders_owner"',
    'GRANT CONNECT ON DATABASE "orders" TO "orders_app"',
    'GRANT USAGE ON SCHEMA "public" TO "orders_app"',
  ]));
});
