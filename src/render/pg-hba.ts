/** One pg_hba.conf rule. */
export interface HbaRule {
  /** Connection type: local, host, hostssl or hostnossl. */
  readonly type: 'local' | 'host' | 'hostssl' | 'hostnossl';
  /** Database name, `all`, `replication`, ... */
  readonly database: string;
  /** Role name or `all`. */
  readonly user: string;
  /** CIDR address; omitted for `local` rules. */
  readonly address?: string;
  /** Authentication method (peer, scram-sha-256, cert, reject, ...). */
  readonly method: string;
}

/** Renders one rule as a pg_hba.conf line (the form Patroni's `pg_hba` list takes). */
export function renderHbaRule(rule: HbaRule): string {
  if (rule.type === 'local' && rule.address !== undefined) {
    throw new Error(`pg_hba: a local rule takes no address (got ${rule.address})`);
  }
  if (rule.type !== 'local' && rule.address === undefined) {
    throw new Error(`pg_hba: a ${rule.type} rule needs an address`);
  }
  if (rule.method === 'trust' && rule.type !== 'local') {
    throw new Error('pg_hba: trust is never allowed from the network');
  }
  return [rule.type, rule.database, rule.user, rule.address, rule.method].filter((f) => f !== undefined).join(' ');
}

/** Who the rules are for and how each client class authenticates. */
export interface HbaInput {
  /** The superuser Patroni connects as over the local socket (peer: the OS user of the image). */
  readonly superuser: string;
  /** The streaming-replication role. */
  readonly replicationUser: string;
  /** pg_rewind's role: by password, to database `postgres` only. */
  readonly rewindUser: string;
  /** The superuser may log in over TCP; otherwise it is refused from every address. */
  readonly superuserNetworkAccess: boolean;
  /** Method for network clients (the catch-all rule). */
  readonly clientMethod: string;
  /** Method for replication connections. */
  readonly replicationMethod: string;
  /** The user's own rules, matched before the catch-all. */
  readonly extra: HbaRule[];
  /** TLS is on: network rules are `hostssl` and plain TCP is refused. */
  readonly tls: boolean;
}

/**
 * The access rules: the superuser over the local socket by peer authentication (Patroni's own
 * connections), local passwords, replication only for the replication role, pg_rewind's role to
 * database `postgres` only, the user's rules, then every network client with the client method.
 * Nothing is trusted.
 */
export function hbaRules(input: HbaInput): HbaRule[] {
  const anywhere = ['0.0.0.0/0', '::/0'];
  const net = input.tls ? 'hostssl' : 'host';
  return [
    { type: 'local', database: 'all', user: input.superuser, method: 'peer' },
    { type: 'local', database: 'all', user: 'all', method: 'scram-sha-256' },
    ...anywhere.map((address): HbaRule => ({ type: net, database: 'replication', user: input.replicationUser, address, method: input.replicationMethod })),
    // pg_rewind reads the new leader's files through database postgres; its role reaches nothing else.
    ...anywhere.map((address): HbaRule => ({ type: net, database: 'postgres', user: input.rewindUser, address, method: 'scram-sha-256' })),
    ...anywhere.map((address): HbaRule => ({ type: net, database: 'all', user: input.rewindUser, address, method: 'reject' })),
    // The superuser logs in over the local socket only, unless the user opts in: before the
    // user's rules, so a broad rule of theirs cannot let it in by accident.
    ...(input.superuserNetworkAccess ? [] : anywhere.map((address): HbaRule => ({ type: net, database: 'all', user: input.superuser, address, method: 'reject' }))),
    ...input.extra,
    ...anywhere.map((address): HbaRule => ({ type: net, database: 'all', user: 'all', address, method: input.clientMethod })),
    // With TLS, a client that does not use it is refused outright.
    ...(input.tls ? anywhere.map((address): HbaRule => ({ type: 'hostnossl', database: 'all', user: 'all', address, method: 'reject' })) : []),
  ];
}
