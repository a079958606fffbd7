/**
 * No import cycle between modules, type-only imports included: dependency-cruiser (`npm run lint:imports`, the
 * rules in .dependency-cruiser.cjs) over the sources, the tools and the specs. The same rule run on a planted
 * type-only cycle shows that it sees one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const depcruise = join(root, 'node_modules', '.bin', 'depcruise');

interface Violation { rule: { name: string }; from: string; cycle?: { name: string }[] }

function cruise(args: string[], cwd: string): Violation[] {
  const run = spawnSync(depcruise, [...args, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (run.error) throw run.error;
  const out = JSON.parse(run.stdout) as { summary: { violations: Violation[] } };
  return out.summary.violations;
}

const cycleText = (v: Violation): string => [v.from, ...(v.cycle ?? []).map((c) => c.name)].join(' -> ');

test('the tree has no import cycle, type-only imports included', () => {
  const found = cruise(['grammar', 'compiler', 'cli', 'prettier-plugin', 'tools', 'specs', '--config', '.dependency-cruiser.cjs'], root);
  expect(found.map(cycleText)).toEqual([]);
}, 120_000);

test('a planted type-only cycle is reported by the same rule', () => {
  const dir = mkdtempSync(join(os.tmpdir(), 'machinec-cycle-'));
  try {
    const rules = createRequire(import.meta.url)(join(root, '.dependency-cruiser.cjs')) as { forbidden: unknown };
    const config = { forbidden: rules.forbidden, options: { tsPreCompilationDeps: true } };
    writeFileSync(join(dir, 'rules.cjs'), `module.exports = ${JSON.stringify(config)};\n`);
    writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.js';\nexport interface A { b?: B }\n");
    writeFileSync(join(dir, 'b.ts'), "import type { A } from './a.js';\nexport interface B { a?: A }\n");
    const found = cruise(['a.ts', 'b.ts', '--config', 'rules.cjs'], dir);
    expect(found.map((v) => v.rule.name)).toContain('no-cycle');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
