import { Duration } from 'cdk8s';

/**
 * Options for a custom {@link FailoverTiming}.
 */
export interface FailoverTimingOptions {
  /**
   * How long the leader lease lives. A leader that cannot renew it within this time is replaced,
   * so this is what node-loss failover waits for.
   */
  readonly ttl: Duration;

  /**
   * How often each Patroni member runs its loop (renews or checks the lease).
   */
  readonly loopWait: Duration;

  /**
   * How long Patroni retries the Kubernetes API and PostgreSQL before it gives up on an operation.
   */
  readonly retryTimeout: Duration;
}

/**
 * Patroni's leader-election timings (`ttl`, `loop_wait`, `retry_timeout`).
 *
 * They must satisfy the rules Patroni 4 enforces: ttl >= 20 s, loop_wait >= 2 s,
 * retry_timeout >= 3 s and loop_wait + 2 x retry_timeout <= ttl.
 */
export class FailoverTiming {
  /**
   * Patroni's own defaults (ttl 30 s, loop_wait 10 s, retry_timeout 10 s), also used by PGO and Spilo.
   * A node loss is detected after up to 30 s; tolerant of a slow Kubernetes API.
   */
  public static readonly DEFAULT = new FailoverTiming(30, 10, 10);

  /**
   * The fastest timings Patroni 4 accepts (ttl 20 s, loop_wait 2 s, retry_timeout 9 s).
   * Node-loss failover is bounded by the 20 s lease; the API server sees more writes.
   */
  public static readonly FAST = new FailoverTiming(20, 2, 9);

  /**
   * Custom timings, validated when the cluster is synthesized.
   */
  public static of(options: FailoverTimingOptions): FailoverTiming {
    // Milliseconds, so that a fractional second reaches violations() and its clear error.
    const seconds = (d: Duration) => d.toMilliseconds() / 1000;
    return new FailoverTiming(seconds(options.ttl), seconds(options.loopWait), seconds(options.retryTimeout));
  }

  /** Lease time in seconds. */
  public readonly ttlSeconds: number;
  /** Loop interval in seconds. */
  public readonly loopWaitSeconds: number;
  /** Retry timeout in seconds. */
  public readonly retryTimeoutSeconds: number;

  private constructor(ttl: number, loopWait: number, retryTimeout: number) {
    this.ttlSeconds = ttl;
    this.loopWaitSeconds = loopWait;
    this.retryTimeoutSeconds = retryTimeout;
  }

  /**
   * The rules these timings break, empty when they are valid for Patroni 4.
   */
  public violations(): string[] {
    const out: string[] = [];
    const { ttlSeconds: ttl, loopWaitSeconds: loop, retryTimeoutSeconds: retry } = this;
    for (const [name, v] of [['ttl', ttl], ['loop_wait', loop], ['retry_timeout', retry]] as const) {
      if (!Number.isInteger(v)) out.push(`${name} must be a whole number of seconds (got ${v})`);
    }
    if (ttl < 20) out.push(`ttl must be at least 20 s (got ${ttl})`);
    if (loop < 2) out.push(`loop_wait must be at least 2 s (got ${loop})`);
    if (retry < 3) out.push(`retry_timeout must be at least 3 s (got ${retry})`);
    if (loop + 2 * retry > ttl) {
      out.push(`loop_wait + 2 x retry_timeout must not exceed ttl (${loop} + 2 x ${retry} > ${ttl})`);
    }
    return out;
  }
}
