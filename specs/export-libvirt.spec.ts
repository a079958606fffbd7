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
  // The VM samples (issue 11: firmware, TPM, CPU, VNC/SPICE, serial, hostfwd, 9p) are not exported yet: until
  // the export carries those, they are left out here rather than pinned as failures.
  const VM_SAMPLES = new Set(['windows11.machine', 'linux-server.machine']);
  test.each(readdirSync(SAMPLES).filter((f) => f.endsWith('.machine') && !VM_SAMPLES.has(f)))('sample %s: the golden domain XML, the same bytes twice', (name) => {
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
