// What every language's app must reproduce (test/languages/run-all.sh): the examples synthesized
// in TypeScript into <outdir>/basic and <outdir>/production, the README's first example into
// <outdir>/readme (its other languages are copied from those apps), and in <outdir>/errors.txt
// the messages of the two bad props each app also tries, one per line.
import { writeFileSync } from 'fs';
import { join } from 'path';
import { App, Chart } from 'cdk8s';
import { buildApp as basic } from '../../examples/basic/app';
import { buildApp as production } from '../../examples/production/app';
import { PostgresCluster } from '../../src';

const outdir = process.argv[2];
if (!outdir) throw new Error('usage: typescript-reference.ts <outdir>');
basic(join(outdir, 'basic')).synth();
production(join(outdir, 'production')).synth();

// The README's first example, as the README shows it.
const app = new App({ outdir: join(outdir, 'readme') });
const chart = new Chart(app, 'orders', { namespace: 'orders' });
const db = new PostgresCluster(chart, 'db', { createNamespace: true });
if (db.primaryHost !== 'db-primary.orders.svc') throw new Error(`typescript-reference: primaryHost is ${db.primaryHost}`);
app.synth();

const messages: string[] = [];
const attempt = (build: () => void): void => {
  let message: string | undefined;
  try {
    build();
  } catch (e) {
    message = (e as Error).message;
  }
  if (message === undefined) throw new Error('typescript-reference: a bad prop was accepted');
  messages.push(message);
};
attempt(() => new PostgresCluster(new Chart(new App(), 'bad'), 'db', { replicas: { count: -1 } }));
attempt(() => new PostgresCluster(new Chart(new App(), 'bad2'), 'db', { config: { connection: { maxConnections: 3 } } }));
writeFileSync(join(outdir, 'errors.txt'), messages.map((m) => `${m}\n`).join(''));
