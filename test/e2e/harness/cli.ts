/** The command line as the suites run it. */
import { main } from '../../../src/cli/main';

/** Runs the CLI in-process as `cdk8s-postgres-cluster <args>`: its exit code and what it printed. */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join(''), err: err.join('') };
}
