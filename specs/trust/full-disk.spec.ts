/**
 * Writes on a real full filesystem (a 96 KiB tmpfs; needs root, as CI is):
 * the lock write fails with error[unwritable-file], exit 1, no file and no temp file left; with
 * room again the same build writes the whole lock. A read-only mount is exit 1 as well.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMachine } from '../../tools/generate-machine.js';
import { BIN, ensureBin, NO_QEMU } from '../cli/harness.js';

const root = process.getuid?.() === 0;
const describeRoot = root ? describe : describe.skip;
let dir: string;

beforeAll(() => {
  ensureBin();
  if (!root) return;
  dir = mkdtempSync(join(tmpdir(), 'machinec-full-'));
  expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', dir]).status).toBe(0);
});
afterAll(() => {
  if (!root) return;
  spawnSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
});

const build = () => spawnSync(process.execPath, [BIN, 'build', 'm.machine', '--qemu', NO_QEMU], { cwd: dir, encoding: 'utf8' });

describeRoot('a real full disk and a read-only mount', () => {
  it('full: exit 1 naming the lock, nothing half-written; with room again the whole lock', () => {
    writeFileSync(join(dir, 'm.machine'), generateMachine(300));
    writeFileSync(join(dir, 'fill'), Buffer.alloc(80 * 1024));
    const r = build();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[unwritable-file\]: cannot write m\.machine\.lock/);
    expect(readdirSync(dir).sort()).toEqual(['fill', 'm.machine']);
    rmSync(join(dir, 'fill'));
    expect(build().status).toBe(0);
    expect(readFileSync(join(dir, 'm.machine.lock'), 'utf8')).toMatch(/\n$/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('read-only: exit 1 with a diagnostic, the old lock intact', () => {
    const before = readFileSync(join(dir, 'm.machine.lock'), 'utf8');
    writeFileSync(join(dir, 'm.machine'), generateMachine(301));
    expect(spawnSync('mount', ['-o', 'remount,ro', dir]).status).toBe(0);
    try {
      const r = build();
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/error\[unwritable-file\]/);
      expect(readFileSync(join(dir, 'm.machine.lock'), 'utf8')).toBe(before);
    } finally {
      spawnSync('mount', ['-o', 'remount,rw', dir]);
    }
  });
  it('full: init (a command bundled apart from the core) is exit 1 naming the file, not a machinec bug', () => {
    for (const f of ['m.machine', 'm.machine.lock']) rmSync(join(dir, f), { force: true });
    const repo = join(dir, 'repo');
    expect(spawnSync('git', ['init', '-q', '--template=', repo]).status).toBe(0);
    spawnSync('dd', ['if=/dev/zero', `of=${join(dir, 'fill')}`, 'bs=1k']); // until the disk is full
    try {
      const r = spawnSync(process.execPath, [BIN, 'init', '.'], { cwd: repo, encoding: 'utf8' });
      expect(r.stderr).toMatch(/^error\[unwritable-file\]: cannot write \.gitattributes/);
      expect(r.status).toBe(1);
      expect(readdirSync(repo)).toEqual(['.git']);
    } finally {
      rmSync(join(dir, 'fill'), { force: true });
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
