/**
 * Allocate: every device not yet placed, in source order (parents before children), gets the
 * first free address the chipset's rules give it, creating root ports and bridges as needed.
 * Then, for `prune`, the empty root ports and bridges machinec created go.
 */
import { attachmentOf } from '../catalog.js';
import { PCI_BUSES } from '../chipsets.js';
import { capacityOf, type DeviceSpec } from '../machine-spec.js';
import type { Attachment, PciAddress, PlacedDevice } from '../model.js';
import { bridgeWithRoom, busNumbersLeft, createBridge, createRootPort, emptyRootPort, firstFreeSlot, newRootBridgeAddress, newRootPortAddress, slotFree, type BridgeKind } from './bridges.js';
import { SYSTEM_BUS, busNumbersUsed, childKeys, devfn, expectedParentBus, hold, rootOf, type Placement } from './state.js';

type Where = { bus: string; addr: PciAddress } | undefined;

/** The holder of an address a removed device freed, while new devices are allocated. */
const FREED = '#freed';

/**
 * An address freed by a removal is not given to a new device in the same change (a new NIC would
 * silently take the removed one's Linux name and its guest configuration), unless no other
 * address is free. So while allocating, every address a removed device held is held by FREED,
 * an empty root port's one slot included. Returns what was reserved, to release it afterwards.
 */
function reserveFreed(p: Placement, locked: readonly PlacedDevice[]): { bus: string; key: number }[] {
  const reserved: { bus: string; key: number }[] = [];
  for (const e of locked) {
    if (e.auto || p.sourceById.has(e.id) || p.drafts.has(e.id)) continue;
    const bus = p.buses.get(e.bus);
    const key = e.addr ? devfn(e.addr) : e.attachment === 'pci' || e.attachment === 'system' ? NaN : Number(e.pins[childKeys[e.attachment].pin] ?? NaN);
    if (!bus || Number.isNaN(key) || bus.held.has(key)) continue;
    bus.held.set(key, FREED);
    reserved.push({ bus: e.bus, key });
  }
  return reserved;
}

function release(p: Placement, reserved: readonly { bus: string; key: number }[]): void {
  for (const r of reserved) {
    const bus = p.buses.get(r.bus);
    if (bus?.held.get(r.key) === FREED) bus.held.delete(r.key);
  }
}

export function allocate(p: Placement, locked: readonly PlacedDevice[] = []): void {
  let reserved = reserveFreed(p, locked);
  for (const d of p.machine.devices) {
    if (p.drafts.has(d.id) || !d.spec) continue;
    const attachment = attachmentOf(d.spec.plug);
    if (attachment === 'system') {
      if (!d.parent) hold(p, { id: d.id, model: d.model, attachment, bus: SYSTEM_BUS, auto: false, pins: {}, source: d });
      continue;
    }
    const attempt = () => (attachment === 'pci' ? allocatePci(p, d) : allocateOnChildBus(p, d, attachment));
    const findings = [p.findings.parentFull.length, p.findings.unplaced.length] as const;
    attempt();
    if (!p.drafts.has(d.id) && reserved.length) {
      // Nothing else is free: the freed addresses may be given out after all.
      p.findings.parentFull.length = findings[0];
      p.findings.unplaced.length = findings[1];
      release(p, reserved);
      reserved = [];
      attempt();
    }
  }
  release(p, reserved);
  if (p.findings.unplaced.length) p.findings.outOfBuses = !busNumbersLeft(p, p.chip.busesPerBridge);
}

function allocatePci(p: Placement, d: DeviceSpec): void {
  if (d.address) return; // its explicit address was refused while reconciling
  const parentBus = expectedParentBus(d);
  let where: Where;
  if (parentBus) {
    const bus = p.buses.get(parentBus);
    const addr = bus && firstFreeSlot(p, bus);
    where = addr && { bus: parentBus, addr };
    if (!where) p.findings.parentFull.push({ device: d, busKind: bus?.kind });
  } else {
    where = placeTopLevel(p, d);
    if (!where) p.findings.unplaced.push(d);
  }
  if (where) hold(p, { id: d.id, model: d.model, attachment: 'pci', bus: where.bus, addr: where.addr, auto: false, pins: {}, source: d });
}

/** A device on a controller's child bus (or a top-level disk on the chipset's IDE): the next free port, unit or number. */
function allocateOnChildBus(p: Placement, d: DeviceSpec, attachment: Exclude<Attachment, 'pci' | 'system'>): void {
  const { pin, first } = childKeys[attachment];
  const candidates = d.parent
    ? [...p.buses.values()].filter((b) => b.owner === d.parent!.id)
    : attachment === 'ide' ? p.chip.ideBuses.map((n) => p.buses.get(n)!) : [];
  const units = d.parent ? (attachment === 'ide' ? 1 : capacityOf(d.parent) ?? 1) : p.chip.ideUnits;
  for (const bus of candidates) {
    for (let k = first; k < first + units; k++) {
      if (bus.held.has(k)) continue;
      hold(p, { id: d.id, model: d.model, attachment, bus: bus.name, auto: false, pins: { [pin]: String(k) }, source: d, key: k });
      return;
    }
  }
  if (candidates.length) p.findings.parentFull.push({ device: d, pin });
}

function placeOnConventionalBus(p: Placement, kind: BridgeKind = 'conventional'): Where {
  const root = rootOf(p);
  const addr = p.chip.conventionalOnRootBus ? firstFreeSlot(p, root) : undefined;
  if (addr) return { bus: root.name, addr };
  const room = bridgeWithRoom(p, kind);
  if (room) return { bus: room.bus.name, addr: room.addr };
  const bridge = createBridge(p, kind);
  return bridge ? { bus: bridge.id, addr: { slot: 1, fn: 0 } } : undefined;
}

/**
 * A PCIe endpoint gets its own root port (hotpluggable, one bus each) while fewer than half the
 * bus numbers are used; past that, or when pcie.0 has no function left for a root port, it goes
 * behind a growth pci-bridge (31 devices for two bus numbers), so a q35 machine grows to
 * 2,081 PCIe devices instead of stopping at about 230 as one root port per device would.
 */
function placeBehindRootPort(p: Placement): Where {
  const empty = emptyRootPort(p);
  if (empty) return { bus: empty.name, addr: { slot: 0, fn: 0 } };
  if (busNumbersUsed(p) < PCI_BUSES / 2) {
    const rp = createRootPort(p);
    if (rp) return { bus: rp.id, addr: { slot: 0, fn: 0 } };
  }
  return placeOnConventionalBus(p, 'growth');
}

/** Where a top-level PCI device goes by the chipset's rules. */
function placeTopLevel(p: Placement, d: DeviceSpec): Where {
  const spec = d.spec!;
  const root = rootOf(p);
  const onRoot = (addr: PciAddress | undefined): Where => addr && { bus: root.name, addr };
  if (spec.video && slotFree(root, p.chip.videoSlot)) return onRoot({ slot: p.chip.videoSlot, fn: 0 });
  switch (spec.plug) {
    case 'integrated':
      return onRoot(firstFreeSlot(p, root));
    case 'root-port':
      return onRoot(newRootPortAddress(p));
    case 'pci-bridge':
      return onRoot(newRootBridgeAddress(p));
    case 'pcie-pci-bridge': {
      const rp = createRootPort(p);
      return rp && { bus: rp.id, addr: { slot: 0, fn: 0 } };
    }
    case 'pcie':
      return p.chip.rootPorts ? placeBehindRootPort(p) : placeOnConventionalBus(p);
    default:
      return placeOnConventionalBus(p);
  }
}

/** Whether another function of `addr`'s slot on `bus` is in use: a guest finds those through function 0. */
function slotShared(p: Placement, bus: string, addr: { slot: number; fn: number }): boolean {
  const held = p.buses.get(bus)?.held;
  for (let fn = 1; fn < 8; fn++) if (held?.has(devfn({ slot: addr.slot, fn }))) return true;
  return false;
}

/**
 * `machinec prune`: empty automatic controllers go, innermost first (a root port whose only device
 * was an empty bridge goes too); one at function 0 stays while its slot's other functions are used.
 */
export function prune(p: Placement): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (const d of [...p.drafts.values()]) {
      const bus = p.buses.get(d.id);
      if (!d.auto || !bus || bus.held.size) continue;
      if (d.addr?.fn === 0 && slotShared(p, d.bus, d.addr)) continue;
      p.drafts.delete(d.id);
      p.buses.delete(d.id);
      if (d.addr) p.buses.get(d.bus)?.held.delete(devfn(d.addr));
      changed = true;
    }
  }
}
