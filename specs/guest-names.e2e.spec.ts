/**
 * The guest-name table (specs/support/guest-name-cases.ts) against the real QEMU: each machine
 * boots, the firmware numbers the buses, and the names are computed here from QMP `query-pci`
 * alone, applying udev's documented rules (systemd.net-naming-scheme(7): `enp<bus>s<slot>` in
 * decimal, `f<function>` on every function of a multifunction device; path_id's
 * `pci-DDDD:BB:SS.F`) and Windows' location path (the slot and function of each bridge on the
 * way), with no code from machinec's own rules. No guest OS is needed: the names are a function
 * of the bus numbers, slots and functions the guest reads, and those are what query-pci reports.
 */
import { compile, emit } from '../compiler/index.js';
import type { GuestPciDevice } from '../cli/qemu/index.js';
import { NAME_MACHINES } from './support/guest-name-cases.js';
import { guestView, qemuDescribe } from './support/qemu.js';

const hex = (n: number, w = 2) => n.toString(16).padStart(w, '0');

/** udev's path name, from the guest's view only. */
function udevPathName(view: readonly GuestPciDevice[], d: GuestPciDevice): string {
  const sameSlot = view.filter((o) => o.bus === d.bus && o.slot === d.slot).length;
  return `enp${d.bus}s${d.slot}${d.fn > 0 || sameSlot > 1 ? `f${d.fn}` : ''}`;
}

/** Windows' location path: walk up through the bridge whose secondary bus is the device's bus. */
function locationPath(view: readonly GuestPciDevice[], d: GuestPciDevice): string {
  const parts: string[] = [];
  for (let cur: GuestPciDevice | undefined = d; cur; cur = cur.bus === 0 ? undefined : view.find((b) => b.secondaryBus === cur!.bus)) {
    parts.unshift(`PCI(${(hex(cur.slot) + hex(cur.fn)).toUpperCase()})`);
  }
  return ['PCIROOT(0)', ...parts].join('#');
}

const pciPath = (d: GuestPciDevice) => `pci-0000:${hex(d.bus)}:${hex(d.slot)}.${d.fn}`;

qemuDescribe('guest names on the real QEMU', () => {
  test.each(NAME_MACHINES.map((m) => [m.name, m] as const))('%s: the table matches names computed from query-pci', async (_name, m) => {
    const built = compile({ file: `${m.name}.machine`, source: m.source });
    const argv = emit(built.spec!, built.machine!, { standIns: { fileExists: () => false, resolveFile: (p) => p } });
    const view = await guestView(argv);
    const byId = (id: string) => view.find((g) => g.qdevId === id);
    const seen: Record<string, object> = {};
    const expected: Record<string, object> = {};
    for (const c of m.cases) {
      expected[c.id] = { guest: c.guest, linux: c.linux, byPath: c.byPath, windows: c.windows };
      const d = byId(c.id);
      if (d) {
        const disk = c.byPath !== undefined;
        seen[c.id] = {
          guest: `${hex(d.bus)}:${hex(d.slot)}.${d.fn}`,
          linux: disk ? undefined : udevPathName(view, d),
          byPath: disk ? (/nvme/.test(c.byPath!) ? `${pciPath(d)}-nvme-1` : pciPath(d)) : undefined,
          windows: locationPath(view, d),
        };
      } else if (c.id === 'sd') {
        seen[c.id] = { guest: '-', linux: undefined, byPath: `${pciPath(byId('scsi')!)}-scsi-0:0:0:0`, windows: '' };
      } else if (c.id === 'hd') {
        // the chipset's own IDE controller (class 0x0101), first channel, master
        seen[c.id] = { guest: '-', linux: undefined, byPath: `${pciPath(view.find((g) => g.classId === 0x0101)!)}-ata-1.0`, windows: '' };
      }
    }
    expect(seen).toEqual(expected);
  }, 90_000);
});
