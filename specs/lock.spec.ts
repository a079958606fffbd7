/**
 * The lockfile rules, proved scenario by scenario through `compile`: each build's lockText is fed to
 * the next build as its lock, the way `machinec build` does on disk. Addresses are asserted against
 * literal values (independent facts about QEMU and SeaBIOS), not against what an earlier build said.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, device, guestOf, machine, nic, placements, render, tryBuild } from './lock/harness.js';
import { compile, type Plan } from '../compiler/index.js';
import { renderPlan } from '../cli/render-plan.js';
import { expectGolden } from './support/golden.js';
import { PLAN_CASES } from './support/plan-cases.js';

const here = dirname(fileURLToPath(import.meta.url));
const goldenDir = join(here, 'lock');

const golden = (name: string, actual: string): void => expectGolden(join(goldenDir, name), actual);

const signOf = (plan: Plan, id: string): string | undefined => plan.changes.find((c) => c.id === id)?.sign;
const detailsOf = (plan: Plan, id: string): string => plan.changes.find((c) => c.id === id)?.details.join('; ') ?? '';

const vnic = (id: string, at?: string) => nic(id, 'virtio-net-pci', at);

describe('(a) pc: removing a NIC does not move the next one', () => {
  test('nic2 keeps 00:04.0 after nic1 is removed', () => {
    const first = build(machine('pc', [nic('nic1'), nic('nic2')]));
    expect(guestOf(first, 'nic1')).toBe('00:03.0');
    expect(guestOf(first, 'nic2')).toBe('00:04.0');
    const second = build(machine('pc', [nic('nic2')]), first);
    expect(guestOf(second, 'nic2')).toBe('00:04.0');
    expect(second.argv).toContain(`e1000,id=nic2,bus=pci.0,addr=04.0,mac=${device(first, 'nic2').pins.mac},netdev=net-nic2`);
    expect(second.plan!.changes.map((c) => `${c.sign} ${c.id}`)).toEqual(['- nic1']);
    // and a third build with the same source is a no-op
    const third = build(machine('pc', [nic('nic2')]), second);
    expect(third.lockText).toBe(second.lockText);
    expect(third.plan!.changes).toEqual([]);
  });

  test('without the lock, QEMU-style first fit would have moved it (the problem being solved)', () => {
    const fresh = build(machine('pc', [nic('nic2')]));
    expect(guestOf(fresh, 'nic2')).toBe('00:03.0');
  });
});

describe('(b, c) q35: removing the middle NIC keeps the third one on bus 3', () => {
  const three = machine('q35', [vnic('n1'), vnic('n2'), vnic('n3')]);
  const withoutMiddle = machine('q35', [vnic('n1'), vnic('n3')]);

  test('(b) n3 keeps rp3, 00.0 and guest bus 3; rp2 stays in the lock, empty', () => {
    const first = build(three);
    expect(guestOf(first, 'n3')).toBe('03:00.0');
    const second = build(withoutMiddle, first);
    const n3 = device(second, 'n3');
    expect(n3.bus).toBe('rp3');
    expect(n3.addr).toEqual({ slot: 0, fn: 0 });
    expect(guestOf(second, 'n3')).toBe('03:00.0');
    expect(guestOf(second, 'n1')).toBe('01:00.0');
    const rp2 = device(second, 'rp2');
    expect(rp2).toMatchObject({ model: 'pcie-root-port', bus: 'pcie.0', addr: { slot: 2, fn: 1 }, secondaryBus: 2, auto: true });
    expect(second.machine!.devices.filter((d) => d.bus === 'rp2')).toEqual([]);
    expect(second.lockText).toMatch(/^pci 00:02\.1 rp2 pcie-root-port bus=pcie\.0 addr=02\.1 chassis=2 pcie-port=2 secondary=2 auto$/m);
    expect(second.argv!.join(' ')).toContain('-device pcie-root-port,id=rp2,bus=pcie.0,addr=02.1');
    expect(second.plan!.changes.map((c) => `${c.sign} ${c.id}`)).toEqual(['- n2']);
  });

  test('(c) a NIC added after the removal reuses the empty root port; nothing else moves', () => {
    const first = build(three);
    const second = build(withoutMiddle, first);
    const third = build(machine('q35', [vnic('n1'), vnic('n3'), vnic('n4')]), second);
    expect(device(third, 'n4').bus).toBe('rp2');
    expect(guestOf(third, 'n4')).toBe('02:00.0');
    expect(placements(third, ['n4'])).toEqual(placements(second));
    expect(third.machine!.devices.filter((d) => d.auto).map((d) => d.id)).toEqual(['rp1', 'rp2', 'rp3']);
    expect(third.plan!.changes.map((c) => `${c.sign} ${c.id}`)).toEqual(['+ n4']);
  });

  test('(c) on pc, a NIC added after a removal takes the freed slot and nothing else moves', () => {
    const first = build(machine('pc', [nic('a'), nic('b'), nic('c')]));
    const second = build(machine('pc', [nic('a'), nic('c')]), first);
    const third = build(machine('pc', [nic('a'), nic('c'), nic('d')]), second);
    expect(guestOf(third, 'd')).toBe('00:04.0');
    expect(guestOf(third, 'c')).toBe('00:05.0');
    expect(placements(third, ['d'])).toEqual(placements(second));
  });
});

describe('(d) reordering the source moves nothing', () => {
  test.each([
    ['pc', [nic('a'), nic('b', 'rtl8139'), 'device disk: virtio-blk-pci { file = "d.img" }', 'device br: pci-bridge { device inner: e1000 { netdev = user } }']],
    ['q35', [vnic('a'), nic('b', 'e1000'), 'device disk: virtio-blk-pci { file = "d.img" }', 'device usb: qemu-xhci { device t1: usb-tablet {} device t2: usb-kbd {} }']],
  ] as const)('%s', (chipset, devices) => {
    const first = build(machine(chipset, devices));
    const reversed = [...devices].reverse().map((d) => d.replace('device t1: usb-tablet {} device t2: usb-kbd {}', 'device t2: usb-kbd {} device t1: usb-tablet {}'));
    const second = build(machine(chipset, reversed), first);
    expect(placements(second)).toEqual(placements(first));
    expect(second.plan!.changes).toEqual([]);
    expect(second.lockText).toBe(first.lockText);
    // the command line lists devices in guest topology order, not source order
    expect(second.argv).toEqual(first.argv);
  });
});

describe('(e) changing a model keeps the address', () => {
  test('pc: e1000 → rtl8139', () => {
    const first = build(machine('pc', [nic('a'), nic('b')]));
    const second = build(machine('pc', [nic('a'), nic('b', 'rtl8139')]), first);
    expect(guestOf(second, 'b')).toBe('00:04.0');
    expect(device(second, 'b').model).toBe('rtl8139');
    expect(device(second, 'b').pins.mac).toBe(device(first, 'b').pins.mac);
    expect(second.plan!.changes).toHaveLength(1);
    expect(signOf(second.plan!, 'b')).toBe('~');
    expect(detailsOf(second.plan!, 'b')).toBe('model e1000 → rtl8139, stays at 00:04.0 (pci.0 04.0)');
  });

  test('q35: virtio-net-pci → e1000e', () => {
    const first = build(machine('q35', [vnic('a'), vnic('b')]));
    const second = build(machine('q35', [vnic('a'), nic('b', 'e1000e')]), first);
    expect(device(second, 'b')).toMatchObject({ model: 'e1000e', bus: 'rp2', addr: { slot: 0, fn: 0 } });
    expect(guestOf(second, 'b')).toBe('02:00.0');
    expect(signOf(second.plan!, 'b')).toBe('~');
    expect(detailsOf(second.plan!, 'b')).toBe('model virtio-net-pci → e1000e, stays at 02:00.0 (rp2 00.0)');
    expect(placements(second)).toEqual(placements(first));
  });
});

describe('(f) explicit addresses', () => {
  test('an @ that differs from the lock is a deliberate move, shown in the plan', () => {
    const first = build(machine('pc', [nic('a'), nic('b')]));
    const second = build(machine('pc', [nic('a'), nic('b', 'e1000', '10.0')]), first);
    expect(guestOf(second, 'b')).toBe('00:10.0');
    expect(guestOf(second, 'a')).toBe('00:03.0');
    expect(signOf(second.plan!, 'b')).toBe('!');
    expect(detailsOf(second.plan!, 'b')).toBe('moves 00:04.0 (pci.0 04.0) → 00:10.0 (pci.0 10.0)');
    expect(second.plan!.guestVisible).toBe(true);
    // the @ now agrees with the lock: nothing more to do
    const third = build(second.source, second);
    expect(third.plan!.changes).toEqual([]);
  });

  test('an @ that agrees with the lock is not a change', () => {
    const first = build(machine('pc', [nic('a'), nic('b')]));
    const second = build(machine('pc', [nic('a'), nic('b', 'e1000', '04.0')]), first);
    expect(second.plan!.changes).toEqual([]);
  });

  test("an @ on another locked device's place is an error naming both", () => {
    const first = build(machine('pc', [nic('a'), nic('b')]));
    const source = machine('pc', [nic('a'), nic('b', 'e1000', '03.0')]);
    const second = tryBuild(source, first);
    expect(second.ok).toBe(false);
    expect(second.lockText).toBeUndefined();
    const text = render(second, source, first.lockText);
    expect(second.diagnostics.map((d) => d.code)).toEqual(['address-taken']);
    expect(text).toContain('pci.0 03.0 is held by a');
    expect(text).toContain('for b');
    golden('explicit-on-locked.errors.txt', text);
  });

  test('an @ on a place a machinec-created root port holds names the root port and prune', () => {
    const first = build(machine('q35', [vnic('a'), vnic('b')]));
    const source = machine('q35', [vnic('a'), vnic('b'), 'device c: virtio-rng-pci @ 02.1']);
    const second = tryBuild(source, first);
    expect(second.diagnostics.map((d) => d.code)).toEqual(['address-taken']);
    expect(second.diagnostics[0].message).toBe('pcie.0 02.1 is held by rp2');
    expect(second.diagnostics[0].hint).toMatch(/rp2 is a pcie-root-port machinec created/);
  });
});

describe('(g) the pc root bus fills up', () => {
  const nics = (n: number) => Array.from({ length: n }, (_, i) => nic(`nic${i + 1}`));

  test('35 NICs over several builds: a pci-bridge is appended and locked; earlier NICs never move', () => {
    let prev = build(machine('pc', nics(10)));
    const seen = new Map<string, string>();
    const record = (b: typeof prev) => {
      for (const d of b.machine!.devices) {
        const g = guestOf(b, d.id);
        const was = seen.get(d.id);
        if (was) expect(`${d.id} ${g}`).toBe(`${d.id} ${was}`);
        seen.set(d.id, g);
      }
    };
    record(prev);
    for (const n of [20, 28, 29, 30, 35]) {
      prev = build(machine('pc', nics(n)), prev);
      record(prev);
      expect(prev.plan!.counts).toMatchObject({ removed: 0, moved: 0, changed: 0 });
    }
    // NICs 1..28 fill slots 03..1e; the last slot is the bridge's; the rest sit behind it
    expect(guestOf(prev, 'nic1')).toBe('00:03.0');
    expect(guestOf(prev, 'nic28')).toBe('00:1e.0');
    const bridges = prev.machine!.devices.filter((d) => d.model === 'pci-bridge');
    expect(bridges.map((b) => [b.id, b.auto, guestOf(prev, b.id), b.secondaryBus])).toEqual([['br1', true, '00:1f.0', 1]]);
    expect(guestOf(prev, 'nic29')).toBe('01:01.0');
    expect(guestOf(prev, 'nic35')).toBe('01:07.0');
    expect(prev.lockText).toMatch(/^pci 00:1f\.0 br1 pci-bridge bus=pci\.0 addr=1f\.0 chassis=1 io-reserve=0 shpc=off secondary=1 auto$/m);
  });

  test('the bridge stays locked when the devices behind it go', () => {
    const full = build(machine('pc', nics(30)));
    const fewer = build(machine('pc', nics(3)), full);
    expect(guestOf(fewer, 'br1')).toBe('00:1f.0');
    expect(device(fewer, 'br1').secondaryBus).toBe(1);
    expect(guestOf(fewer, 'nic3')).toBe('00:05.0');
  });
});

describe('(h) new bridges and root ports are appended after existing ones', () => {
  test('q35: a new root port never takes a hole before a locked one', () => {
    // ahci is integrated: it takes slot 02, so the root ports start at 03.0
    const first = build(machine('q35', ['device sata: ich9-ahci {}', vnic('a'), vnic('b')]));
    expect(guestOf(first, 'sata')).toBe('00:02.0');
    expect(guestOf(first, 'rp1')).toBe('00:03.0');
    expect(guestOf(first, 'rp2')).toBe('00:03.1');
    // drop ahci: slot 02 is free, but a root port there would enumerate first and renumber rp1/rp2
    const second = build(machine('q35', [vnic('a'), vnic('b'), vnic('c')]), first);
    expect(guestOf(second, 'rp3')).toBe('00:03.2');
    expect(device(second, 'rp3').secondaryBus).toBe(3);
    expect(guestOf(second, 'a')).toBe('01:00.0');
    expect(guestOf(second, 'b')).toBe('02:00.0');
    expect(guestOf(second, 'c')).toBe('03:00.0');
  });

  test('q35: a conventional PCI device gets a pcie-pci-bridge behind a root port after the others', () => {
    const first = build(machine('q35', [vnic('a'), vnic('b')]));
    const second = build(machine('q35', [vnic('a'), vnic('b'), nic('old', 'rtl8139')]), first);
    expect(device(second, 'pcibr1').bus).toBe('rp3');
    expect(guestOf(second, 'rp3')).toBe('00:02.2');
    expect(guestOf(second, 'pcibr1')).toBe('03:00.0');
    expect(guestOf(second, 'old')).toBe('04:01.0');
    expect(placements(second, ['rp3', 'pcibr1', 'old'])).toEqual(placements(first));
  });

  test('pc: a new user bridge goes after a locked one even when an earlier slot is free', () => {
    const inner = (id: string) => `{ device ${id}: e1000 { netdev = user } }`;
    const first = build(machine('pc', [nic('a'), `device ub1: pci-bridge ${inner('x')}`, nic('b')]));
    expect(guestOf(first, 'ub1')).toBe('00:04.0');
    expect(guestOf(first, 'x')).toBe('01:01.0');
    const second = build(machine('pc', [`device ub1: pci-bridge ${inner('x')}`, nic('b'), `device ub2: pci-bridge ${inner('y')}`]), first);
    expect(guestOf(second, 'ub2')).toBe('00:06.0'); // not 03.0, freed by a
    expect(device(second, 'ub2').secondaryBus).toBe(2);
    expect(guestOf(second, 'x')).toBe('01:01.0');
    expect(guestOf(second, 'y')).toBe('02:01.0');
  });

  test('the chassis numbers of existing ports and bridges are kept', () => {
    const first = build(machine('q35', [vnic('a'), vnic('b'), vnic('c')]));
    const second = build(machine('q35', [vnic('c'), vnic('d'), vnic('e')]), first);
    // a and b's root ports stay, empty: d and e do not take them (and a's and b's NIC names) in the same change
    expect(second.machine!.devices.filter((d) => d.model === 'pcie-root-port').map((d) => `${d.id}:${d.pins.chassis}:${d.secondaryBus}`))
      .toEqual(['rp1:1:1', 'rp2:2:2', 'rp3:3:3', 'rp4:4:4', 'rp5:5:5']);
    expect(guestOf(second, 'c')).toBe('03:00.0');
    expect([guestOf(second, 'd'), guestOf(second, 'e')]).toEqual(['04:00.0', '05:00.0']);
    // the next change reuses the empty ones
    const third = build(machine('q35', [vnic('c'), vnic('d'), vnic('e'), vnic('f')]), second);
    expect(device(third, 'f').bus).toBe('rp1');
  });
});

describe('(i) the machine type pin', () => {
  const qemu80 = { machineTypes: ['pc-i440fx-7.2', 'pc-i440fx-8.0', 'pc-q35-7.1', 'pc-q35-7.2', 'pc-q35-8.0'], aliases: { pc: 'pc-i440fx-8.0', q35: 'pc-q35-8.0' }, version: '8.0.0' };

  test('a lock with pc-q35-7.2 stays pc-q35-7.2 when the alias is newer', () => {
    const first = build(machine('q35', [vnic('a')]));
    expect(first.machine!.machineType).toBe('pc-q35-7.2');
    const second = build(machine('q35', [vnic('a')]), first, qemu80);
    expect(second.machine!.machineType).toBe('pc-q35-7.2');
    expect(second.argv!.slice(2, 4)).toEqual(['-machine', 'pc-q35-7.2']);
    expect(second.lockText).toMatch(/^machine m pc-q35-7\.2 uuid=/m);
    expect(second.plan!.machine).toEqual([]);
  });

  test('a first build pins the alias of the QEMU at hand', () => {
    const first = build(machine('q35', [vnic('a')]), undefined, qemu80);
    expect(first.machine!.machineType).toBe('pc-q35-8.0');
  });

  test('a pinned type missing from this QEMU is an error naming the nearest types', () => {
    const first = build(machine('q35', [vnic('a')]));
    const qemu90 = { machineTypes: ['pc-i440fx-9.0', 'pc-q35-8.2', 'pc-q35-9.0'], aliases: { pc: 'pc-i440fx-9.0', q35: 'pc-q35-9.0' }, version: '9.0.0' };
    const source = machine('q35', [vnic('a')]);
    const second = tryBuild(source, first, qemu90);
    expect(second.ok).toBe(false);
    expect(second.diagnostics.map((d) => d.code)).toEqual(['machine-type-unavailable']);
    expect(second.diagnostics[0].message).toBe('machine type pc-q35-7.2 (pinned in the lock) is not in this QEMU 9.0.0');
    expect(second.diagnostics[0].hint).toMatch(/nearest available: pc-q35-8\.2/);
    expect(second.diagnostics[0].hint).not.toMatch(/i440fx/);
    golden('machine-type-unavailable.errors.txt', render(second, source, first.lockText));
  });

  test('an explicit versioned chipset in the source overrides the pin, and the plan says so', () => {
    const first = build(machine('q35', [vnic('a')]));
    const second = build(machine('pc-q35-8.0' as 'q35', [vnic('a')]), first, qemu80);
    expect(second.machine!.machineType).toBe('pc-q35-8.0');
    expect(second.plan!.machine).toEqual(['machine type pc-q35-7.2 → pc-q35-8.0']);
    expect(guestOf(second, 'a')).toBe('01:00.0');
  });
});

describe('(j) MACs and serials are pinned', () => {
  const devices = [nic('n1'), nic('n2', 'rtl8139'), 'device d1: virtio-blk-pci { file = "a.img" }', 'device d2: virtio-blk-pci { file = "b.img" }'];

  test('across builds, reorders, and a rename of the machine', () => {
    const first = build(machine('pc', devices));
    const pins = (b: typeof first) => Object.fromEntries(b.machine!.devices.map((d) => [d.id, d.pins]));
    expect(device(first, 'n1').pins.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(device(first, 'n1').pins.mac).not.toBe(device(first, 'n2').pins.mac);
    expect(device(first, 'd1').pins.serial).toBe('d1');
    const again = build(machine('pc', devices), first);
    expect(pins(again)).toEqual(pins(first));
    const reordered = build(machine('pc', [devices[3], devices[1], devices[2], devices[0]]), again);
    expect(pins(reordered)).toEqual(pins(first));
    // the generated MAC depends on the machine name; the lock keeps the old one
    const renamed = build(machine('pc', devices, 'other'), reordered);
    expect(pins(renamed)).toEqual(pins(first));
    expect(renamed.machine!.uuid).toBe(first.machine!.uuid);
    expect(renamed.plan!.machine).toEqual(['machine name m → other']);
    expect(renamed.plan!.guestVisible).toBe(false);
    const fresh = build(machine('pc', devices, 'other'));
    expect(device(fresh, 'n1').pins.mac).not.toBe(device(first, 'n1').pins.mac);
  });

  test('a MAC or serial set in the source wins, and the plan shows the change', () => {
    const first = build(machine('pc', devices));
    const second = build(machine('pc', [`device n1: e1000 { netdev = user, mac = "52:54:00:AA:BB:CC" }`, ...devices.slice(1, 2), 'device d1: virtio-blk-pci { file = "a.img", serial = "S1" }', devices[3]]), first);
    expect(device(second, 'n1').pins.mac).toBe('52:54:00:aa:bb:cc');
    expect(device(second, 'd1').pins.serial).toBe('S1');
    expect(signOf(second.plan!, 'n1')).toBe('~');
    expect(detailsOf(second.plan!, 'n1')).toBe(`mac ${device(first, 'n1').pins.mac} → 52:54:00:aa:bb:cc`);
    expect(detailsOf(second.plan!, 'd1')).toBe('serial d1 → S1');
    expect(placements(second)).toEqual(placements(first));
  });

  test("a new NIC never gets a MAC the lock already gave another NIC", () => {
    const first = build(machine('pc', [nic('a')]));
    const macA = device(first, 'a').pins.mac;
    // rename a in the lock only: the source's new NIC `a` would generate the same MAC as `b` now holds
    const lock = first.lockText!.replace(' a e1000 ', ' b e1000 ');
    const second = build(machine('pc', [nic('b'), nic('a')]), lock);
    expect(device(second, 'b').pins.mac).toBe(macA);
    expect(device(second, 'a').pins.mac).not.toBe(macA);
  });
});

describe('lock errors (goldens: specs/lock/<case>.lock + <case>.machine → <case>.errors.txt)', () => {
  const cases = readdirSync(goldenDir).filter((f) => f.endsWith('.lock')).map((f) => f.slice(0, -'.lock'.length)).sort();

  test('every case is here', () => {
    expect(cases).toEqual(['chipset-changed', 'conflict-markers', 'duplicate-id', 'empty', 'garbage-line', 'missing-bus', 'newer-version', 'truncated', 'truncated-header']);
  });

  test.each(cases)('%s', (name) => {
    const file = `${name}.machine`;
    const lockFile = `${name}.lock`;
    const source = readFileSync(join(goldenDir, file), 'utf8');
    const lockText = readFileSync(join(goldenDir, lockFile), 'utf8');
    const result = compile({ file, source, lock: { file: lockFile, text: lockText } });
    expect(result.ok).toBe(false);
    // a bad lock is never rewritten
    expect(result.lockText).toBeUndefined();
    expect(result.argv).toBeUndefined();
    // and the source alone is fine: the errors are the lock's
    expect(compile({ file, source }).ok).toBe(true);
    golden(`${name}.errors.txt`, render(result, source, lockText, file, lockFile));
  });
});

describe('plan output (goldens: specs/lock/plan-<case>.txt, rendered by cli/render-plan.ts)', () => {
  const cases = PLAN_CASES;

  test.each(Object.keys(cases))('%s', (name) => {
    const { before, after, signs } = cases[name];
    const first = build(before);
    const second = build(after, first);
    const plan = second.plan!;
    expect(Object.fromEntries(plan.changes.map((c) => [c.id, c.sign]))).toEqual(signs);
    const text = renderPlan(plan, { color: false, title: `m.machine against m.machine.lock (${name})` });
    golden(`plan-${name}.txt`, `--- before\n${before}--- after\n${after}--- plan\n${text}`);
    // the plan is empty once the new lock is in place
    expect(build(after, second).plan!.changes).toEqual([]);
  });

  test('renumbering is visible in the lock diff too: the guest address column changes', () => {
    const { before, after } = cases.renumber;
    const first = build(before);
    const second = build(after, first);
    expect(guestOf(second, 'port0')).toBe('00:01.0');
    expect(guestOf(second, 'c')).toBe('01:00.0');
    expect(guestOf(second, 'a')).toBe('02:00.0');
    expect(guestOf(second, 'b')).toBe('03:00.0');
    // QEMU-side places are unchanged: only the firmware's numbering moved
    expect(device(second, 'a')).toMatchObject({ bus: 'rp1', addr: { slot: 0, fn: 0 } });
  });
});

describe('regressions', () => {
  test('pc: a 30th conventional device found no slot because the 29th took the last root slot (bus-full)', () => {
    // Minimal case: 29 NICs fill slots 03..1f, so the bridge a 30th needs had nowhere to go.
    const b = build(machine('pc', Array.from({ length: 30 }, (_, i) => nic(`n${i + 1}`))));
    expect(guestOf(b, 'n28')).toBe('00:1e.0');
    expect(guestOf(b, 'br1')).toBe('00:1f.0');
    expect(guestOf(b, 'n29')).toBe('01:01.0');
    expect(guestOf(b, 'n30')).toBe('01:02.0');
  });

  test('a truncated lock was read as if whole: its cut MAC went to QEMU and back into the lock', () => {
    // Minimal case: the last line cut inside its MAC, no final newline.
    const first = build(machine('pc', [nic('a')]));
    const cut = first.lockText!.slice(0, -5);
    expect(cut.endsWith('mac=' + device(first, 'a').pins.mac!.slice(0, -4))).toBe(true);
    const second = tryBuild(machine('pc', [nic('a')]), cut);
    expect(second.ok).toBe(false);
    expect(second.diagnostics.map((d) => d.code)).toEqual(['lock-truncated']);
    // a whole lock with CRLF line ends is still read
    expect(build(machine('pc', [nic('a')]), first.lockText!.replace(/\n/g, '\r\n')).plan!.changes).toEqual([]);
  });
});


describe('freed addresses stay unused in the change that frees them', () => {
  test('pc: remove one NIC, add one: the new NIC does not take the freed slot (nor the name enp0s3)', () => {
    const first = build(machine('pc', [nic('nic1'), nic('nic2')]));
    expect(guestOf(first, 'nic1')).toBe('00:03.0');
    const second = build(machine('pc', [nic('nic2'), nic('nic3')]), first);
    expect(guestOf(second, 'nic2')).toBe('00:04.0');
    expect(guestOf(second, 'nic3')).toBe('00:05.0');
    expect(second.plan!.reserved).toEqual([{ address: '00:03.0 (pci.0 03.0)', freedBy: 'nic1' }]);
    expect(renderPlan(second.plan!, { color: false })).toContain('  kept free in this change: 00:03.0 (pci.0 03.0) (nic1)\n');
    // the next change may use it
    const third = build(machine('pc', [nic('nic2'), nic('nic3'), nic('nic4')]), second);
    expect(guestOf(third, 'nic4')).toBe('00:03.0');
  });

  test("q35: the removed NIC's empty root port is not reused in the same change", () => {
    const first = build(machine('q35', [vnic('a'), vnic('b')]));
    const second = build(machine('q35', [vnic('b'), vnic('c')]), first);
    expect(device(second, 'c').bus).toBe('rp3');
    expect(guestOf(second, 'b')).toBe('02:00.0');
    expect(guestOf(second, 'c')).toBe('03:00.0');
    expect(second.plan!.changes.find((x) => x.id === 'c')!.notices.join()).not.toMatch(/takes the name/);
  });

  test('when nothing else is free the freed address is used, and the plan says whose name it takes', () => {
    const port = (id: string) => `device port0: pcie-root-port { device ${id}: virtio-net-pci { netdev = user } }`;
    const first = build(machine('q35', [port('a')]));
    const second = build(machine('q35', [port('b')]), first);
    expect(guestOf(second, 'b')).toBe(guestOf(first, 'a'));
    expect(second.plan!.reserved).toEqual([]);
    expect(second.plan!.changes.find((x) => x.id === 'b')!.notices).toContain('Linux: takes the name enp1s0 that a (removed) had');
  });

  test('with prune, freed addresses are given out again', () => {
    const first = build(machine('pc', [nic('nic1'), nic('nic2')]));
    const pruned = compile({ file: 'm.machine', source: machine('pc', [nic('nic2'), nic('nic3')]), lock: { file: 'm.machine.lock', text: first.lockText! }, prune: true });
    expect(guestOf(pruned, 'nic3')).toBe('00:03.0');
  });
});
