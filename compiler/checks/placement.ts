/**
 * The placement checks: what the placement phases found (compiler/place/state.ts `Findings`),
 * worded. They run in this order after placement; a check that needs a complete placement looks
 * at `pinned` (pins assigned and buses numbered) or at the errors reported before it.
 */
import { hasErrors, type Diagnostic } from '../../grammar/index.js';
import { chipsets, MAX_CHASSIS, PCI_BUSES, PCI_FUNCTIONS, PCI_SLOTS } from '../chipsets.js';
import { formatAddress } from '../machine-spec.js';
import type { PlacedDevice } from '../model.js';
import type { Draft, Placement } from '../place/state.js';
import { ioSpaceCheck } from './io-space.js';
import type { Check } from './registry.js';

export interface PlacedContext {
  readonly placement: Placement;
  /** Every device in guest topology order; empty when placement stopped before numbering buses. */
  readonly devices: readonly PlacedDevice[];
  /** Whether pins were assigned and buses numbered. */
  readonly pinned: boolean;
  /** What the checks before this one reported. */
  readonly diagnostics: readonly Diagnostic[];
}

const busLimitHint = 'bus 0 is the root bus and every pci-bridge, pcie-pci-bridge and pcie-root-port takes one more';

function unplacedMessage(p: Placement): { message: string; hint: string } {
  const { unplaced, outOfBuses } = p.findings;
  const [first] = unplaced;
  const { chip } = p;
  const more = unplaced.length > 1 ? ` (and ${unplaced.length - 1} more after it: ${unplaced.slice(1, 4).map((d) => d.id).join(', ')}${unplaced.length > 4 ? ', …' : ''})` : '';
  const rootPorts = first.spec?.plug === 'root-port';
  const why = outOfBuses
    ? `every bus number is taken: a PCI domain has ${PCI_BUSES} bus numbers (0 to ${PCI_BUSES - 1})`
    : rootPorts
      ? `${chip.rootBus} has no function left for another root port: slots 02 to 1e, ${PCI_FUNCTIONS} functions each, hold ${(0x1f - chip.firstSlot) * PCI_FUNCTIONS}`
      : `${chip.rootBus} has no free slot (${PCI_SLOTS} slots, 00 to 1f)${chip.rootPorts ? ' or function for another root port' : ''} and no bridge has room`;
  const hint = outOfBuses
    ? `bus 0 is ${chip.rootBus}, and every pci-bridge, pcie-pci-bridge and pcie-root-port, yours and the ones machinec adds, takes one more${chip.rootPorts ? ' (machinec gives PCIe devices a root port each until half the bus numbers are used, then puts them 31 to a pci-bridge behind a root port)' : ''}: remove devices or bridges, or put devices side by side behind fewer bridges (31 slots each)`
    : rootPorts
      ? 'declare fewer root ports: one root port with a pcie-pci-bridge behind it holds 31 devices'
      : 'remove devices, or put several behind a bridge you declare (31 devices each)';
  return { message: `no room for ${first.id}${more}: ${why}`, hint };
}

/** Chassis numbers run out only with the bus numbers: said once, and only when the bus numbers were not. */
const chassisReported = (ctx: PlacedContext): boolean => ctx.placement.findings.noChassis.length > 0 && !ctx.placement.findings.overflow;

export const placementChecks: readonly Check<PlacedContext>[] = [
  {
    id: 'id-taken',
    phase: 'placed',
    severity: 'error',
    run({ placement: p }, report) {
      for (const { locked: e, device: d } of p.findings.idTaken) {
        report(`${e.id} is the id of a ${e.model} machinec created and locked`, d.idSpan, `choose another id for this device; ${e.id} keeps its place in the lock so no bus number changes`);
      }
    },
  },
  {
    id: 'address-taken',
    phase: 'placed',
    severity: 'error',
    run({ placement: p }, report) {
      const spanOfId = (id: string) => p.sourceById.get(id)?.node.address?.span ?? p.sourceById.get(id)?.idSpan;
      for (const { device: d, bus, holder } of p.findings.addressTaken) {
        const other = p.drafts.get(holder);
        const hint = other?.auto ? `${holder} is a ${other.model} machinec created and locked; choose another address, or run \`machinec prune\` if it is empty` : `${holder} is locked there; choose another address for ${d.id}, or move ${holder} explicitly too`;
        report(`${bus} ${formatAddress(d.address!)} is held by ${holder}`, d.node.address!.span, hint, other?.source ? [{ message: `${holder} is declared here`, file: p.machine.file, span: spanOfId(holder) }] : undefined);
      }
    },
  },
  {
    id: 'bus-full',
    phase: 'placed',
    severity: 'error',
    run({ placement: p }, report) {
      for (const { device: d, busKind, pin } of p.findings.parentFull) {
        if (pin) report(`${d.parent?.id ?? 'the built-in IDE controller'} has no free ${pin} for ${d.id}`, d.idSpan, 'add another controller');
        else if (busKind === 'pcie-port') report(`${d.parent!.id} has no free slot for ${d.id}`, d.idSpan, 'a root port holds one device');
        else report(`${d.parent!.id} (${d.parent!.model}) has no free slot for ${d.id}: a PCI bus has ${PCI_SLOTS} slots (00 to 1f), and slot 00 of a bridge is its hotplug controller`, d.idSpan, `declare another bridge for the devices past the ${PCI_SLOTS - 1}st, or move them to the top level and machinec places them`);
      }
      if (p.findings.unplaced.length && !p.findings.outOfBuses) {
        const { message, hint } = unplacedMessage(p);
        report(message, p.findings.unplaced[0].idSpan, hint);
      }
    },
  },
  {
    // The 256 bus numbers of a PCI domain (and the 255 chassis numbers that run out with them).
    id: 'too-many-buses',
    phase: 'placed',
    severity: 'error',
    run(ctx, report) {
      const { placement: p } = ctx;
      const { unplaced, outOfBuses, overflow, noChassis } = p.findings;
      if (unplaced.length && outOfBuses) {
        const { message, hint } = unplacedMessage(p);
        report(message, unplaced[0].idSpan, hint);
      }
      if (overflow) {
        const over = overflow.buses - PCI_BUSES;
        report(`${overflow.draft.id} would get bus number ${PCI_BUSES}, but a PCI domain has ${PCI_BUSES} bus numbers (0 to ${PCI_BUSES - 1}): this machine needs ${overflow.buses}`, overflow.at?.idSpan, `${busLimitHint}: remove ${over} of them, or put devices side by side behind fewer bridges (31 slots each)`);
      }
      if (chassisReported(ctx)) {
        const first: Draft = noChassis[0];
        report(`no chassis number left for ${first.id}${noChassis.length > 1 ? ` and ${noChassis.length - 1} more` : ''}: a chassis number is 8 bits, QEMU numbers them 1 to ${MAX_CHASSIS}`, first.source?.idSpan, 'every pcie-root-port and pci-bridge takes one: use fewer of them');
      }
    },
  },
  {
    // Two NICs with one MAC: a source `mac` that another device already has (set, or locked).
    id: 'duplicate-mac',
    phase: 'placed',
    severity: 'error',
    run(ctx, report) {
      if (!ctx.pinned || chassisReported(ctx)) return;
      const byMac = new Map<string, Draft>();
      for (const d of ctx.placement.drafts.values()) {
        if (!d.pins.mac) continue;
        const other = byMac.get(d.pins.mac);
        if (!other) {
          byMac.set(d.pins.mac, d);
          continue;
        }
        const [set, kept] = d.source?.node.properties.some((q) => q.key.name === 'mac') ? [d, other] : [other, d];
        const span = set.source?.node.properties.find((q) => q.key.name === 'mac')?.value?.span ?? set.source?.idSpan;
        report(`${set.id} and ${kept.id} would both have MAC ${d.pins.mac}`, span, `a MAC is unique on a network: choose another for ${set.id}, or leave \`mac\` out and machinec generates and locks one`, kept.source ? [{ message: `${kept.id} is declared here`, file: ctx.placement.machine.file, span: kept.source.idSpan }] : undefined);
      }
    },
  },
  {
    // A guest probes function 0 of a slot first and skips the slot when nothing answers there.
    id: 'function-0-missing',
    phase: 'placed',
    severity: 'error',
    run(ctx, report) {
      const used = new Set(ctx.devices.filter((d) => d.addr).map((d) => `${d.bus}/${d.addr!.slot}.${d.addr!.fn}`));
      // The chipset's own functions answer too: pc's PIIX3 ISA bridge is 01.0, so a UHCI at 01.2 (libvirt's default) is seen.
      const chip = chipsets[ctx.placement.chipset];
      for (const b of chip.builtins) used.add(`${chip.rootBus}/${b.slot}.${b.fn}`);
      for (const d of ctx.devices) {
        if (!d.addr || d.addr.fn === 0 || used.has(`${d.bus}/${d.addr.slot}.0`)) continue;
        const zero = formatAddress({ slot: d.addr.slot, fn: 0 });
        report(`nothing is at ${d.bus} ${zero}, so no guest sees ${d.id} at ${formatAddress(d.addr)}: a guest looks for function 0 of a slot first and skips the slot when it is empty`, d.source?.address?.span ?? d.source?.id?.span ?? d.source?.span, `put a device at ${zero} too, or give ${d.id} @ ${zero}`);
      }
    },
  },
  {
    id: 'io-space',
    phase: 'placed',
    severity: 'warning',
    run(ctx, report) {
      if (ctx.pinned && ctx.devices.length && !hasErrors(ctx.diagnostics)) ioSpaceCheck(ctx.placement.chipset, ctx.devices, report);
    },
  },
];
