/**
 * The Linux guest `verify --guest linux` boots: Debian's kernel (linux-image-amd64) and an
 * initramfs built here from Debian's busybox-static, udev's udevadm (with the libraries ld.so
 * loads for it, found with ldd) and the kernel's NIC and disk drivers (with their dependencies
 * from modules.dep). The initramfs is built once, cached under $XDG_CACHE_HOME/machinec (or
 * ~/.cache/machinec) by kernel version and a hash of every input, and written to a temporary
 * file then renamed, so builders running at once never see half a file.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeCpio, type CpioEntry } from './cpio.js';
import { INIT_SCRIPT } from './init-script.js';

/** The drivers of every NIC, disk controller and disk model in the catalog (Debian builds them as modules). */
export const GUEST_MODULES = [
  'virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_scsi', 'e1000', 'e1000e', '8139cp', '8139too',
  'nvme', 'ahci', 'ata_piix', 'sd_mod', 'sr_mod', 'xhci_pci', 'uhci_hcd', 'usb_storage',
];

export interface GuestImage {
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelVersion: string;
  /** Whether this call built the initramfs (false: it was in the cache). */
  readonly built: boolean;
}

/** What is missing from the host to build the guest, with the Debian package that brings it. */
export class GuestMissingError extends Error {
  constructor(readonly what: string, readonly packages: readonly string[]) {
    super(`the Linux guest needs ${what}`);
    this.name = 'GuestMissingError';
  }
}

interface Inputs {
  readonly root: string;
  readonly kernelVersion: string;
  readonly kernel: string;
  readonly files: { readonly from: string; readonly to: string; readonly mode: number }[];
  readonly modules: string[];
}

/** Debian's version order, enough for kernel versions: numeric runs compared as numbers. */
const byVersion = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

function findKernel(root: string): { version: string; kernel: string } {
  const boot = join(root, 'boot');
  const versions = (existsSync(boot) ? readdirSync(boot) : [])
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(join(root, 'lib/modules', v, 'modules.dep')))
    .sort(byVersion);
  const version = versions.at(-1);
  if (!version) throw new GuestMissingError('a kernel (/boot/vmlinuz-* with /lib/modules/*/modules.dep)', ['linux-image-amd64']);
  return { version, kernel: join(boot, `vmlinuz-${version}`) };
}

/** The modules to load, each after the ones it needs, as paths under /lib/modules/VERSION. */
function moduleOrder(root: string, version: string): string[] {
  const dir = join(root, 'lib/modules', version);
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(join(dir, 'modules.dep'), 'utf8').split('\n')) {
    const [mod, rest] = line.split(':');
    if (mod && rest !== undefined) deps.set(mod, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map([...deps.keys()].map((p) => [p.replace(/^.*\//, '').replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_'), p]));
  const order: string[] = [];
  const visit = (p: string) => {
    if (order.includes(p)) return;
    // modules.dep lists every dependency, nearest last: loading them from the end loads each after its own.
    for (const d of [...(deps.get(p) ?? [])].reverse()) visit(d);
    order.push(p);
  };
  for (const name of GUEST_MODULES) {
    const p = byName.get(name);
    if (p) visit(p);
  }
  return order;
}

/** The shared libraries ld.so loads for `binary` (ldd), the loader included; none for a static binary. */
function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return [];
  }
  return [...out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]);
}

function gatherInputs(root: string): Inputs {
  const { version, kernel } = findKernel(root);
  const busybox = ['bin/busybox', 'usr/bin/busybox'].map((p) => join(root, p)).find(existsSync);
  if (!busybox) throw new GuestMissingError('busybox (/bin/busybox)', ['busybox-static']);
  const udevadm = ['usr/bin/udevadm', 'bin/udevadm'].map((p) => join(root, p)).find(existsSync);
  if (!udevadm) throw new GuestMissingError('udevadm (/usr/bin/udevadm)', ['udev']);
  const files = [
    { from: busybox, to: 'bin/busybox', mode: 0o755 },
    { from: udevadm, to: 'usr/bin/udevadm', mode: 0o755 },
  ];
  for (const lib of new Set([...sharedLibraries(busybox), ...sharedLibraries(udevadm)])) files.push({ from: lib, to: lib.slice(1), mode: 0o755 });
  const modules = moduleOrder(root, version);
  for (const m of modules) files.push({ from: join(root, 'lib/modules', version, m), to: `lib/modules/${m}`, mode: 0o644 });
  return { root, kernelVersion: version, kernel, files, modules };
}

/** Every folder on the way to `path`, outermost first. */
const parents = (path: string): string[] => path.split('/').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('/'));

function archive(inputs: Inputs): Buffer {
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const addDirs = (p: string) => {
    for (const d of parents(p)) if (!dirs.has(d)) (dirs.add(d), entries.push({ name: d, type: 'dir', mode: 0o755 }));
  };
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'run', 'etc', 'bin', 'sbin', 'usr/bin', 'usr/sbin']) addDirs(`${d}/x`);
  entries.push({ name: 'init', type: 'file', mode: 0o755, data: Buffer.from(INIT_SCRIPT) });
  entries.push({ name: 'etc/machinec-modules', type: 'file', mode: 0o644, data: Buffer.from(inputs.modules.map((m) => `${m}\n`).join('')) });
  for (const f of inputs.files) {
    addDirs(f.to);
    entries.push({ name: f.to, type: 'file', mode: f.mode, data: readFileSync(realpathSync(f.from)) });
  }
  return gzipSync(writeCpio(entries), { level: 6 });
}

function cacheDir(env: Readonly<Record<string, string | undefined>>): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'machinec');
}

/** The key of an initramfs: the init script, the module order and the bytes of every file in it. */
function inputHash(inputs: Inputs): string {
  const h = createHash('sha256').update(INIT_SCRIPT).update('\0').update(inputs.modules.join('\n'));
  for (const f of inputs.files) h.update('\0').update(f.to).update('\0').update(readFileSync(f.from));
  return h.digest('hex').slice(0, 16);
}

/**
 * The kernel and the (cached) initramfs. `root` stands for `/` where the Debian packages are
 * looked for (MACHINEC_GUEST_ROOT, for a system kept elsewhere).
 */
export function guestImage(env: Readonly<Record<string, string | undefined>>): GuestImage {
  const inputs = gatherInputs(env.MACHINEC_GUEST_ROOT || '/');
  const dir = cacheDir(env);
  const initrd = join(dir, `linux-guest-${inputs.kernelVersion}-${inputHash(inputs)}.cpio.gz`);
  if (existsSync(initrd)) return { kernel: inputs.kernel, initrd, kernelVersion: inputs.kernelVersion, built: false };
  mkdirSync(dirname(initrd), { recursive: true });
  const tmp = `${initrd}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, archive(inputs));
  renameSync(tmp, initrd);
  return { kernel: inputs.kernel, initrd, kernelVersion: inputs.kernelVersion, built: true };
}
