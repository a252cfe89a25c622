import { Resources } from './resources';
import { SchedulingOptions } from './scheduling';

/** Privileges on a database. */
export enum DatabasePrivilege {
  /** Connect to the database. */
  CONNECT = 'CONNECT',
  /** Create schemas in the database. */
  CREATE = 'CREATE',
  /** Create temporary tables. */
  TEMPORARY = 'TEMPORARY',
}

/** Privileges on a schema and, with `tables`, on its tables. */
export enum SchemaPrivilege {
  /** Look up objects in the schema. */
  USAGE = 'USAGE',
  /** Create objects in the schema. */
  CREATE = 'CREATE',
}

/** Privileges on every table of a schema (existing ones and those created later by the owner). */
export enum TablePrivilege {
  SELECT = 'SELECT',
  INSERT = 'INSERT',
  UPDATE = 'UPDATE',
  DELETE = 'DELETE',
  TRUNCATE = 'TRUNCATE',
  REFERENCES = 'REFERENCES',
  TRIGGER = 'TRIGGER',
}

/** Privileges granted on one schema of one database. */
export interface SchemaGrant {
  /** Database the schema is in. */
  readonly database: string;
  /**
   * Schema name.
   * @default 'public'
   */
  readonly schema?: string;
  /**
   * Privileges on the schema.
   * @default [SchemaPrivilege.USAGE]
   */
  readonly privileges?: SchemaPrivilege[];
  /**
   * Privileges on its tables.
   * @default - none
   */
  readonly tables?: TablePrivilege[];
}

/** A database the cluster declares. */
export interface DatabaseOptions {
  /** Database name (lower-case letters, digits, underscores). */
  readonly name: string;
  /**
   * Owning role: a declared user; `postgres` only with `config.connection.superuserNetworkAccess`
   * (the access Job, which creates the database, is no superuser otherwise).
   * @default 'cdk8s_access' (the role the access Job runs as)
   */
  readonly owner?: string;
  /**
   * Extensions created in it (CREATE EXTENSION IF NOT EXISTS).
   * @default - none
   */
  readonly extensions?: string[];
}

/** A role the cluster declares. */
export interface UserOptions {
  /** Role name (lower-case letters, digits, underscores). */
  readonly name: string;
  /**
   * Whether it can log in (gets a password and a connection Secret).
   * @default true
   */
  readonly login?: boolean;
  /**
   * Most concurrent connections (-1: no limit).
   * @default -1
   */
  readonly connectionLimit?: number;
  /**
   * Roles it is a member of (declared users without login act as groups).
   * @default - none
   */
  readonly memberOf?: string[];
  /**
   * Databases it may connect to, with privileges. Everyone else is revoked CONNECT on declared
   * databases, so a user reads only what it is granted.
   * @default - none
   */
  readonly databases?: DatabaseGrantOptions[];
  /**
   * Privileges on schemas and their tables.
   * @default - none
   */
  readonly schemas?: SchemaGrant[];
  /**
   * Password rotation counter of a login user: raise it (by one, say) to give the user a new
   * random password. The credentials Job then writes the new password into every key of the
   * user's Secret that holds it (`password`, `uri`, `jdbc-uri` and their `ro-` twins) and records
   * the rotation on the Secret (annotation `postgres.cdk8s.io/password-rotation` and key
   * `password-rotation`); the access Job waits for that and sets the new password in PostgreSQL,
   * from which moment the old one is refused. Re-applying the same value never rotates again,
   * no member restarts, and other users' Secrets are untouched. A lower value than the one the
   * Secret records does nothing (the cluster cannot tell at synth time). A whole number from 0 to
   * 1,000,000; only for login users.
   * @default 0
   */
  readonly passwordRotation?: number;
}

/**
 * Password rotation counters of the roles the library itself creates and owns (the `users` have
 * their own `passwordRotation`). None of them can be rotated yet: each value must be 0, and
 * anything else is refused at synth time with the reason, so that a rotation asked for is never
 * silently ignored. The reasons are those of each property; they lift once the consuming
 * process re-reads its password without a restart.
 */
export interface PasswordRotationOptions {
  /**
   * The `postgres` superuser. Refused: Patroni reads the password from its environment when it
   * starts and uses it for its own connections to PostgreSQL, so a new password in the database
   * needs a restart of every member (in the safe order). Rotate a Secret of your own
   * (`superuserSecret`) by the same restart.
   * @default 0
   */
  readonly superuser?: number;
  /**
   * The `replicator` replication user. Refused: Patroni writes the password, read from its
   * environment at start, into every replica's `primary_conninfo`, so a replica whose WAL
   * receiver reconnects after the change stops replicating until its member restarts.
   * @default 0
   */
  readonly replication?: number;
  /**
   * The monitoring role (`cdk8s_monitor`). Refused: the metrics exporter reads the password from
   * its environment when it starts, so scraping fails from the change until every member pod
   * restarts.
   * @default 0
   */
  readonly monitoring?: number;
  /**
   * The pooler's `auth_query` role (`cdk8s_pgbouncer`). Refused: PgBouncer reads its
   * `userlist.txt` at start and on reload only, so logins through the pooler fail from the change
   * until every pooler pod restarts.
   * @default 0
   */
  readonly pooler?: number;
}

/** Privileges on one database. */
export interface DatabaseGrantOptions {
  /** Database name. */
  readonly database: string;
  /**
   * Privileges.
   * @default [DatabasePrivilege.CONNECT]
   */
  readonly privileges?: DatabasePrivilege[];
}

/** What the cluster exposes for a declared login user. */
export interface ApplicationUser {
  /** Role name. */
  readonly name: string;
  /**
   * Secret with `username`, `password`, `host`, `port`, `dbname`, `uri`, `jdbc-uri` (read-write
   * Service) and `ro-host`, `ro-uri`, `ro-jdbc-uri` (read-only Service), created in the cluster
   * (and, once the password was rotated, `password-rotation`).
   */
  readonly secretName: string;
}

/** How PgBouncer returns server connections to its pool. */
export enum PoolMode {
  /** After each transaction (most sharing; no session state across transactions). */
  TRANSACTION = 'transaction',
  /** When the client disconnects. */
  SESSION = 'session',
  /** After each statement (no multi-statement transactions). */
  STATEMENT = 'statement',
}

/** A PgBouncer connection pooler in front of the cluster. */
export interface PoolerOptions {
  /**
   * PgBouncer pods (a Deployment).
   * @default 2
   */
  readonly instances?: number;
  /**
   * Pool mode.
   * @default PoolMode.TRANSACTION
   */
  readonly poolMode?: PoolMode;
  /**
   * Server connections per user and database pair, per PgBouncer pod.
   * @default 20
   */
  readonly defaultPoolSize?: number;
  /**
   * Client connections each PgBouncer pod accepts.
   * @default 1000
   */
  readonly maxClientConnections?: number;
  /**
   * Also run a read-only pooler in front of the replicas (`<cluster>-pooler-ro`).
   * @default false
   */
  readonly readOnly?: boolean;
  /**
   * Where the pooler's pods may run (replaces the cluster's `scheduling`).
   * @default - the cluster's `scheduling`
   */
  readonly scheduling?: SchedulingOptions;
  /**
   * The PgBouncer image, pinned. It must have `pgbouncer` at `/usr/bin/pgbouncer` (the RPM's
   * path; the library runs every binary by its absolute path).
   * @default 'docker.io/percona/percona-pgbouncer:1.25.1-1'
   */
  readonly image?: string;
  /**
   * CPU and memory of each PgBouncer container.
   * @default - 200m CPU, 128 MiB (requests equal limits)
   */
  readonly resources?: Resources;
}
