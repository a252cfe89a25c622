import { createHash } from 'crypto';
import { Duration, Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  AzureRepositoryOptions, BackupCompression, BackupOptions, BackupRepository, BackupRetention, BackupSchedules, GcsRepositoryOptions,
  RecoveryTarget, RestoreOptions, S3RepositoryOptions, S3UriStyle, VolumeRepositoryOptions,
} from './backup';
import { checkedResources, resourceRequirements } from './container-resources';
import { propError, requireDnsLabel, requireInteger } from './errors';
import { PostgresImage } from './image';
import { CLUSTER_LABEL, CONFIG_HASH_ANNOTATION, clusterLabels, memberSelector } from './labels';
import { JOB_TTL_SECONDS } from './monitoring-defaults';
import {
  azureAccountProblem, azureContainerProblem, cronProblem, endpointProblem, gcsBucketProblem, repoPathProblem, s3BucketProblem, timeZoneProblem,
} from './render/backup-rules';
import {
  PGBACKREST_PORT, PgInstance, RepoHost, RepoInput, TlsFiles, cipherPassEnv, credentialEnv, jobConfig, memberConfig, repoHostConfig,
  sourceConfig,
} from './render/pgbackrest';
import {
  PGBACKREST_SERVER_FILE, PGBACKREST_SERVER_SCRIPT, pgbackrestServerCommand, RELOAD_ON_CHANGE_FILE, RELOAD_ON_CHANGE_SCRIPT,
} from './render/scripts';
import { k8sMebibytes } from './render/units';
import { Resources } from './resources';
import { ResolvedScheduling, withScheduling } from './scheduling';
import { restrictedContainer, restrictedPod } from './security-context';

const k8s = kplus.k8s;

/** Paths of pgBackRest's files in every pod that runs it. */
export const BACKUP_PATHS = {
  config: '/etc/pgbackrest/conf',
  clientTls: '/etc/pgbackrest/client-tls',
  serverTls: '/etc/pgbackrest/server-tls',
  repoVolume: '/pgbackrest',
  repoPath: '/pgbackrest/repo',
  source: '/etc/pgbackrest/source',
  sourceCa: '/etc/pgbackrest/source-ca',
  repoFiles: '/etc/pgbackrest/repo',
  sourceTls: '/etc/pgbackrest/source-tls',
  sourceCredentials: '/etc/pgbackrest/source-credentials',
  sourceCipher: '/etc/pgbackrest/source-cipher',
} as const;

/** Default schedules of the first repository. */
const DEFAULT_SCHEDULES: BackupSchedules = { full: '0 1 * * 0', incremental: '0 1 * * 1-6' };
const JOB_RESOURCES = Resources.of({ cpu: kplus.Cpu.millis(500), memory: Size.mebibytes(256) });
const SERVER_RESOURCES = Resources.of({ cpu: kplus.Cpu.millis(250), memory: Size.mebibytes(128) });
/** Each schedule and the pgBackRest backup type it runs (also the suffix of its CronJob's name). */
const TYPES: Array<[keyof BackupSchedules, string]> = [['full', 'full'], ['differential', 'diff'], ['incremental', 'incr']];

/** A repository's scheduled backups: each CronJob's name, schedule and pgBackRest type. @internal */
export function repoBackupSchedules(clusterName: string, repo: ResolvedRepo): Array<{ cronJob: string; schedule: string; type: string }> {
  return TYPES.flatMap(([key, type]) => {
    const schedule = repo.schedules[key];
    return schedule === undefined ? [] : [{ cronJob: `${clusterName}-repo${repo.input.index}-${type}`, schedule: schedule.trim(), type }];
  });
}

/** One repository, validated. @internal */
export interface ResolvedRepo {
  readonly input: RepoInput;
  readonly repository: BackupRepository;
  readonly schedules: BackupSchedules;
  readonly credentialsSecret?: string;
  readonly caSecret?: string;
  readonly cipherSecret?: string;
  /** TCP port of the object store (for the NetworkPolicy). */
  readonly storePort?: number;
}

/** What the members of a cluster with backups need. @internal */
export interface MemberBackup {
  readonly stanza: string;
  /** WAL is archived to the cluster's own repositories (and members run the pgBackRest server). */
  readonly archiving: boolean;
  readonly configMapName: string;
  readonly archiveTimeoutSeconds: number;
  readonly serverResources: Resources;
  /** Environment of every container that runs pgBackRest against the cluster's own repositories. */
  readonly env: kplus.k8s.EnvVar[];
  /** Volumes added to the member pods, and their mounts in the postgres and pgbackrest containers. */
  readonly volumes: kplus.k8s.Volume[];
  readonly mounts: kplus.k8s.VolumeMount[];
  /** Bootstrapping from a source cluster's backup. */
  readonly restore?: {
    readonly env: kplus.k8s.EnvVar[];
    readonly recoveryConf: Record<string, string>;
  };
}

/** Resolved backup settings of a cluster. @internal */
export interface ResolvedBackup {
  readonly member: MemberBackup;
  readonly repos: ResolvedRepo[];
  readonly compression: string;
  readonly processMax: number;
  readonly resources: Resources;
  readonly restore?: RestoreOptions;
  /** The restore source's repository, validated (as repo1 of the source file). */
  readonly restoreRepo?: ResolvedRepo;
  /** Ports of object stores the pods reach (members, Jobs). */
  readonly storePorts: number[];
}

/** Props the cluster passes. @internal */
export interface BackupContext {
  readonly clusterName: string;
  readonly namespace?: string;
  readonly image: PostgresImage;
  readonly port: number;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly superuser: string;
  readonly primaryServiceName: string;
  /** CA, certificate and key of the members' TLS server (the cluster's server certificate). */
  readonly serverTls: TlsFiles;
  /** Secret of the pgBackRest client certificate and its common name. */
  readonly clientSecretName: string;
  readonly clientCn: string;
  readonly repoHostSecretName: string;
}

function secs(d: Duration): number {
  return d.toMilliseconds() / 1000;
}

/**
 * Validates the backup and restore props and resolves every derived setting. Every error names
 * the property and the allowed values.
 *
 * @internal
 */
export function resolveBackup(
  scope: Construct, ctx: BackupContext, backup: BackupOptions | undefined, restore: RestoreOptions | undefined,
): ResolvedBackup | undefined {
  if (!backup && !restore) return undefined;
  const repos: ResolvedRepo[] = [];
  const list = backup?.repositories ?? [];
  if (backup && (list.length < 1 || list.length > 4)) {
    throw propError(scope, 'backup.repositories', `${list.length} repositories`, 'must list 1 to 4 repositories (pgBackRest archives to each)');
  }
  for (const [i, repository] of list.entries()) {
    const defaultSchedules = i === 0 ? backup?.schedules ?? DEFAULT_SCHEDULES : {};
    repos.push(resolveRepo(scope, `backup.repositories[${i}]`, i + 1, repository, defaultSchedules));
  }
  const volumeRepos = repos.filter((r) => r.input.type === 'posix');
  if (volumeRepos.length > 1) throw propError(scope, 'backup.repositories', `${volumeRepos.length} volume repositories`, 'a cluster has one backup node: at most one BackupRepository.volume()');
  const seen = new Map<string, number>();
  for (const r of repos) {
    const key = locationKey(r.repository, r.input.path);
    if (seen.has(key)) throw propError(scope, `backup.repositories[${r.input.index - 1}]`, key, `is the same location as repositories[${seen.get(key)! - 1}]`);
    seen.set(key, r.input.index);
  }
  const compression = backup?.compression ?? BackupCompression.ZSTD;
  const processMax = requireInteger(scope, 'backup.processMax', backup?.processMax ?? 2, 1, 32);
  const timeout = backup?.archiveTimeout ?? Duration.seconds(60);
  const archiveTimeoutSeconds = secs(timeout);
  if (!Number.isInteger(archiveTimeoutSeconds) || archiveTimeoutSeconds < 10 || archiveTimeoutSeconds > 3600) {
    throw propError(scope, 'backup.archiveTimeout', `${timeout.toMilliseconds()}ms`, 'must be a whole number of seconds from 10 to 3600 (each switch writes a 16 MiB segment)');
  }
  const resources = checkedResources(scope, 'backup.resources', backup?.resources ?? JOB_RESOURCES);
  const serverResources = checkedResources(scope, 'backup.serverResources', backup?.serverResources ?? SERVER_RESOURCES);

  const stanza = ctx.clusterName;
  const configMapName = `${ctx.clusterName}-pgbackrest`;
  const env: kplus.k8s.EnvVar[] = [{ name: 'PGBACKREST_CONFIG', value: `${BACKUP_PATHS.config}/pgbackrest.conf` }, ...repoEnv(repos)];
  const volumes: kplus.k8s.Volume[] = [];
  const mounts: kplus.k8s.VolumeMount[] = [];
  if (backup) {
    volumes.push(
      { name: 'pgbackrest-config', configMap: { name: configMapName, items: [{ key: 'member.conf', path: 'pgbackrest.conf' }], defaultMode: 0o444 } },
      { name: 'pgbackrest-client-tls', secret: { secretName: ctx.clientSecretName, defaultMode: 0o640 } },
    );
    mounts.push(
      { name: 'pgbackrest-config', mountPath: BACKUP_PATHS.config, readOnly: true },
      { name: 'pgbackrest-client-tls', mountPath: BACKUP_PATHS.clientTls, readOnly: true },
    );
    const { volumes: v, mounts: m } = repoFileVolumes(repos);
    volumes.push(...v);
    mounts.push(...m);
  }

  let restoreSpec: MemberBackup['restore'];
  let restoreRepo: ResolvedRepo | undefined;
  const storePorts = new Set(repos.map((r) => r.storePort).filter((p): p is number => p !== undefined));
  if (restore) {
    const source = requireDnsLabel(scope, 'restore.sourceCluster', restore.sourceCluster, 40);
    if (restore.sourceNamespace !== undefined) requireDnsLabel(scope, 'restore.sourceNamespace', restore.sourceNamespace, 63);
    const src = resolveRepo(scope, 'restore.repository', 1, restore.repository, {});
    restoreRepo = src;
    for (const r of repos) {
      if (source === stanza && locationKey(r.repository, r.input.path) === locationKey(restore.repository, src.input.path)
        && (restore.sourceNamespace ?? ctx.namespace) === ctx.namespace) {
        throw propError(scope, 'restore.sourceCluster', source,
          `is this cluster's own stanza in its own repository (backup.repositories[${r.input.index - 1}]): name the new cluster differently, or use another repository, so it cannot write into the source's history`);
      }
    }
    const target = restore.target ?? RecoveryTarget.latest();
    if (target.type === 'time' && !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?\+00$/.test(target.target ?? '')) {
      throw propError(scope, 'restore.target', target.target, 'must be a valid point in time');
    }
    if (target.type === 'lsn' && !/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(target.target ?? '')) {
      throw propError(scope, 'restore.target', target.target, 'an LSN is two hexadecimal numbers separated by "/", for example 0/1A0240D0');
    }
    if (target.type === 'xid' && !(/^\d+$/.test(target.target ?? '') && Number(target.target) >= 3 && Number(target.target) < 2 ** 32)) {
      throw propError(scope, 'restore.target', target.target, 'a transaction id is a whole number from 3 to 4294967295');
    }
    if (target.type === 'name' && !/^[^\0'"\s]{1,63}$/.test(target.target ?? '')) {
      throw propError(scope, 'restore.target', target.target, 'a restore point name is 1 to 63 characters without quotes or spaces');
    }
    if (restore.backupSet !== undefined && !/^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$/.test(restore.backupSet)) {
      throw propError(scope, 'restore.backupSet', restore.backupSet, 'must be a pgBackRest backup label such as 20261124-221645F or 20261124-221645F_20261125-010000I');
    }
    if (src.storePort !== undefined) storePorts.add(src.storePort);
    const restoreEnv: kplus.k8s.EnvVar[] = [
      { name: 'PGC_SOURCE_CONFIG', value: `${BACKUP_PATHS.source}/pgbackrest.conf` },
      { name: 'PGC_SOURCE_STANZA', value: source },
      { name: 'PGC_RESTORE_TYPE', value: target.type },
      ...(target.target !== undefined ? [{ name: 'PGC_RESTORE_TARGET', value: target.target }] : []),
      ...(restore.backupSet ? [{ name: 'PGC_RESTORE_SET', value: restore.backupSet }] : []),
    ];
    volumes.push({ name: 'pgbackrest-source', configMap: { name: configMapName, items: [{ key: 'source.conf', path: 'pgbackrest.conf' }], defaultMode: 0o444 } });
    mounts.push({ name: 'pgbackrest-source', mountPath: BACKUP_PATHS.source, readOnly: true });
    if (src.input.type === 'posix') {
      volumes.push({ name: 'pgbackrest-source-tls', secret: { secretName: `${source}-pgbackrest`, defaultMode: 0o640 } });
      mounts.push({ name: 'pgbackrest-source-tls', mountPath: BACKUP_PATHS.sourceTls, readOnly: true });
    }
    if (src.credentialsSecret) {
      volumes.push({ name: 'pgbackrest-source-credentials', secret: { secretName: src.credentialsSecret, defaultMode: 0o640 } });
      mounts.push({ name: 'pgbackrest-source-credentials', mountPath: BACKUP_PATHS.sourceCredentials, readOnly: true });
      restoreEnv.push({ name: 'PGC_SOURCE_CREDENTIALS', value: BACKUP_PATHS.sourceCredentials });
    }
    if (src.cipherSecret) {
      volumes.push({ name: 'pgbackrest-source-cipher', secret: { secretName: src.cipherSecret, defaultMode: 0o640 } });
      mounts.push({ name: 'pgbackrest-source-cipher', mountPath: BACKUP_PATHS.sourceCipher, readOnly: true });
      restoreEnv.push({ name: 'PGC_SOURCE_CIPHER', value: BACKUP_PATHS.sourceCipher });
    }
    if (src.caSecret) {
      volumes.push({ name: 'pgbackrest-source-ca', secret: { secretName: src.caSecret, defaultMode: 0o644 } });
      mounts.push({ name: 'pgbackrest-source-ca', mountPath: BACKUP_PATHS.sourceCa, readOnly: true });
    }
    const recoveryConf: Record<string, string> = {
      recovery_target_action: 'promote',
      recovery_target_timeline: 'latest',
    };
    const targetKey: Record<string, string> = { time: 'recovery_target_time', lsn: 'recovery_target_lsn', xid: 'recovery_target_xid', name: 'recovery_target_name' };
    if (targetKey[target.type]) recoveryConf[targetKey[target.type]] = target.target!;
    restoreSpec = { env: restoreEnv, recoveryConf };
  }

  return {
    member: {
      stanza,
      archiving: backup !== undefined,
      configMapName,
      archiveTimeoutSeconds,
      serverResources,
      env: backup ? env : [],
      volumes,
      mounts,
      restore: restoreSpec,
    },
    repos,
    compression,
    processMax,
    resources,
    restore,
    restoreRepo,
    storePorts: [...storePorts].sort((a, b) => a - b),
  };
}

/** A key naming where a repository is, to find two repositories at the same place. */
function locationKey(r: BackupRepository, path: string): string {
  const o = r._options as any;
  if (r.type === 's3') return `s3://${o.endpoint ?? `s3.${o.region}.amazonaws.com`}/${o.bucket}${path}`;
  if (r.type === 'gcs') return `gs://${o.bucket}${path}`;
  if (r.type === 'azure') return `azure://${o.account}/${o.container}${path}`;
  return `volume:${path}`;
}

function resolveRepo(scope: Construct, where: string, index: number, repository: BackupRepository, defaultSchedules: BackupSchedules): ResolvedRepo {
  const o = repository._options;
  const path = o.path ?? (repository.type === 'posix' ? BACKUP_PATHS.repoPath : '/pgbackrest');
  if (repository.type === 'posix' && o.path !== undefined) {
    throw propError(scope, `${where}.path`, o.path, `a volume repository fills its own volume (it is kept at ${BACKUP_PATHS.repoPath}); leave path unset`);
  }
  const pathProblem = repoPathProblem(path);
  if (pathProblem) throw propError(scope, `${where}.path`, path, pathProblem);
  const retention = o.retention ?? BackupRetention.count(2);
  requireInteger(scope, `${where}.retention.full`, retention.full, 1, 9999);
  if (retention.differential !== undefined) requireInteger(scope, `${where}.retention.differential`, retention.differential, 1, 9999);
  const schedules = o.schedules ?? defaultSchedules;
  for (const [key] of TYPES) {
    const expr = schedules[key];
    if (expr === undefined) continue;
    const problem = cronProblem(expr);
    if (problem) throw propError(scope, `${where}.schedules.${key}`, expr, `${problem} (a Kubernetes CronJob schedule such as "0 1 * * 0")`);
  }
  const tzProblem = schedules.timeZone !== undefined ? timeZoneProblem(schedules.timeZone) : undefined;
  if (tzProblem) throw propError(scope, `${where}.schedules.timeZone`, schedules.timeZone, tzProblem);
  if ((schedules.differential || schedules.incremental) && !schedules.full) {
    throw propError(scope, `${where}.schedules`, schedules, 'differential and incremental backups need a full schedule too (retention expires by full backups)');
  }
  let store: RepoInput['store'];
  let credentialsSecret: string | undefined;
  let caSecret: string | undefined;
  let storePort: number | undefined;
  if (repository.type === 's3') {
    const s = o as S3RepositoryOptions;
    const bucketProblem = s3BucketProblem(s.bucket);
    if (bucketProblem) throw propError(scope, `${where}.bucket`, s.bucket, bucketProblem);
    if (!/^[a-z0-9-]{2,32}$/.test(s.region)) throw propError(scope, `${where}.region`, s.region, 'must be a region name such as "eu-west-1"');
    const endpoint = s.endpoint ?? `s3.${s.region}.amazonaws.com`;
    const endpointIssue = endpointProblem(endpoint);
    if (endpointIssue) throw propError(scope, `${where}.endpoint`, endpoint, endpointIssue);
    caSecret = s.caSecret?.name;
    store = {
      bucket: s.bucket,
      endpoint,
      region: s.region,
      uriStyle: s.uriStyle ?? S3UriStyle.HOST,
      caFile: caSecret ? `${BACKUP_PATHS.repoFiles}${index}-ca/ca.crt` : undefined,
    };
    credentialsSecret = s.credentialsSecret.name;
    storePort = Number(/:(\d+)$/.exec(endpoint)?.[1] ?? 443);
  } else if (repository.type === 'gcs') {
    const g = o as GcsRepositoryOptions;
    const bucketProblem = gcsBucketProblem(g.bucket);
    if (bucketProblem) throw propError(scope, `${where}.bucket`, g.bucket, bucketProblem);
    credentialsSecret = g.credentialsSecret.name;
    store = { bucket: g.bucket, keyFile: `${BACKUP_PATHS.repoFiles}${index}/key.json` };
    storePort = 443;
  } else if (repository.type === 'azure') {
    const a = o as AzureRepositoryOptions;
    const accountProblem = azureAccountProblem(a.account);
    if (accountProblem) throw propError(scope, `${where}.account`, a.account, accountProblem);
    const containerProblem = azureContainerProblem(a.container);
    if (containerProblem) throw propError(scope, `${where}.container`, a.container, containerProblem);
    credentialsSecret = a.credentialsSecret.name;
    store = { bucket: a.container, account: a.account };
    storePort = 443;
  } else {
    const v = o as VolumeRepositoryOptions;
    const size = v.size ?? Size.gibibytes(20);
    if (size.toMebibytes({ rounding: SizeRoundingBehavior.NONE }) < 1024) throw propError(scope, `${where}.size`, `${size.toMebibytes({ rounding: SizeRoundingBehavior.NONE })}Mi`, 'must be at least 1Gi');
  }
  return {
    input: {
      index,
      type: repository.type,
      path,
      store,
      retention: { type: retention.type, full: retention.full, differential: retention.differential },
      encrypted: o.encryptionSecret !== undefined,
    },
    repository,
    schedules,
    credentialsSecret,
    caSecret,
    cipherSecret: o.encryptionSecret?.name,
    storePort,
  };
}

/** Credentials and cipher passes of the cluster's own repositories, from their Secrets. */
function repoEnv(repos: ResolvedRepo[]): kplus.k8s.EnvVar[] {
  const env: kplus.k8s.EnvVar[] = [];
  for (const r of repos) {
    for (const c of credentialEnv(r.input.index, r.input.type)) {
      env.push({ name: c.env, valueFrom: { secretKeyRef: { name: r.credentialsSecret!, key: c.secretKey } } });
    }
    if (r.cipherSecret) env.push({ name: cipherPassEnv(r.input.index), valueFrom: { secretKeyRef: { name: r.cipherSecret, key: 'cipher-pass' } } });
  }
  return env;
}

/** Files repositories read: a GCS key file, a private S3 endpoint's CA. */
function repoFileVolumes(repos: ResolvedRepo[]): { volumes: kplus.k8s.Volume[]; mounts: kplus.k8s.VolumeMount[] } {
  const volumes: kplus.k8s.Volume[] = [];
  const mounts: kplus.k8s.VolumeMount[] = [];
  for (const r of repos) {
    const i = r.input.index;
    if (r.input.type === 'gcs') {
      volumes.push({ name: `pgbackrest-repo${i}`, secret: { secretName: r.credentialsSecret!, defaultMode: 0o640 } });
      mounts.push({ name: `pgbackrest-repo${i}`, mountPath: `${BACKUP_PATHS.repoFiles}${i}`, readOnly: true });
    }
    if (r.caSecret) {
      volumes.push({ name: `pgbackrest-repo${i}-ca`, secret: { secretName: r.caSecret, defaultMode: 0o644 } });
      mounts.push({ name: `pgbackrest-repo${i}-ca`, mountPath: `${BACKUP_PATHS.repoFiles}${i}-ca`, readOnly: true });
    }
  }
  return { volumes, mounts };
}

/** The members' pgBackRest server sidecar. @internal */
export function pgbackrestSidecar(image: PostgresImage, member: MemberBackup, mounts: kplus.k8s.VolumeMount[],
  reload: { scriptsDir: string; watched: string[] }): kplus.k8s.Container {
  return {
    name: 'pgbackrest',
    image: image.image,
    // pgBackRest's server reloads its configuration and certificate on SIGHUP.
    command: pgbackrestServerCommand(reload.scriptsDir, reload.watched, image.pgbackrestPath),
    env: [{ name: 'PATH', value: image.searchPath }, ...member.env],
    ports: [{ name: 'pgbackrest', containerPort: PGBACKREST_PORT, protocol: 'TCP' }],
    resources: resourceRequirements(member.serverResources),
    securityContext: restrictedContainer(),
    volumeMounts: mounts,
    // No readiness probe: a broken backup server must never take the database out of its Services.
    livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('pgbackrest') }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
  };
}

/** @internal */
export interface BackupNodeProps {
  readonly context: BackupContext;
  readonly resolved: ResolvedBackup;
  readonly scriptsConfigMapName: string;
  readonly scriptsMountPath: string;
  /** Where the backup node's and the Jobs' pods may run. */
  readonly scheduling?: ResolvedScheduling;
}

/**
 * The backup side of a cluster (pgBackRest): its configuration, the backup node (repository host
 * of a volume repository, behind pgBackRest's TLS server), the CronJobs of the scheduled backups
 * and the Job that creates the stanza and takes the first full backups.
 */
export class BackupNode extends Construct {
  /**
   * Built by PostgresCluster from its `backup` and `restore` props.
   * @internal
   */
  public static _build(scope: Construct, id: string, props: BackupNodeProps): BackupNode {
    return new BackupNode(scope, id, props);
  }

  /** The pgBackRest stanza: the cluster name. */
  public readonly stanza: string;
  /** DNS name of the backup node's pod (volume repository), when there is one. */
  public readonly repositoryHost?: string;
  /** Names of the CronJobs, one per repository and backup type. */
  public readonly cronJobNames: string[] = [];
  /** Name of the Job that creates the stanza and takes the first full backups (none when the cluster only restores). */
  public readonly initJobName?: string;

  private constructor(scope: Construct, id: string, props: BackupNodeProps) {
    super(scope, id);
    const ctx = props.context;
    const r = props.resolved;
    const name = ctx.clusterName;
    const stanza = r.member.stanza;
    this.stanza = stanza;
    const baseLabels = { ...clusterLabels(name), 'app.kubernetes.io/name': 'pgbackrest' };
    const repoHostLabels = { ...baseLabels, 'app.kubernetes.io/component': 'repo-host' };
    const jobLabels = { ...baseLabels, 'app.kubernetes.io/component': 'backup' };
    const ns = ctx.namespace;
    const volumeRepo = r.repos.find((x) => x.input.type === 'posix');
    const repoHostName = `${name}-repo-host`;
    const repoHostDns = `${repoHostName}-0.${repoHostName}${ns ? `.${ns}.svc` : ''}`;
    const clientFiles = (dir: string): TlsFiles => ({ caFile: `${dir}/ca.crt`, certFile: `${dir}/tls.crt`, keyFile: `${dir}/tls.key` });
    const common = (lockPath: string) => ({ stanza, compressType: r.compression, processMax: r.processMax, lockPath });
    const pgInstance: PgInstance = { path: ctx.dataDir, port: ctx.port, socketPath: ctx.socketDir, user: ctx.superuser };
    const repoHost: RepoHost | undefined = volumeRepo
      ? { host: repoHostDns, port: PGBACKREST_PORT, client: clientFiles(BACKUP_PATHS.clientTls) } : undefined;
    const lockPath = volumeRepo ? `${BACKUP_PATHS.repoVolume}/lock` : '/tmp/pgbackrest';
    // On the data volume beside the data directory: queued WAL survives a restart.
    const spoolPath = `${ctx.dataDir.replace(/\/[^/]+$/, '')}/pgbackrest-spool`;

    const data: Record<string, string> = {};
    if (r.repos.length > 0) {
      data['member.conf'] = memberConfig({
        ...common('/tmp/pgbackrest'),
        repos: r.repos.map((x) => x.input),
        repoHost,
        spoolPath,
        pg: pgInstance,
        server: { port: PGBACKREST_PORT, files: ctx.serverTls, clientCn: ctx.clientCn },
      });
      data['job.conf'] = jobConfig({
        ...common(lockPath),
        repos: r.repos.map((x) => x.input),
        leader: { host: ctx.primaryServiceName, port: PGBACKREST_PORT, client: clientFiles(BACKUP_PATHS.clientTls) },
        pg: pgInstance,
      });
      if (volumeRepo) {
        data['repo-host.conf'] = repoHostConfig({
          ...common(lockPath),
          repo: volumeRepo.input,
          server: { port: PGBACKREST_PORT, files: clientFiles(BACKUP_PATHS.serverTls), clientCn: ctx.clientCn },
        });
      }
    }
    if (r.restore && r.restoreRepo) {
      const source = r.restore.sourceCluster;
      const src = r.restoreRepo;
      const srcNs = r.restore.sourceNamespace ?? ns;
      data['source.conf'] = sourceConfig({
        ...common('/tmp/pgbackrest-source'),
        stanza: source,
        repo: { ...src.input, store: src.input.store && src.caSecret ? { ...src.input.store, caFile: `${BACKUP_PATHS.sourceCa}/ca.crt` } : src.input.store },
        repoHost: src.input.type === 'posix'
          ? { host: `${source}-repo-host-0.${source}-repo-host${srcNs ? `.${srcNs}.svc` : ''}`, port: PGBACKREST_PORT, client: clientFiles(BACKUP_PATHS.sourceTls) }
          : undefined,
        pg: pgInstance,
        spoolPath,
      });
    }
    new k8s.KubeConfigMap(this, 'Config', { metadata: { name: r.member.configMapName, labels: baseLabels }, data });

    const podSecurity = restrictedPod(ctx.image.uid, ctx.image.gid, true);
    const quantity = (v: string) => k8s.Quantity.fromString(v);
    const tmpVolume: kplus.k8s.Volume = { name: 'tmp', emptyDir: { sizeLimit: quantity('64Mi') } };
    const tmpMount: kplus.k8s.VolumeMount = { name: 'tmp', mountPath: '/tmp' };

    if (volumeRepo) {
      const o = volumeRepo.repository._options as VolumeRepositoryOptions;
      const size = o.size ?? Size.gibibytes(20);
      this.repositoryHost = repoHostDns;
      new k8s.KubeService(this, 'RepoHostService', {
        metadata: { name: repoHostName, labels: repoHostLabels },
        spec: {
          clusterIp: 'None',
          publishNotReadyAddresses: true,
          selector: { [CLUSTER_LABEL]: name, 'app.kubernetes.io/component': 'repo-host' },
          ports: [{ name: 'pgbackrest', port: PGBACKREST_PORT, targetPort: k8s.IntOrString.fromString('pgbackrest'), protocol: 'TCP' }],
        },
      });
      const cipherEnv = repoEnv([volumeRepo]);
      new k8s.KubeStatefulSet(this, 'RepoHost', {
        metadata: { name: repoHostName, labels: repoHostLabels },
        spec: {
          serviceName: repoHostName,
          replicas: 1,
          selector: { matchLabels: { [CLUSTER_LABEL]: name, 'app.kubernetes.io/component': 'repo-host' } },
          template: {
            // The wrapper's text: a new version of it reaches the pod by a rollout.
            metadata: {
              labels: repoHostLabels,
              annotations: { [CONFIG_HASH_ANNOTATION]: createHash('sha256').update(RELOAD_ON_CHANGE_SCRIPT).update(PGBACKREST_SERVER_SCRIPT).digest('hex').slice(0, 16) },
            },
            spec: withScheduling({
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: podSecurity,
              // Away from the members when the scheduler can: losing one node must not take the
              // primary and the repository host together.
              affinity: {
                podAntiAffinity: {
                  preferredDuringSchedulingIgnoredDuringExecution: [{
                    weight: 100,
                    podAffinityTerm: { labelSelector: { matchLabels: memberSelector(name) }, topologyKey: 'kubernetes.io/hostname' },
                  }],
                },
              },
              containers: [{
                name: 'pgbackrest',
                image: ctx.image.image,
                command: pgbackrestServerCommand(props.scriptsMountPath, [BACKUP_PATHS.serverTls, BACKUP_PATHS.config], ctx.image.pgbackrestPath),
                env: [{ name: 'PATH', value: ctx.image.searchPath }, { name: 'PGBACKREST_CONFIG', value: `${BACKUP_PATHS.config}/pgbackrest.conf` }, ...cipherEnv],
                ports: [{ name: 'pgbackrest', containerPort: PGBACKREST_PORT, protocol: 'TCP' }],
                resources: resourceRequirements(r.resources),
                securityContext: restrictedContainer(),
                volumeMounts: [
                  { name: 'pgbackrest-config', mountPath: BACKUP_PATHS.config, readOnly: true },
                  { name: 'server-tls', mountPath: BACKUP_PATHS.serverTls, readOnly: true },
                  { name: 'scripts', mountPath: props.scriptsMountPath, readOnly: true },
                  { name: 'repo', mountPath: BACKUP_PATHS.repoVolume },
                  tmpMount,
                ],
                readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('pgbackrest') }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
                livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('pgbackrest') }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
              }],
              volumes: [
                { name: 'pgbackrest-config', configMap: { name: r.member.configMapName, items: [{ key: 'repo-host.conf', path: 'pgbackrest.conf' }], defaultMode: 0o444 } },
                { name: 'server-tls', secret: { secretName: ctx.repoHostSecretName, defaultMode: 0o640 } },
                {
                  name: 'scripts',
                  configMap: {
                    name: props.scriptsConfigMapName,
                    items: [RELOAD_ON_CHANGE_FILE, PGBACKREST_SERVER_FILE].map((f) => ({ key: f, path: f })),
                    defaultMode: 0o555,
                  },
                },
                tmpVolume,
              ],
            }, props.scheduling),
          },
          volumeClaimTemplates: [{
            metadata: { name: 'repo', labels: clusterLabels(name) },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: o.storageClassName,
              resources: { requests: { storage: quantity(k8sMebibytes(size.toMebibytes({ rounding: SizeRoundingBehavior.NONE }) * 1024 * 1024)) } },
            },
          }],
        },
      });
    }

    // The pod of every backup Job: the repository host for the duration of the backup.
    const jobPod = (
      command: string[], extraEnv: kplus.k8s.EnvVar[], extraMounts: kplus.k8s.VolumeMount[], extraVolumes: kplus.k8s.Volume[],
    ): kplus.k8s.PodTemplateSpec => {
      const { volumes: fileVolumes, mounts: fileMounts } = repoFileVolumes(r.repos);
      return {
        metadata: { labels: jobLabels },
        spec: withScheduling({
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurity,
          // The volume repository is ReadWriteOnce: run beside the backup node, on its node.
          affinity: volumeRepo ? {
            podAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{
                labelSelector: { matchLabels: { [CLUSTER_LABEL]: name, 'app.kubernetes.io/component': 'repo-host' } },
                topologyKey: 'kubernetes.io/hostname',
              }],
            },
          } : undefined,
          containers: [{
            name: 'pgbackrest',
            image: ctx.image.image,
            command,
            env: [
              { name: 'PATH', value: ctx.image.searchPath },
              { name: 'PGBACKREST_CONFIG', value: `${BACKUP_PATHS.config}/pgbackrest.conf` },
              ...repoEnv(r.repos),
              ...extraEnv,
            ],
            resources: resourceRequirements(r.resources),
            securityContext: restrictedContainer(),
            volumeMounts: [
              { name: 'pgbackrest-config', mountPath: BACKUP_PATHS.config, readOnly: true },
              { name: 'pgbackrest-client-tls', mountPath: BACKUP_PATHS.clientTls, readOnly: true },
              ...(volumeRepo ? [{ name: 'repo', mountPath: BACKUP_PATHS.repoVolume }] : []),
              ...fileMounts,
              ...extraMounts,
              tmpMount,
            ],
          }],
          volumes: [
            { name: 'pgbackrest-config', configMap: { name: r.member.configMapName, items: [{ key: 'job.conf', path: 'pgbackrest.conf' }], defaultMode: 0o444 } },
            { name: 'pgbackrest-client-tls', secret: { secretName: ctx.clientSecretName, defaultMode: 0o640 } },
            ...(volumeRepo ? [{ name: 'repo', persistentVolumeClaim: { claimName: `repo-${repoHostName}-0` } }] : []),
            ...fileVolumes,
            ...extraVolumes,
            tmpVolume,
          ],
        }, props.scheduling),
      };
    };

    for (const repo of r.repos) {
      for (const { cronJob: cronName, schedule, type } of repoBackupSchedules(name, repo)) {
        this.cronJobNames.push(cronName);
        new k8s.KubeCronJob(this, `Backup${repo.input.index}${type}`, {
          metadata: { name: cronName, labels: jobLabels },
          spec: {
            schedule,
            timeZone: repo.schedules.timeZone,
            concurrencyPolicy: 'Forbid',
            startingDeadlineSeconds: 3600,
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
            jobTemplate: {
              metadata: { labels: jobLabels },
              spec: {
                backoffLimit: 2,
                template: jobPod([ctx.image.pgbackrestPath, `--stanza=${stanza}`, `--repo=${repo.input.index}`, `--type=${type}`, 'backup'], [], [], []),
              },
            },
          },
        });
      }
    }

    const initEnv: kplus.k8s.EnvVar[] = [
      { name: 'PGC_STANZA', value: stanza },
      { name: 'PGC_REPOS', value: r.repos.map((x) => x.input.index).join(' ') },
      { name: 'PGC_WAIT_SECONDS', value: '1800' },
    ];
    const scriptsMount = { name: 'scripts', mountPath: props.scriptsMountPath, readOnly: true };
    const scriptsVolume = { name: 'scripts', configMap: { name: props.scriptsConfigMapName, defaultMode: 0o555 } };
    const template = jobPod(['/bin/bash', `${props.scriptsMountPath}/backup-init.sh`], initEnv, [scriptsMount], [scriptsVolume]);
    const hash = createHash('sha256').update(JSON.stringify({ template, data })).digest('hex').slice(0, 8);
    if (r.repos.length > 0) {
      this.initJobName = `${name}-backup-init-${hash}`;
      new k8s.KubeJob(this, 'Init', {
        metadata: { name: this.initJobName, labels: jobLabels },
        spec: { backoffLimit: 6, ttlSecondsAfterFinished: JOB_TTL_SECONDS, template },
      });
    }
  }
}

/** Names the cluster needs before building its members. @internal */
export function backupNames(clusterName: string): { clientSecretName: string; repoHostSecretName: string } {
  return { clientSecretName: `${clusterName}-pgbackrest`, repoHostSecretName: `${clusterName}-repo-host-tls` };
}
