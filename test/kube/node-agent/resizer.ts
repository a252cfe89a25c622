/**
 * Volume expansion of the host-path PersistentVolumes, in the two steps a CSI driver's external
 * resizer and the kubelet take: the controller manager's expand controller does not expand
 * host-path volumes (its event: "waiting for an external controller to expand this PVC"), so the
 * agent stands in for that controller. When a bound claim requests more than its capacity, it
 * sets the PersistentVolume's capacity (the resizer's ControllerExpandVolume) and then the claim's
 * status capacity and allocated resources (the kubelet's file system resize, online), clearing
 * the resize conditions. A host-path volume is a directory, so there is no file system to grow.
 * Whether a claim may grow at all is the API server's decision (the PersistentVolumeClaimResize
 * admission plugin, from the StorageClass's allowVolumeExpansion), as in any cluster.
 */
import { KubeClient, KubeObject } from './kube-client';
import { parseStorageQuantity } from '../../../src/render/units';

/** The claim's requested size when it is bound and requests more than its capacity; else undefined. */
export function pendingExpansion(pvc: KubeObject): string | undefined {
  const want = pvc.spec?.resources?.requests?.storage;
  const have = pvc.status?.capacity?.storage;
  if (pvc.status?.phase !== 'Bound' || !want || !have || !pvc.spec?.volumeName) return undefined;
  return (parseStorageQuantity(String(want)) ?? 0) > (parseStorageQuantity(String(have)) ?? 0) ? String(want) : undefined;
}

/** Watches every claim and expands those pending on host-path volumes; returns a stop function. */
export function startResizer(api: KubeClient, log: (msg: string) => void): () => void {
  const busy = new Set<string>();
  const expand = async (pvc: KubeObject, want: string) => {
    const id = `${pvc.metadata.namespace}/${pvc.metadata.name}`;
    if (busy.has(id)) return;
    busy.add(id);
    try {
      const pv = await api.get(`/api/v1/persistentvolumes/${pvc.spec.volumeName}`);
      if (!pv.spec?.hostPath) return;
      if (pv.spec.capacity?.storage !== want) await api.mergePatch(`/api/v1/persistentvolumes/${pv.metadata.name}`, { spec: { capacity: { storage: want } } });
      await api.mergePatch(`/api/v1/namespaces/${pvc.metadata.namespace}/persistentvolumeclaims/${pvc.metadata.name}/status`, {
        status: { capacity: { storage: want }, allocatedResources: { storage: want }, allocatedResourceStatuses: null, conditions: null },
      });
      log(`resizer: ${id} (${pv.metadata.name}) expanded to ${want}`);
    } catch (err) {
      // The next event of the claim (the controller manager's own updates) tries again.
      log(`resizer: ${id}: ${(err as Error).message}`);
    } finally {
      busy.delete(id);
    }
  };
  return api.informer('/api/v1/persistentvolumeclaims', '', (type, pvc) => {
    if (type !== 'ADDED' && type !== 'MODIFIED') return;
    const want = pendingExpansion(pvc);
    if (want) void expand(pvc, want);
  });
}
