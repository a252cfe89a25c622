import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Resources } from './resources';
import { SchedulingOptions } from './scheduling';

/**
 * How long pgBackRest keeps full backups (and the WAL they need) in a repository.
 */
export class BackupRetention {
  /**
   * Keep the newest `full` full backups (and their differential and incremental backups).
   * @param full full backups to keep, 1 to 9999
   * @param differential differential backups to keep per repository
   */
  public static count(full: number, differential?: number): BackupRetention {
    return new BackupRetention('count', full, differential);
  }

  /**
   * Keep full backups for `days` days: a full backup is expired only once a newer full backup is
   * at least that old, so point-in-time recovery always reaches back `days` days.
   */
  public static days(days: number): BackupRetention {
    return new BackupRetention('time', days, undefined);
  }

  /** `count` or `time` (pgBackRest's repo-retention-full-type). */
  public readonly type: string;
  /** Full backups (count) or days (time). */
  public readonly full: number;
  /** Differential backups to keep, when given. */
  public readonly differential?: number;

  private constructor(type: string, full: number, differential: number | undefined) {
    this.type = type;
    this.full = full;
    this.differential = differential;
  }
}

/**
 * When backups run, as Kubernetes CronJob schedules (five fields: minute hour day-of-month month
 * day-of-week, or `@daily`, `@weekly`, ...), in the kube-controller-manager's time zone unless
 * `timeZone` is set. Each schedule becomes a CronJob with concurrencyPolicy Forbid.
 */
export interface BackupSchedules {
  /**
   * Full backups.
   * @default '0 1 * * 0' (Sundays 01:00) when no schedule is given at all
   */
  readonly full?: string;
  /**
   * Differential backups (changes since the last full backup).
   * @default - none
   */
  readonly differential?: string;
  /**
   * Incremental backups (changes since the last backup of any type).
   * @default '0 1 * * 1-6' (Monday to Saturday 01:00) when no schedule is given at all
   */
  readonly incremental?: string;
  /**
   * IANA time zone of the schedules (CronJob `timeZone`), for example `Europe/Berlin`.
   * @default - the time zone of the kube-controller-manager (usually UTC)
   */
  readonly timeZone?: string;
}

/**
 * How S3 addresses the bucket.
 */
export enum S3UriStyle {
  /** `https://<bucket>.<endpoint>/...` (AWS). */
  HOST = 'host',
  /** `https://<endpoint>/<bucket>/...` (MinIO and most S3-compatible servers). */
  PATH = 'path',
}

/**
 * Options every repository type shares.
 */
export interface RepositoryOptions {
  /**
   * Path of the repository (inside the bucket or container for object storage). Clusters may
   * share a repository: each writes under its own stanza (the cluster name).
   * @default '/pgbackrest'
   */
  readonly path?: string;
  /**
   * How long backups are kept.
   * @default BackupRetention.count(2)
   */
  readonly retention?: BackupRetention;
  /**
   * When backups into this repository run.
   * @default - BackupOptions.schedules for the first repository; none for the others
   */
  readonly schedules?: BackupSchedules;
  /**
   * Encrypt the repository (aes-256-cbc) with the passphrase under the key `cipher-pass` of this
   * Secret. The passphrase reaches pgBackRest only through the environment.
   * @default - not encrypted (object storage encrypts at rest on its own)
   */
  readonly encryptionSecret?: kplus.ISecret;
}

/**
 * A repository on a volume of the cluster's own backup node: a one-pod StatefulSet
 * (`<cluster>-repo-host`) with a PersistentVolumeClaim, running pgBackRest's TLS server.
 */
export interface VolumeRepositoryOptions extends RepositoryOptions {
  /**
   * Size of the repository volume.
   * @default Size.gibibytes(20)
   */
  readonly size?: Size;
  /**
   * StorageClass of the repository volume.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;
}

/**
 * A repository in S3 or an S3-compatible object store.
 */
export interface S3RepositoryOptions extends RepositoryOptions {
  /** The bucket (3 to 63 lower-case letters, digits, '.' and '-'). */
  readonly bucket: string;
  /** The region, for example `eu-west-1` (S3-compatible servers often take any value). */
  readonly region: string;
  /**
   * Host name (and optional port) of the S3 endpoint.
   * @default 's3.<region>.amazonaws.com'
   */
  readonly endpoint?: string;
  /**
   * How the bucket is addressed.
   * @default S3UriStyle.HOST
   */
  readonly uriStyle?: S3UriStyle;
  /**
   * Secret with the access key under `access-key-id` and the secret key under `secret-access-key`.
   */
  readonly credentialsSecret: kplus.ISecret;
  /**
   * Secret whose `ca.crt` verifies the endpoint's certificate (a private S3-compatible server).
   * @default - the system's certificate authorities
   */
  readonly caSecret?: kplus.ISecret;
}

/**
 * A repository in Google Cloud Storage.
 */
export interface GcsRepositoryOptions extends RepositoryOptions {
  /** The bucket. */
  readonly bucket: string;
  /** Secret with a service account key file under `key.json`. */
  readonly credentialsSecret: kplus.ISecret;
}

/**
 * A repository in Azure Blob Storage.
 */
export interface AzureRepositoryOptions extends RepositoryOptions {
  /** The storage account (3 to 24 lower-case letters and digits). */
  readonly account: string;
  /** The blob container (3 to 63 lower-case letters, digits and '-'). */
  readonly container: string;
  /** Secret with the account's shared key under `key`. */
  readonly credentialsSecret: kplus.ISecret;
}

/**
 * Where pgBackRest keeps backups and archived WAL. A cluster may use up to four repositories;
 * WAL is archived to every one of them.
 */
export class BackupRepository {
  /** A volume on the cluster's backup node (`<cluster>-repo-host`), reached over pgBackRest's TLS server. */
  public static volume(options: VolumeRepositoryOptions = {}): BackupRepository {
    return new BackupRepository('posix', options);
  }

  /** S3 or an S3-compatible object store (MinIO, Ceph RGW, ...). */
  public static s3(options: S3RepositoryOptions): BackupRepository {
    return new BackupRepository('s3', options);
  }

  /** Google Cloud Storage. */
  public static gcs(options: GcsRepositoryOptions): BackupRepository {
    return new BackupRepository('gcs', options);
  }

  /** Azure Blob Storage. */
  public static azure(options: AzureRepositoryOptions): BackupRepository {
    return new BackupRepository('azure', options);
  }

  /** pgBackRest's repository type: posix (volume), s3, gcs or azure. */
  public readonly type: string;
  /** @internal */
  public readonly _options: RepositoryOptions;

  private constructor(type: string, options: RepositoryOptions) {
    this.type = type;
    this._options = options;
  }
}

/**
 * Compression of backups and archived WAL.
 */
export enum BackupCompression {
  /** Zstandard: as small as gzip, several times faster (measured: see BENCHMARKS.md). */
  ZSTD = 'zst',
  /** LZ4: fastest, larger files. */
  LZ4 = 'lz4',
  /** gzip: pgBackRest's own default, slow. */
  GZIP = 'gz',
  /** No compression. */
  NONE = 'none',
}

/**
 * Backups with pgBackRest: WAL archiving from whichever member leads, scheduled backups,
 * retention, and replicas created from the repository.
 */
export interface BackupOptions {
  /** One to four repositories. WAL goes to every one; each has its own schedules and retention. */
  readonly repositories: BackupRepository[];
  /**
   * Schedules of the first repository when it sets none itself.
   * @default - full on Sundays, incremental Monday to Saturday, at 01:00
   */
  readonly schedules?: BackupSchedules;
  /**
   * Force a WAL segment switch after this long without one, so that an idle cluster's last
   * writes still reach the repository. Bounds the data a restore to "latest" can lack.
   * @default Duration.seconds(60)
   */
  readonly archiveTimeout?: Duration;
  /**
   * Compression of backups and WAL.
   * @default BackupCompression.ZSTD
   */
  readonly compression?: BackupCompression;
  /**
   * Parallel processes of a backup or restore.
   * @default 2
   */
  readonly processMax?: number;
  /**
   * Resources of each backup Job and of the backup node (repository host).
   * @default - 500m CPU, 256 MiB
   */
  readonly resources?: Resources;
  /**
   * Resources of the pgBackRest server sidecar in each member pod (it reads and compresses the
   * data files during a backup).
   * @default - 250m CPU, 128 MiB
   */
  readonly serverResources?: Resources;
  /**
   * Where the backup node and the backup Jobs and CronJobs may run (replaces the cluster's
   * `scheduling`). With a volume repository the Jobs still run on the backup node's node.
   * @default - the cluster's `scheduling`
   */
  readonly scheduling?: SchedulingOptions;
}

/**
 * The point a restore recovers to.
 */
export class RecoveryTarget {
  /** Everything archived: the end of the WAL in the repository. */
  public static latest(): RecoveryTarget {
    return new RecoveryTarget('default', undefined);
  }

  /** The state at this moment (exclusive: transactions committed after it are not replayed). */
  public static time(timestamp: Date): RecoveryTarget {
    return new RecoveryTarget('time', timestamp.toISOString().replace('T', ' ').replace('Z', '+00'));
  }

  /** The state after this WAL location (for example `0/1A0240D0`). */
  public static lsn(lsn: string): RecoveryTarget {
    return new RecoveryTarget('lsn', lsn);
  }

  /** The state after this transaction committed. */
  public static transactionId(xid: number): RecoveryTarget {
    return new RecoveryTarget('xid', String(xid));
  }

  /** A restore point created with `pg_create_restore_point(name)`. */
  public static restorePoint(name: string): RecoveryTarget {
    return new RecoveryTarget('name', name);
  }

  /** pgBackRest's restore `--type`. */
  public readonly type: string;
  /** pgBackRest's restore `--target`, when the type takes one. */
  public readonly target?: string;

  private constructor(type: string, target: string | undefined) {
    this.type = type;
    this.target = target;
  }
}

/**
 * Bootstrap a new cluster from another cluster's backups instead of an empty database. The new
 * cluster reads the source repository only (restore and WAL); it archives to its own
 * repositories under its own stanza and never writes into the source's.
 */
export interface RestoreOptions {
  /** Name of the cluster whose backups are restored (its pgBackRest stanza). */
  readonly sourceCluster: string;
  /**
   * The source's repository. For `BackupRepository.volume()`, the source's backup node
   * (`<sourceCluster>-repo-host`) is reached over TLS with the source's pgBackRest client
   * certificate (Secret `<sourceCluster>-pgbackrest`, in this namespace).
   */
  readonly repository: BackupRepository;
  /**
   * Namespace of the source cluster, for a volume repository in another namespace.
   * @default - this cluster's namespace
   */
  readonly sourceNamespace?: string;
  /**
   * The point to recover to.
   * @default RecoveryTarget.latest()
   */
  readonly target?: RecoveryTarget;
  /**
   * The backup set to start from (a label such as `20261124-221645F`). pgBackRest picks it by
   * itself for `latest` and `time` targets; give it for restore points, LSNs and transaction ids
   * that lie before the newest backup.
   * @default - chosen by pgBackRest
   */
  readonly backupSet?: string;
}
