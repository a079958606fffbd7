/**
 * Scale on the real QEMU: a q35 machine with 1,000 PCI devices and a pc machine with 500 compile,
 * boot (the firmware numbers every bus) and pass `machinec verify`; and growth keeps everything
 * in place: a q35 machine built with 300 devices, then grown by 700 against the first lock, moves
 * none of the first 300 (nor the root ports and bridges they sit behind).
 *
 * Both big machines are past the IO port space SeaBIOS hands to bridges, so they build with the
 * io-space warning: the firmware numbers the buses (what verify checks) and then stops with
 * "PCI: out of I/O address space". The warning is asserted here so that changes to it are seen.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';
import { qemuDescribe, QEMU } from './support/qemu.js';

const T = 180_000;

/** A mix of PCIe and conventional devices, NICs with user netdevs, disks whose files are missing (verify stands in null-co). */
const MIX = [
  (id: string) => `device ${id}: virtio-rng-pci`,
  (id: string) => `device ${id}: virtio-net-pci { netdev = user }`,
  (id: string) => `device ${id}: e1000 { netdev = user }`,
  (id: string) => `device ${id}: virtio-blk-pci { file = "missing-${id}.img" }`,
  (id: string) => `device ${id}: virtio-rng-pci`,
  (id: string) => `device ${id}: rtl8139 { netdev = user }`,
  (id: string) => `device ${id}: e1000e { netdev = user }`,
  (id: string) => `device ${id}: virtio-balloon-pci`,
];

function machine(name: string, chipset: string, count: number): string {
  const lines = [`machine ${name} {`, `  chipset = ${chipset}`, '  memory = 512M'];
  for (let i = 0; i < count; i++) {
    // One balloon per machine (QEMU allows one): the other balloon slots become rng devices.
    const make = MIX[i % MIX.length];
    lines.push('  ' + (make === MIX[7] && i !== 7 ? MIX[0](`d${i}`) : make(`d${i}`)));
  }
  return [...lines, '}', ''].join('\n');
}

/** Lock lines by the device id they name (second field after the attachment and guest address). */
function lockLines(lock: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of lock.split('\n')) {
    const f = line.split(' ');
    if (f.length > 3 && (f[0] === 'pci' || f[0] === 'usb' || f[0] === 'ide' || f[0] === 'scsi')) out.set(f[2], line);
  }
  return out;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-scale-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** build, then verify, in-process; returns what each printed and how long verify took. */
async function buildAndVerify(file: string) {
  const built = await runCli(['build', file, '--qemu', QEMU!], dir);
  expect(built.code).toBe(0);
  const started = Date.now();
  const verified = await runCli(['verify', file, '--timeout', '120', '--qemu', QEMU!], dir);
  const verifyMs = Date.now() - started;
  return { built, verified, verifyMs, lock: readFileSync(join(dir, `${file}.lock`), 'utf8') };
}

qemuDescribe('machinec at scale on real QEMU', () => {
  test('q35 with 1,000 PCI devices: build, boot and verify', async () => {
    writeFileSync(join(dir, 'big.machine'), machine('big', 'q35', 1000));
    const { built, verified, verifyMs, lock } = await buildAndVerify('big.machine');
    expect(built.stderr).toMatch(/wrote big\.machine\.lock: \d+ devices locked/);
    expect(built.stderr).toContain('warning[io-space]');
    expect(verified.stdout).toContain('every device is where the lock says');
    expect(verified.stdout).toMatch(/pc-q35-7\.2, (\d+) PCI devices checked/);
    const checked = Number(/(\d+) PCI devices checked/.exec(verified.stdout)![1]);
    expect(checked).toBeGreaterThan(1000); // the devices and the root ports and bridges they sit behind
    expect(verified.code).toBe(0);
    expect(lock.split('\n').filter((l) => l.startsWith('pci ')).length).toBe(checked);
    console.log(`q35 1,000 devices: verify ${(verifyMs / 1000).toFixed(1)} s, ${checked} PCI functions`);
  }, T);

  test('pc with 500 PCI devices: build, boot and verify', async () => {
    writeFileSync(join(dir, 'wide.machine'), machine('wide', 'pc', 500));
    const { built, verified, verifyMs } = await buildAndVerify('wide.machine');
    expect(built.stderr).toContain('warning[io-space]');
    expect(verified.stdout).toContain('every device is where the lock says');
    expect(verified.code).toBe(0);
    console.log(`pc 500 devices: verify ${(verifyMs / 1000).toFixed(1)} s`);
  }, T);

  test('growth: 300 q35 devices, then 700 more against the first lock: none of the first 300 moves, and verify passes', async () => {
    const file = join(dir, 'grow.machine');
    writeFileSync(file, machine('grow', 'q35', 300));
    expect((await runCli(['build', 'grow.machine', '--qemu', QEMU!], dir)).code).toBe(0);
    const first = lockLines(readFileSync(`${file}.lock`, 'utf8'));
    expect(first.size).toBeGreaterThan(300);

    writeFileSync(file, machine('grow', 'q35', 1000));
    const { built, verified, lock } = await buildAndVerify('grow.machine');
    expect(built.stderr).toMatch(/updated grow\.machine\.lock: \d+ added, 0 removed, 0 moved, 0 changed/);
    const after = lockLines(lock);
    // Every line of the first lock, devices and the root ports and bridges machinec made for them, is unchanged.
    const changed = [...first].filter(([id, line]) => after.get(id) !== line).map(([id, line]) => `${line}\n  now: ${after.get(id) ?? '(gone)'}`);
    expect(changed).toEqual([]);
    expect(after.size).toBeGreaterThan(1000);
    expect(verified.stdout).toContain('every device is where the lock says');
    expect(verified.code).toBe(0);
  }, T);
});
