/**
 * Whole files or none: a SIGKILL loop during builds of a 10,000-device machine and during
 * `rename`, and a 20-way concurrent build, leave only whole old or whole new files, and the next
 * command leaves no temporary file. Runs the bundled binary (build it first: npm run build).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateMachine } from '../../tools/generate-machine.js';
import { BIN, cleanScratch, ensureBin, NO_QEMU, scratch } from '../cli/harness.js';

afterAll(cleanScratch);
beforeAll(ensureBin);

const KILLS = Number(process.env.KILLS ?? 30);
const T = 300_000;

function machinec(args: string[], cwd: string): { done: Promise<number | null>; kill: () => void } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: 'ignore' });
  return { done: new Promise((r) => child.once('exit', (code) => r(code))), kill: () => child.kill('SIGKILL') };
}
const temps = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));
/** A deterministic spread of kill times, so a failure replays. */
const delays = (n: number, max: number) => Array.from({ length: n }, (_, i) => Math.round(((i * 7919) % n) / n * max) + 20);

it(`${KILLS} SIGKILLs during builds of a 10,000-device machine: the lock is always the whole old or the whole new one`, async () => {
  const source = generateMachine(10_000);
  const dir = scratch({ 'big.machine': source });
  const t0 = Date.now();
  expect(await machinec(['build', 'big.machine', '--qemu', NO_QEMU], dir).done).toBe(0);
  const wall = Date.now() - t0;
  const old = readFileSync(join(dir, 'big.machine.lock'), 'utf8');
  writeFileSync(join(dir, 'big.machine'), source.replace(/\n}\n$/, '\n  device extra: virtio-rng-pci\n}\n'));
  const seen = new Set<string>();
  for (const ms of delays(KILLS, wall * 1.2)) {
    writeFileSync(join(dir, 'big.machine.lock'), old);
    const run = machinec(['build', 'big.machine', '--qemu', NO_QEMU], dir);
    await sleep(ms);
    run.kill();
    const code = await run.done;
    const lock = readFileSync(join(dir, 'big.machine.lock'), 'utf8');
    const state = lock === old ? 'old' : lock.includes(' extra virtio-rng-pci ') && lock.endsWith('\n') ? 'new' : 'broken';
    expect(state).not.toBe('broken');
    seen.add(`${state}${code === 0 ? ' (finished)' : ''}`);
  }
  expect(await machinec(['check', 'big.machine'], dir).done).toBe(0); // the next command cleans up
  expect(temps(dir)).toEqual([]);
  expect(seen.has('old')).toBe(true); // killed before the write, at least once
}, T);

it(`${KILLS} SIGKILLs during rename: source and lock always agree once the next command ran, no pin lost`, async () => {
  const source = generateMachine(10_000);
  const dir = scratch({ 'big.machine': source });
  expect(await machinec(['build', 'big.machine', '--qemu', NO_QEMU], dir).done).toBe(0);
  const serialOf = (lock: string, id: string) => new RegExp(`^\\S+ \\S+ ${id} \\S+ .*serial=(\\S+)`, 'm').exec(lock)?.[1];
  const lock0 = readFileSync(join(dir, 'big.machine.lock'), 'utf8');
  const id0 = /^\S+ \S+ (sd0_0) /m.exec(lock0)![1];
  const serial = serialOf(lock0, id0);
  let names = [id0, 'renamed0'];
  for (const ms of delays(KILLS, 1500)) {
    const run = machinec(['rename', 'big.machine', names[0], names[1]], dir);
    await sleep(ms);
    run.kill();
    await run.done;
    expect(await machinec(['check', 'big.machine'], dir).done).toBe(0); // finishes an interrupted rename
    const src = readFileSync(join(dir, 'big.machine'), 'utf8');
    const lock = readFileSync(join(dir, 'big.machine.lock'), 'utf8');
    const now = src.includes(`device ${names[1]}:`) ? names[1] : names[0];
    expect(src.includes(`device ${now}:`)).toBe(true);
    expect(serialOf(lock, now)).toBe(serial);
    expect(temps(dir)).toEqual([]);
    if (now === names[1]) names = [names[1], names[0]];
  }
}, T);

it('20 concurrent builds leave one whole lock, equal to a single build\'s, and no temp file', async () => {
  const source = generateMachine(1000);
  const alone = scratch({ 'm.machine': source });
  expect(await machinec(['build', 'm.machine', '--qemu', NO_QEMU], alone).done).toBe(0);
  const expected = readFileSync(join(alone, 'm.machine.lock'), 'utf8');
  const dir = scratch({ 'm.machine': source });
  const codes = await Promise.all(Array.from({ length: 20 }, () => machinec(['build', 'm.machine', '--qemu', NO_QEMU], dir).done));
  expect(codes.every((c) => c === 0)).toBe(true);
  expect(readFileSync(join(dir, 'm.machine.lock'), 'utf8')).toBe(expected);
  expect(temps(dir)).toEqual([]);
}, T);
