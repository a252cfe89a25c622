/** The text and JSON reports of `validate`: findings grouped by file, errors first, a summary line. */
import { ManifestFile } from './files';
import { Finding } from '../validate/finding';
import { objectRef } from '../validate/manifest';
import { Prerequisite, prerequisiteLines } from '../validate/prerequisites';

/** A finding and the file its object came from. */
export interface FileFinding extends Finding {
  readonly file: string;
}

/** Attaches each finding to the file that holds its object (the first, when several do). */
export function locate(files: readonly ManifestFile[], findings: readonly Finding[]): FileFinding[] {
  const fileOf = new Map<string, string>();
  for (const f of files) for (const m of f.manifests) if (!fileOf.has(objectRef(m))) fileOf.set(objectRef(m), f.file);
  return findings.map((f) => ({ ...f, file: fileOf.get(f.object) ?? '(objects)' }));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The summary line: `2 errors, 1 warning in 3 files (42 objects, 7 checks)`. */
export function summary(files: readonly ManifestFile[], findings: readonly FileFinding[], checks: number): string {
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.length - errors;
  const objects = files.reduce((n, f) => n + f.manifests.length, 0);
  const verdict = errors === 0 ? 'ok' : 'FAILED';
  return `${verdict}: ${plural(errors, 'error')}, ${plural(warnings, 'warning')} in ${plural(files.length, 'file')} (${plural(objects, 'object')}, ${plural(checks, 'check')})`;
}

/** The text report: per file, one line per finding (`error [schema] StatefulSet/x: …`), what the cluster must already have, then the summary. */
export function textReport(
  files: readonly ManifestFile[], findings: readonly FileFinding[], checks: number, needs: readonly Prerequisite[] = [],
): string {
  const lines: string[] = [];
  const byFile = [...new Set(findings.map((f) => f.file))];
  for (const file of byFile) {
    lines.push(`${file}:`);
    for (const f of findings.filter((x) => x.file === file)) lines.push(`  ${f.severity === 'error' ? 'error  ' : 'warning'} [${f.check}] ${f.message}`);
  }
  if (needs.length > 0) {
    lines.push('needed in the cluster before kubectl apply (referenced, not in these files):');
    for (const line of prerequisiteLines(needs)) lines.push(`  ${line}`);
  }
  lines.push(summary(files, findings, checks));
  return `${lines.join('\n')}\n`;
}

/** The JSON report: `{ ok, errors, warnings, files, objects, findings: [{file, check, severity, object, message}], prerequisites: [{kind, name, namespace?, neededBy}] }`. */
export function jsonReport(files: readonly ManifestFile[], findings: readonly FileFinding[], needs: readonly Prerequisite[] = []): string {
  const errors = findings.filter((f) => f.severity === 'error').length;
  return `${JSON.stringify({
    ok: errors === 0,
    errors,
    warnings: findings.length - errors,
    files: files.map((f) => f.file),
    objects: files.reduce((n, f) => n + f.manifests.length, 0),
    findings: findings.map((f) => ({ file: f.file, check: f.check, severity: f.severity, object: f.object, message: f.message })),
    prerequisites: needs,
  }, null, 2)}\n`;
}
