/**
 * Reconcile: the addresses that are already held before anything is allocated. The chipset's
 * built-ins, then every locked device that is still in the source (and every root port or bridge
 * machinec created, empty or not, until `prune`), then explicit `@` addresses.
 */
import { attachmentOf, catalog } from '../catalog.js';
import type { DeviceSpec, MachineSpec } from '../machine-spec.js';
import type { PlacedDevice } from '../model.js';
import { addBus, BUILTIN, SYSTEM_BUS, childBusName, childKeys, devfn, expectedParentBus, hold, holderOf, isBridgeModel, newPlacement, type Placement } from './state.js';

export function reconcile(machine: MachineSpec, locked: readonly PlacedDevice[]): Placement {
  const p = newPlacement(machine);
  addChipsetBuses(p);
  for (const e of locked) keepLocked(p, e);
  for (const d of machine.devices) claimExplicitAddress(p, d);
  return p;
}

/** The chipset's root bus with its built-ins and its own IDE buses, and the bus every controller in the source provides. */
function addChipsetBuses(p: Placement): void {
  addBus(p, p.chip.rootBus, 'root', undefined, false);
  const root = p.buses.get(p.chip.rootBus)!;
  for (const b of p.chip.builtins) root.held.set(devfn(b), BUILTIN);
  for (const name of p.chip.ideBuses) addBus(p, name, 'ide', undefined, false);
  addBus(p, SYSTEM_BUS, 'system', undefined, false);
  for (const d of p.machine.devices) {
    const kind = d.spec?.provides;
    if (!kind) continue;
    if (kind === 'ide') for (let i = 0; i < (d.spec!.capacity ?? 1); i++) addBus(p, childBusName(d.id, kind, i), kind, d.id, false);
    else addBus(p, childBusName(d.id, kind), kind, d.id, false);
  }
}

/** Whether a source device may stay on `bus`: its parent's bus, a built-in IDE bus, or the root or an automatic bus. */
function busFits(p: Placement, d: DeviceSpec, bus: string): boolean {
  const b = p.buses.get(bus);
  if (!b) return false;
  if (d.parent) return d.parent.spec?.provides === 'ide' ? b.owner === d.parent.id : bus === expectedParentBus(d);
  if (d.spec && attachmentOf(d.spec.plug) === 'ide') return p.chip.ideBuses.includes(bus);
  if (d.spec && attachmentOf(d.spec.plug) === 'system') return bus === SYSTEM_BUS;
  return b.kind === 'root' || b.auto;
}

/** Whether a locked entry keeps its place: still in the source, on a bus that fits, and at its explicit address if it has one. */
function keeps(p: Placement, e: PlacedDevice, d: DeviceSpec | undefined): boolean {
  if (e.auto) return catalog[e.model] !== undefined;
  if (!d?.spec || attachmentOf(d.spec.plug) !== e.attachment || !busFits(p, d, e.bus)) return false;
  if (!d.address) return true;
  return e.addr !== undefined && devfn(e.addr) === devfn(d.address) && e.bus === (expectedParentBus(d) ?? p.chip.rootBus);
}

/** A locked device that is still in the source keeps its place; a root port or bridge machinec created stays. */
function keepLocked(p: Placement, e: PlacedDevice): void {
  if (!p.buses.has(e.bus)) return;
  const d = p.sourceById.get(e.id);
  if (e.auto && d) {
    p.findings.idTaken.push({ locked: e, device: d });
    return;
  }
  if (!keeps(p, e, d)) return;
  const key = e.attachment === 'pci' || e.attachment === 'system' ? undefined : Number(e.pins[childKeys[e.attachment].pin] ?? NaN);
  const taken = e.addr ? holderOf(p, e.bus, devfn(e.addr)) : key !== undefined ? holderOf(p, e.bus, key) : undefined;
  if (taken || (key !== undefined && Number.isNaN(key))) return; // an inconsistent lock entry: place it anew
  hold(p, { id: e.id, model: d?.model ?? e.model, attachment: e.attachment, bus: e.bus, addr: e.addr, auto: e.auto, pins: { ...e.pins }, source: d, key, lockedModel: e.model });
  const spec = catalog[e.model];
  if (e.auto && spec?.provides) addBus(p, childBusName(e.id, spec.provides), spec.provides, e.id, true);
  if (isBridgeModel(d?.spec ?? spec)) p.keptBridges.push(e.id);
}

/** An explicit address in the source claims its slot; one a locked device holds is a finding. */
function claimExplicitAddress(p: Placement, d: DeviceSpec): void {
  if (!d.address || p.drafts.has(d.id) || !d.spec || attachmentOf(d.spec.plug) !== 'pci') return;
  const bus = expectedParentBus(d) ?? p.chip.rootBus;
  const holder = holderOf(p, bus, devfn(d.address));
  if (holder === BUILTIN) return; // reported by the reserved-address check
  if (holder) p.findings.addressTaken.push({ device: d, bus, holder });
  else hold(p, { id: d.id, model: d.model, attachment: 'pci', bus, addr: d.address, auto: false, pins: {}, source: d });
}
