/**
 * The lockfile rules as properties: random pc and q35 machines, random sequences of edits (add,
 * remove, reorder, model change, rename, pin/unpin an explicit address), one build per edit with the
 * lock carried over. After every build:
 *   1. every surviving device keeps what the guest sees: guest bus, slot, function (PCI) or port
 *      (USB); every bridge and root port keeps its bus number; machinec-created ones never go;
 *      a device whose explicit `@` changed in this edit is the only exception;
 *   2. no two PCI devices share (bus, addr), no two share a guest address;
 *   3. the lock round-trips: the same source with the lock just written gives the same lock and argv;
 *   4. building never fails for these machines (they stay far below the capacity limits).
 * Removing a user-declared bridge legitimately renumbers later buses, so it is not generated.
 */
import fc from 'fast-check';
import { compile, formatGuestAddress, type Compilation } from '../compiler/index.js';
import type { PlacedDevice } from '../compiler/model.js';
import { renameInLock } from '../cli/commands/rename.js';
import { FILE, LOCK, render } from './lock/harness.js';

type Chipset = 'pc' | 'q35';

interface Dev {
  /** Stable across renames: how the test follows a device. */
  readonly key: number;
  id: string;
  model: string;
  at?: string;
  children: Dev[];
}

interface Machine {
  readonly chipset: Chipset;
  devices: Dev[];
}

const NICS = ['e1000', 'rtl8139', 'e1000e', 'virtio-net-pci'];
const USB = ['usb-tablet', 'usb-kbd', 'usb-mouse'];
const BRIDGE_CHILDREN = ['e1000', 'rtl8139', 'virtio-net-pci', 'virtio-rng-pci', 'virtio-blk-pci'];
const TOP = ['e1000', 'rtl8139', 'e1000e', 'virtio-net-pci', 'virtio-blk-pci', 'virtio-rng-pci', 'qemu-xhci', 'pci-bridge'];
/** Kept well below a bus's 29 usable root slots, a bridge's 31 and the 8 USB ports. */
let MAX_DEVICES = 16;
const MAX_CHILDREN = 4;

function renderDevice(d: Dev, indent: string): string {
  const head = `${indent}device ${d.id}: ${d.model}${d.at ? ` @ ${d.at}` : ''}`;
  if (NICS.includes(d.model)) return `${head} { netdev = user }\n`;
  if (d.model === 'virtio-blk-pci') return `${head} { file = "disk${d.key}.img" }\n`;
  if (d.children.length) return `${head} {\n${d.children.map((c) => renderDevice(c, indent + '  ')).join('')}${indent}}\n`;
  return `${head} {}\n`;
}

const renderMachine = (m: Machine): string => `machine prop {\n  chipset = ${m.chipset}\n${m.devices.map((d) => renderDevice(d, '  ')).join('')}}\n`;

const all = (devices: readonly Dev[]): Dev[] => devices.flatMap((d) => [d, ...all(d.children)]);
const count = (m: Machine): number => all(m.devices).length;
const isBridge = (d: Dev): boolean => d.model === 'pci-bridge';

// ---- Generation ---------------------------------------------------------------------------------

/** A device blueprint: model choice and child models, as numbers resolved against the chipset. */
const blueprint = fc.record({
  top: fc.nat(TOP.length - 1),
  children: fc.array(fc.nat(20), { maxLength: 3 }),
});
type Blueprint = { top: number; children: number[] };

type Edit =
  | { kind: 'add'; what: Blueprint }
  | { kind: 'add-child'; pick: number; child: number }
  | { kind: 'remove'; pick: number }
  | { kind: 'reorder'; seed: number[] }
  | { kind: 'model'; pick: number; to: number }
  | { kind: 'rename'; pick: number }
  | { kind: 'pin'; pick: number; slot: number }
  | { kind: 'unpin'; pick: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), what: blueprint }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('add-child' as const), pick: fc.nat(), child: fc.nat(20) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reorder' as const), seed: fc.array(fc.nat(), { minLength: 1, maxLength: 20 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('model' as const), pick: fc.nat(), to: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rename' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pin' as const), pick: fc.nat(), slot: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unpin' as const), pick: fc.nat() }) },
);

let nextKey = 0;
const newDev = (model: string, children: Dev[] = []): Dev => {
  const key = nextKey++;
  return { key, id: `d${key}`, model, children };
};

function fromBlueprint(chipset: Chipset, b: Blueprint): Dev {
  let model = TOP[b.top];
  if (model === 'pci-bridge' && chipset !== 'pc') model = 'virtio-net-pci';
  if (model === 'qemu-xhci') return newDev(model, b.children.map((c) => newDev(USB[c % USB.length])));
  if (model === 'pci-bridge') return newDev(model, b.children.map((c) => newDev(BRIDGE_CHILDREN[c % BRIDGE_CHILDREN.length])));
  return newDev(model);
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

interface Applied {
  /** Keys of devices whose explicit address changed: they may move. */
  readonly moved: Set<number>;
  readonly rename?: { from: string; to: string };
  readonly label: string;
}

/** Applies an edit to the machine in place, against the last build; returns what it did. */
function apply(m: Machine, e: Edit, last: Compilation): Applied {
  const moved = new Set<number>();
  switch (e.kind) {
    case 'add': {
      if (count(m) >= MAX_DEVICES - 3) return { moved, label: 'add (skipped: full)' };
      const d = fromBlueprint(m.chipset, e.what);
      m.devices.push(d);
      return { moved, label: `add ${d.id}: ${d.model}${d.children.length ? ` with ${d.children.map((c) => c.model).join(', ')}` : ''}` };
    }
    case 'add-child': {
      const parents = all(m.devices).filter((d) => (d.model === 'qemu-xhci' || isBridge(d)) && d.children.length < MAX_CHILDREN);
      const p = pick(parents, e.pick);
      if (!p || count(m) >= MAX_DEVICES) return { moved, label: 'add-child (skipped)' };
      const c = newDev(p.model === 'qemu-xhci' ? USB[e.child % USB.length] : BRIDGE_CHILDREN[e.child % BRIDGE_CHILDREN.length]);
      p.children.push(c);
      return { moved, label: `add ${c.id}: ${c.model} in ${p.id}` };
    }
    case 'remove': {
      // Not user-declared bridges: removing one renumbers every later bus, by design.
      const d = pick(all(m.devices).filter((x) => !isBridge(x)), e.pick);
      if (!d) return { moved, label: 'remove (skipped)' };
      const list = siblingsOf(m, d);
      list.splice(list.indexOf(d), 1);
      return { moved, label: `remove ${d.id}` };
    }
    case 'reorder': {
      m.devices = shuffle(m.devices, e.seed, 0);
      for (const d of all(m.devices)) d.children = shuffle(d.children, e.seed, d.key);
      return { moved, label: `reorder → ${m.devices.map((d) => d.id).join(' ')}` };
    }
    case 'model': {
      const d = pick(all(m.devices).filter((x) => NICS.includes(x.model) || USB.includes(x.model)), e.pick);
      if (!d) return { moved, label: 'model (skipped)' };
      const family = NICS.includes(d.model) ? NICS : USB;
      const others = family.filter((x) => x !== d.model);
      const from = d.model;
      d.model = others[e.to % others.length];
      return { moved, label: `model ${d.id}: ${from} → ${d.model}` };
    }
    case 'rename': {
      const d = pick(all(m.devices), e.pick);
      if (!d) return { moved, label: 'rename (skipped)' };
      const from = d.id;
      d.id = `d${d.key}r${nextKey++}`;
      return { moved, rename: { from, to: d.id }, label: `rename ${from} → ${d.id}` };
    }
    case 'pin': {
      // A top-level endpoint (not a bridge: moving one renumbers the buses after it) gets an
      // explicit address: a free whole slot on the root bus, or where it already is.
      const d = pick(m.devices.filter((x) => !isBridge(x)), e.pick);
      if (!d) return { moved, label: 'pin (skipped)' };
      const placed = last.machine!.devices.find((x) => x.id === d.id)!;
      const rootBus = m.chipset === 'pc' ? 'pci.0' : 'pcie.0';
      const used = new Set(last.machine!.devices.filter((x) => x.bus === rootBus && x.addr).map((x) => x.addr!.slot));
      const free: number[] = [];
      for (let s = m.chipset === 'pc' ? 3 : 2; s <= 0x1e; s++) if (!used.has(s)) free.push(s);
      const before = d.at;
      if (placed.bus === rootBus && e.slot % 3 === 0) d.at = `${placed.addr!.slot.toString(16).padStart(2, '0')}.${placed.addr!.fn}`;
      else {
        const slot = pick(free, e.slot);
        if (slot === undefined) return { moved, label: 'pin (skipped: no free slot)' };
        d.at = `${slot.toString(16).padStart(2, '0')}.0`;
      }
      if (d.at !== before) moved.add(d.key);
      return { moved, label: `pin ${d.id} @ ${d.at}` };
    }
    case 'unpin': {
      const d = pick(m.devices.filter((x) => x.at), e.pick);
      if (!d) return { moved, label: 'unpin (skipped)' };
      delete d.at;
      return { moved, label: `unpin ${d.id}` };
    }
  }
}

// ---- Building and checking ----------------------------------------------------------------------

function compileOk(source: string, lockText: string | undefined, log: string[]): Compilation {
  const result = compile({ file: FILE, source, lock: lockText === undefined ? undefined : { file: LOCK, text: lockText } });
  if (!result.ok) throw new Error(`(4) build failed after: ${log.join(' | ')}\n${render(result, source, lockText)}\n${source}\n--- lock ---\n${lockText ?? '(none)'}`);
  return result;
}

/** What the guest sees of a device: guest address (PCI) or port (USB), and its bus number for bridges. */
function seen(d: PlacedDevice): string {
  const where = d.guest ? formatGuestAddress(d.guest) : `port ${d.pins.port}`;
  return d.secondaryBus === undefined ? where : `${where} secondary ${d.secondaryBus}`;
}

function checkBuild(m: Machine, before: Compilation | undefined, after: Compilation, applied: Applied | undefined, keyOfId: Map<string, number>, log: string[]): void {
  const fail = (what: string): never => {
    throw new Error(`${what}\nafter: ${log.join(' | ')}\n--- source ---\n${renderMachine(m)}--- lock before ---\n${before?.lockText ?? '(none)'}--- lock after ---\n${after.lockText}`);
  };
  const devices = after.machine!.devices;

  // 2. distinct places
  const places = new Set<string>();
  const guests = new Set<string>();
  for (const d of devices) {
    if (d.attachment !== 'pci') continue;
    if (!d.addr || !d.guest) fail(`${d.id} has no address`);
    const place = `${d.bus} ${d.addr!.slot}.${d.addr!.fn}`;
    const guest = formatGuestAddress(d.guest!);
    if (places.has(place)) fail(`(2) two devices at ${place}`);
    if (guests.has(guest)) fail(`(2) two devices at guest ${guest}`);
    places.add(place);
    guests.add(guest);
  }
  const ports = new Set<string>();
  for (const d of devices) {
    if (d.attachment === 'pci') continue;
    const port = `${d.bus} ${d.pins.port}`;
    if (ports.has(port)) fail(`(2) two devices at ${port}`);
    ports.add(port);
  }
  // every source device is placed, nothing else but machinec's controllers
  const ids = new Set(all(m.devices).map((d) => d.id));
  for (const d of devices) if (!d.auto && !ids.has(d.id)) fail(`${d.id} is placed but not in the source`);
  for (const id of ids) if (!devices.some((d) => d.id === id)) fail(`${id} is in the source but not placed`);

  // 1. survivors keep what the guest sees; machinec's controllers stay
  if (before && applied) {
    const now = new Map(devices.map((d) => [d.id, d]));
    const rename = applied.rename;
    for (const b of before.machine!.devices) {
      const id = rename && b.id === rename.from ? rename.to : b.id;
      const a = now.get(id);
      if (!a) {
        if (b.auto) fail(`(1) ${b.id}, created by machinec, went away`);
        continue;
      }
      const key = keyOfId.get(b.id);
      if (key !== undefined && applied.moved.has(key)) continue;
      if (seen(a) !== seen(b)) fail(`(1) ${id} moved: ${seen(b)} → ${seen(a)}`);
      if (a.attachment === 'pci' && (a.bus !== (rename && b.bus === rename.from ? rename.to : b.bus) || a.addr!.slot !== b.addr!.slot || a.addr!.fn !== b.addr!.fn)) fail(`(1) ${id} moved on the QEMU side`);
      for (const pin of ['mac', 'serial', 'chassis']) if (a.pins[pin] !== b.pins[pin]) fail(`(1) ${id} ${pin} ${b.pins[pin]} → ${a.pins[pin]}`);
    }
    const plan = after.plan!;
    const unexpected = plan.changes.filter((c) => c.sign === '!' && !applied.moved.has(keyOfId.get(c.id) ?? -1));
    if (unexpected.length) fail(`(1) the plan moves ${unexpected.map((c) => `${c.id}: ${c.details.join('; ')}`).join(', ')}`);
  }

  // 3. the lock round-trips
  const again = compile({ file: FILE, source: renderMachine(m), lock: { file: LOCK, text: after.lockText! } });
  if (!again.ok) fail(`(3) rebuilding with the new lock failed:\n${render(again, renderMachine(m), after.lockText)}`);
  if (again.lockText !== after.lockText) fail(`(3) the lock changed on a rebuild:\n${again.lockText}`);
  if (JSON.stringify(again.argv) !== JSON.stringify(after.argv)) fail('(3) argv changed on a rebuild');
  if (again.plan!.changes.length || again.plan!.machine.length) fail(`(3) the plan of a rebuild is not empty: ${JSON.stringify(again.plan!.changes.map((c) => c.details))}`);
}

function run(chipset: Chipset, initial: Blueprint[], edits: Edit[], maxDevices = 16): void {
  nextKey = 0;
  MAX_DEVICES = maxDevices;
  const m: Machine = { chipset, devices: initial.slice(0, 6).map((b) => fromBlueprint(chipset, b)) };
  const log: string[] = [`${chipset}: ${m.devices.map((d) => `${d.id}: ${d.model}`).join(', ') || '(empty)'}`];
  let last = compileOk(renderMachine(m), undefined, log);
  checkBuild(m, undefined, last, undefined, new Map(), log);
  for (const e of edits) {
    const keyOfId = new Map(all(m.devices).map((d) => [d.id, d.key]));
    const applied = apply(m, e, last);
    log.push(applied.label);
    let lockText = last.lockText!;
    if (applied.rename) {
      const renamed = renameInLock(lockText, LOCK, applied.rename.from, applied.rename.to);
      if (!renamed.text) throw new Error(`renameInLock failed: ${renamed.diagnostics.map((d) => d.message).join('; ')}`);
      lockText = renamed.text;
    }
    const next = compileOk(renderMachine(m), lockText, log);
    checkBuild(m, last, next, applied, keyOfId, log);
    last = next;
  }
}

/** More runs when hunting: LOCK_PROPERTY_RUNS=5000. */
const RUNS = Number(process.env.LOCK_PROPERTY_RUNS ?? 100);

/** Like `run`, but each group of edits is applied before one build. */
function runBatches(chipset: Chipset, groups: Edit[][], maxDevices: number): void {
  nextKey = 0;
  MAX_DEVICES = maxDevices;
  const m: Machine = { chipset, devices: [] };
  const log: string[] = [`${chipset}: (empty)`];
  let last = compileOk(renderMachine(m), undefined, log);
  for (const group of groups) {
    const keyOfId = new Map(all(m.devices).map((d) => [d.id, d.key]));
    const labels = group.map((e) => apply(m, e, last).label);
    log.push(labels.join(', '));
    const next = compileOk(renderMachine(m), last.lockText, log);
    checkBuild(m, last, next, { moved: new Set(), label: '' }, keyOfId, log);
    last = next;
  }
}

describe('lock properties', () => {
  const initial = fc.array(blueprint, { maxLength: 6 });
  const edits = fc.array(edit, { minLength: 1, maxLength: 8 });

  test('pc: edits never move a surviving device, and the lock round-trips', () => {
    fc.assert(fc.property(initial, edits, (i, e) => run('pc', i, e)), { numRuns: RUNS });
  });

  test('pc, filling the root bus: bridges are appended and nothing moves', () => {
    // Batches of NICs and disks past the 29 root slots, with removals in between.
    const batch = fc.array(fc.record({ top: fc.constantFrom(0, 1, 3, 4, 5), children: fc.constant([] as number[]) }), { minLength: 4, maxLength: 12 });
    const fillEdits: fc.Arbitrary<Edit[][]> = fc.array(
      fc.oneof(
        { weight: 3, arbitrary: batch.map((b) => b.map((what): Edit => ({ kind: 'add', what }))) },
        { weight: 1, arbitrary: fc.array(fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }), { minLength: 1, maxLength: 6 }).map((r): Edit[] => r) },
      ),
      { minLength: 1, maxLength: 6 },
    );
    fc.assert(fc.property(fillEdits, (groups) => runBatches('pc', groups, 48)), { numRuns: Math.ceil(RUNS / 5) });
  });

  test('q35: edits never move a surviving device, and the lock round-trips', () => {
    fc.assert(fc.property(initial, edits, (i, e) => run('q35', i, e)), { numRuns: RUNS });
  });
});
