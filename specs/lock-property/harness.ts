/**
 * The lock property test's model: random pc and q35 machines, random sequences of edits, one build
 * per edit with the lock carried over, and the checks every build must pass (see
 * specs/lock-property.spec.ts). Shared with specs/lock-property.e2e.spec.ts, which boots a seeded
 * sample of the same sequences on QEMU and compares the guest's query-pci.
 */
import fc from 'fast-check';
import { compile, formatGuestAddress, type Compilation, type PlacedDevice } from '../../compiler/index.js';
import { renameInLock } from '../../compiler/index.js';
import { FILE, LOCK, render } from '../lock/harness.js';

export type Chipset = 'pc' | 'q35';

export interface Dev {
  /** Stable across renames: how the test follows a device. */
  readonly key: number;
  id: string;
  model: string;
  at?: string;
  children: Dev[];
}

export interface Machine {
  readonly chipset: Chipset;
  devices: Dev[];
}

const NICS = ['e1000', 'rtl8139', 'e1000e', 'virtio-net-pci'];
const USB = ['usb-tablet', 'usb-kbd', 'usb-mouse'];
const DISKS = ['virtio-blk-pci', 'scsi-hd', 'ide-hd'];
const CDS = ['scsi-cd', 'ide-cd'];
const BRIDGE_CHILDREN = ['e1000', 'rtl8139', 'virtio-net-pci', 'virtio-rng-pci', 'virtio-blk-pci'];
/** What each controller holds, and how many: a root port one PCIe device, the rest a few. */
const HOLDS: Record<string, { models: string[]; max: number }> = {
  'qemu-xhci': { models: USB, max: 4 },
  'pci-bridge': { models: BRIDGE_CHILDREN, max: 4 },
  'pcie-pci-bridge': { models: BRIDGE_CHILDREN, max: 4 },
  'pcie-root-port': { models: ['virtio-net-pci', 'e1000e', 'virtio-rng-pci', 'virtio-blk-pci'], max: 1 },
  'virtio-scsi-pci': { models: ['scsi-hd', 'scsi-cd'], max: 4 },
  'ich9-ahci': { models: ['ide-hd', 'ide-cd'], max: 4 },
  'virtio-serial-pci': { models: ['virtserialport'], max: 4 },
  'intel-hda': { models: ['hda-duplex'], max: 2 },
};
const TOP = ['e1000', 'rtl8139', 'e1000e', 'virtio-net-pci', 'virtio-blk-pci', 'virtio-rng-pci', 'qemu-xhci', 'pci-bridge', 'virtio-scsi-pci', 'ich9-ahci', 'virtio-serial-pci', 'intel-hda', 'ide-hd', 'pcie-root-port'];
/** Built-in IDE (pc: 2 buses x 2 units) and AHCI (q35: 6 ports): kept below both. */
const MAX_TOP_IDE = 3;
/** Kept well below a bus's 29 usable root slots, a bridge's 31 and the 8 USB ports. */
let MAX_DEVICES = 16;

function renderDevice(d: Dev, indent: string): string {
  const head = `${indent}device ${d.id}: ${d.model}${d.at ? ` @ ${d.at}` : ''}`;
  if (NICS.includes(d.model)) return `${head} { netdev = user }\n`;
  if (DISKS.includes(d.model)) return `${head} { file = "disk${d.key}.img" }\n`;
  if (CDS.includes(d.model)) return `${head} { file = "cd${d.key}.iso" }\n`;
  if (d.model === 'virtserialport') return `${head} { chardev = pty }\n`;
  if (d.children.length) return `${head} {\n${d.children.map((c) => renderDevice(c, indent + '  ')).join('')}${indent}}\n`;
  return `${head} {}\n`;
}

export const renderMachine = (m: Machine): string => `machine prop {\n  chipset = ${m.chipset}\n${m.devices.map((d) => renderDevice(d, '  ')).join('')}}\n`;

export const all = (devices: readonly Dev[]): Dev[] => devices.flatMap((d) => [d, ...all(d.children)]);
const count = (m: Machine): number => all(m.devices).length;
/** Holds a bus number: removing or moving one renumbers every later bus, by design. */
const isBridge = (d: Dev): boolean => d.model === 'pci-bridge' || d.model === 'pcie-pci-bridge' || d.model === 'pcie-root-port';
/** A device on the root bus with a PCI address (not a built-in IDE/AHCI disk). */
const isPciTop = (d: Dev): boolean => d.model !== 'ide-hd';

// ---- Generation ---------------------------------------------------------------------------------

/** A device blueprint: model choice and child models, as numbers resolved against the chipset. */
export const blueprint = fc.record({
  top: fc.nat(TOP.length - 1),
  children: fc.array(fc.nat(20), { maxLength: 3 }),
});
export type Blueprint = { top: number; children: number[] };

export type Edit =
  | { kind: 'add'; what: Blueprint }
  | { kind: 'add-child'; pick: number; child: number }
  | { kind: 'remove'; pick: number }
  | { kind: 'reorder'; seed: number[] }
  | { kind: 'model'; pick: number; to: number }
  | { kind: 'rename'; pick: number }
  | { kind: 'pin'; pick: number; slot: number }
  | { kind: 'pin-multifunction'; pick: number; slot: number }
  | { kind: 'unpin'; pick: number }
  | { kind: 'prune' };

export const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), what: blueprint }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('add-child' as const), pick: fc.nat(), child: fc.nat(20) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reorder' as const), seed: fc.array(fc.nat(), { minLength: 1, maxLength: 20 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('model' as const), pick: fc.nat(), to: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rename' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pin' as const), pick: fc.nat(), slot: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pin-multifunction' as const), pick: fc.nat(), slot: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unpin' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'prune' as const }) },
);

let nextKey = 0;
const newDev = (model: string, children: Dev[] = []): Dev => {
  const key = nextKey++;
  return { key, id: `d${key}`, model, children };
};

function fromBlueprint(chipset: Chipset, b: Blueprint): Dev {
  let model = TOP[b.top];
  if (chipset === 'q35' && model === 'pci-bridge') model = 'pcie-pci-bridge';
  if (chipset === 'pc' && model === 'pcie-root-port') model = 'pci-bridge';
  const holds = HOLDS[model];
  if (!holds) return newDev(model);
  return newDev(model, b.children.slice(0, holds.max).map((c) => newDev(holds.models[c % holds.models.length])));
}

const pick = <T>(list: readonly T[], n: number): T | undefined => (list.length ? list[n % list.length] : undefined);

/** The parent list holding `d`. */
function siblingsOf(m: Machine, d: Dev): Dev[] {
  if (m.devices.includes(d)) return m.devices;
  return all(m.devices).find((p) => p.children.includes(d))!.children;
}

function shuffle<T>(list: T[], seed: number[], offset: number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = seed[(i + offset) % seed.length] % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export interface Applied {
  /** Keys of devices whose explicit address changed: they may move. */
  readonly moved: Set<number>;
  readonly rename?: { from: string; to: string };
  /** Build with `prune`: machinec's empty root ports and bridges go, and the plan says who moves. */
  readonly prune?: boolean;
  readonly label: string;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** Free whole slots on the root bus of the last build. */
function freeRootSlots(m: Machine, last: Compilation): number[] {
  const rootBus = m.chipset === 'pc' ? 'pci.0' : 'pcie.0';
  const used = new Set(last.machine!.devices.filter((x) => x.bus === rootBus && x.addr).map((x) => x.addr!.slot));
  for (const d of all(m.devices)) if (d.at) used.add(parseInt(d.at.slice(0, 2), 16));
  const free: number[] = [];
  for (let s = m.chipset === 'pc' ? 3 : 2; s <= 0x1e; s++) if (!used.has(s)) free.push(s);
  return free;
}

function pin(m: Machine, e: Extract<Edit, { kind: 'pin' }>, last: Compilation, moved: Set<number>): string {
  // A top-level endpoint (not a bridge: moving one renumbers the buses after it) gets an
  // explicit address: a free whole slot on the root bus, or where it already is.
  const d = pick(m.devices.filter((x) => !isBridge(x) && isPciTop(x)), e.pick);
  if (!d) return 'pin (skipped)';
  const placed = last.machine!.devices.find((x) => x.id === d.id);
  const rootBus = m.chipset === 'pc' ? 'pci.0' : 'pcie.0';
  const before = d.at;
  if (placed && placed.bus === rootBus && e.slot % 3 === 0) d.at = `${hex2(placed.addr!.slot)}.${placed.addr!.fn}`;
  else {
    const slot = pick(freeRootSlots(m, last), e.slot);
    if (slot === undefined) return 'pin (skipped: no free slot)';
    d.at = `${hex2(slot)}.0`;
  }
  if (d.at !== before) moved.add(d.key);
  return `pin ${d.id} @ ${d.at}`;
}

/** Two or three top-level endpoints become the functions of one free root-bus slot. */
function pinMultifunction(m: Machine, e: Extract<Edit, { kind: 'pin-multifunction' }>, last: Compilation, moved: Set<number>): string {
  const candidates = m.devices.filter((x) => !isBridge(x) && isPciTop(x) && !x.at);
  const slot = pick(freeRootSlots(m, last), e.slot);
  if (candidates.length < 2 || slot === undefined) return 'pin-multifunction (skipped)';
  const chosen = shuffle(candidates, [e.pick, e.slot, e.pick >> 3], 0).slice(0, 2 + (e.pick % 2));
  chosen.forEach((d, fn) => {
    d.at = `${hex2(slot)}.${fn === 0 ? 0 : fn + (e.slot % 3)}`;
    moved.add(d.key);
  });
  return `pin-multifunction ${chosen.map((d) => `${d.id} @ ${d.at}`).join(', ')}`;
}

/** A function above 0 whose slot lost function 0 is unpinned (a guest does not look past a missing function 0). */
function unpinLoneFunctions(m: Machine, moved: Set<number>): void {
  const slots0 = new Set(m.devices.filter((d) => d.at?.endsWith('.0')).map((d) => d.at!.slice(0, 2)));
  for (const d of m.devices) {
    if (d.at && !d.at.endsWith('.0') && !slots0.has(d.at.slice(0, 2))) {
      delete d.at;
      moved.add(d.key);
    }
  }
}

function addChild(m: Machine, e: Extract<Edit, { kind: 'add-child' }>): string {
  const parents = all(m.devices).filter((d) => HOLDS[d.model] && d.children.length < HOLDS[d.model].max);
  const p = pick(parents, e.pick);
  if (!p || count(m) >= MAX_DEVICES) return 'add-child (skipped)';
  const models = HOLDS[p.model].models;
  const c = newDev(models[e.child % models.length]);
  p.children.push(c);
  return `add ${c.id}: ${c.model} in ${p.id}`;
}

/** Applies an edit to the machine in place, against the last build; returns what it did. */
export function apply(m: Machine, e: Edit, last: Compilation): Applied {
  const moved = new Set<number>();
  const label = applyEdit(m, e, last, moved);
  unpinLoneFunctions(m, moved);
  return { moved, label, rename: e.kind === 'rename' ? lastRename : undefined, prune: e.kind === 'prune' };
}

let lastRename: { from: string; to: string } | undefined;

function applyEdit(m: Machine, e: Edit, last: Compilation, moved: Set<number>): string {
  lastRename = undefined;
  switch (e.kind) {
    case 'add': {
      const d = fromBlueprint(m.chipset, e.what);
      if (count(m) + 1 + d.children.length > MAX_DEVICES) return 'add (skipped: full)';
      if (d.model === 'ide-hd' && m.devices.filter((x) => x.model === 'ide-hd').length >= MAX_TOP_IDE) return 'add (skipped: IDE full)';
      m.devices.push(d);
      return `add ${d.id}: ${d.model}${d.children.length ? ` with ${d.children.map((c) => c.model).join(', ')}` : ''}`;
    }
    case 'add-child':
      return addChild(m, e);
    case 'remove': {
      const d = pick(all(m.devices).filter((x) => !isBridge(x)), e.pick);
      if (!d) return 'remove (skipped)';
      const list = siblingsOf(m, d);
      list.splice(list.indexOf(d), 1);
      return `remove ${d.id}`;
    }
    case 'reorder':
      m.devices = shuffle(m.devices, e.seed, 0);
      for (const d of all(m.devices)) d.children = shuffle(d.children, e.seed, d.key);
      return `reorder → ${m.devices.map((d) => d.id).join(' ')}`;
    case 'model': {
      const d = pick(all(m.devices).filter((x) => NICS.includes(x.model) || USB.includes(x.model)), e.pick);
      if (!d) return 'model (skipped)';
      const family = NICS.includes(d.model) ? NICS : USB;
      const others = family.filter((x) => x !== d.model);
      const from = d.model;
      d.model = others[e.to % others.length];
      return `model ${d.id}: ${from} → ${d.model}`;
    }
    case 'rename': {
      const d = pick(all(m.devices), e.pick);
      if (!d) return 'rename (skipped)';
      const from = d.id;
      d.id = `d${d.key}r${nextKey++}`;
      lastRename = { from, to: d.id };
      return `rename ${from} → ${d.id}`;
    }
    case 'pin':
      return pin(m, e, last, moved);
    case 'pin-multifunction':
      return pinMultifunction(m, e, last, moved);
    case 'unpin': {
      const d = pick(m.devices.filter((x) => x.at), e.pick);
      if (!d) return 'unpin (skipped)';
      delete d.at;
      return `unpin ${d.id}`;
    }
    case 'prune':
      return 'prune';
  }
}

// ---- Building and checking ----------------------------------------------------------------------

function compileOk(source: string, lockText: string | undefined, log: string[], prune = false): Compilation {
  const result = compile({ file: FILE, source, lock: lockText === undefined ? undefined : { file: LOCK, text: lockText }, prune });
  if (!result.ok) throw new Error(`(4) build failed after: ${log.join(' | ')}\n${render(result, source, lockText)}\n${source}\n--- lock ---\n${lockText ?? '(none)'}`);
  return result;
}

/** The pins that say where a non-PCI device sits on its controller. */
const PLACE_PINS = ['port', 'unit', 'scsi-id', 'nr', 'cad'];

/** What the guest sees of a device: guest address (PCI) or place on its controller, and its bus number for bridges. */
function seen(d: PlacedDevice, parentKey: (bus: string) => string): string {
  const where = d.guest ? formatGuestAddress(d.guest) : `${parentKey(d.bus)} ${PLACE_PINS.map((p) => d.pins[p] ?? '').join(' ')}`;
  return d.secondaryBus === undefined ? where : `${where} secondary ${d.secondaryBus}`;
}

/** A controller's bus (`usb.0`, `ahci1.1`, `scsi0.0`) named by the key of the device that provides it, so renames do not count. */
function busNamer(devices: readonly PlacedDevice[], keyOfId: ReadonlyMap<string, number>): (bus: string) => string {
  const ids = new Set(devices.map((d) => d.id));
  return (bus) => {
    const dot = bus.lastIndexOf('.');
    const owner = dot > 0 ? bus.slice(0, dot) : bus;
    return ids.has(owner) ? `key${keyOfId.get(owner) ?? owner}${dot > 0 ? bus.slice(dot) : ''}` : bus;
  };
}

export interface Stats {
  maxBus: number;
  disableLegacy: number;
  models: Set<string>;
  multifunction: number;
  prunedAway: number;
  prunedMoves: number;
}

export const newStats = (): Stats => ({ maxBus: 0, disableLegacy: 0, models: new Set(), multifunction: 0, prunedAway: 0, prunedMoves: 0 });

function checkDistinct(devices: readonly PlacedDevice[], fail: (what: string) => never): void {
  const places = new Set<string>();
  const guests = new Set<string>();
  const ports = new Set<string>();
  for (const d of devices) {
    if (d.attachment !== 'pci') {
      const port = `${d.bus} ${PLACE_PINS.map((p) => d.pins[p] ?? '').join(' ')}`;
      if (ports.has(port)) fail(`(2) two devices at ${port}`);
      ports.add(port);
      continue;
    }
    if (!d.addr || !d.guest) fail(`${d.id} has no address`);
    const place = `${d.bus} ${d.addr!.slot}.${d.addr!.fn}`;
    const guest = formatGuestAddress(d.guest!);
    if (places.has(place)) fail(`(2) two devices at ${place}`);
    if (guests.has(guest)) fail(`(2) two devices at guest ${guest}`);
    places.add(place);
    guests.add(guest);
  }
}

export interface Step {
  readonly compilation: Compilation;
  /** Device key → id in this build's source (machinec's own devices are not in it). */
  readonly idOfKey: ReadonlyMap<number, string>;
  /** Keys allowed to move in this step: explicit addresses changed, or pruning renumbered them. */
  readonly moved: ReadonlySet<number>;
  /** Ids of machinec's devices that this step legitimately renumbered or removed (prune). */
  readonly autoMoved: ReadonlySet<string>;
  readonly label: string;
}

interface Check {
  readonly m: Machine;
  readonly before?: Compilation;
  readonly after: Compilation;
  readonly applied?: Applied;
  /** Key of each device id, before the edit (ids of the previous build) and after. */
  readonly keyBefore: ReadonlyMap<string, number>;
  readonly keyAfter: ReadonlyMap<string, number>;
  readonly log: string[];
  readonly stats: Stats;
}

/** Checks one build; returns the keys and machinec ids that legitimately moved (prune). */
function checkBuild(c: Check): { moved: Set<number>; autoMoved: Set<string> } {
  const { m, before, after, applied, log, stats } = c;
  const fail = (what: string): never => {
    throw new Error(`${what}\nafter: ${log.join(' | ')}\n--- source ---\n${renderMachine(m)}--- lock before ---\n${before?.lockText ?? '(none)'}--- lock after ---\n${after.lockText}`);
  };
  const devices = after.machine!.devices;
  checkDistinct(devices, fail);
  const ids = new Set(all(m.devices).map((d) => d.id));
  for (const d of devices) if (!d.auto && !ids.has(d.id)) fail(`${d.id} is placed but not in the source`);
  for (const id of ids) if (!devices.some((d) => d.id === id)) fail(`${id} is in the source but not placed`);
  collect(devices, stats);

  const moved = new Set(applied?.moved ?? []);
  const autoMoved = new Set<string>();
  if (before && applied) {
    const plan = after.plan!;
    const planMoved = new Set(plan.changes.filter((ch) => ch.sign === '!').map((ch) => ch.id));
    if (applied.prune) {
      for (const id of planMoved) {
        const key = c.keyAfter.get(id);
        if (key !== undefined) moved.add(key);
        else autoMoved.add(id);
      }
      stats.prunedMoves += planMoved.size;
    }
    checkSurvivors(c, moved, autoMoved, fail);
    const unexpected = plan.changes.filter((ch) => ch.sign === '!' && !moved.has(c.keyAfter.get(ch.id) ?? -1) && !autoMoved.has(ch.id));
    if (unexpected.length) fail(`(1) the plan moves ${unexpected.map((ch) => `${ch.id}: ${ch.details.join('; ')}`).join(', ')}`);
  }
  if (applied?.prune) {
    // One at function 0 stays while its slot's other functions are used: the guest finds them through it.
    const sharesSlot = (d: PlacedDevice) => d.addr?.fn === 0 && devices.some((x) => x.bus === d.bus && x.addr?.slot === d.addr!.slot && x.addr.fn !== 0);
    const empty = devices.filter((d) => d.auto && d.secondaryBus !== undefined && !devices.some((x) => x.bus === d.id) && !sharesSlot(d));
    if (empty.length) fail(`(5) prune left ${empty.map((d) => d.id).join(', ')} empty`);
  }
  // 6. the PCI rule a guest enumerates by: a slot with a function above 0 in use has function 0 in use.
  const orphans = devices.filter((d) => d.addr && d.addr.fn !== 0 && !devices.some((x) => x.bus === d.bus && x.addr?.slot === d.addr!.slot && x.addr.fn === 0));
  if (orphans.length) fail(`(6) nothing at function 0 of the slot of ${orphans.map((d) => `${d.id} (${d.bus} ${d.addr!.slot}.${d.addr!.fn})`).join(', ')}`);
  checkRoundTrip(m, after, fail);
  return { moved, autoMoved };
}

function collect(devices: readonly PlacedDevice[], stats: Stats): void {
  for (const d of devices) {
    stats.models.add(d.model);
    if (d.secondaryBus !== undefined) stats.maxBus = Math.max(stats.maxBus, d.secondaryBus);
    if (d.pins['disable-legacy'] === 'on') stats.disableLegacy++;
    if (d.attachment === 'pci' && d.addr!.fn > 0 && !d.auto && d.model !== 'pcie-root-port') stats.multifunction++;
  }
}

/** Nothing the user declared sits behind `id`, however deep: prune may take it. */
function holdsOnlyMachinecs(devices: readonly PlacedDevice[], id: string): boolean {
  return devices.filter((x) => x.bus === id).every((x) => x.auto && holdsOnlyMachinecs(devices, x.id));
}

/** 1. survivors keep what the guest sees and their pins; machinec's controllers stay (unless pruned). */
function checkSurvivors(c: Check, moved: ReadonlySet<number>, autoMoved: Set<string>, fail: (what: string) => never): void {
  const { before, after, applied, stats } = c;
  const now = new Map(after.machine!.devices.map((d) => [d.id, d]));
  const rename = applied!.rename;
  const beforeBus = busNamer(before!.machine!.devices, c.keyBefore);
  const afterBus = busNamer(after.machine!.devices, c.keyAfter);
  for (const b of before!.machine!.devices) {
    const id = rename && b.id === rename.from ? rename.to : b.id;
    const a = now.get(id);
    if (!a) {
      if (b.auto && applied!.prune && holdsOnlyMachinecs(before!.machine!.devices, b.id)) {
        stats.prunedAway++;
        autoMoved.add(b.id);
      } else if (b.auto) fail(`(1) ${b.id}, created by machinec, went away`);
      continue;
    }
    const key = c.keyBefore.get(b.id);
    if ((key !== undefined && moved.has(key)) || autoMoved.has(id)) continue;
    if (seen(a, afterBus) !== seen(b, beforeBus)) fail(`(1) ${id} moved: ${seen(b, beforeBus)} → ${seen(a, afterBus)}`);
    if (a.attachment === 'pci' && (afterBus(a.bus) !== beforeBus(b.bus) || a.addr!.slot !== b.addr!.slot || a.addr!.fn !== b.addr!.fn)) fail(`(1) ${id} moved on the QEMU side`);
    const pins = a.model === b.model ? Object.keys({ ...a.pins, ...b.pins }) : ['mac', 'serial', 'chassis', 'pcie-port'];
    for (const p of pins) if (a.pins[p] !== b.pins[p]) fail(`(1) ${id} ${p} ${b.pins[p]} → ${a.pins[p]}`);
  }
}

/** 3. the lock round-trips: the same source with the lock just written gives the same lock and argv. */
function checkRoundTrip(m: Machine, after: Compilation, fail: (what: string) => never): void {
  const again = compile({ file: FILE, source: renderMachine(m), lock: { file: LOCK, text: after.lockText! } });
  if (!again.ok) fail(`(3) rebuilding with the new lock failed:\n${render(again, renderMachine(m), after.lockText)}`);
  if (again.lockText !== after.lockText) fail(`(3) the lock changed on a rebuild:\n${again.lockText}`);
  if (JSON.stringify(again.argv) !== JSON.stringify(after.argv)) fail('(3) argv changed on a rebuild');
  if (again.plan!.changes.length || again.plan!.machine.length) fail(`(3) the plan of a rebuild is not empty: ${JSON.stringify(again.plan!.changes.map((ch) => ch.details))}`);
}

const keysOf = (m: Machine): Map<string, number> => new Map(all(m.devices).map((d) => [d.id, d.key]));

/**
 * Builds the initial machine, then one build per group of edits (a group of one edit is the usual
 * case), checking each; returns every build with what it was allowed to move.
 */
export function runSequence(chipset: Chipset, initial: Dev[] | Blueprint[], groups: Edit[][], maxDevices: number, stats: Stats = newStats()): Step[] {
  nextKey = 0;
  MAX_DEVICES = maxDevices;
  const m: Machine = { chipset, devices: (initial as Blueprint[]).slice(0, 6).map((b) => fromBlueprint(chipset, b)) };
  const log: string[] = [`${chipset}: ${m.devices.map((d) => `${d.id}: ${d.model}`).join(', ') || '(empty)'}`];
  let last = compileOk(renderMachine(m), undefined, log);
  checkBuild({ m, after: last, keyBefore: new Map(), keyAfter: keysOf(m), log, stats });
  const steps: Step[] = [{ compilation: last, idOfKey: new Map(all(m.devices).map((d) => [d.key, d.id])), moved: new Set(), autoMoved: new Set(), label: log[0] }];
  for (const group of groups) {
    const keyBefore = keysOf(m);
    const applied = group.map((e) => apply(m, e, last));
    const label = applied.map((a) => a.label).join(', ');
    log.push(label);
    const rename = applied.length === 1 ? applied[0].rename : undefined;
    let lockText = last.lockText!;
    if (rename) {
      const renamed = renameInLock(lockText, LOCK, rename.from, rename.to);
      if (!renamed.text) throw new Error(`renameInLock failed: ${renamed.diagnostics.map((d) => d.message).join('; ')}`);
      lockText = renamed.text;
    }
    const merged: Applied = { moved: new Set(applied.flatMap((a) => [...a.moved])), rename, prune: applied.some((a) => a.prune), label };
    const next = compileOk(renderMachine(m), lockText, log, merged.prune);
    const { moved, autoMoved } = checkBuild({ m, before: last, after: next, applied: merged, keyBefore, keyAfter: keysOf(m), log, stats });
    steps.push({ compilation: next, idOfKey: new Map(all(m.devices).map((d) => [d.key, d.id])), moved, autoMoved, label });
    last = next;
  }
  return steps;
}
