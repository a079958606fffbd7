/**
 * The lock pins the whole VM: a firmware upgrade (another image at the locked path) is shown by
 * `plan`, refused by `build --locked`, `build` and `run` (so the machine never boots the new
 * image), and approved by `lock --update firmware`. The VM lines of the lock read back exactly,
 * and a lock line machinec did not write is refused.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, readLock, writeLock } from '../compiler/index.js';
import { runCli } from './support/cli.js';

const OVMF = '/usr/share/OVMF';
const haveOvmf = existsSync(join(OVMF, 'OVMF_CODE_4M.fd')) && existsSync(join(OVMF, 'OVMF_CODE_4M.secboot.fd'));
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

(haveOvmf || process.env.CI ? describe : describe.skip)('a firmware upgrade never changes a locked machine silently', () => {
  test('plan shows it, build --locked, build and run refuse it naming both digests, lock --update firmware approves it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'machinec-fw-'));
    dirs.push(dir);
    copyFileSync(join(OVMF, 'OVMF_CODE_4M.fd'), join(dir, 'CODE.fd'));
    copyFileSync(join(OVMF, 'OVMF_VARS_4M.fd'), join(dir, 'VARS.fd'));
    writeFileSync(join(dir, 'fw.machine'), `machine fw {\n  firmware = uefi { code = "${dir}/CODE.fd", vars = "${dir}/VARS.fd" }\n  device rng: virtio-rng-pci\n}\n`);
    const first = await runCli(['build', 'fw.machine'], dir);
    expect(first.code).toBe(0);
    const locked = readFileSync(join(dir, 'fw.machine.lock'), 'utf8');
    const before = sha(join(dir, 'CODE.fd'));
    expect(locked).toContain(`code-sha256=${before}`);

    // The package upgrade: another image at the same path.
    copyFileSync(join(OVMF, 'OVMF_CODE_4M.secboot.fd'), join(dir, 'CODE.fd'));
    const after = sha(join(dir, 'CODE.fd'));
    expect(after).not.toBe(before);

    const plan = await runCli(['plan', 'fw.machine'], dir);
    expect(plan.code).toBe(1);
    expect(plan.stdout).toContain(`firmware CODE ${dir}/CODE.fd (sha256 ${before.slice(0, 12)}`);
    expect(plan.stdout).toContain(`→ ${dir}/CODE.fd (sha256 ${after.slice(0, 12)}`);
    expect(plan.stderr).toContain('machinec lock --update firmware');

    for (const args of [['build', '--locked', 'fw.machine'], ['build', 'fw.machine'], ['run', '--accel', 'tcg', 'fw.machine']]) {
      const r = await runCli(args, dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('error[firmware-changed]');
      expect(r.stderr).toContain(`locked sha256 ${before}`);
      expect(r.stderr).toContain(`on disk sha256 ${after}`);
      expect(r.stdout).toBe('');
      expect(readFileSync(join(dir, 'fw.machine.lock'), 'utf8')).toBe(locked);
    }
    expect(existsSync(join(dir, 'fw.state'))).toBe(false); // run stopped before making any state

    const approve = await runCli(['lock', '--update', 'firmware', 'fw.machine'], dir);
    expect(approve.code).toBe(0);
    expect(readFileSync(join(dir, 'fw.machine.lock'), 'utf8')).toBe(locked.replace(before, after));
    expect((await runCli(['build', '--locked', 'fw.machine'], dir)).code).toBe(0);
  }, 60_000); // seven CLI runs, each reading two firmware images
});

describe('the VM lines of the lock', () => {
  test('every machine-level pin reads back as written', () => {
    const source = 'machine v {\n  cpu = Skylake-Client\n  firmware = uefi { secure-boot = true }\n  smbios = { manufacturer = "A b%c", product = "D" }\n  qemu-args = ["-global", "x=a b"]\n  device t: tpm-crb\n  device g: vmgenid\n  device n: e1000e { netdev = user, acpi-index = auto }\n}\n';
    const host = {
      files: { '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd': { size: 3653632, sha256: 'a'.repeat(64) }, '/usr/share/OVMF/OVMF_VARS_4M.ms.fd': { size: 540672, sha256: 'b'.repeat(64) } },
      cpuAliases: { 'pc-q35-7.2': { 'Skylake-Client': 'Skylake-Client-v1' } },
    };
    const c = compile({ file: 'v.machine', source, host });
    expect(c.ok).toBe(true);
    const lock = readLock(c.lockText!, 'v.machine.lock');
    expect(lock.diagnostics).toEqual([]);
    expect(writeLock(lock.lock!, 'v.machine')).toBe(c.lockText);
    expect(lock.lock!.cpu).toEqual({ model: 'Skylake-Client-v1', requested: 'Skylake-Client', followsHost: false });
    expect(lock.lock!.smbios).toEqual({ manufacturer: 'A b%c', product: 'D' });
    expect(lock.lock!.qemuArgs).toEqual(['-global', 'x=a b']);
    expect(c.argv!.join(' ')).toContain('-cpu Skylake-Client-v1');
    // A later build, on a QEMU that would resolve the alias differently, keeps the locked model.
    const again = compile({ file: 'v.machine', source, host: { ...host, cpuAliases: { 'pc-q35-7.2': { 'Skylake-Client': 'Skylake-Client-v4' } } }, lock: { file: 'v.machine.lock', text: c.lockText! } });
    expect(again.lockText).toBe(c.lockText);
    const updated = compile({ file: 'v.machine', source, host: { ...host, cpuAliases: { 'pc-q35-7.2': { 'Skylake-Client': 'Skylake-Client-v4' } } }, lock: { file: 'v.machine.lock', text: c.lockText! }, update: ['cpu'] });
    expect(updated.plan!.machine).toContain('CPU model Skylake-Client-v1 → Skylake-Client-v4');
  });

  test.each([
    ['firmware uefi secure-boot=maybe code=/a vars=/b', 'secure-boot'],
    ['firmware uefi secure-boot=on code=/a code-size=12 vars=/b', 'go together'],
    ['firmware uefi secure-boot=on code=/a code-size=12 code-sha256=XYZ vars=/b', 'sha256'],
    ['cpu Skylake-Client-v1 color=red', 'requested='],
    ['smbios vendor=x', 'no key vendor'],
    ['cpu a\ncpu b', 'locked twice'],
  ])('a hand-made line is refused: %s', (line, why) => {
    const text = `lockfile 2\nmachine v pc-q35-7.2 uuid=8db18bf8-4be7-4870-9538-d97c62fe8e7c\n${line}\n`;
    const r = readLock(text, 'v.machine.lock');
    expect(r.lock).toBeUndefined();
    expect(r.diagnostics.map((d) => d.message).join('\n')).toContain(why);
  });

  test.each([
    ['pci 00:02.0 n e1000e bus=pcie.0 addr=02.0 acpi-index=0 mac=52:54:00:12:34:56', 'acpi-index'],
    ['system - g vmgenid bus=sysbus guid=not-a-guid', 'guid'],
    ['system - t tpm-crb bus=sysbus version=1.2', 'version'],
  ])('a VM device pin is validated like every lock key: %s', (line, why) => {
    const r = readLock(`lockfile 2\nmachine v pc-q35-7.2 uuid=8db18bf8-4be7-4870-9538-d97c62fe8e7c\n${line}\n`, 'v.machine.lock');
    expect(r.lock).toBeUndefined();
    expect(r.diagnostics.map((d) => d.message).join('\n')).toContain(why);
  });

  test('the option lines of the whole VM: one display schema, -vnc LISTEN, a hostfwd list repeats its key, and a change is in the plan', () => {
    const source = (display: string) => `machine d {\n  display = ${display}\n  device n: e1000e { netdev = user { hostfwd = ["tcp::2222-:22", "udp::5353-:53"] } }\n}\n`;
    const gtk = compile({ file: 'd.machine', source: source('gtk { full-screen = true }') });
    expect(gtk.ok).toBe(true);
    expect(gtk.argv!.join(' ')).toContain('-display gtk,full-screen=on');
    expect(gtk.argv!.join(' ')).toContain('user,id=net-n,hostfwd=tcp::2222-:22,hostfwd=udp::5353-:53');
    const vnc = compile({ file: 'd.machine', source: source('vnc { listen = "127.0.0.1:3" }'), lock: { file: 'd.machine.lock', text: gtk.lockText! } });
    expect(vnc.argv!.join(' ')).toContain('-vnc 127.0.0.1:3');
    expect(vnc.lockText).toContain('option -vnc 127.0.0.1:3');
    expect(vnc.plan!.options.map((o) => o.option)).toEqual(expect.arrayContaining(['-display', '-vnc']));
    const bad = compile({ file: 'd.machine', source: source('vnc { display = ":1" }') });
    expect(bad.diagnostics.filter((d) => d.code === 'unknown-property').map((d) => d.message)).toEqual(['display vnc { … } has no property display']);
  });

  test('a machine type more than 6 years old is warned about, naming the release that removes it', () => {
    const c = compile({ file: 'o.machine', source: 'machine o {\n  chipset = pc-q35-4.2\n}\n', host: { today: '2026-12-01' } });
    const w = c.diagnostics.find((d) => d.code === 'machine-type-deprecated');
    expect(w?.severity).toBe('warning');
    expect(w?.message).toContain('QEMU 10.2 (2025-12) no longer has it');
    expect(compile({ file: 'o.machine', source: 'machine o {\n  chipset = pc-q35-7.2\n}\n', host: { today: '2026-12-01' } }).diagnostics).toEqual([]);
  });
});
