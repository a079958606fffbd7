/**
 * Small input holes, through the built CLI:
 * - a FIFO named `f.machine` is refused by `check`, `fmt` and `lock` as not a regular file (exit 1,
 *   a diagnostic), never a crash and never a hang;
 * - `fmt` of a symlink to /proc/self/environ is refused as `check` refuses it, and the environment
 *   is never printed;
 * - 132 diagnostics on one 1,300-character line each show a window of the line around the caret,
 *   its cut ends marked `…`, with the caret under the offending text.
 */
import { spawnSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshBin } from '../support/bin.js';
import { tempFolder } from '../support/temp.js';

const SECRET = 'machinec-spec-secret-4f1c';

function machinec(dir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [freshBin(), ...args], { cwd: dir, env: { ...process.env, NO_COLOR: '1', MACHINEC_SPEC_SECRET: SECRET }, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error; // a hang is a timeout here
  return r;
}

describe('a FIFO named like a machine', () => {
  const dir = tempFolder('machinec-holes-');
  beforeAll(() => {
    expect(spawnSync('mkfifo', [join(dir, 'f.machine')]).status).toBe(0);
  });
  test.each(['check', 'fmt', 'lock'])('%s f.machine: refused as not a regular file, exit 1', (command) => {
    const r = machinec(dir, command, 'f.machine');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[unreadable-file]');
    expect(r.stderr).toContain('f.machine: it is not a regular file');
    expect(r.stderr).not.toMatch(/ENOTDIR|scandir|machinec bug|\n\s+at /);
  });
  test('a FIFO found in a folder walk is refused the same way', () => {
    const r = machinec(dir, 'check', '.');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('it is not a regular file');
  });
});

describe('a symlink to /proc/self/environ', () => {
  const dir = tempFolder('machinec-holes-');
  beforeAll(() => symlinkSync('/proc/self/environ', join(dir, 'env.machine')));
  test.each(['check', 'fmt', 'fmt --check'])('%s env.machine: refused, and the environment is never printed', (command) => {
    const r = machinec(dir, ...command.split(' '), 'env.machine');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[unreadable-file]');
    expect(r.stderr).toContain('it is a symbolic link to /proc/');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });
});

describe('diagnostics on a very long line', () => {
  test('132 diagnostics on one 1,300-character line show a window around each caret', () => {
    const dir = tempFolder('machinec-holes-');
    const keys = Array.from({ length: 132 }, (_, i) => `k${i} = ${i}`).join(', ');
    const line = `  device nic0: e1000 { netdev = user, ${keys} }`;
    expect(line.length).toBeGreaterThan(1300);
    writeFileSync(join(dir, 'long.machine'), `machine m {\n  chipset = q35\n${line}\n}\n`);
    const r = machinec(dir, 'check', 'long.machine');
    expect(r.status).toBe(1);
    const frames = [...r.stderr.matchAll(/has no property (k\d+)\n --> long\.machine:3:(\d+)\n {2}\|\n3 \| (.*)\n {2}\| (.*)\n/g)];
    expect(frames).toHaveLength(132);
    for (const [, key, column, shown, caret] of frames) {
      expect(shown.length).toBeLessThanOrEqual(124);
      expect(line.includes(shown.replace(/^… /, '').replace(/ …$/, ''))).toBe(true);
      if (Number(column) > 60) expect(shown.startsWith('… ')).toBe(true);
      // the caret stands under the key the diagnostic names, as long as the key
      const at = caret.indexOf('^');
      expect(shown.slice(at, at + key.length)).toBe(key);
      expect(caret.slice(at)).toBe('^'.repeat(key.length));
    }
    expect(r.stderr.length).toBeLessThan(132 * 400);
  }, 30_000);
});
