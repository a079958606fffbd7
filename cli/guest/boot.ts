/**
 * Boots the Linux guest on a machine's own command line (its firmware, SeaBIOS or OVMF, its
 * devices, under TCG) with -kernel/-initrd/-append, its console on one more ISA serial port
 * written to a file, and reads back what /init reported: every NIC's MAC, PCI address and udev
 * names, every disk's PCI controller, serial and by-path name.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeOptionValue, splitOption } from '../../compiler/index.js';
import { withQemu } from '../qemu/index.js';
import { GUEST_BEGIN, GUEST_END, GUEST_PREFIX } from './init-script.js';
import type { GuestImage } from './image.js';
import { untilDone } from '../signals.js';

export interface GuestNic {
  readonly name: string;
  readonly mac: string;
  /** `0000:01:00.0`: the PCI function the kernel bound, from sysfs. */
  readonly pci?: string;
  readonly onboard?: string;
  readonly slot?: string;
  readonly path?: string;
}

export interface GuestDisk {
  readonly name: string;
  /** The PCI function nearest the disk (its controller, or itself for virtio-blk and NVMe). */
  readonly pci?: string;
  readonly serial: string;
  readonly idPath?: string;
}

export interface GuestReport {
  readonly nics: GuestNic[];
  readonly disks: GuestDisk[];
}

/** The guest said nothing between the markers within the bound; `console` is the tail of what it did say. */
export class GuestSilentError extends Error {
  constructor(readonly timeoutMs: number, readonly console: string) {
    super(`the Linux guest did not report within ${Math.round(timeoutMs / 1000)} s`);
    this.name = 'GuestSilentError';
  }
}

const ISA_SERIAL_PORTS = 4;
/** For QEMU to start and answer on QMP, apart from the guest's own bound. */
const QMP_BOUND_MS = 30_000;

/** The ttyS index of the port machinec adds: after the machine's own -serial and isa-serial ports. */
export function consolePort(argv: readonly string[]): number {
  let ports = 0;
  for (let i = 0; i + 1 < argv.length; i++) {
    if (argv[i] === '-serial' && argv[i + 1] !== 'none') ports++;
    if (argv[i] === '-device' && splitOption(argv[i + 1]).head === 'isa-serial') ports++;
    if (argv[i] === '-device' && splitOption(argv[i + 1]).pairs.get('driver') === 'isa-serial') ports++;
  }
  return ports;
}

/** The options the guest's boot replaces: TCG for any accelerator, one CPU (TCG runs each on a host thread; no NIC or disk name depends on the count). */
const REPLACED = new Set(['-accel', '-smp']);

/** The machine's command line with the guest's kernel, its console port, TCG and one CPU. */
export function guestBootArgs(argv: readonly string[], image: Pick<GuestImage, 'kernel' | 'initrd'>, consoleFile: string): string[] {
  const port = consolePort(argv);
  if (port >= ISA_SERIAL_PORTS) throw new Error(`the machine uses all ${ISA_SERIAL_PORTS} ISA serial ports: none is left for the guest's console`);
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (REPLACED.has(argv[i]) && i + 1 < argv.length) { i++; continue; }
    args.push(argv[i]);
  }
  const append = [`console=ttyS${port}`, 'quiet', 'panic=-1', 'scsi_mod.scan=sync', 'usb-storage.delay_use=0'].join(' ');
  return [
    ...args,
    '-accel', 'tcg',
    '-smp', '1',
    '-no-reboot',
    '-kernel', image.kernel,
    '-initrd', image.initrd,
    '-append', append,
    '-chardev', `file,id=machinec-guest-console,path=${escapeOptionValue(consoleFile)}`,
    '-device', `isa-serial,chardev=machinec-guest-console,index=${port}`,
  ];
}

/** `0000:01:00.0` from a sysfs device path: the last PCI function in it. */
const pciOf = (sysfs: string): string | undefined => [...sysfs.matchAll(/\/([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])(?=\/|$)/g)].at(-1)?.[1];

/** The report between the markers; firmware escape codes, carriage returns and kernel lines around it are skipped. */
/** Console text without the terminal escape codes and carriage returns OVMF and the kernel write. */
// eslint-disable-next-line no-control-regex
export const plainConsole = (text: string): string => text.replace(/\x1b\[[0-9;?=]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r/g, '');

export function parseGuestOutput(text: string): GuestReport | undefined {
  const lines = plainConsole(text).split('\n').map((l) => l.slice(Math.max(0, l.indexOf(GUEST_PREFIX))).trim());
  const begin = lines.lastIndexOf(GUEST_BEGIN);
  const end = lines.lastIndexOf(GUEST_END);
  if (begin < 0 || end < begin) return undefined;
  const nics = new Map<string, Record<string, string>>();
  const disks = new Map<string, Record<string, string>>();
  for (const line of lines.slice(begin + 1, end)) {
    const m = /^machinec-guest: (nic|disk) (\S+) (\S+) ?(.*)$/.exec(line);
    if (!m) continue;
    const table = m[1] === 'nic' ? nics : disks;
    if (!table.has(m[2])) table.set(m[2], {});
    table.get(m[2])![m[3]] = m[4].trim();
  }
  return {
    nics: [...nics].map(([name, f]) => ({
      name, mac: (f.mac ?? '').toLowerCase(), pci: pciOf(f.sysfs ?? ''),
      onboard: f.ID_NET_NAME_ONBOARD, slot: f.ID_NET_NAME_SLOT, path: f.ID_NET_NAME_PATH,
    })),
    disks: [...disks].map(([name, f]) => ({ name, pci: pciOf(f.sysfs ?? ''), serial: f.serial ?? '', idPath: f.ID_PATH })),
  };
}

/** The name systemd's default NamePolicy (`onboard slot path`) gives the NIC. */
export const usedNicName = (n: GuestNic): string | undefined => n.onboard ?? n.slot ?? n.path;

export interface GuestBoot {
  readonly report: GuestReport;
  /** From QEMU's start to the guest's last line. */
  readonly bootMs: number;
}

/** Boots the guest on `argv` (the machine's command line) and waits, at most `timeoutMs`, for its report. */
export async function bootGuest(qemu: string, argv: readonly string[], image: GuestImage, timeoutMs: number): Promise<GuestBoot> {
  const scratch = mkdtempSync(join(tmpdir(), 'machinec-guest-'));
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  const release = untilDone(removeScratch); // a signal ends machinec before the finally below runs
  const consoleFile = join(scratch, 'console.log');
  const read = () => { try { return readFileSync(consoleFile, 'latin1'); } catch { return ''; } };
  try {
    const started = Date.now();
    return await withQemu({ qemu, args: guestBootArgs(argv, image, consoleFile), timeoutMs: QMP_BOUND_MS }, async (h) => {
      let exited = false;
      void h.exited().then(() => (exited = true));
      for (;;) {
        const over = exited || Date.now() - started > timeoutMs;
        const report = parseGuestOutput(read());
        if (report) return { report, bootMs: Date.now() - started };
        if (over) throw new GuestSilentError(timeoutMs, plainConsole(read()).slice(-2000));
        await new Promise((r) => setTimeout(r, 250));
      }
    });
  } finally {
    release();
    removeScratch();
  }
}
