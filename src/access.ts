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
   * Service) and `ro-host`, `ro-uri`, `ro-jdbc-uri` (read-only Service), created in the cluster.
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
