/**
 * The QEMU command line: nothing implicit (-nodefaults -no-user-config), the pinned machine
 * type, backends, then every device in guest topology order with bus= and addr= spelled out.
 */
import type { Property, Value } from '../grammar/index.js';
import { blockTypes, catalog, type BlockKind } from './catalog.js';
import { formatAddress, type MachineSpec } from './machine-spec.js';
import type { PlacedDevice, PlacedMachine } from './model.js';
import { PCI_FUNCTIONS } from './chipsets.js';
import { backendId, type BackendOption } from './qemu/backend-ids.js';
import { printArgv } from './qemu/argv.js';
import { escapeKeyval } from './qemu/keyval.js';
import { flag, option, type PropType, type QemuArg, type QemuBackend, type QemuDevice, type QemuModel, type QemuProp } from './qemu/model.js';
import { cpuArgs, displayArgs, firmwareArgs, machineOption, serialArgs, smbiosArgs, smpArg, vmBackend, type VmBackend, type VmEmitOptions } from './vm-emit.js';

/** QEMU's option parser splits on commas: a comma inside a value is written twice. */
export const escapeOptionValue = escapeKeyval;

/** A plain value as QEMU spells it: booleans on/off, sizes in bytes. */
export function scalar(v: Value): string | undefined {
  switch (v.kind) {
    case 'Identifier': return v.name;
    case 'String': return v.value;
    case 'Integer': return String(v.value);
    case 'Size': return String(v.bytes);
    case 'Boolean': return v.value ? 'on' : 'off';
    default: return undefined;
  }
}

/** How QMP's JSON types a value of the source. */
const typeOfValue = (v: Value): PropType => (v.kind === 'Integer' || v.kind === 'Size' ? 'int' : v.kind === 'Boolean' ? 'bool' : 'str');

const typeOf = (v: Value): string => (v.kind === 'Block' ? v.type?.name ?? '' : scalar(v) ?? '');

/**
 * A typed block's members as QEMU options, with the catalog's defaults for what it leaves out. A
 * list repeats its key: `hostfwd = ["tcp::2222-:22", "udp::…"]` → hostfwd=tcp::2222-:22,hostfwd=udp::…
 */
function blockPairs(v: Value, kind: BlockKind): QemuProp[] {
  const type = typeOf(v);
  const props = v.kind === 'Block' ? v.properties : [];
  const items = (p: Property): readonly Value[] => (p.value!.kind === 'List' ? p.value!.items : [p.value!]);
  const pairs = props.filter((p) => p.value).flatMap((p) => items(p).map((item): QemuProp => [p.key.name, scalar(item) ?? '', typeOfValue(item)]));
  const defaults = Object.hasOwn(blockTypes[kind], type) ? blockTypes[kind][type].defaults ?? {} : {};
  for (const [key, value] of Object.entries(defaults)) if (!pairs.some(([k]) => k === key)) pairs.push([key, value]);
  return pairs;
}

/** `tap { ifname = "tap0" }` → `tap,id=…,ifname=tap0,script=no,downscript=no`; `user` → `user,id=…`. */
function typedBackend(v: Value | undefined, o: BackendOption, owner: string, kind: BlockKind, standIn?: string): QemuBackend {
  const id = backendId(o, owner);
  const type = standIn ?? typeOf(v!);
  return { kind: 'backend', option: o, type, id, owner, props: [['id', id], ...(standIn ? [] : blockPairs(v!, kind))] };
}

const BACKEND_KEYS = new Set(['netdev', 'file', 'format', 'readonly', 'chardev', 'audiodev', 'path', 'tag', 'acpi-index', 'guid']);

/**
 * For `verify` and tests: harmless stand-ins for backends a test machine does not have. A
 * missing disk becomes a `null-co` node, every NIC backend a plain `user` one, a socket or file
 * chardev `null`, and the accelerator TCG. The guest's PCI view is unchanged by all of them.
 */
export interface StandIns {
  /** Whether a disk image exists (the caller looks; the compiler does no I/O). */
  fileExists(path: string): boolean;
  /** Where a relative image path points (QEMU may run in another folder). */
  resolveFile(path: string): string;
}

export interface EmitOptions {
  readonly standIns?: StandIns;
  /**
   * The state folder to use instead of the machine's own (verify: a throwaway one holding a copy
   * of the VARS template and an swtpm's socket). Stand-ins without it boot SeaBIOS and no TPM.
   */
  readonly state?: string;
}

const HARMLESS_CHARDEVS = new Set(['null', 'pty', 'ringbuf']);

const valueOf = (p: readonly Property[], key: string) => p.find((q) => q.key.name === key)?.value;

/** The machine's own options: name, machine, accelerators, memory, CPU, SMBIOS, firmware, display, serial. */
function machineArgs(spec: MachineSpec, placed: PlacedMachine, options: EmitOptions, vmOpts: VmEmitOptions): QemuArg[] {
  const mp = spec.properties;
  const args: QemuArg[] = [option('-name', placed.name), machineOption(placed)];
  const accel = mp.get('accel')?.value;
  const accels: readonly Value[] | string[] = options.standIns ? ['tcg'] : accel?.kind === 'List' ? accel.items : accel ? [accel] : ['kvm', 'tcg'];
  for (const a of accels) args.push(typeof a === 'string' ? option('-accel', a) : option('-accel', typeOf(a), blockPairs(a, 'accel')));
  const memory = mp.get('memory')?.value;
  args.push(option('-m', memory?.kind === 'Size' ? `${Math.floor(memory.bytes / (1024 * 1024))}M` : '1024M'));
  args.push(...cpuArgs(spec, placed), smpArg(spec));
  args.push(option('-uuid', placed.uuid), ...smbiosArgs(placed));
  args.push(flag('-nodefaults'), flag('-no-user-config'));
  args.push(...firmwareArgs(spec, placed, vmOpts), ...displayArgs(spec, vmOpts), ...serialArgs(spec, vmOpts));
  return args;
}

type Backend = VmBackend;

const NONE: Backend = { backends: [], pairs: [] };

/** A disk's or CD-ROM's -blockdev (format from `format`, else from the file name; a missing file under stand-ins is null-co). */
function blockBackend(d: PlacedDevice, own: readonly Property[], cdrom: boolean, standIns: StandIns | undefined): Backend {
  const file = valueOf(own, 'file');
  if (file?.kind !== 'String') return NONE;
  const fmt = valueOf(own, 'format');
  const format = fmt ? typeOf(fmt) : /\.qcow2$/i.test(file.value) ? 'qcow2' : 'raw';
  const ro = valueOf(own, 'readonly');
  const readOnly = cdrom || (ro?.kind === 'Boolean' && ro.value);
  const formatOptions = fmt ? blockPairs(fmt, 'format') : [];
  const id = backendId('blockdev', d.id);
  const filename = standIns ? standIns.resolveFile(file.value) : file.value;
  const props: QemuProp[] = [['driver', format], ['node-name', id], ...formatOptions, ['file.driver', 'file'], ['file.filename', filename]];
  if (readOnly) props.push(['read-only', 'on', 'bool']);
  if (standIns && !standIns.fileExists(file.value)) props.splice(0, 4 + formatOptions.length, ['driver', 'null-co'], ['node-name', id]);
  return { backends: [{ kind: 'backend', option: 'blockdev', id, owner: d.id, props }], pairs: [['drive', id]] };
}

/** A netdev, chardev or audiodev from the device's own block, with the -device property naming it (`netdev=net-nic0`). */
function typed(v: Value | undefined, o: BackendOption, d: PlacedDevice, kind: BlockKind, standIn?: string): Backend {
  const backend = typedBackend(v, o, d.id, kind, standIn);
  return { backends: [backend], pairs: [[o, backend.id]] };
}

/** The backend a device's catalog entry names (netdev, blockdev, chardev, TPM/fsdev, audiodev). */
function deviceBackend(spec: MachineSpec, d: PlacedDevice, options: EmitOptions, vmOpts: VmEmitOptions): Backend {
  const { standIns } = options;
  const own = d.source?.properties ?? [];
  const backend = catalog[d.model]?.backend;
  if (backend === 'netdev') {
    const v = valueOf(own, 'netdev');
    // Stand-in: a plain user netdev (no host forwards that could clash with a running VM).
    return v ? typed(v, 'netdev', d, 'netdev', standIns ? 'user' : undefined) : NONE;
  }
  if (backend === 'block' || backend === 'cdrom') return blockBackend(d, own, backend === 'cdrom', standIns);
  if (backend === 'chardev') {
    const v = valueOf(own, 'chardev');
    if (!v) return NONE;
    return typed(v, 'chardev', d, 'chardev', standIns && !HARMLESS_CHARDEVS.has(typeOf(v)) ? 'null' : undefined);
  }
  const folder = (p: string) => (standIns ? (standIns.fileExists(p) ? standIns.resolveFile(p) : options.state ?? '.') : p);
  if (backend === 'tpm' || backend === 'fsdev') return vmBackend(spec, d, vmOpts, folder);
  if (backend === 'audio') {
    const v = valueOf(own, 'audiodev');
    return typed(v, 'audiodev', d, 'audiodev', v && !standIns ? undefined : 'none');
  }
  return NONE;
}

export function emit(spec: MachineSpec, placed: PlacedMachine, options: EmitOptions = {}): string[] {
  return printArgv(qemuModel(spec, placed, options));
}

/** A device's -device record: placement, pins, the backend it names, then its own properties from the source. */
function qemuDevice(d: PlacedDevice, sharedSlots: ReadonlySet<string>, backend: Backend): QemuDevice {
  const props: QemuProp[] = [];
  const functionZero = d.addr?.fn === 0 && (sharedSlots.has(`${d.bus}/${d.addr.slot}`) || (d.auto && d.model === 'pcie-root-port'));
  if (functionZero) props.push(['multifunction', 'on', 'bool']);
  props.push(...devicePins(d), ...backend.pairs);
  const own: QemuProp[] = [...(backend.own ?? [])];
  for (const p of d.source?.properties ?? []) {
    if (BACKEND_KEYS.has(p.key.name) || p.key.name === 'mac' || p.key.name === 'serial' || !p.value) continue;
    const v = scalar(p.value);
    if (v !== undefined) own.push([p.key.name, v, typeOfValue(p.value)]);
  }
  const bus = d.attachment === 'system' ? undefined : d.bus;
  return { kind: 'device', driver: d.model, id: d.id, bus, addr: d.addr ? formatAddress(d.addr) : undefined, props, own };
}

/** The QEMU machine as started: options, backends, then every device in guest topology order, then the machine's qemu-args. */
export function qemuModel(spec: MachineSpec, placed: PlacedMachine, options: EmitOptions = {}): QemuModel {
  const standIns = options.standIns;
  const vmOpts = { state: options.state, standIns: standIns !== undefined };
  const args = machineArgs(spec, placed, options, vmOpts);

  // Functions sharing a slot: function 0 carries multifunction=on.
  const sharedSlots = new Set<string>();
  for (const d of placed.devices) if (d.addr && d.addr.fn > 0) sharedSlots.add(`${d.bus}/${d.addr.slot}`);

  const backends: QemuBackend[] = [];
  const devices: QemuDevice[] = [];
  for (const d of placed.devices) {
    if (standIns && d.model === 'vfio-pci') continue; // needs the host's device: verify reports it as not checked
    if (standIns && options.state === undefined && catalog[d.model]?.backend === 'tpm') continue; // no swtpm without a state folder
    const backend = deviceBackend(spec, d, options, vmOpts);
    backends.push(...backend.backends);
    devices.push(qemuDevice(d, sharedSlots, backend));
  }
  const raw: QemuArg[] = placed.qemuArgs?.length ? [{ kind: 'raw', args: placed.qemuArgs }] : [];
  return { args: [...args, ...backends, ...devices, ...raw] };
}

/** The pinned values as QEMU device properties. */
/** QMP's JSON types of the pinned properties (a USB port and disable-legacy, an on/off/auto, are text). */
const PIN_TYPES: Readonly<Record<string, PropType>> = { guid: 'str', 'acpi-index': 'int', 'disable-legacy': 'str', shpc: 'bool', 'io-reserve': 'int' };

function devicePins(d: PlacedDevice): QemuProp[] {
  const out: QemuProp[] = [];
  const p = d.pins;
  if (d.model === 'pcie-root-port') out.push(['chassis', p.chassis, 'int'], ['port', p['pcie-port'], 'int']);
  if (d.model === 'pci-bridge') out.push(['chassis_nr', p.chassis, 'int']);
  if (p.mac) out.push(['mac', p.mac]);
  if (p.serial) out.push(['serial', p.serial]);
  for (const key of ['guid', 'acpi-index', 'disable-legacy', 'shpc', 'io-reserve']) if (p[key] !== undefined) out.push([key, p[key], PIN_TYPES[key]]);
  switch (d.attachment) {
    case 'usb': out.push(['port', p.port]); break;
    case 'scsi': out.push(['channel', '0', 'int'], ['scsi-id', p['scsi-id'], 'int'], ['lun', '0', 'int']); break;
    case 'ide': out.push(['unit', p.unit, 'int']); break;
    case 'virtio-serial': out.push(['nr', p.nr, 'int']); break;
    case 'hda': out.push(['cad', p.cad, 'int']); break;
  }
  return out;
}

export { PCI_FUNCTIONS };
