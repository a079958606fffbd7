/**
 * The guest's names beside machinec's: each NIC found by its locked MAC, each disk by its
 * serial (machinec gives every disk its id as serial) or else by its by-path name. A NIC's
 * check is machinec's path name (or onboard name, with an acpi-index) against udev's
 * ID_NET_NAME_PATH (ID_NET_NAME_ONBOARD); the name the guest uses (onboard, else slot, else
 * path) is shown beside it. A disk's check is its by-path name against udev's ID_PATH.
 */
import { GuestView, linuxNicName, type PlacedMachine } from '../../compiler/index.js';
import { usedNicName, type GuestReport } from './boot.js';

export interface GuestNameRow {
  readonly id: string;
  readonly kind: 'nic' | 'disk';
  /** The guest's own name for it: `eth0`, `sda`; absent when the guest has no such device. */
  readonly guestDevice?: string;
  readonly predicted?: string;
  readonly guest?: string;
  /** NICs: the name systemd's default policy gives it in the guest. */
  readonly uses?: string;
  readonly ok: boolean;
}

const pciText = (g: { bus: number; slot: number; fn: number }): string =>
  `0000:${g.bus.toString(16).padStart(2, '0')}:${g.slot.toString(16).padStart(2, '0')}.${g.fn}`;

function nicRows(machine: PlacedMachine, view: GuestView, report: GuestReport, used: Set<string>): GuestNameRow[] {
  const rows: GuestNameRow[] = [];
  for (const d of machine.devices.filter((x) => view.namesOf(x).linuxNic !== undefined && x.guest)) {
    const mac = d.pins.mac?.toLowerCase();
    const nic = report.nics.find((n) => !used.has(n.name) && ((mac && n.mac === mac) || (!mac && n.pci === pciText(d.guest!))));
    const onboard = d.pins['acpi-index'] !== undefined && Number(d.pins['acpi-index']) > 0;
    const predicted = linuxNicName(d.guest!, view.multifunction(d), d.pins['acpi-index']);
    if (nic) used.add(nic.name);
    const guest = nic && (onboard ? nic.onboard : nic.path);
    rows.push({ id: d.id, kind: 'nic', guestDevice: nic?.name, predicted, guest, uses: nic && usedNicName(nic), ok: guest === predicted });
  }
  return rows;
}

function diskRows(machine: PlacedMachine, view: GuestView, report: GuestReport, used: Set<string>): GuestNameRow[] {
  const rows: GuestNameRow[] = [];
  const wanted = machine.devices.filter((x) => view.namesOf(x).byPath !== undefined);
  const take = (pred: (name: string, serial: string, idPath?: string) => boolean) => {
    const disk = report.disks.find((x) => !used.has(x.name) && pred(x.name, x.serial, x.idPath));
    if (disk) used.add(disk.name);
    return disk;
  };
  const found = new Map(wanted.map((d) => [d.id, take((_, serial) => serial === (d.pins.serial ?? d.id))]));
  for (const d of wanted) {
    const predicted = view.namesOf(d).byPath;
    const disk = found.get(d.id) ?? take((_, __, idPath) => idPath === predicted);
    rows.push({ id: d.id, kind: 'disk', guestDevice: disk?.name, predicted, guest: disk?.idPath, ok: disk !== undefined && disk.idPath === predicted });
  }
  return rows;
}

/** One row per NIC and disk of the machine, then one per guest NIC or disk machinec does not know. */
export function compareGuestNames(machine: PlacedMachine, report: GuestReport): GuestNameRow[] {
  const view = new GuestView(machine);
  const usedNics = new Set<string>();
  const usedDisks = new Set<string>();
  const rows = [...nicRows(machine, view, report, usedNics), ...diskRows(machine, view, report, usedDisks)];
  const unknown = '(not in the lock)';
  for (const n of report.nics) {
    if (!usedNics.has(n.name)) rows.push({ id: unknown, kind: 'nic', guestDevice: n.name, guest: n.path, uses: usedNicName(n), ok: false });
  }
  for (const x of report.disks) if (!usedDisks.has(x.name)) rows.push({ id: unknown, kind: 'disk', guestDevice: x.name, guest: x.idPath, ok: false });
  return rows;
}
