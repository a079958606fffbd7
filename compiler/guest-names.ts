/**
 * What the guest calls a device, and so what it notices when the device moves: the names Linux's
 * udev gives NICs and disks, and the location path and hardware ID Windows identifies a PCI
 * device instance by. The rules are data (GUEST_RULES, each with its reference); the functions
 * below only fill in their fields from a placed machine.
 */
import { catalog } from './catalog.js';
import { chipsets } from './chipsets.js';
import type { PlacedDevice, PlacedMachine } from './model.js';
import { guestPciId } from './qemu-facts.js';

export interface GuestRule {
  readonly id: string;
  readonly os: 'linux' | 'windows';
  /** The name's shape, in the reference's own notation. */
  readonly pattern: string;
  readonly appliesTo: string;
  readonly reference: string;
}

/** The naming rules machinec applies, in the order a guest prefers them. */
export const GUEST_RULES: readonly GuestRule[] = [
  {
    id: 'linux-nic-onboard',
    os: 'linux',
    pattern: 'eno{acpi-index}',
    appliesTo: 'a NIC with an acpi-index: ID_NET_NAME_ONBOARD, preferred over every other name by the default NamePolicy',
    reference: 'systemd.net-naming-scheme(7), "o<index>" (firmware index from the ACPI _DSM, which QEMU fills from acpi-index); systemd.link(5) NamePolicy=',
  },
  {
    id: 'linux-nic-path',
    os: 'linux',
    pattern: 'en[P{domain}]p{bus}s{slot}[f{function}]',
    appliesTo: 'every PCI NIC: ID_NET_NAME_PATH, numbers in decimal; the domain only when not 0; f{function} on every function of a multifunction device, function 0 included',
    reference: 'systemd.net-naming-scheme(7), "[P<domain>]p<bus>s<slot>[f<function>]"; systemd src/udev/udev-builtin-net_id.c (is_pci_multifunction)',
  },
  {
    id: 'linux-disk-by-path',
    os: 'linux',
    pattern: 'pci-{domain:04x}:{bus:02x}:{slot:02x}.{function}[-nvme-1|-scsi-0:0:{target}:{lun}|-ata-{port}.{unit}|-usb-0:{port}:1.0-scsi-0:0:0:0]',
    appliesTo: 'disks and CD-ROMs: /dev/disk/by-path/ (fstab and LVM filters that use it break when it changes)',
    reference: 'systemd src/udev/udev-builtin-path_id.c (handle_pci, handle_scsi, handle_ata, handle_usb, nvme); udev(7) persistent storage rules 60-persistent-storage.rules',
  },
  {
    id: 'windows-location-path',
    os: 'windows',
    pattern: 'PCIROOT(0)#PCI({slot:02X}{function:02X})[#PCI({slot:02X}{function:02X})…]',
    appliesTo: 'every PCI device: the slot and function of each bridge on the way, then the device (bus numbers play no part); a new location path is a new device instance ("found new hardware", NIC settings and static IPs left on the old one)',
    reference: 'Microsoft Learn, "DEVPKEY_Device_LocationPaths" and "Identifiers for PCI Devices" (the instance ID is derived from the device\'s location on its parent bus)',
  },
  {
    id: 'windows-hardware-id',
    os: 'windows',
    pattern: 'PCI\\VEN_{vendor:04X}&DEV_{device:04X}',
    appliesTo: 'every PCI device: a new vendor:device ID is a new device instance needing its driver',
    reference: 'Microsoft Learn, "Identifiers for PCI Devices" (hardware IDs PCI\\VEN_v(4)&DEV_d(4)…)',
  },
];

export interface GuestNames {
  /** Linux NIC name udev gives (onboard when acpi-index is set, else the path name). */
  readonly linuxNic?: string;
  /** /dev/disk/by-path/ name. */
  readonly byPath?: string;
  /** Windows location path of a PCI device. */
  readonly windowsLocation?: string;
  /** vendor:device as the guest reads it, `8086:100e`. */
  readonly pciId?: string;
}

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');

/** Looks devices up by id and answers structural questions about a placed machine. */
export class GuestView {
  private readonly byId: Map<string, PlacedDevice>;
  private readonly slotCounts = new Map<string, number>();

  constructor(readonly machine: PlacedMachine) {
    this.byId = new Map(machine.devices.map((d) => [d.id, d]));
    for (const d of machine.devices) if (d.addr) this.slotCounts.set(`${d.bus}/${d.addr.slot}`, (this.slotCounts.get(`${d.bus}/${d.addr.slot}`) ?? 0) + 1);
  }

  /** The device providing a bus: `rp1` for bus `rp1`, `scsi0` for `scsi0.0`; undefined for the root bus and chipset buses. */
  ownerOf(bus: string): PlacedDevice | undefined {
    return this.byId.get(bus) ?? this.byId.get(bus.replace(/\.\d+$/, ''));
  }

  /** The device with the PCI address nearest to `d`: itself, or the controller it hangs from. */
  pciAncestor(d: PlacedDevice): PlacedDevice | undefined {
    let cur: PlacedDevice | undefined = d;
    for (let depth = 0; cur && !cur.guest && depth < 64; depth++) cur = this.ownerOf(cur.bus);
    return cur?.guest ? cur : undefined;
  }

  /** Function 0 that shares its slot, or any other function: the device has its multifunction bit. */
  multifunction(d: PlacedDevice): boolean {
    if (!d.addr) return false;
    return d.addr.fn > 0 || (this.slotCounts.get(`${d.bus}/${d.addr.slot}`) ?? 0) > 1 || (d.auto && d.model === 'pcie-root-port');
  }

  /** The bridges on the way from the root bus to `d`, then `d`: each one's slot and function. */
  locationChain(d: PlacedDevice): { slot: number; fn: number }[] {
    const chain: { slot: number; fn: number }[] = [];
    let cur: PlacedDevice | undefined = d;
    for (let depth = 0; cur?.addr && depth < 256; depth++) {
      chain.unshift(cur.addr);
      cur = this.byId.get(cur.bus);
    }
    return chain;
  }

  /** vendor:device as the guest reads it: virtio devices drop their legacy ID behind a PCIe port, or with disable-legacy. */
  pciId(d: PlacedDevice): { vendor: number; device: number } | undefined {
    return guestPciId(d, this.byId.get(d.bus)?.model);
  }

  namesOf(d: PlacedDevice): GuestNames {
    const spec = catalog[d.model];
    const id = this.pciId(d);
    return {
      linuxNic: spec?.backend === 'netdev' && d.guest ? linuxNicName(d.guest, this.multifunction(d), d.pins['acpi-index']) : undefined,
      byPath: spec?.backend === 'block' || spec?.backend === 'cdrom' || /^(scsi|ide)-(hd|cd)$|^usb-storage$/.test(d.model) ? this.byPath(d) : undefined,
      windowsLocation: d.guest ? windowsLocationPath(this.locationChain(d)) : undefined,
      pciId: id && `${hex(id.vendor, 4)}:${hex(id.device, 4)}`,
    };
  }

  private byPath(d: PlacedDevice): string | undefined {
    const pci = this.pciAncestor(d);
    if (!pci?.guest) {
      // The chipset's own IDE/SATA controller: PIIX3 IDE at 00:01.1 on pc, AHCI at 00:1f.2 on q35.
      const own = chipsetDiskController(this.machine, d);
      return own && `${pciPath({ bus: 0, ...own.addr })}-ata-${own.port}.${ataUnit(d)}`;
    }
    const base = pciPath(pci.guest);
    if (pci === d) return d.model === 'nvme' ? `${base}-nvme-1` : base;
    const owner = this.ownerOf(d.bus);
    if (d.attachment === 'scsi') return `${base}-scsi-0:0:${d.pins['scsi-id'] ?? 0}:${d.pins.lun ?? 0}`;
    if (d.attachment === 'ide') return `${base}-ata-${Number(/\.(\d+)$/.exec(d.bus)?.[1] ?? 0) + 1}.${ataUnit(d)}`;
    if (d.attachment === 'usb' && owner) return `${base}-usb-0:${d.pins.port ?? 1}:1.0-scsi-0:0:0:0`;
    return undefined;
  }
}

/** `enp1s0`, `enp0s3f1`, `eno2`: what udev names a NIC at guest address `g`. */
export function linuxNicName(g: { bus: number; slot: number; fn: number }, multifunction: boolean, acpiIndex?: string): string {
  if (acpiIndex !== undefined && Number(acpiIndex) > 0) return `eno${Number(acpiIndex)}`;
  return `enp${g.bus}s${g.slot}${multifunction || g.fn > 0 ? `f${g.fn}` : ''}`;
}

/** `PCIROOT(0)#PCI(0200)#PCI(0000)`. */
export function windowsLocationPath(chain: readonly { slot: number; fn: number }[]): string {
  return ['PCIROOT(0)', ...chain.map((a) => `PCI(${(hex(a.slot, 2) + hex(a.fn, 2)).toUpperCase()})`)].join('#');
}

/** The device on its ATA port: 0 master, 1 slave (a PIIX IDE channel's unit); AHCI has one device a port. */
const ataUnit = (d: PlacedDevice): number => Number(d.pins.unit ?? 0);

const pciPath = (g: { bus: number; slot: number; fn: number }): string => `pci-0000:${hex(g.bus, 2)}:${hex(g.slot, 2)}.${g.fn}`;

function chipsetDiskController(machine: PlacedMachine, d: PlacedDevice): { addr: { slot: number; fn: number }; port: number } | undefined {
  const chip = chipsets[machine.chipset];
  const index = chip.ideBuses.indexOf(d.bus);
  if (index < 0) return undefined;
  // pc: PIIX3 IDE, ide.0 primary and ide.1 secondary channel (ata-1, ata-2); q35: ICH9 AHCI, one port a bus.
  return { addr: chip.diskController.addr, port: index + 1 };
}

/** Guest names of every device, by id. */
export function guestNamesOf(machine: PlacedMachine): Map<string, GuestNames> {
  const view = new GuestView(machine);
  return new Map(machine.devices.map((d) => [d.id, view.namesOf(d)]));
}

/**
 * What the guest notices when a device goes from `before` to `after` (either may be absent):
 * plain sentences for the plan, empty when nothing it names by changes.
 */
export function noticesFor(before: GuestNames | undefined, after: GuestNames | undefined): string[] {
  const out: string[] = [];
  if (before && !after) {
    if (before.linuxNic) out.push(`Linux: ${before.linuxNic} goes away`);
    if (before.byPath) out.push(`Linux: by-path ${before.byPath} goes away`);
    return out;
  }
  if (!before && after) {
    if (after.linuxNic) out.push(`Linux: new NIC ${after.linuxNic}`);
    return out;
  }
  if (!before || !after) return out;
  if (before.linuxNic !== after.linuxNic && (before.linuxNic || after.linuxNic)) out.push(`Linux: NIC ${before.linuxNic ?? '(none)'} → ${after.linuxNic ?? '(none)'}`);
  if (before.byPath !== after.byPath && (before.byPath || after.byPath)) out.push(`Linux: by-path ${before.byPath ?? '(none)'} → ${after.byPath ?? '(none)'}`);
  const moved = before.windowsLocation !== after.windowsLocation;
  const newId = before.pciId !== after.pciId;
  if (moved || newId) {
    const why = [moved ? `location ${before.windowsLocation ?? '(none)'} → ${after.windowsLocation ?? '(none)'}` : '', newId ? `ID ${before.pciId ?? '(none)'} → ${after.pciId ?? '(none)'}` : ''].filter(Boolean);
    out.push(`Windows: new device instance (${why.join(', ')})`);
  }
  return out;
}
