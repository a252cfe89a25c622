/** Per-test work directories that the service user (`postgres`) can write to. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serviceUserIds } from './processes';

/**
 * Creates (recursively) a directory owned by the service user with `mode`;
 * parents created on the way are chowned too.
 */
export function makeServiceDir(dir: string, mode = 0o700): string {
  const { uid, gid } = serviceUserIds();
  const firstCreated = fs.mkdirSync(dir, { recursive: true, mode });
  if (firstCreated !== undefined) {
    for (let d = dir; d.startsWith(firstCreated); d = path.dirname(d)) fs.chownSync(d, uid, gid);
  }
  fs.chownSync(dir, uid, gid);
  fs.chmodSync(dir, mode);
  return dir;
}

/** Writes a file owned by the service user (e.g. a Patroni config or a pgpass file). */
export function writeServiceFile(file: string, content: string, mode = 0o600): string {
  const { uid, gid } = serviceUserIds();
  fs.writeFileSync(file, content, { mode });
  fs.chownSync(file, uid, gid);
  fs.chmodSync(file, mode);
  return file;
}

/** Creates a fresh work directory `/tmp/<prefix>-XXXXXX` owned by the service user. */
export function makeWorkDir(prefix = 'pg-e2e'): string {
  const dir = fs.mkdtempSync(path.join('/tmp', `${prefix}-`));
  return makeServiceDir(dir, 0o700);
}

/** Removes a work directory; stop the processes using it first. */
export function removeWorkDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
