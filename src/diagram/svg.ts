/** Renders a laid-out topology as one standalone SVG document (no external fonts, images or scripts). */
import { Box, EdgePath, FILLS, HEADER, LEGEND_ROW, LINE, Layout, MARGIN, STYLE_LABELS, legendTop } from './layout';

/** Escapes text for XML content and attribute values. */
export function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** The element id of a node: `node-StatefulSet-db-primary`. */
export function nodeElementId(id: string): string {
  return `node-${id.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

const STYLE = `
.title { font: bold 16px sans-serif; fill: #222; }
.name { font: bold 13px sans-serif; fill: #111; }
.sub { font: 11px sans-serif; fill: #444; }
.line { font: 11px monospace; fill: #222; }
.line.sidecar { fill: #5a3d8a; }
.line.init { fill: #777; }
.line.total { font-weight: bold; }
.line.volume, .line.schedule { fill: #7a4a00; }
.box { stroke: #555; stroke-width: 1.2; }
.edge { fill: none; stroke: #667; stroke-width: 1.4; }
.edge.selects.runtime { stroke-dasharray: 5 3; }
.edge.connects { stroke: #1a7f7a; }
.edge.backs-up-to { stroke: #a0336b; }
.edge-label { font: 10px sans-serif; fill: #445; }
.legend { font: 11px sans-serif; fill: #333; }
`;

function num(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function renderBox(b: Box): string {
  const fill = FILLS[b.style] ?? '#ffffff';
  const lines = b.lines.map((l, i) => `<text class="line ${l.kind}" x="${b.x + 10}" y="${b.y + HEADER + 4 + i * LINE}">${xml(l.text)}</text>`);
  return [
    `<g class="node ${xml(b.style)}" id="${nodeElementId(b.id)}" data-id="${xml(b.id)}" data-kind="${xml(b.kind)}" data-style="${xml(b.style)}" data-fill="${fill}">`,
    `<title>${xml(b.id)}</title>`,
    `<rect class="box" x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" rx="6" fill="${fill}"/>`,
    `<text class="name" x="${b.x + 10}" y="${b.y + 17}">${xml(b.title)}</text>`,
    `<text class="sub" x="${b.x + 10}" y="${b.y + 31}">${xml(b.subtitle)}</text>`,
    ...lines,
    '</g>',
  ].join('\n');
}

function renderEdge(e: EdgePath, i: number): string {
  const dx = Math.max(30, (e.x2 - e.x1) / 2);
  const d = `M ${num(e.x1)} ${num(e.y1)} C ${num(e.x1 + dx)} ${num(e.y1)}, ${num(e.x2 - dx)} ${num(e.y2)}, ${num(e.x2 - 2)} ${num(e.y2)}`;
  const runtime = e.kind === 'selects' && e.label ? ' runtime' : '';
  const out = [
    `<path class="edge ${e.kind}${runtime}" id="edge-${i}" data-from="${xml(e.from)}" data-to="${xml(e.to)}" data-kind="${e.kind}" d="${d}" marker-end="url(#arrow)"><title>${xml(`${e.from} ${e.kind} ${e.to}${e.label ? ` (${e.label})` : ''}`)}</title></path>`,
  ];
  if (e.label) {
    // At the source: the edges fanning out of one Service share its label.
    out.push(`<text class="edge-label" x="${num(e.x1 + 6)}" y="${num(e.y1 - 5)}">${xml(e.label)}</text>`);
  }
  return out.join('\n');
}

function renderLegend(layout: Layout): string {
  const top = legendTop(layout);
  const colWidth = Math.max(200, Math.floor((layout.width - 2 * MARGIN) / 3));
  return layout.styles.map((s, i) => {
    const x = MARGIN + (i % 3) * colWidth;
    const y = top + Math.floor(i / 3) * LEGEND_ROW;
    return `<g class="legend-item" data-style="${xml(s)}"><rect x="${x}" y="${y}" width="14" height="14" rx="3" fill="${FILLS[s]}" stroke="#555"/><text class="legend" x="${x + 20}" y="${y + 11}">${xml(STYLE_LABELS[s] ?? s)}</text></g>`;
  }).join('\n');
}

/** The SVG document of a layout. */
export function renderSvg(layout: Layout): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" aria-label="${xml(layout.title)}">`,
    `<style>${STYLE}</style>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    `<rect x="0" y="0" width="${layout.width}" height="${layout.height}" fill="#ffffff"/>`,
    `<text class="title" x="${MARGIN}" y="${MARGIN + 14}">${xml(layout.title)}</text>`,
    '<g class="edges">',
    ...layout.edges.map(renderEdge),
    '</g>',
    '<g class="nodes">',
    ...layout.boxes.map(renderBox),
    '</g>',
    '<g class="legend">',
    renderLegend(layout),
    '</g>',
    '</svg>',
    '',
  ].join('\n');
}
