/**
 * One self-contained HTML page: the SVG inline, a legend, and a table of every workload's
 * containers, resources and volumes, Services, backups and repositories. No network: a
 * Content-Security-Policy forbids any fetch; the only script highlights a node's edges on hover.
 */
import { FILLS, Layout, STYLE_LABELS, byRole } from './layout';
import { nodeElementId, renderSvg, xml } from './svg';
import { Topology, WorkloadNode } from './topology';
import { formatBytes, formatCpu } from '../validate/quantity';

const CSS = `
body { font: 14px sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.diagram { overflow: auto; border: 1px solid #ddd; }
.diagram svg { display: block; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; font-size: 12px; }
th { background: #f4f4f4; }
td.num { text-align: right; font-family: monospace; }
.swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #555; border-radius: 2px; vertical-align: middle; margin-right: 6px; }
.node.dim, .edge.dim { opacity: 0.25; }
.edge.hot { stroke-width: 3; }
`;

// Hovering a node shows its edges and neighbours; everything else dims.
const SCRIPT = `
(function () {
  var nodes = document.querySelectorAll('g.node');
  var edges = document.querySelectorAll('path.edge');
  function clear() {
    nodes.forEach(function (n) { n.classList.remove('dim'); });
    edges.forEach(function (e) { e.classList.remove('dim', 'hot'); });
  }
  nodes.forEach(function (n) {
    n.addEventListener('mouseenter', function () {
      var id = n.getAttribute('data-id');
      var near = {}; near[id] = true;
      edges.forEach(function (e) {
        var on = e.getAttribute('data-from') === id || e.getAttribute('data-to') === id;
        e.classList.toggle('hot', on); e.classList.toggle('dim', !on);
        if (on) { near[e.getAttribute('data-from')] = true; near[e.getAttribute('data-to')] = true; }
      });
      nodes.forEach(function (m) { m.classList.toggle('dim', !near[m.getAttribute('data-id')]); });
    });
    n.addEventListener('mouseleave', clear);
  });
})();
`;

function cpu(n: number | undefined): string {
  return n === undefined ? '-' : formatCpu(n);
}

function mem(n: number | undefined): string {
  return n === undefined ? '-' : formatBytes(n);
}

function workloadRows(w: WorkloadNode): string {
  const rows = w.containers.map((c) => `<tr><td>${c.init ? 'init ' : c.sidecar ? 'sidecar ' : ''}${xml(c.name)}</td><td>${xml(c.image)}</td>`
    + `<td class="num">${cpu(c.cpuRequest)}</td><td class="num">${cpu(c.cpuLimit)}</td><td class="num">${mem(c.memoryRequest)}</td><td class="num">${mem(c.memoryLimit)}</td></tr>`);
  const t = w.totals;
  rows.push(`<tr><th colspan="2">pod total (×${w.replicas} pods)</th><td class="num">${cpu(t.cpuRequest)}</td><td class="num">${cpu(t.cpuLimit)}</td><td class="num">${mem(t.memoryRequest)}</td><td class="num">${mem(t.memoryLimit)}</td></tr>`);
  const vols = w.volumes.map((v) => `${xml(v.name)} (${xml(v.type)}${v.size !== undefined ? ` ${mem(v.size)}` : ''}${v.storageClass ? `, ${xml(v.storageClass)}` : ''})`).join(', ');
  return [
    `<h3 id="detail-${nodeElementId(w.id)}">${xml(w.id)} <small>${xml(w.role)}${w.schedule ? ` · schedule <code>${xml(w.schedule)}</code>` : ''}${w.repository ? ` · ${xml(w.backupType ?? '')} backup to ${xml(w.repository)}` : ''}</small></h3>`,
    '<table><tr><th>container</th><th>image</th><th>cpu request</th><th>cpu limit</th><th>memory request</th><th>memory limit</th></tr>',
    ...rows,
    '</table>',
    `<p>volumes: ${vols || 'none'}</p>`,
  ].join('\n');
}

/** The HTML page of a topology and its layout. */
export function renderHtml(topology: Topology, layout: Layout): string {
  const legend = layout.styles.map((s) => `<li><span class="swatch" style="background:${FILLS[s]}"></span>${xml(STYLE_LABELS[s] ?? s)}</li>`).join('\n');
  const services = topology.services.map((s) => {
    const selected = topology.edges.filter((e) => e.from === s.id && e.kind === 'selects').map((e) => `${e.to}${e.label ? ` (${e.label})` : ''}`);
    return `<tr><td>${xml(s.name)}</td><td>${xml(s.role)}${s.headless ? ', headless' : ''}</td><td>${xml(s.ports.join(', '))}</td><td>${xml(selected.join(', ') || 'nothing')}</td></tr>`;
  }).join('\n');
  const repos = topology.repositories.map((r) => `<tr><td>${xml(r.name)}</td><td>${xml(r.type)}</td><td>${xml(r.location)}</td><td>${xml(Object.entries(r.options).map(([k, v]) => `${k}=${v}`).join(' '))}</td></tr>`).join('\n');
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; script-src \'unsafe-inline\'">',
    `<title>${xml(layout.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${xml(layout.title)}</h1>`,
    `<div class="diagram">${renderSvg(layout)}</div>`,
    '<h2>Legend</h2>',
    `<ul class="legend">${legend}</ul>`,
    '<p>Arrows: a Service selects pods (dashed: only the pods Patroni gave that role at run time), a pooler connects to a Service, a backup writes to a repository. Resources are request/limit.</p>',
    '<h2>Services</h2>',
    '<table><tr><th>Service</th><th>role</th><th>ports</th><th>selects</th></tr>',
    services,
    '</table>',
    ...(topology.repositories.length > 0 ? ['<h2>Backup repositories</h2>', '<table><tr><th>repository</th><th>type</th><th>location</th><th>options</th></tr>', repos, '</table>'] : []),
    '<h2>Workloads</h2>',
    // Members first, then poolers, backups and jobs.
    ...[...topology.workloads].sort(byRole).map(workloadRows),
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
