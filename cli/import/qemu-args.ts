/**
 * An existing VM's QEMU command line, read for `machinec import`: which options it has, the
 * backends it names (to carry into the .machine), and the harmless command line that is run to
 * inspect it (no disks opened, no tap, no monitor or display, TCG).
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { escapeOptionValue } from '../../compiler/index.js';
import { parseKv, kvText, splitOptions, type BlockBackend, type FsdevBackend, type NetBackend, type QemuOption } from './qemu-syntax.js';
import { cpuProperty, displayProperty, firmwareProperty, serialOfChardev, serialProperty, smbiosProperty, spiceProperty, vncProperty, type FirmwareRead } from './vm-args.js';

const get = (pairs: readonly (readonly [string, string])[], key: string): string | undefined => pairs.find(([k]) => k === key)?.[1];

export interface ReadCommandLine {
  /** The command line to run for inspection (without -display and -qmp, which the launcher adds). */
  readonly inspectionArgs: string[];
  /** The machine type as written (`pc`, `q35`, `pc-q35-6.2`), when given. */
  readonly machineWord?: string;
  readonly nodefaults: boolean;
  readonly uuidGiven: boolean;
  readonly accel?: string[];
  /** Netdevs by the id QEMU gives them in the inspection run (`-netdev id`, `#…` for -nic/-net is resolved by hub). */
  readonly netdevs: Map<string, NetBackend>;
  /** The backend of `-net` hub 0 (`-net user`, `-net tap,…`); QEMU's default is user. */
  readonly hubBackend?: NetBackend;
  /** `-nic` backends in order (QEMU names their netdevs `#netN`, so they are matched by NIC order). */
  readonly nics: NetBackend[];
  /** Disks by drive id or node-name in the inspection run. */
  readonly drives: Map<string, BlockBackend>;
  /** Chardevs by id, as written. */
  readonly chardevs: Map<string, NetBackend>;
  /** Machine properties as `.machine` text, in order: firmware, cpu, display, serial, smbios. */
  readonly properties: [string, string][];
  /** `-smp` named sockets, dies, cores or threads: the topology is written out. */
  readonly topologyGiven: boolean;
  /** The swtpm socket the inspection run's TPM connects to (import starts a throwaway swtpm there). */
  readonly inspectionTpm?: string;
  /** 9p shares by fsdev id. */
  readonly fsdevs: Map<string, FsdevBackend>;
  /** Options carried into nothing: guest-visible settings the .machine cannot say, for a note. */
  readonly notCarried: string[];
  readonly errors: string[];
}

/** Options dropped from the inspection run: they would daemonize, open sockets, windows or files. */
const DROP = new Set(['daemonize', 'monitor', 'qmp', 'qmp-pretty', 'mon', 'vnc', 'display', 'nographic', 'curses', 'sdl', 'spice', 'S', 'pidfile', 'D', 'trace', 'incoming', 'loadvm', 'runas', 'chroot', 'sandbox', 'enable-kvm', 'no-kvm', 'accel', 'cpu', 'kernel', 'initrd', 'append', 'dtb', 'fda', 'fdb', 'full-screen', 'gdb', 's', 'name', 'uuid', 'writeconfig', 'msg', 'd', 'L']);
/** Options that change nothing the .machine describes, dropped from the notes. */
const QUIET = new Set(['daemonize', 'monitor', 'qmp', 'qmp-pretty', 'mon', 'vnc', 'display', 'curses', 'sdl', 'S', 'pidfile', 'D', 'trace', 'runas', 'chroot', 'sandbox', 'enable-kvm', 'no-kvm', 'accel', 'name', 'uuid', 'nodefaults', 'no-user-config', 'm', 'smp', 'machine', 'M', 'device', 'netdev', 'nic', 'net', 'drive', 'blockdev', 'hda', 'hdb', 'hdc', 'hdd', 'cdrom', 'chardev', 'serial', 'parallel', 'snapshot', 'msg', 'd', 'L', 'qmp', 'vga', 'usb', 'bios']);

const HARMLESS_CHARDEVS = new Set(['null', 'pty', 'ringbuf', 'memory']);

const FS_KEYS = ['path', 'security_model', 'readonly', 'id', 'mount_tag'];

/** The command line's state while it is read: what the inspection run gets, and what the .machine will say. */
interface Reading {
  readonly out: string[];
  readonly notes: string[];
  readonly fw: { code?: string; vars?: string; secure: boolean; smm?: string; pflashNodes: string[] };
  readonly chardevAt: Map<string, number>;
  readonly blockdevAt: Map<string, number>;
  readonly tpmChardevs: Set<string>;
  readonly fsdevs: Map<string, FsdevBackend>;
  serials: string[];
  isaSerialChardevs: string[];
  topologyGiven: boolean;
  tpm: boolean;
  readonly abs: (p: string) => string;
  readonly scratch?: string;
}

/** A throwaway copy of the VM's VARS file for the inspection run: its own is never opened for writing. */
function scratchVars(r: Reading, file: string): string {
  if (!r.scratch || !existsSync(file)) return file;
  const copy = join(r.scratch, 'OVMF_VARS.inspect.fd');
  copyFileSync(file, copy);
  return copy;
}

function readPflash(r: Reading, pairs: [string, string][]): void {
  const file = get(pairs, 'file');
  if (!file) return;
  const unit = get(pairs, 'unit') ?? (r.fw.code === undefined ? '0' : '1');
  const path = r.abs(file);
  if (unit === '0') r.fw.code = path;
  else r.fw.vars = path;
  if (existsSync(path)) r.out.push('-drive', kvText(pairs.map(([k, v]) => [k, k === 'file' ? (unit === '0' ? path : scratchVars(r, path)) : v])));
}

/** `-fsdev local,id=…,path=…` / `-virtfs local,…,mount_tag=…`: the share, inspected on an empty folder when it is not here. */
function readShare(r: Reading, name: 'fsdev' | 'virtfs', pairs: [string, string][]): void {
  const path = get(pairs, 'path');
  const id = get(pairs, 'id') ?? (name === 'virtfs' ? get(pairs, 'mount_tag') : undefined);
  if (pairs[0][1] !== 'local' || !path || !id) {
    r.notes.push(`-${name} ${kvText(pairs)} is not carried over (machinec shares a local folder)`);
    r.out.push(`-${name}`, kvText(pairs));
    return;
  }
  const model = get(pairs, 'security_model');
  if (model !== 'mapped-xattr') r.notes.push(`-${name} ${id} security_model=${model ?? '(none)'} is not carried over: machinec shares with security_model=mapped-xattr`);
  const ro = get(pairs, 'readonly');
  r.fsdevs.set(id, { path: r.abs(path), readonly: ro !== undefined && ro !== 'off' ? true : undefined });
  for (const [k, v] of pairs.slice(1)) if (!FS_KEYS.includes(k)) r.notes.push(`-${name} ${id} option ${k}=${v} is not carried over`);
  let here = r.abs(path);
  if (!existsSync(here) && r.scratch) mkdirSync((here = join(r.scratch, `share-${id}`)), { recursive: true });
  r.out.push(`-${name}`, kvText(pairs.map(([k, v]) => [k, k === 'path' ? here : v])));
}

function readTpmdev(r: Reading, v: string): void {
  const pairs = parseKv(v, 'type');
  const chardev = get(pairs, 'chardev');
  r.tpm = true;
  if (pairs[0][1] === 'emulator' && chardev) {
    r.tpmChardevs.add(chardev);
    r.out.push('-tpmdev', v);
    return;
  }
  r.notes.push(`-tpmdev ${v}: the TPM's ${pairs[0][1]} backend is not carried over: machinec gives the TPM an swtpm of its own`);
  r.tpmChardevs.add('machinec-tpm');
  r.out.push('-chardev', 'null,id=machinec-tpm', '-tpmdev', kvText([['type', 'emulator'], ['id', get(pairs, 'id') ?? ''], ['chardev', 'machinec-tpm']]).replace(/^type=/, ''));
  r.chardevAt.set('machinec-tpm', r.out.length - 3);
}

/** After every option is read: the TPM's chardev, the -blockdev pflash nodes, the properties. */
function finish(r: Reading, drives: Map<string, BlockBackend>, chardevs: Map<string, NetBackend>): { properties: [string, string][]; inspectionTpm?: string } {
  const socket = r.scratch ? join(r.scratch, 'swtpm.sock') : 'swtpm.sock';
  for (const id of r.tpmChardevs) {
    const at = r.chardevAt.get(id);
    if (at !== undefined) r.out[at] = `socket,id=${id},path=${escapeOptionValue(socket)}`;
    const c = chardevs.get(id);
    if (id !== 'machinec-tpm' && c) r.notes.push(`the TPM's state (in the swtpm behind ${get(c.options, 'path') ?? id}) is not carried over: machinec starts its own swtpm on the machine's state folder (tpm/); copy that swtpm's --tpmstate folder there to keep the TPM's keys`);
  }
  r.fw.pflashNodes.forEach((node, unit) => {
    const file = node ? drives.get(node)?.file : undefined;
    const at = r.blockdevAt.get(node);
    if (!file) return;
    const path = r.abs(file);
    if (unit === 0) r.fw.code = path;
    else r.fw.vars = path;
    if (at !== undefined && existsSync(path)) r.out[at] = kvText([['driver', 'file'], ['filename', unit === 0 ? path : scratchVars(r, path)], ['node-name', node], ...(unit === 0 ? [['read-only', 'on'] as [string, string]] : [])]);
  });
  const properties: [string, string][] = [];
  const add = (key: string, value: string | undefined) => value && properties.push([key, value]);
  add('firmware', firmwareProperty(r.fw as FirmwareRead, r.notes));
  const [serial, ...more] = r.serials.filter((s) => s !== 'none');
  for (const m of more) r.notes.push(`-serial ${m} is not carried over (machinec describes the guest's ttyS0 only)`);
  const isa = r.isaSerialChardevs.map((c) => chardevs.get(c));
  if (serial) add('serial', serialProperty(serial, chardevs, r.notes));
  else if (isa.length) add('serial', serialOfChardev(isa[0], `-device isa-serial,chardev=${r.isaSerialChardevs[0]}`, r.notes));
  for (const c of (serial ? r.isaSerialChardevs : r.isaSerialChardevs.slice(1))) r.notes.push(`-device isa-serial,chardev=${c} is not carried over (machinec describes the guest's ttyS0 only)`);
  return { properties, inspectionTpm: r.tpm ? socket : undefined };
}

/** A whole command line's state while it is read: the Reading, and the backends and words import carries. */
interface CommandLineReading extends Reading {
  readonly netdevs: Map<string, NetBackend>;
  readonly drives: Map<string, BlockBackend>;
  readonly nics: NetBackend[];
  readonly chardevs: Map<string, NetBackend>;
  /** cpu, display and smbios properties in command-line order. */
  readonly vmProps: [string, string][];
  readonly errors: string[];
  hubBackend?: NetBackend;
  machineWord?: string;
  nodefaults: boolean;
  uuidGiven: boolean;
  accel?: string[];
  driveCount: number;
}

/** `-drive` (and -hda…, -cdrom): the image noted, a null-co stand-in in the inspection run; pflash is firmware. */
function readDrive(r: CommandLineReading, pairs: [string, string][]): void {
  const id = get(pairs, 'id') ?? `machinec-drive${r.driveCount++}`;
  const file = get(pairs, 'file');
  const media = get(pairs, 'media');
  const ro = get(pairs, 'readonly') ?? get(pairs, 'read-only');
  if (get(pairs, 'if') === 'pflash') return readPflash(r, pairs);
  if (get(pairs, 'if') === 'mtd' || get(pairs, 'if') === 'sd') {
    r.notes.push(`-drive if=${get(pairs, 'if')} (firmware or flash image)`);
    if (file && existsSync(r.abs(file))) r.out.push('-drive', kvText(pairs.map(([k, v]) => [k, k === 'file' ? r.abs(v) : v])));
    return;
  }
  r.drives.set(id, { file, format: get(pairs, 'format'), readonly: ro === 'on' || ro === 'true' || undefined });
  // Never open the real image: it may be locked by the running VM, or not be on this host.
  const keep = pairs.filter(([k]) => ['if', 'index', 'bus', 'unit', 'media', 'serial', 'addr', 'werror', 'rerror'].includes(k));
  const standIn: [string, string][] = [['id', id], ...keep];
  if (file !== undefined && media !== 'cdrom') standIn.push(['driver', 'null-co']);
  r.out.push('-drive', kvText(standIn));
}

/** `-machine`: the type word, accel, the pflash nodes and smm kept; other properties passed on and noted. */
function readMachine(r: CommandLineReading, v: string): void {
  const pairs = parseKv(v, 'type');
  r.machineWord = get(pairs, 'type') ?? r.machineWord;
  const a = get(pairs, 'accel');
  if (a) r.accel = a.split(':');
  const rest = pairs.filter(([k]) => k !== 'accel' && k !== 'kernel_irqchip' && k !== 'kernel-irqchip');
  for (const [k, x] of rest) {
    if (k === 'pflash0' || k === 'pflash1') r.fw.pflashNodes[Number(k[6])] = x;
    if (k === 'smm') r.fw.smm = x === 'true' ? 'on' : x;
    if (k === 'acpi' && ['off', 'on'].includes(x)) r.vmProps.push(['acpi', x === 'off' ? 'false' : '']);
  }
  const extra = rest.filter(([k, x]) => !['type', 'pflash0', 'pflash1', 'smm'].includes(k) && !(k === 'acpi' && ['off', 'on'].includes(x)));
  if (extra.length) r.notes.push(`-machine ${kvText(extra)}`);
  r.out.push('-machine', kvText(rest));
}

/** `-global`: cfi.pflash01's secure property is the firmware's Secure Boot; any other is noted. */
function readGlobal(r: CommandLineReading, v: string): void {
  const pairs = parseKv(v);
  const secure = (get(pairs, 'driver') === 'cfi.pflash01' && get(pairs, 'property') === 'secure') ? get(pairs, 'value') : pairs[0]?.[0] === 'cfi.pflash01.secure' ? pairs[0][1] : undefined;
  if (secure !== undefined && isOnWord(secure)) r.fw.secure = true;
  else r.notes.push(`-global ${v}`);
  r.out.push('-global', v);
}

/** `-smp`: whether it names the topology; maxcpus (CPU hotplug) is noted. */
function readSmp(r: CommandLineReading, v: string): void {
  const pairs = parseKv(v, 'cpus');
  r.topologyGiven = pairs.some(([k]) => ['sockets', 'dies', 'cores', 'threads'].includes(k));
  const max = get(pairs, 'maxcpus');
  if (max !== undefined && max !== get(pairs, 'cpus')) r.notes.push(`-smp maxcpus=${max} is not carried over (machinec has no CPU hotplug)`);
  r.out.push('-smp', v);
}

/** The machine's own options: -machine, -accel, -enable-kvm, -nodefaults, -uuid, -smp, -global, -bios. False for any other. */
function readMachineOption(r: CommandLineReading, name: string, v: string): boolean {
  switch (name) {
    case 'machine':
    case 'M': readMachine(r, v); return true;
    case 'accel': r.accel = [...(r.accel ?? []), parseKv(v, 'accel')[0][1]]; return true;
    case 'enable-kvm': r.accel = ['kvm']; return true;
    case 'nodefaults':
      r.nodefaults = true;
      r.out.push('-nodefaults');
      return true;
    case 'uuid':
      r.uuidGiven = true;
      r.out.push('-uuid', v);
      return true;
    case 'smp': readSmp(r, v); return true;
    case 'global': readGlobal(r, v); return true;
    case 'bios':
      if (existsSync(r.abs(v))) r.out.push('-bios', r.abs(v));
      r.notes.push(`-bios ${v}`);
      return true;
    default: return false;
  }
}

/** `-netdev`: the backend kept by id, a user netdev of that id in the inspection run. */
function readNetdev(r: CommandLineReading, v: string): void {
  const pairs = parseKv(v, 'type');
  const id = get(pairs, 'id');
  const type = pairs[0][1];
  if (id) r.netdevs.set(id, { type, options: pairs.filter(([k]) => k !== 'id' && k !== 'type' && k !== 'fd' && k !== 'fds' && k !== 'vhostfd' && k !== 'vhostfds') });
  r.out.push('-netdev', kvText([['type', 'user'], ['id', id ?? '']]).replace(/^type=/, ''));
}

/** `-nic`: the backend kept in NIC order, a user -nic with its model, MAC and id in the inspection run. */
function readNic(r: CommandLineReading, v: string): void {
  const pairs = parseKv(v, 'type');
  const type = pairs[0][1];
  if (type === 'none') {
    r.out.push('-nic', 'none');
    return;
  }
  const own = ['model', 'mac', 'id'];
  r.nics.push({ type, id: get(pairs, 'id'), options: pairs.slice(1).filter(([k]) => !own.includes(k) && k !== 'fd' && k !== 'fds') });
  r.out.push('-nic', kvText([['type', 'user'], ...pairs.slice(1).filter(([k]) => own.includes(k))]).replace(/^type=/, ''));
}

/** `-net`: the first hub backend kept, -net user in the inspection run; `-net nic` and `-net none` passed on. */
function readNet(r: CommandLineReading, v: string): void {
  const pairs = parseKv(v, 'type');
  const type = pairs[0][1];
  if (type === 'nic' || type === 'none') {
    r.out.push('-net', v);
    return;
  }
  r.hubBackend ??= { type, options: pairs.slice(1).filter(([k]) => k !== 'id' && k !== 'name' && k !== 'vlan' && k !== 'fd') };
  r.out.push('-net', 'user');
}

/** `-blockdev`: the node's image and format (through its file node), a null-co node of that name in the inspection run. */
function readBlockdev(r: CommandLineReading, v: string): void {
  const pairs = blockdevPairs(v);
  const node = get(pairs, 'node-name');
  if (!node) {
    r.errors.push(`-blockdev ${v}: no node-name`);
    return;
  }
  const driver = get(pairs, 'driver');
  const filename = get(pairs, 'filename') ?? get(pairs, 'file.filename');
  const fileRef = get(pairs, 'file');
  const ro = get(pairs, 'read-only');
  const below = fileRef ? r.drives.get(fileRef) : undefined;
  const isProtocol = driver === 'file' || driver === 'host_device' || driver === 'host_cdrom';
  r.drives.set(node, {
    file: filename ?? below?.file,
    format: isProtocol ? (below ? undefined : 'raw') : driver,
    readonly: ro === 'on' || ro === 'true' || below?.readonly || undefined,
  });
  r.blockdevAt.set(node, r.out.length + 1);
  r.out.push('-blockdev', kvText([['driver', 'null-co'], ['node-name', node]]));
}

/** Backend options: -netdev, -nic, -net, -drive, -hda…-hdd, -cdrom, -blockdev. False for any other. */
function readBackendOption(r: CommandLineReading, name: string, v: string): boolean {
  switch (name) {
    case 'netdev': readNetdev(r, v); return true;
    case 'nic': readNic(r, v); return true;
    case 'net': readNet(r, v); return true;
    case 'drive': readDrive(r, parseKv(v, 'file')); return true;
    case 'hda': case 'hdb': case 'hdc': case 'hdd':
      readDrive(r, [['file', v], ['index', String('abcd'.indexOf(name[2]))], ['media', 'disk']]);
      return true;
    case 'cdrom': readDrive(r, [['file', v], ['index', '2'], ['media', 'cdrom']]); return true;
    case 'blockdev': readBlockdev(r, v); return true;
    default: return false;
  }
}

/** `-chardev`: kept by id, itself in the inspection run where harmless, a null chardev otherwise. */
function readChardev(r: CommandLineReading, v: string): void {
  const pairs = parseKv(v, 'backend');
  const id = get(pairs, 'id') ?? '';
  r.chardevs.set(id, { type: pairs[0][1], options: pairs.slice(1).filter(([k]) => k !== 'id') });
  r.chardevAt.set(id, r.out.length + 1);
  r.out.push('-chardev', HARMLESS_CHARDEVS.has(pairs[0][1]) ? v : `null,id=${id}`);
}

/** Chardevs, ports and the guest-visible properties: -chardev, -serial, -parallel, -cpu, displays, -smbios, -tpmdev, shares, -device. False for any other. */
function readDeviceOption(r: CommandLineReading, name: string, v: string): boolean {
  switch (name) {
    case 'chardev': readChardev(r, v); return true;
    case 'serial':
      r.serials.push(v);
      r.out.push('-serial', v === 'none' ? 'none' : 'null');
      return true;
    case 'parallel': r.out.push(`-${name}`, v === 'none' ? 'none' : 'null'); return true;
    case 'cpu': r.vmProps.push(['cpu', cpuProperty(v, r.notes) ?? '']); return true;
    case 'vnc': r.vmProps.push(['display', vncProperty(v, r.notes)]); return true;
    case 'display': r.vmProps.push(['display', displayProperty(v, r.notes) ?? '']); return true;
    case 'spice': r.vmProps.push(['display', spiceProperty(parseKv(v), r.notes)]); return true;
    case 'smbios': r.vmProps.push(['smbios', smbiosProperty(parseKv(v), r.notes) ?? '']); return true;
    case 'tpmdev': readTpmdev(r, v); return true;
    case 'fsdev': case 'virtfs': readShare(r, name, parseKv(v, 'fsdriver')); return true;
    case 'device': {
      const pairs = parseKv(v, 'driver');
      if (pairs[0][1] === 'isa-serial' && get(pairs, 'chardev') && !get(pairs, 'index') && !get(pairs, 'iobase')) r.isaSerialChardevs.push(get(pairs, 'chardev')!);
      r.out.push('-device', v);
      return true;
    }
    default: return false;
  }
}

/** Any other option: noted unless quiet, passed on to the inspection run unless dropped. */
function passOn(r: CommandLineReading, o: QemuOption): void {
  if (DROP.has(o.name)) {
    if (!QUIET.has(o.name)) r.notes.push(`-${o.name}${o.value !== undefined ? ` ${o.value}` : ''}`);
    return;
  }
  if (!QUIET.has(o.name)) r.notes.push(`-${o.name}${o.value !== undefined ? ` ${o.value}` : ''}`);
  r.out.push(`-${o.name}`, ...(o.value !== undefined ? [o.value] : []));
}

/** An existing VM's command line read: what import carries into the .machine, and the harmless one it runs to inspect the VM. */
export function readCommandLine(args: readonly string[], cwd: string, scratch?: string): ReadCommandLine {
  const { options, errors } = splitOptions(args);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  const r: CommandLineReading = {
    out: [], notes: [], fw: { secure: false, pflashNodes: [] }, chardevAt: new Map(), blockdevAt: new Map(), tpmChardevs: new Set(), fsdevs: new Map(), serials: [], isaSerialChardevs: [], topologyGiven: false, tpm: false, abs, scratch,
    netdevs: new Map(), drives: new Map(), nics: [], chardevs: new Map(), vmProps: [], errors, nodefaults: false, uuidGiven: false, driveCount: 0,
  };
  for (const o of options) {
    const v = o.value ?? '';
    if (!readMachineOption(r, o.name, v) && !readBackendOption(r, o.name, v) && !readDeviceOption(r, o.name, v)) passOn(r, o);
  }
  const notCarried = r.notes;
  const done = finish(r, r.drives, r.chardevs);
  const displays = r.vmProps.filter(([k, x]) => k === 'display' && x);
  for (const d of displays.slice(1)) notCarried.push(`display ${d[1]} is not carried over: machinec has one display (the first, ${displays[0][1]})`);
  const properties: [string, string][] = [...done.properties.filter(([k]) => k === 'firmware'), ...r.vmProps.filter(([k, x]) => x && (k !== 'display' || x === displays[0][1])), ...done.properties.filter(([k]) => k !== 'firmware')];
  const once = properties.filter(([k], i) => properties.findIndex(([q]) => q === k) === i);
  const { machineWord, nodefaults, uuidGiven, accel, netdevs, hubBackend, nics, drives, chardevs } = r;
  return { inspectionArgs: [...r.out, '-accel', 'tcg'], machineWord, nodefaults, uuidGiven, accel, netdevs, hubBackend, nics, drives, chardevs, properties: once, topologyGiven: r.topologyGiven, inspectionTpm: done.inspectionTpm, fsdevs: r.fsdevs, notCarried, errors };
}

const isOnWord = (v: string): boolean => v === 'on' || v === 'true' || v === 'yes';

/** `-blockdev` as key=value pairs: QEMU's dotted keys, or its JSON form flattened to them. */
function blockdevPairs(v: string): [string, string][] {
  if (!v.trim().startsWith('{')) return parseKv(v);
  const flat: [string, string][] = [];
  const walk = (o: Record<string, unknown>, prefix: string) => {
    for (const [k, x] of Object.entries(o)) {
      if (x && typeof x === 'object') walk(x as Record<string, unknown>, `${prefix}${k}.`);
      else flat.push([`${prefix}${k}`, String(x)]);
    }
  };
  walk(JSON.parse(v) as Record<string, unknown>, '');
  return flat;
}
