/**
 * The part of the plan beyond placement: every QEMU option the lock records (backends, memory,
 * CPUs, accelerators, display, …) that comes, goes or changes, and the host-side effects of the
 * machine (see host-effects.ts), marked as new or gone.
 */
import { describeHostEffect, hostEffects, splitOption, type HostEffect } from './host-effects.js';
import type { PlacedDevice, PlacedMachine } from './model.js';
import { backendOwner as ownerOfBackend } from './qemu/backend-ids.js';

export interface OptionChange {
  readonly sign: '+' | '-' | '~';
  /** `-netdev net-nic0`, `-m`, `-accel #2`. */
  readonly option: string;
  readonly before?: string;
  readonly after?: string;
}

export interface HostEffectLine {
  /** `+` new, `-` gone, `=` as before. */
  readonly sign: '+' | '-' | '=';
  readonly effect: HostEffect;
  readonly text: string;
}

/** Options by a stable name: the option and the id of what it creates, else its occurrence. */
export function keyed(m: PlacedMachine | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const [opt, value] of m?.options ?? []) {
    const { pairs } = splitOption(value);
    const id = pairs.get('id') ?? pairs.get('node-name');
    const n = (seen.get(opt) ?? 0) + 1;
    seen.set(opt, n);
    out.set(id ? `${opt} ${id}` : n > 1 ? `${opt} #${n}` : opt, value);
  }
  return out;
}

/** The device a backend option belongs to: `-netdev net-nic0` → nic0 (backends are named after their device, see backend-ids.ts). */
export function backendOwner(option: string): string | undefined {
  const space = option.indexOf(' ');
  return space < 0 ? undefined : ownerOfBackend(option.slice(0, space), option.slice(space + 1));
}

/**
 * Options that come, go or change. A backend that comes or goes with its device is said on that
 * device's line instead (`onDevice`), so a new NIC is one addition, not two.
 */
export function compareOptions(before: PlacedMachine | undefined, after: PlacedMachine, onDevice: (id: string, text: string) => boolean): OptionChange[] {
  const was = keyed(before);
  const now = keyed(after);
  const out: OptionChange[] = [];
  const own = (option: string, value: string) => {
    const owner = backendOwner(option);
    return owner !== undefined && onDevice(owner, `${option.split(' ')[0]} ${value}`);
  };
  for (const [option, value] of now) {
    const old = was.get(option);
    if (old === undefined) {
      if (!own(option, value)) out.push({ sign: '+', option, after: value });
    } else if (old !== value) out.push({ sign: '~', option, before: old, after: value });
  }
  for (const [option, value] of was) if (!now.has(option) && !own(option, value)) out.push({ sign: '-', option, before: value });
  const order = orderChange(was, now, after);
  if (order) out.push(order);
  return out;
}

/** The backends of devices (net-, drive-, chr-, audio-, tpm-, fs-ID) in the devices' order, as a build emits them; every other option keeps its place. */
export function inDeviceOrder(keys: readonly string[], devices: readonly PlacedDevice[]): string[] {
  const index = new Map(devices.map((d, i) => [d.id, i]));
  const rank = (key: string) => index.get(backendOwner(key) ?? '');
  const owned = keys.filter((k) => rank(k) !== undefined).sort((x, y) => rank(x)! - rank(y)!);
  let next = 0;
  return keys.map((k) => (rank(k) === undefined ? k : owned[next++]));
}

/**
 * Options both sides have, in another order than the devices' moves explain (backends follow
 * their devices): QEMU gets another command line, so the plan says so (the stretch that moved).
 */
function orderChange(was: ReadonlyMap<string, string>, now: ReadonlyMap<string, string>, machine: PlacedMachine): OptionChange | undefined {
  const before = inDeviceOrder([...was.keys()].filter((k) => now.has(k)), machine.devices);
  const after = [...now.keys()].filter((k) => was.has(k));
  let first = 0;
  while (first < before.length && before[first] === after[first]) first++;
  if (first === before.length) return undefined;
  let last = before.length - 1;
  while (before[last] === after[last]) last--;
  return { sign: '~', option: 'order', before: before.slice(first, last + 1).join(', '), after: after.slice(first, last + 1).join(', ') };
}

export function compareHostEffects(before: PlacedMachine | undefined, after: PlacedMachine): HostEffectLine[] {
  const count = (effects: HostEffect[]) => {
    const m = new Map<string, number>();
    for (const e of effects) m.set(describeHostEffect(e), (m.get(describeHostEffect(e)) ?? 0) + 1);
    return m;
  };
  const old = hostEffects(before ?? { ...after, options: [], devices: [] });
  const was = count(old);
  const out: HostEffectLine[] = [];
  for (const e of hostEffects(after)) {
    const text = describeHostEffect(e);
    const left = was.get(text) ?? 0;
    if (before && left > 0) was.set(text, left - 1);
    out.push({ sign: before && left > 0 ? '=' : '+', effect: e, text });
  }
  for (const e of old) {
    const text = describeHostEffect(e);
    const left = was.get(text) ?? 0;
    if (left > 0) {
      was.set(text, left - 1);
      out.push({ sign: '-', effect: e, text });
    }
  }
  return out;
}

/**
 * Whether the host side changes in a way review must see (`diff` exits 1): an option changed or
 * removed, a host effect gone, or a new one that comes from a device property (romfile, a
 * passed-through host device), from an option that was there before, or is always reviewed.
 */
export function hostSideChanged(options: readonly OptionChange[], effects: readonly HostEffectLine[], added: ReadonlySet<string>, removed: ReadonlySet<string>): boolean {
  const addedOptions = options.filter((o) => o.sign === '+').map((o) => `${o.option} (`);
  const owner = (e: HostEffect) => backendOwner(e.by.replace(/ \(.*$/, ''));
  const fromAdded = (e: HostEffect) => addedOptions.some((a) => e.by.startsWith(a)) || added.has(owner(e) ?? '');
  const fromRemoved = (e: HostEffect) => removed.has(owner(e) ?? '');
  const changed = (e: HostEffectLine) => (e.sign === '-' && !fromRemoved(e.effect)) || (e.sign === '+' && (alwaysReviewed(e.effect) || !fromAdded(e.effect)));
  return options.some((o) => o.sign !== '+' && o.option !== 'order') || effects.some(changed);
}

/**
 * New effects review must see even when their option or device is new: a program run, a socket
 * listened on, a host directory shared, a pflash the firmware writes (the UEFI variables),
 * anything from qemu-args and anything unclassified.
 */
function alwaysReviewed(e: HostEffect): boolean {
  if (e.kind === 'runs' || e.kind === 'listens' || e.kind === 'unclassified' || e.by.startsWith('qemu-args')) return true;
  return e.by.includes('(9p share') || (e.kind === 'writes' && e.by.endsWith('(pflash)'));
}
