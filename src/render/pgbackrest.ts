/**
 * pgBackRest configuration files, as pure functions of plain inputs.
 *
 * Three processes use a cluster's repositories and each gets its own file: the members (WAL
 * archiving and replica creation; their pgBackRest TLS server lets backups read the data
 * directory), the backup node (the TLS server in front of a volume repository) and the backup
 * Jobs (which act as repository host: they run `pgbackrest backup` against the leader's server).
 * Secrets never appear in a file: pgBackRest reads them from `PGBACKREST_*` environment variables.
 */

/** TLS files of one side of a pgBackRest TLS connection. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** Object storage details of a repository. */
export interface ObjectStore {
  /** Bucket (S3, GCS) or container (Azure). */
  readonly bucket: string;
  /** S3 endpoint host (and port). */
  readonly endpoint?: string;
  /** S3 region. */
  readonly region?: string;
  /** S3 `host` or `path`. */
  readonly uriStyle?: string;
  /** Azure storage account. */
  readonly account?: string;
  /** GCS key file. */
  readonly keyFile?: string;
  /** CA bundle that verifies the endpoint. */
  readonly caFile?: string;
}

/** One repository as rendered (index 1 to 4). */
export interface RepoInput {
  readonly index: number;
  /** posix, s3, gcs or azure. */
  readonly type: string;
  readonly path: string;
  readonly store?: ObjectStore;
  /** `count` or `time`, with the number of full backups or days. */
  readonly retention: { readonly type: string; readonly full: number; readonly differential?: number };
  /** Encrypted with aes-256-cbc (the pass comes from PGBACKREST_REPO<n>_CIPHER_PASS). */
  readonly encrypted: boolean;
}

/** Where a volume repository's TLS server is, as the members reach it. */
export interface RepoHost {
  readonly host: string;
  readonly port: number;
  /** The client certificate the members present. */
  readonly client: TlsFiles;
}

/** The local PostgreSQL instance, as pgBackRest reaches it. */
export interface PgInstance {
  readonly path: string;
  readonly port: number;
  readonly socketPath: string;
  readonly user: string;
}

/** Settings every file shares. */
export interface CommonInput {
  readonly stanza: string;
  /** zst, lz4, gz or none. */
  readonly compressType: string;
  readonly processMax: number;
  readonly lockPath: string;
}

/** A pgBackRest TLS server. */
export interface ServerInput {
  readonly port: number;
  readonly files: TlsFiles;
  /** Common name of the client certificate allowed to use the stanza. */
  readonly clientCn: string;
}

/** Port of pgBackRest's TLS server on the members and on the backup node. */
export const PGBACKREST_PORT = 8432;

type Line = [string, string | number];

function ini(sections: Array<[string, Line[]]>): string {
  const out: string[] = [];
  for (const [name, lines] of sections) {
    if (out.length > 0) out.push('');
    out.push(`[${name}]`);
    for (const [k, v] of lines) {
      const value = String(v);
      if (/[\n\r]/.test(value) || value !== value.trim()) throw new Error(`pgbackrest.conf: ${k} has an unsafe value ${JSON.stringify(value)}`);
      out.push(`${k}=${value}`);
    }
  }
  return out.join('\n') + '\n';
}

function common(input: CommonInput): Line[] {
  return [
    ['compress-type', input.compressType],
    ['lock-path', input.lockPath],
    // Logs go to the container's output; nothing accumulates on a volume.
    ['log-level-console', 'info'],
    ['log-level-file', 'off'],
    ['log-level-stderr', 'warn'],
    ['process-max', input.processMax],
  ];
}

/** Where and how a repository is stored (no retention: that is for the process running backups). */
function storage(r: RepoInput): Line[] {
  const p = `repo${r.index}`;
  const lines: Line[] = [];
  if (r.type !== 'posix') lines.push([`${p}-type`, r.type]);
  lines.push([`${p}-path`, r.path]);
  const s = r.store;
  if (s) {
    if (r.type === 's3') {
      lines.push([`${p}-s3-bucket`, s.bucket], [`${p}-s3-endpoint`, s.endpoint!], [`${p}-s3-region`, s.region!], [`${p}-s3-uri-style`, s.uriStyle!]);
    } else if (r.type === 'gcs') {
      lines.push([`${p}-gcs-bucket`, s.bucket], [`${p}-gcs-key`, s.keyFile!]);
    } else if (r.type === 'azure') {
      lines.push([`${p}-azure-account`, s.account!], [`${p}-azure-container`, s.bucket]);
    }
    if (s.caFile) lines.push([`${p}-storage-ca-file`, s.caFile]);
  }
  if (r.encrypted) lines.push([`${p}-cipher-type`, 'aes-256-cbc']);
  return lines;
}

function retention(r: RepoInput): Line[] {
  const p = `repo${r.index}`;
  const lines: Line[] = [[`${p}-retention-full`, r.retention.full], [`${p}-retention-full-type`, r.retention.type]];
  if (r.retention.differential !== undefined) lines.push([`${p}-retention-diff`, r.retention.differential]);
  return lines;
}

function server(s: ServerInput, stanza: string): Line[] {
  return [
    ['tls-server-address', '*'],
    ['tls-server-auth', `${s.clientCn}=${stanza}`],
    ['tls-server-ca-file', s.files.caFile],
    ['tls-server-cert-file', s.files.certFile],
    ['tls-server-key-file', s.files.keyFile],
    ['tls-server-port', s.port],
  ];
}

function pg(instance: PgInstance): Line[] {
  return [
    ['pg1-path', instance.path],
    ['pg1-port', instance.port],
    ['pg1-socket-path', instance.socketPath],
    ['pg1-user', instance.user],
  ];
}

function repoHostLines(index: number, host: RepoHost): Line[] {
  const p = `repo${index}`;
  return [
    [`${p}-host`, host.host],
    [`${p}-host-ca-file`, host.client.caFile],
    [`${p}-host-cert-file`, host.client.certFile],
    [`${p}-host-key-file`, host.client.keyFile],
    [`${p}-host-port`, host.port],
    [`${p}-host-type`, 'tls'],
  ];
}

/** Inputs of the members' file. */
export interface MemberConfigInput extends CommonInput {
  readonly repos: RepoInput[];
  /** The backup node of the volume repository, when there is one. */
  readonly repoHost?: RepoHost;
  /** Spool of asynchronous archiving: on the data volume, so queued WAL survives a restart. */
  readonly spoolPath: string;
  readonly pg: PgInstance;
  /** The member's TLS server, through which backup Jobs read the data directory. */
  readonly server: ServerInput;
}

/**
 * The members' file: WAL is pushed asynchronously (a spool keeps queued segments) to every
 * repository, and the TLS server lets the backup Jobs reach the data directory.
 */
export function memberConfig(input: MemberConfigInput): string {
  const global: Line[] = [
    ['archive-async', 'y'],
    ['archive-get-queue-max', '128MiB'],
    ...common(input),
    ['spool-path', input.spoolPath],
  ];
  for (const r of input.repos) {
    if (r.type === 'posix') {
      if (!input.repoHost) throw new Error('pgbackrest.conf: a volume repository needs its backup node');
      global.push(...repoHostLines(r.index, input.repoHost));
      if (r.encrypted) global.push([`repo${r.index}-cipher-type`, 'aes-256-cbc']);
    } else {
      global.push(...storage(r));
    }
  }
  global.push(...server(input.server, input.stanza));
  return ini([['global', global], [input.stanza, pg(input.pg)]]);
}

/** Inputs of the backup node's file. */
export interface RepoHostConfigInput extends CommonInput {
  /** The volume repository. */
  readonly repo: RepoInput;
  readonly server: ServerInput;
}

/** The backup node's file: the volume repository behind pgBackRest's TLS server. */
export function repoHostConfig(input: RepoHostConfigInput): string {
  return ini([
    ['global', [...common(input), ...storage(input.repo), ...server(input.server, input.stanza)]],
    [input.stanza, []],
  ]);
}

/** Inputs of the backup Jobs' file. */
export interface JobConfigInput extends CommonInput {
  readonly repos: RepoInput[];
  /** The leader's pgBackRest server (the read-write Service) and the Job's client certificate. */
  readonly leader: { readonly host: string; readonly port: number; readonly client: TlsFiles };
  readonly pg: PgInstance;
}

/**
 * The backup Jobs' file: the Job is the repository host (the volume repository is mounted,
 * object storage reached directly) and reads the leader's data directory through its server.
 * Retention applies here, where backups run.
 */
export function jobConfig(input: JobConfigInput): string {
  const global: Line[] = [...common(input), ['start-fast', 'y']];
  for (const r of input.repos) global.push(...storage(r), ...retention(r));
  const stanza: Line[] = [
    ['pg1-host', input.leader.host],
    ['pg1-host-ca-file', input.leader.client.caFile],
    ['pg1-host-cert-file', input.leader.client.certFile],
    ['pg1-host-key-file', input.leader.client.keyFile],
    ['pg1-host-port', input.leader.port],
    ['pg1-host-type', 'tls'],
    ...pg(input.pg),
  ];
  return ini([['global', global], [input.stanza, stanza]]);
}

/** Inputs of the restore source's file. */
export interface SourceConfigInput extends CommonInput {
  /** The source repository as repo1 (object storage), or its backup node. */
  readonly repo: RepoInput;
  readonly repoHost?: RepoHost;
  readonly pg: PgInstance;
  /**
   * Spool path on a writable volume. A restore clears the archive-get queue there, so left at
   * pgBackRest's default (/var/spool/pgbackrest on the image's read-only root) it would depend on
   * who owns that directory in the image.
   */
  readonly spoolPath: string;
}

/**
 * The file a new cluster reads its source with (restore and archive-get only): a different file
 * and stanza from its own, so nothing it archives can land in the source's repository.
 */
export function sourceConfig(input: SourceConfigInput): string {
  // Only restore and archive-get read it: compression is recorded in the repository.
  const global: Line[] = [...common(input).filter(([k]) => k !== 'compress-type'), ['spool-path', input.spoolPath]];
  if (input.repo.type === 'posix') {
    if (!input.repoHost) throw new Error('pgbackrest.conf: a volume repository needs its backup node');
    global.push(...repoHostLines(1, input.repoHost));
    if (input.repo.encrypted) global.push(['repo1-cipher-type', 'aes-256-cbc']);
  } else {
    global.push(...storage(input.repo));
  }
  // Restores write the data directory and never connect to PostgreSQL.
  return ini([['global', global], [input.stanza, [['pg1-path', input.pg.path]]]]);
}

/** A Secret key a repository's credentials come from, and the environment variable it goes to. */
export interface CredentialEnv {
  readonly env: string;
  readonly secretKey: string;
}

/** The environment variables of a repository's credentials (GCS reads its key file instead). */
export function credentialEnv(index: number, type: string): CredentialEnv[] {
  const p = `PGBACKREST_REPO${index}`;
  if (type === 's3') return [{ env: `${p}_S3_KEY`, secretKey: 'access-key-id' }, { env: `${p}_S3_KEY_SECRET`, secretKey: 'secret-access-key' }];
  if (type === 'azure') return [{ env: `${p}_AZURE_KEY`, secretKey: 'key' }];
  return [];
}

/** The environment variable of a repository's cipher pass (Secret key `cipher-pass`). */
export function cipherPassEnv(index: number): string {
  return `PGBACKREST_REPO${index}_CIPHER_PASS`;
}
