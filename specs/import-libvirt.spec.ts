/**
 * The libvirt domain XML reader of `machinec import --libvirt` without libvirt: strict XML (an
 * error with line and column, never a guess) and the QEMU command line a domain stands for.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseXml } from '../cli/import/libvirt-xml.js';
import { libvirtCommandLine, loadLibvirtXml } from '../cli/import/libvirt.js';

const here = import.meta.dirname ?? new URL('.', import.meta.url).pathname;

describe('libvirt XML reader', () => {
  test('elements, both quotes, entities, comments, CDATA and the declaration', () => {
    const root = parseXml(`<?xml version="1.0"?>\n<!-- c -->\n<domain type="qemu"><name>a&amp;b&#x21;</name><x v='&lt;&quot;'/><t><![CDATA[<raw>]]></t></domain>\n`);
    expect(root.name).toBe('domain');
    expect(root.children.map((c) => [c.name, c.text, c.attrs])).toEqual([['name', 'a&b!', {}], ['x', '', { v: '<"' }], ['t', '<raw>', {}]]);
  });

  test.each([
    ['<a><b></a>', 'unexpected close tag (line 1, column 10)'],
    ['<a x="1" x="2"/>', 'duplicate attribute: x (line 1, column 16)'],
    ['<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', 'a DOCTYPE is not read (libvirt writes none) (line 1, column 30)'],
    ['<a>&nbsp;</a>', 'undefined entity (line 1, column 9)'],
    ['<a>&#x110000;</a>', 'malformed character entity (line 1, column 13)'],
    ['<?xml-stylesheet href="x"?><a/>', 'processing instructions are not read (line 1, column 27)'],
    ['<a/>\n<b/>', 'documents may contain only one root (line 2, column 3)'],
    ['<a>', 'unclosed tag: a (line 1, column 3)'],
  ])('%s is refused: %s', (xml, message) => {
    expect(() => parseXml(xml)).toThrow(message);
  });

  test('200,000 nested elements are refused at the 65th level, without a stack overflow', () => {
    expect(() => parseXml('<a>' + '<b>'.repeat(200_000))).toThrow('elements nest deeper than 64 levels (line 1, column 195)');
  });

  test('namespaces by URI, whatever the prefix', () => {
    const root = parseXml("<domain xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'><q:commandline/></domain>");
    expect(root.children.map((c) => [c.name, c.uri, c.local])).toEqual([['q:commandline', 'http://libvirt.org/schemas/domain/qemu/1.0', 'commandline']]);
    expect(root.attrs).toEqual({});
  });

  test('200,000 sibling elements and 1.4 MB of text are read in one pass, with lines', () => {
    const root = parseXml(`<a>\n${'<b/>\n'.repeat(200_000)}<c>${'x'.repeat(1_400_000)}</c></a>`);
    expect(root.children).toHaveLength(200_001);
    expect(root.children[199_999].line).toBe(200_001);
    expect(root.children[200_000].text).toHaveLength(1_400_000);
  });
});

describe('libvirt domain → QEMU command line', () => {
  const domain = (devices: string, machine = 'pc-q35-7.2') => `<domain type='kvm'><name>web</name><uuid>d623da87-4197-477d-be98-5ad2dd8af7ea</uuid><memory unit='KiB'>2097152</memory><vcpu>4</vcpu><os><type arch='x86_64' machine='${machine}'>hvm</type></os><features><acpi/></features><cpu><topology sockets='1' dies='1' cores='2' threads='2'/></cpu><devices>${devices}</devices></domain>`;
  const pci = (bus: number, slot: number, fn = 0, multi = false) => `<address type='pci' domain='0x0000' bus='0x${bus.toString(16).padStart(2, '0')}' slot='0x${slot.toString(16).padStart(2, '0')}' function='0x${fn}'${multi ? " multifunction='on'" : ''}/>`;

  test("controllers by index, devices at their addresses, machinec's own ids back from ua- aliases", () => {
    const r = libvirtCommandLine(domain(`<controller type='pci' index='0' model='pcie-root'/><controller type='pci' index='1' model='pcie-root-port'><model name='pcie-root-port'/><target chassis='1' port='0x10'/>${pci(0, 2, 0, true)}</controller><interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><model type='virtio'/><acpi index='2'/><alias name='ua-wan'/>${pci(1, 0)}</interface><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/vm/a.qcow2'/><target dev='sda' bus='sata'/><serial>s1</serial><boot order='1'/><address type='drive' controller='0' bus='0' target='0' unit='3'/></disk><controller type='sata' index='0'>${pci(0, 0x1f, 2)}</controller><graphics type='vnc'/>`));
    expect(r.errors).toEqual([]);
    expect(r.args).toEqual([
      '-machine', 'pc-q35-7.2', '-m', '2048M', '-smp', '4,sockets=1,dies=1,cores=2,threads=2', '-nodefaults', '-uuid', 'd623da87-4197-477d-be98-5ad2dd8af7ea',
      '-device', 'pcie-root-port,id=pci1,port=0x10,chassis=1,bus=pcie.0,addr=0x2.0x0,multifunction=on',
      '-netdev', 'bridge,id=hostnet-wan,br=br0', '-device', 'virtio-net-pci,id=wan,netdev=hostnet-wan,mac=52:54:00:00:00:01,bus=pci1,addr=0x0.0x0,acpi-index=2',
      '-drive', 'if=none,id=drive-sata-disk0,file=/vm/a.qcow2,format=qcow2', '-device', 'ide-hd,id=sata-disk0,drive=drive-sata-disk0,bus=ide.3,serial=s1,bootindex=1',
    ]);
    expect(r.notes).toEqual(['<graphics> (line 1): vnc with a port libvirt picks is not carried over (machinec carries VNC and SPICE on a fixed port, and SDL)']);
  });

  test("the whole VM of `machinec export libvirt`'s own domains comes back as the QEMU options libvirt gives", () => {
    const golden = (name: string) => libvirtCommandLine(readFileSync(join(here, 'export', 'libvirt', `${name}.xml`), 'utf8'));
    const win = golden('windows11');
    const after = (args: readonly string[], option: string) => args.filter((_, i) => args[i - 1] === option);
    expect(after(win.args, '-machine')).toEqual(['pc-q35-7.2,smm=on']);
    expect(after(win.args, '-drive').slice(0, 2)).toEqual(['if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd', 'if=pflash,format=raw,unit=1,file=/srv/vms/m.state/OVMF_VARS.fd']);
    expect(after(win.args, '-global')).toEqual(['driver=cfi.pflash01,property=secure,value=on']);
    expect(after(win.args, '-cpu')).toEqual(['Skylake-Client,hv-relaxed=on,hv-vapic=on,hv-time=on']);
    expect(after(win.args, '-smbios')).toEqual(['type=1,manufacturer=Acme,product=Desk-1']);
    expect(after(win.args, '-device')).toContain('vmgenid,id=genid,guid=3d5c6057-d2c3-4b5b-a0df-53f7808739bb');
    expect(after(win.args, '-serial')).toEqual(['unix:/srv/vms/win11.serial,server=on,wait=off']);
    expect(after(win.args, '-vnc')).toEqual(['127.0.0.1:1']);
    // The TPM stays a note: libvirt keeps its state where machinec's swtpm does not look.
    expect(win.notes).toEqual([expect.stringMatching(/^<tpm> \(line \d+\): the TPM/)]);
    const server = golden('linux-server');
    expect(after(server.args, '-cpu')).toEqual(['EPYC-Rome']);
    expect(after(server.args, '-spice')).toEqual(['port=5930,addr=127.0.0.1,disable-ticketing=on']);
    expect(after(server.args, '-fsdev')).toEqual(['local,id=fsdev-share,path=/srv/www,security_model=mapped-xattr']);
    expect(after(server.args, '-device')).toContain('virtio-9p-pci,id=share,fsdev=fsdev-share,mount_tag=www,bus=rp4,addr=0x0.0x0');
    expect(server.notes).toEqual([]);
    // Only what the export sends to <qemu:commandline> is left: refused, as QEMU arguments are.
    for (const r of [win, server]) expect(r.errors).toEqual([expect.stringMatching(/^<qemu:commandline> \(line \d+\): QEMU arguments/)]);
  });

  test('what machinec cannot carry is an error naming it', () => {
    const r = libvirtCommandLine(domain(`<controller type='scsi' index='0' model='lsilogic'>${pci(0, 3)}</controller><interface type='vhostuser'><model type='virtio'/>${pci(0, 4)}</interface><disk type='file' device='disk'><target dev='vda' bus='virtio'/></disk>`));
    expect(r.errors).toEqual([
      '<controller> (line 1): controller scsi model lsilogic is not one machinec describes',
      '<interface> (line 1): interface type vhostuser is not carried (machinec\'s netdevs: user, tap, bridge, socket)',
      "<disk> (line 1): no <address>: give every device its address (as `virsh dumpxml` of a defined domain does)",
    ]);
    expect(libvirtCommandLine('<domain><os><type machine="virt"/></os></domain>').errors).toEqual(['machine type virt is not a pc or q35 machine']);
    expect(libvirtCommandLine('<network/>').errors).toEqual(['the root element is <network>, not <domain>']);
  });

  test("libvirt's QEMU namespace under any prefix is refused, and a second <devices> block is read as libvirt reads it", () => {
    const nic = (slot: number) => `<interface type='user'><mac address='52:54:00:00:00:0${slot}'/><model type='e1000'/>${pci(0, slot)}</interface>`;
    const q = domain(nic(3)).replace('<domain ', "<domain xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0' ").replace('</devices>', "</devices><q:commandline><q:arg value='-device'/><q:arg value='e1000,id=extra'/></q:commandline>");
    expect(libvirtCommandLine(q).errors).toEqual([expect.stringMatching(/^<q:commandline> \(line 1\): QEMU arguments and overrides/)]);
    const two = domain(nic(3)).replace('</devices>', `</devices><devices>${nic(4)}</devices>`);
    const r = libvirtCommandLine(two);
    expect(r.errors).toEqual([]);
    expect(r.args.filter((a) => a.startsWith('e1000,'))).toHaveLength(2);
  });
});

describe('reading the domain XML', () => {
  test('a FIFO, a device and an over-large file are refused at once; a domain name cannot be an option', () => {
    const dir = mkdtempSync(join(tmpdir(), 'machinec-libvirt-read-'));
    try {
      execFileSync('mkfifo', [join(dir, 'fifo.xml')]);
      writeFileSync(join(dir, 'big.xml'), '');
      truncateSync(join(dir, 'big.xml'), 17 << 20);
      const read = (file: string) => loadLibvirtXml(dir, {}, { file });
      expect(read('fifo.xml')).toEqual({ error: expect.stringContaining('not a regular file'), hint: expect.any(String) });
      expect(read('/dev/zero')).toEqual({ error: expect.stringContaining('not a regular file'), hint: expect.any(String) });
      expect(read('big.xml')).toEqual({ error: expect.stringContaining('more than the 16777216 (16 MiB)'), hint: expect.any(String) });
      expect(loadLibvirtXml(dir, {}, { domain: '--help' })).toEqual({ error: '--help is not a domain name', hint: expect.any(String) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
