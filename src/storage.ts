import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

/**
 * The persistent volume of each member (data directory and WAL).
 */
export interface StorageOptions {
  /**
   * Size of each member's volume (at least 1 GiB). WAL may use up to ~44 % of it
   * (max_wal_size 1/8 but at least 256 MiB, slots 1/4, wal_keep_size 1/16): 56 % of a 1 GiB volume.
   * @default Size.gibibytes(10)
   */
  readonly size?: Size;

  /**
   * Grows the volumes of a running cluster: the size each member's claim is expanded to, larger
   * than `size`. Kubernetes forbids changing a StatefulSet's claim template, so an apply with a
   * changed `size` is refused; `size` stays what the claims were created with, and the config Job
   * patches the existing claims to this size (the CronJob `<cluster>-reconcile` also those of
   * members added later). No pod is restarted: the derived WAL limits stay those of `size`
   * (explicit WAL settings may use the grown room). Needs a StorageClass with
   * `allowVolumeExpansion: true`; when the API server refuses, the config Job fails with its
   * reason and applies nothing else of the change. Claims only grow: a smaller value than a
   * claim already has is an error at synth, or left as it is by the Job.
   * @default - the claims keep `size`
   */
  readonly expandedSize?: Size;

  /**
   * StorageClass of the volume claims.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;

  /**
   * Access mode of the volume claims.
   * @default kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE
   */
  readonly accessMode?: kplus.PersistentVolumeAccessMode;

  /**
   * The kind of disk, for the planner's I/O costs.
   * @default StorageType.NETWORK_SSD
   */
  readonly type?: StorageType;
}

/**
 * What kind of disk backs the volumes: a hint for the planner's I/O cost settings
 * (random_page_cost, effective_io_concurrency).
 */
export enum StorageType {
  /** Network-attached SSD (EBS gp3, Persistent Disk SSD, Azure Premium SSD): random_page_cost 1.1, effective_io_concurrency 64. */
  NETWORK_SSD = 'network-ssd',
  /** Local NVMe/SSD: random_page_cost 1.1, effective_io_concurrency 200. */
  LOCAL_SSD = 'local-ssd',
  /** Spinning disks: random_page_cost 4, effective_io_concurrency 2. */
  HDD = 'hdd',
}
