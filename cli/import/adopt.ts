/**
 * From a running QEMU's qdev tree to a `.machine` and its lock that reproduce it: every PCI device
 * of the command line (the implicit ones too) becomes a device of the source, its address goes
 * into the lock (and into the source as `@` only where machinec's own placement would put it
 * elsewhere), MACs, serials and chassis numbers go into the lock as they are.
 */
import { attachmentOf, catalog, chardevTypes, childKeyPin, chipsetOfMachineType, chipsets, compareGuestView, compile, describeMismatch, formatAddress, netdevTypes, parseAddress, writeLock } from '../../compiler/index.js';
import { isDeviceId } from '../../grammar/index.js';
import type { Attachment, Chipset, GuestPciDevice, HostFacts, ModelSpec, PciAddress, PlacedDevice, PlacedMachine } from '../../compiler/index.js';
import type { BlockBackend, FsdevBackend, NetBackend } from './qemu-syntax.js';
import type { QtreeBus, QtreeDevice } from './qtree.js';
import { printCommentText, printString } from '../../grammar/index.js';

export interface Backends {
  net(name: string): NetBackend | undefined;
  block(name: string): BlockBackend | undefined;
  chardev(name: string): NetBackend | undefined;
  /** A 9p share's folder by fsdev id. */
  fsdev?(name: string): FsdevBackend | undefined;
  /** The format of an image QEMU would probe (qcow2 or raw), when the file is readable here. */
  probe?(file: string): string | undefined;
}

export interface Inspection {
  readonly qtree: QtreeBus;
  readonly guest: readonly GuestPciDevice[];
  /** `pc-i440fx-7.2` */
  readonly machineType: string;
  readonly memoryBytes: number;
  readonly cpus: number;
  readonly uuid: string;
  /** Types of the devices created with -device (by id) and anonymously. */
  readonly peripheral: ReadonlyMap<string, string>;
  readonly peripheralAnon: readonly string[];
  /** QEMU's CPU topology (qom-get /machine smp). */
  readonly smp?: { readonly sockets: number; readonly dies: number; readonly cores: number; readonly threads: number };
  /** query-vm-generation-id, when the VM has a vmgenid device. */
  readonly vmgenid?: string;
}

export interface AdoptOptions {
  readonly name: string;
  /** The chipset word to write (`pc`, `q35`, or the versioned type the command line named). */
  readonly chipsetWord?: string;
  readonly accel?: readonly string[];
  /** Write `uuid = "…"` in the source (the command line gave one). */
  readonly uuidInSource: boolean;
  readonly origin: string;
  /** Machine properties as `.machine` text, written after `cpus` in this order (firmware, cpu, display, serial, smbios). */
  readonly properties?: readonly (readonly [string, string])[];
  /** Write `topology = { … }` from the inspection's smp (the command line named it). */
  readonly topology?: boolean;
  /** Firmware digests and CPU aliases (the CLI reads them), so the lock pins them as a build would. */
  readonly host?: HostFacts;
}

export interface Adopted {
  readonly source: string;
  readonly lock: string;
  readonly machine: PlacedMachine;
  /** Devices that are outside machinec's model (or not carried): reasons, for the note. */
  readonly notes: string[];
}

export class AdoptError extends Error {
  constructor(message: string, readonly problems: string[], readonly hint?: string) {
    super(message);
  }
}

interface Imp {
  id: string;
  readonly qemuId: string;
  readonly model: string;
  readonly spec: ModelSpec;
  readonly attachment: Attachment;
  /** Parent import (undefined on the root bus or the chipset's IDE). */
  readonly parent?: Imp;
  /** QEMU bus name for top-level IDE devices (`ide.1`), the index of the parent's bus otherwise. */
  readonly chipsetBus?: string;
  readonly busIndex: number;
  readonly addr?: PciAddress;
  readonly key?: number;
  readonly pins: Record<string, string>;
  readonly props: [string, string][];
  readonly children: Imp[];
  explicit: boolean;
  readonly where: string;
}

const LOCK_WORD = /^[A-Za-z0-9_.:+-]*$/;
const PREFIX: Record<string, string> = {
  'pci-bridge': 'bridge', 'pcie-root-port': 'port', 'pcie-pci-bridge': 'pcibridge', 'virtio-balloon-pci': 'balloon', 'virtio-rng-pci': 'rng',
  'virtio-serial-pci': 'vserial', 'intel-hda': 'sound', 'hda-duplex': 'codec', i6300esb: 'watchdog', 'vfio-pci': 'hostdev', 'ich9-ahci': 'sata',
  'usb-tablet': 'tablet', 'usb-kbd': 'kbd', 'usb-mouse': 'mouse', virtserialport: 'channel', 'ide-cd': 'cdrom', 'scsi-cd': 'cdrom', 'virtio-scsi-pci': 'scsi', 'virtio-9p-pci': 'share', vmgenid: 'genid',
};
function prefixOf(model: string, spec: ModelSpec): string {
  if (PREFIX[model]) return PREFIX[model];
  if (spec.backend === 'tpm') return 'tpm';
  if (spec.backend === 'netdev') return 'nic';
  if (spec.video) return 'video';
  if (spec.backend === 'block') return 'disk';
  if (spec.provides === 'usb') return 'usb';
  return model.replace(/[^A-Za-z0-9]/g, '');
}

/** A string as the .machine writes it (reads back as the same value). */
const quote = printString;

/** `tap { ifname = "tap0" }` / `user`. */
function typedValue(b: NetBackend): string {
  if (!b.options.length) return b.type;
  // Strings as written: QEMU reads `script=no` and `vhost=on` from the same text machinec passes on.
  return `${b.type} { ${b.options.map(([k, v]) => `${k} = ${/^\d+$/.test(v) ? v : quote(v)}`).join(', ')} }`;
}

function mergedProps(dev: QtreeDevice): Map<string, string> {
  const props = new Map(dev.props);
  for (const bus of dev.buses) {
    if (bus.type !== 'virtio-pci-bus' && !bus.name.startsWith('virtio-bus')) continue;
    for (const child of bus.devices) for (const [k, v] of child.props) if (!props.has(k) || k === 'mac' || k === 'netdev' || k === 'drive' || k === 'serial') props.set(k, v);
  }
  return props;
}

const guestText = (dev: QtreeDevice): string => /addr ([0-9a-f]{2}:[0-9a-f]{2}\.[0-7])/.exec(dev.info.join('\n'))?.[1] ?? '?';

const childPin = (kind: Attachment): string => childKeyPin(kind) ?? '';

/** What a walk of QEMU's tree gathers: the devices imported, and those that cannot be. */
interface Walk {
  readonly chipset: Chipset;
  readonly chip: (typeof chipsets)[Chipset];
  readonly inspection: Inspection;
  readonly backends: Backends;
  readonly unknown: string[];
  readonly problems: string[];
  readonly notes: string[];
  readonly all: Imp[];
  readonly top: Imp[];
}

/** A NIC's `netdev = …` from the netdev QEMU names. */
function netdevProps(w: Walk, where: string, props: Map<string, string>, out: [string, string][]): void {
  const nd = props.get('netdev');
  const net = nd ? w.backends.net(nd) : undefined;
  if (!nd) w.problems.push(`${where}: the NIC has no netdev; machinec gives every NIC one (it would be \`netdev = user\`)`);
  else if (!net) w.problems.push(`${where}: cannot tell what netdev ${nd} is`);
  else if (!netdevTypes.includes(net.type)) w.problems.push(`${where}: netdev type ${net.type} is not one machinec knows (${netdevTypes.join(', ')})`);
  else out.push(['netdev', typedValue(net)]);
}

/** A disk's or CD-ROM's `file`, `format` and `readonly` from its drive. */
function driveProps(w: Walk, where: string, disk: boolean, props: Map<string, string>, out: [string, string][]): void {
  const drive = props.get('drive');
  const blk = drive ? w.backends.block(drive) : undefined;
  if (drive && !blk) w.problems.push(`${where}: cannot tell which image drive ${drive} is`);
  if (blk?.file !== undefined) {
    out.push(['file', quote(blk.file)]);
    const fmt = blk.format;
    const allowed = !disk ? ['raw', 'qcow2'] : ['raw', 'qcow2', 'vmdk', 'vdi', 'vhdx', 'qed'];
    if (fmt && !allowed.includes(fmt)) w.problems.push(`${where}: image format ${fmt} is not one machinec writes (${allowed.join(', ')})`);
    else {
      // Without a format QEMU probes the image: so does import where the image is here, else the name decides, as in machinec.
      const implied = /\.qcow2$/i.test(blk.file) ? 'qcow2' : 'raw';
      const format = fmt ?? w.backends.probe?.(blk.file) ?? implied;
      if (format !== implied) out.push(['format', format]);
    }
    if (blk.readonly && disk) out.push(['readonly', 'true']);
  } else if (disk) w.problems.push(`${where}: the disk has no image (machinec needs \`file = "…"\`)`);
}

/** A 9p share's `path`, `tag` and `readonly` from its fsdev. */
function fsdevProps(w: Walk, where: string, props: Map<string, string>, out: [string, string][]): void {
  const id = props.get('fsdev');
  const share = id ? w.backends.fsdev?.(id) : undefined;
  if (!share) w.problems.push(`${where}: cannot tell which folder fsdev ${id ?? '(none)'} shares`);
  else {
    out.push(['path', quote(share.path)], ['tag', quote(props.get('mount_tag') ?? id!)]);
    if (share.readonly) out.push(['readonly', 'true']);
  }
}

/** A virtio-serial port's `chardev = …`. */
function chardevProps(w: Walk, where: string, props: Map<string, string>, out: [string, string][]): void {
  const c = props.get('chardev');
  const chr = c ? w.backends.chardev(c) : undefined;
  if (!chr || !chardevTypes.includes(chr.type)) w.problems.push(`${where}: cannot carry chardev ${c ?? '(none)'}`);
  else out.push(['chardev', typedValue(chr)]);
}

/** The source properties a device's backend gives it (netdev, image, share, chardev), a problem where it cannot be carried. */
function backendProps(w: Walk, imp: { spec: ModelSpec; where: string }, props: Map<string, string>): [string, string][] {
  const out: [string, string][] = [];
  const b = imp.spec.backend;
  if (b === 'netdev') netdevProps(w, imp.where, props, out);
  else if (b === 'block' || b === 'cdrom') driveProps(w, imp.where, b === 'block', props, out);
  else if (b === 'fsdev') fsdevProps(w, imp.where, props, out);
  else if (b === 'chardev') chardevProps(w, imp.where, props, out);
  return out;
}

/** The lock pins a device carries as QEMU has them (chassis, port, MAC, serial); a serial no lock word can hold goes into the source. */
function pinsOf(model: string, spec: ModelSpec, props: Map<string, string>, out: [string, string][]): Record<string, string> {
  const pins: Record<string, string> = {};
  if (model === 'pcie-root-port') {
    pins.chassis = props.get('chassis') ?? '0';
    pins['pcie-port'] = props.get('port') ?? '0';
  }
  if (model === 'pci-bridge') pins.chassis = props.get('chassis_nr') ?? '0';
  if (spec.pins?.includes('mac')) {
    const mac = props.get('mac')?.toLowerCase();
    if (mac) pins.mac = mac;
  }
  if (spec.pins?.includes('serial')) {
    const serial = props.get('serial') ?? '';
    if (LOCK_WORD.test(serial)) pins.serial = serial;
    else out.push(['serial', quote(serial)]);
  }
  return pins;
}

/** Keeps an imported device, under its parent or at the top of the machine. */
function keep(w: Walk, imp: Imp): void {
  w.all.push(imp);
  (imp.parent ? imp.parent.children : w.top).push(imp);
}

/** QEMU's own empty CD-ROM on the chipset's IDE (no -nodefaults): not carried, like its floppy, serial and parallel ports. */
function isDefaultCdrom(w: Walk, dev: QtreeDevice, parent: Imp | undefined, props: Map<string, string>): boolean {
  return !parent && !dev.id && dev.type === 'ide-cd' && /^ide\d-cd\d$/.test(props.get('drive') ?? '') && w.backends.block(props.get('drive')!)?.file === undefined;
}

/** A child's port, SCSI id, unit, nr or cad as QEMU shows it (undefined when it shows none). */
function childKeyText(kind: Attachment, dev: QtreeDevice, props: Map<string, string>): string | undefined {
  if (kind === 'usb') return /port ([0-9.]+)/.exec(dev.info.join('\n'))?.[1];
  return props.get(childPin(kind));
}

/**
 * A bus's devices by their port, SCSI id, unit, nr or cad (QEMU's qtree lists the newest first),
 * so the names import gives (disk0, disk1…) follow the guest's order, as PCI devices' follow their slots.
 */
function inKeyOrder(bus: QtreeBus, kind: Attachment): { dev: QtreeDevice; props: Map<string, string>; keyText: string | undefined }[] {
  const keyed = bus.devices.map((dev) => {
    const props = mergedProps(dev);
    return { dev, props, keyText: childKeyText(kind, dev, props) };
  });
  const order = (k: string | undefined) => (k !== undefined && /^\d+$/.test(k) ? Number(k) : Infinity);
  return keyed.sort((a, b) => order(a.keyText) - order(b.keyText));
}

/** The devices on a USB, SCSI, IDE, virtio-serial or HDA bus, each with its port, SCSI id, unit, nr or cad. */
function walkChildren(w: Walk, bus: QtreeBus, parent: Imp | undefined, kind: Attachment, busIndex: number, chipsetBus?: string): void {
  for (const { dev, props, keyText } of inKeyOrder(bus, kind)) {
    const spec = Object.hasOwn(catalog, dev.type) ? catalog[dev.type] : undefined;
    const where = `${dev.type}${dev.id ? ` ${dev.id}` : ''} on ${parent ? (parent.qemuId || parent.model) : bus.name}`;
    if (!spec || attachmentOf(spec.plug) !== kind) {
      w.unknown.push(`${where} (${bus.type || bus.name} bus)`);
      continue;
    }
    if (isDefaultCdrom(w, dev, parent, props)) {
      w.notes.push(`QEMU's default empty CD-ROM on ${bus.name} is not carried over (add \`device cdrom0: ide-cd\` to keep a CD drive)`);
      continue;
    }
    const pin = childPin(kind);
    if (!keyText || !/^\d+$/.test(keyText)) {
      w.problems.push(`${where}: cannot read its ${pin} (${keyText ?? 'none'})`);
      continue;
    }
    const sourceProps: [string, string][] = [];
    const imp: Imp = { id: '', qemuId: dev.id, model: dev.type, spec, attachment: kind, parent, chipsetBus, busIndex, key: Number(keyText), pins: {}, props: sourceProps, children: [], explicit: false, where };
    sourceProps.push(...backendProps(w, imp, props));
    Object.assign(imp.pins, pinsOf(dev.type, spec, props, sourceProps), { [pin]: keyText });
    // compiler/place.ts registers the chipset's IDE buses only after reading the lock, so a
    // locked top-level IDE disk is placed anew and its locked serial regenerated: say it in the source.
    if (!parent && imp.pins.serial !== undefined) {
      if (imp.pins.serial) sourceProps.push(['serial', quote(imp.pins.serial)]);
      delete imp.pins.serial;
    }
    keep(w, imp);
  }
}

/** The buses a PCI device provides: PCI buses behind a bridge or root port, or a controller's own (USB, SCSI, virtio-serial…). */
function walkBusesOf(w: Walk, dev: QtreeDevice, spec: ModelSpec, imp: Imp): void {
  if (spec.provides === 'pci' || spec.provides === 'pcie-port') {
    for (const b of dev.buses) if (b.type === 'PCI' || b.type === 'PCIE') walkPci(w, b, imp);
  } else if (spec.provides) {
    const kind = spec.provides;
    // A virtio controller's own bus (virtio-serial's vser.0) hangs off the virtio device behind its virtio-bus.
    const isVirtio = (b: QtreeBus) => b.type.startsWith('virtio-bus') || b.name.startsWith('virtio-bus');
    const own = dev.buses.flatMap((b) => (isVirtio(b) ? b.devices.flatMap((v) => v.buses) : [b]));
    for (const b of own) {
      if (isVirtio(b)) continue;
      const index = Number(/\.(\d+)$/.exec(b.name)?.[1] ?? 0);
      walkChildren(w, b, imp, kind as Attachment, index);
    }
  }
}

/** The devices on a PCI bus in address order (the chipset's own IDE/SATA giving its disks), and what hangs off each. */
function walkPci(w: Walk, bus: QtreeBus, parent: Imp | undefined): void {
  const devices = [...bus.devices].sort((a, b) => (a.props.get('addr') ?? '') < (b.props.get('addr') ?? '') ? -1 : 1);
  for (const dev of devices) {
    const addr = parseAddress(dev.props.get('addr') ?? '');
    if (!addr) continue;
    if (!parent && w.chip.builtins.some((b) => b.slot === addr.slot && b.fn === addr.fn)) {
      // The chipset's own IDE/SATA: its disks become top-level devices.
      for (const b of [...dev.buses].sort((x, y) => (x.name < y.name ? -1 : 1))) if (b.type === 'IDE') walkChildren(w, b, undefined, 'ide', 0, b.name);
      continue;
    }
    const spec = Object.hasOwn(catalog, dev.type) ? catalog[dev.type] : undefined;
    const where = `${dev.type}${dev.id ? ` ${dev.id}` : ''} at ${guestText(dev)}`;
    if (!spec || attachmentOf(spec.plug) !== 'pci') {
      w.unknown.push(where);
      continue;
    }
    if (spec.chipsets && !spec.chipsets.includes(w.chipset)) {
      w.unknown.push(`${where} (machinec has ${dev.type} on ${spec.chipsets.join(', ')} only)`);
      continue;
    }
    const props = mergedProps(dev);
    const sourceProps: [string, string][] = [];
    const imp: Imp = { id: '', qemuId: dev.id, model: dev.type, spec, attachment: 'pci', parent, busIndex: 0, addr, pins: {}, props: sourceProps, children: [], explicit: false, where };
    sourceProps.push(...backendProps(w, imp, props));
    Object.assign(imp.pins, pinsOf(dev.type, spec, props, sourceProps));
    if (dev.type === 'vfio-pci') sourceProps.push(['host', quote(props.get('host') ?? '')]);
    if (props.get('multifunction') === 'true') w.notes.push(`${where} has multifunction=on: machinec sets it only where a slot has more than one function`);
    keep(w, imp);
    walkBusesOf(w, dev, spec, imp);
  }
}

/** A machine device off PCI (TPM, vmgenid), with its pinned version or generation id. */
function keepSystem(w: Walk, type: string, qemuId: string): void {
  const spec = catalog[type];
  const pins: Record<string, string> = type === 'vmgenid' ? (w.inspection.vmgenid ? { guid: w.inspection.vmgenid } : {}) : { version: '2.0' };
  const imp: Imp = { id: '', qemuId, model: type, spec, attachment: 'system', busIndex: 0, key: 0, pins, props: [], children: [], explicit: false, where: `${type}${qemuId ? ` ${qemuId}` : ''}` };
  w.all.push(imp);
  w.top.push(imp);
}

/**
 * Devices created with -device that the walk did not reach: machine devices off PCI (QEMU's qtree does
 * not show them, its QOM tree does) are kept, the others (not on PCI, or behind something unknown) are unknown.
 */
function walkPeripherals(w: Walk): void {
  const isSystem = (type: string) => Object.hasOwn(catalog, type) && attachmentOf(catalog[type].plug) === 'system';
  const machineLevel = (type: string) => type === 'isa-serial'; // the guest's ttyS0: the `serial` property
  const importedIds = new Set(w.all.map((i) => i.qemuId).filter(Boolean));
  for (const [id, type] of w.inspection.peripheral) {
    if (importedIds.has(id) || w.unknown.some((u) => u.includes(` ${id}`))) continue;
    if (isSystem(type)) keepSystem(w, type, id);
    else if (!machineLevel(type)) w.unknown.push(`${type} ${id}`);
  }
  const anonLeft = new Map<string, number>();
  for (const t of w.inspection.peripheralAnon) {
    if (isSystem(t)) keepSystem(w, t, '');
    else if (!machineLevel(t)) anonLeft.set(t, (anonLeft.get(t) ?? 0) + 1);
  }
  for (const i of w.all) if (!i.qemuId && i.attachment !== 'system' && anonLeft.get(i.model)) anonLeft.set(i.model, anonLeft.get(i.model)! - 1);
  for (const u of w.unknown) {
    const t = u.split(' ')[0];
    if (anonLeft.get(t)) anonLeft.set(t, anonLeft.get(t)! - 1);
  }
  for (const [t, n] of anonLeft) for (let k = 0; k < n; k++) w.unknown.push(`${t} (created with -device, not on a bus machinec describes)`);
}

/** Ids: the command line's where it gave one, readable names otherwise (a note for each one renamed). */
function assignIds(all: readonly Imp[], notes: string[]): void {
  const taken = new Set<string>();
  for (const i of all) {
    if (i.qemuId && isDeviceId(i.qemuId) && !/^(pci|pcie)\.\d+$/.test(i.qemuId) && i.qemuId !== 'ide' && !taken.has(i.qemuId)) {
      i.id = i.qemuId;
      taken.add(i.id);
    }
  }
  const counters = new Map<string, number>();
  for (const i of all) {
    if (i.id) continue;
    const prefix = prefixOf(i.model, i.spec);
    let n = counters.get(prefix) ?? 0;
    while (taken.has(`${prefix}${n}`)) n++;
    i.id = `${prefix}${n}`;
    counters.set(prefix, n + 1);
    taken.add(i.id);
  }
  for (const i of all) if (i.qemuId && i.id !== i.qemuId) notes.push(`${i.where}: id ${i.qemuId} is not a machinec id; imported as ${i.id}`);
}

/** The QEMU bus a device sits on, as machinec names it. */
function busOf(w: Walk, i: Imp): string {
  if (i.attachment === 'system') return 'sysbus';
  if (!i.parent) return i.attachment === 'pci' ? w.chip.rootBus : i.chipsetBus!;
  const p = i.parent.spec.provides!;
  return p === 'pci' || p === 'pcie-port' ? i.parent.id : `${i.parent.id}.${i.busIndex}`;
}

/** The machine's own properties in source order: chipset, memory, cpus, accel, uuid, topology, then the options' (firmware, cpu…). */
function machineProps(w: Walk, options: AdoptOptions): [string, string][] {
  const memMiB = Math.floor(w.inspection.memoryBytes / (1024 * 1024));
  const memory = memMiB % 1024 === 0 ? `${memMiB / 1024}G` : `${memMiB}M`;
  const props: [string, string][] = [['chipset', options.chipsetWord ?? w.chipset], ['memory', memory], ['cpus', String(w.inspection.cpus)]];
  if (options.accel?.length) props.push(['accel', options.accel.length === 1 ? options.accel[0] : `[${options.accel.join(', ')}]`]);
  if (options.uuidInSource) props.push(['uuid', quote(w.inspection.uuid)]);
  const smp = w.inspection.smp;
  if (options.topology && smp) props.push(['topology', `{ sockets = ${smp.sockets}, ${smp.dies > 1 ? `dies = ${smp.dies}, ` : ''}cores = ${smp.cores}, threads = ${smp.threads} }`]);
  props.push(...(options.properties ?? []).map(([k, v]): [string, string] => [k, v]));
  return props;
}

/** A device's source lines (`@` only where it is explicit), its children nested inside. */
function renderDevice(lines: string[], i: Imp, indent: string): void {
  const head = `${indent}device ${i.id}: ${i.model}${i.explicit && i.addr ? ` @ ${formatAddress(i.addr)}` : ''}`;
  if (!i.children.length) {
    lines.push(i.props.length ? `${head} { ${i.props.map(([k, v]) => `${k} = ${v}`).join(', ')} }` : head);
    return;
  }
  lines.push(`${head} {`);
  for (const [k, v] of i.props) lines.push(`${indent}  ${k} = ${v}`);
  for (const c of i.children) renderDevice(lines, c, indent + '  ');
  lines.push(`${indent}}`);
}

/** The `.machine` text of the imported machine. */
function renderSource(w: Walk, options: AdoptOptions): string {
  const props = machineProps(w, options);
  const width = Math.max(...props.map(([k]) => k.length));
  const lines = [`// ${options.name}.machine: imported by \`machinec import\` from ${printCommentText(options.origin)}`, `machine ${options.name} {`];
  for (const [k, v] of props) lines.push(`  ${k.padEnd(width)} = ${v}`);
  if (w.all.length) lines.push('');
  for (const i of w.top) renderDevice(lines, i, '  ');
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** Compiles the imported source (without a lock); it failing is a machinec bug. */
function compileImported(options: AdoptOptions, source: string): ReturnType<typeof compile> {
  const c = compile({ file: `${options.name}.machine`, source, host: options.host });
  if (!c.ok) throw new AdoptError('the imported machine does not compile (a machinec bug)', c.diagnostics.map((d) => `${d.code}: ${d.message}`), source);
  return c;
}

/**
 * Where machinec's own placement (without a lock) would put a device elsewhere, write its `@`:
 * the source alone then still gives every device its place; the lock pins the rest.
 */
function placedSource(w: Walk, options: AdoptOptions): string {
  let source = renderSource(w, options);
  for (let round = 0; ; round++) {
    const c = compileImported(options, source);
    const placed = new Map(c.machine!.devices.map((d) => [d.id, d]));
    const off = w.all.find((i) => {
      if (i.attachment !== 'pci') return false;
      const p = placed.get(i.id);
      return !p || p.bus !== busOf(w, i) || !p.addr || formatAddress(p.addr) !== formatAddress(i.addr!);
    });
    if (!off || round > w.all.length) break;
    off.explicit = true;
    source = renderSource(w, options);
  }
  return source;
}

/** The lock: the placement, with the guest-visible values of the running VM. */
function lockOf(w: Walk, options: AdoptOptions, source: string): string {
  const c = compileImported(options, source);
  const byId = new Map(w.all.map((i) => [i.id, i]));
  const devices: PlacedDevice[] = c.machine!.devices.map((d) => {
    const i = byId.get(d.id);
    if (!i) return d;
    const keyPins = i.attachment === 'pci' || i.attachment === 'system' ? {} : { [childPin(i.attachment)]: String(i.key) };
    const pins: Record<string, string> = {};
    const merged = { ...d.pins, ...i.pins, ...keyPins };
    for (const k of Object.keys(merged).sort()) pins[k] = merged[k];
    return { ...d, bus: busOf(w, i), pins };
  });
  const machine: PlacedMachine = { ...c.machine!, machineType: w.inspection.machineType, uuid: w.inspection.uuid, devices };
  return writeLock(machine, `${options.name}.machine`);
}

/**
 * The pair must build to exactly this lock, with every device where QEMU has it today. A build
 * writes the lock in its own order (and records the options): the lock is the one the build writes.
 */
function reproduced(w: Walk, options: AdoptOptions, source: string, written: string): { lock: string; machine: PlacedMachine } {
  let lock = written;
  const build = (text: string) => compile({ file: `${options.name}.machine`, source, lock: { file: `${options.name}.machine.lock`, text }, host: options.host });
  const lines = (text: string) => text.split('\n').sort().join('\n');
  let again = build(lock);
  if (again.ok && again.lockText !== lock && lines(again.lockText!) === lines(lock)) {
    lock = again.lockText!;
    again = build(lock);
  }
  const drift: string[] = [];
  if (!again.ok) drift.push(...again.diagnostics.map((d) => `${d.code}: ${d.message}`));
  else {
    if (again.lockText !== lock) drift.push('building the imported pair changes its lock');
    for (const i of w.all) {
      const p = again.machine!.devices.find((d) => d.id === i.id);
      if (!p || p.bus !== busOf(w, i) || (i.addr && (!p.addr || formatAddress(p.addr) !== formatAddress(i.addr)))) drift.push(`${i.id} (${i.where}) would be placed at ${p ? `${p.bus} ${p.addr ? formatAddress(p.addr) : p.pins[childPin(i.attachment)] ?? ''}` : 'nowhere'}`);
    }
    drift.push(...compareViews(again.machine!, w.inspection.guest));
  }
  if (drift.length) throw new AdoptError('the imported machine would not reproduce what the guest sees today', drift, 'nothing was written; this is a machinec limitation or bug: please report it with the command line');
  return { lock, machine: again.machine! };
}

/** A running VM, as inspected, as a `.machine` and the lock that reproduce it: or an AdoptError saying why not. */
export function adopt(inspection: Inspection, backends: Backends, options: AdoptOptions): Adopted {
  const chipset: Chipset | undefined = chipsetOfMachineType(inspection.machineType);
  if (!chipset) throw new AdoptError(`machine type ${inspection.machineType} is not a pc or q35 machine`, [], 'machinec describes pc (i440FX) and q35 machines');
  const chip = chipsets[chipset];
  const w: Walk = { chipset, chip, inspection, backends, unknown: [], problems: [], notes: [], all: [], top: [] };

  const host = inspection.qtree.devices.find((d) => d.buses.some((b) => b.name === chip.rootBus));
  const rootBus = host?.buses.find((b) => b.name === chip.rootBus);
  if (!rootBus) throw new AdoptError(`QEMU shows no ${chip.rootBus} bus`, []);
  walkPci(w, rootBus, undefined);
  walkPeripherals(w);

  const { unknown, problems } = w;
  if (unknown.length) {
    throw new AdoptError(`${unknown.length} device${unknown.length === 1 ? '' : 's'} machinec cannot describe`, unknown, `machinec knows: ${Object.keys(catalog).sort().join(', ')}. Remove them from the command line (or ask for them in the catalog), then import again`);
  }
  if (problems.length) throw new AdoptError(`${problems.length} backend${problems.length === 1 ? '' : 's'} cannot be carried over`, problems);
  assignIds(w.all, w.notes);

  const source = placedSource(w, options);
  const { lock, machine } = reproduced(w, options, source, lockOf(w, options, source));
  return { source, lock, machine, notes: w.notes };
}

/** What the placed machine says the guest sees, against what it does see: address, vendor:device and bus numbers. */
export function compareViews(machine: PlacedMachine, guest: readonly GuestPciDevice[]): string[] {
  return compareGuestView(machine, guest).mismatches.map(describeMismatch);
}
