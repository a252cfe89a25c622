import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { syncFiles } from './volumes';

const file = (p: string, data: string, mode = 0o640) => ({ path: p, data: Buffer.from(data), mode });

describe('node agent ConfigMap and Secret volumes (the kubelet\'s atomic writer)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-volume-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const dataDir = () => fs.readlinkSync(path.join(dir, '..data'));
  const entries = () => fs.readdirSync(dir).sort();

  test('the files live in a timestamped directory behind ..data, each name a symlink through it', () => {
    expect(syncFiles(dir, [file('tls.crt', 'cert-1'), file('tls.key', 'key-1', 0o600)], undefined)).toBe(true);
    const ts = dataDir();
    expect(ts).toMatch(/^\.\.\d{4}_/);
    expect(entries()).toEqual(['..data', ts, 'tls.crt', 'tls.key'].sort());
    expect(fs.readlinkSync(path.join(dir, 'tls.crt'))).toBe(path.join('..data', 'tls.crt'));
    expect(fs.readFileSync(path.join(dir, 'tls.key'), 'utf8')).toBe('key-1');
    expect(fs.statSync(path.join(dir, 'tls.key')).mode % 0o10000).toBe(0o600);
  });

  test('an unchanged source writes nothing; a change swaps every file at once and drops the old version', () => {
    syncFiles(dir, [file('tls.crt', 'cert-1'), file('tls.key', 'key-1')], undefined);
    const first = dataDir();
    expect(syncFiles(dir, [file('tls.crt', 'cert-1'), file('tls.key', 'key-1')], undefined)).toBe(false);
    expect(dataDir()).toBe(first);

    // A reader holding the old ..data target still reads the old pair until the swap.
    const before = path.join(dir, first);
    expect(fs.readFileSync(path.join(before, 'tls.crt'), 'utf8')).toBe('cert-1');
    expect(syncFiles(dir, [file('tls.crt', 'cert-2'), file('tls.key', 'key-2')], undefined)).toBe(true);
    expect(dataDir()).not.toBe(first);
    expect(fs.existsSync(before)).toBe(false);
    expect(['tls.crt', 'tls.key'].map((n) => fs.readFileSync(path.join(dir, n), 'utf8'))).toEqual(['cert-2', 'key-2']);
  });

  test('a key removed from the source disappears; a changed mode is an update', () => {
    syncFiles(dir, [file('a', '1'), file('b', '2')], undefined);
    expect(syncFiles(dir, [file('a', '1')], undefined)).toBe(true);
    expect(entries().filter((e) => !e.startsWith('..'))).toEqual(['a']);
    expect(syncFiles(dir, [file('a', '1', 0o444)], undefined)).toBe(true);
    expect(fs.statSync(path.join(dir, 'a')).mode % 0o10000).toBe(0o444);
  });

  test('nested item paths get one symlink for their top-level directory', () => {
    syncFiles(dir, [file('conf/pgbackrest.conf', 'x')], undefined);
    expect(fs.readlinkSync(path.join(dir, 'conf'))).toBe(path.join('..data', 'conf'));
    expect(fs.readFileSync(path.join(dir, 'conf', 'pgbackrest.conf'), 'utf8')).toBe('x');
  });

  test('plain files of an earlier layout are replaced by the links', () => {
    fs.writeFileSync(path.join(dir, 'tls.crt'), 'old');
    fs.writeFileSync(path.join(dir, 'stale'), 'old');
    expect(syncFiles(dir, [file('tls.crt', 'new')], undefined)).toBe(true);
    expect(fs.lstatSync(path.join(dir, 'tls.crt')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'tls.crt'), 'utf8')).toBe('new');
    expect(fs.existsSync(path.join(dir, 'stale'))).toBe(false);
  });
});
