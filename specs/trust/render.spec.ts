/**
 * 40,000 errors in one file neither overflow the stack nor render in quadratic
 * time. The first 1,000 are rendered in full and the rest are counted; the count of errors stays true.
 */
import { spawnSync } from 'node:child_process';
import { BIN, cleanScratch, ensureBin, put, scratch } from '../cli/harness.js';

beforeAll(ensureBin);
afterAll(cleanScratch);

it('check of a file with 40,000 unknown models renders 1,000 of them and counts the rest', () => {
  const n = 40_000;
  const lines = ['machine many {', '  chipset = q35'];
  for (let i = 0; i < n; i++) lines.push(`  device d${i}: no-such-model-${i % 7}`);
  const dir = scratch();
  put(dir, 'many.machine', [...lines, '}', ''].join('\n'));
  const r = spawnSync(process.execPath, [BIN, 'check', 'many.machine'], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(r.status).toBe(1);
  const rendered = r.stderr.match(/^error\[unknown-model\]/gm) ?? [];
  expect(rendered).toHaveLength(1000);
  expect(r.stderr).toContain(`… and ${n - 1000} more`);
  expect(r.stderr).toMatch(new RegExp(`^${n} errors$`, 'm'));
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}, 120_000);
