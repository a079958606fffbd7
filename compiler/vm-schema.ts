/**
 * The whole VM beyond its devices, as data: which machine properties take which typed blocks
 * (`cpu`, `topology`, `firmware`, `display`, `serial`, `smbios`) and with which keys, and the
 * firmware images each `firmware` choice means on Debian (package ovmf). The checks (checks/vm.ts),
 * the pins (vm.ts) and the emission (vm-emit.ts) read these tables; nothing here decides.
 */
import { blockTypes, type PropSpec } from './catalog.js';
import { cpuFlags, cpuModels, hypervFlags } from './cpu-models.js';

const str = (doc?: string): PropSpec => ({ type: 'string', doc });
const int = (min: number, max: number, doc?: string): PropSpec => ({ type: 'integer', min, max, doc });
const bool = (doc?: string): PropSpec => ({ type: 'boolean', doc });

/**
 * A machine property whose value is a name, or a name with a block (`vnc { listen = "…" }`),
 * or a block without a name (`topology = { cores = 4 }`: `types` has the one entry '').
 */
export interface BlockSchema {
  /** Each allowed type and the keys its block takes. */
  readonly types: Readonly<Record<string, Readonly<Record<string, PropSpec>>>>;
  /** Whether the type may be written without a block (`display = none`). */
  readonly bare: boolean;
  readonly doc: string;
}

const none: Readonly<Record<string, PropSpec>> = {};

export const topologyKeys: Readonly<Record<string, PropSpec>> = {
  sockets: int(1, 255, 'CPU sockets'),
  dies: int(1, 255, 'dies per socket'),
  cores: int(1, 255, 'cores per die'),
  threads: int(1, 255, 'threads per core'),
};

export const smbiosKeys: Readonly<Record<string, PropSpec>> = {
  manufacturer: str('SMBIOS type 1 System Manufacturer'),
  product: str('SMBIOS type 1 Product Name'),
  version: str('SMBIOS type 1 Version'),
  serial: str('SMBIOS type 1 Serial Number'),
  sku: str('SMBIOS type 1 SKU Number'),
  family: str('SMBIOS type 1 Family'),
};

export const vmBlocks: Readonly<Record<string, BlockSchema>> = {
  topology: { types: { '': topologyKeys }, bare: false, doc: 'topology = { sockets = 1, cores = 4, threads = 2 }' },
  smbios: { types: { '': smbiosKeys }, bare: false, doc: 'smbios = { manufacturer = "Acme", product = "Desk-1" }' },
  firmware: {
    types: {
      bios: none,
      uefi: {
        'secure-boot': bool('OVMF with secure boot and the Microsoft keys enrolled (q35, SMM on)'),
        code: str('the OVMF CODE image; default /usr/share/OVMF/OVMF_CODE_4M(.secboot).fd'),
        vars: str('the VARS template copied once into the state folder; default /usr/share/OVMF/OVMF_VARS_4M(.ms).fd'),
        nvram: str('this machine\'s own VARS file, used in place (never copied over); default STATE/OVMF_VARS.fd'),
      },
    },
    bare: true,
    doc: 'bios (SeaBIOS, the default), uefi, or uefi { secure-boot = true }',
  },
  // One schema for display blocks: the catalog's (which the property checks judge them by).
  display: {
    types: Object.fromEntries(Object.entries(blockTypes.display).map(([type, b]) => [type, b.keys])),
    bare: true,
    doc: 'none, gtk, sdl, vnc { listen = "127.0.0.1:1" }, spice { port = 5930 }, …',
  },
  serial: {
    types: {
      pty: none,
      stdio: none,
      null: none,
      file: { path: str('the file the guest\'s ttyS0 writes to') },
      socket: { path: str('a Unix socket QEMU listens on'), server: bool('default true'), wait: bool('default false') },
    },
    bare: true,
    doc: 'the guest\'s ttyS0: pty, stdio, null, file { path = "…" }, socket { path = "…" }',
  },
};

/** `cpu = MODEL { FLAG = true, … }`: any model QEMU knows, with CPUID flags and Hyper-V enlightenments as keys. */
export const cpuFlagKeys: Readonly<Record<string, PropSpec>> = Object.fromEntries([
  ...cpuFlags.map((f) => [f, bool()] as const),
  ...hypervFlags.map((f) => [f, f === 'hv-spinlocks' ? int(0xfff, 0xffffffff, 'retries before a spinlock notifies the hypervisor, e.g. 0x1fff') : f === 'hv-vendor-id' ? str('up to 12 characters') : bool()] as const),
]);
export { cpuModels };

/** The firmware images of Debian's ovmf package (2022.11), by choice. 4M CODE goes with 4M VARS. */
export const OVMF = {
  code: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  vars: '/usr/share/OVMF/OVMF_VARS_4M.fd',
  secureCode: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd',
  /** Microsoft's keys enrolled: what Windows 11 needs. */
  secureVars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd',
} as const;

/** The per-VM VARS copy's name in the state folder. */
export const NVRAM_FILE = 'OVMF_VARS.fd';
/** swtpm's control socket and state directory in the state folder. */
export const TPM_SOCKET = 'swtpm.sock';
export const TPM_STATE_DIR = 'tpm';
