/**
 * Real QEMU for end-to-end specs: `qemuDescribe` runs the suite where qemu-system-x86_64 is
 * installed, skips it with a message elsewhere, and fails it in CI, where QEMU must be there.
 */
import { findQemu, waitForStableGuestView, withQemu, type GuestPciDevice } from '../../cli/qemu/index.js';

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
