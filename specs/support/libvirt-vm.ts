/**
 * The whole VM as a libvirt-started QEMU reports it, against what machinec locked and emits:
 * the SMBIOS UUID, vmgenid GUID, TPM, firmware images and SMM, the CPU (every CPUID word and
 * the topology, compared with a QEMU started from machinec's own -machine/-cpu/-smp), SMBIOS
 * type 1, the VNC/SPICE listener, the serial console on ttyS0, port forwards, 9p tags,
 * acpi-index and qemu-args.
 */
import { withQemu } from '../../cli/qemu/index.js';
import type { PlacedMachine } from '../../compiler/index.js';
import { QEMU } from './qemu.js';
import { libvirtQemuArgv, libvirtQmp, virsh } from './libvirt.js';

type Qmp = (execute: string, args?: Record<string, unknown>) => Promise<unknown>;

const CPU_PROPS = ['feature-words', 'filtered-features', 'vendor', 'model-id', 'family', 'model', 'stepping', 'level', 'xlevel', 'hv-relaxed', 'hv-vapic', 'hv-time', 'hv-spinlocks', 'hv-vpindex'];

/** What the guest's CPUs are: each one's socket/core/thread, and CPU 0's CPUID words and model properties. */
async function cpuFacts(qmp: Qmp): Promise<Record<string, unknown>> {
  const cpus = (await qmp('query-cpus-fast')) as { props: Record<string, number>; 'qom-path': string }[];
  const facts: Record<string, unknown> = { topology: cpus.map((c) => c.props) };
  for (const property of CPU_PROPS) facts[property] = await qmp('qom-get', { path: cpus[0]['qom-path'], property });
  return facts;
}

const option = (lock: PlacedMachine, name: string): string | undefined => lock.options?.find(([o]) => o === name)?.[1];

/** The CPU machinec itself gives QEMU (the lock's -cpu and -smp under its machine type), paused, no firmware run. */
async function machinecCpu(lock: PlacedMachine): Promise<Record<string, unknown>> {
  const args = ['-machine', lock.machineType, '-accel', 'tcg', '-nodefaults', '-smp', option(lock, '-smp') ?? '1'];
  if (option(lock, '-cpu')) args.push('-cpu', option(lock, '-cpu')!);
  return withQemu({ qemu: QEMU, args, paused: true }, (h) => cpuFacts((c, a) => h.qmp.execute(c, a)));
}

/** The type=1 `key=value` pairs of the `-smbios` libvirt passed (its own uuid= left out after checking it). */
function smbiosPassed(argv: readonly string[], uuid: string): Record<string, string> | undefined {
  const i = argv.findIndex((a, n) => a === '-smbios' && argv[n + 1]?.startsWith('type=1'));
  if (i < 0) return undefined;
  const pairs = Object.fromEntries(argv[i + 1].split(',').slice(1).map((kv) => kv.split('=') as [string, string]));
  expect(pairs.uuid ?? uuid).toBe(uuid);
  delete pairs.uuid;
  return pairs;
}

/** `hostfwd` rules of the source (`tcp::2222-:22`) as `info usernet` prints them: `TCP 2222 22`. */
function forwards(source: string): string[] {
  return [...source.matchAll(/"(tcp|udp):[^:]*:(\d+)-[^:]*:(\d+)"/g)].map((m) => `${m[1].toUpperCase()} ${m[2]} ${m[3]}`).sort();
}

function usernetForwards(name: string): string[] {
  const out = virsh('qemu-monitor-command', name, '--hmp', 'info usernet');
  return [...out.matchAll(/(TCP|UDP)\[HOST_FORWARD\]\s+\d+\s+\S*\s+(\d+)\s+\S+\s+(\d+)/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`).sort();
}

export async function expectWholeVm(name: string, source: string, lock: PlacedMachine): Promise<void> {
  const qmp: Qmp = async (c, a) => libvirtQmp(name, c, a);
  expect((await qmp('query-uuid')) as { UUID: string }).toEqual({ UUID: lock.uuid });
  const genid = lock.devices.find((d) => d.model === 'vmgenid');
  if (genid) expect(await qmp('query-vm-generation-id')).toEqual({ guid: genid.pins.guid });
  const tpms = (await qmp('query-tpm')) as { model: string }[];
  expect(tpms.map((t) => t.model)).toEqual(lock.devices.filter((d) => d.model.startsWith('tpm-')).map((d) => d.model));
  const argv = libvirtQemuArgv(name);
  if (lock.firmware) {
    const nodes = (await qmp('query-named-block-nodes')) as { file: string; ro: boolean; drv: string }[];
    expect(nodes.some((n) => n.file === lock.firmware!.code.path && n.ro)).toBe(true);
    expect(nodes.some((n) => n.file.endsWith('/OVMF_VARS.fd') && !n.ro)).toBe(true);
    expect(await qmp('qom-get', { path: '/machine', property: 'smm' })).toBe(lock.firmware.secureBoot ? 'on' : 'auto');
  }
  expect(await cpuFacts(qmp)).toEqual(await machinecCpu(lock));
  expect(smbiosPassed(argv, lock.uuid)).toEqual(lock.smbios);
  const vnc = /display = vnc \{ listen = "([\d.]+):(\d+)" \}/.exec(source);
  if (vnc) expect(await qmp('query-vnc')).toMatchObject({ enabled: true, host: vnc[1], service: String(5900 + Number(vnc[2])) });
  const spice = /display = spice \{ port = (\d+) \}/.exec(source);
  if (spice) expect(await qmp('query-spice')).toMatchObject({ enabled: true, port: Number(spice[1]) });
  const serial = /serial = socket \{ path = "([^"]+)" \}/.exec(source);
  if (serial) {
    expect(await qmp('qom-get', { path: '/machine/peripheral/ua-ttyS0', property: 'index' })).toBe(0);
    const chardevs = (await qmp('query-chardev')) as { label: string; filename: string }[];
    expect(chardevs.find((c) => c.label === 'charua-ttyS0')?.filename).toMatch(new RegExp(`^(disconnected:)?unix:.*/${serial[1]},server=on`));
  }
  expect(usernetForwards(name)).toEqual(forwards(source));
  for (const d of lock.devices) {
    if (d.pins['acpi-index']) expect(await qmp('qom-get', { path: `/machine/peripheral/ua-${d.id}`, property: 'acpi-index' })).toBe(Number(d.pins['acpi-index']));
    if (d.model === 'virtio-9p-pci') expect(await qmp('qom-get', { path: `/machine/peripheral/ua-${d.id}/virtio-backend`, property: 'mount_tag' })).toBe(new RegExp(`device ${d.id}: virtio-9p-pci \\{[^}]*tag = "([^"]+)"`).exec(source)?.[1] ?? d.id);
  }
  const extra = lock.qemuArgs ?? [];
  if (extra.length) expect(argv.join('\n')).toContain(extra.join('\n'));
}
