/**
 * What the node agent puts where an image has its programs: no container runtime can run here,
 * so each image the library uses is stood in for by the installed programs, bound read-only at
 * the image's own paths inside the container's mount namespace. This is the only rewrite.
 */

/** Where the installed programs are. */
export interface HostPrograms {
  /** Debian's PostgreSQL binaries. */
  readonly pgBinDir: string;
  /** The virtual environment with Patroni 4 from PyPI. */
  readonly venv: string;
}

/** One image: its entrypoint, PATH and the binds that stand in for its files. */
export interface ImageProfile {
  /** The image's ENTRYPOINT, used when a container gives no `command`. */
  readonly entrypoint: readonly string[];
  /** The image's PATH. */
  readonly path: string;
  /** Host path -> path inside the container (a file onto a file, a directory onto a directory). */
  readonly binds: ReadonlyArray<{ readonly host: string; readonly container: string }>;
}

/**
 * Debian's PostgreSQL binaries, which stand in for the images' (PGK_PG_BIN_DIR overrides it):
 * the suites that run a bare PostgreSQL take the same binaries from here.
 */
export const HOST_PG_BIN_DIR = process.env.PGK_PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';

const UBI_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The profile for an image reference; throws for an image the agent cannot stand in for. */
export function imageProfile(image: string, host: HostPrograms): ImageProfile {
  const repo = image.replace(/[:@].*$/, '');
  const pgMajor = /:(\d+)\./.exec(image)?.[1];
  if (/percona-distribution-postgresql$|crunchy-postgres$/.test(repo)) {
    if (!pgMajor) throw new Error(`image ${image}: no PostgreSQL major version in its tag`);
    return {
      entrypoint: [],
      path: UBI_PATH,
      binds: [
        { host: host.pgBinDir, container: `/usr/pgsql-${pgMajor}/bin` },
        // PostgreSQL finds $libdir relative to its binary, as in the image's /usr/pgsql-<major>/lib.
        { host: host.pgBinDir.replace(/\/bin$/, '/lib'), container: `/usr/pgsql-${pgMajor}/lib` },
        { host: `${host.venv}/bin/patroni`, container: '/usr/bin/patroni' },
        { host: `${host.venv}/bin/patronictl`, container: '/usr/bin/patronictl' },
      ],
    };
  }
  if (/percona-pgbouncer$/.test(repo)) {
    return { entrypoint: [], path: UBI_PATH, binds: [{ host: '/usr/sbin/pgbouncer', container: '/usr/bin/pgbouncer' }] };
  }
  if (/postgres-exporter$/.test(repo)) {
    return {
      entrypoint: ['/bin/postgres_exporter'],
      path: UBI_PATH,
      binds: [{ host: '/usr/bin/prometheus-postgres-exporter', container: '/usr/bin/postgres_exporter' }],
    };
  }
  throw new Error(`image ${image}: the node agent has no stand-in for it (see node-agent/images.ts)`);
}
