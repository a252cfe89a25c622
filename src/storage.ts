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
   * StorageClass of the volume claims.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;

  /**
   * Access mode of the volume claims.
   * @default kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE
   */
  readonly accessMode?: kplus.PersistentVolumeAccessMode;
}
