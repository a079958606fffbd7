/**
 * The state one placement works on: the buses (who holds which address on each) and the drafts
 * (each device's place so far), plus what the phases found that the placement checks report.
 */
import type { DeviceSpec, MachineSpec } from '../machine-spec.js';
import { catalog, type BusKind, type ModelSpec } from '../catalog.js';
import { chipsets, PCI_FUNCTIONS, type ChipsetSpec } from '../chipsets.js';
import type { Attachment, Chipset, PciAddress, PlacedDevice } from '../model.js';
import { childKeys } from '../qemu-facts.js';

/** A bus during placement: who holds which address on it. */
export interface Bus {
  readonly name: string;
  readonly kind: BusKind | 'root' | 'system';
  /** The device that provides it (undefined for the root bus and chipset IDE buses). */
  readonly owner?: string;
  readonly auto: boolean;
  /** PCI: devfn → device id. Other buses: port/unit/… number → device id. */
  readonly held: Map<number, string>;
}

export interface Draft {
  id: string;
  model: string;
  attachment: Attachment;
  bus: string;
  addr?: PciAddress;
  auto: boolean;
  pins: Record<string, string>;
  source?: DeviceSpec;
  /** Where a non-PCI device sits on its bus: port, scsi-id, unit, nr or cad. */
  key?: number;
  /** The model the lock had, for a device kept from it. */
  lockedModel?: string;
}

/** What the phases found that stops the placement; the placement checks word it. */
export interface Findings {
  /** A source device with the id of a root port or bridge machinec created and locked. */
  readonly idTaken: { readonly locked: PlacedDevice; readonly device: DeviceSpec }[];
  /** An explicit `@` address that a locked device holds. */
  readonly addressTaken: { readonly device: DeviceSpec; readonly bus: string; readonly holder: string }[];
  /** A device nested in a bridge, root port or controller that has no free slot or number. */
  readonly parentFull: { readonly device: DeviceSpec; readonly busKind?: Bus['kind']; readonly pin?: string }[];
  /** Top-level PCI devices automatic placement found no room for, in source order. */
  readonly unplaced: DeviceSpec[];
  /** Whether automatic placement ran out of bus numbers (rather than root-bus slots). */
  outOfBuses: boolean;
  /** Root ports and bridges left without a chassis number (they run out with the bus numbers). */
  readonly noChassis: Draft[];
  /** The first bridge whose secondary bus would be number 256, and how many buses the machine needs. */
  overflow?: { readonly draft: Draft; readonly at?: DeviceSpec; readonly buses: number };
}

export interface Placement {
  readonly machine: MachineSpec;
  readonly chip: ChipsetSpec;
  readonly chipset: Chipset;
  readonly buses: Map<string, Bus>;
  readonly drafts: Map<string, Draft>;
  readonly sourceById: ReadonlyMap<string, DeviceSpec>;
  /** Locked bridges and root ports that stay: new ones go after them. */
  readonly keptBridges: string[];
  /** The highest number after each id prefix (`rp`, `br`, …) so far. */
  readonly lastIds: Map<string, number>;
  readonly findings: Findings;
}

export const devfn = (a: PciAddress): number => a.slot * PCI_FUNCTIONS + a.fn;
export const fromDevfn = (n: number): PciAddress => ({ slot: Math.floor(n / PCI_FUNCTIONS), fn: n % PCI_FUNCTIONS });
/** The holder of a chipset's built-in addresses. */
export const BUILTIN = '#builtin';
/** Where the lock puts machine devices off PCI (TPM, vmgenid): one pseudo-bus, no addresses. */
export const SYSTEM_BUS = 'sysbus';

/** The QEMU bus name(s) a controller's children plug into. */
export function childBusName(owner: string, kind: BusKind, index = 0): string {
  return kind === 'pci' || kind === 'pcie-port' ? owner : `${owner}.${index}`;
}

export const isBridgeModel = (spec: ModelSpec | undefined): boolean => spec?.provides === 'pci' || spec?.provides === 'pcie-port';

export function newPlacement(machine: MachineSpec): Placement {
  return {
    machine,
    chip: chipsets[machine.chipset],
    chipset: machine.chipset,
    buses: new Map(),
    drafts: new Map(),
    sourceById: new Map(machine.devices.map((d) => [d.id, d])),
    keptBridges: [],
    lastIds: new Map(),
    findings: { idTaken: [], addressTaken: [], parentFull: [], unplaced: [], outOfBuses: false, noChassis: [] },
  };
}

export const rootOf = (p: Placement): Bus => p.buses.get(p.chip.rootBus)!;

export function addBus(p: Placement, name: string, kind: Bus['kind'], owner: string | undefined, auto: boolean): void {
  if (!p.buses.has(name)) p.buses.set(name, { name, kind, owner, auto, held: new Map() });
}


export function hold(p: Placement, draft: Draft): void {
  p.drafts.set(draft.id, draft);
  const bus = p.buses.get(draft.bus)!;
  if (draft.addr) bus.held.set(devfn(draft.addr), draft.id);
  else if (draft.key !== undefined) bus.held.set(draft.key, draft.id);
}

export const holderOf = (p: Placement, bus: string, key: number): string | undefined => p.buses.get(bus)?.held.get(key);

/** Where a source device must sit: its parent's bus, or anywhere machinec decides for top-level devices. */
export function expectedParentBus(d: DeviceSpec): string | undefined {
  if (!d.parent?.spec?.provides) return undefined;
  return d.parent.spec.provides === 'ide' ? undefined : childBusName(d.parent.id, d.parent.spec.provides);
}

/** Bus numbers taken so far: the root bus's 0, then one for every bridge and root port. */
export const busNumbersUsed = (p: Placement): number =>
  p.buses.size - 1 - [...p.buses.values()].filter((b) => b.kind !== 'pci' && b.kind !== 'pcie-port' && b.kind !== 'root').length;

export const providesPci = (model: string): boolean => isBridgeModel(catalog[model]);

export { childKeys };
