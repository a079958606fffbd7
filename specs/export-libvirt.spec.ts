/**
 * `machinec export libvirt` without libvirt: each sample's domain XML (goldens under
 * specs/export/libvirt/, byte-identical on every run), and the diagnostics for what libvirt's
 * XML cannot say: an error naming it by default, `<qemu:commandline>` with a warning on request.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compile, exportLibvirt } from '../compiler/index.js';
import { expectGolden } from './support/golden.js';

const ROOT = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const SAMPLES = join(ROOT, 'samples');

function exported(source: string, lock?: string, opts: { qemuCommandline?: boolean } = {}) {
  const c = compile({ file: 'm.machine', source, lock: lock === undefined ? undefined : { file: 'm.machine.lock', text: lock } });
  if (!c.ok) throw new Error(c.diagnostics.map((d) => d.message).join('\n'));
  return exportLibvirt({ spec: c.spec!, machine: c.machine!, baseDir: '/srv/vms', accel: 'tcg', ...opts });
}

const codes = (r: ReturnType<typeof exported>) => r.diagnostics.map((d) => `${d.severity} ${d.code}: ${d.message}`);

describe('export libvirt', () => {
  test.each(readdirSync(SAMPLES).filter((f) => f.endsWith('.machine')))('sample %s: the golden domain XML, the same bytes twice', (name) => {
    const source = readFileSync(join(SAMPLES, name), 'utf8');
    const lock = readFileSync(join(SAMPLES, `${name}.lock`), 'utf8');
    const a = exported(source, lock, { qemuCommandline: true });
    const b = exported(source, lock, { qemuCommandline: true });
    expect(a.xml).toBeDefined();
    expect(a.xml).toBe(b.xml);
    expectGolden(join(ROOT, 'specs', 'export', 'libvirt', name.replace(/\.machine$/, '.xml')), a.xml!);
    expectGolden(join(ROOT, 'specs', 'export', 'libvirt', name.replace(/\.machine$/, '.diagnostics.txt')), codes(a).join('\n') + '\n');
  });

  test('what the XML cannot say is an error naming it, and nothing is exported', () => {
    const r = exported('machine m {\n  device wan: virtio-net-pci { netdev = user { hostfwd = "tcp::2222-:22" } }\n  device n: nvme { file = "n.img" }\n}\n');
    expect(r.xml).toBeUndefined();
    expect(codes(r)).toEqual([
      'error libvirt-unsupported: netdev user { hostfwd } of wan has no libvirt form',
      'error libvirt-unsupported: n (nvme): libvirt 9.0 has no NVMe disk bus',
    ]);
  });

  test('with qemuCommandline, such a device is carried as JSON -device at its locked address, with a warning', () => {
    const r = exported('machine m {\n  chipset = pc\n  device u: piix3-usb-uhci {\n    device t: usb-tablet\n  }\n}\n', undefined, { qemuCommandline: true });
    expect(r.xml).toContain(`<qemu:arg value='{&quot;driver&quot;:&quot;piix3-usb-uhci&quot;,&quot;id&quot;:&quot;ua-u&quot;,&quot;bus&quot;:&quot;pci.0&quot;,&quot;addr&quot;:&quot;03.0&quot;}'/>`);
    expect(r.xml).toContain(`<controller type='usb' model='none'/>`);
    expect(codes(r).map((c) => c.split(':')[0])).toEqual(['warning libvirt-commandline', 'warning libvirt-commandline']);
  });

  test('source properties without a libvirt element go to <qemu:override>, with a warning', () => {
    const r = exported('machine m {\n  device n: virtio-net-pci { netdev = user, mq = true, vectors = 4 }\n}\n');
    expect(r.xml).toContain(`<qemu:device alias='ua-n'>`);
    expect(r.xml).toContain(`<qemu:property name='mq' type='bool' value='true'/>`);
    expect(r.xml).toContain(`<qemu:property name='vectors' type='unsigned' value='4'/>`);
    expect(codes(r)).toEqual(['warning libvirt-override: mq of n has no libvirt element: it goes to <qemu:override>', 'warning libvirt-override: vectors of n has no libvirt element: it goes to <qemu:override>']);
  });

  test('nothing is left for libvirt to add: no balloon, no USB, the chipset IDE/SATA at its built-in address', () => {
    const r = exported('machine m {\n  chipset = q35\n}\n');
    expect(r.xml).toContain(`<memballoon model='none'/>`);
    expect(r.xml).toContain(`<controller type='usb' model='none'/>`);
    expect(r.xml).toContain(`<controller type='sata' index='0'>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>`);
  });
});

describe('export libvirt: the whole VM', () => {
  const vm = (head: string, body = '') => exported(`machine m {\n  chipset = q35\n${head}\n${body}}\n`);

  test('firmware, SMM, TPM, vmgenid, SMBIOS, serial and VNC as libvirt elements', () => {
    const r = vm('  firmware = uefi { secure-boot = true }\n  smbios = { product = "P", manufacturer = "M" }\n  serial = socket { path = "s.sock" }\n  display = vnc { listen = "127.0.0.1:3" }', '  device t: tpm-tis {}\n  device g: vmgenid { guid = "3D5C6057-D2C3-4B5B-A0DF-53F7808739BB" }\n');
    expect(r.xml).toContain(`<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</loader>\n    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/srv/vms/m.state/OVMF_VARS.fd</nvram>`);
    expect(r.folders).toEqual(['/srv/vms/m.state']);
    expect(r.xml).toContain(`<smm state='on'/>`);
    expect(r.xml).toContain(`<tpm model='tpm-tis'>\n      <backend type='emulator' version='2.0'/>`);
    expect(r.xml).toContain(`<genid>3d5c6057-d2c3-4b5b-a0df-53f7808739bb</genid>`);
    expect(r.xml).toContain(`<entry name='manufacturer'>M</entry>\n      <entry name='product'>P</entry>`);
    expect(r.xml).toContain(`<serial type='unix'>\n      <source mode='bind' path='/srv/vms/s.sock'/>`);
    expect(r.xml).toContain(`<graphics type='vnc' port='5903' autoport='no' listen='127.0.0.1'>`);
    expect(codes(r)).toContain("warning libvirt-override: t: under libvirt the TPM's state lives where libvirt keeps it (/var/lib/libvirt/swtpm/UUID), not in the machine's state folder");
  });

  test("the topology is QEMU's: cores from cpus on 6.2 and later machine types, sockets before", () => {
    expect(vm('  cpus = 4').xml).toContain(`<topology sockets='1' dies='1' cores='4' threads='1'/>`);
    expect(exported('machine m {\n  chipset = pc-q35-6.1\n  cpus = 4\n}\n').xml).toContain(`<topology sockets='4' dies='1' cores='1' threads='1'/>`);
    expect(vm('  cpus = 8\n  topology = { cores = 4, threads = 2 }').xml).toContain(`<topology sockets='1' dies='1' cores='4' threads='2'/>`);
  });

  test('CPU: an unversioned model as written (its locked version under the machine type), Hyper-V flags as <hyperv>, hv-time as a timer', () => {
    const r = vm('  cpu = Skylake-Client { hv-relaxed = true, hv-spinlocks = 8191, hv-time = true, pcid = false }');
    expect(r.xml).toContain(`<model fallback='forbid'>Skylake-Client</model>`);
    expect(r.xml).toContain(`<hyperv mode='custom'>\n      <relaxed state='on'/>\n      <spinlocks state='on' retries='8191'/>\n    </hyperv>`);
    expect(r.xml).toContain(`<feature policy='disable' name='pcid'/>`);
    expect(r.xml).toContain(`<timer name='hypervclock' present='yes'/>`);
    expect(codes(vm('  cpu = Skylake-Client-v2'))).toEqual(['error libvirt-unsupported: cpu Skylake-Client-v2: libvirt 9.0 knows no versioned CPU model names']);
    expect(codes(vm('  cpu = Skylake-Client { hv-syndbg = true }'))).toEqual(['error libvirt-unsupported: cpu flag hv-syndbg has no libvirt 9.0 <hyperv> element']);
  });

  test('what libvirt cannot say about the display is an error; qemu-args go to <qemu:commandline> with a warning', () => {
    expect(codes(vm('  display = vnc { password = true }'))[0]).toMatch(/^error libvirt-unsupported: display vnc: libvirt takes a VNC password only written in the XML/);
    expect(codes(vm('  display = gtk'))).toEqual(['error libvirt-unsupported: display gtk: has no libvirt <graphics> form here']);
    const r = vm('  qemu-args = ["-global", "ICH9-LPC.disable_s3=1"]');
    expect(r.xml).toContain(`<qemu:arg value='-global'/>\n    <qemu:arg value='ICH9-LPC.disable_s3=1'/>`);
    expect(codes(r)).toEqual(['warning libvirt-commandline: qemu-args go to <qemu:commandline>: -global ICH9-LPC.disable_s3=1']);
  });

  test('9p as <filesystem> in mapped mode, acpi-index as <acpi index>', () => {
    const r = vm('', '  device fs: virtio-9p-pci { path = "www", tag = "web", readonly = true }\n  device n: e1000e { netdev = user, acpi-index = auto }\n');
    expect(r.xml).toContain(`<filesystem type='mount' accessmode='mapped'>\n      <driver type='path'/>\n      <source dir='/srv/vms/www'/>\n      <target dir='web'/>\n      <readonly/>`);
    expect(r.xml).toContain(`<acpi index='1'/>`);
    expect(codes(r)).toEqual([]);
  });
});

test("a pc's PIIX3 USB controller at 01.2 (libvirt's default, behind the chipset's ISA bridge at 01.0) compiles and exports", () => {
  const r = exported('machine m {\n  chipset = pc\n  device usb: piix3-usb-uhci @ 01.2\n}\n');
  expect(codes(r)).toEqual([]);
  expect(r.xml).toContain(`<controller type='usb' index='0' model='piix3-uhci'>\n      <alias name='ua-usb'/>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>`);
});
