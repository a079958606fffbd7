/**
 * The lock property test's oracle includes the real guest: a seeded sample of 20 generated edit
 * sequences (specs/lock-property/harness.ts, the same model and checks as lock-property.spec.ts)
 * is built step by step, and the first and the last build of each boot on QEMU. After the firmware
 * numbers the buses, query-pci must show
 *   - every PCI device (machinec's root ports and bridges too) at the guest address its lock says,
 *     bridges with the secondary bus number the lock says;
 *   - every device that survived the whole sequence, and was not allowed to move (its explicit `@`
 *     changed, or `prune` listed it), at the same bus:slot.fn in the last boot as in the first.
 * So "nothing moved" is what the guest reports, not only what the placement says of itself.
 */
import fc from 'fast-check';
import { emit, formatGuestAddress, type Compilation } from '../compiler/index.js';
import type { GuestPciDevice } from '../cli/qemu/index.js';
import { blueprint, edit, runSequence, type Chipset, type Edit, type Step } from './lock-property/harness.js';
import { guestView, qemuDescribe, where } from './support/qemu.js';

const SEQUENCES = 20;
const sequence = fc.record({
  chipset: fc.constantFrom<Chipset>('pc', 'q35'),
  initial: fc.array(blueprint, { minLength: 2, maxLength: 6 }),
  edits: fc.array(edit.map((e): Edit[] => [e]), { minLength: 3, maxLength: 7 }),
});
const sample = fc.sample(sequence, { numRuns: SEQUENCES, seed: 2026 });

const boot = (c: Compilation): Promise<GuestPciDevice[]> => guestView(emit(c.spec!, c.machine!, { standIns: { fileExists: () => false, resolveFile: (p) => p } }));

/** Where the lock says each PCI device is, and where the guest has it. */
function mismatches(c: Compilation, view: readonly GuestPciDevice[]): string[] {
  const out: string[] = [];
  for (const d of c.machine!.devices) {
    if (d.attachment !== 'pci') continue;
    const expected = formatGuestAddress(d.guest!);
    const actual = view.some((g) => g.qdevId === d.id) ? where(view, d.id) : '(absent)';
    if (actual !== expected) out.push(`${d.id}: lock ${expected}, guest ${actual}`);
    const secondary = view.find((g) => g.qdevId === d.id)?.secondaryBus;
    if (d.secondaryBus !== undefined && secondary !== d.secondaryBus) out.push(`${d.id}: lock secondary ${d.secondaryBus}, guest ${secondary}`);
  }
  return out;
}

/** Devices of the first build still there in the last and never allowed to move: first id → last id. */
function survivors(steps: readonly Step[]): Map<string, string> {
  const [first] = steps;
  const last = steps[steps.length - 1];
  const mayMove = new Set(steps.flatMap((s) => [...s.moved]));
  const autoMoved = new Set(steps.flatMap((s) => [...s.autoMoved]));
  const out = new Map<string, string>();
  for (const [key, id] of first.idOfKey) {
    const now = last.idOfKey.get(key);
    if (now !== undefined && !mayMove.has(key)) out.set(id, now);
  }
  const lastIds = new Set(last.compilation.machine!.devices.map((d) => d.id));
  for (const d of first.compilation.machine!.devices) if (d.auto && lastIds.has(d.id) && !autoMoved.has(d.id)) out.set(d.id, d.id);
  return out;
}

const labels: string[] = [];
let compared = 0;

qemuDescribe('lock properties on the real QEMU (query-pci)', () => {
  test.each(sample.map((s, i) => [i, s] as const))('sequence %i boots with nothing moved', async (_i, s) => {
    const steps = runSequence(s.chipset, s.initial, s.edits, 16);
    labels.push(...steps.map((st) => st.label));
    const first = steps[0].compilation;
    const last = steps[steps.length - 1].compilation;
    const [before, after] = await Promise.all([boot(first), boot(last)]);
    const log = steps.map((st) => st.label).join(' | ');
    expect([log, mismatches(first, before)]).toEqual([log, []]);
    expect([log, mismatches(last, after)]).toEqual([log, []]);
    const pciIds = new Set(first.machine!.devices.filter((d) => d.attachment === 'pci').map((d) => d.id));
    const moved = [...survivors(steps)].filter(([from]) => pciIds.has(from)).filter(([from, to]) => where(before, from) !== where(after, to)).map(([from, to]) => `${from} ${where(before, from)} → ${to} ${where(after, to)}`);
    compared += [...survivors(steps)].filter(([from]) => pciIds.has(from)).length;
    expect([log, moved]).toEqual([log, []]);
  }, 120_000);

  test('the sample exercised the edits that can move things, and compared many survivors', () => {
    expect(compared).toBeGreaterThanOrEqual(3 * SEQUENCES);
    console.log(`${compared} surviving PCI devices compared between first and last boot`);
    for (const kind of ['add', 'remove', 'reorder', 'rename', 'pin', 'prune']) expect([kind, labels.some((l) => l.split(', ').some((p) => p.startsWith(kind)))]).toEqual([kind, true]);
  });
});
