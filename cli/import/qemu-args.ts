/**
 * An existing VM's QEMU command line, read for `machinec import`: which options it has, the
 * backends it names (to carry into the .machine), and the harmless command line that is run to
 * inspect it (no disks opened, no tap, no monitor or display, TCG).
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { cpuProperty, displayProperty, firmwareProperty, serialOfChardev, serialProperty, smbiosProperty, spiceProperty, vncProperty, type FirmwareRead } from './vm-args.js';

/**
 * QEMU options that take no argument (everything else takes exactly one): every one QEMU 7.2's
 * `-help` lists without an argument (specs/qemu-flags.e2e.spec.ts reads the installed QEMU's), and
 * older ones an existing command line may still carry.
 */
export const FLAGS: ReadonlySet<string> = new Set([
  'audio-help', 'daemonize', 'enable-kvm', 'enable-sync-profile', 'full-screen', 'h', 'help', 'mem-prealloc', 'no-acpi', 'no-fd-bootchk',
  'no-hpet', 'no-reboot', 'no-shutdown', 'no-user-config', 'nodefaults', 'nographic', 'only-migratable', 'portrait', 'preconfig', 'S', 's',
  'singlestep', 'snapshot', 'usb', 'version', 'win2k-hack', 'xen-attach', 'xen-domid-restrict',
  // gone from QEMU 7.2's -help, still seen in older command lines
  'no-kvm', 'curses', 'alt-grab', 'ctrl-grab', 'no-frame', 'sdl', 'no-quit', 'localtime', 'rtc-td-hack', 'std-vga', 'enable-fips', 'semihosting',
]);

export interface QemuOption {
  readonly name: string;
  readonly value?: string;
}

/** `-opt value` pairs; `--opt` is `-opt`. A stray word is an error (it would be a disk image on old QEMUs). */
export function splitOptions(args: readonly string[]): { options: QemuOption[]; errors: string[] } {
  const options: QemuOption[] = [];
  const errors: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-')) {
      errors.push(`unexpected argument ${a} (a bare image name: write -drive file=${a})`);
      continue;
    }
    const name = a.replace(/^--?/, '');
    if (FLAGS.has(name)) options.push({ name });
    else if (i + 1 < args.length) options.push({ name, value: args[++i] });
    else errors.push(`${a} needs a value`);
  }
  return { options, errors };
}

/** QEMU's key=value list: commas split, a doubled comma is a comma; a first word without `=` is `implied`. */
export function parseKv(text: string, implied?: string): [string, string][] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',') {
      if (text[i + 1] === ',') { cur += ','; i++; continue; }
      parts.push(cur);
      cur = '';
    } else cur += text[i];
  }
  parts.push(cur);
  return parts.filter((p, i) => p !== '' || i === 0).map((p, i) => {
    const eq = p.indexOf('=');
    if (eq < 0) return i === 0 && implied ? [implied, p] : [p, 'on'];
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}

export const kvText = (pairs: readonly (readonly [string, string])[]): string => pairs.map(([k, v]) => `${k}=${v.replace(/,/g, ',,')}`).join(',');
const get = (pairs: readonly (readonly [string, string])[], key: string): string | undefined => pairs.find(([k]) => k === key)?.[1];

/** A backend as the .machine writes it: `user`, `tap { ifname = "tap0" }`, a disk file. */
export interface NetBackend {
  readonly type: string;
  /** For `-nic`: the netdev id it was given. */
  readonly id?: string;
  readonly options: readonly (readonly [string, string])[];
}
export interface BlockBackend {
  readonly file?: string;
  readonly format?: string;
  readonly readonly?: boolean;
}

export interface FsdevBackend {
  readonly path: string;
  readonly readonly?: boolean;
}

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
    if (at !== undefined) r.out[at] = `socket,id=${id},path=${socket.replace(/,/g, ',,')}`;
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

export function readCommandLine(args: readonly string[], cwd: string, scratch?: string): ReadCommandLine {
  const { options, errors } = splitOptions(args);
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  const r: Reading = { out: [], notes: [], fw: { secure: false, pflashNodes: [] }, chardevAt: new Map(), blockdevAt: new Map(), tpmChardevs: new Set(), fsdevs: new Map(), serials: [], isaSerialChardevs: [], topologyGiven: false, tpm: false, abs, scratch };
  const { out } = r;
  const notCarried = r.notes;
  const netdevs = new Map<string, NetBackend>();
  const drives = new Map<string, BlockBackend>();
  const nics: NetBackend[] = [];
  const chardevs = new Map<string, NetBackend>();
  const vmProps: [string, string][] = [];
  let hubBackend: NetBackend | undefined;
  let machineWord: string | undefined;
  let nodefaults = false;
  let uuidGiven = false;
  let accel: string[] | undefined;
  let driveCount = 0;
  const addDrive = (pairs: [string, string][]) => {
    const id = get(pairs, 'id') ?? `machinec-drive${driveCount++}`;
    const file = get(pairs, 'file');
    const media = get(pairs, 'media');
    const ro = get(pairs, 'readonly') ?? get(pairs, 'read-only');
    if (get(pairs, 'if') === 'pflash') return readPflash(r, pairs);
    if (get(pairs, 'if') === 'mtd' || get(pairs, 'if') === 'sd') {
      notCarried.push(`-drive if=${get(pairs, 'if')} (firmware or flash image)`);
      if (file && existsSync(abs(file))) out.push('-drive', kvText(pairs.map(([k, v]) => [k, k === 'file' ? abs(v) : v])));
      return;
    }
    drives.set(id, { file, format: get(pairs, 'format'), readonly: ro === 'on' || ro === 'true' || undefined });
    // Never open the real image: it may be locked by the running VM, or not be on this host.
    const keep = pairs.filter(([k]) => ['if', 'index', 'bus', 'unit', 'media', 'serial', 'addr', 'werror', 'rerror'].includes(k));
    const standIn: [string, string][] = [['id', id], ...keep];
    if (file !== undefined && media !== 'cdrom') standIn.push(['driver', 'null-co']);
    out.push('-drive', kvText(standIn));
  };

  for (const o of options) {
    const v = o.value ?? '';
    switch (o.name) {
      case 'machine':
      case 'M': {
        const pairs = parseKv(v, 'type');
        machineWord = get(pairs, 'type') ?? machineWord;
        const a = get(pairs, 'accel');
        if (a) accel = a.split(':');
        const rest = pairs.filter(([k]) => k !== 'accel' && k !== 'kernel_irqchip' && k !== 'kernel-irqchip');
        for (const [k, x] of rest) {
          if (k === 'pflash0' || k === 'pflash1') r.fw.pflashNodes[Number(k[6])] = x;
          if (k === 'smm') r.fw.smm = x === 'true' ? 'on' : x;
        }
        const extra = rest.filter(([k]) => !['type', 'pflash0', 'pflash1', 'smm'].includes(k));
        if (extra.length) notCarried.push(`-machine ${kvText(extra)}`);
        out.push('-machine', kvText(rest));
        break;
      }
      case 'accel':
        accel = [...(accel ?? []), parseKv(v, 'accel')[0][1]];
        break;
      case 'enable-kvm':
        accel = ['kvm'];
        break;
      case 'nodefaults':
        nodefaults = true;
        out.push('-nodefaults');
        break;
      case 'uuid':
        uuidGiven = true;
        out.push('-uuid', v);
        break;
      case 'netdev': {
        const pairs = parseKv(v, 'type');
        const id = get(pairs, 'id');
        const type = pairs[0][1];
        if (id) netdevs.set(id, { type, options: pairs.filter(([k]) => k !== 'id' && k !== 'type' && k !== 'fd' && k !== 'fds' && k !== 'vhostfd' && k !== 'vhostfds') });
        out.push('-netdev', kvText([['type', 'user'], ['id', id ?? '']]).replace(/^type=/, ''));
        break;
      }
      case 'nic': {
        const pairs = parseKv(v, 'type');
        const type = pairs[0][1];
        if (type === 'none') { out.push('-nic', 'none'); break; }
        const own = ['model', 'mac', 'id'];
        nics.push({ type, id: get(pairs, 'id'), options: pairs.slice(1).filter(([k]) => !own.includes(k) && k !== 'fd' && k !== 'fds') });
        out.push('-nic', kvText([['type', 'user'], ...pairs.slice(1).filter(([k]) => own.includes(k))]).replace(/^type=/, ''));
        break;
      }
      case 'net': {
        const pairs = parseKv(v, 'type');
        const type = pairs[0][1];
        if (type === 'nic' || type === 'none') { out.push('-net', v); break; }
        hubBackend ??= { type, options: pairs.slice(1).filter(([k]) => k !== 'id' && k !== 'name' && k !== 'vlan' && k !== 'fd') };
        out.push('-net', 'user');
        break;
      }
      case 'drive':
        addDrive(parseKv(v, 'file'));
        break;
      case 'hda': case 'hdb': case 'hdc': case 'hdd':
        addDrive([['file', v], ['index', String('abcd'.indexOf(o.name[2]))], ['media', 'disk']]);
        break;
      case 'cdrom':
        addDrive([['file', v], ['index', '2'], ['media', 'cdrom']]);
        break;
      case 'blockdev': {
        const pairs = blockdevPairs(v);
        const node = get(pairs, 'node-name');
        if (!node) { errors.push(`-blockdev ${v}: no node-name`); break; }
        const driver = get(pairs, 'driver');
        const filename = get(pairs, 'filename') ?? get(pairs, 'file.filename');
        const fileRef = get(pairs, 'file');
        const ro = get(pairs, 'read-only');
        const below = fileRef ? drives.get(fileRef) : undefined;
        const isProtocol = driver === 'file' || driver === 'host_device' || driver === 'host_cdrom';
        drives.set(node, {
          file: filename ?? below?.file,
          format: isProtocol ? (below ? undefined : 'raw') : driver,
          readonly: ro === 'on' || ro === 'true' || below?.readonly || undefined,
        });
        r.blockdevAt.set(node, out.length + 1);
        out.push('-blockdev', kvText([['driver', 'null-co'], ['node-name', node]]));
        break;
      }
      case 'chardev': {
        const pairs = parseKv(v, 'backend');
        const id = get(pairs, 'id') ?? '';
        chardevs.set(id, { type: pairs[0][1], options: pairs.slice(1).filter(([k]) => k !== 'id') });
        r.chardevAt.set(id, out.length + 1);
        out.push('-chardev', HARMLESS_CHARDEVS.has(pairs[0][1]) ? v : `null,id=${id}`);
        break;
      }
      case 'serial':
        r.serials.push(v);
        out.push('-serial', v === 'none' ? 'none' : 'null');
        break;
      case 'parallel':
        out.push(`-${o.name}`, v === 'none' ? 'none' : 'null');
        break;
      case 'bios':
        if (existsSync(abs(v))) out.push('-bios', abs(v));
        notCarried.push(`-bios ${v}`);
        break;
      case 'global': {
        const pairs = parseKv(v);
        const secure = (get(pairs, 'driver') === 'cfi.pflash01' && get(pairs, 'property') === 'secure') ? get(pairs, 'value') : pairs[0]?.[0] === 'cfi.pflash01.secure' ? pairs[0][1] : undefined;
        if (secure !== undefined && isOnWord(secure)) r.fw.secure = true;
        else notCarried.push(`-global ${v}`);
        out.push('-global', v);
        break;
      }
      case 'smp': {
        const pairs = parseKv(v, 'cpus');
        r.topologyGiven = pairs.some(([k]) => ['sockets', 'dies', 'cores', 'threads'].includes(k));
        const max = get(pairs, 'maxcpus');
        if (max !== undefined && max !== get(pairs, 'cpus')) notCarried.push(`-smp maxcpus=${max} is not carried over (machinec has no CPU hotplug)`);
        out.push('-smp', v);
        break;
      }
      case 'cpu': vmProps.push(['cpu', cpuProperty(v, notCarried) ?? '']); break;
      case 'vnc': vmProps.push(['display', vncProperty(v, notCarried)]); break;
      case 'display': vmProps.push(['display', displayProperty(v, notCarried) ?? '']); break;
      case 'spice': vmProps.push(['display', spiceProperty(parseKv(v), notCarried)]); break;
      case 'smbios': vmProps.push(['smbios', smbiosProperty(parseKv(v), notCarried) ?? '']); break;
      case 'tpmdev': readTpmdev(r, v); break;
      case 'fsdev': case 'virtfs': readShare(r, o.name, parseKv(v, 'fsdriver')); break;
      case 'device': {
        const pairs = parseKv(v, 'driver');
        if (pairs[0][1] === 'isa-serial' && get(pairs, 'chardev') && !get(pairs, 'index') && !get(pairs, 'iobase')) r.isaSerialChardevs.push(get(pairs, 'chardev')!);
        out.push('-device', v);
        break;
      }
      default:
        if (DROP.has(o.name)) {
          if (!QUIET.has(o.name)) notCarried.push(`-${o.name}${o.value !== undefined ? ` ${o.value}` : ''}`);
          break;
        }
        if (!QUIET.has(o.name)) notCarried.push(`-${o.name}${o.value !== undefined ? ` ${o.value}` : ''}`);
        out.push(`-${o.name}`, ...(o.value !== undefined ? [o.value] : []));
    }
  }
  const done = finish(r, drives, chardevs);
  const displays = vmProps.filter(([k, x]) => k === 'display' && x);
  for (const d of displays.slice(1)) notCarried.push(`display ${d[1]} is not carried over: machinec has one display (the first, ${displays[0][1]})`);
  const properties: [string, string][] = [...done.properties.filter(([k]) => k === 'firmware'), ...vmProps.filter(([k, x]) => x && (k !== 'display' || x === displays[0][1])), ...done.properties.filter(([k]) => k !== 'firmware')];
  const once = properties.filter(([k], i) => properties.findIndex(([q]) => q === k) === i);
  return { inspectionArgs: [...out, '-accel', 'tcg'], machineWord, nodefaults, uuidGiven, accel, netdevs, hubBackend, nics, drives, chardevs, properties: once, topologyGiven: r.topologyGiven, inspectionTpm: done.inspectionTpm, fsdevs: r.fsdevs, notCarried, errors };
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
