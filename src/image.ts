/**
 * What the library needs to know about a custom PostgreSQL image.
 */
export interface PostgresImageOptions {
  /** Image reference, pinned by tag or digest (for example `registry.example.com/pg:17.10-1`). */
  readonly image: string;

  /** PostgreSQL major version inside the image (15 to 18). */
  readonly postgresVersion: number;

  /**
   * Directory holding `postgres`, `initdb`, `pg_ctl`, `pg_isready`, ...
   * @default `/usr/pgsql-<postgresVersion>/bin` (PGDG RPM layout)
   */
  readonly binDir?: string;

  /**
   * Numeric uid the image runs PostgreSQL as. Its passwd entry must be named like the
   * superuser (`postgres`): Patroni connects over the local socket with peer authentication.
   * @default 26
   */
  readonly uid?: number;

  /**
   * Numeric gid of that user (also the pod's fsGroup, so volumes are writable).
   * @default 26
   */
  readonly gid?: number;

  /**
   * Major version of the Patroni it bundles (must be 4 or later).
   * @default 4
   */
  readonly patroniMajorVersion?: number;

  /**
   * Absolute path of `patroni` in the image. Every binary the library runs is called by its
   * absolute path, and containers get a PATH of image directories only, so nothing on a writable
   * volume (`/pgdata`, `/tmp`) can stand in for it.
   * @default '/usr/bin/patroni' (RPM layout)
   */
  readonly patroniPath?: string;

  /**
   * Absolute path of `pgbackrest` in the image.
   * @default '/usr/bin/pgbackrest' (RPM layout)
   */
  readonly pgbackrestPath?: string;

  /**
   * Absolute path of `python3` in the image (the heartbeat and the Jobs' programs).
   * @default '/usr/bin/python3'
   */
  readonly python3Path?: string;
}

/** Directories the library mounts writable in the pods: no binary it runs may live there. */
const WRITABLE_DIRS = ['/pgdata', '/tmp', '/dev/shm', '/pgbackrest'];

/** `[registry[:port]/]path[:tag][@sha256:digest]` with a tag or a digest (a tag follows the last `/`). */
const PINNED_IMAGE = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*((:[\w][\w.-]{0,127})(@sha256:[0-9a-f]{64})?|@sha256:[0-9a-f]{64})$/;

/** Pinned tags of Percona Distribution for PostgreSQL (the images Percona's operator 3.0 runs). */
const PERCONA_TAGS: Record<number, string> = { 16: '16.14-1', 17: '17.10-1', 18: '18.3-2' };

/** Pinned tags of Crunchy Data's crunchy-postgres (the images PGO 5.8.9 runs). */
const CRUNCHY_TAGS: Record<number, string> = { 15: 'ubi9-15.19-2633', 16: 'ubi9-16.15-2633', 17: 'ubi9-17.11-2633', 18: 'ubi9-18.6-2633' };

/**
 * A container image bundling PostgreSQL, Patroni 4 and pgBackRest, with what the generated
 * configuration needs to know about its layout.
 *
 * Both named profiles are UBI 9 images from the PGO lineage: binaries under `/usr/pgsql-<major>/bin`,
 * uid/gid 26, `patroni`, `pgbackrest` and `python3` in `/usr/bin` (RPM layout), and `bash`.
 */
export class PostgresImage {
  /** PostgreSQL major versions the default (Percona) profile has pinned images for. */
  public static readonly SUPPORTED_DEFAULT_VERSIONS: number[] = Object.keys(PERCONA_TAGS).map(Number);

  /**
   * Percona Distribution for PostgreSQL (`docker.io/percona/percona-distribution-postgresql`),
   * the image of Percona's operator. Open source (PostgreSQL licence; Patroni and pgBackRest MIT;
   * Dockerfiles Apache-2.0) and free to run in production. The default.
   *
   * @param postgresVersion PostgreSQL major version: 16, 17 or 18.
   */
  public static percona(postgresVersion: number): PostgresImage {
    const tag = PERCONA_TAGS[postgresVersion];
    if (!tag) throw new Error(`PostgresImage.percona: no pinned image for PostgreSQL ${postgresVersion}; supported: ${supported(PERCONA_TAGS)}`);
    return new PostgresImage({ image: `docker.io/percona/percona-distribution-postgresql:${tag}`, postgresVersion });
  }

  /**
   * Crunchy Data's `crunchy-postgres` image (registry.developers.crunchydata.com), the image of PGO.
   * Subject to the Crunchy Data Developer Program terms: as Crunchy states them, production use
   * without a subscription is limited (individuals and small organisations); read the terms first.
   *
   * @param postgresVersion PostgreSQL major version: 15, 16, 17 or 18.
   */
  public static crunchy(postgresVersion: number): PostgresImage {
    const tag = CRUNCHY_TAGS[postgresVersion];
    if (!tag) throw new Error(`PostgresImage.crunchy: no pinned image for PostgreSQL ${postgresVersion}; supported: ${supported(CRUNCHY_TAGS)}`);
    return new PostgresImage({ image: `registry.developers.crunchydata.com/crunchydata/crunchy-postgres:${tag}`, postgresVersion });
  }

  /**
   * Any other image with PostgreSQL, Patroni 4 (with its Kubernetes support) and `python3` on the PATH.
   */
  public static custom(options: PostgresImageOptions): PostgresImage {
    return new PostgresImage(options);
  }

  /** Image reference. */
  public readonly image: string;
  /** PostgreSQL major version in the image. */
  public readonly postgresVersion: number;
  /** Directory of the PostgreSQL binaries. */
  public readonly binDir: string;
  /** uid PostgreSQL runs as. */
  public readonly uid: number;
  /** gid PostgreSQL runs as. */
  public readonly gid: number;
  /** Major version of the bundled Patroni. */
  public readonly patroniMajorVersion: number;
  /** Absolute path of `patroni`. */
  public readonly patroniPath: string;
  /** Absolute path of `pgbackrest`. */
  public readonly pgbackrestPath: string;
  /** Absolute path of `python3`. */
  public readonly python3Path: string;
  /**
   * The PATH every container of this image gets: the PostgreSQL binary directory, the
   * directories of the binaries above and the system directories, never a writable volume.
   */
  public readonly searchPath: string;

  private constructor(options: PostgresImageOptions) {
    this.image = options.image;
    this.postgresVersion = options.postgresVersion;
    this.binDir = options.binDir ?? `/usr/pgsql-${options.postgresVersion}/bin`;
    this.uid = options.uid ?? 26;
    this.gid = options.gid ?? 26;
    this.patroniMajorVersion = options.patroniMajorVersion ?? 4;
    this.patroniPath = options.patroniPath ?? '/usr/bin/patroni';
    this.pgbackrestPath = options.pgbackrestPath ?? '/usr/bin/pgbackrest';
    this.python3Path = options.python3Path ?? '/usr/bin/python3';
    const dirs = [this.binDir, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin',
      ...[this.patroniPath, this.pgbackrestPath, this.python3Path].map((p) => p.replace(/\/[^/]*$/, '') || '/')];
    this.searchPath = dirs.filter((d, i) => dirs.indexOf(d) === i).join(':');
  }

  /**
   * The rules this image breaks, empty when it is usable.
   */
  public violations(): string[] {
    const out: string[] = [];
    out.push(...pinnedImageProblems(this.image));
    if (!Number.isInteger(this.postgresVersion) || this.postgresVersion < 15 || this.postgresVersion > 18) {
      out.push(`postgresVersion ${this.postgresVersion} is not supported (15 to 18)`);
    }
    for (const [what, path] of [['binDir', this.binDir], ['patroniPath', this.patroniPath], ['pgbackrestPath', this.pgbackrestPath], ['python3Path', this.python3Path]]) {
      if (!/^\/[^\0:\s]*$/.test(path) || path.split('/').includes('..')) {
        out.push(`${what} "${path}" must be an absolute path without spaces, ':' or '..'`);
      } else if (WRITABLE_DIRS.some((d) => path === d || path.startsWith(`${d}/`))) {
        out.push(`${what} "${path}" is on a volume the pods can write (${WRITABLE_DIRS.join(', ')}): a file there could stand in for the binary`);
      }
    }
    if (!Number.isInteger(this.uid) || this.uid < 1) out.push(`uid ${this.uid} must be a non-root uid (1 or more)`);
    if (!Number.isInteger(this.gid) || this.gid < 1) out.push(`gid ${this.gid} must be a non-root gid (1 or more)`);
    if (!Number.isInteger(this.patroniMajorVersion) || this.patroniMajorVersion < 4) {
      out.push(`patroniMajorVersion ${this.patroniMajorVersion} is not supported (the configuration targets Patroni 4 or later)`);
    }
    return out;
  }
}

/**
 * The rules an image reference breaks: it must be pinned by a tag other than `latest` or by a
 * sha256 digest. Empty when it is fine.
 *
 * @internal
 */
export function pinnedImageProblems(image: string): string[] {
  if (!PINNED_IMAGE.test(image) || image.endsWith(':latest')) {
    return [`image "${image}" must be pinned by a tag other than latest or by a sha256 digest`];
  }
  return [];
}

function supported(tags: Record<number, string>): string {
  return Object.keys(tags).join(', ');
}
