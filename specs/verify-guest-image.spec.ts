/**
 * The guest's initramfs as GNU cpio reads it: machinec's newc writer against an independent
 * reader, and the cached image built by two processes at once (each writes a temporary file and
 * renames it), listed whole by cpio with the entries /init needs.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeCpio } from '../cli/guest/cpio.js';

const haveCpio = existsSync('/usr/bin/cpio');
const cpioTest = haveCpio || process.env.CI ? test : test.skip;
const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const haveGuest = existsSync('/usr/bin/udevadm') && existsSync('/bin/busybox') && existsSync('/boot') && readdirSync('/boot').some((f) => f.startsWith('vmlinuz-'));
const imageTest = (haveGuest && haveCpio) || process.env.CI ? test : test.skip;

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'machinec-cpio-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const list = (archive: Buffer): string => execFileSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });

cpioTest('GNU cpio extracts what writeCpio wrote: folders, a file of odd length, a symlink, modes', () => {
  const data = Buffer.from('#!/bin/sh\necho hi\n');
  const archive = writeCpio([
    { name: 'bin', type: 'dir', mode: 0o755 },
    { name: 'bin/x', type: 'file', mode: 0o755, data: Buffer.concat([data, Buffer.from('x')]) },
    { name: 'bin/y', type: 'symlink', mode: 0o777, data: Buffer.from('x') },
    { name: 'etc/ü name', type: 'file', mode: 0o644, data: new Uint8Array() },
  ]);
  const out = list(archive);
  expect(out).toMatch(/^drwxr-xr-x .* bin$/m);
  expect(out).toMatch(/^-rwxr-xr-x .* 19 .* bin\/x$/m);
  expect(out).toMatch(/^lrwxrwxrwx .* bin\/y -> x$/m);
  expect(out).toMatch(/^-rw-r--r-- .* etc\/ü name$/m);
  execFileSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { input: archive, cwd: dir });
  expect(readFileSync(join(dir, 'bin/x'), 'utf8')).toBe('#!/bin/sh\necho hi\nx');
});

imageTest('two builders at once leave one whole image in the cache, with /init, busybox, udevadm, its loader and the NIC drivers', async () => {
  const script = `import { guestImage } from ${JSON.stringify(join(ROOT, 'dist/cli/guest/image.js'))}; console.log(guestImage(process.env).initrd);`;
  const run = () => new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, XDG_CACHE_HOME: dir } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}`))));
  });
  const [a, b] = await Promise.all([run(), run()]);
  expect(a).toBe(b);
  expect(readdirSync(join(dir, 'machinec'))).toEqual([a.replace(/^.*\//, '')]);
  const names = list(gunzipSync(readFileSync(a))).split('\n').map((l) => l.replace(/^.* /, ''));
  for (const want of ['init', 'bin/busybox', 'usr/bin/udevadm', 'lib64/ld-linux-x86-64.so.2', 'etc/machinec-modules']) expect(names).toContain(want);
  expect(names.some((n) => /\/e1000\.ko$/.test(n))).toBe(true);
}, 120_000);
