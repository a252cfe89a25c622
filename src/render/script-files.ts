import { readFileSync } from 'fs';
import { join } from 'path';

/**
 * The directory of the programs the pods run: `src/scripts` in the source tree, `lib/scripts` in
 * the compiled library and the npm package (the compile task copies them there).
 */
export const SCRIPTS_DIR = join(__dirname, '..', 'scripts');

/** The text of one program of SCRIPTS_DIR, exactly as it is shipped into the scripts ConfigMap. */
export function scriptText(name: string): string {
  return readFileSync(join(SCRIPTS_DIR, name), 'utf8');
}
