// The topology diagram: model extraction, layout, SVG and HTML rendering. Not part of the jsii API.
import { renderHtml } from './html';
import { layoutTopology } from './layout';
import { renderSvg } from './svg';
import { extractTopology } from './topology';
import { Manifest } from '../validate/manifest';

export { extractTopology } from './topology';
export type { Topology } from './topology';
export { layoutTopology } from './layout';
export { renderSvg } from './svg';
export { renderHtml } from './html';

/** The SVG and HTML diagrams of a set of synthesized objects. */
export function renderDiagrams(manifests: readonly Manifest[]): { svg: string; html: string } {
  const topology = extractTopology(manifests);
  const layout = layoutTopology(topology);
  return { svg: renderSvg(layout), html: renderHtml(topology, layout) };
}
