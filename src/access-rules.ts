/**
 * How a client class proves who it is (pg_hba.conf method). `trust` is deliberately absent:
 * nothing reaches the database from the network without authenticating.
 */
export enum ClientAuthMethod {
  /** SCRAM-SHA-256 password authentication (passwords stored as SCRAM verifiers). */
  SCRAM_SHA_256 = 'scram-sha-256',
  /**
   * TLS client certificate whose common name is the role name (needs TLS). The default for
   * replication when TLS is on.
   */
  CERT = 'cert',
  /** Refuse the connection. */
  REJECT = 'reject',
}

/** Which connections a rule applies to. */
export enum HbaConnectionType {
  /** TCP/IP, with or without TLS. */
  HOST = 'host',
  /** TCP/IP with TLS only. */
  HOSTSSL = 'hostssl',
  /** TCP/IP without TLS only. */
  HOSTNOSSL = 'hostnossl',
}

/**
 * An extra pg_hba.conf rule. Rules you add are matched after the library's own local and
 * replication rules and before its catch-all password rule, in the order given.
 */
export interface HbaRule {
  /**
   * Connection type.
   * @default - HbaConnectionType.HOSTSSL with TLS (the default), HbaConnectionType.HOST without
   */
  readonly type?: HbaConnectionType;
  /** Database name, `all`, or a comma-separated list. */
  readonly database: string;
  /** Role name, `all`, `+group`, or a comma-separated list. */
  readonly user: string;
  /** Client address in CIDR notation (for example `10.0.0.0/8`). */
  readonly address: string;
  /** Authentication method. */
  readonly method: ClientAuthMethod;
}
