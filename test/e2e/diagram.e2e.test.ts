/// <reference lib="dom" />
/**
 * The diagram's HTML page in a real browser: Debian's Chromium, headless, loads the page from
 * file:// with every network request refused, and the test checks what a person would see:
 * every node drawn inside the viewport, every edge starting at its source and ending at its
 * target, each node's fill colour in the screenshot's pixels, and the hover highlighting.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import puppeteer, { Browser, Page } from 'puppeteer-core';
import { record } from './harness/results';
import { renderDiagrams } from '../../src/diagram';
import { extractTopology } from '../../src/diagram/topology';
import { Manifest, exampleManifests, parseManifests } from '../helpers/manifests';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = path.join(__dirname, '..', '..', '.e2e', 'diagram.png');

// The production example with hand-written backup objects (instead of any it has of its own),
// so every kind of node is on the page and the expected nodes do not depend on the example.
const isBackupObject = (m: Manifest) => m.kind === 'CronJob' || ['backup', 'repo-host'].includes(m.metadata.labels?.['app.kubernetes.io/component'] ?? '')
  || Object.values<unknown>(m.data ?? {}).some((v) => typeof v === 'string' && /^\s*repo[0-9]+-/m.test(v));
const manifests = [
  ...exampleManifests('production').filter((m) => !isBackupObject(m)),
  ...parseManifests(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'backup-objects.yaml'), 'utf8'))
    .map((m) => JSON.parse(JSON.stringify(m).replace(/\bdb-/g, 'orders-db-').replace(/"db"/g, '"orders-db"'))),
];
const topology = extractTopology(manifests);

interface NodeBox {
  readonly id: string;
  readonly fill: string;
  /** The node's rect in page pixels. */
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  /** The node's rect in SVG user units. */
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

interface EdgeInfo {
  readonly from: string;
  readonly to: string;
  readonly start: { x: number; y: number };
  readonly end: { x: number; y: number };
}

let browser: Browser;
let page: Page;
let nodes: NodeBox[];
let edges: EdgeInfo[];
let png: PNG;
let svgBox: { left: number; top: number; width: number; height: number };
const requests: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diagram-e2e-'));
  const file = path.join(dir, 'topology.html');
  fs.writeFileSync(file, renderDiagrams(manifests).html);

  const started = Date.now();
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container: no user namespaces for Chromium's sandbox.
    args: ['--no-sandbox', '--disable-gpu', '--font-render-hinting=none'],
  });
  page = await browser.newPage();
  page.on('pageerror', (err) => pageErrors.push(String(err)));
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    requests.push(req.url());
    if (req.url() === `file://${file}`) void req.continue();
    else void req.abort();
  });
  await page.setViewport({ width: 1400, height: 900, deviceScaleFactor: 1 });
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  // Size the viewport to the whole diagram, so every node must be inside it.
  const size = await page.$eval('.diagram svg', (svg) => {
    const r = svg.getBoundingClientRect();
    return { width: Math.ceil(r.right) + 40, height: Math.ceil(r.bottom) + 40 };
  });
  await page.setViewport({ width: size.width, height: size.height, deviceScaleFactor: 1 });

  svgBox = await page.$eval('.diagram svg', (svg) => {
    const r = svg.getBoundingClientRect();
    return { left: r.left, top: r.top, width: r.width, height: r.height };
  });
  nodes = await page.$$eval('g.node', (gs) => gs.map((g) => {
    const rect = g.querySelector('rect.box') as SVGRectElement;
    const r = rect.getBoundingClientRect();
    return {
      id: g.getAttribute('data-id')!,
      fill: g.getAttribute('data-fill')!,
      left: r.left,
      top: r.top,
      width: r.width,
      height: r.height,
      x: rect.x.baseVal.value,
      y: rect.y.baseVal.value,
      w: rect.width.baseVal.value,
      h: rect.height.baseVal.value,
    };
  }));
  edges = await page.$$eval('path.edge', (ps) => ps.map((p) => {
    const curve = p as SVGPathElement;
    const a = curve.getPointAtLength(0);
    const b = curve.getPointAtLength(curve.getTotalLength());
    return { from: p.getAttribute('data-from')!, to: p.getAttribute('data-to')!, start: { x: a.x, y: a.y }, end: { x: b.x, y: b.y } };
  }));
  const shot = await page.screenshot({ type: 'png' });
  fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  fs.writeFileSync(SCREENSHOT, shot);
  png = PNG.sync.read(Buffer.from(shot));
  record('diagram page load and screenshot (s)', Math.round((Date.now() - started) / 100) / 10);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

test('the page loads with no script error and makes no request but its own file', () => {
  expect(pageErrors).toEqual([]);
  expect(requests.filter((u) => !u.startsWith('file://') || !u.endsWith('topology.html'))).toEqual([]);
});

test('every member, Service, pooler, job, backup and repository is a node with a box inside the viewport', () => {
  const expected = [...topology.workloads.map((w) => w.id), ...topology.services.map((s) => s.id), ...topology.repositories.map((r) => r.id)].sort();
  expect(nodes.map((n) => n.id).sort()).toEqual(expected);
  expect(expected).toEqual(expect.arrayContaining([
    'StatefulSet/orders-db-primary', 'StatefulSet/orders-db-replica', 'StatefulSet/orders-db-delayed', 'StatefulSet/orders-db-repo-host',
    'Service/orders-db-primary', 'Service/orders-db-replicas', 'Service/orders-db-pods', 'Deployment/orders-db-pooler',
    'CronJob/orders-db-backup-repo1-full', 'CronJob/orders-db-repo2-incr', 'Repository/repo1', 'Repository/repo2',
  ]));
  for (const n of nodes) {
    expect([n.id, n.width > 50, n.height > 30]).toEqual([n.id, true, true]);
    const inside = n.left >= 0 && n.top >= 0 && n.left + n.width <= png.width && n.top + n.height <= png.height;
    expect([n.id, inside]).toEqual([n.id, true]);
  }
});

test('no two node boxes overlap on the page', () => {
  for (const a of nodes) {
    for (const b of nodes) {
      if (a.id >= b.id) continue;
      const apart = a.left + a.width <= b.left || b.left + b.width <= a.left || a.top + a.height <= b.top || b.top + b.height <= a.top;
      expect([a.id, b.id, apart]).toEqual([a.id, b.id, true]);
    }
  }
});

test('every edge of the model is drawn from its source\'s right side to its target\'s left side', () => {
  const key = (e: { from: string; to: string }) => `${e.from} -> ${e.to}`;
  expect(edges.map(key).sort()).toEqual(topology.edges.map(key).sort());
  expect(edges.map(key)).toEqual(expect.arrayContaining([
    'Service/orders-db-primary -> StatefulSet/orders-db-primary',
    'Service/orders-db-replicas -> StatefulSet/orders-db-replica',
    'Service/orders-db-pooler -> Deployment/orders-db-pooler',
    'Deployment/orders-db-pooler -> Service/orders-db-primary',
    'Deployment/orders-db-pooler-ro -> Service/orders-db-replicas',
    'CronJob/orders-db-backup-repo1-full -> Repository/repo1',
    'CronJob/orders-db-repo2-incr -> Repository/repo2',
  ]));
  expect(edges.map(key)).not.toContain('Service/orders-db-replicas -> StatefulSet/orders-db-delayed');
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const e of edges) {
    const a = byId.get(e.from)!;
    const b = byId.get(e.to)!;
    const startsAtSource = Math.abs(e.start.x - (a.x + a.w)) < 1 && e.start.y > a.y && e.start.y < a.y + a.h;
    // The path stops 2 units short of the box; its arrowhead covers the rest.
    const endsAtTarget = Math.abs(e.end.x - b.x) <= 3 && e.end.y > b.y && e.end.y < b.y + b.h;
    expect([key(e), startsAtSource, endsAtTarget]).toEqual([key(e), true, true]);
  }
});

test('the screenshot shows each node in its fill colour', () => {
  const hex = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
  const pixel = (x: number, y: number) => {
    const i = (Math.round(y) * png.width + Math.round(x)) * 4;
    return [png.data[i], png.data[i + 1], png.data[i + 2]];
  };
  const fills = new Set<string>();
  for (const n of nodes) {
    const want = hex(n.fill);
    // Inside the border, left of the text, at mid height; and near the right edge.
    for (const [x, y] of [[n.left + 4, n.top + n.height / 2], [n.left + n.width - 4, n.top + n.height - 4]]) {
      const got = pixel(x, y);
      const close = got.every((c, i) => Math.abs(c - want[i]) <= 3);
      expect([n.id, x, y, close ? want : got]).toEqual([n.id, x, y, want]);
    }
    fills.add(n.fill);
  }
  // Members, Services, poolers, backups and repositories are told apart by colour.
  expect(fills.size).toBeGreaterThanOrEqual(8);
  // The page background between columns is white.
  const first = nodes.reduce((a, b) => (a.left < b.left ? a : b));
  expect(pixel(first.left + first.width + 40, svgBox.top + svgBox.height - 2)).toEqual([255, 255, 255]);
});

test('hovering a member highlights its edges and dims the unrelated nodes', async () => {
  const primary = nodes.find((n) => n.id === 'StatefulSet/orders-db-primary')!;
  await page.mouse.move(primary.left + primary.width / 2, primary.top + primary.height / 2);
  const state = await page.evaluate(() => ({
    hot: [...document.querySelectorAll('path.edge.hot')].map((e) => e.getAttribute('data-from')).sort(),
    dimmed: [...document.querySelectorAll('g.node.dim')].map((g) => g.getAttribute('data-id')),
  }));
  expect(state.hot).toEqual(['Service/orders-db-pods', 'Service/orders-db-primary', 'Service/orders-db-replicas']);
  expect(state.dimmed).toContain('CronJob/orders-db-backup-repo1-full');
  expect(state.dimmed).not.toContain('Service/orders-db-primary');
  await page.mouse.move(1, 1);
  expect(await page.$$eval('g.node.dim', (gs) => gs.length)).toBe(0);
});
