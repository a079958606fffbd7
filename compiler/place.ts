/**
 * Placement: gives every device its bus and address. Deterministic first-fit over a set of
 * addresses that are already held: the chipset's built-ins, then every locked device that is
 * still in the source, then explicit `@` addresses, then everything else in source order.
 *
 * Guest bus numbers come from the firmware, which numbers bridges depth-first in slot order.
 * So a bridge or root port that machinec creates is put after every locked one, and locked ones
 * stay (even empty) until `prune`: then no existing device's bus number changes.
 */
import type { Diagnostic, Span } from '../grammar/index.js';
import { attachmentOf, catalog, type BusKind, type ModelSpec } from './catalog.js';
import { chipsets, MAX_CHASSIS, PCI_BUSES, PCI_FUNCTIONS, PCI_SLOTS, type ChipsetSpec } from './chipsets.js';
import { capacityOf, formatAddress, type DeviceSpec, type MachineSpec } from './machine-spec.js';
import type { Attachment, Chipset, PciAddress, PlacedDevice } from './model.js';
import { macFor } from './pins.js';
import { ioSpaceWarnings } from './checks.js';

/** A bus during placement: who holds which address on it. */
interface Bus {
  readonly name: string;
  readonly kind: BusKind | 'root';
  /** The device that provides it (undefined for the root bus and chipset IDE buses). */
  readonly owner?: string;
  readonly auto: boolean;
  /** PCI: devfn → device id. Other buses: port/unit/… number → device id. */
  readonly held: Map<number, string>;
}

interface Draft {
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

export interface PlaceResult {
  readonly devices: PlacedDevice[];
  readonly diagnostics: Diagnostic[];
}

const devfn = (a: PciAddress): number => a.slot * PCI_FUNCTIONS + a.fn;
const fromDevfn = (n: number): PciAddress => ({ slot: Math.floor(n / PCI_FUNCTIONS), fn: n % PCI_FUNCTIONS });
const BUILTIN = '#builtin';
/** The slot through which automatic pci-bridges chain on pc. */
const CHAIN_SLOT = 0x1f;
/** Bridges machinec makes for many devices: no SHPC and no IO reserved for hotplug (see createBridge). */
const QUIET_BRIDGE = { shpc: 'off', 'io-reserve': '0' } as const;
type BridgeKind = 'conventional' | 'growth';

/** The name of the key a non-PCI attachment is numbered by, its first value, and its QEMU property. */
const childKeys: Record<Exclude<Attachment, 'pci'>, { pin: string; first: number }> = {
  usb: { pin: 'port', first: 1 },
  scsi: { pin: 'scsi-id', first: 0 },
  ide: { pin: 'unit', first: 0 },
  'virtio-serial': { pin: 'nr', first: 1 },
  hda: { pin: 'cad', first: 0 },
};

/** The QEMU bus name(s) a controller's children plug into. */
function childBusName(owner: string, kind: BusKind, index = 0): string {
  return kind === 'pci' || kind === 'pcie-port' ? owner : `${owner}.${index}`;
}

const isBridgeModel = (spec: ModelSpec | undefined): boolean => spec?.provides === 'pci' || spec?.provides === 'pcie-port';

export interface PlaceOptions {
  /** Drop root ports and bridges machinec created that hold no device (`machinec prune`). */
  readonly prune?: boolean;
}

export function place(machine: MachineSpec, locked: readonly PlacedDevice[], machineName: string, options: PlaceOptions = {}): PlaceResult {
  const diagnostics: Diagnostic[] = [];
  const chip: ChipsetSpec = chipsets[machine.chipset];
  const chipset: Chipset = machine.chipset;
  const file = machine.file;
  const error = (code: string, message: string, span: Span | undefined, hint?: string, related?: Diagnostic['related']) =>
    diagnostics.push({ code, severity: 'error', message, file, span, hint, related });

  const buses = new Map<string, Bus>();
  const drafts = new Map<string, Draft>();
  const sourceById = new Map(machine.devices.map((d) => [d.id, d]));
  const addBus = (name: string, kind: Bus['kind'], owner: string | undefined, auto: boolean) => {
    if (!buses.has(name)) buses.set(name, { name, kind, owner, auto, held: new Map() });
  };

  // 1. The chipset: root bus with its built-ins, and its own IDE buses.
  addBus(chip.rootBus, 'root', undefined, false);
  const root = buses.get(chip.rootBus)!;
  for (const b of chip.builtins) root.held.set(devfn(b), BUILTIN);
  const chipsetIde = chip.ideBuses;
  for (const name of chipsetIde) addBus(name, 'ide', undefined, false);

  // Every controller in the source provides its bus, wherever it is placed.
  for (const d of machine.devices) {
    const kind = d.spec?.provides;
    if (!kind) continue;
    if (kind === 'ide') for (let i = 0; i < (d.spec!.capacity ?? 1); i++) addBus(childBusName(d.id, kind, i), kind, d.id, false);
    else addBus(childBusName(d.id, kind), kind, d.id, false);
  }

  const hold = (draft: Draft): void => {
    drafts.set(draft.id, draft);
    const bus = buses.get(draft.bus)!;
    if (draft.addr) bus.held.set(devfn(draft.addr), draft.id);
    else if (draft.key !== undefined) bus.held.set(draft.key, draft.id);
  };
  const holderOf = (bus: string, key: number): string | undefined => buses.get(bus)?.held.get(key);

  /** Where a source device must sit: its parent's bus, or anywhere machinec decides for top-level devices. */
  const expectedParentBus = (d: DeviceSpec): string | undefined => {
    if (!d.parent?.spec?.provides) return undefined;
    return d.parent.spec.provides === 'ide' ? undefined : childBusName(d.parent.id, d.parent.spec.provides);
  };
  const busFits = (d: DeviceSpec, bus: string): boolean => {
    const b = buses.get(bus);
    if (!b) return false;
    if (d.parent) return d.parent.spec?.provides === 'ide' ? b.owner === d.parent.id : bus === expectedParentBus(d);
    if (d.spec && attachmentOf(d.spec.plug) === 'ide') return chipsetIde.includes(bus);
    return b.kind === 'root' || b.auto;
  };

  // 2. Locked devices that are still in the source keep their place; auto controllers stay.
  const keptBridges: string[] = [];
  for (const e of locked) {
    if (!buses.has(e.bus)) continue;
    const d = sourceById.get(e.id);
    let keep: boolean;
    if (e.auto && d) {
      error('id-taken', `${e.id} is the id of a ${e.model} machinec created and locked`, d.idSpan, `choose another id for this device; ${e.id} keeps its place in the lock so no bus number changes`);
      continue;
    }
    if (e.auto) keep = catalog[e.model] !== undefined;
    else {
      keep = !!d?.spec && attachmentOf(d.spec.plug) === e.attachment && busFits(d, e.bus);
      if (keep && d!.address) keep = e.addr !== undefined && devfn(e.addr) === devfn(d!.address) && e.bus === (expectedParentBus(d!) ?? chip.rootBus);
    }
    if (!keep) continue;
    const key = e.attachment === 'pci' ? undefined : Number(e.pins[childKeys[e.attachment].pin] ?? NaN);
    const taken = e.addr ? holderOf(e.bus, devfn(e.addr)) : key !== undefined ? holderOf(e.bus, key) : undefined;
    if (taken || (key !== undefined && Number.isNaN(key))) continue; // an inconsistent lock entry: place it anew
    hold({ id: e.id, model: d?.model ?? e.model, attachment: e.attachment, bus: e.bus, addr: e.addr, auto: e.auto, pins: { ...e.pins }, source: d, key, lockedModel: e.model });
    const spec = catalog[e.model];
    if (e.auto && spec?.provides) addBus(childBusName(e.id, spec.provides), spec.provides, e.id, true);
    if (isBridgeModel(d?.spec ?? spec)) keptBridges.push(e.id);
  }

  // 3. Explicit addresses in the source claim their slot; clashing with a locked device is an error.
  const spanOfId = (id: string): Span | undefined => sourceById.get(id)?.node.address?.span ?? sourceById.get(id)?.idSpan;
  for (const d of machine.devices) {
    if (!d.address || drafts.has(d.id) || !d.spec || attachmentOf(d.spec.plug) !== 'pci') continue;
    const bus = expectedParentBus(d) ?? chip.rootBus;
    const holder = holderOf(bus, devfn(d.address));
    if (holder && holder !== BUILTIN) {
      const other = drafts.get(holder);
      const hint = other?.auto ? `${holder} is a ${other.model} machinec created and locked; choose another address, or run \`machinec prune\` if it is empty` : `${holder} is locked there; choose another address for ${d.id}, or move ${holder} explicitly too`;
      error('address-taken', `${bus} ${formatAddress(d.address)} is held by ${holder}`, d.node.address!.span, hint, other?.source ? [{ message: `${holder} is declared here`, file, span: spanOfId(holder) }] : undefined);
      continue;
    }
    if (holder === BUILTIN) continue; // reported by the reserved-address check
    hold({ id: d.id, model: d.model, attachment: 'pci', bus, addr: d.address, auto: false, pins: {}, source: d });
  }

  // Helpers for automatic placement.
  const slotFree = (bus: Bus, slot: number): boolean => {
    for (let fn = 0; fn < PCI_FUNCTIONS; fn++) if (bus.held.has(slot * PCI_FUNCTIONS + fn)) return false;
    return true;
  };
  /** Slots automatic placement uses; on pc, slot 1f of the root bus and of automatic bridges is kept for the bridge chain. */
  const slotRange = (bus: Bus): [number, number] => {
    const last = chipset === 'pc' && (bus.kind === 'root' || bus.auto) ? CHAIN_SLOT - 1 : PCI_SLOTS - 1;
    return bus.kind === 'root' ? [chip.firstSlot, last] : bus.kind === 'pcie-port' ? [0, 0] : [1, last];
  };
  const firstFreeSlot = (bus: Bus, from = slotRange(bus)[0]): PciAddress | undefined => {
    const [, last] = slotRange(bus);
    for (let s = from; s <= last; s++) {
      if (bus.kind === 'root' && chip.reservedSlots.includes(s)) continue;
      if (slotFree(bus, s)) return { slot: s, fn: 0 };
    }
    return undefined;
  };
  /** Devfn on the root bus after which a new bridge keeps every locked bridge's bus number. */
  const bridgeFloor = (): number => {
    let floor = -1;
    for (const id of keptBridges) {
      let d = drafts.get(id);
      while (d && d.bus !== chip.rootBus) d = drafts.get(buses.get(d.bus)?.owner ?? '');
      if (d?.addr) floor = Math.max(floor, devfn(d.addr));
    }
    return floor;
  };
  /**
   * `rp7` after `rp6`: one more than the highest number after `prefix` among the source's ids and
   * the placed ones. Counted over every id once per prefix, then kept here: every id made after
   * that comes from nextId (the source's ids are all counted up front).
   */
  const lastIds = new Map<string, number>();
  const nextId = (prefix: string): string => {
    let max = lastIds.get(prefix);
    if (max === undefined) {
      max = 0;
      // Up to six digits: a source id such as rp99999999999999999999 is not one of ours.
      const numbered = new RegExp(`^${prefix}(\\d{1,6})$`);
      for (const id of [...drafts.keys(), ...sourceById.keys()]) {
        const m = numbered.exec(id);
        if (m) max = Math.max(max, Number(m[1]));
      }
    }
    lastIds.set(prefix, max + 1);
    return `${prefix}${max + 1}`;
  };

  /** A new root port on pcie.0, after every locked bridge, packed 8 functions to a slot. */
  const newRootPortAddress = (): PciAddress | undefined => {
    const floor = bridgeFloor();
    for (let n = Math.max(floor + 1, chip.firstSlot * PCI_FUNCTIONS); n < PCI_SLOTS * PCI_FUNCTIONS; n++) {
      const { slot, fn } = fromDevfn(n);
      if (chip.reservedSlots.includes(slot) || root.held.has(n)) continue;
      // Share a slot only with other root ports.
      let ok = true;
      for (let f = 0; f < PCI_FUNCTIONS; f++) {
        const holder = root.held.get(slot * PCI_FUNCTIONS + f);
        if (holder && catalog[drafts.get(holder)?.model ?? '']?.provides !== 'pcie-port') ok = false;
      }
      if (fn > 0 && !root.held.has(slot * PCI_FUNCTIONS)) ok = false; // function 0 first
      if (ok) return { slot, fn };
    }
    return undefined;
  };
  /** A new bridge on the root bus (whole slot), after every locked bridge. */
  const newRootBridgeAddress = (): PciAddress | undefined => {
    const floorSlot = Math.floor(bridgeFloor() / PCI_FUNCTIONS);
    return firstFreeSlot(root, Math.max(chip.firstSlot, floorSlot + 1));
  };

  /** Whether `n` more bridges or root ports still get a bus number (at most 255 besides the root bus's 0). */
  const busNumbersLeft = (n: number): boolean => busNumbersUsed() + n <= PCI_BUSES - 1;
  const createRootPort = (): Draft | undefined => {
    const addr = busNumbersLeft(1) ? newRootPortAddress() : undefined;
    if (!addr) return undefined;
    const id = nextId('rp');
    const draft: Draft = { id, model: 'pcie-root-port', attachment: 'pci', bus: chip.rootBus, addr, auto: true, pins: {} };
    hold(draft);
    addBus(id, 'pcie-port', id, true);
    return draft;
  };
  /**
   * A bridge for automatic placement. On q35, conventional devices get a pcie-pci-bridge behind a
   * root port; growth (PCIe devices past half the bus numbers) gets a pci-bridge there instead,
   * with `shpc=off,io-reserve=0` on it and `io-reserve=0` on its root port: SeaBIOS gives every
   * pcie-pci-bridge, and every pci-bridge with SHPC, a 4 KiB IO window for hotplug, and has about
   * 14 of them, so growth by pcie-pci-bridges stops the firmware at about 560 devices
   * ("PCI: out of I/O address space"). Measured on QEMU 7.2; devices there use ACPI hotplug.
   */
  const createBridge = (kind: BridgeKind = 'conventional'): Draft | undefined => {
    if (chipset === 'q35') {
      const rp = busNumbersLeft(2) ? createRootPort() : undefined;
      if (!rp) return undefined;
      const growth = kind === 'growth';
      if (growth) rp.pins['io-reserve'] = '0';
      const id = nextId(growth ? 'br' : 'pcibr');
      const draft: Draft = { id, model: growth ? 'pci-bridge' : 'pcie-pci-bridge', attachment: 'pci', bus: rp.id, addr: { slot: 0, fn: 0 }, auto: true, pins: growth ? { ...QUIET_BRIDGE } : {} };
      hold(draft);
      addBus(id, 'pci', id, true);
      return draft;
    }
    // On pc, bridges chain through slot 1f: the root bus's, then each automatic bridge's. The
    // newest bridge is then always last in the firmware's depth-first walk, so its bus number
    // comes after every existing one.
    let host = root;
    const linkOf = (bus: Bus) => drafts.get(bus.held.get(CHAIN_SLOT * PCI_FUNCTIONS) ?? '');
    for (let link = linkOf(host); link?.auto && link.model === 'pci-bridge'; link = linkOf(host)) host = buses.get(link.id)!;
    const chainFree = slotFree(host, CHAIN_SLOT) && (host !== root || bridgeFloor() < CHAIN_SLOT * PCI_FUNCTIONS);
    const addr = chainFree ? { slot: CHAIN_SLOT, fn: 0 } : host === root ? newRootBridgeAddress() : undefined;
    if (!addr || !busNumbersLeft(1)) return undefined;
    const id = nextId('br');
    const draft: Draft = { id, model: 'pci-bridge', attachment: 'pci', bus: host.name, addr, auto: true, pins: { ...QUIET_BRIDGE } };
    hold(draft);
    addBus(id, 'pci', id, true);
    return draft;
  };
  const autoBuses = (kind: BusKind): Bus[] => [...buses.values()].filter((b) => b.auto && b.kind === kind);
  const emptyRootPort = (): Bus | undefined => autoBuses('pcie-port').find((b) => b.held.size === 0 && !sourceById.has(b.name));
  const bridgeWithRoom = (kind: BridgeKind): { bus: Bus; addr: PciAddress } | undefined => {
    const model = chipset === 'pc' || kind === 'growth' ? 'pci-bridge' : 'pcie-pci-bridge';
    for (const bus of autoBuses('pci')) {
      if (drafts.get(bus.name)?.model !== model) continue;
      const addr = firstFreeSlot(bus);
      if (addr) return { bus, addr };
    }
    return undefined;
  };

  const placeOnConventionalBus = (kind: BridgeKind = 'conventional'): { bus: string; addr: PciAddress } | undefined => {
    const addr = chipset === 'pc' ? firstFreeSlot(root) : undefined;
    if (addr) return { bus: root.name, addr };
    const room = bridgeWithRoom(kind);
    if (room) return { bus: room.bus.name, addr: room.addr };
    const bridge = createBridge(kind);
    return bridge ? { bus: bridge.id, addr: { slot: 1, fn: 0 } } : undefined;
  };
  /**
   * A PCIe endpoint gets its own root port (hotpluggable, one bus each) while fewer than half the
   * bus numbers are used; past that, or when pcie.0 has no function left for a root port, it goes
   * behind a growth pci-bridge (31 devices for two bus numbers), so a q35 machine grows to
   * 2,081 PCIe devices instead of stopping at about 230 as one root port per device would.
   */
  const placeBehindRootPort = (): { bus: string; addr: PciAddress } | undefined => {
    const empty = emptyRootPort();
    if (empty) return { bus: empty.name, addr: { slot: 0, fn: 0 } };
    if (busNumbersUsed() < PCI_BUSES / 2) {
      const rp = createRootPort();
      if (rp) return { bus: rp.id, addr: { slot: 0, fn: 0 } };
    }
    return placeOnConventionalBus('growth');
  };
  const busNumbersUsed = (): number => buses.size - 1 - [...buses.values()].filter((b) => b.kind !== 'pci' && b.kind !== 'pcie-port' && b.kind !== 'root').length;

  /** Where a top-level PCI device goes by the chipset's rules. */
  const placeTopLevel = (d: DeviceSpec): { bus: string; addr: PciAddress } | undefined => {
    const spec = d.spec!;
    if (spec.video && slotFree(root, chip.videoSlot)) return { bus: root.name, addr: { slot: chip.videoSlot, fn: 0 } };
    switch (spec.plug) {
      case 'integrated': {
        const addr = firstFreeSlot(root);
        return addr && { bus: root.name, addr };
      }
      case 'root-port': {
        const addr = newRootPortAddress();
        return addr && { bus: root.name, addr };
      }
      case 'pci-bridge': {
        const addr = newRootBridgeAddress();
        return addr && { bus: root.name, addr };
      }
      case 'pcie-pci-bridge': {
        const rp = createRootPort();
        return rp && { bus: rp.id, addr: { slot: 0, fn: 0 } };
      }
      case 'pcie':
        return chipset === 'q35' ? placeBehindRootPort() : placeOnConventionalBus();
      default:
        return placeOnConventionalBus();
    }
  };

  // 4. Everything else, in source order: parents before children.
  const unplaced: DeviceSpec[] = [];
  for (const d of machine.devices) {
    if (drafts.has(d.id) || !d.spec) continue;
    const attachment = attachmentOf(d.spec.plug);
    if (attachment === 'pci') {
      if (d.address) continue; // its explicit address was refused above
      const parentBus = expectedParentBus(d);
      let where: { bus: string; addr: PciAddress } | undefined;
      if (parentBus) {
        const bus = buses.get(parentBus);
        const addr = bus && firstFreeSlot(bus);
        where = addr && { bus: parentBus, addr };
        if (!where) {
          if (bus?.kind === 'pcie-port') error('bus-full', `${d.parent!.id} has no free slot for ${d.id}`, d.idSpan, 'a root port holds one device');
          else error('bus-full', `${d.parent!.id} (${d.parent!.model}) has no free slot for ${d.id}: a PCI bus has ${PCI_SLOTS} slots (00 to 1f), and slot 00 of a bridge is its hotplug controller`, d.idSpan, `declare another bridge for the devices past the ${PCI_SLOTS - 1}st, or move them to the top level and machinec places them`);
        }
      } else {
        where = placeTopLevel(d);
        if (!where) unplaced.push(d);
      }
      if (where) hold({ id: d.id, model: d.model, attachment, bus: where.bus, addr: where.addr, auto: false, pins: {}, source: d });
      continue;
    }
    // A device on a controller's child bus: the next free port/unit/number.
    const { pin, first } = childKeys[attachment];
    const candidates = d.parent
      ? [...buses.values()].filter((b) => b.owner === d.parent!.id)
      : attachment === 'ide' ? chipsetIde.map((n) => buses.get(n)!) : [];
    const units = d.parent ? (attachment === 'ide' ? 1 : capacityOf(d.parent) ?? 1) : chip.ideUnits;
    let placed = false;
    for (const bus of candidates) {
      for (let k = first; k < first + units; k++) {
        if (bus.held.has(k)) continue;
        hold({ id: d.id, model: d.model, attachment, bus: bus.name, auto: false, pins: { [pin]: String(k) }, source: d, key: k });
        placed = true;
        break;
      }
      if (placed) break;
    }
    if (!placed && candidates.length) error('bus-full', `${d.parent?.id ?? 'the built-in IDE controller'} has no free ${pin} for ${d.id}`, d.idSpan, 'add another controller');
  }

  if (unplaced.length) {
    const [first] = unplaced;
    const more = unplaced.length > 1 ? ` (and ${unplaced.length - 1} more after it: ${unplaced.slice(1, 4).map((d) => d.id).join(', ')}${unplaced.length > 4 ? ', …' : ''})` : '';
    const outOfBuses = !busNumbersLeft(chipset === 'q35' ? 2 : 1);
    const why = outOfBuses
      ? `every bus number is taken: a PCI domain has ${PCI_BUSES} bus numbers (0 to ${PCI_BUSES - 1})`
      : first.spec?.plug === 'root-port'
        ? `${chip.rootBus} has no function left for another root port: slots 02 to 1e, ${PCI_FUNCTIONS} functions each, hold ${(0x1f - chip.firstSlot) * PCI_FUNCTIONS}`
        : `${chip.rootBus} has no free slot (${PCI_SLOTS} slots, 00 to 1f)${chipset === 'q35' ? ' or function for another root port' : ''} and no bridge has room`;
    const hint = outOfBuses
      ? `bus 0 is ${chip.rootBus}, and every pci-bridge, pcie-pci-bridge and pcie-root-port, yours and the ones machinec adds, takes one more${chipset === 'q35' ? ' (machinec gives PCIe devices a root port each until half the bus numbers are used, then a shared pcie-pci-bridge)' : ''}: remove devices or bridges, or put devices side by side behind fewer bridges (31 slots each)`
      : first.spec?.plug === 'root-port'
        ? 'declare fewer root ports: one root port with a pcie-pci-bridge behind it holds 31 devices'
        : 'remove devices, or put several behind a bridge you declare (31 devices each)';
    error('bus-full', `no room for ${first.id}${more}: ${why}`, first.idSpan, hint);
  }
  if (diagnostics.length) return { devices: [], diagnostics };

  if (options.prune) {
    // Empty automatic controllers go, innermost first (a root port whose only device was an empty bridge goes too).
    for (let changed = true; changed; ) {
      changed = false;
      for (const d of [...drafts.values()]) {
        const bus = buses.get(d.id);
        if (!d.auto || !bus || bus.held.size) continue;
        drafts.delete(d.id);
        buses.delete(d.id);
        if (d.addr) buses.get(d.bus)?.held.delete(devfn(d.addr));
        changed = true;
      }
    }
  }

  const noChassis = assignPins(drafts, machineName);
  const result = order(drafts, buses, chip.rootBus, error, diagnostics);
  // Chassis numbers run out only with the bus numbers (every root port and pci-bridge takes one of each): say it once, and only when the bus numbers did not.
  if (noChassis.length && !diagnostics.length) {
    const [first] = noChassis;
    error('too-many-buses', `no chassis number left for ${first.id}${noChassis.length > 1 ? ` and ${noChassis.length - 1} more` : ''}: a chassis number is 8 bits, QEMU numbers them 1 to ${MAX_CHASSIS}`, first.source?.idSpan, 'every pcie-root-port and pci-bridge takes one: use fewer of them');
    return { devices: [], diagnostics };
  }
  // Two NICs with one MAC: a source `mac` that another device already has (set, or locked).
  const byMac = new Map<string, Draft>();
  for (const d of drafts.values()) {
    if (!d.pins.mac) continue;
    const other = byMac.get(d.pins.mac);
    if (!other) {
      byMac.set(d.pins.mac, d);
      continue;
    }
    const [set, kept] = d.source?.node.properties.some((p) => p.key.name === 'mac') ? [d, other] : [other, d];
    const span = set.source?.node.properties.find((p) => p.key.name === 'mac')?.value?.span ?? set.source?.idSpan;
    error('duplicate-mac', `${set.id} and ${kept.id} would both have MAC ${d.pins.mac}`, span, `a MAC is unique on a network: choose another for ${set.id}, or leave \`mac\` out and machinec generates and locks one`, kept.source ? [{ message: `${kept.id} is declared here`, file, span: kept.source.idSpan }] : undefined);
  }
  if (diagnostics.some((d) => d.code === 'duplicate-mac')) return { devices: [], diagnostics };
  if (result.devices.length) result.diagnostics.push(...ioSpaceWarnings(chipset, result.devices, file));
  return result;
}

/** Chassis numbers, ports, MACs and serials: kept from the lock, set in the source, or generated. */
function assignPins(drafts: Map<string, Draft>, machineName: string): Draft[] {
  const noChassis: Draft[] = [];
  const usedChassis = new Set<number>();
  const usedMacs = new Set<string>();
  for (const d of drafts.values()) {
    if (d.pins.chassis) usedChassis.add(Number(d.pins.chassis));
    if (d.pins.mac && !d.source?.node.properties.some((p) => p.key.name === 'mac')) usedMacs.add(d.pins.mac);
  }
  let nextChassis = 1;
  for (const d of drafts.values()) {
    const spec = catalog[d.model];
    const takesChassis = d.model === 'pcie-root-port' || d.model === 'pci-bridge';
    if (takesChassis && !d.pins.chassis) {
      while (usedChassis.has(nextChassis)) nextChassis++;
      if (nextChassis > MAX_CHASSIS) {
        noChassis.push(d);
        continue;
      }
      usedChassis.add(nextChassis);
      d.pins.chassis = String(nextChassis);
      if (d.model === 'pcie-root-port') d.pins['pcie-port'] = String(nextChassis);
    }
    if (d.model === 'pcie-root-port' && d.pins.chassis && !d.pins['pcie-port']) {
      d.pins['pcie-port'] = d.pins.chassis; // a lock line that lost its port number: the one machinec would have given
    }
    if (d.attachment === 'pci') delete d.pins.port; // a USB port: no PCI device has one
    if (!takesChassis && d.attachment === 'pci') {
      delete d.pins.chassis;
      delete d.pins['pcie-port'];
    }
    const userProp = (key: string) => d.source?.node.properties.find((p) => p.key.name === key)?.value;
    if (spec?.pins?.includes('mac')) {
      const given = userProp('mac');
      if (given?.kind === 'String') d.pins.mac = given.value.toLowerCase();
      else if (!d.pins.mac) {
        d.pins.mac = macFor(machineName, d.id, usedMacs);
        usedMacs.add(d.pins.mac);
      }
    } else delete d.pins.mac;
    if (spec?.pins?.includes('serial')) {
      const given = userProp('serial');
      if (given?.kind === 'String') d.pins.serial = given.value;
      else d.pins.serial ??= d.id.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 20);
    } else delete d.pins.serial;
    // A virtio device machinec puts behind one of its bridges is modern-only: as a
    // transitional device it would take an IO window, and the firmware has about 14 of them.
    // Decided once, when the device is first placed (or changes model), then locked.
    const pci = spec?.pci;
    const owner = drafts.get(d.bus);
    if (!pci?.modernDevice || pci.modernDevice === pci.device) delete d.pins['disable-legacy'];
    else if (d.lockedModel !== d.model && owner?.auto && (owner.model === 'pcie-pci-bridge' || owner.model === 'pci-bridge')) d.pins['disable-legacy'] = 'on';
  }
  return noChassis;
}

/**
 * Guest topology order and guest bus numbers: depth first from the root bus, devices on a bus by
 * slot and function (or port), a bridge's bus numbered when the walk reaches it, as SeaBIOS does.
 */
function order(drafts: Map<string, Draft>, buses: Map<string, Bus>, rootBus: string, error: (code: string, message: string, span: Span | undefined, hint?: string) => void, diagnostics: Diagnostic[]): PlaceResult {
  const onBus = new Map<string, Draft[]>();
  for (const d of drafts.values()) {
    const list = onBus.get(d.bus) ?? [];
    list.push(d);
    onBus.set(d.bus, list);
  }
  const busesOf = new Map<string, Bus[]>();
  for (const b of buses.values()) {
    if (!b.owner) continue;
    const list = busesOf.get(b.owner) ?? [];
    list.push(b);
    busesOf.set(b.owner, list);
  }
  const rank = (d: Draft): number => (d.addr ? d.addr.slot * PCI_FUNCTIONS + d.addr.fn : d.key ?? 0);
  const out: PlacedDevice[] = [];
  let lastBus = 0;
  let overflow: Draft | undefined;
  const walk = (busName: string, guestBus: number | undefined): void => {
    const list = (onBus.get(busName) ?? []).sort((a, b) => rank(a) - rank(b) || (a.id < b.id ? -1 : 1));
    for (const d of list) {
      const spec = catalog[d.model];
      const providesPci = spec?.provides === 'pci' || spec?.provides === 'pcie-port';
      const secondaryBus = providesPci ? ++lastBus : undefined;
      if (secondaryBus === PCI_BUSES) overflow = d;
      out.push({
        id: d.id,
        model: d.model,
        attachment: d.attachment,
        bus: d.bus,
        addr: d.addr,
        guest: d.addr && guestBus !== undefined ? { bus: guestBus, ...d.addr } : undefined,
        secondaryBus,
        auto: d.auto,
        pins: d.pins,
        source: d.source?.node,
      });
      const children = (busesOf.get(d.id) ?? []).sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const child of children) walk(child.name, secondaryBus);
    }
  };
  walk(rootBus, 0);
  for (const b of buses.values()) if (!b.owner && b.name !== rootBus) walk(b.name, undefined); // chipset IDE buses
  if (overflow) {
    // An automatic bridge has no line in the source: point at the first declared device behind it.
    let at: Draft | undefined = overflow;
    while (at && !at.source) at = (onBus.get(at.id) ?? []).find((c) => c.source) ?? (onBus.get(at.id) ?? [])[0];
    const over = lastBus - (PCI_BUSES - 1);
    error('too-many-buses', `${overflow.id} would get bus number ${PCI_BUSES}, but a PCI domain has ${PCI_BUSES} bus numbers (0 to ${PCI_BUSES - 1}): this machine needs ${lastBus + 1}`, at?.source?.idSpan, `bus 0 is the root bus and every pci-bridge, pcie-pci-bridge and pcie-root-port takes one more: remove ${over} of them, or put devices side by side behind fewer bridges (31 slots each)`);
  }
  if (diagnostics.length) return { devices: [], diagnostics };
  return { devices: out, diagnostics };
}
