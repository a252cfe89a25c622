/** `diagram`: the topology of synthesized YAML as an SVG file and a self-contained HTML page. */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { renderDiagrams } from '../../diagram';
import { readManifestFiles } from '../files';

export interface DiagramOptions {
  /** Folder to write into (created if missing). */
  readonly outDir: string;
  /** File name without extension. */
  readonly name: string;
  readonly svg: boolean;
  readonly html: boolean;
}

/** Writes the diagrams; returns the paths written. */
export function writeDiagrams(paths: readonly string[], options: DiagramOptions): string[] {
  const manifests = readManifestFiles(paths).flatMap((f) => f.manifests);
  const { svg, html } = renderDiagrams(manifests);
  mkdirSync(options.outDir, { recursive: true });
  const written: string[] = [];
  if (options.svg) {
    const file = join(options.outDir, `${options.name}.svg`);
    writeFileSync(file, svg);
    written.push(file);
  }
  if (options.html) {
    const file = join(options.outDir, `${options.name}.html`);
    writeFileSync(file, html);
    written.push(file);
  }
  return written;
}
