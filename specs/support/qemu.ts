import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
/**
 * Real QEMU for end-to-end specs: `qemuDescribe` runs the suite where qemu-system-x86_64 is
 * installed, skips it with a message elsewhere, and fails it in CI, where QEMU must be there.
 */
import { findQemu, listMachineTypes, waitForStableGuestView, withQemu, type GuestPciDevice, type MachineTypes } from '../../cli/qemu/index.js';

export const QEMU = findQemu();

export function qemuDescribe(name: string, body: () => void): void {
  if (QEMU) {
    describe(name, body);
    return;
  }
  if (process.env.CI) {
    describe(name, () => {
      test('qemu-system-x86_64 is installed (required in CI)', () => {
        throw new Error('qemu-system-x86_64 not found on PATH, and CI is set: the real-QEMU specs must run');
      });
    });
    return;
  }
  console.warn(`${name}: qemu-system-x86_64 not found: skipping (install Debian's qemu-system-x86 to run it)`);
  describe.skip(name, body);
}

/** Starts QEMU with `args`, lets the firmware number the buses, returns the guest's PCI view. */
export async function guestView(args: readonly string[]): Promise<GuestPciDevice[]> {
  return withQemu({ qemu: QEMU, args: [...args], paused: true }, async (h) => (await waitForStableGuestView(h.qmp, { timeoutMs: 20_000 })).devices);
}

/** `bus:slot.fn` of a device by its QEMU id, as lspci would print it. */
export function where(view: readonly GuestPciDevice[], id: string): string {
  const d = view.find((g) => g.qdevId === id);
  if (!d) throw new Error(`${id} is not in the guest view: ${view.map((g) => g.qdevId).filter(Boolean).join(', ')}`);
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `${hex(d.bus)}:${hex(d.slot)}.${d.fn}`;
}

let machineTypes: Promise<MachineTypes> | undefined;

/**
 * The versioned machine type the installed QEMU resolves `pc` or `q35` to (`pc-q35-7.2` on QEMU 7.2,
 * `pc-q35-8.2` on 8.2): assertions about what machinec pins are written against this, not a version.
 */
export async function installedAlias(chipset: 'pc' | 'q35'): Promise<string> {
  machineTypes ??= listMachineTypes(QEMU!, { cache: false });
  const alias = (await machineTypes).aliases[chipset];
  if (!alias) throw new Error(`${QEMU} -machine help names no alias ${chipset}`);
  return alias;
}

/**
 * Boots `argv` with SeaBIOS's debug console on a file in `dir` and returns that log once the
 * firmware has finished its PCI setup and tried to boot, or stopped ("out of I/O address space").
 */
let logs = 0;
export async function firmwareLog(argv: readonly string[], dir: string, boundMs = 150_000): Promise<string> {
  const log = join(dir, `seabios-${process.pid}-${++logs}.log`);
  const read = () => (existsSync(log) ? readFileSync(log, 'latin1') : '');
  const qemu = spawn(QEMU!, [...argv, '-display', 'none', '-chardev', `file,id=dbg,path=${log}`, '-device', 'isa-debugcon,iobase=0x402,chardev=dbg'], { stdio: 'ignore' });
  try {
    for (const started = Date.now(); Date.now() - started < boundMs; await sleep(250)) {
      const text = read();
      if (/out of I\/O address space|Booting from|No bootable device/.test(text) || qemu.exitCode !== null) return text;
    }
    return read();
  } finally {
    qemu.kill('SIGKILL');
  }
}
