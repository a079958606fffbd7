/**
 * The 2009 Fedora "KVM Stable PCI Addresses" test, on a plain QEMU command line WITHOUT machinec:
 * start a guest with two PCI NICs, note their slots, remove the first NIC, restart, and look at
 * the second NIC again. Plain QEMU places a device without `addr=` in the first free slot in
 * command-line order, so the second NIC moves. This proves the test can fail; the machinec
 * version of it asserts that the slot does not change.
 */
import { findByQdevId, waitForStableGuestView, withQemu, type GuestPciDevice } from '../cli/qemu/index.js';
import { QEMU, qemuDescribe } from './support/qemu.js';

const suite = qemuDescribe;
const T = 30_000;

/** A NIC with a fixed MAC, so "the second NIC" is the same NIC in both boots; no bus=, no addr=. */
function nic(model: string, id: string, mac: string): string[] {
  return ['-netdev', `user,id=net-${id}`, '-device', `${model},id=${id},netdev=net-${id},mac=${mac}`];
}

async function boot(args: string[]): Promise<GuestPciDevice[]> {
  return withQemu({ qemu: QEMU, args, paused: true }, async (h) => (await waitForStableGuestView(h.qmp, { timeoutMs: 15_000 })).devices);
}

function slotOf(view: readonly GuestPciDevice[], id: string): { bus: number; slot: number; fn: number } {
  const d = findByQdevId(view, id);
  if (!d) throw new Error(`${id} not found in the guest view`);
  return { bus: d.bus, slot: d.slot, fn: d.fn };
}

const NIC1_MAC = '52:54:00:00:00:01';
const NIC2_MAC = '52:54:00:00:00:02';

suite('plain QEMU: PCI addresses are not stable (the 2009 Fedora test, without machinec)', () => {
  test.each([
    // machine, NIC model, expected slots: [nic1, nic2] with both, nic2 alone
    ['pc-i440fx-7.2', 'e1000', [2, 3], 2],
    ['pc-q35-7.2', 'e1000e', [1, 2], 1], // e1000e without bus=/addr= lands on pcie.0 as an integrated endpoint
  ] as const)('%s with two %s NICs: removing the first moves the second', async (machine, model, [s1, s2], s2alone) => {
    const base = ['-machine', machine, '-nodefaults', '-no-user-config', '-accel', 'tcg'];

    const both = await boot([...base, ...nic(model, 'nic1', NIC1_MAC), ...nic(model, 'nic2', NIC2_MAC)]);
    const before = slotOf(both, 'nic2');
    expect(slotOf(both, 'nic1')).toEqual({ bus: 0, slot: s1, fn: 0 });
    expect(before).toEqual({ bus: 0, slot: s2, fn: 0 });

    const after = slotOf(await boot([...base, ...nic(model, 'nic2', NIC2_MAC)]), 'nic2');
    expect(after).toEqual({ bus: 0, slot: s2alone, fn: 0 });
    // The point of the test: the second NIC's address HAS changed.
    expect(after).not.toEqual(before);
  }, T);

  test('pc without -nodefaults: the default VGA takes 00:02.0, NICs at 03.0/04.0, then the second NIC moves to 03.0', async () => {
    const base = ['-machine', 'pc-i440fx-7.2', '-no-user-config', '-accel', 'tcg'];
    const both = await boot([...base, ...nic('e1000', 'nic1', NIC1_MAC), ...nic('e1000', 'nic2', NIC2_MAC)]);
    expect(both.find((d) => d.bus === 0 && d.slot === 2)?.classId).toBe(0x0300); // VGA
    expect(slotOf(both, 'nic1')).toEqual({ bus: 0, slot: 3, fn: 0 });
    expect(slotOf(both, 'nic2')).toEqual({ bus: 0, slot: 4, fn: 0 });
    const after = await boot([...base, ...nic('e1000', 'nic2', NIC2_MAC)]);
    expect(slotOf(after, 'nic2')).toEqual({ bus: 0, slot: 3, fn: 0 });
  }, T);
});
