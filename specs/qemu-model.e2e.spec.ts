/**
 * End-to-end: the QMP JSON printed from the machine model is what a real QEMU accepts. A machine
 * is started without some of its devices; their backends go in by `blockdev-add`, `netdev_add`
 * and `chardev-add`, the devices by `device_add`, each with the arguments the model gives; then
 * `query-pci` finds them where the command line would have put them and `qom-get` reads back
 * the string properties, commas and quotes included. And an NVMe disk whose serial ends in a
 * comma, exported to libvirt as `<qemu:commandline>`, starts with its serial and its drive.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, exportLibvirt } from '../compiler/index.js';
import { qemuModel, type StandIns } from '../compiler/emit.js';
import { printArgv } from '../compiler/qemu/argv.js';
import type { QemuArg, QemuModel } from '../compiler/qemu/model.js';
import { backendAdd, deviceAdd } from '../compiler/qemu/qmp.js';
import { findByQdevId, waitForStableGuestView, withQemu } from '../cli/qemu/index.js';
import { QEMU, qemuDescribe } from './support/qemu.js';
import { domainName, libvirtDescribe, libvirtQmp, removeDomain, virsh, virshWithin, writeQcow2 } from './support/libvirt.js';

const SOURCE = `machine hot {
  chipset = q35
  device disk0: virtio-blk-pci { file = "gone,1.qcow2", serial = "a,b\\"c=d,", bootindex = 2 }
  device nic0: virtio-net-pci { netdev = user }
  device ports: virtio-serial-pci {
    device con0: virtserialport { name = "org.x,y=\\"z\\"", chardev = null }
  }
}
`;

/** Stand-ins: no image exists, so the disk is a null-co node (what verify does). */
const standIns: StandIns = { fileExists: () => false, resolveFile: (p) => p };

/** Devices left out of the command line and added over QMP, with the backends they own. */
const HOTPLUGGED = new Set(['disk0', 'nic0', 'con0']);
const hotplugged = (a: QemuArg): boolean => (a.kind === 'device' && HOTPLUGGED.has(a.id)) || (a.kind === 'backend' && HOTPLUGGED.has(a.owner));

qemuDescribe('QMP JSON from the machine model, on a real QEMU', () => {
  test('blockdev-add, netdev_add, chardev-add and device_add take the model\'s arguments; qom-get reads the strings back', async () => {
    const b = compile({ file: 'hot.machine', source: SOURCE });
    expect(b.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const model = qemuModel(b.spec!, b.machine!, { standIns });
    const started: QemuModel = { args: model.args.filter((a) => !hotplugged(a)) };
    await withQemu({ qemu: QEMU, args: printArgv(started), paused: true }, async ({ qmp }) => {
      for (const a of model.args.filter(hotplugged)) {
        if (a.kind === 'backend') {
          const cmd = backendAdd(a);
          expect(cmd).toBeDefined();
          await qmp.execute(cmd!.execute, cmd!.arguments);
        } else if (a.kind === 'device') await qmp.execute('device_add', deviceAdd(a));
      }
      // The firmware numbers the buses; each added device is where the lock says the guest sees it.
      const view = (await waitForStableGuestView(qmp, { timeoutMs: 20_000 })).devices;
      for (const id of ['disk0', 'nic0']) {
        const seen = findByQdevId(view, id);
        const locked = b.machine!.devices.find((d) => d.id === id)!.guest!;
        expect(seen && [seen.bus, seen.slot, seen.fn]).toEqual([locked.bus, locked.slot, locked.fn]);
      }
      const qom = (id: string, property: string) => qmp.execute('qom-get', { path: `/machine/peripheral/${id}`, property });
      expect(await qom('disk0', 'serial')).toBe('a,b"c=d,');
      expect(await qom('disk0', 'drive')).toBe('drive-disk0');
      expect(await qom('nic0', 'mac')).toBe(b.machine!.devices.find((d) => d.id === 'nic0')!.pins.mac);
      expect(await qom('nic0', 'netdev')).toBe('net-nic0');
      expect(await qom('con0', 'name')).toBe('org.x,y="z"');
      expect(await qom('con0', 'chardev')).toBe('chr-con0');
    });
  }, 60_000);
});

libvirtDescribe('libvirt qemu:commandline from the machine model, on a real libvirtd', () => {
  test('an NVMe serial ending in a comma: the started domain\'s disk has that serial and its drive', () => {
    const dir = mkdtempSync(join(tmpdir(), 'machinec-model-'));
    const name = domainName();
    try {
      writeQcow2(join(dir, 'd.qcow2'));
      const source = 'machine m {\n  chipset = q35\n  memory = 256M\n  device disk0: nvme { file = "d.qcow2", serial = "abc," }\n}\n';
      const b = compile({ file: 'm.machine', source });
      const out = exportLibvirt({ spec: b.spec!, machine: b.machine!, baseDir: dir, name, qemuCommandline: true, accel: 'tcg' });
      writeFileSync(join(dir, 'domain.xml'), out.xml!);
      virsh('define', '--validate', join(dir, 'domain.xml'));
      virshWithin(240_000, 'start', name);
      const qom = (property: string) => libvirtQmp(name, 'qom-get', { path: '/machine/peripheral/ua-disk0', property });
      expect(qom('serial')).toBe('abc,');
      expect(qom('drive')).toBe('drive-disk0');
    } finally {
      removeDomain(name);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
