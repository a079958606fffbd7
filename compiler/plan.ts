/**
 * What a build changes, device by device, in the guest's eyes: the same comparison serves
 * `plan` (lock on disk against the build) and `diff` (two locks).
 *
 *   +  added            -  removed (its address is freed)
 *   !  moved or renumbered: an existing device's guest address changes
 *   ~  changed in place: model, pinned values (MAC, serial, …)
 */
import { guestNamesOf, noticesFor, type GuestNames } from './guest-names.js';
import { formatGuestAddress } from './lockfile.js';
import { formatAddress } from './machine-spec.js';
import type { PlacedDevice, PlacedMachine } from './model.js';
import { compareHostEffects, compareOptions, hostSideChanged, type HostEffectLine, type OptionChange } from './plan-options.js';

export type ChangeSign = '+' | '-' | '!' | '~';

export interface DeviceChange {
  readonly sign: ChangeSign;
  readonly id: string;
  readonly model: string;
  readonly auto: boolean;
  readonly before?: PlacedDevice;
  readonly after?: PlacedDevice;
  /** Plain-language lines: "moves 00:04.0 → 00:05.0", "model e1000 → rtl8139", … */
  readonly details: string[];
  /** For a device recognised as renamed: its id before. */
  readonly renamedFrom?: string;
  /** What the guest notices (Linux NIC and by-path names, Windows device instances): see guest-names.ts. */
  readonly notices: string[];
}

export interface Plan {
  readonly changes: DeviceChange[];
  readonly machine: string[];
  /** Whether any existing device moved, changed or went away, or a machine-wide pin changed. */
  readonly guestVisible: boolean;
  readonly counts: Readonly<Record<'added' | 'removed' | 'moved' | 'changed', number>>;
  /** QEMU options (backends, memory, CPUs, accelerators, display, …) that come, go or change. */
  readonly options: OptionChange[];
  /** Every host-side effect of the machine after the change, and those it no longer has. */
  readonly hostEffects: HostEffectLine[];
  /** Whether an option changed or went, or a host effect came (beyond a new device's own backend) or went. */
  readonly hostChanged: boolean;
  /** Addresses removed devices freed that stay unused in this change (see place: freed addresses). */
  readonly reserved: readonly { readonly address: string; readonly freedBy: string }[];
}

/** Where a device is, as the guest and QEMU see it: `01:00.0 (rp1 00.0)` or `usb.0 port 1`. */
export function describePlace(d: PlacedDevice): string {
  if (d.guest && d.addr) return `${formatGuestAddress(d.guest)} (${d.bus} ${formatAddress(d.addr)})`;
  const key = ['port', 'scsi-id', 'unit', 'nr', 'cad'].find((k) => d.pins[k] !== undefined);
  return key ? `${d.bus} ${key} ${d.pins[key]}` : d.bus;
}

const NOT_RECORDED = 'the lock does not record QEMU options yet: the next build records them';

const PLACE_PINS = new Set(['port', 'scsi-id', 'unit', 'nr', 'cad']);

export function comparePlacements(before: PlacedMachine | undefined, after: PlacedMachine): Plan {
  const changes: DeviceChange[] = [];
  const machine: string[] = [];
  const old = new Map((before?.devices ?? []).map((d) => [d.id, d]));
  const now = new Map(after.devices.map((d) => [d.id, d]));
  if (before) {
    if (before.machineType !== after.machineType) machine.push(`machine type ${before.machineType} → ${after.machineType}`);
    if (before.uuid !== after.uuid) machine.push(`SMBIOS UUID ${before.uuid} → ${after.uuid}`);
    if (before.name !== after.name) machine.push(`machine name ${before.name} → ${after.name}`);
  }
  for (const d of after.devices) {
    const b = old.get(d.id);
    if (!b) {
      changes.push({ sign: '+', id: d.id, model: d.model, auto: d.auto, after: d, details: [`new at ${describePlace(d)}`], notices: [] });
      continue;
    }
    const details: string[] = [];
    let moved = false;
    if (b.bus !== d.bus || b.addr?.slot !== d.addr?.slot || b.addr?.fn !== d.addr?.fn || [...PLACE_PINS].some((k) => b.pins[k] !== d.pins[k])) {
      moved = true;
      details.push(`moves ${describePlace(b)} → ${describePlace(d)}`);
    } else if (b.guest && d.guest && b.guest.bus !== d.guest.bus) {
      moved = true;
      details.push(`bus renumbered: ${formatGuestAddress(b.guest)} → ${formatGuestAddress(d.guest)}`);
    }
    if (b.secondaryBus !== d.secondaryBus && b.secondaryBus !== undefined && d.secondaryBus !== undefined && !moved) {
      details.push(`its bus number ${b.secondaryBus} → ${d.secondaryBus}`);
      moved = true;
    }
    if (b.model !== d.model) details.push(`model ${b.model} → ${d.model}${moved ? '' : `, stays at ${describePlace(d)}`}`);
    for (const key of new Set([...Object.keys(b.pins), ...Object.keys(d.pins)])) {
      if (PLACE_PINS.has(key) || b.pins[key] === d.pins[key]) continue;
      details.push(`${key} ${b.pins[key] ?? '(none)'} → ${d.pins[key] ?? '(none)'}`);
    }
    if (b.auto !== d.auto) details.push(d.auto ? 'now created by machinec' : 'now declared in the source');
    if (b.props !== d.props) details.push(`QEMU properties ${b.props ?? '(none)'} → ${d.props ?? '(none)'}`);
    if (details.length) changes.push({ sign: moved ? '!' : '~', id: d.id, model: d.model, auto: d.auto, before: b, after: d, details, notices: [] });
  }
  for (const b of before?.devices ?? []) {
    if (!now.has(b.id)) changes.push({ sign: '-', id: b.id, model: b.model, auto: b.auto, before: b, details: [`removed, frees ${describePlace(b)}`], notices: [] });
  }
  addNotices(changes, before, after);
  const count = (s: ChangeSign) => changes.filter((c) => c.sign === s).length;
  const counts = { added: count('+'), removed: count('-'), moved: count('!'), changed: count('~') };
  // A lock from before options were recorded (every lock machinec writes now has -nodefaults):
  // nothing to compare them with, so the plan lists them as they are and says so.
  const recorded = before === undefined || (before.options?.length ?? 0) > 0;
  if (!recorded) machine.push(NOT_RECORDED);
  const byId = new Map(changes.filter((c) => c.sign === '+' || c.sign === '-').map((c) => [c.id, c]));
  const options = !recorded ? [] : compareOptions(before, after, (id, text) => {
    const c = byId.get(id);
    if (c) c.details.push(`backend ${text}`);
    return c !== undefined;
  });
  const hostEffects = compareHostEffects(recorded ? before : after, after);
  const ids = (sign: ChangeSign) => new Set(changes.filter((c) => c.sign === sign).map((c) => c.id));
  const hostChanged = hostSideChanged(options, hostEffects, ids('+'), ids('-'));
  return { changes, machine, counts, guestVisible: machine.some((m) => !m.startsWith('machine name') && m !== NOT_RECORDED) || counts.removed + counts.moved + counts.changed > 0, options, hostEffects, hostChanged, reserved: [] };
}

/**
 * Fills each change's `notices` from the guest names before and after. A device whose own lock
 * line did not change but whose names did (a disk behind a controller that moved, a NIC behind a
 * renumbered bridge is already a change) is reported on its nearest changed ancestor.
 */
function addNotices(changes: DeviceChange[], before: PlacedMachine | undefined, after: PlacedMachine): void {
  const was = before ? guestNamesOf(before) : new Map<string, GuestNames>();
  const now = guestNamesOf(after);
  const byId = new Map(changes.map((c) => [c.id, c]));
  for (const c of changes) c.notices.push(...noticesFor(was.get(c.id), now.get(c.id)));
  const parentOf = new Map(after.devices.map((d) => [d.id, d.bus.replace(/\.\d+$/, '')]));
  for (const [id, names] of now) {
    const old = was.get(id);
    if (!old || byId.has(id)) continue;
    const notices = noticesFor(old, names);
    if (!notices.length) continue;
    let up = parentOf.get(id);
    for (let depth = 0; up && !byId.has(up) && depth < 256; depth++) up = parentOf.get(up);
    const host = up ? byId.get(up) : undefined;
    if (host) host.notices.push(...notices.map((n) => `${id}: ${n}`));
  }
  // A NIC that takes the Linux name another one had: that one's guest configuration applies to it.
  const hadName = new Map([...was].filter(([, n]) => n.linuxNic).map(([id, n]) => [n.linuxNic!, id]));
  for (const c of changes) {
    const name = now.get(c.id)?.linuxNic;
    const other = name ? hadName.get(name) : undefined;
    if (name && other && other !== c.id && now.get(other)?.linuxNic !== name) c.notices.push(`Linux: takes the name ${name} that ${other}${now.has(other) ? '' : ' (removed)'} had`);
  }
}
