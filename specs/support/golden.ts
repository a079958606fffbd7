/**
 * Golden files, for every golden suite: compared exactly; a missing golden fails; only
 * UPDATE_GOLDENS=1 writes (then review the git diff).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const UPDATE_GOLDENS = process.env.UPDATE_GOLDENS === '1';

export function expectGolden(path: string, actual: string, update: boolean = UPDATE_GOLDENS): void {
  if (update) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`missing golden ${path}: run with UPDATE_GOLDENS=1 and review it`);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}
