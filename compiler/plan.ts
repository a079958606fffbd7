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
import { renameBackendIds } from './qemu/backend-ids.js';
import { childKeyPins } from './qemu-facts.js';
import { compareVm } from './vm-lock.js';

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
  /** Whether any existing device moved, changed or went away, or a machine-wide pin or guest-visible option changed. */
  readonly guestVisible: boolean;
  /** What the guest notices of machine-wide changes (CPU, topology, memory, SMBIOS, machine type, firmware, ACPI). */
  readonly guest: string[];
  readonly counts: Readonly<Record<'added' | 'removed' | 'moved' | 'changed' | 'renamed', number>>;
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
  const key = childKeyPins.find((k) => d.pins[k] !== undefined);
  return key ? `${d.bus} ${key} ${d.pins[key]}` : d.bus;
}

const NOT_RECORDED = 'the lock does not record QEMU options yet: the next build records them';

const PLACE_PINS = new Set(childKeyPins);

const IDENTITY_PINS = ['mac', 'serial'];

/** A bus name after renaming its owner: `lan3` → `dmz`, `usb.0` → `hub.0`. */
function renameBus(bus: string, renamed: ReadonlyMap<string, string>): string {
  const dot = bus.lastIndexOf('.');
  return renamed.get(bus) ?? (dot > 0 && renamed.has(bus.slice(0, dot)) ? renamed.get(bus.slice(0, dot))! + bus.slice(dot) : bus);
}

const samePlace = (a: PlacedDevice, b: PlacedDevice): boolean =>
  a.bus === b.bus && a.addr?.slot === b.addr?.slot && a.addr?.fn === b.addr?.fn && [...PLACE_PINS].every((k) => a.pins[k] === b.pins[k]);

/**
 * Devices that went under one id and came back under another (`machinec rename`, or a rename by
 * hand that kept the lock's values): same model, and the same MAC or serial, or (for a device
 * without either) the same place. Old id → new id. Controllers first, so their children's
 * buses can be compared renamed.
 */
export function matchRenames(before: PlacedMachine, after: PlacedMachine): Map<string, string> {
  const afterIds = new Set(after.devices.map((d) => d.id));
  const beforeIds = new Set(before.devices.map((d) => d.id));
  const gone = before.devices.filter((d) => !afterIds.has(d.id) && !d.auto);
  const added = after.devices.filter((d) => !beforeIds.has(d.id) && !d.auto);
  const renamed = new Map<string, string>();
  const taken = new Set<string>();
  for (let pass = 0, found = true; found && pass < 8; pass++) {
    found = false;
    for (const b of gone) {
      if (renamed.has(b.id)) continue;
      const moved = { ...b, bus: renameBus(b.bus, renamed) };
      const ids = IDENTITY_PINS.filter((k) => b.pins[k] !== undefined);
      const match = added.find((a) => !taken.has(a.id) && a.model === b.model && a.attachment === b.attachment && (ids.length ? ids.every((k) => a.pins[k] === b.pins[k]) : samePlace(moved, a)));
      if (!match) continue;
      renamed.set(b.id, match.id);
      taken.add(match.id);
      found = true;
    }
  }
  return renamed;
}

/** What changed for a device present before (as `b`, its buses renamed) and after (`d`). */
function compareDevice(b: PlacedDevice, d: PlacedDevice): { details: string[]; moved: boolean } {
  const details: string[] = [];
  let moved = false;
  if (!samePlace(b, d)) {
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
  return { details, moved };
}

/** The machine's backend options under their devices' new ids (`net-lan3` → `net-dmz`), so a rename alone changes no option. */
function renameBackends(m: PlacedMachine, renamed: ReadonlyMap<string, string>): PlacedMachine {
  if (!renamed.size || !m.options) return m;
  return { ...m, options: m.options.map(([opt, value]) => [opt, renameBackendIds(value, renamed)] as const) };
}

export function comparePlacements(before: PlacedMachine | undefined, after: PlacedMachine): Plan {
  const changes: DeviceChange[] = [];
  const machine: string[] = [];
  const renamed = before ? matchRenames(before, after) : new Map<string, string>();
  const renamedTo = new Map([...renamed].map(([from, to]) => [to, from]));
  const old = new Map((before?.devices ?? []).map((d) => [d.id, d]));
  const now = new Map(after.devices.map((d) => [d.id, d]));
  if (before) {
    if (before.machineType !== after.machineType) machine.push(`machine type ${before.machineType} → ${after.machineType}`);
    if (before.uuid !== after.uuid) machine.push(`SMBIOS UUID ${before.uuid} → ${after.uuid}`);
    if (before.name !== after.name) machine.push(`machine name ${before.name} → ${after.name}`);
    machine.push(...compareVm(before, after));
  }
  let renames = 0;
  for (const d of after.devices) {
    const from = renamedTo.get(d.id);
    const b = old.get(from ?? d.id);
    if (!b) {
      changes.push({ sign: '+', id: d.id, model: d.model, auto: d.auto, after: d, details: [`new at ${describePlace(d)}`], notices: [] });
      continue;
    }
    const { details, moved } = compareDevice({ ...b, bus: renameBus(b.bus, renamed) }, d);
    if (from) {
      if (!details.length) renames++;
      details.unshift(`renamed ${d.id}${moved ? '' : `, stays at ${d.guest ? formatGuestAddress(d.guest) : describePlace(d)}`}`);
    }
    if (details.length) changes.push({ sign: moved ? '!' : '~', id: d.id, model: d.model, auto: d.auto, before: b, after: d, details, notices: [], ...(from ? { renamedFrom: from } : {}) });
  }
  for (const b of before?.devices ?? []) {
    if (!now.has(b.id) && !renamed.has(b.id)) changes.push({ sign: '-', id: b.id, model: b.model, auto: b.auto, before: b, details: [`removed, frees ${describePlace(b)}`], notices: [] });
  }
  addNotices(changes, before, after, renamed);
  const count = (s: ChangeSign) => changes.filter((c) => c.sign === s).length;
  const counts = { added: count('+'), removed: count('-'), moved: count('!'), changed: count('~') - renames, renamed: renames };
  // A lock from before options were recorded (every lock machinec writes now has -nodefaults):
  // nothing to compare them with, so the plan lists them as they are and says so.
  const recorded = before === undefined || (before.options?.length ?? 0) > 0;
  if (!recorded) machine.push(NOT_RECORDED);
  const byId = new Map(changes.filter((c) => c.sign === '+' || c.sign === '-').map((c) => [c.id, c]));
  const was = before && renameBackends(before, renamed);
  const options = !recorded ? [] : compareOptions(was, after, (id, text) => {
    const c = byId.get(id);
    if (c) c.details.push(`backend ${text}`);
    return c !== undefined;
  });
  const hostEffects = compareHostEffects(recorded ? was : after, after);
  const ids = (sign: ChangeSign) => new Set(changes.filter((c) => c.sign === sign).map((c) => c.id));
  const hostChanged = hostSideChanged(options, hostEffects, ids('+'), ids('-'));
  const guest = before ? guestNotices(machine, options) : [];
  const machineWide = machine.some((m) => !m.startsWith('machine name') && m !== NOT_RECORDED) || guest.length > 0;
  const guestVisible = machineWide || counts.removed + counts.moved + counts.changed > 0;
  return { changes, machine, guest, counts, guestVisible, options, hostEffects, hostChanged, reserved: reservedBy(changes, after) };
}

/** What the guest notices of a machine-wide change, by the lock line or QEMU option that says it. */
const GUEST_NOTICES: readonly (readonly [RegExp, string])[] = [
  [/^CPU model /, 'Windows may ask for reactivation: the CPU model or vendor changes'],
  [/^-cpu$/, 'Linux: the CPU model and flags (CPUID) change what the kernel uses'],
  [/^-smp$/, 'the guest sees the new CPU topology at boot'],
  [/^-m$/, 'the guest sees the new memory size at boot'],
  [/^machine type |^-machine$/, 'the chipset and its ACPI tables can change: Windows may ask for reactivation'],
  [/^SMBIOS |^-smbios/, 'the guest reads new SMBIOS values (Windows activation ties to the UUID)'],
  [/^firmware |^secure boot /, 'the guest boots through other firmware: its boot entries and UEFI variables differ'],
  [/^ACPI /, 'the guest sees ACPI tables come or go: power management and device discovery change'],
];

function guestNotices(machine: readonly string[], options: readonly OptionChange[]): string[] {
  const said = [...machine, ...options.map((o) => o.option)];
  return [...new Set(GUEST_NOTICES.filter(([re]) => said.some((s) => re.test(s))).map(([, text]) => text))];
}

/**
 * Fills each change's `notices` from the guest names before and after. A device whose own lock
 * line did not change but whose names did (a disk behind a controller that moved, a NIC behind a
 * renumbered bridge is already a change) is reported on its nearest changed ancestor.
 */
function addNotices(changes: DeviceChange[], before: PlacedMachine | undefined, after: PlacedMachine, renamed: ReadonlyMap<string, string>): void {
  const was = new Map([...(before ? guestNamesOf(before) : new Map<string, GuestNames>())].map(([id, n]) => [renamed.get(id) ?? id, n]));
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

/** Addresses removed devices freed that no device holds after the change: they stay unused (see place/allocate.ts). */
function reservedBy(changes: readonly DeviceChange[], after: PlacedMachine): Plan['reserved'] {
  const held = new Set(after.devices.map((d) => describePlace(d)));
  return changes
    .filter((c) => c.sign === '-' && c.before && !c.auto && (c.before.addr || Object.keys(c.before.pins).some((k) => PLACE_PINS.has(k))) && !held.has(describePlace(c.before)))
    .map((c) => ({ address: describePlace(c.before!), freedBy: c.id }));
}
