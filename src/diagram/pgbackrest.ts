/**
 * pgBackRest repositories from a `pgbackrest.conf` (ini): `repoN-type`, `repoN-path`,
 * `repoN-s3-bucket`, `repoN-gcs-bucket`, `repoN-azure-container`, `repoN-retention-full`.
 */

/** One pgBackRest repository. */
export interface BackupRepository {
  /** `repo1`, `repo2`, … */
  readonly name: string;
  /** `posix`, `s3`, `gcs`, `azure`, `cifs` (pgBackRest's default is posix). */
  readonly type: string;
  /** Where backups go: the path, and the bucket or container for object stores. */
  readonly location: string;
  /** Every `repoN-*` option of this repository, by option name without the prefix (`path`, `s3-bucket`). */
  readonly options: Readonly<Record<string, string>>;
}

/** Parses the `[global]` and stanza sections of a pgbackrest.conf for its repositories, sorted by number. */
export function parseRepositories(conf: string): BackupRepository[] {
  const byRepo = new Map<number, Record<string, string>>();
  for (const raw of conf.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || line.startsWith('[')) continue;
    const m = /^repo([0-9]+)-([a-z0-9-]+)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const n = Number(m[1]);
    const opts = byRepo.get(n) ?? {};
    opts[m[2]] = m[3].trim();
    byRepo.set(n, opts);
  }
  return [...byRepo.keys()].sort((a, b) => a - b).map((n) => {
    const options = byRepo.get(n)!;
    const type = options.type ?? 'posix';
    const bucket = options['s3-bucket'] ?? options['gcs-bucket'] ?? options['azure-container'];
    const path = options.path ?? '/var/lib/pgbackrest';
    const location = bucket ? `${type === 'azure' ? 'container' : 'bucket'} ${bucket}${path ? ` ${path}` : ''}` : path;
    return { name: `repo${n}`, type, location, options };
  });
}
