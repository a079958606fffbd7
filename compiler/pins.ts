/**
 * Pinned guest-visible values: chassis and PCIe port numbers, MACs, serials, `disable-legacy`.
 * Kept from the lock, set in the source, or generated: generated ones are deterministic from the
 * machine name and device id, so the first build is the same on every machine; locked
 * afterwards, so a rename keeps them.
 */
import { catalog } from './catalog.js';
import { MAX_CHASSIS } from './chipsets.js';
import type { Draft } from './place/state.js';

/** FNV-1a, 32 bits. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/** A locally administered QEMU MAC (52:54:00 prefix) that no other device of the machine has. */
export function macFor(machine: string, id: string, taken: ReadonlySet<string>): string {
  for (let attempt = 0; ; attempt++) {
    const h = fnv1a(`${machine}/${id}/${attempt}`) & 0xffffff;
    const mac = `52:54:00:${hex(h >> 16, 2)}:${hex((h >> 8) & 0xff, 2)}:${hex(h & 0xff, 2)}`;
    if (!taken.has(mac)) return mac;
  }
}

/**
 * A version-4-shaped UUID derived from the machine name, none of `taken` (the UUIDs other
 * machines of the repo have locked: prod/web and staging/web are both `machine web`).
 */
export function uuidFor(machine: string, taken: ReadonlySet<string> = new Set()): string {
  for (let attempt = 0; ; attempt++) {
    const uuid = uuidAttempt(attempt ? `${machine}/${attempt}` : machine);
    if (!taken.has(uuid)) return uuid;
  }
}

function uuidAttempt(machine: string): string {
  const words = [0, 1, 2, 3].map((i) => hex(fnv1a(`${machine}#${i}`, 0x811c9dc5 ^ (i * 0x9e3779b9)), 8)).join('');
  const variant = ((parseInt(words[16], 16) & 0x3) | 0x8).toString(16);
  return `${words.slice(0, 8)}-${words.slice(8, 12)}-4${words.slice(13, 16)}-${variant}${words.slice(17, 20)}-${words.slice(20, 32)}`;
}

/** Removes a pin the device cannot have; only when it is there (a `delete` turns the object into a slow dictionary). */
function drop(pins: Record<string, string>, key: string): void {
  if (Object.hasOwn(pins, key)) delete pins[key];
}

/** Chassis numbers, ports, MACs and serials: kept from the lock, set in the source, or generated. */
export function assignPins(drafts: ReadonlyMap<string, Draft>, machineName: string, takenMacs: ReadonlySet<string> = new Set()): Draft[] {
  const noChassis: Draft[] = [];
  const usedChassis = new Set<number>();
  const usedMacs = new Set<string>(takenMacs);
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
    if (d.attachment === 'pci') drop(d.pins, 'port'); // a USB port: no PCI device has one
    if (!takesChassis && d.attachment === 'pci') {
      drop(d.pins, 'chassis');
      drop(d.pins, 'pcie-port');
    }
    const userProp = (key: string) => d.source?.node.properties.find((p) => p.key.name === key)?.value;
    if (spec?.pins?.includes('mac')) {
      const given = userProp('mac');
      if (given?.kind === 'String') d.pins.mac = given.value.toLowerCase();
      else if (!d.pins.mac) {
        d.pins.mac = macFor(machineName, d.id, usedMacs);
        usedMacs.add(d.pins.mac);
      }
    } else drop(d.pins, 'mac');
    if (spec?.pins?.includes('serial')) {
      const given = userProp('serial');
      if (given?.kind === 'String') d.pins.serial = given.value;
      else d.pins.serial ??= d.id.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 20);
    } else drop(d.pins, 'serial');
    // A virtio device machinec puts behind one of its bridges is modern-only: as a
    // transitional device it would take an IO window, and the firmware has about 14 of them.
    // Decided once, when the device is first placed (or changes model), then locked.
    const pci = spec?.pci;
    const owner = drafts.get(d.bus);
    if (!pci?.modernDevice || pci.modernDevice === pci.device) drop(d.pins, 'disable-legacy');
    else if (d.lockedModel !== d.model && owner?.auto && (owner.model === 'pcie-pci-bridge' || owner.model === 'pci-bridge')) d.pins['disable-legacy'] = 'on';
  }
  return noChassis;
}
