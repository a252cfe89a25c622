/**
 * Validates synthesized objects against the official Kubernetes OpenAPI schemas (kubernetes-models),
 * the Prometheus Operator's CRD schemas (@kubernetes-models/prometheus-operator) and cert-manager's
 * (@kubernetes-models/cert-manager) for their kinds.
 * These schemas catch wrong types, missing required fields and bad enum values; they do not catch
 * unknown fields, bad names or labels, or dangling references (the invariant tests do).
 */
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import { ClusterIssuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1/ClusterIssuer';
import { Issuer } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Issuer';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { StorageClass } from 'kubernetes-models/storage.k8s.io/v1';
import {
  ConfigMap, Endpoints, LimitRange, Namespace, PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service, ServiceAccount,
} from 'kubernetes-models/v1';
import { Manifest } from './manifest';

/** Something kubernetes-models can validate. */
interface Validatable {
  validate(): void;
}

type ModelClass = new (data: any) => Validatable;

/** `apiVersion/kind` of every kind the tests know a model for. */
const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Endpoints': Endpoints,
  'v1/LimitRange': LimitRange,
  'v1/Namespace': Namespace,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Pod': Pod,
  'v1/ResourceQuota': ResourceQuota,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/ControllerRevision': ControllerRevision,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/Deployment': Deployment,
  'apps/v1/ReplicaSet': ReplicaSet,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/CronJob': CronJob,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'storage.k8s.io/v1/StorageClass': StorageClass,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
  'cert-manager.io/v1/Certificate': Certificate,
  'cert-manager.io/v1/ClusterIssuer': ClusterIssuer,
  'cert-manager.io/v1/Issuer': Issuer,
};

/** The model class of an object's apiVersion and kind; throws for a kind the tests have no model for. */
export function modelFor(obj: { apiVersion?: string; kind?: string }): ModelClass {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const model = MODELS[key];
  if (!model) throw new Error(`no Kubernetes schema model for ${key}: validate does not know this kind (src/validate/schema.ts)`);
  return model;
}

/** Validates one object; throws an error naming the object and the schema violation. */
export function validateManifest(obj: Manifest): void {
  const model = modelFor(obj);
  try {
    new model(JSON.parse(JSON.stringify(obj))).validate();
  } catch (err) {
    throw new Error(`${obj.kind}/${obj.metadata?.name}: ${(err as Error).message}`);
  }
}

/** Every schema violation in a set of objects, one line per object (empty when all are valid). */
export function schemaViolations(manifests: readonly Manifest[]): string[] {
  const out: string[] = [];
  for (const m of manifests) {
    try {
      validateManifest(m);
    } catch (err) {
      out.push((err as Error).message);
    }
  }
  return out;
}
