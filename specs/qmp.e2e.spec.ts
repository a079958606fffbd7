/**
 * End-to-end: the real-QEMU layer (cli/qemu) against the installed qemu-system-x86_64, and the
 * PCI numbering facts the compiler relies on, pinned down on real QEMU + SeaBIOS. No mocks.
 *
 * Bus-numbering rule observed (QEMU 7.2, SeaBIOS): the firmware numbers buses depth-first
 * (pre-order) walking each bus in (slot, function) order; every bridge or root port takes the
 * next number whether or not anything is behind it, and its whole subtree is numbered before its
 * next sibling. Command-line order does not matter.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, chmod, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  QmpError,
  QemuLaunchError,
  describeDevice,
  findByQdevId,
  findQemu,
  launchQemu,
  listMachineTypes,
  parseMachineHelp,
  qemuVersion,
  readGuestView,
  resolveMachineType,
  waitForStableGuestView,
  withQemu,
  type GuestPciDevice,
  type QemuHandle,
} from '../cli/qemu/index.js';
import { QEMU, qemuDescribe } from './support/qemu.js';


const Q35 = ['-machine', 'pc-q35-7.2', '-nodefaults', '-no-user-config', '-accel', 'tcg'];
const PC = ['-machine', 'pc-i440fx-7.2', '-nodefaults', '-no-user-config', '-accel', 'tcg'];
const T = 30_000;

/** `-device` args from compact specs; entries starting with '-' are split as raw args. */
function devs(...specs: string[]): string[] {
  return specs.flatMap((s) => (s.startsWith('-') ? s.split(' ') : ['-device', s]));
}

function rootPort(id: string, addr: string, n: number, multifunction = false): string {
  return `pcie-root-port,id=${id},bus=pcie.0,addr=${addr}${multifunction ? ',multifunction=on' : ''},chassis=${n},port=${n}`;
}

function nic(model: string, id: string, bus: string, addr: string): string[] {
  return devs(`-netdev user,id=net-${id}`, `${model},id=${id},bus=${bus},addr=${addr},netdev=net-${id}`);
}

/** Boot, wait for the firmware to number the buses, return the guest view. */
async function guestView(args: string[]): Promise<GuestPciDevice[]> {
  return withQemu({ qemu: QEMU, args, paused: true }, async (h) => (await waitForStableGuestView(h.qmp, { timeoutMs: 15_000 })).devices);
}

function at(view: readonly GuestPciDevice[], id: string): { bus: number; slot: number; fn: number; secondaryBus?: number } {
  const d = findByQdevId(view, id);
  if (!d) throw new Error(`${id} not in guest view:\n${view.map(describeDevice).join('\n')}`);
  return d.secondaryBus === undefined ? { bus: d.bus, slot: d.slot, fn: d.fn } : { bus: d.bus, slot: d.slot, fn: d.fn, secondaryBus: d.secondaryBus };
}

const suite = qemuDescribe;


suite('QMP client and launcher (real QEMU)', () => {
  test('greeting, capabilities, execute, QMP errors, interleaved events', async () => {
    await withQemu({ qemu: QEMU, args: [...Q35], paused: true }, async (h) => {
      expect(h.qmp.greeting?.QMP.version).toBeDefined();
      const v = await h.qmp.execute<{ qemu: { major: number; minor: number } }>('query-version');
      expect(v.qemu.major).toBeGreaterThanOrEqual(7);
      expect(await h.qmp.execute<{ running: boolean }>('query-status')).toMatchObject({ running: false, status: 'prelaunch' });

      await expect(h.qmp.execute('no-such-command')).rejects.toMatchObject({ errorClass: 'CommandNotFound' });
      await expect(h.qmp.execute('device_del', { id: 'nope' })).rejects.toBeInstanceOf(QmpError);

      // cont/stop emit RESUME/STOP events around the replies; replies must still match their requests,
      // also with several commands in flight at once.
      const [a, b, c] = await Promise.all([h.qmp.execute('cont'), h.qmp.execute('query-status'), h.qmp.execute('stop')]);
      expect(a).toEqual({});
      expect(b).toMatchObject({ running: true });
      expect(c).toEqual({});
      await h.qmp.waitForEvent('STOP', 5_000, true);
      expect(h.qmp.events.map((e) => e.event)).toEqual(expect.arrayContaining(['RESUME', 'STOP']));
      expect(await h.qmp.execute('query-status')).toMatchObject({ running: false });
    });
  }, T);

  test('a large reply (32 bridges, 31 devices) arrives whole, even when split across chunks', async () => {
    const args = [...Q35, ...devs(rootPort('rp1', '02.0', 1), 'pcie-pci-bridge,id=ppb,bus=rp1,addr=00.0')];
    for (let s = 1; s <= 31; s++) args.push(...devs(`virtio-rng-pci,id=rng${s},bus=ppb,addr=${s.toString(16)}.0`));
    await withQemu({ qemu: QEMU, args }, async (h) => {
      const { devices } = await waitForStableGuestView(h.qmp, { timeoutMs: 15_000 });
      const rngs = devices.filter((d) => d.qdevId.startsWith('rng'));
      expect(rngs).toHaveLength(31);
      expect(rngs.map((d) => d.slot)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
      expect(new Set(rngs.map((d) => d.bus))).toEqual(new Set([2]));
      console.log(`QMP stats for a 31-device query-pci: ${JSON.stringify(h.qmp.stats)}`);
    });
  }, T);

  test('launch failure rejects with QEMU stderr and leaves nothing behind', async () => {
    const err = await launchQemu({ qemu: QEMU, args: [...Q35, '-device', 'no-such-device,id=x'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QemuLaunchError);
    expect((err as QemuLaunchError).stderr).toMatch(/no-such-device/);
    expect((err as Error).message).toMatch(/QEMU stderr:[\s\S]*no-such-device/);
    expect((err as QemuLaunchError).dir).toMatch(/machinec-qemu-/);
    expect(existsSync((err as QemuLaunchError).dir!)).toBe(false);
  }, T);

  test('a missing binary rejects, not hangs', async () => {
    const err = await launchQemu({ qemu: '/nonexistent/qemu-system-x86_64', args: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QemuLaunchError);
    expect((err as Error).message).toMatch(/cannot start.*ENOENT/);
  }, T);

  test('a process that never opens the QMP socket is bounded by timeoutMs, killed, and its stderr reported', async () => {
    // A stand-in "QEMU" that prints to stderr and then sleeps: not a QMP mock, it never answers.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'machinec-spec-'));
    try {
      const fake = path.join(dir, 'silent-qemu');
      await writeFile(fake, '#!/bin/sh\necho "silent stand-in starting" >&2\nexec sleep 60\n');
      await chmod(fake, 0o755);
      const started = Date.now();
      const err = await launchQemu({ qemu: fake, args: [], timeoutMs: 800 }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(err).toBeInstanceOf(QemuLaunchError);
      expect((err as Error).message).toMatch(/did not answer on QMP within 800 ms/);
      expect((err as Error).message).toMatch(/silent stand-in starting/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, T);

  test('close() quits QEMU and removes the temp dir; withQemu closes when fn throws', async () => {
    let handle: QemuHandle | undefined;
    await expect(
      withQemu({ qemu: QEMU, args: [...PC] }, async (h) => {
        handle = h;
        expect(existsSync(path.join(h.dir, 'qmp.sock'))).toBe(true);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(handle).toBeDefined();
    const exit = await handle!.exited();
    expect(exit.code).toBe(0); // quit over QMP, not killed
    expect(existsSync(handle!.dir)).toBe(false);
    await handle!.close(); // idempotent
  }, T);
});

suite('guest view (real QEMU + SeaBIOS)', () => {
  test('q35: NIC behind the second root port is at 02:00.0; built-ins at 00:1f.0/.2/.3', async () => {
    const args = [...Q35, ...devs(rootPort('rp1', '02.0', 1, true), rootPort('rp2', '02.1', 2)), ...nic('virtio-net-pci', 'nic1', 'rp2', '00.0')];
    await withQemu({ qemu: QEMU, args, paused: true }, async (h) => {
      // Paused before the firmware: root ports are listed but unnumbered, nothing behind them yet.
      const early = await readGuestView(h.qmp);
      expect(at(early, 'rp1').secondaryBus).toBe(0);
      expect(findByQdevId(early, 'nic1')).toBeUndefined();

      const stable = await waitForStableGuestView(h.qmp, { timeoutMs: 15_000 });
      console.log(`q35 with 2 root ports: QEMU spawn to QMP ${h.startupMs} ms, cont to stable query-pci ${stable.elapsedMs} ms (${stable.polls} polls)`);
      const view = stable.devices;
      expect(at(view, 'rp1')).toEqual({ bus: 0, slot: 2, fn: 0, secondaryBus: 1 });
      expect(at(view, 'rp2')).toEqual({ bus: 0, slot: 2, fn: 1, secondaryBus: 2 });
      const nic1 = findByQdevId(view, 'nic1')!;
      expect(nic1).toMatchObject({ bus: 2, slot: 0, fn: 0, vendor: 0x1af4, device: 0x1041, classId: 0x0200 });

      const builtins = view.filter((d) => d.bus === 0 && d.slot === 0x1f).map((d) => [d.fn, d.vendor, d.device, d.classId, d.qdevId]);
      expect(builtins).toEqual([
        [0, 0x8086, 0x2918, 0x0601, ''], // ICH9 LPC (ISA bridge)
        [2, 0x8086, 0x2922, 0x0106, ''], // ICH9 AHCI
        [3, 0x8086, 0x2930, 0x0c05, ''], // ICH9 SMBus
      ]);
      expect(findByQdevId(view, '')).toMatchObject({ bus: 0, slot: 0, fn: 0, vendor: 0x8086, device: 0x29c0 }); // host bridge
      // sorted by (bus, slot, fn)
      const keys = view.map((d) => d.bus * 256 + d.slot * 8 + d.fn);
      expect(keys).toEqual([...keys].sort((x, y) => x - y));
    });
  }, T);

  test('an empty root port between two populated ones takes a bus number; removing it renumbers the later NIC 3 -> 2', async () => {
    const nics = [...nic('virtio-net-pci', 'nic1', 'rp1', '00.0'), ...nic('virtio-net-pci', 'nic2', 'rp3', '00.0')];
    const withEmpty = await guestView([...Q35, ...devs(rootPort('rp1', '02.0', 1, true), rootPort('rp2', '02.1', 2), rootPort('rp3', '02.2', 3)), ...nics]);
    expect(at(withEmpty, 'rp2').secondaryBus).toBe(2);
    expect(at(withEmpty, 'nic1')).toEqual({ bus: 1, slot: 0, fn: 0 });
    expect(at(withEmpty, 'nic2')).toEqual({ bus: 3, slot: 0, fn: 0 });

    const without = await guestView([...Q35, ...devs(rootPort('rp1', '02.0', 1, true), rootPort('rp3', '02.2', 3)), ...nics]);
    expect(at(without, 'nic1')).toEqual({ bus: 1, slot: 0, fn: 0 });
    expect(at(without, 'nic2')).toEqual({ bus: 2, slot: 0, fn: 0 });
  }, T);

  test('pc: pci-bridges are numbered depth-first in slot order, not command-line order', async () => {
    // Declared 06.0 first; 05.0 has a child bridge. Depth-first: 05.0 -> 1, its child -> 2, 06.0 -> 3
    // (breadth-first would give 06.0 -> 2; command-line order would give 06.0 -> 1).
    const view = await guestView([
      ...PC,
      ...devs('pci-bridge,id=b6,bus=pci.0,addr=06.0,chassis_nr=3', 'pci-bridge,id=b5,bus=pci.0,addr=05.0,chassis_nr=1', 'pci-bridge,id=b5c,bus=b5,addr=01.0,chassis_nr=2'),
      ...nic('e1000', 'nic1', 'b5c', '02.0'),
      ...nic('e1000', 'nic2', 'b6', '03.0'),
    ]);
    expect(at(view, 'b5')).toEqual({ bus: 0, slot: 5, fn: 0, secondaryBus: 1 });
    expect(at(view, 'b5c')).toEqual({ bus: 1, slot: 1, fn: 0, secondaryBus: 2 });
    expect(at(view, 'b6')).toEqual({ bus: 0, slot: 6, fn: 0, secondaryBus: 3 });
    expect(at(view, 'nic1')).toEqual({ bus: 2, slot: 2, fn: 0 });
    expect(at(view, 'nic2')).toEqual({ bus: 3, slot: 3, fn: 0 });
    // subordinate = highest bus below: b5 spans 1..2
    expect(findByQdevId(view, 'b5')!.subordinateBus).toBe(2);
  }, T);

  test('q35: root port -> pcie-pci-bridge -> pci-bridge subtree is numbered before the next root port function', async () => {
    const view = await guestView([
      ...Q35,
      ...devs(rootPort('rp2', '02.1', 2), rootPort('rp1', '02.0', 1, true)), // declared out of order on purpose
      ...devs('pcie-pci-bridge,id=ppb,bus=rp1,addr=00.0', 'pci-bridge,id=pb,bus=ppb,addr=01.0,chassis_nr=5'),
      ...nic('e1000', 'nic1', 'pb', '01.0'),
      ...nic('e1000', 'nic2', 'rp2', '00.0'),
      ...devs(rootPort('rp3', '03.0', 3)),
    ]);
    expect(at(view, 'rp1').secondaryBus).toBe(1);
    expect(at(view, 'ppb')).toEqual({ bus: 1, slot: 0, fn: 0, secondaryBus: 2 });
    expect(at(view, 'pb')).toEqual({ bus: 2, slot: 1, fn: 0, secondaryBus: 3 });
    expect(at(view, 'nic1')).toEqual({ bus: 3, slot: 1, fn: 0 });
    expect(at(view, 'rp2').secondaryBus).toBe(4);
    expect(at(view, 'nic2')).toEqual({ bus: 4, slot: 0, fn: 0 });
    expect(at(view, 'rp3').secondaryBus).toBe(5); // empty, still consumes a number
  }, T);

  test('e1000 (conventional PCI) works behind a pcie-root-port', async () => {
    const view = await guestView([...Q35, ...devs(rootPort('rp1', '02.0', 1)), ...nic('e1000', 'nic1', 'rp1', '00.0')]);
    expect(findByQdevId(view, 'nic1')).toMatchObject({ bus: 1, slot: 0, fn: 0, vendor: 0x8086, device: 0x100e });
  }, T);

  test('bridge slot 0: accepted at cold-plug on pci-bridge and pcie-pci-bridge; SHPC hotplug refuses it', async () => {
    // Cold-plug: QEMU 7.2 does NOT refuse slot 0 on either bridge.
    const cold = await guestView([
      ...Q35,
      ...devs(rootPort('rp1', '02.0', 1), 'pcie-pci-bridge,id=ppb,bus=rp1,addr=00.0', 'pci-bridge,id=pb,bus=ppb,addr=1f.0,chassis_nr=3'),
      ...nic('e1000', 'nic0', 'ppb', '00.0'),
      ...nic('e1000', 'nic1', 'ppb', '01.0'),
      ...nic('e1000', 'nic2', 'pb', '00.0'),
    ]);
    expect(at(cold, 'nic0')).toEqual({ bus: 2, slot: 0, fn: 0 });
    expect(at(cold, 'nic1')).toEqual({ bus: 2, slot: 1, fn: 0 });
    expect(at(cold, 'pb')).toEqual({ bus: 2, slot: 31, fn: 0, secondaryBus: 3 });
    expect(at(cold, 'nic2')).toEqual({ bus: 3, slot: 0, fn: 0 });

    // Hotplug through the bridge's own hotplug controller (SHPC; ACPI bridge hotplug off) refuses slot 0:
    // that is why slots 1..31 are the ones to use. (With the 7.2 default, ACPI hotplug, device_add at 0 is accepted.)
    for (const [machine, global, bridge] of [
      [Q35, 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off', [rootPort('rp1', '02.0', 1), 'pcie-pci-bridge,id=br,bus=rp1,addr=00.0']],
      [PC, 'PIIX4_PM.acpi-pci-hotplug-with-bridge-support=off', ['pci-bridge,id=br,bus=pci.0,addr=05.0,chassis_nr=1']],
    ] as const) {
      await withQemu({ qemu: QEMU, args: [...machine, '-global', global, ...devs(...bridge), '-netdev', 'user,id=h0', '-netdev', 'user,id=h1'] }, async (h) => {
        await waitForStableGuestView(h.qmp, { timeoutMs: 15_000 });
        await expect(h.qmp.execute('device_add', { driver: 'e1000', id: 'hp0', bus: 'br', addr: '0', netdev: 'h0' })).rejects.toThrow(
          /Unsupported PCI slot 0 for standard hotplug controller/,
        );
        await expect(h.qmp.execute('device_add', { driver: 'e1000', id: 'hp1', bus: 'br', addr: '1', netdev: 'h1' })).resolves.toEqual({});
      });
    }
  }, T);
});

suite('QEMU binary facts', () => {
  let cache: string;
  const savedXdg = process.env.XDG_CACHE_HOME;
  beforeAll(async () => {
    cache = await mkdtemp(path.join(os.tmpdir(), 'machinec-cache-spec-'));
    process.env.XDG_CACHE_HOME = cache;
  });
  afterAll(async () => {
    if (savedXdg === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedXdg;
    await rm(cache, { recursive: true, force: true });
  });

  test('machine types: aliases resolve to the versioned types; the result is cached', async () => {
    const version = await qemuVersion(QEMU!);
    const mt = await listMachineTypes(QEMU!);
    expect(mt.aliases.q35).toMatch(/^pc-q35-\d+\.\d+$/);
    expect(mt.aliases.pc).toMatch(/^pc-i440fx-\d+\.\d+$/);
    if (version.major === 7 && version.minor === 2) {
      expect(mt.aliases.q35).toBe('pc-q35-7.2');
      expect(mt.aliases.pc).toBe('pc-i440fx-7.2');
      expect(mt.defaultType).toBe('pc-i440fx-7.2');
    }
    expect(mt.types).toContain(mt.aliases.q35);
    expect(mt.types).toContain(mt.aliases.pc);
    expect(mt.types).not.toContain('q35');
    expect(resolveMachineType(mt, 'q35')).toBe(mt.aliases.q35);
    expect(resolveMachineType(mt, mt.aliases.q35)).toBe(mt.aliases.q35);
    expect(resolveMachineType(mt, 'nonsense')).toBeUndefined();

    const file = path.join(cache, 'machinec', 'qemu-machine-types.json');
    const stored = JSON.parse(await readFile(file, 'utf8'));
    expect(stored.entries[0].machineTypes).toEqual(mt);
    // A second call is answered from the cache (prove it by planting a marker in the cached entry).
    stored.entries[0].machineTypes.types.push('from-cache');
    await writeFile(file, JSON.stringify(stored));
    expect((await listMachineTypes(QEMU!)).types).toContain('from-cache');
    // A corrupt cache is ignored and rewritten.
    await writeFile(file, '{ not json');
    expect((await listMachineTypes(QEMU!)).types).not.toContain('from-cache');
    expect(JSON.parse(await readFile(file, 'utf8')).version).toBe(1);
  }, T);

  test('an unusable cache dir is not fatal', async () => {
    const blocker = path.join(cache, 'blocked');
    await mkdir(path.dirname(blocker), { recursive: true });
    await writeFile(blocker, 'a file where a directory should be');
    process.env.XDG_CACHE_HOME = blocker;
    try {
      expect((await listMachineTypes(QEMU!)).aliases.q35).toMatch(/^pc-q35-/);
    } finally {
      process.env.XDG_CACHE_HOME = cache;
    }
  }, T);

  test('qemuVersion and findQemu', async () => {
    const v = await qemuVersion(QEMU!);
    expect(v.major).toBeGreaterThanOrEqual(7);
    expect(v.text).toMatch(/^QEMU emulator version/);
    expect(findQemu(QEMU)).toBe(QEMU);
    expect(findQemu('qemu-system-x86_64')).toBe(QEMU);
    expect(findQemu('/nonexistent/qemu')).toBeUndefined();
  }, T);
});

describe('parsing QEMU output (no QEMU needed)', () => {
  test('-machine help parsing', () => {
    const mt = parseMachineHelp(
      [
        'Supported machines are:',
        'microvm              microvm (i386)',
        'pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)',
        'pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)',
        'q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)',
        'pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)',
        'none                 empty machine',
        '',
      ].join('\n'),
    );
    expect(mt).toEqual({
      types: ['microvm', 'pc-i440fx-7.2', 'pc-q35-7.2', 'none'],
      aliases: { pc: 'pc-i440fx-7.2', q35: 'pc-q35-7.2' },
      defaultType: 'pc-i440fx-7.2',
    });
  });
});
