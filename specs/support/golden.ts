/** Golden files: compared exactly, or rewritten when UPDATE_GOLDENS=1 (then review the git diff). */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const UPDATE_GOLDENS = process.env.UPDATE_GOLDENS === '1';

export function expectGolden(path: string, actual: string): void {
  if (UPDATE_GOLDENS) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`missing golden ${path}: run with UPDATE_GOLDENS=1 and review it`);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}
