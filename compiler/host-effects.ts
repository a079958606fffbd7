/**
 * What a machine does to the host, read from the QEMU options machinec emits: programs QEMU
 * runs, files it opens for writing (or reading), sockets it connects to or listens on, and host
 * devices it opens or passes through. The plan lists them in their own section, so a reviewer
 * sees "runs /tmp/x.sh" at a glance, and `plan`/`diff` report every one that comes or goes.
 */
import { splitKeyval } from './qemu/keyval.js';
import type { PlacedMachine } from './model.js';

export type HostEffectKind = 'runs' | 'writes' | 'reads' | 'connects' | 'listens' | 'device' | 'unclassified';

export interface HostEffect {
  readonly kind: HostEffectKind;
  /** The program, file, address or device. */
  readonly target: string;
  /** The option that causes it, e.g. `-netdev net-nic0 (tap script)`. */
  readonly by: string;
}

/** `tap,id=net-nic0,ifname=tap0` → type tap and its key=value pairs; `,,` is a comma inside a value. */
export function splitOption(value: string): { head: string; pairs: Map<string, string>; list: [string, string][] } {
  const parts = splitKeyval(value);
  const pairs = new Map<string, string>();
  const list: [string, string][] = []; // in order, repeats kept (`hostfwd=…,hostfwd=…`)
  const from = parts[0].includes('=') ? 0 : 1; // a first part with `=` is a pair: no head
  const head = from ? parts[0] : '';
  for (let i = from; i < parts.length; i++) {
    const p = parts[i];
    const eq = p.indexOf('=');
    const pair: [string, string] = [eq < 0 ? p : p.slice(0, eq), eq < 0 ? 'on' : p.slice(eq + 1)]; // a bare key is key=on, as QEMU reads it
    pairs.set(...pair);
    list.push(pair);
  }
  if (!head && pairs.has('driver')) return { head: pairs.get('driver')!, pairs, list };
  return { head, pairs, list };
}

/** An option's pairs: the last value of a key (as QEMU keeps it), and every value of a repeated one. */
interface Pairs {
  get(key: string): string | undefined;
  has(key: string): boolean;
  all(key: string): string[];
}

function pairsOf(value: string): { head: string; p: Pairs; id?: string } {
  const { head, pairs, list } = splitOption(value);
  const p: Pairs = { get: (k) => pairs.get(k), has: (k) => pairs.has(k), all: (k) => list.filter(([key]) => key === k).map(([, v]) => v) };
  return { head, p, id: pairs.get('id') ?? pairs.get('node-name') };
}

type Effect = (kind: HostEffectKind, target: string, why: string) => void;
type Rule = (head: string, pairs: Pairs, effect: Effect) => void;

const on = (v: string | undefined): boolean => v === 'on' || v === 'true' || v === 'yes';

/** One rule per QEMU option that can reach the host. */
const RULES: Readonly<Record<string, Rule>> = {
  '-netdev'(type, p, effect) {
    if (type === 'tap') {
      for (const key of ['script', 'downscript']) if (p.get(key) !== 'no') effect('runs', p.get(key) ?? (key === 'script' ? '/etc/qemu-ifup' : '/etc/qemu-ifdown'), `tap ${key}, as the user QEMU runs as`);
      if (p.has('helper')) effect('runs', p.get('helper')!, 'tap helper');
      effect('device', p.has('ifname') ? `tap interface ${p.get('ifname')}` : 'a new tap interface', 'tap');
      if (on(p.get('vhost'))) effect('device', '/dev/vhost-net', 'tap vhost');
    } else if (type === 'bridge') {
      effect('runs', p.get('helper') ?? 'qemu-bridge-helper (setuid root)', 'bridge helper');
      effect('device', `bridge ${p.get('br') ?? 'br0'}`, 'bridge');
    } else if (type === 'user') {
      for (const fwd of p.all('hostfwd')) effect('listens', fwd, 'user hostfwd');
      const guestfwd = p.get('guestfwd');
      if (guestfwd) effect(/-cmd:/.test(guestfwd) ? 'runs' : 'connects', guestfwd.replace(/^.*?-(cmd|tcp|unix):?/, '') || guestfwd, 'user guestfwd');
      if (p.has('smb')) effect('runs', `smbd sharing ${p.get('smb')}`, 'user smb');
      if (p.has('tftp')) effect('reads', p.get('tftp')!, 'user tftp');
    } else if (type === 'socket') {
      for (const key of ['listen']) if (p.has(key)) effect('listens', p.get(key)!, `socket ${key}`);
      for (const key of ['connect', 'mcast', 'udp']) if (p.has(key)) effect('connects', p.get(key)!, `socket ${key}`);
    }
  },
  '-chardev'(type, p, effect) {
    if (type === 'file') effect('writes', p.get('path') ?? '', on(p.get('append')) ? 'chardev file, appended' : 'chardev file, truncated');
    else if (type === 'pipe') effect('writes', `${p.get('path')}.in, ${p.get('path')}.out (or ${p.get('path')})`, 'chardev pipe');
    else if (type === 'socket' || type === 'udp') {
      const where = p.has('path') ? p.get('path')! : `${p.get('host') ?? 'localhost'}:${p.get('port') ?? ''}`;
      effect(type === 'socket' && on(p.get('server')) ? 'listens' : 'connects', where, `chardev ${type}`);
    } else if (type === 'pty') effect('device', 'a new pseudo-terminal', 'chardev pty');
    else if (type === 'stdio') effect('device', "machinec's terminal", 'chardev stdio');
  },
  '-blockdev'(_driver, p, effect) {
    const file = p.get('file.filename');
    if (file === undefined) return;
    effect(file.startsWith('/dev/') ? 'device' : on(p.get('read-only')) ? 'reads' : 'writes', file, 'disk image');
  },
  '-audiodev'(type, p, effect) {
    if (type === 'wav') effect('writes', p.get('path') ?? 'qemu.wav', 'audiodev wav');
    else if (type === 'pa' && p.has('server')) effect('connects', p.get('server')!, 'audiodev pa');
    else if (type !== 'none') effect('device', `host audio (${type})`, 'audiodev');
  },
  '-display'(type, p, effect) {
    if (type === 'vnc') effect('listens', 'a VNC port', 'display vnc');
    else if (type === 'egl-headless' && p.has('rendernode')) effect('device', p.get('rendernode')!, 'display rendernode');
    else if (type === 'dbus' && p.has('addr')) effect('connects', p.get('addr')!, 'display dbus');
    else if (type === 'gtk' || type === 'sdl' || type === 'spice-app') effect('device', `a ${type} window on the host display`, 'display');
  },
};

/** `-drive`, `-hda` and kin: the file QEMU opens, for reading when read-only. */
const driveRule: Rule = (head, p, effect) => {
  const file = p.get('file') ?? (head && !head.includes('=') ? head : undefined);
  if (file === undefined) return;
  const why = p.get('if') === 'pflash' ? 'pflash' : 'drive';
  effect(file.startsWith('/dev/') ? 'device' : on(p.get('readonly')) || on(p.get('read-only')) ? 'reads' : 'writes', file, why);
};

/** A chardev in the short form of -serial, -parallel, -monitor, -qmp: `file:PATH`, `tcp:HOST:PORT,server`, `unix:PATH`, `stdio`, … */
const chardevShortRule: Rule = (head, p, effect) => {
  const [kind, ...rest] = head.split(':');
  const where = rest.join(':');
  if (kind === 'file') effect('writes', where, 'chardev file');
  else if (kind === 'pipe') effect('writes', `${where}.in, ${where}.out (or ${where})`, 'chardev pipe');
  else if (['tcp', 'unix', 'telnet', 'websocket'].includes(kind)) effect(on(p.get('server')) ? 'listens' : 'connects', where, `chardev ${kind}`);
  else if (kind === 'udp') effect('connects', where, 'chardev udp');
  else if (kind === 'exec') effect('runs', where, 'chardev exec');
  else if (kind === 'stdio' || kind === 'mon') effect('device', "machinec's terminal", `chardev ${kind}`);
  else if (kind === 'pty') effect('device', 'a new pseudo-terminal', 'chardev pty');
  else if (kind.startsWith('/dev/')) effect('device', kind, 'chardev host device');
  else if (kind !== 'none' && kind !== 'null' && kind !== 'vc' && kind !== '') effect('unclassified', head, 'chardev: review by hand');
};

/** `-device` properties that reach the host; the driver's own. */
const deviceRule: Rule = (model, p, effect) => {
  if (p.has('romfile')) effect('reads', p.get('romfile')!, 'romfile');
  if (model === 'vfio-pci' && p.has('host')) effect('device', `host PCI device ${p.get('host')} (passed through)`, '');
  if (model === 'vfio-pci' && p.has('sysfsdev')) effect('device', `host device ${p.get('sysfsdev')} (passed through)`, 'vfio-pci');
  if (model === 'usb-host') {
    const which = ['hostbus', 'hostaddr', 'hostport', 'vendorid', 'productid'].filter((k) => p.has(k)).map((k) => `${k}=${p.get(k)}`);
    effect('device', `host USB device ${which.join(',') || '(any)'} (passed through)`, 'usb-host');
  }
  if (model === 'loader' && p.has('file')) effect('reads', p.get('file')!, 'loader file, into guest memory');
  if (model === 'vhost-user-fs-pci' || model === 'vhost-vsock-pci') effect('device', `host ${model}`, model);
};

/** -fsdev and -virtfs: a host directory the guest reads and writes, unless readonly. */
const fsdevRule: Rule = (type, p, effect) => {
  const readonly = on(p.get('readonly'));
  const how = readonly ? 'read-only' : 'read and written by the guest';
  if (type === 'local' && p.has('path')) effect(readonly ? 'reads' : 'writes', p.get('path')!, `9p share, ${how}`);
  else if (type === 'proxy' || type === 'synth') effect('unclassified', type, 'fsdev: review by hand');
};

/** -vnc and -spice: the address they listen on, and whether anyone may connect. */
const vncRule: Rule = (display, p, effect) => {
  if (display === 'none') return;
  const open = !p.has('password') && !p.has('tls-creds') && !p.has('sasl');
  effect('listens', display.startsWith('unix:') ? display.slice(5) : `${display} (VNC)${open ? ', no password' : ''}`, 'vnc');
};
const spiceRule: Rule = (_head, p, effect) => {
  const port = p.get('port') ?? p.get('tls-port') ?? '';
  const where = on(p.get('unix')) ? (p.get('addr') ?? '') : `${p.get('addr') ?? 'every interface'}:${port}`;
  effect('listens', `${where} (SPICE)${on(p.get('disable-ticketing')) ? ', no password' : ''}`, 'spice');
  if (p.has('gl') && p.has('rendernode')) effect('device', p.get('rendernode')!, 'spice rendernode');
};

/** -nic and -net: a netdev in short form (`tap,script=…`, `user,hostfwd=…`). */
const nicRule: Rule = (type, p, effect) => {
  if (type === 'nic' || type === 'none' || !type) return;
  RULES['-netdev'](type, p, effect);
};

/** Options whose values name no host file, address or program: QEMU keeps them inside the guest. */
const INSIDE = [
  ...['-global', '-m', '-smp', '-cpu', '-rtc', '-boot', '-no-reboot', '-no-shutdown', '-S', '-nodefaults', '-no-user-config', '-machine', '-M', '-name'],
  ...['-uuid', '-accel', '-enable-kvm', '-vga', '-k', '-usb', '-no-hpet', '-overcommit', '-msg', '-numa', '-action', '-icount', '-watchdog-action'],
  ...['-snapshot', '-only-migratable', '-no-acpi', '-nographic', '-g', '-full-screen', '-alt-grab', '-ctrl-grab', '-sandbox', '-semihosting', '-d'],
];

/**
 * Every option that may appear in `qemu-args`, with its effect on the host; `null` for one that has none.
 * An option not here is listed as an unclassified effect: review it by hand.
 */
const QEMU_OPTIONS: Readonly<Record<string, Rule | null>> = {
  ...Object.fromEntries(INSIDE.map((o) => [o, null])),
  ...RULES,
  '-device': deviceRule,
  '-drive': driveRule,
  ...Object.fromEntries(['-hda', '-hdb', '-hdc', '-hdd', '-cdrom', '-fda', '-fdb', '-mtdblock', '-sd', '-pflash'].map((o) => [o, driveRule])),
  '-fsdev': fsdevRule,
  '-virtfs': fsdevRule,
  '-vnc': vncRule,
  '-spice': spiceRule,
  '-nic': nicRule,
  '-net': nicRule,
  ...Object.fromEntries(['-serial', '-parallel', '-monitor', '-qmp', '-qmp-pretty', '-debugcon'].map((o) => [o, chardevShortRule])),
  '-incoming'(head, _p, effect) {
    if (head.startsWith('exec:')) effect('runs', head.slice(5), 'incoming migration exec');
    else if (/^(tcp|unix|rdma):/.test(head)) effect('listens', head.replace(/^\w+:/, ''), 'incoming migration');
    else if (head.startsWith('file:')) effect('reads', head.slice(5), 'incoming migration file');
    else if (head !== 'defer') effect('unclassified', head, 'incoming: review by hand');
  },
  '-plugin'(head, p, effect) {
    effect('runs', p.get('file') ?? head, 'TCG plugin, loaded into QEMU');
  },
  '-kernel': (head, _p, effect) => effect('reads', head, 'kernel'),
  '-initrd': (head, _p, effect) => effect('reads', head, 'initrd'),
  '-dtb': (head, _p, effect) => effect('reads', head, 'dtb'),
  '-bios': (head, _p, effect) => effect('reads', head, 'bios'),
  '-D': (head, _p, effect) => effect('writes', head, 'log file'),
  '-pidfile': (head, _p, effect) => effect('writes', head, 'pid file'),
  '-daemonize': (_h, _p, effect) => effect('unclassified', 'QEMU detaches from machinec', 'daemonize: review by hand'),
  '-runas': (head, _p, effect) => effect('unclassified', `QEMU runs as ${head}`, 'runas: review by hand'),
  '-chroot': (head, _p, effect) => effect('unclassified', `QEMU chroots to ${head}`, 'chroot: review by hand'),
};

/** The argv of qemu-args as options and their values; a bare word is QEMU's implicit -hda, kept as such. */
function qemuArgPairs(argv: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (!argv[i].startsWith('-')) out.push(['', argv[i]]);
    else if (next !== undefined && !next.startsWith('-') && !Object.prototype.hasOwnProperty.call(INSIDE_FLAGS, argv[i])) out.push([argv[i], argv[++i]]);
    else out.push([argv[i], '']);
  }
  return out;
}
const INSIDE_FLAGS: Readonly<Record<string, true>> = Object.fromEntries(
  [...['-S', '-nodefaults', '-no-user-config', '-no-reboot', '-no-shutdown', '-enable-kvm'], ...['-usb', '-no-hpet', '-snapshot', '-nographic']]
    .concat('-daemonize')
    .map((f) => [f, true]),
);

/** The host effects of the machine's qemu-args: each option by the table, an unknown one as unclassified. */
function qemuArgsEffects(argv: readonly string[], push: (e: HostEffect) => void): void {
  for (const [opt, value] of qemuArgPairs(argv)) {
    if (opt === '') {
      push({ kind: 'unclassified', target: value, by: 'qemu-args (a bare word: QEMU opens it as -hda; review by hand)' });
      continue;
    }
    const name = opt.startsWith('--') ? opt.slice(1) : opt;
    const rule = Object.hasOwn(QEMU_OPTIONS, name) ? QEMU_OPTIONS[name] : undefined;
    if (rule === undefined) {
      push({ kind: 'unclassified', target: `${opt}${value ? ` ${value}` : ''}`, by: 'qemu-args (unclassified QEMU option: review by hand)' });
      continue;
    }
    if (rule === null) continue;
    const { head, p, id } = pairsOf(value);
    rule(head, p, (kind, target, why) => push({ kind, target, by: `qemu-args ${opt}${id ? ` ${id}` : ''}${why ? ` (${why})` : ''}` }));
  }
}

/** How many of the recorded options come from qemu-args (they come last; -device and the header are not recorded). */
function fromQemuArgs(argv: readonly string[]): number {
  return qemuArgPairs(argv).filter(([o]) => !['-name', '-machine', '-uuid', '-device'].includes(o)).length;
}

/** Every host-side effect of a machine as built (its recorded options, device properties and qemu-args), in option order. */
export function hostEffects(machine: PlacedMachine): HostEffect[] {
  const out: HostEffect[] = [];
  const options = machine.options ?? [];
  const own = options.slice(0, Math.max(0, options.length - fromQemuArgs(machine.qemuArgs ?? [])));
  for (const [opt, value] of own) {
    const rule = Object.hasOwn(OWN_OPTIONS, opt) ? OWN_OPTIONS[opt] : undefined;
    if (!rule) continue;
    const { head, p, id } = pairsOf(value);
    rule(head, p, (kind, target, why) => out.push({ kind, target, by: `${opt}${id ? ` ${id}` : ''} (${why})` }));
  }
  const argDevices = new Set(qemuArgPairs(machine.qemuArgs ?? []).filter(([o]) => o === '-device').map(([, v]) => pairsOf(v).id));
  for (const d of machine.devices) {
    if (!d.props || argDevices.has(d.id)) continue;
    deviceRule(d.model, pairsOf(`x,${d.props}`).p, (kind, target, why) => out.push({ kind, target, by: `-device ${d.id}${why ? ` (${why})` : ''}` }));
  }
  qemuArgsEffects(machine.qemuArgs ?? [], (e) => out.push(e));
  return out;
}

/** The options machinec itself emits that reach the host. */
const OWN_OPTIONS: Readonly<Record<string, Rule>> = { ...RULES, '-drive': driveRule, '-fsdev': fsdevRule, '-vnc': vncRule, '-spice': spiceRule };

const VERB: Readonly<Record<HostEffectKind, string>> = {
  ...{ runs: 'runs', writes: 'opens for writing', reads: 'reads', connects: 'connects to', listens: 'listens on', device: 'uses host device' },
  unclassified: 'unclassified host effect:',
};

/** "runs /tmp/x.sh (-netdev net-nic0 (tap script, as the user QEMU runs as))". */
export const describeHostEffect = (e: HostEffect): string => `${VERB[e.kind]} ${e.target}  [${e.by}]`;

/** Whether the table knows a qemu-args option (with or without an effect on the host). */
export const classifiedOption = (name: string): boolean => Object.hasOwn(QEMU_OPTIONS, name.startsWith('--') ? name.slice(1) : name);
