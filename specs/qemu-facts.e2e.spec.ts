/**
 * The QEMU facts machinec keeps as data, checked against the installed QEMU itself.
 *
 * `busOwnerProperties`: a bridge or root port whose id is one of its own QOM properties makes
 * QEMU abort. Each listed name must abort QEMU as an id, the installed QEMU must list no other
 * property that is not listed (except `type`, which does not collide), and a plain id must start.
 *
 * `function-0-missing`: the guest's firmware (SeaBIOS here) never sees a device at function 1 of a
 * slot with nothing at function 0: it leaves that device's BARs unassigned, while it assigns those
 * of a device beside it at function 0.
 */
import { spawnSync } from 'node:child_process';
import { compile } from '../compiler/index.js';
import { busOwnerProperties } from '../compiler/qemu-facts.js';
import { QEMU, qemuDescribe } from './support/qemu.js';
import { withQemu } from '../cli/qemu/index.js';

const required: Record<string, string> = { 'pci-bridge': ',chassis_nr=1', 'pcie-root-port': ',chassis=1,port=1', 'pcie-pci-bridge': '' };

/** Runs QEMU with `args` and a QMP conversation on stdin; returns stdout+stderr. */
function qemu(args: readonly string[], qmp: readonly object[]): string {
  const input = [{ execute: 'qmp_capabilities' }, ...qmp, { execute: 'quit' }].map((c) => JSON.stringify(c)).join('\n');
  const r = spawnSync(QEMU!, ['-machine', 'q35', '-accel', 'tcg', '-nodefaults', '-display', 'none', '-S', '-qmp', 'stdio', ...args], { input, encoding: 'utf8', timeout: 30_000 });
  return `${r.stdout}${r.stderr}`;
}

const aborts = (model: string, id: string): boolean =>
  /duplicate property/.test(qemu(['-device', `${model},id=${id},bus=pcie.0,addr=02.0${required[model]}`], []));

function qomProperties(model: string): string[] {
  const out = qemu([], [{ execute: 'qom-list-properties', arguments: { typename: model } }]);
  for (const line of out.split('\n')) {
    const reply = (() => { try { return JSON.parse(line); } catch { return undefined; } })();
    if (Array.isArray(reply?.return)) return reply.return.map((p: { name: string }) => p.name).sort();
  }
  throw new Error(`no qom-list-properties answer for ${model}: ${out}`);
}

qemuDescribe('bus owners: an id that is one of their properties', () => {
  for (const model of Object.keys(busOwnerProperties)) {
    it(`${model}: every listed name aborts QEMU, and QEMU lists no other`, () => {
      const listed = [...busOwnerProperties[model]].sort();
      expect(listed.filter((id) => !aborts(model, id))).toEqual([]);
      expect(aborts(model, 'type')).toBe(false);
      expect(aborts(model, `${listed[0].replace(/[^a-z]/g, '')}1`)).toBe(false);
      expect(qomProperties(model).filter((p) => p !== 'type' && !busOwnerProperties[model].has(p))).toEqual([]);
    }, 120_000);
  }

  it('machinec refuses each of them before QEMU sees it', () => {
    for (const [model, names] of Object.entries(busOwnerProperties)) {
      for (const id of names) {
        const r = compile({ file: 'm.machine', source: `machine m {\n  chipset = q35\n  device ${id}: ${model}\n}\n` });
        expect([id, r.diagnostics.map((d) => d.code)]).toEqual([id, ['id-is-a-property']]);
      }
    }
  });
});

interface QueryPciDevice { qdev_id?: string; regions?: { address: number }[] }

qemuDescribe('function 0 missing: the firmware skips the slot', () => {
  it('SeaBIOS assigns no BAR of a device at 05.1 alone, and machinec refuses it', async () => {
    const args = ['-machine', 'q35', '-accel', 'tcg', '-nodefaults', '-device', 'virtio-rng-pci,id=alone,bus=pcie.0,addr=05.1', '-device', 'virtio-rng-pci,id=beside,bus=pcie.0,addr=06.0'];
    const bars = await withQemu({ qemu: QEMU!, args }, async ({ qmp }) => {
      for (const start = Date.now(); Date.now() - start < 60_000; await new Promise((r) => setTimeout(r, 200))) {
        const [bus] = (await qmp.execute('query-pci')) as { devices: QueryPciDevice[] }[];
        const of = (id: string) => bus.devices.find((d) => d.qdev_id === id)!.regions!.map((r) => r.address);
        if (of('beside').every((a) => a !== -1)) return { alone: of('alone'), beside: of('beside') };
      }
      throw new Error('the firmware assigned no BARs within 60 s');
    });
    expect(bars.alone.every((a) => a === -1)).toBe(true);
    const r = compile({ file: 'm.machine', source: 'machine m {\n  chipset = q35\n  device alone: virtio-rng-pci @ 05.1\n  device beside: virtio-rng-pci @ 06.0\n}\n' });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['function-0-missing']);
  }, 120_000);
});
