/** `synth`: a spec file in, the cluster's Kubernetes YAML out. */
import { App, Chart } from 'cdk8s';
import { parseAllDocuments } from 'yaml';
import { PostgresCluster } from '../..';
import { CliError, EXIT_FINDINGS, EXIT_USAGE } from '../exit';
import { readClusterSpec } from '../spec/cluster-spec';
import { SpecError } from '../spec/field';

/** What `synth` produced: the cluster's name and its objects as multi-document YAML. */
export interface SynthResult {
  readonly name: string;
  readonly yaml: string;
}

/** Parses the text of a spec file (YAML, or JSON which is YAML): exactly one document. */
export function parseSpecText(text: string, file: string): unknown {
  const docs = parseAllDocuments(text);
  for (const d of docs) {
    if (d.errors.length > 0) {
      const e = d.errors[0];
      const where = e.linePos?.[0] ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : '';
      throw new CliError(`${file}: not valid YAML or JSON${where}: ${e.message.split('\n')[0]}`, EXIT_USAGE);
    }
  }
  const values = docs.map((d) => d.toJS()).filter((v) => v !== null && v !== undefined);
  if (values.length !== 1) throw new CliError(`${file}: expected one PostgresCluster document, found ${values.length}`, EXIT_USAGE);
  return values[0];
}

/**
 * A construct's error (`db/db: invalid replicas.count = 200: must be …`, see src/errors.ts) in the
 * spec's terms: the props mirror the spec, so the property is the field under `spec`.
 */
export function specTermsOf(message: string): string {
  const m = /^\S+: invalid ([A-Za-z0-9_.[\]]+) = (.*?): (.*)$/s.exec(message);
  return m ? `spec.${m[1]}: invalid value ${m[2]}: ${m[3]}` : message;
}

/** Builds the cluster a spec describes and synthesizes it. */
export function synthSpec(text: string, file: string): SynthResult {
  const doc = parseSpecText(text, file);
  const app = new App();
  let name: string;
  try {
    // The chart is named after the cluster: `<name>.k8s.yaml`, and construct paths `<name>/<name>`.
    const metadata = (doc as any)?.metadata;
    const chart = new Chart(app, typeof metadata?.name === 'string' && metadata.name ? metadata.name : 'cluster', {
      namespace: typeof metadata?.namespace === 'string' ? metadata.namespace : undefined,
    });
    const spec = readClusterSpec(doc, { scope: chart });
    name = spec.name;
    new PostgresCluster(chart, spec.name, spec.props);
  } catch (err) {
    if (err instanceof SpecError) throw new CliError(`${file}: ${err.message}`, EXIT_USAGE);
    throw new CliError(`${file}: ${specTermsOf((err as Error).message)}`, EXIT_FINDINGS);
  }
  try {
    return { name, yaml: app.synthYaml() };
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`, EXIT_FINDINGS);
  }
}
