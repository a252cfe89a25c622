/**
 * pgBackRest repositories from pgbackrest.conf files (ini): `repoN-type`, `repoN-path`,
 * `repoN-s3-bucket`, `repoN-gcs-bucket`, `repoN-azure-container`, `repoN-host`, `repoN-retention-full`.
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

/** The `repoN-*` options of a pgbackrest.conf, by repository number. */
function repoOptions(conf: string): Map<number, Record<string, string>> {
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
  return byRepo;
}

/**
 * The repositories of one or more pgbackrest.conf files (the files of one cluster: what its
 * members, its backup jobs and its repository host read), sorted by number. An option set in
 * several files keeps the first file's value.
 */
export function parseRepositories(...confs: string[]): BackupRepository[] {
  const merged = new Map<number, Record<string, string>>();
  for (const conf of confs) {
    for (const [n, opts] of repoOptions(conf)) merged.set(n, { ...opts, ...(merged.get(n) ?? {}) });
  }
  return [...merged.keys()].sort((a, b) => a - b).map((n) => {
    const options = merged.get(n)!;
    const type = options.type ?? 'posix';
    const bucket = options['s3-bucket'] ?? options['gcs-bucket'] ?? options['azure-container'];
    const path = options.path ?? '/var/lib/pgbackrest';
    // A posix repository reached through a repository host lives on that host.
    const host = options.host ? ` on ${options.host.split('.')[0]}` : '';
    const location = bucket ? `${type === 'azure' ? 'container' : 'bucket'} ${bucket} ${path}` : `${path}${host}`;
    return { name: `repo${n}`, type, location, options };
  });
}
