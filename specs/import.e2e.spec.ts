/**
 * `machinec import` on the real QEMU: for real command lines (pc and q35, with and without
 * -nodefaults, implicit and explicit addresses, a pci-bridge with a device behind it, disks, NICs),
 * import, then `machinec verify` the imported machine, and, independently of machinec's lock, boot
 * the original command line and the built one and compare the two guest views device by device
 * (bus, slot, function, vendor:device). The --qmp variant reads a VM this spec started itself.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GuestPciDevice } from '../cli/qemu/index.js';
import { runCli } from './support/cli.js';
import { guestView, installedAlias, qemuDescribe, QEMU } from './support/qemu.js';

const T = 90_000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-import-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
/** The guest view as lspci would list it: one line a function, ids left out (they are machinec's names). */
const lspci = (view: readonly GuestPciDevice[]): string[] =>
  view.map((g) => `${hex(g.bus, 2)}:${hex(g.slot, 2)}.${g.fn} ${hex(g.vendor, 4)}:${hex(g.device, 4)}${g.secondaryBus !== undefined ? ` -> ${g.secondaryBus}` : ''}`);

/** Builds the imported machine and returns its command line (without the binary). */
async function built(name: string): Promise<string[]> {
  const b = await runCli(['build', `${name}.machine`, '--format', 'json', '--locked'], dir);
  expect(b.stderr).toBe('');
  expect(b.code).toBe(0);
  return (JSON.parse(b.stdout) as string[]).slice(1);
}

async function importAndProve(args: (dir: string) => string[]) {
  const original = args(dir);
  const r = await runCli(['import', '--name', 'vm', '--', QEMU!, ...original], dir);
  expect(r.stderr).not.toMatch(/error/);
  expect(r.code).toBe(0);
  const source = readFileSync(join(dir, 'vm.machine'), 'utf8');
  const lock = readFileSync(join(dir, 'vm.machine.lock'), 'utf8');

  const v = await runCli(['verify', 'vm.machine', '--qemu', QEMU!], dir);
  expect(v.stdout).toContain('every device is where the lock says');
  expect(v.code).toBe(0);

  // Independent of the lock: what the guest sees with the original and with the built command line.
  const before = lspci(await guestView(original));
  const after = lspci(await guestView(await built('vm')));
  expect(after).toEqual(before);
  return { source, lock, before };
}

qemuDescribe('machinec import on real QEMU', () => {
  test('pc without -nodefaults: the implicit VGA and e1000 become devices at 02.0 and 03.0, machine type pinned', async () => {
    const { source, lock, before } = await importAndProve(() => ['-machine', 'pc', '-m', '256']);
    expect(before).toEqual(['00:00.0 8086:1237', '00:01.0 8086:7000', '00:01.1 8086:7010', '00:01.3 8086:7113', '00:02.0 1234:1111', '00:03.0 8086:100e']);
    expect(source).toContain('device video0: VGA');
    expect(source).toContain('device nic0: e1000 { netdev = user }');
    expect(source).toContain('memory  = 256M');
    expect(lock).toContain(`machine vm ${await installedAlias('pc')} `);
    expect(lock).toContain('pci 00:03.0 nic0 e1000 bus=pci.0 addr=03.0 mac=52:54:00:12:34:56');
  }, T);

  test('q35 without -nodefaults: VGA at 01.0, the default e1000e an integrated endpoint at 02.0', async () => {
    const { source, lock } = await importAndProve(() => ['-machine', 'q35']);
    expect(source).toMatch(/device nic0: e1000e @ 02\.0 \{ netdev = user \}/);
    expect(lock).toContain(`machine vm ${await installedAlias('q35')} `);
    expect(lock).toContain('pci 00:02.0 nic0 e1000e bus=pcie.0 addr=02.0 mac=52:54:00:12:34:56');
  }, T);

  test('pc -nodefaults: a pci-bridge with a NIC behind it, explicit and implicit addresses, a virtio disk, ids kept', async () => {
    const { source, lock, before } = await importAndProve((d) => {
      writeFileSync(join(d, 'disk.img'), Buffer.alloc(1024 * 1024));
      return [
        '-nodefaults', '-machine', 'pc', '-device', 'VGA,id=vga',
        '-netdev', 'user,id=a', '-device', 'rtl8139,netdev=a,id=lan,mac=52:54:00:00:00:0a',
        '-device', 'pci-bridge,id=br0,chassis_nr=1,addr=0x10',
        '-netdev', 'user,id=b', '-device', 'e1000,bus=br0,addr=0x7,netdev=b,id=wan',
        '-drive', `file=${join(d, 'disk.img')},if=virtio,format=raw`,
      ];
    });
    expect(before).toContain('01:07.0 8086:100e');
    expect(source).toContain('device br0: pci-bridge @ 10.0 {');
    expect(source).toContain('device wan: e1000 @ 07.0 { netdev = user }');
    expect(source).toContain(`device disk0: virtio-blk-pci { file = ${JSON.stringify(join(dir, 'disk.img'))} }`);
    expect(lock).toContain('pci 00:03.0 lan rtl8139 bus=pci.0 addr=03.0 mac=52:54:00:00:00:0a');
    expect(lock).toContain('pci 01:07.0 wan e1000 bus=br0 addr=07.0');
  }, T);

  test('q35: integrated e1000e, a NIC behind a user root port, a -net hub NIC, a virtio disk on pcie.0', async () => {
    const { source, before } = await importAndProve((d) => {
      writeFileSync(join(d, 'data.qcow2.raw'), Buffer.alloc(1024 * 1024));
      return [
        '-machine', 'q35', '-smp', '2',
        '-netdev', 'user,id=a', '-device', 'e1000e,netdev=a',
        '-device', 'pcie-root-port,id=p1,chassis=5,port=0x20,addr=0x1c',
        '-netdev', 'user,id=b', '-device', 'virtio-net-pci,bus=p1,netdev=b,id=vnet',
        '-net', 'nic,model=rtl8139', '-net', 'user',
        '-drive', `file=${join(d, 'data.qcow2.raw')},if=virtio,format=raw`,
      ];
    });
    expect(before).toContain('01:00.0 1af4:1041');
    expect(source).toContain('cpus    = 2');
    expect(source).toMatch(/device p1: pcie-root-port @ 1c\.0 \{\n\s+device vnet: virtio-net-pci \{ netdev = user \}/);
  }, T);

  test('q35 -nodefaults: multifunction root ports, xhci with a tablet, a pcie-pci-bridge with a conventional NIC', async () => {
    const { lock } = await importAndProve(() => [
      '-nodefaults', '-machine', 'q35',
      '-device', 'pcie-root-port,id=rp1,chassis=1,port=1,addr=0x3.0,multifunction=on',
      '-device', 'pcie-root-port,id=rp2,chassis=2,port=2,addr=0x3.1',
      '-device', 'qemu-xhci,id=usb,bus=rp1', '-device', 'usb-tablet,bus=usb.0,port=2',
      '-device', 'pcie-pci-bridge,id=pb,bus=rp2',
      '-netdev', 'user,id=n', '-device', 'rtl8139,bus=pb,addr=0x4,netdev=n',
      '-device', 'virtio-rng-pci',
    ]);
    expect(lock).toContain('pci 00:03.1 rp2 pcie-root-port bus=pcie.0 addr=03.1 chassis=2 pcie-port=2 secondary=2');
    expect(lock).toContain('pci 03:04.0 nic0 rtl8139 bus=pb addr=04.0');
    expect(lock).toMatch(/usb - tablet0 usb-tablet bus=usb\.0 port=2\n/);
  }, T);

  test('-nic and -hda on pc: the NIC model and the IDE disk are carried', async () => {
    const { source } = await importAndProve((d) => {
      writeFileSync(join(d, 'old.img'), Buffer.alloc(1024 * 1024));
      return ['-nic', 'user,model=virtio-net-pci,mac=52:54:00:00:00:77', '-hda', join(d, 'old.img'), '-device', 'virtio-balloon-pci'];
    });
    expect(source).toContain('device nic0: virtio-net-pci { netdev = user }');
    expect(source).toContain(`device disk0: ide-hd { file = ${JSON.stringify(join(dir, 'old.img'))}, serial = "QM00001" }`);
  }, T);

  test('stand-ins: a tap NIC and a missing disk are inspected with user and null-co, and imported as written', async () => {
    const r = await runCli(['import', '--name', 'srv', '--', QEMU!, '-nodefaults', '-M', 'pc', '-netdev', 'tap,id=t0,ifname=tap9,script=no,downscript=no', '-device', 'virtio-net-pci,netdev=t0,addr=0x5', '-drive', 'file=/nowhere/srv.qcow2,if=none,id=d0', '-device', 'virtio-blk-pci,drive=d0,addr=0x6', '-daemonize', '-monitor', 'stdio', '-vnc', ':3'], dir);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const source = readFileSync(join(dir, 'srv.machine'), 'utf8');
    expect(source).toContain('device nic0: virtio-net-pci @ 05.0 { netdev = tap { ifname = "tap9", script = "no", downscript = "no" } }');
    // No format on the command line, and no image to probe: the name decides, as machinec decides.
    expect(source).toContain('device disk0: virtio-blk-pci @ 06.0 { file = "/nowhere/srv.qcow2" }');
    const v = await runCli(['verify', 'srv.machine', '--qemu', QEMU!], dir);
    expect(v.stdout).toContain('every device is where the lock says');
  }, T);

  test('a device the catalog does not know: import names it, exits 1 and writes nothing', async () => {
    const r = await runCli(['import', '--name', 'odd', '--', QEMU!, '-M', 'pc', '-device', 'ES1370', '-device', 'isa-debugcon,iobase=0x402,chardev=c', '-chardev', 'null,id=c'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[import-failed]: 2 devices machinec cannot describe');
    expect(r.stderr).toMatch(/ES1370 at 00:0[0-9a-f]\.0/);
    expect(r.stderr).toContain('isa-debugcon');
    expect(existsSync(join(dir, 'odd.machine'))).toBe(false);
    expect(existsSync(join(dir, 'odd.machine.lock'))).toBe(false);
  }, T);

  test('--qmp: a running VM is read over its socket, and the imported machine boots with the same guest view', async () => {
    const sock = join(dir, 'vm.qmp');
    const args = ['-machine', 'pc', '-device', 'pci-bridge,id=b1,chassis_nr=3,addr=0x8', '-netdev', 'user,id=u', '-device', 'virtio-net-pci,netdev=u,bus=b1,addr=0x2,id=inner', '-device', 'i6300esb'];
    const vm = spawn(QEMU!, [...args, '-display', 'none', '-accel', 'tcg', '-qmp', `unix:${sock},server=on,wait=off`], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const r = await runCli(['import', '--qmp', sock, '--name', 'live'], dir);
      expect(r.stderr).not.toMatch(/error/);
      expect(r.code).toBe(0);
    } finally {
      vm.kill('SIGKILL');
    }
    const source = readFileSync(join(dir, 'live.machine'), 'utf8');
    expect(source).toContain('device b1: pci-bridge @ 08.0 {');
    expect(source).toContain('device inner: virtio-net-pci @ 02.0 { netdev = user }');
    expect(source).toContain('device watchdog0: i6300esb');
    expect(source).not.toContain('e1000'); // -netdev given: QEMU adds no default NIC
    const v = await runCli(['verify', 'live.machine', '--qemu', QEMU!], dir);
    expect(v.stdout).toContain('every device is where the lock says');
    expect(lspci(await guestView(await built('live')))).toEqual(lspci(await guestView(args)));
  }, T);
});
