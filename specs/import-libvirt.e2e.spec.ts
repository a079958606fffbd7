/**
 * `machinec import --libvirt DOMAIN.xml` and `--libvirt-domain NAME` on domain XML libvirt wrote
 * itself: a minimal domain (no addresses) is defined in the real libvirtd, which places its
 * controllers and devices; `virsh dumpxml` of it is imported, the imported machine is built and
 * booted in QEMU, and its guest view (query-pci: every bus number, slot, function, vendor:device
 * and the bus behind every bridge) equals the libvirt-started domain's.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, emit, readLock } from '../compiler/index.js';
import type { GuestPciDevice } from '../cli/qemu/guest-view.js';
import { runCli } from './support/cli.js';
import { guestView } from './support/qemu.js';
import { expectWholeVm } from './support/libvirt-vm.js';
import { domainName, libvirtDescribe, libvirtGuestView, removeDomain, virsh, virshWithin, writeQcow2 } from './support/libvirt.js';

const T = 300_000;
let dir: string;
const domains: string[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-import-libvirt-'));
});
afterEach(() => {
  for (const d of domains.splice(0)) removeDomain(d);
  rmSync(dir, { recursive: true, force: true });
});

const disk = (file: string, bus: string, extra = '') => `<disk type='file' device='disk'><driver name='qemu' type='${file.endsWith('.qcow2') ? 'qcow2' : 'raw'}'/><source file='DIR/${file}'/><target dev='${bus === 'virtio' ? 'vd' : 'sd'}${file[0]}' bus='${bus}'/>${extra}</disk>`;
const nic = (model: string) => `<interface type='user'><model type='${model}'/></interface>`;
const domain = (machine: string, devices: string) =>
  `<domain type='qemu'><name>NAME</name><memory unit='MiB'>256</memory><vcpu>2</vcpu><os><type arch='x86_64' machine='${machine}'>hvm</type></os><features><acpi/><apic/></features><devices>${devices}</devices></domain>`;

/** Minimal domains: libvirt adds the root ports, bridges' addresses, USB, balloon and the rest. */
const cases: [string, string][] = [
  ['pc: a pci-bridge, virtio and IDE disks, three NICs', domain('pc', `<controller type='pci' index='1' model='pci-bridge'/>${disk('a.qcow2', 'virtio')}<disk type='file' device='disk'><source file='DIR/b.raw'/><target dev='hda' bus='ide'/></disk>${nic('e1000')}${nic('virtio')}${nic('rtl8139')}`)],
  ['q35: root ports libvirt adds, virtio disks, a SATA CD-ROM, NICs', domain('q35', `${disk('a.qcow2', 'virtio', '<serial>sys</serial><boot order=\'1\'/>')}${disk('b.raw', 'virtio')}<disk type='file' device='cdrom'><target dev='sdc' bus='sata'/><readonly/></disk>${nic('virtio')}${nic('e1000e')}${nic('virtio')}`)],
  ['q35: a pcie-to-pci-bridge with a pci-bridge behind it, conventional NICs, virtio-scsi disks, a USB tablet', domain('q35', `<controller type='pci' index='1' model='pcie-root-port'/><controller type='pci' index='2' model='pcie-to-pci-bridge'/><controller type='pci' index='3' model='pci-bridge'><address type='pci' bus='0x02' slot='0x01'/></controller><interface type='user'><model type='rtl8139'/><address type='pci' bus='0x03' slot='0x02'/></interface><interface type='user'><model type='e1000'/><address type='pci' bus='0x02' slot='0x03'/></interface><controller type='scsi' model='virtio-scsi'/>${disk('a.qcow2', 'scsi', "<address type='drive' controller='0' bus='0' target='0' unit='0'/>")}${disk('b.raw', 'scsi', "<address type='drive' controller='0' bus='0' target='3' unit='0'/>")}<input type='tablet' bus='usb'/>`)],
  ['pc: virtio-serial with a channel, rng, sound, watchdog, VGA, a second pci-bridge', domain('pc-i440fx-7.2', `<controller type='pci' index='1' model='pci-bridge'/><controller type='pci' index='2' model='pci-bridge'/><controller type='virtio-serial'/><channel type='pty'><target type='virtio' name='org.example.0'/></channel><rng model='virtio'><backend model='random'>/dev/urandom</backend></rng><sound model='ich6'/><watchdog model='i6300esb'/><video><model type='vga'/></video>${nic('e1000')}<interface type='user'><model type='virtio'/><address type='pci' bus='0x02' slot='0x05'/></interface>${disk('a.qcow2', 'virtio')}`)],
];

/** The view without ids: libvirt's ids and the imported machine's differ, the guest sees neither. */
const shape = (view: readonly GuestPciDevice[]): string[] =>
  view.map((g) => `${g.bus.toString(16).padStart(2, '0')}:${g.slot.toString(16).padStart(2, '0')}.${g.fn} ${g.vendor.toString(16).padStart(4, '0')}:${g.device.toString(16).padStart(4, '0')} class ${g.classId.toString(16)}${g.secondaryBus !== undefined ? ` secondary ${g.secondaryBus} subordinate ${g.subordinateBus}` : ''}`).sort();

/** Defines the minimal domain, returns its name and the XML libvirt writes for it. */
function defineMinimal(xml: string): { name: string; written: string } {
  const name = domainName();
  domains.push(name);
  for (const f of ['a.qcow2', 'b.raw']) {
    if (f.endsWith('.qcow2')) writeQcow2(join(dir, f));
    else {
      writeFileSync(join(dir, f), '');
      truncateSync(join(dir, f), 1 << 20);
    }
  }
  writeFileSync(join(dir, 'minimal.xml'), xml.replace('NAME', name).replace(/DIR/g, dir));
  virsh('define', '--validate', join(dir, 'minimal.xml'));
  return { name, written: virsh('dumpxml', name) };
}

async function importedView(machine: string): Promise<GuestPciDevice[]> {
  const source = readFileSync(join(dir, `${machine}.machine`), 'utf8');
  const lock = readFileSync(join(dir, `${machine}.machine.lock`), 'utf8');
  const c = compile({ file: `${machine}.machine`, source, lock: { file: `${machine}.machine.lock`, text: lock } });
  if (!c.ok) throw new Error(c.diagnostics.map((d) => d.message).join('\n'));
  expect(c.lockText).toBe(lock);
  return guestView(emit(c.spec!, c.machine!, { standIns: { fileExists: () => false, resolveFile: (p) => p } }));
}

libvirtDescribe('machinec import --libvirt on domains libvirt wrote', () => {
  test.each(cases)('%s: the imported machine shows the guest what the libvirt domain does', async (_title, minimal) => {
    const { name, written } = defineMinimal(minimal);
    writeFileSync(join(dir, 'domain.xml'), written);
    const r = await runCli(['import', '--libvirt', 'domain.xml', '--name', 'imported', '--timeout', '120'], dir);
    expect(`${r.code}\n${r.stderr}`).toMatch(/^0\n/);
    virshWithin(240_000, 'start', name);
    const libvirtView = await libvirtGuestView(name);
    const imported = await importedView('imported');
    expect(shape(imported)).toEqual(shape(libvirtView));
  }, T);

  test('--libvirt-domain NAME reads the defined domain with virsh dumpxml', async () => {
    const { name } = defineMinimal(cases[1][1]);
    const r = await runCli(['import', '--libvirt-domain', name, '--name', 'web', '--timeout', '120'], dir, { LIBVIRT_DEFAULT_URI: 'qemu:///system' });
    expect(`${r.code}\n${r.stderr}`).toMatch(/^0\n/);
    expect(readFileSync(join(dir, 'web.machine'), 'utf8')).toContain(`imported by \`machinec import\` from libvirt domain ${name}`);
    virshWithin(240_000, 'start', name);
    expect(shape(await importedView('web'))).toEqual(shape(await libvirtGuestView(name)));
  }, T);

  test('the whole VM: OVMF with secure boot and its VARS, the CPU model with Hyper-V flags, SMBIOS, the vmgenid, ttyS0 and VNC come over, as the libvirt-started guest shows', async () => {
    const display = 100 + Math.floor(Math.random() * 800);
    mkdirSync(join(dir, 'vm.state'));
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.ms.fd', join(dir, 'vm.state', 'OVMF_VARS.fd'));
    const whole = domain('q35', `<serial type='pty'><target type='isa-serial' port='0'><model name='isa-serial'/></target></serial><graphics type='vnc' port='${5900 + display}' autoport='no' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics><video><model type='vga'/></video>${nic('virtio')}${disk('a.qcow2', 'virtio')}`)
      .replace('</name>', "</name><genid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</genid><sysinfo type='smbios'><system><entry name='manufacturer'>Acme</entry><entry name='product'>Desk-1</entry></system></sysinfo>")
      .replace('hvm</type>', "hvm</type><loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>DIR/vm.state/OVMF_VARS.fd</nvram><smbios mode='sysinfo'/>")
      .replace('<apic/>', "<apic/><hyperv mode='custom'><relaxed state='on'/><vapic state='on'/></hyperv><smm state='on'/>")
      .replace('</features>', "</features><cpu mode='custom' match='exact' check='none'><model fallback='forbid'>Skylake-Client</model><topology sockets='1' dies='1' cores='2' threads='1'/></cpu><clock offset='utc'><timer name='hypervclock' present='yes'/></clock>");
    const { name, written } = defineMinimal(whole);
    writeFileSync(join(dir, 'domain.xml'), written);
    const r = await runCli(['import', '--libvirt', 'domain.xml', '--name', 'win', '--timeout', '120'], dir);
    expect(`${r.code}\n${r.stderr}`).toMatch(/^0\n/);
    for (const carried of ['<loader>', '<cpu>', '<genid>', '<sysinfo>', '<serial>', '<graphics>']) expect(r.stderr).not.toContain(`${carried}: `);
    const source = readFileSync(join(dir, 'win.machine'), 'utf8');
    expect(source).toMatch(/firmware = uefi \{[^}]*secure-boot = true/);
    expect(source).toContain(`display = vnc { listen = "127.0.0.1:${display}" }`);
    expect(source).toContain('serial = pty');
    virshWithin(240_000, 'start', name);
    await expectWholeVm(name, source, readLock(readFileSync(join(dir, 'win.machine.lock'), 'utf8'), 'win.machine.lock').lock!);
  }, T);

  test('a domain with what machinec cannot carry is refused, naming each, and nothing is written', async () => {
    writeFileSync(join(dir, 'bad.xml'), domain('q35', "<controller type='pci' index='1' model='dmi-to-pci-bridge'><address type='pci' bus='0x00' slot='0x1e'/></controller><hostdev mode='subsystem' type='pci'/>").replace('NAME', 'bad'));
    const r = await runCli(['import', '--libvirt', 'bad.xml', '--name', 'bad'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('PCI controller dmi-to-pci-bridge is not one machinec describes');
    expect(r.stderr).toContain('<hostdev> is not a device machinec describes');
    expect(r.stderr).toContain('nothing was written');
  });
});
