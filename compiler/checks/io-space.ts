import { catalog } from '../catalog.js';
import { chipsets } from '../chipsets.js';
import type { Chipset, PlacedDevice } from '../model.js';
import { legacyDropped } from '../qemu-facts.js';
import type { Report } from './registry.js';

/**
 * IO port space, after placement. The firmware gives every bridge or root port whose devices
 * have an IO BAR a window of at least 4 KiB, from the chipset's pool (`ioPool` in its record).
 * One more and SeaBIOS stops with "PCI: out of I/O address space" before booting.
 */
const IO_WINDOW = 0x1000;

/** IO port bytes a placed device's BARs take, where it sits. */
function ioBytes(d: PlacedDevice, byId: ReadonlyMap<string, PlacedDevice>): number {
  const io = catalog[d.model]?.ioBar;
  if (!io || d.attachment !== 'pci') return 0;
  return io.legacy && legacyDropped(d, byId.get(d.bus)?.model) ? 0 : io.bytes;
}

export function ioSpaceCheck(chipset: Chipset, devices: readonly PlacedDevice[], report: Report): void {
  const byId = new Map(devices.map((d) => [d.id, d]));
  const own = new Map<string, number>();
  for (const d of devices) {
    const n = ioBytes(d, byId);
    if (n) own.set(d.bus, (own.get(d.bus) ?? 0) + n);
  }
  const pool = chipsets[chipset].ioPool;
  const window = (bytes: number) => Math.max(1, Math.ceil(bytes / IO_WINDOW)) * IO_WINDOW;
  // SeaBIOS also gives a hotplug-capable bridge an IO window of its own, empty or not: every
  // pcie-pci-bridge, and a pci-bridge unless it has shpc=off and io-reserve=0 (measured).
  const reservesIo = (d: PlacedDevice) => d.model === 'pcie-pci-bridge' || (d.model === 'pci-bridge' && !(d.pins.shpc === 'off' && d.pins['io-reserve'] === '0'));
  // Windows nest, and a bridge's own devices round up to whole windows: the pool holds the sum.
  const withIo = devices.filter((d) => d.secondaryBus !== undefined && (own.has(d.id) || reservesIo(d)));
  let used = pool.builtins + [...own].filter(([bus]) => !byId.get(bus)).reduce((n, [, b]) => n + b, 0);
  const beyond: PlacedDevice[] = [];
  for (const b of withIo) {
    if (!beyond.length && used + window(own.get(b.id) ?? 0) < pool.bytes) used += window(own.get(b.id) ?? 0);
    else beyond.push(b);
  }
  if (!beyond.length) return;
  const [first] = beyond;
  const ioDevice = devices.find((d) => d.bus === first.id && d.source && ioBytes(d, byId));
  const names = beyond.slice(0, 3).map((b) => b.id).join(', ') + (beyond.length > 3 ? ` and ${beyond.length - 3} more` : '');
  const autoPcieBridges = chipsets[chipset].rootPorts && beyond.some((b) => b.auto && b.model === 'pcie-pci-bridge' && devices.some((d) => d.bus === b.id && catalog[d.model]?.ioBar?.legacy));
  report(
    `${withIo.length} bridges and root ports hold devices with IO ports, but the IO space the firmware hands out on ${chipset} (${pool.range}, 4 KiB a bridge) has room for ${withIo.length - beyond.length}: no IO window for ${names}`,
    first.source?.id?.span ?? ioDevice?.source?.id?.span,
      'SeaBIOS then stops at boot with "PCI: out of I/O address space": no BAR is assigned and the guest does not start, so drivers that need IO ports never run ' +
      '(`machinec verify` still passes: bus numbers come first). Put devices with IO ports (e1000, rtl8139, e1000e, piix3-usb-uhci, qxl-vga, virtio on a conventional bus) side by side behind fewer bridges, ' +
      'or use virtio devices behind root ports, which have none' +
      (autoPcieBridges ? '; machinec puts conventional devices behind pcie-pci-bridges, each of which takes an IO window, and virtio devices there are transitional, with IO ports' : ''),
  );
}
