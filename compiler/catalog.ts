/**
 * The device catalog: one row of data per QEMU device model. Nothing here is code that
 * decides; placement, checks and emission read these rows.
 */
import { pcieChipsets } from './chipsets.js';
import type { Attachment, Chipset } from './model.js';

/**
 * How a device plugs in, which decides where placement puts it:
 * - `pcie`: a PCI Express endpoint; on q35 behind its own root port, on pc on the PCI bus.
 * - `pci`: conventional PCI; on q35 behind a pcie-pci-bridge.
 * - `integrated`: sits directly on the root bus on both chipsets (a chipset-like function).
 * - `root-port`, `pci-bridge`, `pcie-pci-bridge`: the controllers that make buses.
 * - `system`: a machine device off PCI (TPM, vmgenid): no address, one line in the lock.
 * - anything else: a device on a controller's child bus (USB, SCSI, IDE/SATA, virtio-serial, HDA).
 */
export type Plug = 'pcie' | 'pci' | 'integrated' | 'root-port' | 'pci-bridge' | 'pcie-pci-bridge' | 'usb' | 'scsi' | 'ide' | 'virtio-serial' | 'hda' | 'system';

/** The kind of bus a controller provides to the devices nested in it. */
export type BusKind = 'pci' | 'pcie-port' | 'usb' | 'scsi' | 'ide' | 'virtio-serial' | 'hda';

export type Backend = 'netdev' | 'block' | 'cdrom' | 'chardev' | 'audio' | 'tpm' | 'fsdev';

export type PropType = 'string' | 'integer' | 'boolean' | 'size' | 'mac' | 'name' | 'block' | 'strings';

export interface PropSpec {
  readonly type: PropType;
  /** Allowed values, for `name` properties. */
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** An integer property that also takes `auto` (machinec picks a value and locks it). */
  readonly auto?: boolean;
  /** A string key QEMU takes more than once: a list of strings repeats it (`hostfwd = ["…", "…"]`). */
  readonly repeats?: boolean;
  readonly doc?: string;
}

export interface ModelSpec {
  readonly plug: Plug;
  /** The bus this device provides to nested devices. */
  readonly provides?: BusKind;
  readonly backend?: Backend;
  /** QEMU device properties the source may set, passed through as `-device …,key=value`. */
  readonly props: Readonly<Record<string, PropSpec>>;
  /** PCI vendor and device ID as the guest reads them; `modernDevice` when a virtio device sits on a PCIe port. */
  readonly pci?: { readonly vendor: number; readonly device: number; readonly modernDevice?: number };
  /** Chipsets the model exists on (all when absent). */
  readonly chipsets?: readonly Chipset[];
  /** A display adapter: placement gives it the chipset's preferred video slot. */
  readonly video?: boolean;
  /** Pinned values machinec generates and locks: `mac` for NICs, `serial` for disks, `guid` for vmgenid, `version` for a TPM, `acpi-index` when set. */
  readonly pins?: readonly ('mac' | 'serial' | 'guid' | 'version' | 'acpi-index')[];
  /** How many child devices the provided bus takes, for USB ports, IDE ports and the like. */
  readonly capacity?: number;
  /**
   * Integer properties that set the capacity instead, the largest one winning: qemu-xhci has
   * max(p2, p3) ports, numbered 1 to that (measured on QEMU 7.2: port 5 of a default one is refused).
   */
  readonly capacityProps?: readonly string[];
  /**
   * A BAR in IO port space, its size in bytes as QEMU 7.2 reports it (QMP `query-pci`, regions of
   * type io). `legacy`: the legacy interface of a transitional virtio device, which QEMU drops
   * behind a PCIe port (disable-legacy=auto) and keeps on conventional buses and on pcie.0. A
   * bridge or root port holding such a device needs a 4 KiB IO window: see the `io-space` warning.
   */
  readonly ioBar?: { readonly bytes: number; readonly legacy?: true };
}

const int = (min?: number, max?: number, doc?: string): PropSpec => ({ type: 'integer', min, max, doc });
const bool: PropSpec = { type: 'boolean' };
const str: PropSpec = { type: 'string' };
const bootindex = int(0, 1000, 'boot order, lowest first');

const acpiIndex: PropSpec = { type: 'integer', min: 1, max: 0x7fffffff, auto: true, doc: 'the guest names the NIC enoN after it (systemd); auto: a unique one, locked' };
const nic = { bootindex, romfile: str, mac: { type: 'mac', doc: 'a MAC address; generated and locked when absent' }, 'acpi-index': acpiIndex } satisfies Record<string, PropSpec>;
const nicPins = ['mac', 'acpi-index'] as const;
const disk = { bootindex, serial: str };

export const RED_HAT = 0x1b36;
const INTEL = 0x8086;
const VIRTIO = 0x1af4;
const BOCHS = 0x1234;

// ioBar sizes: booted on QEMU 7.2 and read from query-pci. No IO BAR: nvme, qemu-xhci, VGA,
// bochs-display, virtio-vga, virtio-gpu-pci, intel-hda, i6300esb (vfio-pci: the host device's own).
export const catalog: Readonly<Record<string, ModelSpec>> = {
  // Network
  e1000: { plug: 'pci', backend: 'netdev', pins: nicPins, props: nic, ioBar: { bytes: 64 }, pci: { vendor: INTEL, device: 0x100e } },
  e1000e: { plug: 'pcie', backend: 'netdev', pins: nicPins, props: nic, ioBar: { bytes: 32 }, pci: { vendor: INTEL, device: 0x10d3 } },
  rtl8139: { plug: 'pci', backend: 'netdev', pins: nicPins, props: nic, ioBar: { bytes: 256 }, pci: { vendor: 0x10ec, device: 0x8139 } },
  'virtio-net-pci': { plug: 'pcie', backend: 'netdev', pins: nicPins, props: { ...nic, mq: bool, vectors: int(0, 2048) }, ioBar: { bytes: 32, legacy: true }, pci: { vendor: VIRTIO, device: 0x1000, modernDevice: 0x1041 } },

  // Storage
  'virtio-blk-pci': { plug: 'pcie', backend: 'block', pins: ['serial'], props: { ...disk, 'num-queues': int(1, 1024) }, ioBar: { bytes: 128, legacy: true }, pci: { vendor: VIRTIO, device: 0x1001, modernDevice: 0x1042 } },
  'virtio-scsi-pci': { plug: 'pcie', provides: 'scsi', capacity: 256, props: { num_queues: int(1, 1024) }, ioBar: { bytes: 64, legacy: true }, pci: { vendor: VIRTIO, device: 0x1004, modernDevice: 0x1048 } },
  'scsi-hd': { plug: 'scsi', backend: 'block', pins: ['serial'], props: { ...disk, rotation_rate: int(0, 65535) } },
  'scsi-cd': { plug: 'scsi', backend: 'cdrom', props: { bootindex } },
  nvme: { plug: 'pcie', backend: 'block', pins: ['serial'], props: { bootindex, serial: str }, pci: { vendor: RED_HAT, device: 0x0010 } },
  'ich9-ahci': { plug: 'integrated', provides: 'ide', capacity: 6, props: {}, ioBar: { bytes: 32 }, pci: { vendor: INTEL, device: 0x2922 } },
  'ide-hd': { plug: 'ide', backend: 'block', pins: ['serial'], props: disk },
  'ide-cd': { plug: 'ide', backend: 'cdrom', props: { bootindex } },

  // USB
  'qemu-xhci': { plug: 'pcie', provides: 'usb', capacity: 4, capacityProps: ['p2', 'p3'], props: { p2: int(1, 15, 'USB 2 ports (default 4)'), p3: int(1, 15, 'USB 3 ports (default 4)') }, pci: { vendor: RED_HAT, device: 0x000d } },
  'piix3-usb-uhci': { plug: 'pci', provides: 'usb', capacity: 2, props: {}, ioBar: { bytes: 32 }, pci: { vendor: INTEL, device: 0x7020 } },
  'usb-tablet': { plug: 'usb', props: {} },
  'usb-kbd': { plug: 'usb', props: {} },
  'usb-mouse': { plug: 'usb', props: {} },
  'usb-storage': { plug: 'usb', backend: 'block', pins: ['serial'], props: { ...disk, removable: bool } },

  // Display
  VGA: { plug: 'pci', video: true, props: { vgamem_mb: int(1, 512) }, pci: { vendor: BOCHS, device: 0x1111 } },
  'qxl-vga': { plug: 'pci', video: true, props: { vgamem_mb: int(1, 512), ram_size_mb: int(1, 1024) }, ioBar: { bytes: 32 }, pci: { vendor: RED_HAT, device: 0x0100 } },
  'virtio-vga': { plug: 'pcie', video: true, props: { max_outputs: int(1, 16) }, pci: { vendor: VIRTIO, device: 0x1050, modernDevice: 0x1050 } },
  'bochs-display': { plug: 'pcie', video: true, props: { vgamem: { type: 'size' } }, pci: { vendor: BOCHS, device: 0x1111 } },
  'virtio-gpu-pci': { plug: 'pcie', video: true, props: { max_outputs: int(1, 16) }, pci: { vendor: VIRTIO, device: 0x1050, modernDevice: 0x1050 } },

  // Other virtio and PCI devices
  'virtio-balloon-pci': { plug: 'pcie', props: { 'deflate-on-oom': bool, 'free-page-reporting': bool }, ioBar: { bytes: 64, legacy: true }, pci: { vendor: VIRTIO, device: 0x1002, modernDevice: 0x1045 } },
  'virtio-rng-pci': { plug: 'pcie', props: { 'max-bytes': int(0), period: int(1) }, ioBar: { bytes: 32, legacy: true }, pci: { vendor: VIRTIO, device: 0x1005, modernDevice: 0x1044 } },
  'virtio-serial-pci': { plug: 'pcie', provides: 'virtio-serial', capacity: 30, props: { max_ports: int(1, 31) }, ioBar: { bytes: 64, legacy: true }, pci: { vendor: VIRTIO, device: 0x1003, modernDevice: 0x1043 } },
  // virtserialport nr is 1..30: QEMU's max_ports defaults to 31 (0..30) and nr 0 is kept for virtconsole.
  virtserialport: { plug: 'virtio-serial', backend: 'chardev', props: { name: str } },
  'intel-hda': { plug: 'pci', provides: 'hda', capacity: 15, props: {}, pci: { vendor: INTEL, device: 0x2668 } },
  'hda-duplex': { plug: 'hda', backend: 'audio', props: {} },
  'virtio-9p-pci': { plug: 'pcie', backend: 'fsdev', props: {}, ioBar: { bytes: 32, legacy: true }, pci: { vendor: VIRTIO, device: 0x1009, modernDevice: 0x1049 } },
  i6300esb: { plug: 'pci', props: {}, pci: { vendor: INTEL, device: 0x25ab } },
  'vfio-pci': { plug: 'pcie', props: { host: { type: 'string', doc: 'the host device, e.g. "0000:01:00.0"' }, rombar: int(0, 1), 'x-vga': bool, bootindex } },

  // Machine devices off PCI. The TPM's backend is an swtpm that machinec starts (state in the state folder).
  'tpm-crb': { plug: 'system', backend: 'tpm', pins: ['version'], props: {} },
  'tpm-tis': { plug: 'system', backend: 'tpm', pins: ['version'], props: {} },
  vmgenid: { plug: 'system', pins: ['guid'], props: { guid: { type: 'string', doc: 'a UUID; generated and locked when absent' } } },

  // Controllers
  'pci-bridge': { plug: 'pci-bridge', provides: 'pci', props: { shpc: bool }, pci: { vendor: RED_HAT, device: 0x0001 } },
  'pcie-root-port': { plug: 'root-port', provides: 'pcie-port', chipsets: pcieChipsets, props: {}, pci: { vendor: RED_HAT, device: 0x000c } },
  'pcie-pci-bridge': { plug: 'pcie-pci-bridge', provides: 'pci', chipsets: pcieChipsets, props: {}, pci: { vendor: RED_HAT, device: 0x000e } },
};

/** The TPM models: the ones with a `tpm` backend (QEMU allows one a machine). */
export const tpmModels: readonly string[] = Object.keys(catalog).filter((m) => catalog[m].backend === 'tpm');
export const isTpmModel = (model: string): boolean => catalog[model]?.backend === 'tpm';

/** The attachment (kind of address) of a plug. */
export function attachmentOf(plug: Plug): Attachment {
  switch (plug) {
    case 'usb':
    case 'scsi':
    case 'ide':
    case 'virtio-serial':
    case 'hda':
    case 'system':
      return plug;
    default:
      return 'pci';
  }
}

/** The bus kind a plug needs from its parent controller, for the devices that need one. */
export const childBusOf: Partial<Record<Plug, BusKind>> = {
  usb: 'usb',
  scsi: 'scsi',
  ide: 'ide',
  'virtio-serial': 'virtio-serial',
  hda: 'hda',
};

/** Properties every device on a backend takes, beside its own. */
export const backendProps: Readonly<Record<Backend, Readonly<Record<string, PropSpec>>>> = {
  netdev: { netdev: { type: 'name', doc: 'user, tap { ifname = "tap0" }, bridge { br = "br0" }, socket { … }' } },
  block: { file: str, format: { type: 'name', values: ['raw', 'qcow2', 'vmdk', 'vdi', 'vhdx', 'qed'] }, readonly: bool },
  cdrom: { file: str, format: { type: 'name', values: ['raw', 'qcow2'] } },
  chardev: { chardev: { type: 'name', doc: 'pty, null, stdio, socket { path = "…", server = true, wait = false }, file { path = "…" }, spicevmc (the SPICE agent channel)' } },
  tpm: {},
  fsdev: { path: { type: 'string', doc: 'the host folder to share' }, tag: { type: 'string', doc: 'the mount tag the guest mounts: mount -t 9p -o trans=virtio TAG /mnt' }, readonly: bool },
  audio: { audiodev: { type: 'name', doc: 'none (the default), pa, alsa, sdl, spice, wav { path = "…" }' } },
};

/**
 * Every typed block the source may write (`tap { ifname = "tap0" }`, `accel = kvm { … }`), by the
 * property it is the value of: each type, the keys its block takes (QEMU 7.2's names) and their
 * types. A type missing here is an error, and so is a key its block does not list: nothing
 * unchecked reaches QEMU. `required` keys must be given.
 */
export interface BlockType {
  readonly keys: Readonly<Record<string, PropSpec>>;
  readonly required?: readonly string[];
  /** Options machinec adds unless the block sets them: a tap runs no /etc/qemu-ifup. */
  readonly defaults?: Readonly<Record<string, string>>;
}

export type BlockKind = 'netdev' | 'chardev' | 'audiodev' | 'display' | 'accel' | 'format';

const none: BlockType = { keys: {} };
const port = int(1, 65535);
const gl: PropSpec = { type: 'name', values: ['on', 'off', 'core', 'es'] };

export const blockTypes: Readonly<Record<BlockKind, Readonly<Record<string, BlockType>>>> = {
  netdev: {
    user: { keys: { hostfwd: { type: 'string', repeats: true, doc: 'tcp::HOSTPORT-:GUESTPORT, or a list of them' }, guestfwd: { type: 'string', repeats: true }, net: str, host: str, dhcpstart: str, dns: str, hostname: str, domainname: str, restrict: bool, ipv4: bool, ipv6: bool, tftp: str, bootfile: str, smb: str, smbserver: str } },
    tap: { keys: { ifname: str, script: str, downscript: str, vhost: bool, queues: int(1, 1024), vnet_hdr: bool, sndbuf: { type: 'size' } }, defaults: { script: 'no', downscript: 'no' } },
    bridge: { keys: { br: str, helper: str } },
    socket: { keys: { listen: str, connect: str, mcast: str, udp: str, localaddr: str } },
  },
  chardev: {
    null: none,
    pty: none,
    stdio: { keys: { signal: bool } },
    socket: { keys: { path: str, host: str, port, server: bool, wait: bool, nodelay: bool, telnet: bool, reconnect: int(0, 86400) } },
    file: { keys: { path: str, append: bool }, required: ['path'] },
    pipe: { keys: { path: str }, required: ['path'] },
    udp: { keys: { host: str, port, localaddr: str, localport: port } },
    ringbuf: { keys: { size: { type: 'size' } } },
    spicevmc: { keys: { name: str }, defaults: { name: 'vdagent' } },
  },
  audiodev: {
    none,
    pa: { keys: { server: str } },
    alsa: none,
    sdl: none,
    spice: none,
    wav: { keys: { path: str } },
    oss: none,
    jack: none,
    pipewire: none,
    dbus: none,
  },
  display: {
    none,
    gtk: { keys: { 'full-screen': bool, 'grab-on-hover': bool, 'zoom-to-fit': bool, 'show-cursor': bool, gl } },
    sdl: { keys: { gl, 'show-cursor': bool } },
    // -vnc LISTEN, -spice …: QEMU refuses `-display vnc,display=:1` (see vm-emit.ts displayArgs).
    vnc: { keys: { listen: { type: 'string', doc: 'HOST:DISPLAY, e.g. "127.0.0.1:1" (TCP port 5901); default "127.0.0.1:0"' }, password: { type: 'boolean', doc: 'ask for a password (set it over QMP)' } } },
    spice: { keys: { port: { type: 'integer', min: 1, max: 65535, doc: 'TCP port' }, addr: { type: 'string', doc: 'listen address; default 127.0.0.1' }, 'disable-ticketing': { type: 'boolean', doc: 'no password; default true' } } },
    curses: { keys: { charset: str } },
    'egl-headless': { keys: { rendernode: str } },
    'spice-app': { keys: { gl: bool } },
    dbus: { keys: { addr: str, p2p: bool, gl } },
  },
  accel: {
    kvm: { keys: { 'kernel-irqchip': { type: 'name', values: ['on', 'off', 'split'] }, 'dirty-ring-size': int(0, 65536) } },
    tcg: { keys: { thread: { type: 'name', values: ['single', 'multi'] }, 'tb-size': int(0, 65536), 'split-wx': bool } },
  },
  format: {
    raw: none,
    qcow2: { keys: { 'lazy-refcounts': bool, 'cache-size': { type: 'size' }, 'l2-cache-size': { type: 'size' }, 'refcount-cache-size': { type: 'size' }, 'cache-clean-interval': int(0, 86400), discard: { type: 'name', values: ['ignore', 'unmap'] } } },
    vmdk: none,
    vdi: none,
    vhdx: none,
    qed: none,
  },
};

export const netdevTypes = Object.keys(blockTypes.netdev);
export const chardevTypes = Object.keys(blockTypes.chardev);
export const audiodevTypes = Object.keys(blockTypes.audiodev);

/** The machine block's own properties: name → type (the machine-property schema). */
export const machineProps: Readonly<Record<string, PropSpec>> = {
  chipset: { type: 'name', doc: 'pc, q35, or a versioned machine type such as pc-q35-7.2' },
  memory: { type: 'size', doc: 'guest RAM, e.g. 4G or 1024M' },
  cpus: { type: 'integer', min: 1, max: 288 },
  accel: { type: 'name', values: ['kvm', 'tcg'], doc: 'kvm or tcg, or a list tried in order; default [kvm, tcg]' },
  uuid: { type: 'string', doc: 'the SMBIOS UUID; generated and locked when absent' },
  acpi: { type: 'boolean', doc: 'false: no ACPI (-machine acpi=off: no ACPI tables, no PIIX4 power management on pc); default true' },
  display: { type: 'block', doc: 'none, gtk, sdl, vnc { listen = "127.0.0.1:1" }, spice { port = 5930 }; QEMU chooses when absent' },
  cpu: { type: 'block', doc: 'a CPU model (Skylake-Client, EPYC-Rome, …, or host, max), with flags: `Skylake-Client { hv-relaxed = true }`' },
  topology: { type: 'block', doc: 'topology = { sockets = 1, cores = 4, threads = 2 }' },
  firmware: { type: 'block', doc: 'bios (SeaBIOS, the default), uefi, or uefi { secure-boot = true }' },
  serial: { type: 'block', doc: 'the guest\'s ttyS0: pty, stdio, null, file { path = "…" }, socket { path = "…" }' },
  smbios: { type: 'block', doc: 'smbios = { manufacturer = "Acme", product = "Desk-1" }' },
  'qemu-args': { type: 'strings', doc: 'options passed to QEMU last, as written: ["-global", "ICH9-LPC.disable_s3=1"]' },
  state: { type: 'string', doc: 'the folder for the VM\'s own state (UEFI variables, TPM); default NAME.state beside the file' },
};
