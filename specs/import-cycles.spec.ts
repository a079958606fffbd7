/**
 * Modules form layers: dependency-cruiser (the project's `.dependency-cruiser.cjs`, as `npm run
 * lint:imports` runs it) finds no import cycle, runtime or type-only, in the sources and the
 * specs; and the same rules do find a cycle planted in a scratch copy, so the check can fail.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const FOLDERS = ['grammar', 'compiler', 'cli', 'prettier-plugin', 'tools', 'specs'];

function cruise(cwd: string, folders: readonly string[]): { code: number | null; out: string } {
  const bin = join(ROOT, 'node_modules', '.bin', 'depcruise');
  const r = spawnSync(bin, [...folders, '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd, encoding: 'utf8', timeout: 110_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test('no import cycle, runtime or type-only, anywhere in the tree', () => {
  const r = cruise(ROOT, FOLDERS);
  expect(r.out).not.toMatch(/no-cycle/);
  expect(r.code).toBe(0);
}, 120_000);

test('a cycle planted in a copy, type-only on one side, is found and named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'machinec-cycles-'));
  try {
    cpSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['.'] }));
    writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.js';\nexport interface A { b?: B }\n");
    writeFileSync(join(dir, 'b.ts'), "import { helper } from './a-helper.js';\nexport interface B { n: number }\nexport const b = helper;\n");
    writeFileSync(join(dir, 'a-helper.ts'), "import type { A } from './a.js';\nexport const helper = (a?: A): number => (a ? 1 : 0);\n");
    const r = cruise(dir, ['a.ts', 'b.ts', 'a-helper.ts']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/no-cycle/);
    expect(r.out).toMatch(/a\.ts → \s*a-helper\.ts|a-helper\.ts → \s*a\.ts|b\.ts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
