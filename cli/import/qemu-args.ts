/**
 * An existing VM's QEMU command line, read for `machinec import`: which options it has, the
 * backends it names (to carry into the .machine), and the harmless command line that is run to
 * inspect it (no disks opened, no tap, no monitor or display, TCG).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

/** QEMU options that take no argument (everything else takes exactly one). */
const FLAGS = new Set([
  'nodefaults', 'no-user-config', 'enable-kvm', 'no-kvm', 'nographic', 'daemonize', 'S', 's', 'snapshot', 'no-reboot', 'no-shutdown',
  'no-hpet', 'no-acpi', 'full-screen', 'no-fd-bootchk', 'win2k-hack', 'no-quit', 'usb', 'curses', 'alt-grab', 'ctrl-grab', 'no-frame',
  'sdl', 'portrait', 'semihosting', 'only-migratable', 'preconfig', 'enable-fips', 'version', 'help', 'h', 'localtime', 'old-param',
  'rtc-td-hack', 'no-shutdown', 'std-vga', 'nic-model', 'no-graphic',
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
  /** Options carried into nothing: guest-visible settings the .machine cannot say, for a note. */
  readonly notCarried: string[];
  readonly errors: string[];
}

/** Options dropped from the inspection run: they would daemonize, open sockets, windows or files. */
const DROP = new Set(['daemonize', 'monitor', 'qmp', 'qmp-pretty', 'mon', 'vnc', 'display', 'nographic', 'curses', 'sdl', 'spice', 'S', 'pidfile', 'D', 'trace', 'incoming', 'loadvm', 'runas', 'chroot', 'sandbox', 'enable-kvm', 'no-kvm', 'accel', 'cpu', 'kernel', 'initrd', 'append', 'dtb', 'fda', 'fdb', 'full-screen', 'gdb', 's', 'name', 'uuid', 'writeconfig', 'msg', 'd', 'L']);
/** Options that change nothing the .machine describes, dropped from the notes. */
const QUIET = new Set(['daemonize', 'monitor', 'qmp', 'qmp-pretty', 'mon', 'vnc', 'display', 'nographic', 'curses', 'sdl', 'S', 'pidfile', 'D', 'trace', 'runas', 'chroot', 'sandbox', 'enable-kvm', 'no-kvm', 'accel', 'name', 'uuid', 'nodefaults', 'no-user-config', 'm', 'smp', 'machine', 'M', 'device', 'netdev', 'nic', 'net', 'drive', 'blockdev', 'hda', 'hdb', 'hdc', 'hdd', 'cdrom', 'chardev', 'serial', 'parallel', 'snapshot', 'msg', 'd', 'L', 'qmp', 'vga', 'usb', 'bios']);

const HARMLESS_CHARDEVS = new Set(['null', 'pty', 'ringbuf', 'memory']);

export function readCommandLine(args: readonly string[], cwd: string): ReadCommandLine {
  const { options, errors } = splitOptions(args);
  const out: string[] = [];
  const netdevs = new Map<string, NetBackend>();
  const drives = new Map<string, BlockBackend>();
  const nics: NetBackend[] = [];
  const chardevs = new Map<string, NetBackend>();
  const notCarried: string[] = [];
  let hubBackend: NetBackend | undefined;
  let machineWord: string | undefined;
  let nodefaults = false;
  let uuidGiven = false;
  let accel: string[] | undefined;
  let driveCount = 0;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  const addDrive = (pairs: [string, string][]) => {
    const id = get(pairs, 'id') ?? `machinec-drive${driveCount++}`;
    const file = get(pairs, 'file');
    const media = get(pairs, 'media');
    const ro = get(pairs, 'readonly') ?? get(pairs, 'read-only');
    if (get(pairs, 'if') === 'pflash' || get(pairs, 'if') === 'mtd' || get(pairs, 'if') === 'sd') {
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
        const extra = rest.filter(([k]) => k !== 'type');
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
        let pairs: [string, string][];
        if (v.trim().startsWith('{')) {
          const flat: [string, string][] = [];
          const walk = (o: Record<string, unknown>, prefix: string) => {
            for (const [k, x] of Object.entries(o)) {
              if (x && typeof x === 'object') walk(x as Record<string, unknown>, `${prefix}${k}.`);
              else flat.push([`${prefix}${k}`, String(x)]);
            }
          };
          walk(JSON.parse(v) as Record<string, unknown>, '');
          pairs = flat;
        } else pairs = parseKv(v);
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
        out.push('-blockdev', kvText([['driver', 'null-co'], ['node-name', node]]));
        break;
      }
      case 'chardev': {
        const pairs = parseKv(v, 'backend');
        const id = get(pairs, 'id') ?? '';
        chardevs.set(id, { type: pairs[0][1], options: pairs.slice(1).filter(([k]) => k !== 'id') });
        out.push('-chardev', HARMLESS_CHARDEVS.has(pairs[0][1]) ? v : `null,id=${id}`);
        break;
      }
      case 'serial':
      case 'parallel':
        out.push(`-${o.name}`, v === 'none' ? 'none' : 'null');
        break;
      case 'bios':
        if (existsSync(abs(v))) out.push('-bios', abs(v));
        notCarried.push(`-bios ${v}`);
        break;
      default:
        if (DROP.has(o.name)) {
          if (!QUIET.has(o.name)) notCarried.push(`-${o.name}${o.value !== undefined ? ` ${o.value}` : ''}`);
          break;
        }
        if (!QUIET.has(o.name)) notCarried.push(`-${o.name}${o.value !== undefined ? ` ${o.value}` : ''}`);
        out.push(`-${o.name}`, ...(o.value !== undefined ? [o.value] : []));
    }
  }
  return { inspectionArgs: [...out, '-accel', 'tcg'], machineWord, nodefaults, uuidGiven, accel, netdevs, hubBackend, nics, drives, chardevs, notCarried, errors };
}
