/**
 * `machinec import` on the real QEMU: for real command lines (pc and q35, with and without
 * -nodefaults, implicit and explicit addresses, a pci-bridge with a device behind it, disks, NICs),
 * import, then `machinec verify` the imported machine, and, independently of machinec's lock, boot
 * the original command line and the built one and compare the two guest views device by device
 * (bus, slot, function, vendor:device). The --qmp variant reads a VM this spec started itself.
 * The whole-VM command lines (OVMF pflash with secure boot, a TPM on an swtpm this spec starts,
 * -smp topology, -cpu, vmgenid; -blockdev pflash nodes, -cdrom with -hda, virtio-scsi, serial,
 * VNC, SMBIOS, 9p) boot under OVMF both ways, and QEMU's own answers (query-tpm, query-cpus-fast,
 * query-vm-generation-id) are compared as well; what import cannot carry is named in a warning.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForStableGuestView, withQemu, type GuestPciDevice } from '../cli/qemu/index.js';
import { startSwtpm, stopSwtpm } from '../cli/vm-state.js';
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

/** The source with its line breaks and indentation as single spaces (the formatter breaks long devices). */
const flat = (text: string): string => text.replace(/,/g, ' ').replace(/\s+/g, ' ');

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
    expect(source).toContain('memory = 256M');
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
    expect(source).toContain('cpus = 2');
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
    expect(flat(source)).toContain(flat(`device disk0: ide-hd { file = ${JSON.stringify(join(dir, 'old.img'))}, serial = "QM00001" }`));
  }, T);

  test('SCSI disks are named in the order of their SCSI ids, whatever order the command line gives them', async () => {
    const ids = [2, 0, 1];
    const { source, lock } = await importAndProve((d) =>
      ['-nodefaults', '-M', 'q35', '-device', 'virtio-scsi-pci,id=hba'].concat(
        ...ids.map((id) => {
          writeFileSync(join(d, `t${id}.raw`), Buffer.alloc(1024 * 1024));
          return ['-blockdev', `driver=raw,node-name=b${id},file.driver=file,file.filename=${join(d, `t${id}.raw`)}`, '-device', `scsi-hd,drive=b${id},scsi-id=${id}`];
        }),
      ),
    );
    for (const id of ids) {
      expect(flat(source)).toContain(flat(`device disk${id}: scsi-hd { file = ${JSON.stringify(join(dir, `t${id}.raw`))} }`));
      expect(lock).toMatch(new RegExp(`^scsi - disk${id} scsi-hd bus=hba\\.0 scsi-id=${id} `, 'm'));
    }
  }, T);

  test('stand-ins: a tap NIC and a missing disk are inspected with user and null-co, and imported as written', async () => {
    const r = await runCli(['import', '--name', 'srv', '--', QEMU!, '-nodefaults', '-M', 'pc', '-netdev', 'tap,id=t0,ifname=tap9,script=no,downscript=no', '-device', 'virtio-net-pci,netdev=t0,addr=0x5', '-drive', 'file=/nowhere/srv.qcow2,if=none,id=d0', '-device', 'virtio-blk-pci,drive=d0,addr=0x6', '-daemonize', '-monitor', 'stdio', '-vnc', ':3'], dir);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const source = readFileSync(join(dir, 'srv.machine'), 'utf8');
    expect(flat(source)).toContain(flat('device nic0: virtio-net-pci @ 05.0 { netdev = tap { ifname = "tap9", script = "no", downscript = "no" } }'));
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

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const OVMF_DIR = '/usr/share/OVMF';
const haveVm = existsSync(join(OVMF_DIR, 'OVMF_CODE_4M.secboot.fd')) && ['/usr/bin/swtpm', '/usr/local/bin/swtpm'].some(existsSync);
const vmTest = haveVm || process.env.CI ? test : test.skip;
const TV = 300_000;

/** An swtpm of the spec's own, on a temp TPM state: what the original VM's TPM talks to. */
async function swtpmAt(socketDir: string) {
  mkdirSync(socketDir, { recursive: true });
  return startSwtpm({ dir: socketDir, tpmSocket: join(socketDir, 'swtpm.sock'), tpmState: join(socketDir, 'tpm') });
}

/** Boots `args` (OVMF may take a while under TCG) and reads what the guest sees and what QEMU says of its TPM, CPUs and generation ID. */
async function boot(args: readonly string[]) {
  return withQemu({ qemu: QEMU, args: [...args], paused: true, timeoutMs: 60_000 }, async (h) => {
    const view = (await waitForStableGuestView(h.qmp, { timeoutMs: 120_000 })).devices;
    const tpm = await h.qmp.execute<{ model: string }[]>('query-tpm');
    const cpus = await h.qmp.execute<{ props: Record<string, number> }[]>('query-cpus-fast');
    const genid = await h.qmp.execute<{ guid: string }>('query-vm-generation-id').then((g) => g.guid.toLowerCase(), () => undefined);
    return { pci: lspci(view), tpm: tpm.map((t) => t.model), cpus: cpus.map((c) => `${c.props['socket-id']}/${c.props['core-id']}/${c.props['thread-id']}`), genid };
  });
}

qemuDescribe('machinec import of the whole VM on real QEMU', () => {
  vmTest('q35 with OVMF secure boot (pflash drives), a TPM on a running swtpm, -smp topology, -cpu with flags, vmgenid', async () => {
    const vars = join(dir, 'win_VARS.fd');
    copyFileSync(join(OVMF_DIR, 'OVMF_VARS_4M.ms.fd'), vars);
    const before = sha(vars);
    const guid = '6a3c1d3e-5b0e-4a7c-9d59-0c7f5d4a2b11';
    const original = (sock: string) => [
      '-machine', 'q35,smm=on', '-m', '1G', '-smp', '4,sockets=1,cores=2,threads=2', '-cpu', 'Skylake-Client,hv-relaxed=on,hv-time=on',
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${join(OVMF_DIR, 'OVMF_CODE_4M.secboot.fd')}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
      '-global', 'driver=cfi.pflash01,property=secure,value=on',
      '-chardev', `socket,id=chrtpm,path=${sock}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm', '-device', 'tpm-crb,tpmdev=tpm0,id=tpm',
      '-device', `vmgenid,id=genid,guid=${guid}`, '-accel', 'tcg',
    ];
    // The VM's own swtpm runs (import never connects to it: it inspects with a throwaway one).
    const vmTpm = await swtpmAt(join(dir, 'vm-tpm'));
    let r;
    try {
      r = await runCli(['import', '--name', 'win', '--timeout', '120', '--', QEMU!, ...original(join(dir, 'vm-tpm', 'swtpm.sock'))], dir);
    } finally {
      stopSwtpm(vmTpm);
    }
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(sha(vars)).toBe(before); // the VM's VARS file is never opened for writing by import
    const source = readFileSync(join(dir, 'win.machine'), 'utf8');
    const lock = readFileSync(join(dir, 'win.machine.lock'), 'utf8');
    expect(source).toContain('topology = { sockets = 1, cores = 2, threads = 2 }');
    expect(source).toContain('cpu = Skylake-Client { hv-relaxed = true, hv-time = true }');
    expect(source).toMatch(new RegExp(`firmware = uefi \\{\\s+secure-boot = true\\s+nvram = ${JSON.stringify(vars).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s+\\}`));
    expect(source).toContain('device tpm: tpm-crb');
    expect(source).toContain('device genid: vmgenid');
    expect(lock).toMatch(/^firmware uefi secure-boot=on code=\/usr\/share\/OVMF\/OVMF_CODE_4M\.secboot\.fd code-size=\d+ code-sha256=[0-9a-f]{64} vars=\/usr\/share\/OVMF\/OVMF_VARS_4M\.ms\.fd/m);
    expect(lock).toMatch(/^cpu Skylake-Client-v\d+ requested=Skylake-Client$/m);
    expect(lock).toContain(`system - genid vmgenid bus=sysbus guid=${guid}`);
    expect(lock).toContain('system - tpm tpm-crb bus=sysbus version=2.0');
    const fmt = await runCli(['fmt', '--check', 'win.machine'], dir);
    expect(fmt.code).toBe(0);

    // Both booted under OVMF, each with its own swtpm: the same PCI view, TPM, CPUs and generation ID.
    const a = await swtpmAt(join(dir, 'a'));
    const seen = await boot(original(join(dir, 'a', 'swtpm.sock'))).finally(() => stopSwtpm(a));
    const b = await swtpmAt(join(dir, 'win.state'));
    const args = (await built('win')).map((x) => x.replace('path=win.state/', `path=${join(dir, 'win.state')}/`));
    const again = await boot(args).finally(() => stopSwtpm(b));
    expect(again).toEqual(seen);
    expect(seen.tpm).toEqual(['tpm-crb']);
    expect(seen.cpus).toEqual(['0/0/0', '0/0/1', '0/1/0', '0/1/1']);
    expect(seen.genid).toBe(guid);
  }, TV);

  vmTest('pc with OVMF as -blockdev pflash0/pflash1, -cdrom plus -hda, a virtio-scsi disk, serial, VNC, SMBIOS, 9p; what cannot be carried is a warning naming it', async () => {
    const vars = join(dir, 'srv_VARS.fd');
    copyFileSync(join(OVMF_DIR, 'OVMF_VARS_4M.fd'), vars);
    for (const f of ['root.img', 'data.img', 'install.iso']) writeFileSync(join(dir, f), Buffer.alloc(1024 * 1024));
    mkdirSync(join(dir, 'www'));
    const original = [
      '-machine', 'pc,pflash0=code,pflash1=vars,hpet=off', '-m', '512',
      '-blockdev', `driver=file,filename=${join(OVMF_DIR, 'OVMF_CODE_4M.fd')},node-name=code,read-only=on`,
      '-blockdev', `driver=file,filename=${vars},node-name=vars`,
      '-cdrom', join(dir, 'install.iso'), '-hda', join(dir, 'root.img'),
      '-device', 'virtio-scsi-pci,id=scsi0', '-drive', `file=${join(dir, 'data.img')},if=none,id=data,format=raw`, '-device', 'scsi-hd,drive=data,bus=scsi0.0,scsi-id=1',
      '-serial', `unix:${join(dir, 'srv.serial')},server=on,wait=off`, '-serial', 'null', '-vnc', '127.0.0.1:7', '-smbios', 'type=1,manufacturer=Acme,product=Srv-2',
      '-fsdev', `local,id=fs0,path=${join(dir, 'www')},security_model=mapped-xattr`, '-device', 'virtio-9p-pci,fsdev=fs0,mount_tag=www,id=share',
      '-cpu', 'qemu64,l3-cache=off', '-accel', 'tcg',
    ];
    const r = await runCli(['import', '--name', 'srv', '--timeout', '120', '--', QEMU!, ...original], dir);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const source = readFileSync(join(dir, 'srv.machine'), 'utf8');
    expect(source).toContain(`firmware = uefi { nvram = ${JSON.stringify(vars)} }`);
    expect(source).toContain(`serial = socket { path = ${JSON.stringify(join(dir, 'srv.serial'))} }`);
    expect(source).toContain('display = vnc { listen = "127.0.0.1:7" }');
    expect(source).toContain('smbios = { manufacturer = "Acme", product = "Srv-2" }');
    expect(source).toContain(`device share: virtio-9p-pci {\n    path = ${JSON.stringify(join(dir, 'www'))}\n    tag = "www"\n  }`);
    expect(source).toMatch(/device scsi0: virtio-scsi-pci( @ [0-9a-f.]+)? \{\n\s+device disk\d: scsi-hd \{ file = /);
    expect(flat(source)).toContain(flat(`ide-hd { file = ${JSON.stringify(join(dir, 'root.img'))}`));
    expect(source).toContain(`ide-cd { file = ${JSON.stringify(join(dir, 'install.iso'))} }`);
    // Named, never dropped silently: the machine option, a CPU property machinec does not know, the second serial port.
    expect(r.stderr).toContain('warning[import-not-carried]: -machine hpet=off is not carried over');
    expect(r.stderr).toContain('-cpu flag l3-cache=off is not carried over');
    expect(r.stderr).toContain('-serial null is not carried over');
    const lock = readFileSync(join(dir, 'srv.machine.lock'), 'utf8');
    expect(lock).toMatch(/scsi - disk\d scsi-hd bus=scsi0\.0 scsi-id=1/);
    expect((await runCli(['fmt', '--check', 'srv.machine'], dir)).code).toBe(0);
    // -machine hpet=off is not PCI: the guest's PCI view is the same under OVMF both ways.
    const seen = await boot(original);
    const again = await boot(await built('srv'));
    expect(again.pci).toEqual(seen.pci);
    expect(seen.pci.some((l) => / 1af4:1009$/.test(l))).toBe(true); // the 9p device is on the bus
  }, TV);
});
