import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';

/**
 * Explicit CPU and memory for a {@link Resources}.
 */
export interface ResourcesOptions {
  /** CPU request. */
  readonly cpu: kplus.Cpu;
  /** Memory request. */
  readonly memory: Size;
  /**
   * CPU limit.
   * @default - equal to `cpu` (Guaranteed QoS)
   */
  readonly cpuLimit?: kplus.Cpu;
  /**
   * Memory limit. The tuning (shared_buffers, work_mem, /dev/shm) is derived from it.
   * @default - equal to `memory` (Guaranteed QoS)
   */
  readonly memoryLimit?: Size;
}

/**
 * CPU and memory requests and limits of a container (its cgroup), as named presets or explicit values.
 * Requests equal to limits (the presets) give the pod Guaranteed QoS: it is the last to be evicted.
 */
export class Resources {
  /** 250m CPU, 512 MiB: development and tests. */
  public static readonly MICRO = new Resources({ cpu: kplus.Cpu.millis(250), memory: Size.mebibytes(512) });
  /** 500m CPU, 1 GiB: small services. The default for PostgreSQL members. */
  public static readonly SMALL = new Resources({ cpu: kplus.Cpu.millis(500), memory: Size.gibibytes(1) });
  /** 1 CPU, 2 GiB. */
  public static readonly MEDIUM = new Resources({ cpu: kplus.Cpu.units(1), memory: Size.gibibytes(2) });
  /** 2 CPU, 4 GiB. */
  public static readonly LARGE = new Resources({ cpu: kplus.Cpu.units(2), memory: Size.gibibytes(4) });
  /** 4 CPU, 16 GiB. */
  public static readonly XLARGE = new Resources({ cpu: kplus.Cpu.units(4), memory: Size.gibibytes(16) });

  /** Explicit requests and limits. */
  public static of(options: ResourcesOptions): Resources {
    return new Resources(options);
  }

  /** CPU request. */
  public readonly cpuRequest: kplus.Cpu;
  /** CPU limit. */
  public readonly cpuLimit: kplus.Cpu;
  /** Memory request. */
  public readonly memoryRequest: Size;
  /** Memory limit. */
  public readonly memoryLimit: Size;

  private constructor(options: ResourcesOptions) {
    this.cpuRequest = options.cpu;
    this.cpuLimit = options.cpuLimit ?? options.cpu;
    this.memoryRequest = options.memory;
    this.memoryLimit = options.memoryLimit ?? options.memory;
  }
}
