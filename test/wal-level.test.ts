/**
 * Logical replication (issue 20, item 18): wal_level as a typed setting, the slots and WAL
 * senders consumers need on top of the cluster's own, and Patroni told to leave their slots alone.
 */
import { parse } from 'yaml';
import { PostgresClusterProps, WalLevel } from '../src';
import { Manifest, find, synthCluster } from './helpers/manifests';

function patroni(m: Manifest[], sts = 'db-primary'): any {
  return parse(find(m, 'ConfigMap', `${sts}-config`).data['patroni.yaml']);
}
function dcs(props?: PostgresClusterProps): any {
  return patroni(synthCluster(props)).bootstrap.dcs;
}

test('replica by default: 16 slots and WAL senders, Patroni drops the slots it does not manage', () => {
  const d = dcs();
  expect(d.postgresql.parameters).toMatchObject({ wal_level: 'replica', max_replication_slots: 16, max_wal_senders: 16 });
  expect(d.ignore_slots).toBeUndefined();
});

test('WalLevel.LOGICAL: wal_level logical on every member, 4 more slots and WAL senders, logical slots ignored by Patroni', () => {
  const m = synthCluster({ config: { replication: { walLevel: WalLevel.LOGICAL } } });
  for (const sts of ['db-primary', 'db-replica']) {
    const d = patroni(m, sts).bootstrap.dcs;
    expect(d.postgresql.parameters).toMatchObject({ wal_level: 'logical', max_replication_slots: 20, max_wal_senders: 20 });
    expect(d.ignore_slots).toEqual([{ type: 'logical' }]);
  }
});

test('logicalSlots sets how many consumers may hold a slot', () => {
  const d = dcs({ config: { replication: { walLevel: WalLevel.LOGICAL, logicalSlots: 10 } } });
  expect(d.postgresql.parameters).toMatchObject({ max_replication_slots: 26, max_wal_senders: 26 });
});

describe('refused', () => {
  test.each([[0], [65], [2.5]])('logicalSlots %p', (n) => {
    expect(() => synthCluster({ config: { replication: { walLevel: WalLevel.LOGICAL, logicalSlots: n } } }))
      .toThrow(`test/db: invalid config.replication.logicalSlots = ${n}: `);
  });

  test('logicalSlots without WalLevel.LOGICAL', () => {
    expect(() => synthCluster({ config: { replication: { logicalSlots: 2 } } }))
      .toThrow('test/db: invalid config.replication.logicalSlots = 2: needs config.replication.walLevel: WalLevel.LOGICAL (logical decoding)');
    expect(() => synthCluster({ config: { replication: { walLevel: WalLevel.REPLICA, logicalSlots: 2 } } })).toThrow(/needs config\.replication\.walLevel/);
  });

  test('wal_level as a raw parameter points to the typed setting', () => {
    expect(() => synthCluster({ config: { parameters: { wal_level: 'logical' } } }))
      .toThrow(/config\.parameters\.wal_level = "logical": is set by config\.replication\.walLevel, not as a raw parameter/);
  });
});
