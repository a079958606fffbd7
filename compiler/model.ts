/**
 * What the compiler produces: the placed machine. Every device, the ones written in the
 * source and the controllers machinec creates, with the address QEMU gets and the address
 * the guest sees. The lockfile is a serialisation of exactly this.
 */
import type { DeviceNode } from '../grammar/index.js';
import type { Chipset } from './chipsets.js';

export type { Chipset } from './chipsets.js';

/** Where a device plugs in: its kind of address on its parent bus. */
export type Attachment = 'pci' | 'usb' | 'scsi' | 'ide' | 'virtio-serial' | 'hda' | 'system';

export interface PciAddress {
  readonly slot: number;
  readonly fn: number;
}

/** What the guest (lspci) sees: bus number given by the firmware, slot, function. */
export interface GuestAddress {
  readonly bus: number;
  readonly slot: number;
  readonly fn: number;
}

export interface PlacedDevice {
  readonly id: string;
  readonly model: string;
  readonly attachment: Attachment;
  /** The QEMU bus name the device plugs into: `pcie.0`, `pci.0`, `rp1`, `usb.0`, … */
  readonly bus: string;
  /** For PCI devices: slot and function on `bus`. */
  readonly addr?: PciAddress;
  /** For PCI devices: where the guest sees it. */
  readonly guest?: GuestAddress;
  /** For bridges and root ports: the guest bus number behind them. */
  readonly secondaryBus?: number;
  /** Created by machinec (a root port or bridge), not written in the source. */
  readonly auto: boolean;
  /** Every other guest-visible value pinned in the lock: chassis, port, mac, serial, scsi-id, … (sorted keys). */
  readonly pins: Readonly<Record<string, string>>;
  /** The source node, for user devices. */
  readonly source?: DeviceNode;
  /**
   * The -device properties the lock line does not already say (the source's own: bootindex,
   * romfile, host, …), as QEMU gets them: `bootindex=1,romfile=a.rom`. Locked, so the plan sees them change.
   */
  readonly props?: string;
}

export interface PlacedMachine {
  readonly name: string;
  readonly chipset: Chipset;
  /** Versioned machine type, e.g. `pc-q35-7.2`. */
  readonly machineType: string;
  readonly uuid: string;
  /** UEFI firmware (absent: SeaBIOS), pinned by path, size and digest. */
  readonly firmware?: FirmwarePin;
  /** The CPU model, resolved once to its versioned name. */
  readonly cpu?: CpuPin;
  /** SMBIOS type 1 values (sorted keys). */
  readonly smbios?: Readonly<Record<string, string>>;
  /** `qemu-args`, as written: passed to QEMU last. */
  readonly qemuArgs?: readonly string[];
  /** `acpi = false`: QEMU's `-machine acpi=off`. Absent: ACPI on, QEMU's default. */
  readonly acpi?: false;
  /** Every device in guest topology order: parents before children, buses in slot/function order. */
  readonly devices: readonly PlacedDevice[];
  /**
   * Every QEMU option other than -name, -machine, -uuid and -device, in order, as emitted:
   * ['-m', '1024M'], ['-netdev', 'user,id=net-nic0'], ['-nodefaults', ''] (no argument). Locked.
   */
  readonly options?: readonly (readonly [string, string])[];
}

/** A file pinned in the lock: its path, and its size and sha256 once a build has read it. */
export interface PinnedFile {
  readonly path: string;
  readonly size?: number;
  readonly sha256?: string;
}

export interface FirmwarePin {
  readonly secureBoot: boolean;
  /** The OVMF CODE image, read-only. */
  readonly code: PinnedFile;
  /** The VARS template, copied once into the state folder. */
  readonly vars: PinnedFile;
}

export interface CpuPin {
  /** What QEMU gets: `Skylake-Client-v1`, `max`, `host`. */
  readonly model: string;
  /** As written in the source, when it was an alias: `Skylake-Client`. */
  readonly requested?: string;
  /** host and max follow the host's CPU: they cannot be pinned. */
  readonly followsHost: boolean;
}
