/**
 * A booted Linux guest says what it calls each NIC and disk: `machinec verify --guest linux`
 * boots Debian's kernel with machinec's initramfs on every sample (SeaBIOS and OVMF, the
 * machine's own command line) and its names must be machinec's. The guest is the judge: udev's
 * own net_id and path_id builtins, run inside it. The control: two NICs, the first removed and
 * the machine rebuilt; with machinec's lock the second NIC keeps its name in the guest, with a
 * plain QEMU command line (no addresses) the guest renames it.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootGuest, usedNicName } from '../cli/guest/boot.js';
import { guestImage } from '../cli/guest/image.js';
import type { GuestVerifyReport } from '../cli/guest/verify-guest.js';
import { runCli } from './support/cli.js';
import { QEMU, qemuDescribe } from './support/qemu.js';

const SAMPLES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'samples');
const hasKernel = existsSync('/boot') && readdirSync('/boot').some((f) => f.startsWith('vmlinuz-'));
const haveGuest = hasKernel && existsSync('/usr/bin/udevadm') && existsSync('/bin/busybox');
const anyTest = haveGuest || process.env.CI ? test.concurrent : test.skip;
// Two guests at a time: one a core.
let running = 0;
const waiting: (() => void)[] = [];
async function oneOfTwo<T>(body: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await body();
  } finally {
    running--;
    waiting.shift()?.();
  }
}
const guestTest = (name: string, body: () => Promise<void>, timeout: number) => anyTest(name, () => oneOfTwo(body), timeout);
const env = { HOME: process.env.HOME, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME };

const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'machinec-guest-spec-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function verifySamples(names: readonly string[]): Promise<GuestVerifyReport[]> {
  const dir = scratch();
  for (const n of names) for (const f of [`${n}.machine`, `${n}.machine.lock`]) copyFileSync(join(SAMPLES, f), join(dir, f));
  const r = await runCli(['verify', '--guest', 'linux', '--json', ...names.map((n) => `${n}.machine`), '--qemu', QEMU!], dir, env);
  expect(r.stderr).toBe('');
  const reports = JSON.parse(r.stdout) as GuestVerifyReport[];
  for (const rep of reports) expect(rep.devices.filter((d) => !d.ok)).toEqual([]);
  expect(r.code).toBe(0);
  return reports;
}

const row = (reports: GuestVerifyReport[], file: string, id: string) => reports.find((r) => r.file === file)!.devices.find((d) => d.id === id);

qemuDescribe('verify --guest linux: the guest names every NIC and disk as machinec predicts', () => {
  test('without the kernel, busybox or udevadm: guest-missing, naming the Debian packages, exit 2', async () => {
    const r = await runCli(['verify', '--guest', 'linux', 'x.machine', '--qemu', QEMU!], scratch(), { ...env, MACHINEC_GUEST_ROOT: scratch() });
    expect(r.stderr).toMatch(/guest-missing/);
    expect(r.stderr).toMatch(/linux-image-amd64/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(2);
  });

  guestTest('a guest that says nothing within --timeout: guest-silent, exit 2', async () => {
    const dir = scratch();
    for (const f of ['legacy.machine', 'legacy.machine.lock']) copyFileSync(join(SAMPLES, f), join(dir, f));
    const r = await runCli(['verify', '--guest', 'linux', 'legacy.machine', '--timeout', '2', '--qemu', QEMU!], dir, env);
    expect(r.stderr).toMatch(/error\[guest-silent\]: legacy\.machine: the Linux guest did not report within 2 s/);
    expect(r.stderr).toMatch(/hint: give it longer with --timeout SECONDS/);
    expect(r.code).toBe(2);
  }, 120_000);

  guestTest('the SeaBIOS samples: every NIC and disk, in the guest', async () => {
    const reports = await verifySamples(['appliance', 'legacy', 'linux-server', 'office', 'windows']);
    expect(reports.map((r) => r.firmware)).toEqual(['seabios', 'seabios', 'seabios', 'seabios', 'seabios']);
    // Names read off the guest, written out: the path name is checked, the slot name is the one a Debian guest uses.
    expect(row(reports, 'legacy.machine', 'nic0')).toMatchObject({ predicted: 'enp0s5', guest: 'enp0s5', uses: 'ens5' });
    expect(row(reports, 'legacy.machine', 'nic1')).toMatchObject({ predicted: 'enp1s1', guest: 'enp1s1', uses: 'ens1' });
    expect(row(reports, 'linux-server.machine', 'nic0')).toMatchObject({ guest: 'eno1', uses: 'eno1' });
    expect(row(reports, 'appliance.machine', 'cdrom')).toMatchObject({ guest: 'pci-0000:06:00.0-scsi-0:0:2:0' });
    expect(row(reports, 'windows.machine', 'install')).toMatchObject({ guest: 'pci-0000:00:01.1-ata-1.1' });
  }, 600_000);

  guestTest('windows11 through OVMF (secure boot, a throwaway VARS copy and TPM)', async () => {
    const [r] = await verifySamples(['windows11']);
    expect(r.firmware).toBe('ovmf');
    expect(r.devices.map((d) => [d.id, d.guest])).toEqual([['nic0', 'eno1'], ['disk0', 'pci-0000:01:00.0-nvme-1'], ['cd', 'pci-0000:00:1f.2-ata-1.0']]);
  }, 600_000);

  guestTest("the control: of two NICs the first removed; machinec's lock keeps the second one's name, a plain QEMU command line does not", async () => {
    const dir = scratch();
    const source = (nics: readonly string[]) => `machine two {\n  chipset = pc\n${nics.map((n) => `  device ${n}: e1000 { netdev = user }\n`).join('')}}\n`;
    const nic1 = async () => {
      expect((await runCli(['build', 'two.machine'], dir, env)).code).toBe(0);
      const r = await runCli(['verify', '--guest', 'linux', '--json', 'two.machine', '--qemu', QEMU!], dir, env);
      expect(r.code).toBe(0);
      const { predicted, guest, uses } = (JSON.parse(r.stdout) as GuestVerifyReport[])[0].devices.find((d) => d.id === 'nic1')!;
      return { predicted, guest, uses };
    };
    writeFileSync(join(dir, 'two.machine'), source(['nic0', 'nic1']));
    const before = await nic1();
    writeFileSync(join(dir, 'two.machine'), source(['nic1']));
    const after = await nic1();
    expect(after).toEqual(before);
    expect(before).toEqual({ predicted: 'enp0s4', guest: 'enp0s4', uses: 'ens4' });

    // The same change on a plain command line (no VGA with -nodefaults): QEMU gives each NIC the next free slot, from 2.
    const image = guestImage(env);
    const plain = (nics: readonly string[]) => [
      '-machine', 'pc', '-nodefaults', '-m', '256M',
      ...nics.flatMap((mac, i) => ['-netdev', `user,id=n${i}`, '-device', `e1000,netdev=n${i},mac=${mac}`]),
    ];
    const second = '52:54:00:00:00:02';
    const nameOf = async (nics: readonly string[]) => (await bootGuest(QEMU!, plain(nics), image, 180_000)).report.nics.find((n) => n.mac === second)!;
    const plainBefore = await nameOf(['52:54:00:00:00:01', second]);
    const plainAfter = await nameOf([second]);
    expect(plainBefore.path).toBe('enp0s3');
    expect(plainAfter.path).toBe('enp0s2');
    expect(usedNicName(plainAfter)).not.toBe(usedNicName(plainBefore));
  }, 600_000);
});
