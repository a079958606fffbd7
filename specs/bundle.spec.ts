/**
 * The built CLI (dist/machinec.mjs, tools/bundle.ts) as a cold start runs it:
 *  - its core's V8 code cache is named after the core and a cold build uses it (V8 accepts it),
 *    and so does each worker thread of `-j`;
 *  - what the bundle loads lazily works when called: crypto (the journal's digests of `rename`),
 *    with the same files and output as the in-process CLI.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateMachine } from '../tools/generate-machine.js';
import { runCli } from './support/cli.js';
import { tempFolder } from './support/temp.js';
import { freshBin } from './support/bin.js';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const bin = freshBin();
const { NODE_OPTIONS: _flags, ...plainEnv } = process.env; // V8 flags (jest's) would make V8 refuse the cache
const built = (args: string[], cwd: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...plainEnv, NO_COLOR: '1', ...env } });

describe('the built CLI', () => {
  test('a cold build uses the V8 code cache made for its core', () => {
    const dist = readdirSync(join(root, 'dist'));
    const cores = dist.filter((f) => /^core-[0-9a-f]{12}\.cjs$/.test(f));
    expect(cores).toHaveLength(1);
    expect(dist).toContain(`${cores[0]}.v8cache`);
    expect(readFileSync(bin, 'utf8')).toContain(cores[0]);
    const dir = tempFolder('machinec-bundle-');
    writeFileSync(join(dir, 'm.machine'), generateMachine(100));
    const r = built(['build', 'm.machine'], dir, { MACHINEC_REPORT_CODE_CACHE: '1' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^code cache: accepted\n/);
  });

  test('worker threads (-j) take the code cache too: they compile the core under the V8 flags the main thread set (cli/start.ts)', () => {
    const dir = tempFolder('machinec-bundle-');
    for (let i = 0; i < 120; i++) writeFileSync(join(dir, `m${i}.machine`), generateMachine(10).replace('machine bench10', `machine m${i}`));
    expect(built(['lock', '.'], dir).status).toBe(0);
    const r = built(['lock', '--locked', '-j', '3', '.'], dir, { MACHINEC_REPORT_CODE_CACHE: '1' });
    expect(r.status).toBe(0);
    const reports = r.stderr.split('\n').filter((l) => l.startsWith('code cache: '));
    expect(reports).toEqual(Array(3).fill('code cache: accepted')); // the main thread and two workers (40 machines a share)
  });

  test('rename (crypto, loaded on first use) writes what the in-process CLI writes', async () => {
    const source = 'machine m {\n  chipset = q35\n  device nic0: virtio-net-pci { netdev = user }\n}\n';
    const dirs = [tempFolder('machinec-bundle-'), tempFolder('machinec-bundle-')];
    for (const d of dirs) writeFileSync(join(d, 'm.machine'), source);
    const lock = (d: string) => readFileSync(join(d, 'm.machine.lock'), 'utf8');
    expect(built(['build', 'm.machine'], dirs[0]).status).toBe(0);
    writeFileSync(join(dirs[1], 'm.machine.lock'), lock(dirs[0])); // the same MAC in both
    const bundled = built(['rename', 'm.machine', 'nic0', 'lan0'], dirs[0]);
    const inProcess = await runCli(['rename', 'm.machine', 'nic0', 'lan0'], dirs[1], { NO_COLOR: '1' });
    expect({ code: bundled.status, stdout: bundled.stdout, stderr: bundled.stderr }).toEqual(inProcess);
    expect(inProcess.code).toBe(0);
    for (const f of ['m.machine', 'm.machine.lock']) expect(readFileSync(join(dirs[0], f), 'utf8')).toBe(readFileSync(join(dirs[1], f), 'utf8'));
    expect(lock(dirs[0])).toContain(' lan0 ');
    expect(readdirSync(dirs[0]).sort()).toEqual(['m.machine', 'm.machine.lock']);
  });
});
