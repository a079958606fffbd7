/**
 * A three-way merge of locks, for git's merge driver (`machinec merge-lock %O %A %B %P`). Device by
 * device: what one side changed and the other did not is taken; what both changed alike is taken
 * once. When the branches' additions clash (two NICs first-fit at one slot, or on one new root
 * port), the branch whose first new device id sorts first keeps what it locked and every device
 * the other added is placed anew after them by machinec's own rules around everything locked, as
 * a build of a source holding the first branch's new devices before the other's places them; the
 * result does not depend on which branch is merged into which. A device both sides changed differently, a device
 * id both added as different devices, or a machine header both changed, is a conflict naming it.
 * So is one acpi-index, MAC or serial on two devices (each branch gave its new NIC the first free
 * acpi-index): the guest names a NIC by it (eno1), the branch's configuration may name it too, and
 * the lock does not say whether the source wrote the value or left it to machinec, so the merge
 * does not choose which NIC becomes eno2; the user settles it and a build assigns it.
 */
import { catalog } from './catalog.js';
import { sharedPins } from './checks/lock.js';
import { chipsets, DEFAULT_CHIPSET } from './chipsets.js';
import { compile } from './compile.js';
import { formatGuestAddress, readLock, writeLock } from './lockfile.js';
import type { PlacedDevice, PlacedMachine } from './model.js';
import { inDeviceOrder, keyed } from './plan-options.js';
import { describePlace } from './plan.js';

export interface LockMerge {
  /** The merged lock, when there is no conflict. */
  readonly text?: string;
  /** Plain sentences naming what clashes. */
  readonly conflicts: string[];
  /** Devices placed anew because both sides put a new device at one address. */
  readonly replaced: string[];
  /** The lock's file name, as its header says it: the path git merges, or the machine's lock. */
  readonly name?: string;
}

/** A device line's content, to compare sides. */
const lineOf = (d: PlacedDevice | undefined): string => (d ? writeLock({ name: '-', chipset: DEFAULT_CHIPSET, machineType: chipsets[DEFAULT_CHIPSET].defaultMachineType, uuid: '-', devices: [d] }, '-').split('\n')[4] : '');
const where = (d: PlacedDevice): string => `${d.model} at ${d.guest ? formatGuestAddress(d.guest) : describePlace(d)}`;

/**
 * The branch whose additions go second when the two branches' additions clash: the one whose first new device of the
 * source (alphabetically) comes later, whichever is ours. 0 is ours, 1 theirs.
 */
function secondSide(o: PlacedMachine, a: PlacedMachine, b: PlacedMachine): 0 | 1 {
  const inBase = new Set(o.devices.map((d) => d.id));
  const [fa, fb] = [a, b].map((m) => m.devices.filter((d) => !d.auto && !inBase.has(d.id)).map((d) => d.id).sort()[0] ?? '\uffff');
  return fa <= fb ? 1 : 0;
}

/**
 * Device by device. A root port or bridge machinec created on both branches under one id, in two places, is the first
 * branch's: what the second branch put behind its own is placed anew (`twins` says it happened).
 */
function mergeDevices(o: PlacedMachine, a: PlacedMachine, b: PlacedMachine, second: 0 | 1, conflicts: string[]): { merged: PlacedDevice[]; twins: boolean } {
  const maps = [o, a, b].map((m) => new Map(m.devices.map((d) => [d.id, d])));
  const ids = [...new Set([...a.devices, ...b.devices, ...o.devices].map((d) => d.id))];
  const merged: PlacedDevice[] = [];
  let twins = false;
  for (const id of ids) {
    const [x, y, z] = maps.map((m) => m.get(id));
    const [lo, la, lb] = [x, y, z].map(lineOf);
    let take: PlacedDevice | undefined;
    if (la === lb || lb === lo) take = y;
    else if (la === lo) take = z;
    else if (!x && y?.auto && z?.auto && y.model === z.model) [take, twins] = [second === 1 ? y : z, true];
    else if (!x && y && z) conflicts.push(`both branches add a device ${id}, as different devices (ours: ${where(y)}, theirs: ${where(z)})`);
    else conflicts.push(`both branches change ${id} differently (ours: ${y ? where(y) : 'removed'}, theirs: ${z ? where(z) : 'removed'})`);
    if (take) merged.push(take);
  }
  return { merged, twins };
}

const GUEST_NAME: Record<string, (v: string) => string> = {
  'acpi-index': (v) => ` (both would be eno${v})`,
  mac: () => '',
  serial: () => '',
};

/** One acpi-index, MAC or serial on two merged devices: a conflict naming both and the branch that brought each. */
function pinConflicts(o: PlacedMachine, a: PlacedMachine, merged: readonly PlacedDevice[]): string[] {
  const [io, ia] = [o, a].map((m) => new Map(m.devices.map((d) => [d.id, lineOf(d)])));
  const origin = (d: PlacedDevice): string => {
    const line = lineOf(d);
    if (io.get(d.id) === line) return 'as in the base';
    return ia.get(d.id) === line ? (io.has(d.id) ? 'changed by ours' : 'added by ours') : io.has(d.id) ? 'changed by theirs' : 'added by theirs';
  };
  return sharedPins(merged).map(
    ({ pin, value, first, other }) => `${first.id} (${origin(first)}) and ${other.id} (${origin(other)}) both have ${pin} ${value}${GUEST_NAME[pin](value)}`,
  );
}

/** One three-way choice: what one side changed and the other did not, or what both did alike; undefined when they differ. */
function pick<T>(o: T, a: T, b: T, same: (x: T, y: T) => boolean): { value: T } | undefined {
  if (same(a, b) || same(b, o)) return { value: a };
  if (same(a, o)) return { value: b };
  return undefined;
}

/**
 * Keys in our order, each of theirs that we lack placed right after the nearest key before it in
 * theirs: one side's additions land where a build of the merged source puts them.
 */
function mergeOrder(ours: readonly string[], theirs: readonly string[]): string[] {
  const out = [...ours];
  theirs.forEach((key, i) => {
    if (out.includes(key)) return;
    let j = i - 1;
    while (j >= 0 && !out.includes(theirs[j])) j--;
    out.splice(j < 0 ? 0 : out.indexOf(theirs[j]) + 1, 0, key);
  });
  return out;
}

/** The QEMU options (lockfile 2's `option` lines), merged by their stable name (option and the id it creates). */
function mergeOptions(o: PlacedMachine, a: PlacedMachine, b: PlacedMachine, conflicts: string[]): Map<string, string> {
  const [ko, ka, kb] = [o, a, b].map(keyed);
  const merged = new Map<string, string>();
  for (const key of mergeOrder([...ka.keys()], [...kb.keys()])) {
    const [vo, va, vb] = [ko, ka, kb].map((k) => k.get(key));
    const chosen = pick(vo, va, vb, (x, y) => x === y);
    if (!chosen) conflicts.push(`both branches change QEMU option ${key} differently (ours: ${va ?? 'removed'}, theirs: ${vb ?? 'removed'})`);
    else if (chosen.value !== undefined) merged.set(key, chosen.value);
  }
  return merged;
}

/** The machine-wide pins (firmware, CPU, SMBIOS, qemu-args), each merged three-way on its own. */
const VM_PINS = ['firmware', 'cpu', 'smbios', 'qemuArgs', 'acpi'] as const;
type VmPins = Partial<Pick<PlacedMachine, (typeof VM_PINS)[number]>>;
const LINE_OF: Record<(typeof VM_PINS)[number], string> = { firmware: 'firmware', cpu: 'cpu', smbios: 'smbios', qemuArgs: 'qemu-args', acpi: 'acpi' };

function mergeVmPins(o: PlacedMachine, a: PlacedMachine, b: PlacedMachine, conflicts: string[]): VmPins {
  const merged: Record<string, unknown> = {};
  for (const key of VM_PINS) {
    const chosen = pick(o[key], a[key], b[key], (x, y) => JSON.stringify(x) === JSON.stringify(y));
    if (!chosen) conflicts.push(`both branches change the ${LINE_OF[key]} line differently`);
    else if (chosen.value !== undefined) merged[key] = chosen.value;
  }
  return merged as VmPins;
}

/** The device whose bus `d` plugs into (`rp1`, or `usb0` for `usb0.0`), among `byId`. */
const parentOf = (d: PlacedDevice, byId: ReadonlyMap<string, PlacedDevice>): PlacedDevice | undefined =>
  byId.get(d.bus) ?? byId.get(d.bus.replace(/\.\d+$/, ''));

/**
 * What a device is ranked by when two share a place: its id, or for a root port or bridge machinec created, the first
 * id (alphabetically) of the devices of the source behind it: a clash between one branch's NIC behind a new bridge and
 * the other branch's NIC on that root port is a clash between the two NICs.
 */
function rankIds(merged: readonly PlacedDevice[]): Map<string, string> {
  const byId = new Map(merged.map((d) => [d.id, d]));
  const rank = new Map<string, string>();
  for (const d of merged) {
    if (d.auto) continue;
    for (let up = parentOf(d, byId); up?.auto; up = parentOf(up, byId)) {
      const now = rank.get(up.id);
      if (now === undefined || d.id < now) rank.set(up.id, d.id);
    }
  }
  return rank;
}

/**
 * When a device one branch added lost its place, that branch's additions all go after the other's, as in a build of a
 * source that holds one branch's new devices and then the other's: every device only the second branch added is placed
 * anew (in its order), not only the one that clashed, so none keeps a place the first branch's devices push it from.
 */
type Sides = readonly [PlacedMachine, PlacedMachine];

function secondBranch(merged: readonly PlacedDevice[], base: PlacedMachine, sides: Sides, second: 0 | 1, losers: Set<PlacedDevice>, twins: boolean): void {
  const inBase = new Set(base.devices.map((d) => d.id));
  const lines = sides.map((m) => new Map(m.devices.map((d) => [d.id, lineOf(d)])));
  const onlyIn = (side: number, d: PlacedDevice) => !inBase.has(d.id) && lines[side].get(d.id) === lineOf(d) && lines[1 - side].get(d.id) !== lineOf(d);
  const added = [0, 1].map((side) => merged.filter((d) => onlyIn(side, d)));
  if (!twins && ![...losers].some((d) => added[0].includes(d) || added[1].includes(d))) return;
  // Their devices behind a root port or bridge both made under one id (the first branch's is kept) are among them.
  for (const d of added[second]) losers.add(d);
}

/** Devices that share a place with an earlier one: existing devices first, then new ones by rank (system devices have no place to share). */
function clashing(merged: readonly PlacedDevice[], base: PlacedMachine, sides: Sides, second: 0 | 1, twins: boolean): PlacedDevice[] {
  const inBase = new Set(base.devices.map((d) => d.id));
  const ranks = rankIds(merged);
  const rank = (d: PlacedDevice) => ranks.get(d.id) ?? d.id;
  const byRank = (x: PlacedDevice, y: PlacedDevice) => (rank(x) < rank(y) ? -1 : rank(x) > rank(y) ? 1 : x.id < y.id ? -1 : 1);
  const order = [...merged].sort((x, y) => Number(inBase.has(y.id)) - Number(inBase.has(x.id)) || byRank(x, y));
  const seen = new Set<string>();
  const losers = new Set<PlacedDevice>();
  for (const d of order) {
    if (d.attachment === 'system') continue;
    const place = describePlace(d);
    if (seen.has(place)) losers.add(d);
    else seen.add(place);
  }
  secondBranch(merged, base, sides, second, losers, twins);
  // A root port or bridge machinec created that lost its place goes, and what the source puts behind it is placed anew.
  const byId = new Map(merged.map((d) => [d.id, d]));
  const behindLoser = (d: PlacedDevice): boolean => {
    for (let up = parentOf(d, byId); up; up = parentOf(up, byId)) if (losers.has(up) && up.auto) return true;
    return false;
  };
  return merged.filter((d) => losers.has(d) || behindLoser(d));
}

/** A source that says what the lock holds (controllers and what is nested in them), for placing the devices that lost their address. */
function sourceFor(m: PlacedMachine, devices: readonly PlacedDevice[]): string {
  const ids = new Set(devices.filter((d) => !d.auto).map((d) => d.id));
  const ownerOf = (d: PlacedDevice): string | undefined => (ids.has(d.bus) ? d.bus : ids.has(d.bus.replace(/\.\d+$/, '')) ? d.bus.replace(/\.\d+$/, '') : undefined);
  const body = (d: PlacedDevice): string => {
    const backend = catalog[d.model]?.backend;
    const props = backend === 'netdev' ? ['netdev = user'] : backend === 'block' ? ['file = "merge.img"'] : backend === 'chardev' ? ['chardev = null'] : [];
    const kids = devices.filter((k) => !k.auto && ownerOf(k) === d.id).map((k) => `device ${k.id}: ${k.model} ${body(k)}`);
    return `{ ${[...props, ...kids].join('\n')} }`;
  };
  const top = devices.filter((d) => !d.auto && !ownerOf(d)).map((d) => `  device ${d.id}: ${d.model} ${body(d)}`);
  return `machine ${m.name} {\n  chipset = ${m.machineType}\n${top.join('\n')}\n}\n`;
}

/**
 * Where the devices placed anew go, by a build of a stand-in source around everything else locked. Every other device
 * keeps its pins and QEMU properties as merged, and takes the guest bus numbers of the merged topology.
 */
function placeAnew(base: PlacedMachine, head: PlacedMachine, merged: readonly PlacedDevice[], losers: readonly PlacedDevice[], lockName: string):
  PlacedMachine | string {
  const out = new Set(losers.map((d) => d.id));
  const kept = merged.filter((d) => !out.has(d.id));
  // The base's devices a branch removed stay in the stand-in's lock, so the stand-in build sees them removed in this
  // change, as a build of the merged source does: the addresses they held go to a device placed anew only as a last resort.
  const inMerge = new Set(merged.map((d) => d.id));
  const removed = base.devices.filter((d) => !inMerge.has(d.id));
  const sourceName = lockName.replace(/\.lock$/, '');
  const lock = writeLock({ ...head, devices: [...kept, ...removed] }, sourceName);
  const placed = compile({ file: sourceName, source: sourceFor(head, merged), lock: { file: lockName, text: lock } });
  if (!placed.ok || !placed.machine) return `${losers.map((d) => d.id).join(', ')} could not be placed anew: ${placed.diagnostics[0]?.message ?? 'no room'}`;
  const mergedById = new Map(merged.map((d) => [d.id, d]));
  const devices = placed.machine.devices.map((d): PlacedDevice => {
    const m = mergedById.get(d.id);
    if (!m) return d;
    const { props: _stand, source: _s, guest: _g, secondaryBus: _b, ...rest } = m;
    const topology = { ...(d.guest ? { guest: d.guest } : {}), ...(d.secondaryBus !== undefined ? { secondaryBus: d.secondaryBus } : {}) };
    if (!out.has(d.id)) return { ...rest, ...topology, ...(m.props !== undefined ? { props: m.props } : {}) };
    // The stand-in source says nothing of the real one: the identity pins (MAC, serial, acpi-index) of a device placed
    // anew come from the branch that added it, and it keeps its QEMU properties.
    const pins = { ...d.pins, ...Object.fromEntries(['mac', 'serial', 'acpi-index'].filter((k) => m.pins[k] !== undefined).map((k) => [k, m.pins[k]])) };
    const { props: _p, source: _src, ...placedRest } = d;
    return { ...placedRest, pins, ...(m.props !== undefined ? { props: m.props } : {}) };
  });
  return { ...placed.machine, devices };
}

/**
 * Merges three locks. `file` is the path git merges (`%P`); without it the header names the machine's own lock
 * (`NAME.machine.lock`), never the temporary file git hands the driver.
 */
export function mergeLocks(base: string, ours: string, theirs: string, file?: string): LockMerge {
  const label = file ?? 'the lock';
  const read = [base, ours, theirs].map((t, i) => readLock(t, `${label} (${['base', 'ours', 'theirs'][i]})`));
  const bad = read.findIndex((r) => !r.lock);
  if (bad >= 0) return { conflicts: [`the ${['base', 'ours', 'theirs'][bad]} lock does not read: ${read[bad].diagnostics[0]?.message ?? 'unknown'}`], replaced: [] };
  const [o, a, b] = read.map((r) => r.lock!);
  const lockName = file ? file.replace(/^.*[\\/]/, '') : `${a.name}.machine.lock`;
  const conflicts: string[] = [];
  const header = (m: PlacedMachine) => `${m.name} ${m.machineType} ${m.uuid}`;
  const head = header(a) === header(b) || header(b) === header(o) ? a : header(a) === header(o) ? b : undefined;
  if (!head) conflicts.push(`both branches change the machine line differently (ours: ${header(a)}, theirs: ${header(b)})`);
  const second = secondSide(o, a, b);
  const { merged, twins } = mergeDevices(o, a, b, second, conflicts);
  conflicts.push(...pinConflicts(o, a, merged));
  const options = mergeOptions(o, a, b, conflicts);
  const vm = mergeVmPins(o, a, b, conflicts);
  if (conflicts.length || !head) return { conflicts, replaced: [], name: lockName };
  const losers = clashing(merged, o, [a, b], second, twins);
  const placed = placeAnew(o, head, merged, losers, lockName);
  if (typeof placed === 'string') return { conflicts: [placed], replaced: [], name: lockName };
  const { firmware: _f, cpu: _c, smbios: _s, qemuArgs: _q, ...standIn } = placed;
  const ordered = inDeviceOrder([...options.keys()], placed.devices).map((key): [string, string] => [key.split(' ')[0], options.get(key)!]);
  const text = writeLock({ ...standIn, ...vm, options: ordered, devices: placed.devices }, lockName.replace(/\.lock$/, ''));
  return { text, conflicts, replaced: losers.filter((d) => !d.auto).map((d) => d.id), name: lockName };
}
