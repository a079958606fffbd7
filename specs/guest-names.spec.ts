/**
 * The guest-name rules (compiler/guest-names.ts) against a table of cases written out by hand
 * (specs/support/guest-name-cases.ts): Linux NIC names, disk by-path names and Windows location
 * paths for devices on the root bus, behind root ports, bridges and nested bridges, in
 * multifunction slots, and on buses numbered 10 and up. The e2e spec checks the same table
 * against QEMU's own view of the buses.
 */
import { compile, GUEST_RULES, guestNamesOf, linuxNicName, noticesFor, windowsLocationPath } from '../compiler/index.js';
import { NAME_MACHINES } from './support/guest-name-cases.js';

const cases = NAME_MACHINES.flatMap((m) => m.cases.map((c) => [m.name, c.id, m, c] as const));

describe('guest names: the table', () => {
  test('at least 15 bus/slot/function cases, bridges and multifunction among them', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
    expect(cases.some(([, , , c]) => /#PCI\(.{4}\)#PCI\(.{4}\)#/.test(c.windows))).toBe(true);
    expect(cases.filter(([, , , c]) => /f\d$/.test(c.linux ?? '')).length).toBeGreaterThanOrEqual(4);
  });

  test.each(cases)('%s %s', (_m, id, m, c) => {
    const built = compile({ file: `${m.name}.machine`, source: m.source });
    expect(built.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const d = built.machine!.devices.find((x) => x.id === id)!;
    const names = guestNamesOf(built.machine!).get(id)!;
    const g = d.guest;
    expect({ guest: g ? `${g.bus.toString(16).padStart(2, '0')}:${g.slot.toString(16).padStart(2, '0')}.${g.fn}` : '-', linux: names.linuxNic, byPath: names.byPath, windows: names.windowsLocation ?? '' }).toEqual({
      guest: c.guest,
      linux: c.linux,
      byPath: c.byPath,
      windows: c.windows,
    });
  });
});

describe('guest names: the rules', () => {
  test('every rule names its reference', () => {
    for (const r of GUEST_RULES) expect(r.reference.length).toBeGreaterThan(20);
    expect(GUEST_RULES.map((r) => r.id)).toEqual(['linux-nic-onboard', 'linux-nic-path', 'linux-disk-by-path', 'windows-location-path', 'windows-hardware-id']);
  });

  test('an acpi-index gives the onboard name, which wins over the path name', () => {
    expect(linuxNicName({ bus: 1, slot: 0, fn: 0 }, false, '3')).toBe('eno3');
    expect(linuxNicName({ bus: 0, slot: 5, fn: 1 }, true, '12')).toBe('eno12');
    expect(linuxNicName({ bus: 0, slot: 5, fn: 1 }, true, '0')).toBe('enp0s5f1');
  });

  test('bus and slot numbers are decimal; the function shows on every function of a multifunction slot', () => {
    expect(linuxNicName({ bus: 0x1a, slot: 0x1f, fn: 0 }, false)).toBe('enp26s31');
    expect(linuxNicName({ bus: 0, slot: 3, fn: 0 }, true)).toBe('enp0s3f0');
    expect(windowsLocationPath([{ slot: 0x1c, fn: 4 }, { slot: 0, fn: 0 }])).toBe('PCIROOT(0)#PCI(1C04)#PCI(0000)');
  });

  test('Windows sees a new device instance for a new location or a new ID, not for a renumbered bus', () => {
    const at = (bus: number, loc: string, id = '8086:100e') => ({ linuxNic: `enp${bus}s0`, windowsLocation: loc, pciId: id });
    expect(noticesFor(at(1, 'PCIROOT(0)#PCI(0201)#PCI(0000)'), at(2, 'PCIROOT(0)#PCI(0201)#PCI(0000)'))).toEqual(['Linux: NIC enp1s0 → enp2s0']);
    expect(noticesFor(at(1, 'A'), at(1, 'B'))).toEqual(['Windows: new device instance (location A → B)']);
    expect(noticesFor(at(1, 'A'), at(1, 'A', '10ec:8139'))).toEqual(['Windows: new device instance (ID 8086:100e → 10ec:8139)']);
    expect(noticesFor(at(1, 'A'), at(1, 'A'))).toEqual([]);
  });
});
