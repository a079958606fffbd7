/**
 * What each chipset can do: its root bus and what sits there by itself, where placement starts,
 * how machinec adds buses, the disk controller it brings, the IO ports the firmware hands out,
 * how many CPUs it takes, and the QEMU binary that runs it. Data, from QEMU 7.2. Everything
 * else asks these records, never a chipset's name.
 */

/** The chipsets machinec knows, by the alias QEMU gives their newest machine type. */
export type Chipset = 'pc' | 'q35';

/** The chipset's own disk controller, for top-level disks: where it is, and how libvirt names it. */
export interface DiskControllerSpec {
  readonly addr: { readonly slot: number; readonly fn: number };
  /** libvirt's controller type: `ide` (PIIX3: channels are buses, two units each) or `sata` (AHCI: one port a bus). */
  readonly libvirtType: 'ide' | 'sata';
}

export interface ChipsetSpec {
  /** The QEMU binary that has this machine. */
  readonly qemuBinary: string;
  /** The firmware family: SeaBIOS by default, the UEFI images machinec looks for. */
  readonly uefi: 'OVMF';
  readonly rootBus: string;
  /** PCI Express (`pcie.0`: endpoints behind root ports) or conventional PCI (`pci.0`). */
  readonly rootBusKind: 'pcie' | 'pci';
  /** The machine type QEMU 7.2's alias resolves to, used when QEMU is not there to ask. */
  readonly defaultMachineType: string;
  /** Machine types of the chipset, by their start: `pc-q35-7.2`, and what a distribution adds (`pc-q35-rhel9.2.0`). */
  readonly machineTypePattern: RegExp;
  /** A versioned machine type QEMU itself names, as a lock holds it: `pc-q35-7.2`. */
  readonly versionedType: RegExp;
  /** Built-in functions on the root bus, present even with -nodefaults: slot/function → what. */
  readonly builtins: readonly { readonly slot: number; readonly fn: number; readonly what: string }[];
  /** Whether the machine has an ISA bus (serial and parallel ports, the PC speaker). */
  readonly isa: boolean;
  /** Whole slots machinec never auto-places into (built-ins' slots). */
  readonly reservedSlots: readonly number[];
  /** The slot the first display adapter gets. */
  readonly videoSlot: number;
  /** First slot for other automatically placed devices or root ports. */
  readonly firstSlot: number;
  /** Buses a device can be hotplugged into: the root bus itself (ACPI) or only root ports and bridges. */
  readonly hotplugRootBus: boolean;
  /** PCIe endpoints get a root port each on the root bus, packed 8 functions to a slot. */
  readonly rootPorts: boolean;
  /** Conventional PCI devices go on the root bus while it has a free slot; else behind a bridge at once. */
  readonly conventionalOnRootBus: boolean;
  /** The bridge machinec adds for conventional PCI devices. */
  readonly conventionalBridge: 'pci-bridge' | 'pcie-pci-bridge';
  /** The slot through which automatic pci-bridges chain (on the root bus and on each automatic bridge); none: each behind its own root port. */
  readonly chainSlot?: number;
  /** Bus numbers one automatic bridge takes: its own, and its root port's. */
  readonly busesPerBridge: number;
  /** Built-in IDE/SATA buses for top-level disks: names and units per bus. */
  readonly ideBuses: readonly string[];
  readonly ideUnits: number;
  readonly diskController: DiskControllerSpec;
  /** PIIX3's USB function, where libvirt 9.0 puts the machine's first PIIX3 USB controller. */
  readonly piix3Usb?: { readonly slot: number; readonly fn: number };
  /**
   * The IO port pool SeaBIOS hands bridges windows from (measured on QEMU 7.2: 8 bridges with an
   * e1000 each on pc, 14 on q35), and the bytes the chipset's own disk controller takes from it.
   */
  readonly ioPool: { readonly bytes: number; readonly range: string; readonly builtins: number };
  /** Most CPUs the machine type takes (QEMU 7.2: "The max CPUs supported by machine 'pc-q35-7.2' is 288", 255 for pc). */
  readonly maxCpus: number;
  /** OVMF's secure-boot build runs on it: it needs SMM, which QEMU's OVMF builds support on q35 only. */
  readonly secureBoot: boolean;
}

const X86_64 = 'qemu-system-x86_64';

export const chipsets: Readonly<Record<Chipset, ChipsetSpec>> = {
  pc: {
    qemuBinary: X86_64,
    uefi: 'OVMF',
    rootBus: 'pci.0',
    rootBusKind: 'pci',
    defaultMachineType: 'pc-i440fx-7.2',
    machineTypePattern: /^pc-(?:i440fx-|\d)/,
    versionedType: /^pc-(?:i440fx-)?\d+\.\d+$/,
    builtins: [
      { slot: 0, fn: 0, what: 'i440FX host bridge' },
      { slot: 1, fn: 0, what: 'PIIX3 ISA bridge' },
      { slot: 1, fn: 1, what: 'PIIX3 IDE controller' },
      { slot: 1, fn: 3, what: 'PIIX4 ACPI' },
    ],
    isa: true,
    reservedSlots: [0, 1],
    videoSlot: 2,
    firstSlot: 3,
    hotplugRootBus: true,
    rootPorts: false,
    conventionalOnRootBus: true,
    conventionalBridge: 'pci-bridge',
    chainSlot: 0x1f,
    busesPerBridge: 1,
    ideBuses: ['ide.0', 'ide.1'],
    ideUnits: 2,
    diskController: { addr: { slot: 1, fn: 1 }, libvirtType: 'ide' },
    piix3Usb: { slot: 1, fn: 2 },
    ioPool: { bytes: 0x9000, range: '0x1000 to 0x9fff', builtins: 16 }, // PIIX3 IDE
    maxCpus: 255,
    secureBoot: false,
  },
  q35: {
    qemuBinary: X86_64,
    uefi: 'OVMF',
    rootBus: 'pcie.0',
    rootBusKind: 'pcie',
    defaultMachineType: 'pc-q35-7.2',
    machineTypePattern: /^pc-q35-/,
    versionedType: /^pc-q35-\d+\.\d+$/,
    builtins: [
      { slot: 0, fn: 0, what: 'Q35 host bridge' },
      { slot: 0x1f, fn: 0, what: 'ICH9 LPC bridge' },
      { slot: 0x1f, fn: 2, what: 'ICH9 SATA controller' },
      { slot: 0x1f, fn: 3, what: 'ICH9 SMBus' },
    ],
    isa: true,
    reservedSlots: [0, 0x1f],
    videoSlot: 1,
    firstSlot: 2,
    hotplugRootBus: false,
    rootPorts: true,
    conventionalOnRootBus: false,
    conventionalBridge: 'pcie-pci-bridge',
    busesPerBridge: 2,
    ideBuses: ['ide.0', 'ide.1', 'ide.2', 'ide.3', 'ide.4', 'ide.5'],
    ideUnits: 1,
    diskController: { addr: { slot: 0x1f, fn: 2 }, libvirtType: 'sata' },
    ioPool: { bytes: 0xf000, range: '0x1000 to 0xffff', builtins: 32 }, // ICH9 SATA
    maxCpus: 288,
    secureBoot: true,
  },
};

/** The chipset a machine without `chipset =` gets. */
export const DEFAULT_CHIPSET: Chipset = 'q35';
/** The QEMU binary machinec runs when not told which: the default chipset's. */
export const DEFAULT_QEMU_BINARY = chipsets[DEFAULT_CHIPSET].qemuBinary;

/** The chipsets' names, in order. */
export const chipsetNames = Object.keys(chipsets) as Chipset[];

export const isChipset = (word: string): word is Chipset => Object.hasOwn(chipsets, word);

/** The chipsets a device needing a PCI Express root bus (a root port, a pcie-pci-bridge) works on. */
export const pcieChipsets: readonly Chipset[] = chipsetNames.filter((c) => chipsets[c].rootBusKind === 'pcie');

/** `pc-q35-7.2` → q35, `pc-i440fx-7.2` or `pc-1.0` → pc, aliases as themselves. */
export function chipsetOfMachineType(type: string): Chipset | undefined {
  if (isChipset(type)) return type;
  return chipsetNames.find((c) => chipsets[c].machineTypePattern.test(type));
}

/** A bare QEMU machine type: a chipset's alias or one of its versioned types, never `pc-q35-7.2,kernel-irqchip=off`. */
export const isMachineType = (type: string): boolean => isChipset(type) || chipsetNames.some((c) => chipsets[c].versionedType.test(type));

export const PCI_SLOTS = 32;
export const PCI_FUNCTIONS = 8;
/** Bus numbers per PCI domain; bus 0 is the root bus. */
export const PCI_BUSES = 256;
/** Chassis numbers are 8-bit. */
export const MAX_CHASSIS = 255;
