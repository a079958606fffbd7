/**
 * The golden helper cannot pass by accident: a missing golden fails (and is not written), a
 * different one fails, only UPDATE_GOLDENS=1 writes; and every golden suite goes through it.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectGolden } from './support/golden.js';

describe('expectGolden', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'machinec-golden-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a missing golden fails and is not written', () => {
    const path = join(dir, 'case', 'expected.txt');
    expect(() => expectGolden(path, 'text\n', false)).toThrow(/missing golden .*expected\.txt: run with UPDATE_GOLDENS=1/);
    expect(existsSync(path)).toBe(false);
  });

  test('a golden that differs fails', () => {
    const path = join(dir, 'expected.txt');
    writeFileSync(path, 'old\n');
    expect(() => expectGolden(path, 'new\n', false)).toThrow();
    expect(readFileSync(path, 'utf8')).toBe('old\n');
  });

  test('an equal golden passes', () => {
    const path = join(dir, 'expected.txt');
    writeFileSync(path, 'same\n');
    expectGolden(path, 'same\n', false);
  });

  test('only the update mode writes, creating folders', () => {
    const path = join(dir, 'new', 'case', 'expected.txt');
    expectGolden(path, 'fresh\n', true);
    expect(readFileSync(path, 'utf8')).toBe('fresh\n');
  });
});

describe('every golden suite uses the one helper', () => {
  const specs = join(process.cwd(), 'specs');
  const files = (folder: string): string[] =>
    readdirSync(folder, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(folder, e.name)) : /\.[mc]?[tj]s$/.test(e.name) ? [join(folder, e.name)] : []));

  test('no spec file but support/golden.ts reads UPDATE_GOLDENS', () => {
    const readers = files(specs).filter((f) => f !== join(specs, 'support', 'golden.ts') && f !== join(specs, 'golden.spec.ts') && /process\.env\.UPDATE_GOLDENS|env\[['"]UPDATE_GOLDENS/.test(readFileSync(f, 'utf8')));
    expect(readers).toEqual([]);
  });
});
