/**
 * Scale on the real QEMU: a q35 machine with 1,000 PCI devices and a pc machine with 500 compile,
 * boot (the firmware numbers every bus) and pass `machinec verify`; and growth keeps everything
 * in place: a q35 machine built with 300 devices, then grown by 700 against the first lock, moves
 * none of the first 300 (nor the root ports and bridges they sit behind).
 *
 * Booting: the firmware (SeaBIOS) numbers the buses, which is what verify checks on every size.
 * For the pc machine with 500 devices and the q35 machine with 300, the specs also read SeaBIOS's
 * debug console to prove it then assigns every BAR and goes on to boot: SeaBIOS has IO windows for
 * only about 14 bridges, so machinec grows with bridges that reserve none and modern-only virtio
 * behind them ("PCI: out of I/O address space" would stop the firmware before "Booting from").
 * At 1,000 devices QEMU 7.2 itself aborts when the firmware maps every BAR (more than 4,096
 * memory sections: `phys_section_add`), so verify pauses the guest once the buses are numbered.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';
import { firmwareLog as bootLog, installedAlias, qemuDescribe, QEMU } from './support/qemu.js';

const T = 180_000;
/** SeaBIOS over 500 devices under TCG: about a minute on a quiet machine, much longer on a loaded one. */
const BOOT_BOUND = 300_000;

/**
 * An appliance-like mix: virtio NICs, disks (files missing: verify and the boot check stand in
 * null-co) and rng devices, one balloon, and four conventional NICs (e1000, rtl8139), which have
 * IO ports and share a bridge that gets an IO window.
 */
const MIX = [
  (id: string) => `device ${id}: virtio-rng-pci`,
  (id: string) => `device ${id}: virtio-net-pci { netdev = user }`,
  (id: string) => `device ${id}: virtio-blk-pci { file = "missing-${id}.img" }`,
  (id: string) => `device ${id}: virtio-net-pci { netdev = user }`,
];

function machine(name: string, chipset: string, count: number): string {
  const lines = [`machine ${name} {`, `  chipset = ${chipset}`, '  memory = 512M'];
  for (let i = 0; i < count; i++) {
    const id = `d${i}`;
    if (i === 7) lines.push(`  device ${id}: virtio-balloon-pci`);
    else if (i >= 10 && i < 14) lines.push(`  device ${id}: ${i % 2 ? 'e1000' : 'rtl8139'} { netdev = user }`);
    else lines.push('  ' + MIX[i % MIX.length](id));
  }
  return [...lines, '}', ''].join('\n');
}

/**
 * Boots the machine's QEMU command line (stand-ins for missing disks, as verify uses) with
 * SeaBIOS's debug console on a file, and returns that log once the firmware has finished its
 * PCI setup and tried to boot (or given up).
 */
async function firmwareLog(file: string): Promise<string> {
  const { compile, emit } = await import('../compiler/index.js');
  const c = compile({ file, source: readFileSync(join(dir, file), 'utf8'), lock: { file: `${file}.lock`, text: readFileSync(join(dir, `${file}.lock`), 'utf8') } });
  if (!c.ok) throw new Error(c.diagnostics.map((d) => d.message).join('\n'));
  return bootLog(emit(c.spec!, c.machine!, { standIns: { fileExists: () => false, resolveFile: (p) => p } }), dir, BOOT_BOUND);
}

function expectFirmwareFinished(log: string): void {
  expect(log).not.toContain('out of I/O address space');
  expect(log).toContain('Booting from');
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
    expect(built.stderr).not.toContain('warning[io-space]');
    expect(verified.stdout).toContain('every device is where the lock says');
    const checked = Number(/(\d+) PCI devices checked/.exec(verified.stdout)![1]);
    expect(verified.stdout).toContain(`${await installedAlias('q35')}, ${checked} PCI devices checked`);
    expect(checked).toBeGreaterThan(1000); // the devices and the root ports and bridges they sit behind
    expect(verified.code).toBe(0);
    expect(lock.split('\n').filter((l) => l.startsWith('pci ')).length).toBe(checked);
    console.log(`q35 1,000 devices: verify ${(verifyMs / 1000).toFixed(1)} s, ${checked} PCI functions`);
  }, T);

  test('pc with 500 PCI devices: build, boot and verify', async () => {
    writeFileSync(join(dir, 'wide.machine'), machine('wide', 'pc', 500));
    const { built, verified, verifyMs } = await buildAndVerify('wide.machine');
    expect(built.stderr).not.toContain('warning[io-space]');
    expect(verified.stdout).toContain('every device is where the lock says');
    expect(verified.code).toBe(0);
    expectFirmwareFinished(await firmwareLog('wide.machine'));
    console.log(`pc 500 devices: verify ${(verifyMs / 1000).toFixed(1)} s`);
  }, T + BOOT_BOUND);

  test('growth: 300 q35 devices, then 700 more against the first lock: none of the first 300 moves, and verify passes', async () => {
    const file = join(dir, 'grow.machine');
    writeFileSync(file, machine('grow', 'q35', 300));
    const small = await runCli(['build', 'grow.machine', '--qemu', QEMU!], dir);
    expect(small.code).toBe(0);
    expect(small.stderr).not.toContain('warning[io-space]');
    expectFirmwareFinished(await firmwareLog('grow.machine'));
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
  }, T + BOOT_BOUND);
});
