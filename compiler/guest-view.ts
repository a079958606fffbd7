/**
 * What the guest sees on its PCI buses, compared with a placed machine: the one comparison that
 * `verify` (the lock against the real guest), `import` (the imported machine against the guest
 * it came from, and the built machine against it) and the tests use. Pure: the view itself is
 * read from QEMU by the CLI (QMP `query-pci`).
 */
import { chipsets } from './chipsets.js';
import { formatGuestAddress } from './lockfile.js';
import type { PlacedDevice, PlacedMachine } from './model.js';
import { guestPciId } from './qemu-facts.js';

export interface GuestPciDevice {
  readonly bus: number;
  readonly slot: number;
  readonly fn: number;
  readonly vendor: number;
  readonly device: number;
  /** PCI class code (class << 8 | subclass), e.g. 0x0200 Ethernet, 0x0604 PCI bridge. */
  readonly classId: number;
  /** The QEMU `id=` of the device; empty for built-ins created by the machine. */
  readonly qdevId: string;
  /** For bridges and root ports: the bus number behind them (0 until the firmware has numbered it). */
  readonly secondaryBus?: number;
  /** For bridges and root ports: the highest bus number below them. */
  readonly subordinateBus?: number;
}

export interface Mismatch {
  readonly id: string;
  readonly expected: string;
  readonly found: string;
  readonly problem: string;
}

export interface GuestViewComparison {
  readonly mismatches: Mismatch[];
  /** PCI devices of the machine that were compared. */
  readonly checked: number;
  /** Devices that cannot be compared, and why (vfio-pci needs the host's device). */
  readonly notChecked: string[];
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');

/** `02:00.0 1af4:1041 [0200] nic1` */
export function describeDevice(d: GuestPciDevice): string {
  return (
    `${hex(d.bus, 2)}:${hex(d.slot, 2)}.${d.fn} ${hex(d.vendor, 4)}:${hex(d.device, 4)} [${hex(d.classId, 4)}]` +
    (d.qdevId ? ` ${d.qdevId}` : '') +
    (d.secondaryBus !== undefined ? ` -> bus ${d.secondaryBus}` : '')
  );
}

/** The vendor:device the guest reads: virtio devices drop their legacy ID behind a PCIe port, or with disable-legacy. */
export function expectedPciId(d: PlacedDevice, machine: PlacedMachine): { vendor: number; device: number } | undefined {
  return guestPciId(d, machine.devices.find((p) => p.id === d.bus)?.model);
}

const addressOf = (g: { bus: number; slot: number; fn: number }): string => formatGuestAddress(g);

/**
 * Every PCI device of the machine where the guest has it: found by its QEMU id, or (for a guest
 * whose devices were started without ids, as an imported one may be) unnamed at its address;
 * with the vendor:device ID the catalog expects and the bus number behind it. And nothing in the
 * guest that the machine does not have, besides the chipset's built-ins.
 */
export function compareGuestView(machine: PlacedMachine, guest: readonly GuestPciDevice[]): GuestViewComparison {
  const mismatches: Mismatch[] = [];
  const notChecked: string[] = [];
  const byId = new Map(guest.filter((g) => g.qdevId).map((g) => [g.qdevId, g]));
  const unnamedAt = new Map(guest.filter((g) => !g.qdevId).map((g) => [addressOf(g), g]));
  const matched = new Set<GuestPciDevice>();
  let checked = 0;
  for (const d of machine.devices) {
    if (d.attachment !== 'pci' || !d.guest) continue;
    if (d.model === 'vfio-pci') {
      notChecked.push(`${d.id} (vfio-pci needs the host's device)`);
      continue;
    }
    checked++;
    const want = addressOf(d.guest);
    const id = expectedPciId(d, machine);
    const wantId = id ? `${hex(id.vendor, 4)}:${hex(id.device, 4)}` : '';
    const g = byId.get(d.id) ?? unnamedAt.get(want);
    if (!g) {
      mismatches.push({ id: d.id, expected: `${want} ${wantId}`.trim(), found: '(absent)', problem: 'not on any bus' });
      continue;
    }
    matched.add(g);
    const got = addressOf(g);
    const gotId = `${hex(g.vendor, 4)}:${hex(g.device, 4)}`;
    const problems: string[] = [];
    if (got !== want) problems.push('at another address');
    if (id && gotId !== wantId) problems.push('another vendor:device ID');
    if (d.secondaryBus !== undefined && g.secondaryBus !== d.secondaryBus) problems.push(`its bus is numbered ${g.secondaryBus ?? '-'}, locked ${d.secondaryBus}`);
    if (problems.length) mismatches.push({ id: d.id, expected: `${want} ${wantId}`.trim(), found: `${got} ${gotId}`, problem: problems.join('; ') });
  }
  const builtins = chipsets[machine.chipset].builtins;
  for (const g of guest) {
    if (matched.has(g)) continue;
    if (!g.qdevId && g.bus === 0 && builtins.some((b) => b.slot === g.slot && b.fn === g.fn)) continue;
    if (g.qdevId && machine.devices.some((d) => d.id === g.qdevId && d.model === 'vfio-pci')) continue;
    mismatches.push({ id: g.qdevId || '(unnamed)', expected: '(not in the lock)', found: describeDevice(g), problem: 'unexpected device' });
  }
  return { mismatches, checked, notChecked };
}

/** One line for a mismatch: `nic1: 01:00.0 8086:100e expected, 02:00.0 8086:100e found (at another address)`. */
export const describeMismatch = (m: Mismatch): string => `${m.id}: ${m.expected} expected, ${m.found} found (${m.problem})`;
