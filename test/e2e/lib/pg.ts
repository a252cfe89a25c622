/** Running SQL through `psql` over TCP. */
import { execFile } from 'node:child_process';

const PSQL = '/usr/lib/postgresql/15/bin/psql';

/** Where and as whom to connect. */
export interface PgTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Defaults to `postgres`. */
  readonly database?: string;
  /** libpq sslmode (default `prefer`: TLS when the server offers it). */
  readonly sslmode?: string;
  /** CA file for sslmode verify-ca / verify-full. */
  readonly sslrootcert?: string;
}

/** Options for {@link psql}. */
export interface PsqlOptions {
  /** PGCONNECT_TIMEOUT in seconds (default 3). */
  readonly connectTimeoutSec?: number;
  /** Kill psql after this many milliseconds (default 15000). */
  readonly timeoutMs?: number;
}

/** psql failed: non-zero exit, connection error or SQL error. */
export class PsqlError extends Error {
  constructor(
    message: string,
    readonly target: PgTarget,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'PsqlError';
  }
}

/**
 * Runs `sql` (may contain several statements, fed on stdin) and returns the
 * trimmed, unaligned, tuples-only output; throws {@link PsqlError} with stderr.
 */
export function psql(target: PgTarget, sql: string, options: PsqlOptions = {}): Promise<string> {
  const args = [
    '-X', '-A', '-t', '-q',
    '-v', 'ON_ERROR_STOP=1',
    '-h', target.host,
    '-p', String(target.port),
    '-U', target.user,
    '-d', target.database ?? 'postgres',
    '-f', '-',
  ];
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PGPASSWORD: target.password,
    PGCONNECT_TIMEOUT: String(options.connectTimeoutSec ?? 3),
    PGAPPNAME: 'e2e',
    ...(target.sslmode ? { PGSSLMODE: target.sslmode } : {}),
    ...(target.sslrootcert ? { PGSSLROOTCERT: target.sslrootcert } : {}),
  };
  return new Promise((resolve, reject) => {
    const child = execFile(PSQL, args, { env, timeout: options.timeoutMs ?? 15_000 }, (err, stdout, stderr) => {
      if (err) {
        const where = `${target.user}@${target.host}:${target.port}`;
        const reason = stderr.trim() || (err.killed ? 'psql timed out' : err.message);
        reject(new PsqlError(`psql ${where} failed: ${reason}`, target, stderr));
      } else {
        resolve(stdout.trim());
      }
    });
    // psql may exit (a refused connection) before reading its input: its own message is the error, not EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(sql);
  });
}
