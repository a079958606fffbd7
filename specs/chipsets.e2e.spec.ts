/**
 * The chipset records (compiler/chipsets.ts), checked against the installed QEMU: what each
 * machine has on its root bus with -nodefaults, where its disk controller is and what class it
 * reports, the root bus's name and kind, how many buses and units its disk
 * controller has, the most CPUs and the machine type its alias resolves to (query-machines),
 * whether it has an ISA bridge, the binary's name; and the catalog's TPM models against
 * QEMU's `-device help`.
 */
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { tpmModels } from '../compiler/catalog.js';
import { chipsetNames, chipsets, chipsetOfMachineType, type Chipset } from '../compiler/chipsets.js';
import { QEMU, qemuDescribe } from './support/qemu.js';

interface QmpRun {
  readonly replies: { return?: unknown; error?: { desc: string } }[];
  readonly output: string;
}

/** Runs QEMU paused on `machine` with `args` and QMP `commands` on stdin. */
function qemu(machine: string, args: readonly string[], commands: readonly object[] = []): QmpRun {
  const input = [{ execute: 'qmp_capabilities' }, ...commands, { execute: 'quit' }].map((c) => JSON.stringify(c)).join('\n');
  const r = spawnSync(QEMU!, ['-machine', machine, '-accel', 'tcg', '-nodefaults', '-display', 'none', '-S', '-qmp', 'stdio', ...args], { input, encoding: 'utf8', timeout: 30_000 });
  const output = `${r.stdout}${r.stderr}`;
  const replies = output.split('\n').flatMap((line) => {
    try {
      const reply = JSON.parse(line);
      return 'return' in reply || 'error' in reply ? [reply] : [];
    } catch {
      return [];
    }
  });
  return { replies, output };
}

/** Whether QEMU starts with these devices (it answers the first QMP command). */
const starts = (machine: Chipset, args: readonly string[]): boolean => qemu(machine, args).replies.length > 0;

interface PciFunction { slot: number; function: number; class_info: { class: number } }

function rootFunctions(machine: Chipset): PciFunction[] {
  const [, pci] = qemu(machine, [], [{ execute: 'query-pci' }]).replies;
  const [bus] = pci.return as { bus: number; devices: PciFunction[] }[];
  return bus.devices;
}

const CLASS = { ide: 0x0101, sata: 0x0106, isaBridge: 0x0601 } as const;

qemuDescribe('the chipset records against QEMU', () => {
  const machines = qemu('none', [], [{ execute: 'query-machines' }]).replies[1].return as { name: string; alias?: string; 'cpu-max': number }[];
  const version = /version (\d+\.\d+)/.exec(spawnSync(QEMU!, ['--version'], { encoding: 'utf8' }).stdout)?.[1];

  for (const name of chipsetNames) {
    const chip = chipsets[name];
    describe(name, () => {
      test('the root bus holds the built-ins, the disk controller and the ISA bridge where the record says', () => {
        const found = rootFunctions(name);
        expect(found.map((f) => [f.slot, f.function])).toEqual(chip.builtins.map((b) => [b.slot, b.fn]));
        const disks = found.find((f) => f.slot === chip.diskController.addr.slot && f.function === chip.diskController.addr.fn);
        expect(disks?.class_info.class).toBe(CLASS[chip.diskController.libvirtType]);
        expect(found.some((f) => f.class_info.class === CLASS.isaBridge)).toBe(chip.isa);
      }, 60_000);

      test('the root bus is named as the record says, and is of the kind it says (QOM type PCIE or PCI)', () => {
        expect(starts(name, ['-device', `virtio-rng-pci,id=rng,bus=${chip.rootBus},addr=05.0`])).toBe(true);
        const [, type] = qemu(name, [], [{ execute: 'qom-get', arguments: { path: chip.rootBus, property: 'type' } }]).replies;
        expect(type.return).toBe(chip.rootBusKind === 'pcie' ? 'PCIE' : 'PCI');
        expect(chip.rootPorts).toBe(chip.rootBusKind === 'pcie');
      }, 60_000);

      test('the disk controller has the buses and units the record says, and no more', () => {
        const disk = (bus: string, unit: number) => ['-blockdev', 'driver=null-co,node-name=n0', '-device', `ide-hd,drive=n0,bus=${bus},unit=${unit}`];
        const last = chip.ideBuses[chip.ideBuses.length - 1];
        expect(starts(name, disk(last, chip.ideUnits - 1))).toBe(true);
        expect(starts(name, disk(last, chip.ideUnits))).toBe(false);
        expect(starts(name, disk(`ide.${chip.ideBuses.length}`, 0))).toBe(false);
      }, 60_000);

      test('query-machines: the most CPUs, and the machine type the alias resolves to', () => {
        const byAlias = machines.find((m) => m.alias === name);
        expect(byAlias?.['cpu-max']).toBe(chip.maxCpus);
        if (version === '7.2') expect(byAlias?.name).toBe(chip.defaultMachineType);
        expect(chipsetOfMachineType(byAlias!.name)).toBe(name);
        expect(chip.versionedType.test(byAlias!.name)).toBe(true);
      });

      test('the binary is the one the record names', () => {
        expect(basename(QEMU!)).toBe(chip.qemuBinary);
      });
    });
  }

  test("the catalog's TPM models are QEMU's", () => {
    const help = spawnSync(QEMU!, ['-device', 'help'], { encoding: 'utf8' });
    const qemuTpms = [...`${help.stdout}${help.stderr}`.matchAll(/^name "(tpm-[^"]+)"/gm)].map((m) => m[1]);
    expect([...tpmModels].sort()).toEqual(qemuTpms.sort());
  });
});
