/**
 * A three-way merge of locks, for git's merge driver (`machinec merge-lock %O %A %B`). Device by
 * device: what one side changed and the other did not is taken; what both changed alike is taken
 * once. Two branches that each added a device at the same address (two NICs first-fit at one
 * slot) both keep a place: the existing or alphabetically first device keeps the address, the
 * other is placed anew by machinec's own rules around everything locked, so the result does not
 * depend on which branch is merged into which. A device both sides changed differently, a device
 * id both added as different devices, or a machine header both changed, is a conflict naming it.
 */
import { catalog } from './catalog.js';
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
}

/** A device line's content, to compare sides. */
const lineOf = (d: PlacedDevice | undefined): string => (d ? writeLock({ name: '-', chipset: DEFAULT_CHIPSET, machineType: chipsets[DEFAULT_CHIPSET].defaultMachineType, uuid: '-', devices: [d] }, '-').split('\n')[4] : '');
const where = (d: PlacedDevice): string => `${d.model} at ${d.guest ? formatGuestAddress(d.guest) : describePlace(d)}`;

function mergeDevices(o: PlacedMachine, a: PlacedMachine, b: PlacedMachine, conflicts: string[]): PlacedDevice[] {
  const maps = [o, a, b].map((m) => new Map(m.devices.map((d) => [d.id, d])));
  const ids = [...new Set([...a.devices, ...b.devices, ...o.devices].map((d) => d.id))];
  const merged: PlacedDevice[] = [];
  for (const id of ids) {
    const [x, y, z] = maps.map((m) => m.get(id));
    const [lo, la, lb] = [x, y, z].map(lineOf);
    let take: PlacedDevice | undefined;
    if (la === lb || lb === lo) take = y;
    else if (la === lo) take = z;
    else if (!x && y && z) conflicts.push(`both branches add a device ${id}, as different devices (ours: ${where(y)}, theirs: ${where(z)})`);
    else conflicts.push(`both branches change ${id} differently (ours: ${y ? where(y) : 'removed'}, theirs: ${z ? where(z) : 'removed'})`);
    if (take) merged.push(take);
  }
  return merged;
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
const VM_PINS = ['firmware', 'cpu', 'smbios', 'qemuArgs'] as const;
type VmPins = Partial<Pick<PlacedMachine, (typeof VM_PINS)[number]>>;
const LINE_OF: Record<(typeof VM_PINS)[number], string> = { firmware: 'firmware', cpu: 'cpu', smbios: 'smbios', qemuArgs: 'qemu-args' };

function mergeVmPins(o: PlacedMachine, a: PlacedMachine, b: PlacedMachine, conflicts: string[]): VmPins {
  const merged: Record<string, unknown> = {};
  for (const key of VM_PINS) {
    const chosen = pick(o[key], a[key], b[key], (x, y) => JSON.stringify(x) === JSON.stringify(y));
    if (!chosen) conflicts.push(`both branches change the ${LINE_OF[key]} line differently`);
    else if (chosen.value !== undefined) merged[key] = chosen.value;
  }
  return merged as VmPins;
}

/** Devices that share a place with an earlier one: existing devices first, then new ones by id (system devices have no place to share). */
function clashing(merged: readonly PlacedDevice[], base: PlacedMachine): PlacedDevice[] {
  const inBase = new Set(base.devices.map((d) => d.id));
  const order = [...merged].sort((x, y) => Number(inBase.has(y.id)) - Number(inBase.has(x.id)) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const seen = new Set<string>();
  const losers: PlacedDevice[] = [];
  for (const d of order) {
    if (d.attachment === 'system') continue;
    const place = describePlace(d);
    if (seen.has(place)) losers.push(d);
    else seen.add(place);
  }
  return losers;
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

export function mergeLocks(base: string, ours: string, theirs: string, file: string): LockMerge {
  const read = [base, ours, theirs].map((t, i) => readLock(t, `${file} (${['base', 'ours', 'theirs'][i]})`));
  const bad = read.findIndex((r) => !r.lock);
  if (bad >= 0) return { conflicts: [`the ${['base', 'ours', 'theirs'][bad]} lock does not read: ${read[bad].diagnostics[0]?.message ?? 'unknown'}`], replaced: [] };
  const [o, a, b] = read.map((r) => r.lock!);
  const conflicts: string[] = [];
  const header = (m: PlacedMachine) => `${m.name} ${m.machineType} ${m.uuid}`;
  const head = header(a) === header(b) || header(b) === header(o) ? a : header(a) === header(o) ? b : undefined;
  if (!head) conflicts.push(`both branches change the machine line differently (ours: ${header(a)}, theirs: ${header(b)})`);
  const merged = mergeDevices(o, a, b, conflicts);
  const options = mergeOptions(o, a, b, conflicts);
  const vm = mergeVmPins(o, a, b, conflicts);
  if (conflicts.length || !head) return { conflicts, replaced: [] };
  const losers = clashing(merged, o);
  const out = new Set(losers.map((d) => d.id));
  const kept = merged.filter((d) => !out.has(d.id));
  const lockName = file.replace(/^.*[\\/]/, '');
  const sourceName = lockName.replace(/\.lock$/, '');
  const placed = compile({ file: sourceName, source: sourceFor(head, merged), lock: { file: lockName, text: writeLock({ ...head, devices: kept }, sourceName) } });
  if (!placed.ok || !placed.machine) return { conflicts: [`${losers.map((d) => d.id).join(', ')} could not be placed anew: ${placed.diagnostics[0]?.message ?? 'no room'}`], replaced: [] };
  // The stand-in source says nothing of the real one: identity pins (MAC, serial) of a device placed
  // anew come from the branch that added it, and every merged device keeps its own QEMU properties.
  const loserIds = new Set(losers.map((d) => d.id));
  const mergedById = new Map(merged.map((d) => [d.id, d]));
  // A device that kept its place is the merged one as it was locked (its acpi-index, its props).
  const devices = placed.machine.devices.map((d) => {
    const m = mergedById.get(d.id);
    if (!m) return d;
    if (!loserIds.has(d.id)) return m;
    const pins = { ...d.pins, ...Object.fromEntries(['mac', 'serial', 'acpi-index'].filter((k) => m.pins[k] !== undefined).map((k) => [k, m.pins[k]])) };
    const { props: _stand, ...rest } = d;
    return { ...rest, pins, ...(m.props !== undefined ? { props: m.props } : {}) };
  });
  const { firmware: _f, cpu: _c, smbios: _s, qemuArgs: _q, ...standIn } = placed.machine;
  const ordered = inDeviceOrder([...options.keys()], devices).map((key): [string, string] => [key.split(' ')[0], options.get(key)!]);
  return { text: writeLock({ ...standIn, ...vm, options: ordered, devices }, sourceName), conflicts, replaced: losers.map((d) => d.id) };
}
