/** What a check reports: one problem with one object. */

/** How bad a finding is: errors fail `validate` (exit 1), warnings are reported only. */
export type Severity = 'error' | 'warning';

/** One problem found in the synthesized objects. */
export interface Finding {
  /** The check that found it (`schema`, `restricted`, `references`, …). */
  readonly check: string;
  readonly severity: Severity;
  /** The object, as `Kind/name`. */
  readonly object: string;
  /** What is wrong and what is allowed; names the object itself, so it reads alone. */
  readonly message: string;
}

/** Findings of one check from its message lines (each line starts with the object's `Kind/name`). */
export function findingsOf(check: string, severity: Severity, lines: readonly string[]): Finding[] {
  return lines.map((message) => ({ check, severity, object: message.split(/[: ]/)[0], message }));
}
