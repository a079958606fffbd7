/**
 * The QEMU command line: nothing implicit (-nodefaults -no-user-config), the pinned machine
 * type, backends, then every device in guest topology order with bus= and addr= spelled out.
 */
import type { Property, Value } from '../grammar/index.js';
import { blockTypes, catalog, type BlockKind } from './catalog.js';
import { formatAddress, type MachineSpec } from './machine-spec.js';
import type { PlacedDevice, PlacedMachine } from './model.js';
import { PCI_FUNCTIONS } from './chipsets.js';
import { backendId } from './qemu/backend-ids.js';
import { cpuArgs, displayArgs, firmwareArgs, machineOption, serialArgs, smbiosArgs, smpArg, vmBackend, type VmEmitOptions } from './vm-emit.js';

const COMMAS = /,/g;

/** QEMU's option parser splits on commas: a comma inside a value is written twice. */
export const escapeOptionValue = (v: string): string => (v.includes(',') ? v.replace(COMMAS, ',,') : v);

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

function option(head: string, pairs: readonly (readonly [string, string])[]): string {
  let out = head;
  for (const [k, v] of pairs) out += `,${k}=${escapeOptionValue(v)}`;
  return out;
}

const typeOf = (v: Value): string => (v.kind === 'Block' ? v.type?.name ?? '' : scalar(v) ?? '');

/**
 * A typed block's members as QEMU options, with the catalog's defaults for what it leaves out. A
 * list repeats its key: `hostfwd = ["tcp::2222-:22", "udp::…"]` → hostfwd=tcp::2222-:22,hostfwd=udp::…
 */
function blockPairs(v: Value, kind: BlockKind): [string, string][] {
  const type = typeOf(v);
  const props = v.kind === 'Block' ? v.properties : [];
  const pairs = props.filter((p) => p.value).flatMap((p) => (p.value!.kind === 'List' ? p.value!.items : [p.value!]).map((item) => [p.key.name, scalar(item) ?? ''] as [string, string]));
  const defaults = Object.hasOwn(blockTypes[kind], type) ? blockTypes[kind][type].defaults ?? {} : {};
  for (const [key, value] of Object.entries(defaults)) if (!pairs.some(([k]) => k === key)) pairs.push([key, value]);
  return pairs;
}

/** `tap { ifname = "tap0" }` → `tap,id=…,ifname=tap0,script=no,downscript=no`; `user` → `user,id=…`. */
function typedBackend(v: Value, id: string, kind: BlockKind): string {
  return option(typeOf(v), [['id', id], ...blockPairs(v, kind)]);
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
function machineArgs(spec: MachineSpec, placed: PlacedMachine, options: EmitOptions, vmOpts: VmEmitOptions): string[] {
  const mp = spec.properties;
  const argv: string[] = ['-name', escapeOptionValue(placed.name), '-machine', machineOption(placed)];
  const accel = mp.get('accel')?.value;
  const accels: readonly Value[] | string[] = options.standIns ? ['tcg'] : accel?.kind === 'List' ? accel.items : accel ? [accel] : ['kvm', 'tcg'];
  for (const a of accels) argv.push('-accel', typeof a === 'string' ? a : option(typeOf(a), blockPairs(a, 'accel')));
  const memory = mp.get('memory')?.value;
  argv.push('-m', memory?.kind === 'Size' ? `${Math.floor(memory.bytes / (1024 * 1024))}M` : '1024M');
  argv.push(...cpuArgs(spec, placed), '-smp', smpArg(spec));
  argv.push('-uuid', placed.uuid, ...smbiosArgs(placed));
  argv.push('-nodefaults', '-no-user-config');
  argv.push(...firmwareArgs(spec, placed, vmOpts), ...displayArgs(spec, vmOpts), ...serialArgs(spec, vmOpts));
  return argv;
}

interface Backend {
  readonly backends: string[];
  /** The -device properties that name the backend. */
  readonly pairs: [string, string][];
}

/** A disk's or CD-ROM's -blockdev (format from `format`, else from the file name; a missing file under stand-ins is null-co). */
function blockBackend(d: PlacedDevice, own: readonly Property[], cdrom: boolean, standIns: StandIns | undefined): Backend {
  const file = valueOf(own, 'file');
  if (file?.kind !== 'String') return { backends: [], pairs: [] };
  const fmt = valueOf(own, 'format');
  const format = fmt ? typeOf(fmt) : /\.qcow2$/i.test(file.value) ? 'qcow2' : 'raw';
  const ro = valueOf(own, 'readonly');
  const readOnly = cdrom || (ro?.kind === 'Boolean' && ro.value);
  const formatOptions = fmt ? blockPairs(fmt, 'format') : [];
  const blockdev: [string, string][] = [['driver', format], ['node-name', backendId('blockdev', d.id)], ...formatOptions, ['file.driver', 'file'], ['file.filename', standIns ? standIns.resolveFile(file.value) : file.value]];
  if (readOnly) blockdev.push(['read-only', 'on']);
  if (standIns && !standIns.fileExists(file.value)) blockdev.splice(0, 4 + formatOptions.length, ['driver', 'null-co'], ['node-name', backendId('blockdev', d.id)]);
  return { backends: ['-blockdev', option(blockdev[0][0] + '=' + blockdev[0][1], blockdev.slice(1))], pairs: [['drive', backendId('blockdev', d.id)]] };
}

/** The backend a device's catalog entry names (netdev, blockdev, chardev, TPM/fsdev, audiodev), as QEMU options. */
function deviceBackend(spec: MachineSpec, d: PlacedDevice, options: EmitOptions, vmOpts: VmEmitOptions): Backend {
  const { standIns } = options;
  const own = d.source?.properties ?? [];
  const backend = catalog[d.model]?.backend;
  if (backend === 'netdev') {
    const v = valueOf(own, 'netdev');
    // Stand-in: a plain user netdev (no host forwards that could clash with a running VM).
    return v ? { backends: ['-netdev', standIns ? `user,id=${backendId('netdev', d.id)}` : typedBackend(v, backendId('netdev', d.id), 'netdev')], pairs: [['netdev', backendId('netdev', d.id)]] } : { backends: [], pairs: [] };
  }
  if (backend === 'block' || backend === 'cdrom') return blockBackend(d, own, backend === 'cdrom', standIns);
  if (backend === 'chardev') {
    const v = valueOf(own, 'chardev');
    if (!v) return { backends: [], pairs: [] };
    const harmless = HARMLESS_CHARDEVS.has(typeOf(v));
    return { backends: ['-chardev', standIns && !harmless ? `null,id=${backendId('chardev', d.id)}` : typedBackend(v, backendId('chardev', d.id), 'chardev')], pairs: [['chardev', backendId('chardev', d.id)]] };
  }
  if (backend === 'tpm' || backend === 'fsdev') return vmBackend(spec, d, vmOpts, (p) => (standIns ? (standIns.fileExists(p) ? standIns.resolveFile(p) : options.state ?? '.') : p));
  if (backend === 'audio') {
    const v = valueOf(own, 'audiodev');
    return { backends: ['-audiodev', v && !standIns ? typedBackend(v, backendId('audiodev', d.id), 'audiodev') : `none,id=${backendId('audiodev', d.id)}`], pairs: [['audiodev', backendId('audiodev', d.id)]] };
  }
  return { backends: [], pairs: [] };
}

export function emit(spec: MachineSpec, placed: PlacedMachine, options: EmitOptions = {}): string[] {
  return emitWithPairs(spec, placed, options).argv;
}

/** Each `-device` value emit made, in order, with its properties as emit joined them (`splitOption` of the value gives them back). */
export type DevicePairs = readonly { readonly value: string; readonly pairs: readonly (readonly [string, string])[] }[];

/** The QEMU arguments, and the properties of each `-device` value emit made, so that recording them (records.ts) need not split them again. */
export function emitWithPairs(spec: MachineSpec, placed: PlacedMachine, options: EmitOptions = {}): { argv: string[]; devicePairs: DevicePairs } {
  const standIns = options.standIns;
  const vmOpts = { state: options.state, standIns: standIns !== undefined };
  const argv = machineArgs(spec, placed, options, vmOpts);

  // Functions sharing a slot: function 0 carries multifunction=on.
  const sharedSlots = new Set<string>();
  for (const d of placed.devices) if (d.addr && d.addr.fn > 0) sharedSlots.add(`${d.bus}/${d.addr.slot}`);

  const backends: string[] = [];
  const devices: string[] = [];
  const devicePairs: { value: string; pairs: [string, string][] }[] = [];
  for (const d of placed.devices) {
    if (standIns && d.model === 'vfio-pci') continue; // needs the host's device: verify reports it as not checked
    if (standIns && options.state === undefined && catalog[d.model]?.backend === 'tpm') continue; // no swtpm without a state folder
    const own = d.source?.properties ?? [];
    const pairs: [string, string][] = d.attachment === 'system' ? [['id', d.id]] : [['id', d.id], ['bus', d.bus]];
    if (d.addr) {
      pairs.push(['addr', formatAddress(d.addr)]);
      if (d.addr.fn === 0 && (sharedSlots.has(`${d.bus}/${d.addr.slot}`) || (d.auto && d.model === 'pcie-root-port'))) pairs.push(['multifunction', 'on']);
    }
    pairs.push(...devicePins(d));
    const backend = deviceBackend(spec, d, options, vmOpts);
    backends.push(...backend.backends);
    pairs.push(...backend.pairs);
    for (const p of own) {
      if (BACKEND_KEYS.has(p.key.name) || p.key.name === 'mac' || p.key.name === 'serial' || !p.value) continue;
      const v = scalar(p.value);
      if (v !== undefined) pairs.push([p.key.name, v]);
    }
    const value = option(d.model, pairs);
    devices.push('-device', value);
    devicePairs.push({ value, pairs });
  }
  return { argv: [...argv, ...backends, ...devices, ...(placed.qemuArgs ?? [])], devicePairs };
}

/** The pinned values as QEMU device properties. */
function devicePins(d: PlacedDevice): [string, string][] {
  const out: [string, string][] = [];
  const p = d.pins;
  if (d.model === 'pcie-root-port') out.push(['chassis', p.chassis], ['port', p['pcie-port']]);
  if (d.model === 'pci-bridge') out.push(['chassis_nr', p.chassis]);
  if (p.mac) out.push(['mac', p.mac]);
  if (p.serial) out.push(['serial', p.serial]);
  for (const key of ['guid', 'acpi-index']) if (p[key] !== undefined) out.push([key, p[key]]);
  for (const key of ['disable-legacy', 'shpc', 'io-reserve']) if (p[key] !== undefined) out.push([key, p[key]]);
  switch (d.attachment) {
    case 'usb': out.push(['port', p.port]); break;
    case 'scsi': out.push(['channel', '0'], ['scsi-id', p['scsi-id']], ['lun', '0']); break;
    case 'ide': out.push(['unit', p.unit]); break;
    case 'virtio-serial': out.push(['nr', p.nr]); break;
    case 'hda': out.push(['cad', p.cad]); break;
  }
  return out;
}

export { PCI_FUNCTIONS };
