/**
 * What a machine does to the host, read from the QEMU options machinec emits: programs QEMU
 * runs, files it opens for writing (or reading), sockets it connects to or listens on, and host
 * devices it opens or passes through. The plan lists them in their own section, so a reviewer
 * sees "runs /tmp/x.sh" at a glance, and `plan`/`diff` report every one that comes or goes.
 */
import { splitKeyval } from './qemu/keyval.js';
import type { PlacedMachine } from './model.js';

export type HostEffectKind = 'runs' | 'writes' | 'reads' | 'connects' | 'listens' | 'device';

export interface HostEffect {
  readonly kind: HostEffectKind;
  /** The program, file, address or device. */
  readonly target: string;
  /** The option that causes it, e.g. `-netdev net-nic0 (tap script)`. */
  readonly by: string;
}

/** `tap,id=net-nic0,ifname=tap0` → type tap and its key=value pairs; `,,` is a comma inside a value. */
export function splitOption(value: string): { head: string; pairs: Map<string, string> } {
  const parts = splitKeyval(value);
  const pairs = new Map<string, string>();
  const from = parts[0].includes('=') ? 0 : 1; // a first part with `=` is a pair: no head
  const head = from ? parts[0] : '';
  for (let i = from; i < parts.length; i++) {
    const p = parts[i];
    const eq = p.indexOf('=');
    pairs.set(eq < 0 ? p : p.slice(0, eq), eq < 0 ? 'on' : p.slice(eq + 1)); // a bare key is key=on, as QEMU reads it
  }
  if (!head && pairs.has('driver')) return { head: pairs.get('driver')!, pairs };
  return { head, pairs };
}

type Rule = (head: string, pairs: Map<string, string>, effect: (kind: HostEffectKind, target: string, why: string) => void) => void;

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
      if (p.has('hostfwd')) effect('listens', p.get('hostfwd')!, 'user hostfwd');
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

/** A device's own properties that reach the host. */
function deviceEffects(id: string, model: string, props: string | undefined, add: (e: HostEffect) => void): void {
  if (!props) return;
  const { pairs } = splitOption(`x,${props}`);
  if (pairs.has('romfile')) add({ kind: 'reads', target: pairs.get('romfile')!, by: `-device ${id} (romfile)` });
  if (model === 'vfio-pci' && pairs.has('host')) add({ kind: 'device', target: `host PCI device ${pairs.get('host')} (passed through)`, by: `-device ${id}` });
}

/** Every host-side effect of a machine as built (its recorded options and device properties), in option order. */
export function hostEffects(machine: PlacedMachine): HostEffect[] {
  const out: HostEffect[] = [];
  for (const [opt, value] of machine.options ?? []) {
    const rule = Object.hasOwn(RULES, opt) ? RULES[opt] : undefined;
    if (!rule) continue;
    const { head, pairs } = splitOption(value);
    const id = pairs.get('id') ?? pairs.get('node-name');
    rule(head, pairs, (kind, target, why) => out.push({ kind, target, by: `${opt}${id ? ` ${id}` : ''} (${why})` }));
  }
  for (const d of machine.devices) deviceEffects(d.id, d.model, d.props, (e) => out.push(e));
  return out;
}

const VERB: Readonly<Record<HostEffectKind, string>> = { runs: 'runs', writes: 'opens for writing', reads: 'reads', connects: 'connects to', listens: 'listens on', device: 'uses host device' };

/** "runs /tmp/x.sh (-netdev net-nic0 (tap script, as the user QEMU runs as))". */
export const describeHostEffect = (e: HostEffect): string => `${VERB[e.kind]} ${e.target}  [${e.by}]`;
