import { HbaInput, HbaRule, hbaRules, renderHbaRule } from '../../src/render/pg-hba';

const defaults: HbaInput = {
  superuser: 'postgres', replicationUser: 'replicator', rewindUser: 'cdk8s_rewind', superuserNetworkAccess: false, clientMethod: 'scram-sha-256', replicationMethod: 'scram-sha-256', extra: [], tls: false,
};

describe('renderHbaRule', () => {
  test.each<[HbaRule, string]>([
    [{ type: 'local', database: 'all', user: 'postgres', method: 'peer' }, 'local all postgres peer'],
    [{ type: 'local', database: 'all', user: 'all', method: 'trust' }, 'local all all trust'],
    [{ type: 'host', database: 'replication', user: 'replicator', address: '10.0.0.0/8', method: 'scram-sha-256' }, 'host replication replicator 10.0.0.0/8 scram-sha-256'],
    [{ type: 'hostssl', database: 'app', user: 'app', address: '::/0', method: 'cert' }, 'hostssl app app ::/0 cert'],
    [{ type: 'hostnossl', database: 'all', user: 'all', address: '0.0.0.0/0', method: 'reject' }, 'hostnossl all all 0.0.0.0/0 reject'],
  ])('%j -> %s', (rule, line) => {
    expect(renderHbaRule(rule)).toBe(line);
  });

  test.each<HbaRule['type']>(['host', 'hostssl', 'hostnossl'])('trust over %s is refused', (type) => {
    expect(() => renderHbaRule({ type, database: 'all', user: 'all', address: '127.0.0.1/32', method: 'trust' }))
      .toThrow('pg_hba: trust is never allowed from the network');
  });

  test('a local rule takes no address', () => {
    expect(() => renderHbaRule({ type: 'local', database: 'all', user: 'all', address: '0.0.0.0/0', method: 'peer' }))
      .toThrow('pg_hba: a local rule takes no address (got 0.0.0.0/0)');
  });

  test('an address rule needs an address', () => {
    expect(() => renderHbaRule({ type: 'host', database: 'all', user: 'all', method: 'scram-sha-256' })).toThrow('pg_hba: a host rule needs an address');
  });
});

describe('hbaRules', () => {
  const rules = hbaRules(defaults);

  test('with no extra rules, render to the expected lines, in order (first match wins)', () => {
    expect(rules.map(renderHbaRule)).toEqual([
      'local all postgres peer',
      'local all all scram-sha-256',
      'host replication replicator 0.0.0.0/0 scram-sha-256',
      'host replication replicator ::/0 scram-sha-256',
      'host postgres cdk8s_rewind 0.0.0.0/0 scram-sha-256',
      'host postgres cdk8s_rewind ::/0 scram-sha-256',
      'host all cdk8s_rewind 0.0.0.0/0 reject',
      'host all cdk8s_rewind ::/0 reject',
      'host all postgres 0.0.0.0/0 reject',
      'host all postgres ::/0 reject',
      'host all all 0.0.0.0/0 scram-sha-256',
      'host all all ::/0 scram-sha-256',
    ]);
  });

  test('the superuser over TCP: refused unless superuserNetworkAccess (then the catch-all admits it like anyone)', () => {
    const open = hbaRules({ ...defaults, superuserNetworkAccess: true }).map(renderHbaRule);
    expect(open.filter((l) => l.includes(' postgres ') && !l.startsWith('local') && !l.includes('cdk8s_rewind'))).toEqual([]);
    expect(open).toEqual(rules.map(renderHbaRule).filter((l) => !l.startsWith('host all postgres ')));
  });

  test('pg_rewind\'s role reaches database postgres only, by password', () => {
    const rewind = rules.filter((r) => r.user === 'cdk8s_rewind');
    expect(rewind.filter((r) => r.method !== 'reject').map((r) => [r.database, r.method])).toEqual([['postgres', 'scram-sha-256'], ['postgres', 'scram-sha-256']]);
    expect(rewind.filter((r) => r.method === 'reject').map((r) => r.database)).toEqual(['all', 'all']);
  });

  test('nothing is trusted; network rules use passwords; replication is only for the replication role', () => {
    for (const r of rules) {
      expect(['trust', 'password', 'md5']).not.toContain(r.method);
      if (r.type !== 'local') expect(['scram-sha-256', 'reject']).toContain(r.method);
      if (r.method === 'reject') expect(['cdk8s_rewind', 'postgres']).toContain(r.user);
      if (r.database === 'replication') expect(r.user).toBe('replicator');
    }
  });

  test('uses the given role names', () => {
    const lines = hbaRules({ ...defaults, superuser: 'admin', replicationUser: 'standby' }).map(renderHbaRule);
    expect(lines[0]).toBe('local all admin peer');
    expect(lines[2]).toBe('host replication standby 0.0.0.0/0 scram-sha-256');
  });

  test('extra rules go after the local and replication rules and before the catch-all, in the order given', () => {
    const extra: HbaRule[] = [
      { type: 'host', database: 'all', user: 'all', address: '169.254.0.0/16', method: 'reject' },
      { type: 'hostssl', database: 'app', user: '+readers', address: '10.0.0.0/8', method: 'scram-sha-256' },
      { type: 'hostnossl', database: 'all', user: 'all', address: 'fd00::/8', method: 'reject' },
    ];
    expect(hbaRules({ ...defaults, extra }).map(renderHbaRule)).toEqual([
      'local all postgres peer',
      'local all all scram-sha-256',
      'host replication replicator 0.0.0.0/0 scram-sha-256',
      'host replication replicator ::/0 scram-sha-256',
      'host postgres cdk8s_rewind 0.0.0.0/0 scram-sha-256',
      'host postgres cdk8s_rewind ::/0 scram-sha-256',
      'host all cdk8s_rewind 0.0.0.0/0 reject',
      'host all cdk8s_rewind ::/0 reject',
      'host all postgres 0.0.0.0/0 reject',
      'host all postgres ::/0 reject',
      'host all all 169.254.0.0/16 reject',
      'hostssl app +readers 10.0.0.0/8 scram-sha-256',
      'hostnossl all all fd00::/8 reject',
      'host all all 0.0.0.0/0 scram-sha-256',
      'host all all ::/0 scram-sha-256',
    ]);
  });

  test('the client and replication methods go to their own rules only', () => {
    const lines = hbaRules({ ...defaults, clientMethod: 'reject', replicationMethod: 'scram-sha-256' }).map(renderHbaRule);
    expect(lines.slice(-2)).toEqual(['host all all 0.0.0.0/0 reject', 'host all all ::/0 reject']);
    expect(lines.filter((l) => l.includes(' replication '))).toEqual([
      'host replication replicator 0.0.0.0/0 scram-sha-256', 'host replication replicator ::/0 scram-sha-256',
    ]);
    const repl = hbaRules({ ...defaults, replicationMethod: 'reject' }).map(renderHbaRule);
    expect(repl.filter((l) => l.includes(' replication ')).every((l) => l.endsWith(' reject'))).toBe(true);
    expect(repl.slice(-2).every((l) => l.endsWith(' scram-sha-256'))).toBe(true);
  });

  test('does not share structure with its input', () => {
    const extra: HbaRule[] = [{ type: 'host', database: 'all', user: 'all', address: '10.0.0.0/8', method: 'reject' }];
    const out = hbaRules({ ...defaults, extra });
    out.pop();
    expect(extra).toHaveLength(1);
  });
});

describe('hbaRules with TLS', () => {
  const tls: HbaInput = { ...defaults, replicationMethod: 'cert', tls: true };

  test('network rules are hostssl, then plain TCP is refused from everywhere', () => {
    expect(hbaRules(tls).map(renderHbaRule)).toEqual([
      'local all postgres peer',
      'local all all scram-sha-256',
      'hostssl replication replicator 0.0.0.0/0 cert',
      'hostssl replication replicator ::/0 cert',
      'hostssl postgres cdk8s_rewind 0.0.0.0/0 scram-sha-256',
      'hostssl postgres cdk8s_rewind ::/0 scram-sha-256',
      'hostssl all cdk8s_rewind 0.0.0.0/0 reject',
      'hostssl all cdk8s_rewind ::/0 reject',
      'hostssl all postgres 0.0.0.0/0 reject',
      'hostssl all postgres ::/0 reject',
      'hostssl all all 0.0.0.0/0 scram-sha-256',
      'hostssl all all ::/0 scram-sha-256',
      'hostnossl all all 0.0.0.0/0 reject',
      'hostnossl all all ::/0 reject',
    ]);
  });

  test('no library rule is a plain host rule', () => {
    expect(hbaRules(tls).filter((r) => r.type === 'host')).toEqual([]);
  });

  test('extra rules keep their own type and go before the catch-all and the hostnossl rejects', () => {
    const extra: HbaRule[] = [{ type: 'hostssl', database: 'app', user: 'app', address: '10.0.0.0/8', method: 'cert' }];
    const lines = hbaRules({ ...tls, extra }).map(renderHbaRule);
    expect(lines.slice(10)).toEqual([
      'hostssl app app 10.0.0.0/8 cert',
      'hostssl all all 0.0.0.0/0 scram-sha-256',
      'hostssl all all ::/0 scram-sha-256',
      'hostnossl all all 0.0.0.0/0 reject',
      'hostnossl all all ::/0 reject',
    ]);
  });
});
