import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { SCRIPTS_DIR, scriptText } from '../../src/render/script-files';
import { allCases } from '../helpers/cases';

const SOURCE_DIR = join(__dirname, '../../src/scripts');
const programs = readdirSync(SOURCE_DIR).filter((f) => /\.(py|sh)$/.test(f)).sort();

describe('the programs in src/scripts', () => {
  test('are read from the source tree (lib/scripts once compiled)', () => {
    expect(SCRIPTS_DIR).toBe(SOURCE_DIR);
    expect(programs.length).toBeGreaterThanOrEqual(8);
    for (const f of programs) expect(scriptText(f)).toBe(readFileSync(join(SOURCE_DIR, f), 'utf8'));
  });

  test('every one reaches a pod byte for byte: the scripts ConfigMap or a Job (access, config, CA publisher), and nothing else is shipped', () => {
    const shipped = new Map<string, string>();
    for (const c of allCases()) {
      for (const m of c.manifests()) {
        if (m.kind === 'ConfigMap' && String(m.metadata.name).endsWith('-scripts')) {
          for (const [key, value] of Object.entries((m as any).data as Record<string, string>)) {
            if (/\.(py|sh)$/.test(key)) shipped.set(key, value);
          }
        }
        if (m.kind === 'Job') {
          for (const ctr of (m as any).spec.template.spec.containers) {
            if (/(^|\/)python3$/.test(ctr.command?.[0] ?? '') && ctr.command[1] === '-c') {
              const job = String(m.metadata.name);
              const name = job.includes('-publish-ca') ? 'publish-ca.py' : job.includes('-config-') ? 'apply-config.py' : 'apply-access.py';
              shipped.set(name, ctr.command[2]);
            }
          }
        }
      }
    }
    expect([...shipped.keys()].sort()).toEqual(programs);
    for (const [name, text] of shipped) expect(text).toBe(readFileSync(join(SOURCE_DIR, name), 'utf8'));
  });
});
