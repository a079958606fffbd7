/**
 * Free addresses, and the root ports and bridges machinec creates. A new one goes after every
 * locked bridge or root port: the firmware numbers buses depth-first in slot order, so then no
 * existing device's bus number changes.
 */
import { catalog } from '../catalog.js';
import { PCI_BUSES, PCI_FUNCTIONS, PCI_SLOTS } from '../chipsets.js';
import type { PciAddress } from '../model.js';
import { addBus, busNumbersUsed, devfn, fromDevfn, hold, rootOf, type Bus, type Draft, type Placement } from './state.js';

/** Bridges machinec makes for many devices: no SHPC and no IO reserved for hotplug (see createBridge). */
const QUIET_BRIDGE = { shpc: 'off', 'io-reserve': '0' } as const;
export type BridgeKind = 'conventional' | 'growth';

export function slotFree(bus: Bus, slot: number): boolean {
  for (let fn = 0; fn < PCI_FUNCTIONS; fn++) if (bus.held.has(slot * PCI_FUNCTIONS + fn)) return false;
  return true;
}

/** Slots automatic placement uses; where bridges chain (pc), their slot (1f) of the root bus and of automatic bridges is kept for the chain. */
function slotRange(p: Placement, bus: Bus): [number, number] {
  const last = p.chip.chainSlot !== undefined && (bus.kind === 'root' || bus.auto) ? p.chip.chainSlot - 1 : PCI_SLOTS - 1;
  return bus.kind === 'root' ? [p.chip.firstSlot, last] : bus.kind === 'pcie-port' ? [0, 0] : [1, last];
}

export function firstFreeSlot(p: Placement, bus: Bus, from = slotRange(p, bus)[0]): PciAddress | undefined {
  const [, last] = slotRange(p, bus);
  for (let s = from; s <= last; s++) {
    if (bus.kind === 'root' && p.chip.reservedSlots.includes(s)) continue;
    if (slotFree(bus, s)) return { slot: s, fn: 0 };
  }
  return undefined;
}

/** Devfn on the root bus after which a new bridge keeps every locked bridge's bus number. */
function bridgeFloor(p: Placement): number {
  let floor = -1;
  for (const id of p.keptBridges) {
    let d = p.drafts.get(id);
    while (d && d.bus !== p.chip.rootBus) d = p.drafts.get(p.buses.get(d.bus)?.owner ?? '');
    if (d?.addr) floor = Math.max(floor, devfn(d.addr));
  }
  return floor;
}

/**
 * `rp7` after `rp6`: one more than the highest number after `prefix` among the source's ids and
 * the placed ones. Counted over every id once per prefix, then kept: every id made after that
 * comes from nextId (the source's ids are all counted up front).
 */
function nextId(p: Placement, prefix: string): string {
  let max = p.lastIds.get(prefix);
  if (max === undefined) {
    max = 0;
    // Up to six digits: a source id such as rp99999999999999999999 is not one of ours.
    const numbered = new RegExp(`^${prefix}(\\d{1,6})$`);
    for (const id of [...p.drafts.keys(), ...p.sourceById.keys()]) {
      const m = numbered.exec(id);
      if (m) max = Math.max(max, Number(m[1]));
    }
  }
  p.lastIds.set(prefix, max + 1);
  return `${prefix}${max + 1}`;
}

/** A new root port on the root bus, after every locked bridge, packed 8 functions to a slot. */
export function newRootPortAddress(p: Placement): PciAddress | undefined {
  const root = rootOf(p);
  for (let n = Math.max(bridgeFloor(p) + 1, p.chip.firstSlot * PCI_FUNCTIONS); n < PCI_SLOTS * PCI_FUNCTIONS; n++) {
    const { slot, fn } = fromDevfn(n);
    if (p.chip.reservedSlots.includes(slot) || root.held.has(n)) continue;
    // Share a slot only with other root ports.
    let ok = true;
    for (let f = 0; f < PCI_FUNCTIONS; f++) {
      const holder = root.held.get(slot * PCI_FUNCTIONS + f);
      if (holder && catalog[p.drafts.get(holder)?.model ?? '']?.provides !== 'pcie-port') ok = false;
    }
    if (fn > 0 && !root.held.has(slot * PCI_FUNCTIONS)) ok = false; // function 0 first
    if (ok) return { slot, fn };
  }
  return undefined;
}

/** A new bridge on the root bus (whole slot), after every locked bridge. */
export function newRootBridgeAddress(p: Placement): PciAddress | undefined {
  const floorSlot = Math.floor(bridgeFloor(p) / PCI_FUNCTIONS);
  return firstFreeSlot(p, rootOf(p), Math.max(p.chip.firstSlot, floorSlot + 1));
}

/** Whether `n` more bridges or root ports still get a bus number (at most 255 besides the root bus's 0). */
export const busNumbersLeft = (p: Placement, n: number): boolean => busNumbersUsed(p) + n <= PCI_BUSES - 1;

function createAuto(p: Placement, draft: Draft): Draft {
  hold(p, draft);
  addBus(p, draft.id, draft.model === 'pcie-root-port' ? 'pcie-port' : 'pci', draft.id, true);
  return draft;
}

export function createRootPort(p: Placement): Draft | undefined {
  const addr = busNumbersLeft(p, 1) ? newRootPortAddress(p) : undefined;
  if (!addr) return undefined;
  return createAuto(p, { id: nextId(p, 'rp'), model: 'pcie-root-port', attachment: 'pci', bus: p.chip.rootBus, addr, auto: true, pins: {} });
}

/**
 * A bridge for automatic placement. On q35, conventional devices get a pcie-pci-bridge behind a
 * root port; growth (PCIe devices past half the bus numbers) gets a pci-bridge there instead,
 * with `shpc=off,io-reserve=0` on it and `io-reserve=0` on its root port: SeaBIOS gives every
 * pcie-pci-bridge, and every pci-bridge with SHPC, a 4 KiB IO window for hotplug, and has about
 * 14 of them, so growth by pcie-pci-bridges stops the firmware at about 560 devices
 * ("PCI: out of I/O address space"). Measured on QEMU 7.2; devices there use ACPI hotplug.
 */
export function createBridge(p: Placement, kind: BridgeKind = 'conventional'): Draft | undefined {
  if (p.chip.chainSlot !== undefined) return createChainedBridge(p, p.chip.chainSlot);
  const rp = busNumbersLeft(p, 2) ? createRootPort(p) : undefined;
  if (!rp) return undefined;
  const growth = kind === 'growth';
  if (growth) rp.pins['io-reserve'] = '0';
  const id = nextId(p, growth ? 'br' : 'pcibr');
  return createAuto(p, { id, model: growth ? 'pci-bridge' : p.chip.conventionalBridge, attachment: 'pci', bus: rp.id, addr: { slot: 0, fn: 0 }, auto: true, pins: growth ? { ...QUIET_BRIDGE } : {} });
}

/**
 * On pc, bridges chain through slot 1f: the root bus's, then each automatic bridge's. The newest
 * bridge is then always last in the firmware's depth-first walk, so its bus number comes after
 * every existing one.
 */
function createChainedBridge(p: Placement, chainSlot: number): Draft | undefined {
  const root = rootOf(p);
  let host = root;
  const linkOf = (bus: Bus) => p.drafts.get(bus.held.get(chainSlot * PCI_FUNCTIONS) ?? '');
  for (let link = linkOf(host); link?.auto && link.model === 'pci-bridge'; link = linkOf(host)) host = p.buses.get(link.id)!;
  const chainFree = slotFree(host, chainSlot) && (host !== root || bridgeFloor(p) < chainSlot * PCI_FUNCTIONS);
  const addr = chainFree ? { slot: chainSlot, fn: 0 } : host === root ? newRootBridgeAddress(p) : undefined;
  if (!addr || !busNumbersLeft(p, 1)) return undefined;
  return createAuto(p, { id: nextId(p, 'br'), model: 'pci-bridge', attachment: 'pci', bus: host.name, addr, auto: true, pins: { ...QUIET_BRIDGE } });
}

const autoBuses = (p: Placement, kind: Bus['kind']): Bus[] => [...p.buses.values()].filter((b) => b.auto && b.kind === kind);

/** A root port machinec created that holds nothing (kept from the lock): the next PCIe device reuses it. */
export const emptyRootPort = (p: Placement): Bus | undefined => autoBuses(p, 'pcie-port').find((b) => b.held.size === 0 && !p.sourceById.has(b.name));

export function bridgeWithRoom(p: Placement, kind: BridgeKind): { bus: Bus; addr: PciAddress } | undefined {
  const model = kind === 'growth' ? 'pci-bridge' : p.chip.conventionalBridge;
  for (const bus of autoBuses(p, 'pci')) {
    if (p.drafts.get(bus.name)?.model !== model) continue;
    const addr = firstFreeSlot(p, bus);
    if (addr) return { bus, addr };
  }
  return undefined;
}
