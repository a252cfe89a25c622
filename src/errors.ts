import { IConstruct } from 'constructs';

/**
 * Builds the error thrown for a bad property: it names the construct path, the property, the
 * offending value and the rule, so a platform engineer can fix the call without reading the code.
 *
 * @internal
 */
export function propError(scope: IConstruct, property: string, value: unknown, rule: string): Error {
  return new Error(`${scope.node.path}: invalid ${property} = ${show(value)}: ${rule}`);
}

/** Renders a value for an error message. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null) {
    const json = JSON.stringify(value);
    return json.length > 120 ? `${json.slice(0, 117)}...` : json;
  }
  return String(value);
}

/**
 * Checks that `value` is a whole number within [min, max]; throws a {@link propError} otherwise.
 *
 * @internal
 */
export function requireInteger(scope: IConstruct, property: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw propError(scope, property, value, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** RFC 1123 DNS label: what Kubernetes accepts for Service names and label-safe object names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Checks a name against the RFC 1123 DNS label rules with a maximum length; throws a
 * {@link propError} otherwise.
 *
 * @internal
 */
export function requireDnsLabel(scope: IConstruct, property: string, value: string, maxLength: number): string {
  if (!DNS_LABEL.test(value) || value.length > maxLength) {
    throw propError(
      scope,
      property,
      value,
      `must be at most ${maxLength} characters of lower-case letters, digits and '-', starting and ending with a letter or digit (RFC 1123 DNS label)`,
    );
  }
  return value;
}

/** RFC 1123 DNS subdomain: what Kubernetes accepts for most object names. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Checks an object name against the RFC 1123 DNS subdomain rules; throws a {@link propError} otherwise.
 *
 * @internal
 */
export function requireDnsSubdomain(scope: IConstruct, property: string, value: string): string {
  if (!DNS_SUBDOMAIN.test(value) || value.length > 253) {
    throw propError(scope, property, value, 'must be a Kubernetes object name: lower-case letters, digits, "-" and ".", at most 253 characters');
  }
  return value;
}
