import { Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { IConstruct } from 'constructs';
import { propError } from './errors';
import { formatQuantity, k8sMebibytes, parseCpuCores } from './render/units';
import { Resources } from './resources';

/**
 * Refuses requests above limits (the API server would reject the pod), naming the property.
 *
 * @internal
 */
export function checkedResources(scope: IConstruct, property: string, r: Resources): Resources {
  if (parseCpuCores(r.cpuRequest.amount) > parseCpuCores(r.cpuLimit.amount)) {
    throw propError(scope, `${property}.cpu`, r.cpuRequest.amount, `must not exceed the CPU limit (${r.cpuLimit.amount})`);
  }
  const kib = (v: Size) => v.toKibibytes({ rounding: SizeRoundingBehavior.NONE });
  // Sizes in the largest exact unit (128Mi, not 131072Ki): cdk8s's Size keeps no unit of its own.
  const shown = (v: Size) => formatQuantity(kib(v) * 1024);
  if (kib(r.memoryRequest) > kib(r.memoryLimit)) {
    throw propError(scope, `${property}.memory`, shown(r.memoryRequest), `must not exceed the memory limit (${shown(r.memoryLimit)})`);
  }
  return r;
}

/**
 * Container resources as Kubernetes takes them.
 *
 * @internal
 */
export function resourceRequirements(res: Resources): kplus.k8s.ResourceRequirements {
  const q = (v: string) => kplus.k8s.Quantity.fromString(v);
  const mib = (s: Size) => k8sMebibytes(s.toKibibytes({ rounding: SizeRoundingBehavior.NONE }) * 1024);
  return {
    requests: { cpu: q(res.cpuRequest.amount), memory: q(mib(res.memoryRequest)) },
    limits: { cpu: q(res.cpuLimit.amount), memory: q(mib(res.memoryLimit)) },
  };
}
