/**
 * Facts about QEMU that more than one part of machinec needs, each in one place.
 */
import { catalog } from './catalog.js';
import type { Attachment, PlacedDevice } from './model.js';

/**
 * Which number places a non-PCI device on its bus: the QEMU property (as pinned in the lock) and
 * its first value. USB ports count from 1, SCSI ids and IDE units from 0, virtio-serial ports
 * from 1 (0 is the console's), HDA codec addresses from 0.
 */
export const childKeys: Readonly<Record<Exclude<Attachment, 'pci' | 'system'>, { readonly pin: string; readonly first: number }>> = {
  usb: { pin: 'port', first: 1 },
  scsi: { pin: 'scsi-id', first: 0 },
  ide: { pin: 'unit', first: 0 },
  'virtio-serial': { pin: 'nr', first: 1 },
  hda: { pin: 'cad', first: 0 },
};
/** The pin that places a device of this attachment on its bus (none for PCI and system devices). */
export const childKeyPin = (a: Attachment): string | undefined => (a === 'pci' || a === 'system' ? undefined : childKeys[a].pin);
/** Every such pin, in the order of {@link childKeys}. */
export const childKeyPins: readonly string[] = Object.values(childKeys).map((k) => k.pin);

/**
 * A bridge or root port names the bus behind it after its own id and adds that bus as a child
 * property of itself, so an id equal to one of its QOM properties makes QEMU abort ("attempt to
 * add duplicate property"). These are the names, from `qom-list-properties` on QEMU 7.2 and each
 * tried as an id (`type` is listed there but does not collide).
 */
const pciBridgeCommon = ['acpi-index', 'addr', 'failover_pair_id', 'hotpluggable', 'hotplugged', 'legacy-addr', 'multifunction', 'parent_bus', 'realized', 'rombar', 'romfile', 'romsize', 'x-pcie-extcap-init', 'x-pcie-lnksta-dllla'];
const reserveProps = ['bus-reserve', 'io-reserve', 'mem-reserve', 'pref32-reserve', 'pref64-reserve'];
export const busOwnerProperties: Readonly<Record<string, ReadonlySet<string>>> = {
  'pci-bridge': new Set([...pciBridgeCommon, ...reserveProps, 'chassis_nr', 'msi', 'shpc']),
  'pcie-root-port': new Set([...pciBridgeCommon, ...reserveProps, 'aer_log_max', 'chassis', 'disable-acs', 'hotplug', 'port', 'power_controller_present', 'slot', 'x-migrate-msix', 'x-native-hotplug', 'x-speed', 'x-width']),
  'pcie-pci-bridge': new Set([...pciBridgeCommon, 'msi']),
};

/**
 * Whether a virtio device is modern-only where it sits: behind a PCIe root port QEMU sets
 * disable-legacy=auto to on, and machinec pins disable-legacy=on elsewhere. It then has no IO
 * BAR and the guest reads the modern device ID.
 */
export const legacyDropped = (d: PlacedDevice, parentModel: string | undefined): boolean =>
  parentModel === 'pcie-root-port' || d.pins['disable-legacy'] === 'on';

/** The vendor:device the guest reads, given the model of the device's parent (its bus's owner). */
export function guestPciId(d: PlacedDevice, parentModel: string | undefined): { vendor: number; device: number } | undefined {
  const pci = catalog[d.model]?.pci;
  if (!pci) return undefined;
  return { vendor: pci.vendor, device: legacyDropped(d, parentModel) && pci.modernDevice !== undefined ? pci.modernDevice : pci.device };
}
