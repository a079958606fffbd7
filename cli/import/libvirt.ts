/**
 * `machinec import --libvirt DOMAIN.xml`: libvirt domain XML (as `virsh dumpxml` writes it, every
 * controller and device with its address) read into the QEMU command line libvirt 9.0 would give
 * the guest: the same machine type, controllers, devices, addresses, chassis and port numbers,
 * MACs, serials and boot order. That command line then goes the way every import goes (inspected
 * in a harmless QEMU run, adopted, built and compared), so nothing here places anything.
 *
 * Ids: a user alias `ua-ID` (what `machinec export libvirt` writes) gives back ID; other aliases,
 * or libvirt's own naming where the XML has none (an inactive domain's dumpxml), name the rest.
 */
import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { chipsetNames, chipsetOfMachineType, chipsets, DEFAULT_QEMU_BINARY, escapeOptionValue as esc, tpmModels, type Chipset } from '../../compiler/index.js';
import { readText } from '../io.js';
import { at, child, childrenNamed, parseXml, XmlError, type XmlNode } from './libvirt-xml.js';
import { watch, type NotNeeded, type Seen } from './libvirt-seen.js';
import { cpuArgs, firmwareArgs, genidArgs, graphicsArgs, serialArgs, smbiosArgs } from './libvirt-vm.js';

export interface LibvirtCommandLine {
  /** The domain's name. */
  readonly name?: string;
  /** qemu-system-x86_64 arguments, key=value syntax. */
  readonly args: string[];
  /** What the .machine does not carry (graphics, consoles, …), for the import's notes. */
  readonly notes: string[];
  /** What cannot be read: nothing is imported. */
  readonly errors: string[];
  /** What the domain says that does not change the guest (its description, libvirt's own names, host-side settings), each with why. */
  readonly notNeeded: string[];
}

interface Reader {
  readonly root: XmlNode;
  readonly chipset: Chipset;
  readonly args: string[];
  /**
   * Devices on controllers' own buses (disks on SATA/IDE/SCSI/USB, USB input, codecs, channels),
   * each with its backend: created last, in reverse order, so QEMU's qtree (newest first) lists
   * each bus in the XML's order, the order import's adopt path reads back stably.
   */
  readonly later: string[][];
  readonly notes: string[];
  readonly errors: string[];
  /** libvirt controller index → QEMU bus id, per controller type (`pci` 1 → `pci.1`, `usb` 0 → `usb`). */
  readonly controllers: Map<string, string>;
  readonly ids: Set<string>;
  readonly counters: Map<string, number>;
  readonly seen: Seen;
}

/** Whether `n` has a child element `name` (an empty one such as `<readonly/>` counts as read). */
const present = (n: XmlNode | undefined, name: string): boolean => child(n, name)?.line !== undefined;

/** QEMU's id syntax: what a user alias gives back must be one, never an option list. */
const QEMU_ID = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
export const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : /^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : undefined);

function fail(r: Reader, n: XmlNode, why: string): undefined {
  r.errors.push(`${at(n)}: ${why}`);
  return undefined;
}

/** The QEMU id of a device: its user alias without `ua-`, its alias, or libvirt's own name. */
function idOf(r: Reader, n: XmlNode, fallback: string, userAliasOnly = false): string {
  const alias = child(n, 'alias')?.attrs.name;
  let id = alias?.startsWith('ua-') ? alias.slice(3) : (!userAliasOnly && alias) || fallback;
  if (!QEMU_ID.test(id)) {
    fail(r, n, `alias ${alias} is no QEMU id (a letter, then letters, digits, '-', '_' and '.')`);
    id = fallback;
  }
  if (r.ids.has(id)) id = `${id}-${r.ids.size}`;
  r.ids.add(id);
  return id;
}

function next(r: Reader, prefix: string): string {
  const n = r.counters.get(prefix) ?? 0;
  r.counters.set(prefix, n + 1);
  return `${prefix}${n}`;
}

/** `bus=…,addr=…[,multifunction=on]` from `<address type='pci'>`. */
function pciPlace(r: Reader, n: XmlNode): string | undefined {
  const a = child(n, 'address');
  if (!a) return fail(r, n, 'no <address>: give every device its address (as `virsh dumpxml` of a defined domain does)');
  if (a.attrs.type !== 'pci') return fail(r, n, `address type ${a.attrs.type} is not a PCI address`);
  if ((num(a.attrs.domain) ?? 0) !== 0) return fail(r, n, 'PCI domains other than 0 are not read');
  const bus = r.controllers.get(`pci/${num(a.attrs.bus) ?? 0}`);
  const slot = num(a.attrs.slot);
  const fn = num(a.attrs.function) ?? 0;
  if (bus === undefined) return fail(r, n, `bus ${a.attrs.bus} is no PCI controller of this domain`);
  if (slot === undefined) return fail(r, n, 'the address has no slot');
  return `bus=${bus},addr=0x${slot.toString(16)}.0x${fn.toString(16)}${a.attrs.multifunction === 'on' ? ',multifunction=on' : ''}`;
}

const PCI_CONTROLLERS: Readonly<Record<string, string>> = { 'pcie-root-port': 'pcie-root-port', 'pci-bridge': 'pci-bridge', 'pcie-to-pci-bridge': 'pcie-pci-bridge' };

/** PCI controllers, parents first (libvirt gives a parent a lower index). */
function pciControllers(r: Reader, list: XmlNode[]): void {
  const rootId = chipsets[r.chipset].rootBus;
  r.controllers.set('pci/0', rootId);
  const pci = list.filter((c) => c.attrs.type === 'pci').sort((a, b) => (num(a.attrs.index) ?? 0) - (num(b.attrs.index) ?? 0));
  for (const c of pci) {
    const index = num(c.attrs.index) ?? 0;
    const model = c.attrs.model;
    if (model === 'pci-root' || model === 'pcie-root') {
      if (index !== 0) fail(r, c, `a second ${model} (pci-expander-bus) is not read`);
      continue;
    }
    const qemu = PCI_CONTROLLERS[model ?? ''];
    const named = child(c, 'model')?.attrs.name;
    if (!qemu || (named && named !== qemu)) {
      fail(r, c, `PCI controller ${model}${named ? ` (${named})` : ''} is not one machinec describes (pcie-root-port, pci-bridge, pcie-to-pci-bridge)`);
      continue;
    }
    // Not libvirt's `pci.N`: import names such ids anew, and its guest-view comparison goes by id.
    const id = idOf(r, c, `pci${index}`, true);
    r.controllers.set(`pci/${index}`, id);
    const place = pciPlace(r, c);
    if (!place) continue;
    const t = child(c, 'target');
    for (const k of Object.keys(t?.attrs ?? {})) if (!['chassis', 'port', 'chassisNr', 'busNr'].includes(k)) fail(r, c, `<target ${k}=…> is not carried`);
    let extra = '';
    if (qemu === 'pcie-root-port') extra = `,port=${esc(t?.attrs.port ?? '0')},chassis=${num(t?.attrs.chassis) ?? index}`;
    if (qemu === 'pci-bridge') extra = `,chassis_nr=${num(t?.attrs.chassisNr) ?? index}`;
    r.args.push('-device', `${qemu},id=${id}${extra},${place}`);
  }
}

/** USB, SATA, IDE, SCSI and virtio-serial controllers. */
function otherControllers(r: Reader, list: XmlNode[]): void {
  for (const c of list) {
    const index = num(c.attrs.index) ?? 0;
    const type = c.attrs.type;
    const model = c.attrs.model;
    const builtin = child(c, 'address');
    const slot = num(builtin?.attrs.slot);
    const fn = num(builtin?.attrs.function);
    const onRoot = builtin?.attrs.type === 'pci' && (num(builtin.attrs.domain) ?? 0) === 0 && (num(builtin.attrs.bus) ?? 0) === 0;
    if (type === 'pci') continue;
    // The chipset's own: PIIX3 IDE (at 01.1, whatever libvirt writes) or ICH9 SATA at 1f.2 on the root bus.
    const disks = chipsets[r.chipset].diskController;
    if (type === disks.libvirtType && index === 0 && (type === 'ide' || (onRoot && slot === disks.addr.slot && fn === disks.addr.fn))) {
      r.controllers.set(`${type}/0`, 'ide');
      continue;
    }
    if (type === 'usb' && model === 'none') continue;
    const kinds: Record<string, [string, string] | undefined> = {
      'usb/qemu-xhci': ['qemu-xhci', index ? `usb${index}` : 'usb'],
      'usb/piix3-uhci': ['piix3-usb-uhci', index ? `usb${index}` : 'usb'],
      [`sata/${model}`]: type === 'sata' ? ['ich9-ahci', `sata${index}`] : undefined,
      'scsi/virtio-scsi': ['virtio-scsi-pci', `scsi${index}`],
      [`virtio-serial/${model}`]: type === 'virtio-serial' && (!model || model === 'virtio') ? ['virtio-serial-pci', `virtio-serial${index}`] : undefined,
    };
    const kind = kinds[`${type}/${model}`];
    if (!kind) {
      fail(r, c, `controller ${type}${model ? ` model ${model}` : ''} is not one machinec describes`);
      continue;
    }
    const id = idOf(r, c, kind[1], kind[1] === 'ide');
    r.controllers.set(`${type}/${index}`, id);
    const place = pciPlace(r, c);
    if (!place) continue;
    const ports = num(c.attrs.ports);
    const extra = ports === undefined ? '' : kind[0] === 'qemu-xhci' ? `,p2=${ports},p3=${ports}` : kind[0] === 'virtio-serial-pci' ? `,max_ports=${ports}` : '';
    r.args.push('-device', `${kind[0]},id=${id}${extra},${place}`);
  }
}

/** The drive address of a disk on SATA, IDE or SCSI, as QEMU's bus= (and unit/scsi-id). */
function drivePlace(r: Reader, n: XmlNode, bus: string): string | undefined {
  const a = child(n, 'address');
  if (a?.attrs.type !== 'drive') return fail(r, n, `a ${bus} disk needs <address type='drive'>`);
  const [controller, b, target, unit] = ['controller', 'bus', 'target', 'unit'].map((k) => num(a.attrs[k]) ?? 0);
  const owner = r.controllers.get(`${bus}/${controller}`);
  if (!owner) return fail(r, n, `${bus} controller ${controller} is not in this domain`);
  if (bus === 'scsi') return unit || b ? fail(r, n, `SCSI bus ${b} unit ${unit}: machinec places a SCSI disk by its target (scsi-id), on bus 0 and LUN 0`) : `bus=${owner}.0,channel=0,scsi-id=${target},lun=0`;
  if (bus === 'ide') return `bus=${owner}.${b},unit=${unit}`;
  return `bus=${owner}.${unit}`;
}

const DISK_MODELS: Readonly<Record<string, [string, string]>> = { virtio: ['virtio-blk-pci', 'virtio-blk-pci'], sata: ['ide-hd', 'ide-cd'], ide: ['ide-hd', 'ide-cd'], scsi: ['scsi-hd', 'scsi-cd'], usb: ['usb-storage', 'usb-storage'] };

function disk(r: Reader, n: XmlNode): void {
  const target = child(n, 'target');
  const bus = target?.attrs.bus ?? 'virtio';
  const cdrom = n.attrs.device === 'cdrom';
  const models = DISK_MODELS[bus];
  if (!models || (n.attrs.device && !['disk', 'cdrom'].includes(n.attrs.device)) || (cdrom && bus === 'virtio')) return void fail(r, n, `a ${n.attrs.device ?? 'disk'} on bus ${bus} is not one machinec describes`);
  if (n.attrs.type !== 'file' && n.attrs.type !== 'block') return void fail(r, n, `disk type ${n.attrs.type} (not a file or block device) is not carried`);
  const source = child(n, 'source');
  const file = source?.attrs.file ?? source?.attrs.dev;
  const format = child(n, 'driver')?.attrs.type;
  if (format !== undefined && !/^[a-z0-9]+$/.test(format)) return void fail(r, n, `disk format ${format} is not an image format`);
  // libvirt gives a transient disk an overlay it throws away; the same image in a machine would be written to.
  if (present(n, 'transient')) {
    const why = `<transient/>: libvirt discards what the guest writes to ${file ?? 'the disk'}, a machine would write to it`;
    return void fail(r, n, `${why}: remove <transient/> (or import a copy of the image) to import the rest`);
  }
  const id = idOf(r, n, next(r, `${bus}-disk`));
  const drive = [`if=none`, `id=drive-${id}`, ...(file !== undefined ? [`file=${esc(file)}`] : []), ...(format ? [`format=${format}`] : []), ...(present(n, 'readonly') || cdrom ? ['readonly=on'] : []), ...(cdrom ? ['media=cdrom'] : [])];
  const place = bus === 'virtio' ? pciPlace(r, n) : bus === 'usb' ? usbPlace(r, n) : drivePlace(r, n, bus);
  if (!place) return;
  const serial = child(n, 'serial')?.text;
  const boot = bootOrder(r, n);
  const model = models[cdrom ? 1 : 0] + (n.attrs.model === 'virtio-non-transitional' ? ',disable-legacy=on,disable-modern=off' : '');
  const group = ['-drive', drive.join(','), '-device', `${model},id=${id},drive=drive-${id},${place}${serial ? `,serial=${esc(serial)}` : ''}${boot ? `,bootindex=${boot}` : ''}`];
  if (bus === 'virtio') r.args.push(...group);
  else r.later.push(group);
}

/** `<address type='usb' bus='0' port='1'/>` → bus=usb.0,port=1. */
function usbPlace(r: Reader, n: XmlNode): string | undefined {
  const a = child(n, 'address');
  if (a?.attrs.type !== 'usb') return fail(r, n, "a USB device needs <address type='usb'>");
  const owner = r.controllers.get(`usb/${num(a.attrs.bus) ?? 0}`);
  if (!owner) return fail(r, n, `USB controller ${a.attrs.bus} is not in this domain`);
  const port = a.attrs.port;
  if (!/^\d+(?:\.\d+)*$/.test(port ?? '')) return fail(r, n, `USB port ${port} is not a port number`);
  return `bus=${owner}.0,port=${port}`;
}

const NIC_MODELS: Readonly<Record<string, string>> = { virtio: 'virtio-net-pci', e1000: 'e1000', e1000e: 'e1000e', rtl8139: 'rtl8139' };

function netdev(r: Reader, n: XmlNode, id: string): string | undefined {
  const source = child(n, 'source');
  switch (n.attrs.type) {
    case 'user':
      return `user,id=${id}`;
    case 'network':
      r.notes.push(`${at(n)}: libvirt network ${source?.attrs.network ?? ''} is imported as netdev user (machinec has no libvirt networks: write bridge { br = "…" } for the network's bridge)`);
      return `user,id=${id}`;
    case 'bridge':
      return `bridge,id=${id},br=${esc(source?.attrs.bridge ?? 'br0')}`;
    case 'ethernet': {
      const dev = child(n, 'target')?.attrs.dev;
      // managed='no': a tap that exists already, as a machine's tap netdev expects one.
      if (child(n, 'target')?.attrs.managed !== 'no') r.notes.push(`${at(n)}: libvirt creates this tap on the host; a machine opens one that exists`);
      return `tap,id=${id}${dev ? `,ifname=${esc(dev)}` : ''},script=no,downscript=no`;
    }
    case 'server':
    case 'client':
    case 'mcast':
      return `socket,id=${id},${n.attrs.type === 'server' ? 'listen' : n.attrs.type === 'client' ? 'connect' : 'mcast'}=${esc(`${source?.attrs.address ?? ''}:${source?.attrs.port ?? ''}`)}`;
    default:
      return fail(r, n, `interface type ${n.attrs.type} is not carried (machinec's netdevs: user, tap, bridge, socket)`);
  }
}

function nic(r: Reader, n: XmlNode): void {
  const type = child(n, 'model')?.attrs.type ?? 'rtl8139';
  const model = NIC_MODELS[type];
  if (!model) return void fail(r, n, `NIC model ${type} is not one machinec describes`);
  const id = idOf(r, n, next(r, 'net'));
  const backend = netdev(r, n, `hostnet-${id}`);
  const place = pciPlace(r, n);
  if (!backend || !place) return;
  const mac = child(n, 'mac')?.attrs.address;
  if (mac !== undefined && !MAC.test(mac)) return void fail(r, n, `<mac address='${mac}'> is not a MAC address (six hex pairs, 52:54:00:12:34:56)`);
  const boot = bootOrder(r, n);
  const acpiIndex = child(n, 'acpi')?.attrs.index;
  const acpi = acpiIndex === undefined ? undefined : num(acpiIndex) ?? fail(r, n, `<acpi index='${acpiIndex}'> is not a number`);
  nicNotes(r, n);
  r.args.push('-netdev', backend, '-device', `${model},id=${id},netdev=hostnet-${id}${mac ? `,mac=${mac}` : ''},${place}${boot ? `,bootindex=${boot}` : ''}${acpi ? `,acpi-index=${acpi}` : ''}`);
}

/** `<boot order='N'>` as a number, or undefined (an error if it is not one). */
function bootOrder(r: Reader, n: XmlNode): number | undefined {
  const order = child(n, 'boot')?.attrs.order;
  return order === undefined ? undefined : num(order) ?? fail(r, n, `<boot order='${order}'> is not a number`);
}

/** What a NIC's XML asks of the host or of the link that the machine's NIC does not do, each named. */
function nicNotes(r: Reader, n: XmlNode): void {
  const link = child(n, 'link')?.attrs.state;
  const up = "the machine's NIC starts with its link up";
  if (link === 'down') r.notes.push(`${at(n)}: <link state='down'/>: libvirt sets the link down when the guest starts, ${up}; not carried over`);
  const queues = child(n, 'driver')?.attrs.queues;
  const pairs = `libvirt gives the NIC ${queues} queue pairs (mq=on and its MSI-X vectors); the machine's NIC has one`;
  if (queues !== undefined && queues !== '1') r.notes.push(`${at(n)}: <driver queues='${queues}'/>: ${pairs}; not carried over`);
  const script = child(n, 'script')?.attrs.path;
  if (script !== undefined) r.notes.push(`${at(n)}: <script path='${script}'/>: libvirt runs it on the host to set up the tap; not carried over`);
}

/** Devices with one QEMU model each: balloon, rng, video, watchdog, USB input, sound, virtio-serial channels. */
function simple(r: Reader, n: XmlNode, firstVideo: XmlNode | undefined): void {
  const model = child(n, 'model')?.attrs.type ?? n.attrs.model;
  const pci = (qemu: string, prefix: string, extra = '') => {
    const id = idOf(r, n, next(r, prefix));
    const place = pciPlace(r, n);
    if (place) r.args.push('-device', `${qemu},id=${id}${extra},${place}`);
    return id;
  };
  if (n.name === 'memballoon') {
    if (model !== 'none') model === 'virtio' ? pci('virtio-balloon-pci', 'balloon') : fail(r, n, `balloon model ${model} is not one machinec describes`);
  } else if (n.name === 'rng') model === 'virtio' ? pci('virtio-rng-pci', 'rng') : fail(r, n, `rng model ${model} is not one machinec describes`);
  else if (n.name === 'watchdog') {
    if (model === 'itco') r.notes.push(`${at(n)}: the ICH9's own iTCO watchdog is part of the chipset (its action is not carried)`);
    else model === 'i6300esb' ? pci('i6300esb', 'watchdog') : fail(r, n, `watchdog ${model} is not one machinec describes`);
  } else if (n.name === 'video') {
    const primary = n === firstVideo;
    const qemu: Record<string, string> = { vga: 'VGA', qxl: primary ? 'qxl-vga' : 'qxl', virtio: primary ? 'virtio-vga' : 'virtio-gpu-pci', bochs: 'bochs-display' };
    if (model !== 'none') qemu[model ?? ''] ? pci(qemu[model!], 'video') : fail(r, n, `video model ${model} is not one machinec describes`);
  } else if (n.name === 'input') {
    const qemu: Record<string, string> = { tablet: 'usb-tablet', keyboard: 'usb-kbd', mouse: 'usb-mouse' };
    if (n.attrs.bus === 'ps2') return; // the i8042's own: part of the chipset
    const place = n.attrs.bus === 'usb' ? usbPlace(r, n) : fail(r, n, `input bus ${n.attrs.bus} is not carried`);
    if (place && qemu[n.attrs.type]) r.later.push(['-device', `${qemu[n.attrs.type]},id=${idOf(r, n, next(r, 'input'))},${place}`]);
  } else if (n.name === 'sound') {
    if (model !== 'ich6') return void fail(r, n, `sound model ${model} is not one machinec describes (ich6: intel-hda)`);
    const id = pci('intel-hda', 'sound');
    childrenNamed(n, 'codec').forEach((c, k) => (c.attrs.type ?? 'duplex') === 'duplex' ? r.later.push(['-device', `hda-duplex,id=${id}-codec${k},bus=${id}.0,cad=${k}`]) : fail(r, c, `codec ${c.attrs.type} is not carried`));
  } else if (n.name === 'channel') channel(r, n);
}

function channel(r: Reader, n: XmlNode): void {
  const target = child(n, 'target');
  const a = child(n, 'address');
  if (target?.attrs.type !== 'virtio' || a?.attrs.type !== 'virtio-serial') return void fail(r, n, 'only virtio channels on a virtio-serial controller are carried');
  const owner = r.controllers.get(`virtio-serial/${num(a.attrs.controller) ?? 0}`);
  if (!owner) return void fail(r, n, `virtio-serial controller ${a.attrs.controller} is not in this domain`);
  if ((num(a.attrs.bus) ?? 0) !== 0) return void fail(r, n, `virtio-serial bus ${a.attrs.bus}: a virtio-serial controller has bus 0 only`);
  const id = idOf(r, n, next(r, 'channel'));
  const source = child(n, 'source');
  const backends: Record<string, string | undefined> = { pty: 'pty', spicevmc: 'spicevmc,name=vdagent', unix: source?.attrs.path ? `socket,path=${esc(source.attrs.path)},server=${source.attrs.mode === 'bind' ? 'on' : 'off'},wait=off` : undefined };
  const chr = backends[n.attrs.type];
  if (!chr) return void fail(r, n, `channel type ${n.attrs.type} is not carried`);
  const name = target.attrs.name ? `,name=${esc(target.attrs.name)}` : '';
  r.later.push(['-chardev', `${chr.replace(/^(\w+)/, `$1,id=char${id}`)}`, '-device', `virtserialport,id=${id},chardev=char${id},bus=${owner}.0,nr=${num(a.attrs.port) ?? 0}${name}`]);
}

/** `<filesystem type='mount'>` (9p, libvirt's default driver): `-fsdev local` and `virtio-9p-pci` with its mount tag. */
function filesystem(r: Reader, n: XmlNode): void {
  const source = child(n, 'source')?.attrs.dir;
  const tag = child(n, 'target')?.attrs.dir;
  const driver = child(n, 'driver')?.attrs.type ?? 'path';
  if ((n.attrs.type ?? 'mount') !== 'mount' || driver !== 'path' || !source || !tag) return void fail(r, n, 'a filesystem other than a 9p share of a folder (type mount, driver path) is not carried');
  const id = idOf(r, n, next(r, 'fs'));
  const place = pciPlace(r, n);
  if (!place) return;
  // libvirt's access modes are QEMU's security models: mapped is mapped-xattr, squash is none.
  const model = ({ mapped: 'mapped-xattr', squash: 'none' } as Record<string, string>)[n.attrs.accessmode ?? ''] ?? n.attrs.accessmode ?? 'passthrough';
  r.args.push('-fsdev', `local,id=fsdev-${id},path=${esc(source)},security_model=${esc(model)}${present(n, 'readonly') ? ',readonly=on' : ''}`, '-device', `virtio-9p-pci,id=${id},fsdev=fsdev-${id},mount_tag=${esc(tag)},${place}`);
}

/** Elements of <devices> that are not guest PCI devices machinec keeps, each with why. */
const NOT_CARRIED: Readonly<Record<string, string>> = {
  emulator: '', console: '', audio: '', seclabel: '',
  tpm: `the TPM (add a ${tpmModels.join(' or ')} device: machinec starts its own swtpm, libvirt keeps the state elsewhere)`,
  panic: 'the panic notifier',
};

function devices(r: Reader, list: XmlNode[]): void {
  const videos = list.filter((d) => d.name === 'video' && child(d, 'model')?.attrs.type !== 'none');
  for (const d of list) {
    if (d.name === 'controller') continue;
    if (d.name === 'disk') disk(r, d);
    else if (d.name === 'interface') nic(r, d);
    else if (['memballoon', 'rng', 'watchdog', 'video', 'input', 'sound', 'channel'].includes(d.name)) simple(r, d, videos[0]);
    else if (d.name === 'filesystem') filesystem(r, d);
    else if (d.name === 'serial') r.args.push(...(d === list.find((s) => s.name === 'serial') ? serialArgs(d, r.notes) : (r.notes.push(`${at(d)}: machinec carries one serial console (ttyS0)`), [])));
    else if (d.name === 'graphics') r.args.push(...(d === list.find((g) => g.name === 'graphics') ? graphicsArgs(d, r.notes) : (r.notes.push(`${at(d)}: machinec carries one display`), [])));
    else if (NOT_CARRIED[d.name]) {
      r.notes.push(`${at(d)}: ${NOT_CARRIED[d.name]} is not carried over`);
      r.seen.consume(d); // named whole: what it holds is not carried either
    } else if (!(d.name in NOT_CARRIED)) fail(r, d, `<${d.name}> is not a device machinec describes`);
  }
}

/**
 * `-smp` as libvirt gives it: without <topology>, N sockets of one core; with `<vcpu current>`, libvirt
 * starts only the current CPUs (`maxcpus` the rest). A machine has no CPU hotplug: it gets the CPUs the
 * guest starts with, in sockets of the domain's cores, and the rest is a note.
 */
function smp(r: Reader): string {
  const vcpu = child(r.root, 'vcpu');
  const max = num(vcpu?.text ?? '1');
  const current = vcpu?.attrs.current === undefined ? max : num(vcpu.attrs.current);
  if (!vcpu && !present(r.root, 'cpu')) return '1,sockets=1,dies=1,cores=1,threads=1';
  const written = `<vcpu${vcpu?.attrs.current ? ` current='${vcpu.attrs.current}'` : ''}>${vcpu?.text}</vcpu>`;
  if (!max || !current || current > max) return fail(r, vcpu!, `${written} is not a CPU count`) ?? '1';
  const topo = child(child(r.root, 'cpu'), 'topology');
  const t = (k: string): number | undefined => (topo ? num(topo.attrs[k] ?? '1') : 1);
  const [dies, cores, threads] = [t('dies'), t('cores'), t('threads')];
  if (!dies || !cores || !threads || (topo && !num(topo.attrs.sockets ?? '1'))) return fail(r, topo!, 'the topology is not four counts') ?? '1';
  const perSocket = dies * cores * threads;
  if (current % perSocket) return fail(r, vcpu!, `libvirt starts ${current} of ${max} CPUs, not whole sockets of ${perSocket}: a machine has no CPU hotplug`) ?? '1';
  const rest = `the ${max - current} libvirt can add while it runs (-smp maxcpus=${max}) are not carried over (machinec has no CPU hotplug)`;
  if (current < max) r.notes.push(`${at(vcpu!)}: <vcpu current='${current}'>${max}</vcpu>: the machine has the ${current} CPU${current === 1 ? '' : 's'} the guest starts with; ${rest}`);
  return `${current},sockets=${current / perSocket},dies=${dies},cores=${cores},threads=${threads}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The domain's machine-wide part: machine type, memory, CPUs (with topology), UUID, firmware, the CPU model, SMBIOS, the vmgenid. */
function head(r: Reader): void {
  const type = child(child(r.root, 'os'), 'type');
  const x86 = (type?.attrs.arch ?? 'x86_64') === 'x86_64' && (type?.text || 'hvm') === 'hvm';
  if (!x86) fail(r, type!, `an ${type?.attrs.arch} ${type?.text} guest is not an x86_64 hvm one`);
  const memory = child(r.root, 'memory');
  const unit = (memory?.attrs.unit ?? 'KiB').toLowerCase();
  const scale: Record<string, number> = { b: 1 / 1024, bytes: 1 / 1024, kib: 1, k: 1, mib: 1024, m: 1024, gib: 1024 * 1024, g: 1024 * 1024 };
  const kib = (num(memory?.text ?? '1048576') ?? NaN) * (scale[unit] ?? NaN);
  if (!Number.isFinite(kib)) fail(r, memory!, `memory ${memory?.text} ${unit} is not read`);
  const current = child(r.root, 'currentMemory');
  const balloon = "the balloon's target (currentMemory) is not carried over: the guest starts with all its memory";
  if (current && current.text !== memory?.text) r.notes.push(`${at(current)}: ${balloon}`);
  const firmware = firmwareArgs(r.root, r.notes);
  // Without <acpi/> libvirt starts QEMU with ACPI off (no PIIX4 PM at 00:01.3 on pc, no ACPI tables): `acpi = false`.
  const acpi = present(child(r.root, 'features'), 'acpi') ? '' : ',acpi=off';
  r.args.push('-machine', `${type?.attrs.machine ?? r.chipset}${firmware.machine}${acpi}`, '-m', `${Math.floor(kib / 1024)}M`, '-smp', smp(r), '-nodefaults');
  const uuid = child(r.root, 'uuid')?.text;
  if (uuid && !UUID.test(uuid)) fail(r, child(r.root, 'uuid')!, `${uuid} is not a UUID`);
  else if (uuid) r.args.push('-uuid', uuid);
  const refuse = (n: XmlNode, why: string) => fail(r, n, why);
  r.args.push(...firmware.args, ...cpuArgs(r.root, r.notes, refuse), ...smbiosArgs(r.root, r.notes), ...genidArgs(r.root, refuse));
}

/**
 * What libvirt writes that the guest does not see, by element (`seclabel`) or attribute
 * (`vcpu@placement`), each matched at the end of its path (`disk/target@dev`): named as not needed,
 * never as not carried. Anything else no reader looked at is a warning.
 */
const NOT_NEEDED: Readonly<Record<string, string>> = {
  description: 'a description for people, the guest does not see it',
  title: 'a title for people, the guest does not see it',
  metadata: "other tools' data, the guest does not see it",
  alias: "libvirt's own name for the device (a user alias ua-ID gives the device its id)",
  seclabel: "the host's security label for the QEMU process",
  resource: "the host's cgroup partition",
  emulator: `the QEMU binary on libvirt's host (machinec finds ${DEFAULT_QEMU_BINARY})`,
  audio: "the host's audio backend (the sound device is carried)",
  on_poweroff: 'what libvirt does once the guest powers off',
  on_crash: 'what libvirt does once the guest crashes',
  cputune: "pinning of QEMU's threads to host CPUs",
  numatune: 'placement of guest memory on host NUMA nodes',
  'domain@type': 'the accelerator libvirt asks for (a machine tries kvm, then tcg)',
  'domain@id': "libvirt's number for a running domain",
  'vcpu@placement': 'how libvirt pins the CPUs on the host',
  'vcpu@cpuset': 'the host CPUs libvirt pins them to',
  'memory@dumpCore': "whether the host's core dump holds guest memory",
  'nvram@template': 'the file libvirt copies a new VARS image from',
  'disk/target@dev': "libvirt's name for the disk (the address places it)",
  'disk/driver@name': "libvirt's driver name (qemu, the only one)",
  'interface/target@dev': "the host's tap name libvirt picks",
  'interface/source@portid': "libvirt's port in its network",
  'cpu@check': 'how libvirt compares the CPU model with the host',
  'cpu@match': 'how libvirt matches the CPU model against the host',
  'cpu@migratable': 'a migration setting of host-passthrough',
  'cpu/model@fallback': 'what libvirt does if the host lacks the model',
  'serial/target/model': "libvirt's name for the serial port's model (isa-serial, the one read)",
  'video/model@primary': 'libvirt lists the primary video first, and the first is the one read as primary',
  'rng/backend': "the host's entropy source",
};

/** Why a thing libvirt writes does not change what the guest sees, or undefined when it may. */
const notNeededInGuest: NotNeeded = (n, path, attr) => {
  if (attr === undefined && n.name === 'on_reboot' && n.text === 'restart') return 'libvirt restarts a rebooting guest, as QEMU does';
  if (attr === undefined && n.name === 'console' && child(n, 'target')?.attrs.type === 'serial') return "libvirt's console on the first <serial>";
  if (attr === undefined && n.name === 'apic' && !Object.keys(n.attrs).length) return "QEMU's x86 machines have their APIC either way";
  if (attr === 'offset' && n.name === 'clock' && n.attrs.offset === 'utc') return "the RTC in UTC, QEMU's own default";
  if (attr === 'action' && n.name === 'watchdog' && n.attrs.action === 'reset') return "the watchdog resets the guest, QEMU's own default";
  const where = attr === undefined ? `/${path}` : `/${path}@${attr}`;
  const key = Object.keys(NOT_NEEDED).find((k) => where.endsWith(`/${k}`));
  return key && NOT_NEEDED[key] ? NOT_NEEDED[key] : undefined;
};

/** libvirt's namespace for QEMU arguments and overrides, whatever prefix a domain gives it. */
const QEMU_NAMESPACE = 'http://libvirt.org/schemas/domain/qemu/1.0';

export function libvirtCommandLine(xml: string): LibvirtCommandLine {
  let root: XmlNode;
  try {
    root = parseXml(xml);
  } catch (e) {
    if (e instanceof XmlError) return { args: [], notes: [], errors: [`not XML: ${e.message}`], notNeeded: [] };
    throw e;
  }
  if (root.name !== 'domain') return { args: [], notes: [], errors: [`the root element is <${root.name}>, not <domain>`], notNeeded: [] };
  const machine = child(child(root, 'os'), 'type')?.attrs.machine ?? '';
  const chipset = chipsetOfMachineType(machine);
  const refused = `machine type ${machine || '(none)'} is not a ${chipsetNames.join(' or ')} machine`;
  if (!chipset || !/^[a-z0-9.-]+$/.test(machine)) return { args: [], notes: [], errors: [refused], notNeeded: [] };
  const seen = watch(root);
  const r: Reader = { root: seen.root, chipset, args: [], later: [], notes: [], errors: [], controllers: new Map(), ids: new Set(), counters: new Map(), seen };
  head(r);
  // libvirt reads every <devices> block as one.
  const list = childrenNamed(r.root, 'devices').flatMap((d) => d.children);
  const controllers = list.filter((d) => d.name === 'controller');
  pciControllers(r, controllers);
  otherControllers(r, controllers);
  devices(r, list);
  for (const group of r.later.reverse()) r.args.push(...group);
  for (const q of r.root.children.filter((c) => c.uri === QEMU_NAMESPACE)) {
    fail(r, q, 'QEMU arguments and overrides change what the guest sees and are not read: remove them (and the devices they add) to import the rest');
    seen.consume(q);
  }
  const name = child(r.root, 'name')?.text;
  const { notCarried, notNeeded } = seen.unread(notNeededInGuest);
  return { name, args: r.args, notes: [...r.notes, ...notCarried], errors: r.errors, notNeeded };
}

/** The domain XML of `--libvirt FILE` (read) or `--libvirt-domain NAME` (`virsh dumpxml NAME`, of qemu:///system unless LIBVIRT_DEFAULT_URI says otherwise). */
export function loadLibvirtXml(cwd: string, env: Readonly<Record<string, string | undefined>>, source: { file?: string; domain?: string }): { xml: string; origin: string } | { error: string; hint: string } {
  if (source.file) {
    const path = resolve(cwd, source.file);
    const read = readText(path, source.file, 'domain XML', dirname(path));
    if (!read.ok) return { error: read.diagnostic.message, hint: read.diagnostic.hint ?? 'give the path of a domain XML file (virsh dumpxml NAME > NAME.xml)' };
    return { xml: read.text, origin: `libvirt domain XML ${source.file}` };
  }
  if (source.domain!.startsWith('-')) return { error: `${source.domain} is not a domain name`, hint: 'give the name of a libvirt domain (virsh list --all)' };
  const uri = env.LIBVIRT_DEFAULT_URI ?? 'qemu:///system';
  const r = spawnSync('virsh', ['-c', uri, 'dumpxml', '--domain', source.domain!], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  if (r.error) return { error: `virsh dumpxml ${source.domain}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'virsh is not installed' : r.error.message}`, hint: "install libvirt's client (Debian: apt-get install libvirt-clients)" };
  if (r.status !== 0) return { error: `virsh dumpxml ${source.domain}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`, hint: `list the domains with \`virsh -c ${uri} list --all\`` };
  return { xml: r.stdout, origin: `libvirt domain ${source.domain} (${uri})` };
}
