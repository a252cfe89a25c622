/// <reference lib="dom" />
/**
 * The operations commands (`status`, `switchover`, `backup`, `restart`) against the real API server of the local
 * cluster (test/kube/cluster.sh), with the admin kubeconfig and with a ServiceAccount token that
 * has no rights: output and exit codes as a user or a script sees them. Last, `dashboard` as a
 * user runs it, its page in Debian's headless Chromium: the leader shown, a switchover started
 * from the page, the new leader shown, checked in the screenshot's pixels too.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import puppeteer, { Page } from 'puppeteer-core';
import { stringify } from 'yaml';
import { BackupRepository, FailoverTiming } from '../../src';
import { cli } from './harness/cli';
import { KubeCluster, KubePostgres, Obj } from './harness/kube';
import { record } from './harness/results';
import { synthCluster } from './harness/synth';
import { makeWorkDir } from './lib/fsutil';
import { psql } from './lib/pg';
import { EXIT_NOT_ALLOWED, EXIT_NOT_FOUND, EXIT_OK } from '../../src/cli/exit';

const RUN = Date.now().toString(36).slice(-5);
const NS = `op-${RUN}`;
const NAME = 'pgop';
let kube: KubeCluster;
let pg: KubePostgres;
let leader: Obj;
let workDir: string;

beforeAll(async () => {
  workDir = makeWorkDir('pg-kube-cli');
  kube = KubeCluster.up();
  await kube.createNamespace(NS);
  await kube.apply(synthCluster(path.join(workDir, NS), NAME, {
    replicas: { count: 1 },
    failoverTiming: FailoverTiming.FAST,
    backup: { repositories: [BackupRepository.volume()] },
  }), NS);
  pg = new KubePostgres(kube, NS, NAME);
  leader = await pg.waitHealthy(2, 300_000);
});

afterAll(async () => {
  await kube?.kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  kube?.down();
});

test('status --output json: members, roles and lag as Patroni records them, the Services\' endpoints, the certificates', async () => {
  const r = await cli('status', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '-o', 'json');
  expect([r.code, r.err]).toEqual([EXIT_OK, '']);
  const s = JSON.parse(r.out);
  const replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
  expect(s.leader).toBe(leader.metadata.name);
  expect(s.members.map((m: any) => [m.name, m.role, m.ready, m.timeline >= 1, m.node])).toEqual([
    [leader.metadata.name, 'leader', true, true, leader.spec.nodeName],
    [replica.metadata.name, 'replica', true, true, replica.spec.nodeName],
  ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  expect(s.members.find((m: any) => m.name === replica.metadata.name)).toMatchObject({ state: 'streaming', lagBytes: expect.any(Number) });
  // Each member's volume, as its claim has it.
  for (const m of s.members) {
    const claim = await kube.get('pvc', `pgdata-${m.name}`, NS);
    expect(m.volume).toEqual({ claim: `pgdata-${m.name}`, capacity: claim.status.capacity.storage, requested: claim.spec.resources.requests.storage, growing: false });
  }
  expect(s.services).toEqual(expect.arrayContaining([
    { name: `${NAME}-primary`, endpoints: [leader.metadata.name] },
    { name: `${NAME}-replicas`, endpoints: [replica.metadata.name] },
  ]));
  const server = s.certificates.find((c: any) => c.name === `${NAME}-server`);
  const issued = await kube.get('certificate', `${NAME}-server`, NS);
  expect(server).toEqual({ name: `${NAME}-server`, ready: true, notAfter: issued.status.notAfter, renewalTime: issued.status.renewalTime });
});

test('status as a table names the leader and each member\'s role', async () => {
  const r = await cli('status', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig);
  expect(r.code).toBe(EXIT_OK);
  expect(r.out).toContain(`Cluster ${NAME} in namespace ${NS}: leader ${leader.metadata.name}`);
  expect(r.out).toMatch(new RegExp(`${leader.metadata.name}\\s+leader\\s+running\\s+yes`));
  expect(r.out).toMatch(/replica\s+streaming\s+yes/);
});

test('switchover --to the replica: Patroni moves the lock, the labels and the read-write Service follow', async () => {
  const replica = (await pg.pods()).find((p) => p.metadata.name !== leader.metadata.name)!;
  const r = await cli('switchover', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '--to', replica.metadata.name, '-o', 'json');
  expect([r.code, r.err]).toEqual([EXIT_OK, '']);
  const result = JSON.parse(r.out);
  expect(result).toMatchObject({ cluster: NAME, namespace: NS, from: leader.metadata.name, to: replica.metadata.name });
  record('cli switchover: seconds from the request to the new leader lock', result.seconds);
  const healthy = await pg.waitHealthy(2, 120_000);
  expect(healthy.metadata.name).toBe(replica.metadata.name);
  // Patroni consumed the request.
  const req = await kube.get('configmap', `${NAME}-failover`, NS);
  expect(req.metadata.annotations?.leader).toBeUndefined();
});

test('exit codes: a cluster or member that does not exist is 3; a token without rights is 5', async () => {
  const missing = await cli('status', 'nope', '-n', NS, '--kubeconfig', kube.kubeconfig);
  expect([missing.code, missing.err.trim()]).toEqual([EXIT_NOT_FOUND, `error: no cluster nope in namespace ${NS}: no member pods labelled postgres.cdk8s.io/cluster=nope and no ConfigMap nope-leader`]);
  const member = await cli('switchover', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '--to', `${NAME}-replica-7`);
  expect([member.code, member.err]).toEqual([EXIT_NOT_FOUND, expect.stringContaining(`has no member ${NAME}-replica-7`)]);

  await kube.kubectl(['create', 'serviceaccount', 'nobody', '-n', NS]);
  const token = (await kube.kubectl(['create', 'token', 'nobody', '-n', NS, '--duration=10m'])).trim();
  const admin = JSON.parse(await kube.kubectl(['config', 'view', '--raw', '-o', 'json']));
  const cluster = admin.clusters[0];
  const file = path.join(workDir, 'nobody.kubeconfig');
  fs.writeFileSync(file, stringify({
    'apiVersion': 'v1',
    'kind': 'Config',
    'current-context': 'nobody',
    'clusters': [cluster],
    'users': [{ name: 'nobody', user: { token } }],
    'contexts': [{ name: 'nobody', context: { cluster: cluster.name, user: 'nobody', namespace: NS } }],
  }));
  const denied = await cli('status', NAME, '--kubeconfig', file);
  expect(denied.code).toBe(EXIT_NOT_ALLOWED);
  expect(denied.err).toMatch(new RegExp(`^error: not allowed to list pods in namespace ${NS}: .*system:serviceaccount:${NS}:nobody.* cannot list resource "pods"`));
});

test('backup: a Job from the repository\'s CronJob runs the type asked for, and the repository records it', async () => {
  await kube.until('the backup init Job to complete (the first full backup)', 300_000, async () => {
    const jobs = await kube.list('jobs', NS);
    return jobs.some((j) => j.metadata.name.startsWith(`${NAME}-backup-init-`) && j.status?.succeeded === 1);
  }, 1000);
  // The default schedules are full and incr: incr comes from its own CronJob, diff from another with its type changed.
  for (const [type, from, label] of [['incr', `${NAME}-repo1-incr`, 'I'], ['diff', `${NAME}-repo1-full`, 'D']]) {
    const r = await cli('backup', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '--type', type, '-o', 'json');
    expect([r.code, r.err]).toEqual([EXIT_OK, '']);
    const result = JSON.parse(r.out);
    expect(result).toMatchObject({ cluster: NAME, repo: 1, type, fromCronJob: from, outcome: 'succeeded' });
    record(`cli backup ${type}: seconds from the Job's creation to its completion`, result.seconds);
    const job = await kube.get('job', result.job, NS);
    expect(job.metadata.ownerReferences[0]).toMatchObject({ kind: 'CronJob', name: from });
    expect(job.metadata.annotations['cronjob.kubernetes.io/instantiate']).toBe('manual');
    const [pod] = await kube.list('pods', NS, `job-name=${result.job}`);
    const log = fs.readFileSync(path.join(kube.podLogDir(NS, pod), 'pgbackrest.log'), 'utf8');
    expect(log).toMatch(new RegExp(`--type=${type}`));
    expect(log).toMatch(new RegExp(`new backup label = \\d{8}-\\d{6}F_\\d{8}-\\d{6}${label}`));
  }
  const missing = await cli('backup', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '--repo', '2');
  expect([missing.code, missing.err.trim()]).toEqual([EXIT_NOT_FOUND, `error: cluster ${NAME} has no backup schedule for repository 2; its repositories: 1`]);
});

test('restart: every member\'s PostgreSQL restarted, the replica first, the leader last; no pod replaced', async () => {
  await pg.waitHealthy(2, 120_000);
  const pods = await pg.pods();
  const started = new Map<string, string>();
  for (const pod of pods) started.set(pod.metadata.name, await psql(await pg.superuserAt(pod), 'select pg_postmaster_start_time()'));
  const uids = pods.map((p) => p.metadata.uid).sort();
  const current = (await pg.labelledLeader())!.metadata.name;
  const r = await cli('restart', NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '-o', 'json');
  expect([r.code, r.err]).toEqual([EXIT_OK, '']);
  const result = JSON.parse(r.out);
  expect(result).toMatchObject({ cluster: NAME, fromCronJob: `${NAME}-restart`, outcome: 'succeeded' });
  record('cli restart: seconds from the Job\'s creation to its completion (2 members)', result.seconds);
  const [jobPod] = await kube.list('pods', NS, `job-name=${result.job}`);
  const log = fs.readFileSync(path.join(kube.podLogDir(NS, jobPod), 'apply-config.log'), 'utf8');
  expect([...log.matchAll(/^restarting (\S+)/gm)].map((m) => m[1])).toEqual([...started.keys()].filter((m) => m !== current).concat(current));
  await pg.waitHealthy(2, 120_000);
  for (const pod of await pg.pods()) {
    expect({ m: pod.metadata.name, restarted: (await psql(await pg.superuserAt(pod), 'select pg_postmaster_start_time()')) !== started.get(pod.metadata.name) })
      .toEqual({ m: pod.metadata.name, restarted: true });
  }
  expect((await pg.pods()).map((p) => p.metadata.uid).sort()).toEqual(uids);
  const missing = await cli('restart', 'nosuch', '-n', NS, '--kubeconfig', kube.kubeconfig);
  expect(missing.code).toBe(EXIT_NOT_FOUND);
});

/** Starts `cdk8s-postgres-cluster dashboard` (from src/, as its bin would) and resolves to its URL. */
function startDashboard(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const root = path.join(__dirname, '..', '..');
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e',
    "require('./src/cli/main').main(process.argv.slice(1)).then((code) => process.exit(code))", '--', 'dashboard', ...args], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dashboard did not start in 60 s: ${out}`)), 60_000);
    child.on('exit', (code) => reject(new Error(`dashboard exited with ${code}: ${out}`)));
    child.stdout!.on('data', () => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], output: () => out });
      }
    });
  });
}

/** The pixels of the screenshot inside an element's box that have the leader badge's colour. */
async function leaderPixels(page: Page, selector: string): Promise<number> {
  const box = await page.$eval(selector, (el) => {
    const r = el.getBoundingClientRect();
    return { x: r.left, y: r.top, w: r.width, h: r.height };
  });
  const png = PNG.sync.read(Buffer.from(await page.screenshot({ type: 'png' })));
  let n = 0;
  for (let y = Math.floor(box.y); y < box.y + box.h; y++) {
    for (let x = Math.floor(box.x); x < box.x + box.w; x++) {
      const i = (y * png.width + x) * 4;
      // rgb(26, 127, 55): .role.leader in src/cli/dashboard/page.css
      if (Math.abs(png.data[i] - 26) <= 3 && Math.abs(png.data[i + 1] - 127) <= 3 && Math.abs(png.data[i + 2] - 55) <= 3) n++;
    }
  }
  return n;
}

test('dashboard: the page shows the leader, a switchover started from it (with a confirmation), and the new leader', async () => {
  const before = await pg.waitHealthy(2, 120_000);
  const replica = (await pg.pods()).find((p) => p.metadata.name !== before.metadata.name)!.metadata.name;
  const dashboard = await startDashboard([NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '--port', '0', '--allow-actions']);
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--font-render-hinting=none', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    await page.setViewport({ width: 1300, height: 900, deviceScaleFactor: 1 });
    await page.goto(dashboard.url, { waitUntil: 'load' });
    await page.waitForFunction((want) => document.getElementById('leader')?.textContent === want, { timeout: 30_000 }, before.metadata.name);
    expect(await page.$eval('#mode', (e) => e.textContent)).toBe('actions allowed');
    // The members as the page draws them, and where the read-write Service points.
    const rows = await page.$$eval('#members tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-member'), tr.getAttribute('data-role')]));
    expect(rows.sort()).toEqual([[before.metadata.name, 'leader'], [replica, 'replica']].sort());
    await page.waitForFunction((svc, want) => document.querySelector(`#services tr[data-service="${svc}"] td:nth-child(2)`)?.textContent === want,
      { timeout: 30_000 }, `${NAME}-primary`, before.metadata.name);
    expect(await leaderPixels(page, `#members tr[data-member="${before.metadata.name}"] .role`)).toBeGreaterThan(50);
    expect(await leaderPixels(page, `#members tr[data-member="${replica}"] .role`)).toBe(0);
    // The last backup per repository: the newest success of its CronJobs (the backup test above ran two).
    const cronJobs = await kube.list('cronjobs', NS);
    const newest = cronJobs.filter((c) => c.metadata.name.startsWith(`${NAME}-repo1-`)).map((c) => c.status?.lastSuccessfulTime).filter(Boolean).sort().pop();
    expect(newest).toBeDefined();
    expect(await page.$eval('#repositories tr[data-repo="1"] td:nth-child(2)', (e) => e.textContent)).toBe(newest);

    // The switchover: pick the replica, ask, confirm.
    await page.waitForFunction((r) => Array.from(document.querySelectorAll('#switchover-to option')).some((o) => (o as HTMLOptionElement).value === r), { timeout: 30_000 }, replica);
    await page.select('#switchover-to', replica);
    await page.click('#switchover-btn');
    expect(await page.$eval('#confirm-text', (e) => e.textContent)).toBe(`Switch over from ${before.metadata.name} to ${replica}?`);
    const clicked = Date.now();
    await page.click('#confirm-yes');
    await page.waitForFunction((want) => document.getElementById('leader')?.textContent === want, { timeout: 90_000 }, replica);
    record('dashboard: seconds from the confirmation to the page showing the new leader', (Date.now() - clicked) / 1000);
    await page.waitForFunction(() => /Switch over .*: done/.test(document.getElementById('log')?.textContent ?? ''), { timeout: 90_000 });
    // The cluster agrees: the lock, and the read-write Service once the labels follow.
    expect((await kube.get('configmap', `${NAME}-leader`, NS)).metadata.annotations.leader).toBe(replica);
    await page.waitForFunction((svc, want) => document.querySelector(`#services tr[data-service="${svc}"] td:nth-child(2)`)?.textContent === want,
      { timeout: 60_000 }, `${NAME}-primary`, replica);
    expect(await leaderPixels(page, `#members tr[data-member="${replica}"] .role`)).toBeGreaterThan(50);
    expect(await leaderPixels(page, `#members tr[data-member="${before.metadata.name}"] .role`)).toBe(0);
    const shot = path.join(__dirname, '..', '..', '.e2e', 'dashboard.png');
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    expect(pageErrors).toEqual([]);
  } finally {
    await browser.close();
    dashboard.child.kill('SIGTERM');
  }
  const exited = await new Promise<number | null>((resolve) => {
    if (dashboard.child.exitCode !== null) resolve(dashboard.child.exitCode);
    else dashboard.child.once('exit', (code) => resolve(code));
  });
  expect([exited, dashboard.output()]).toEqual([0, expect.stringContaining('(actions allowed)')]);
  expect((await pg.waitHealthy(2, 120_000)).metadata.name).toBe(replica);
}, 300_000);

test('dashboard without --allow-actions: no actions on the page, and the server refuses them', async () => {
  const dashboard = await startDashboard([NAME, '-n', NS, '--kubeconfig', kube.kubeconfig, '--port', '0']);
  try {
    const page = await fetch(dashboard.url).then((r) => r.text());
    expect(page).toContain('{"allowActions":false,"token":""}');
    const status = await fetch(`${dashboard.url}api/status`).then((r) => r.json() as Promise<any>);
    expect(status.status.leader).toBe((await pg.labelledLeader())!.metadata.name);
    const refused = await fetch(`${dashboard.url}api/switchover`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(refused.status).toBe(403);
  } finally {
    dashboard.child.kill('SIGTERM');
  }
});
