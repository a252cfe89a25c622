/** Container resources: every container has cpu and memory requests and limits, limits at least the requests. */
import { Finding, findingsOf } from './finding';
import { Manifest, allContainers, objectRef, podTemplates } from './manifest';
import { isQuantity, quantity } from './quantity';

/** Containers without cpu or memory requests or limits, or with a limit below its request. */
export function resourceProblems(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const t of podTemplates(manifests)) {
    for (const ctr of allContainers(t.spec)) {
      const where = `${objectRef(t.owner)} container ${ctr.name}`;
      const r = ctr.resources ?? {};
      for (const res of ['cpu', 'memory']) {
        const request = r.requests?.[res];
        const limit = r.limits?.[res];
        if (request === undefined) problems.push(`${where}: no ${res} request`);
        if (limit === undefined) problems.push(`${where}: no ${res} limit`);
        if (request === undefined || limit === undefined) continue;
        if (!isQuantity(request) || !isQuantity(limit)) {
          problems.push(`${where}: ${res} request ${request} or limit ${limit} is not a quantity`);
          continue;
        }
        if (!(quantity(request) > 0)) problems.push(`${where}: ${res} request ${request} is not positive`);
        if (quantity(limit) < quantity(request)) problems.push(`${where}: ${res} limit ${limit} < request ${request}`);
      }
    }
  }
  return problems;
}

/** The resources findings of a set of objects. */
export function resourceFindings(manifests: readonly Manifest[]): Finding[] {
  return findingsOf('resources', 'error', resourceProblems(manifests));
}
