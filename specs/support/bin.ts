/**
 * The built CLI, dist/machinec.mjs, as specs run it. `npm test` builds dist/ before any spec runs;
 * a spec never builds or writes into dist/ itself. A dist/ older than any source under grammar/,
 * compiler/, cli/ or prettier-plugin/ fails the spec that would run it, so no spec tests a stale binary.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
export const BIN = join(REPO, 'dist', 'machinec.mjs');
const SOURCES = ['grammar', 'compiler', 'cli', 'prettier-plugin'];

function newestUnder(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    const t = e.isDirectory() ? newestUnder(path) : e.name.endsWith('.ts') ? statSync(path).mtimeMs : 0;
    if (t > newest) newest = t;
  }
  return newest;
}

/** Why dist/ cannot be tested as it is, or undefined when it is as new as the sources. */
export function staleBin(): string | undefined {
  if (!existsSync(BIN)) return 'dist/machinec.mjs does not exist';
  const built = statSync(BIN).mtimeMs;
  const changed = SOURCES.find((d) => newestUnder(join(REPO, d)) > built);
  return changed ? `dist/machinec.mjs is older than the sources under ${changed}/` : undefined;
}

/** dist/machinec.mjs, after checking it is built from today's sources (throws with what to do). */
export function freshBin(): string {
  const why = staleBin();
  if (why) throw new Error(`${why}: run \`npm run build\` first (\`npm test\` does)`);
  return BIN;
}
