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

/** Who the default rules are for. */
export interface DefaultHbaInput {
  /** The superuser Patroni connects as over the local socket (peer: the OS user of the image). */
  readonly superuser: string;
  /** The streaming-replication role. */
  readonly replicationUser: string;
}

/**
 * The default access rules: the superuser over the local socket by peer authentication (Patroni's
 * own connections), everything else with scram-sha-256 passwords; replication only for the
 * replication role. Nothing is trusted.
 */
export function defaultHbaRules(input: DefaultHbaInput): HbaRule[] {
  const rules: HbaRule[] = [
    { type: 'local', database: 'all', user: input.superuser, method: 'peer' },
    { type: 'local', database: 'all', user: 'all', method: 'scram-sha-256' },
  ];
  for (const address of ['0.0.0.0/0', '::/0']) {
    rules.push({ type: 'host', database: 'replication', user: input.replicationUser, address, method: 'scram-sha-256' });
  }
  for (const address of ['0.0.0.0/0', '::/0']) {
    rules.push({ type: 'host', database: 'all', user: 'all', address, method: 'scram-sha-256' });
  }
  return rules;
}
