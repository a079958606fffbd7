/** What each chipset puts on its root bus by itself, and where placement starts. Data, from QEMU 7.2. */
import type { Chipset } from './model.js';

export interface ChipsetSpec {
  readonly rootBus: string;
  /** The machine type QEMU 7.2's alias resolves to, used when QEMU is not there to ask. */
  readonly defaultMachineType: string;
  /** Built-in functions on the root bus, present even with -nodefaults: slot/function → what. */
  readonly builtins: readonly { readonly slot: number; readonly fn: number; readonly what: string }[];
  /** Whole slots machinec never auto-places into (built-ins' slots). */
  readonly reservedSlots: readonly number[];
  /** The slot the first display adapter gets. */
  readonly videoSlot: number;
  /** First slot for other automatically placed devices or root ports. */
  readonly firstSlot: number;
  /** Built-in IDE/SATA buses for top-level disks: names and units per bus. */
  readonly ideBuses: readonly string[];
  readonly ideUnits: number;
}

export const chipsets: Readonly<Record<Chipset, ChipsetSpec>> = {
  pc: {
    rootBus: 'pci.0',
    defaultMachineType: 'pc-i440fx-7.2',
    builtins: [
      { slot: 0, fn: 0, what: 'i440FX host bridge' },
      { slot: 1, fn: 0, what: 'PIIX3 ISA bridge' },
      { slot: 1, fn: 1, what: 'PIIX3 IDE controller' },
      { slot: 1, fn: 3, what: 'PIIX4 ACPI' },
    ],
    reservedSlots: [0, 1],
    videoSlot: 2,
    firstSlot: 3,
    ideBuses: ['ide.0', 'ide.1'],
    ideUnits: 2,
  },
  q35: {
    rootBus: 'pcie.0',
    defaultMachineType: 'pc-q35-7.2',
    builtins: [
      { slot: 0, fn: 0, what: 'Q35 host bridge' },
      { slot: 0x1f, fn: 0, what: 'ICH9 LPC bridge' },
      { slot: 0x1f, fn: 2, what: 'ICH9 SATA controller' },
      { slot: 0x1f, fn: 3, what: 'ICH9 SMBus' },
    ],
    reservedSlots: [0, 0x1f],
    videoSlot: 1,
    firstSlot: 2,
    ideBuses: ['ide.0', 'ide.1', 'ide.2', 'ide.3', 'ide.4', 'ide.5'],
    ideUnits: 1,
  },
};

/** `pc-q35-7.2` → q35, `pc-i440fx-7.2` or `pc-1.0` → pc, aliases as themselves. */
export function chipsetOfMachineType(type: string): Chipset | undefined {
  if (type === 'q35' || type.startsWith('pc-q35-')) return 'q35';
  if (type === 'pc' || type.startsWith('pc-i440fx-') || /^pc-\d/.test(type)) return 'pc';
  return undefined;
}

export const PCI_SLOTS = 32;
export const PCI_FUNCTIONS = 8;
/** Bus numbers per PCI domain; bus 0 is the root bus. */
export const PCI_BUSES = 256;
/** Chassis numbers are 8-bit. */
export const MAX_CHASSIS = 255;
