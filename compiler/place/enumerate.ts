/**
 * Enumerate: guest topology order and guest bus numbers, as the firmware gives them. Depth first
 * from the root bus; on each bus, devices by slot and function (or port); a bridge's or root
 * port's secondary bus is numbered when the walk reaches it, as SeaBIOS does. A bridge whose
 * bus would be number 256 is a finding.
 */
import { PCI_BUSES, PCI_FUNCTIONS } from '../chipsets.js';
import type { PlacedDevice } from '../model.js';
import { providesPci, type Bus, type Draft, type Placement } from './state.js';

function groupBy<T>(items: Iterable<T>, key: (t: T) => string | undefined): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    const list = out.get(k) ?? [];
    list.push(item);
    out.set(k, list);
  }
  return out;
}

const rank = (d: Draft): number => (d.addr ? d.addr.slot * PCI_FUNCTIONS + d.addr.fn : d.key ?? 0);

export function enumerate(p: Placement): PlacedDevice[] {
  const onBus = groupBy(p.drafts.values(), (d) => d.bus);
  const busesOf = groupBy(p.buses.values(), (b: Bus) => b.owner);
  const out: PlacedDevice[] = [];
  let lastBus = 0;
  let overflow: Draft | undefined;
  const walk = (busName: string, guestBus: number | undefined): void => {
    const list = (onBus.get(busName) ?? []).sort((a, b) => rank(a) - rank(b) || (a.id < b.id ? -1 : 1));
    for (const d of list) {
      const secondaryBus = providesPci(d.model) ? ++lastBus : undefined;
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
  walk(p.chip.rootBus, 0);
  for (const b of p.buses.values()) if (!b.owner && b.name !== p.chip.rootBus) walk(b.name, undefined); // chipset IDE buses
  if (overflow) {
    // An automatic bridge has no line in the source: point at the first declared device behind it.
    let at: Draft | undefined = overflow;
    while (at && !at.source) at = (onBus.get(at.id) ?? []).find((c) => c.source) ?? (onBus.get(at.id) ?? [])[0];
    p.findings.overflow = { draft: overflow, at: at?.source, buses: lastBus + 1 };
  }
  return out;
}
