/**
 * A pod's volumes as the kubelet makes them: emptyDir (medium Memory as a tmpfs of its sizeLimit),
 * configMap, secret and downwardAPI with items and modes, projected (ServiceAccount token from the
 * TokenRequest API bound to the pod, the kube-root-ca.crt ConfigMap, the namespace), and
 * persistentVolumeClaim as the directory of the bound PersistentVolume. Files of configMap, secret
 * and projected volumes are refreshed while the pod runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KubeClient, KubeObject } from './kube-client';
import { run, tryRun } from './sandbox';

/** A volume ready to bind into containers. */
export interface PreparedVolume {
  readonly name: string;
  /** The host directory to bind. */
  readonly hostPath: string;
  /** A tmpfs the agent mounted (unmounted when the pod ends). */
  readonly tmpfs: boolean;
  /** Re-reads the sources and rewrites changed files; resolves false when nothing changed. */
  readonly refresh?: () => Promise<boolean>;
}

/** Thrown while a volume's source does not exist yet (the kubelet retries, and so do we). */
export class NotReadyYet extends Error {}

/** Parses a Kubernetes quantity ("64Mi", "1Gi", "500m", "2") into a number of units. */
export function parseQuantity(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(q));
  if (!m) throw new Error(`bad quantity ${q}`);
  const n = Number(m[1]);
  const mult: Record<string, number> = {
    '': 1, 'm': 1e-3, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'Ki': 1024, 'Mi': 1024 ** 2, 'Gi': 1024 ** 3, 'Ti': 1024 ** 4,
  };
  if (!(m[2] in mult)) throw new Error(`bad quantity suffix ${q}`);
  return n * mult[m[2]];
}

/**
 * Writes `files` into `dir` as the kubelet's atomic writer does: the files live in a timestamped
 * `..<time>` directory, `..data` is a symlink to it, and each top-level name is a symlink through
 * `..data`. An update writes a new directory and swaps `..data` with one rename, so a reader sees
 * every file of the old version or every file of the new one, never a mix (a renewed certificate
 * with the old key). True if anything changed.
 */
export function syncFiles(dir: string, files: ReadonlyArray<{ path: string; data: Buffer; mode: number }>, gid: number | undefined): boolean {
  const dataLink = path.join(dir, '..data');
  let current: string | undefined;
  try {
    current = fs.readlinkSync(dataLink);
  } catch {
    current = undefined;
  }
  const topLevel = new Set(files.map((f) => f.path.split('/')[0]));
  if (current !== undefined && sameContent(path.join(dir, current), files) && linksInPlace(dir, topLevel)) return false;

  const stamp = `..${new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '')}.${process.pid}_${writes++}`;
  const tsDir = path.join(dir, stamp);
  fs.mkdirSync(tsDir, { mode: 0o755 });
  fs.chmodSync(tsDir, 0o755);
  for (const f of files) {
    const target = path.join(tsDir, f.path);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    fs.writeFileSync(target, f.data, { mode: f.mode });
    fs.chmodSync(target, f.mode);
    if (gid !== undefined) fs.chownSync(target, 0, gid);
  }
  const tmpLink = path.join(dir, '..data_tmp');
  fs.rmSync(tmpLink, { force: true });
  fs.symlinkSync(stamp, tmpLink);
  fs.renameSync(tmpLink, dataLink);
  for (const name of topLevel) {
    const link = path.join(dir, name);
    if (!isLinkTo(link, path.join('..data', name))) {
      fs.rmSync(link, { recursive: true, force: true });
      fs.symlinkSync(path.join('..data', name), link);
    }
  }
  // What the old version had and the new one has not, and the old timestamped directories.
  for (const e of fs.readdirSync(dir)) {
    if (e === '..data' || e === stamp || topLevel.has(e)) continue;
    fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  }
  return true;
}

let writes = 0;

function sameContent(tsDir: string, files: ReadonlyArray<{ path: string; data: Buffer; mode: number }>): boolean {
  try {
    if (listFiles(tsDir).length !== files.length) return false;
    return files.every((f) => {
      const target = path.join(tsDir, f.path);
      return fs.readFileSync(target).equals(f.data) && fs.statSync(target).mode % 0o10000 === f.mode;
    });
  } catch {
    return false;
  }
}

function linksInPlace(dir: string, topLevel: ReadonlySet<string>): boolean {
  for (const name of topLevel) if (!isLinkTo(path.join(dir, name), path.join('..data', name))) return false;
  return fs.readdirSync(dir).every((e) => e.startsWith('..') || topLevel.has(e));
}

function isLinkTo(link: string, target: string): boolean {
  try {
    return fs.readlinkSync(link) === target;
  } catch {
    return false;
  }
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, e.name);
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out;
}

/** What volume preparation needs from the agent. */
export interface VolumeContext {
  readonly api: KubeClient;
  readonly pod: KubeObject;
  /** The pod's directory on the host. */
  readonly podDir: string;
  /** Resolves a downward API fieldRef (metadata.name, status.podIP, ...). */
  readonly field: (fieldPath: string) => string;
}

/** Decodes a ConfigMap or Secret into key -> bytes. */
function keyData(obj: KubeObject, secret: boolean): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries<string>(obj.data ?? {})) out.set(k, secret ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries<string>(obj.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'));
  return out;
}

/** Files of a ConfigMap/Secret volume or projection: every key, or only the listed items. */
function projectKeys(data: Map<string, Buffer>, items: any[] | undefined, defaultMode: number, what: string, optional: boolean) {
  if (!items) return [...data.entries()].map(([k, v]) => ({ path: k, data: v, mode: defaultMode }));
  const out = [];
  for (const item of items) {
    const v = data.get(item.key);
    if (v === undefined) {
      if (optional) continue;
      throw new NotReadyYet(`${what} has no key ${item.key}`);
    }
    out.push({ path: item.path, data: v, mode: item.mode ?? defaultMode });
  }
  return out;
}

/** Prepares every volume of the pod; throws {@link NotReadyYet} while a source is missing. */
export async function prepareVolumes(ctx: VolumeContext): Promise<PreparedVolume[]> {
  const ns = ctx.pod.metadata.namespace;
  const fsGroup: number | undefined = ctx.pod.spec.securityContext?.fsGroup;
  const out: PreparedVolume[] = [];
  for (const v of ctx.pod.spec.volumes ?? []) {
    const dir = path.join(ctx.podDir, 'volumes', v.name);
    if (v.emptyDir) {
      fs.mkdirSync(dir, { recursive: true });
      let tmpfs = false;
      if (v.emptyDir.medium === 'Memory') {
        const size = parseQuantity(v.emptyDir.sizeLimit);
        if (!isMountPoint(dir)) run('mount', ['-t', 'tmpfs', '-o', `mode=0777${size ? `,size=${Math.floor(size)}` : ''}`, 'tmpfs', dir]);
        tmpfs = true;
      }
      // The kubelet makes emptyDirs world-writable (0777).
      fs.chmodSync(dir, 0o777);
      out.push({ name: v.name, hostPath: dir, tmpfs });
    } else if (v.configMap || v.secret) {
      const secret = Boolean(v.secret);
      const src = v.configMap ?? v.secret;
      const name = secret ? src.secretName : src.name;
      const what = `${secret ? 'Secret' : 'ConfigMap'} ${ns}/${name}`;
      const defaultMode = src.defaultMode ?? 0o644;
      fs.mkdirSync(dir, { recursive: true });
      const refresh = async () => {
        const obj = await ctx.api.getOptional(`/api/v1/namespaces/${ns}/${secret ? 'secrets' : 'configmaps'}/${name}`);
        if (!obj) {
          if (src.optional) return syncFiles(dir, [], undefined);
          throw new NotReadyYet(`${what} not found`);
        }
        return syncFiles(dir, projectKeys(keyData(obj, secret), src.items, defaultMode, what, Boolean(src.optional)), fsGroup);
      };
      await refresh();
      out.push({ name: v.name, hostPath: dir, tmpfs: false, refresh });
    } else if (v.downwardAPI) {
      fs.mkdirSync(dir, { recursive: true });
      const refresh = async () => syncFiles(dir, downwardFiles(ctx, v.downwardAPI.items, v.downwardAPI.defaultMode ?? 0o644), fsGroup);
      await refresh();
      out.push({ name: v.name, hostPath: dir, tmpfs: false, refresh });
    } else if (v.projected) {
      fs.mkdirSync(dir, { recursive: true });
      const defaultMode = v.projected.defaultMode ?? 0o644;
      let token: { data: Buffer; refreshAt: number } | undefined;
      const refresh = async () => {
        const files: Array<{ path: string; data: Buffer; mode: number }> = [];
        for (const s of v.projected.sources ?? []) {
          if (s.serviceAccountToken) {
            if (!token || Date.now() >= token.refreshAt) token = await requestToken(ctx, s.serviceAccountToken);
            files.push({ path: s.serviceAccountToken.path, data: token.data, mode: defaultMode });
          } else if (s.configMap || s.secret) {
            const secret = Boolean(s.secret);
            const src = s.configMap ?? s.secret;
            const what = `${secret ? 'Secret' : 'ConfigMap'} ${ns}/${src.name}`;
            const obj = await ctx.api.getOptional(`/api/v1/namespaces/${ns}/${secret ? 'secrets' : 'configmaps'}/${src.name}`);
            if (!obj) {
              if (src.optional) continue;
              throw new NotReadyYet(`${what} not found`);
            }
            files.push(...projectKeys(keyData(obj, secret), src.items, defaultMode, what, Boolean(src.optional)));
          } else if (s.downwardAPI) {
            files.push(...downwardFiles(ctx, s.downwardAPI.items, defaultMode));
          }
        }
        return syncFiles(dir, files, fsGroup);
      };
      await refresh();
      out.push({ name: v.name, hostPath: dir, tmpfs: false, refresh });
    } else if (v.persistentVolumeClaim) {
      const claim = v.persistentVolumeClaim.claimName;
      const pvc = await ctx.api.getOptional(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${claim}`);
      if (!pvc || pvc.status?.phase !== 'Bound') throw new NotReadyYet(`PersistentVolumeClaim ${ns}/${claim} is not bound`);
      const pv = await ctx.api.get(`/api/v1/persistentvolumes/${pvc.spec.volumeName}`);
      const hostPath: string | undefined = pv.spec.hostPath?.path;
      if (!hostPath) throw new Error(`PersistentVolume ${pv.metadata.name} has no hostPath; the node agent mounts host-path volumes only`);
      fs.mkdirSync(hostPath, { recursive: true });
      applyFsGroup(hostPath, fsGroup, ctx.pod.spec.securityContext?.fsGroupChangePolicy);
      out.push({ name: v.name, hostPath, tmpfs: false });
    } else {
      throw new Error(`volume ${v.name}: kind ${Object.keys(v).filter((k) => k !== 'name').join()} is not supported by the node agent`);
    }
  }
  return out;
}

function downwardFiles(ctx: VolumeContext, items: any[], defaultMode: number) {
  return (items ?? []).map((i: any) => {
    if (!i.fieldRef) throw new Error(`downwardAPI item ${i.path}: only fieldRef is supported`);
    return { path: i.path, data: Buffer.from(ctx.field(i.fieldRef.fieldPath)), mode: i.mode ?? defaultMode };
  });
}

/** A token from the TokenRequest API, bound to the pod, refreshed at 80 % of its life as the kubelet does. */
async function requestToken(ctx: VolumeContext, src: any): Promise<{ data: Buffer; refreshAt: number }> {
  const ns = ctx.pod.metadata.namespace;
  const sa = ctx.pod.spec.serviceAccountName ?? 'default';
  const seconds = src.expirationSeconds ?? 3607;
  const res = await ctx.api.create(`/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: {
      audiences: src.audience ? [src.audience] : undefined,
      expirationSeconds: seconds,
      boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: ctx.pod.metadata.name, uid: ctx.pod.metadata.uid },
    },
  });
  return { data: Buffer.from(res.status.token), refreshAt: Date.now() + seconds * 800 };
}

/** The kubelet's fsGroup handling: group ownership and setgid group-writable directories. */
function applyFsGroup(dir: string, fsGroup: number | undefined, policy: string | undefined): void {
  if (fsGroup === undefined) return;
  const st = fs.statSync(dir);
  // setgid (0o2000) and group rwx (0o070) already set: nothing to change.
  const setgid = Math.floor(st.mode / 0o2000) % 2 === 1;
  const groupRwx = Math.floor(st.mode / 0o10) % 0o10 === 0o7;
  if (policy === 'OnRootMismatch' && st.gid === fsGroup && setgid && groupRwx) return;
  run('chgrp', ['-R', String(fsGroup), dir]);
  run('chmod', ['-R', 'g+rwX', dir]);
  run('find', [dir, '-type', 'd', '-exec', 'chmod', 'g+s', '{}', '+']);
}

function isMountPoint(dir: string): boolean {
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir);
}

/** Unmounts the pod's tmpfs volumes. */
export function releaseVolumes(volumes: readonly PreparedVolume[]): void {
  for (const v of volumes) if (v.tmpfs) tryRun('umount', ['-l', v.hostPath]);
}
