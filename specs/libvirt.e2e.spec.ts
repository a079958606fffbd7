/**
 * `machinec export libvirt` on a real libvirtd (9.0 here): every sample's export is defined and
 * started, and the guest's view (`virsh qemu-monitor-command … query-pci`) equals the lock, every
 * bus number, slot and function; edits through the repo flow (re-export, `virsh define` of the
 * new XML, start) keep every surviving device where it was; the 1,000-device q35 machine's export
 * defines and starts with every device where the lock says.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatGuestAddress, readLock, type PlacedMachine } from '../compiler/index.js';
import { compareGuestView } from '../compiler/index.js';
import type { GuestPciDevice } from '../cli/qemu/guest-view.js';
import { runCli } from './support/cli.js';
import { expectWholeVm } from './support/libvirt-vm.js';
import { domainName, libvirtDescribe, libvirtGuestView, removeDomain, virsh, virshWithin, writeQcow2 } from './support/libvirt.js';

const T = 300_000;
const SAMPLES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'samples');

let dir: string;
const domains: string[] = [];
const taps: string[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-libvirt-'));
});
afterEach(() => {
  for (const d of domains.splice(0)) removeDomain(d);
  for (const t of taps.splice(0)) spawnSync('ip', ['link', 'del', t]);
  rmSync(dir, { recursive: true, force: true });
});

/** A TCP port nobody listens on now (the OS's choice). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

/**
 * Creates every disk image the source names (empty qcow2 or sparse raw), a real tap for each tap
 * netdev (renamed to a unique one), a folder for each 9p share, and free ports for VNC and SPICE.
 */
async function provideBackends(file: string): Promise<void> {
  let source = readFileSync(join(dir, file), 'utf8');
  for (const m of source.matchAll(/file = "([^"]+)"/g)) {
    const path = join(dir, m[1]);
    if (/\.qcow2$/i.test(m[1])) writeQcow2(path);
    else {
      writeFileSync(path, '');
      truncateSync(path, 1 << 20);
    }
  }
  source = source.replace(/ifname = "([^"]+)"/g, () => {
    const tap = `mct${Math.random().toString(36).slice(2, 9)}`;
    const r = spawnSync('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip tuntap add ${tap}: ${r.stderr}`);
    taps.push(tap);
    return `ifname = "${tap}"`;
  });
  source = source.replace(/(virtio-9p-pci \{ path = )"[^"]+"/g, (_m, head: string) => {
    const share = mkdtempSync(join(dir, 'share-'));
    return `${head}"${share}"`;
  });
  const vnc = (await freePort()) - 5900;
  const spice = await freePort();
  source = source.replace(/listen = "127\.0\.0\.1:\d+"/, `listen = "127.0.0.1:${vnc > 0 ? vnc : 100}"`).replace(/spice \{ port = \d+ \}/, `spice { port = ${spice} }`);
  writeFileSync(join(dir, file), source);
}

/** Exports FILE (updating its lock like build), defines the XML under a fresh or given domain name, starts it and reads the guest view. */
async function exportAndStart(file: string, name = domainName(), extra: string[] = []): Promise<{ name: string; lock: PlacedMachine; view: GuestPciDevice[]; xml: string }> {
  const r = await runCli(['export', 'libvirt', file, '--accel', 'tcg', '--name', name, '--out', 'domain.xml', ...extra], dir);
  if (r.code !== 0) throw new Error(`export failed (${r.code}):\n${r.stderr}`);
  if (!domains.includes(name)) domains.push(name);
  spawnSync('virsh', ['-c', 'qemu:///system', 'destroy', name]);
  virsh('define', '--validate', join(dir, 'domain.xml'));
  virshWithin(540_000, 'start', name);
  const view = await libvirtGuestView(name);
  const lock = readLock(readFileSync(join(dir, `${file}.lock`), 'utf8'), `${file}.lock`).lock!;
  return { name, lock, view, xml: readFileSync(join(dir, 'domain.xml'), 'utf8') };
}

/** The lock and the guest agree on every PCI device: bus number, slot, function, vendor:device, bridge numbering; nothing extra. */
function expectGuestMatchesLock(lock: PlacedMachine, view: readonly GuestPciDevice[]): void {
  const { mismatches, checked } = compareGuestView(lock, view);
  expect(mismatches).toEqual([]);
  expect(checked).toBe(lock.devices.filter((d) => d.attachment === 'pci').length);
}

const where = (view: readonly GuestPciDevice[]): Map<string, string> => new Map(view.filter((g) => g.qdevId).map((g) => [g.qdevId, formatGuestAddress(g)]));

libvirtDescribe('machinec export libvirt on a real libvirtd', () => {
  const samples = readdirSync(SAMPLES).filter((f) => f.endsWith('.machine'));

  test.each(samples)('sample %s: defined and started, the guest sees every device where the lock says', async (name) => {
    copyFileSync(join(SAMPLES, name), join(dir, name));
    copyFileSync(join(SAMPLES, `${name}.lock`), join(dir, `${name}.lock`));
    await provideBackends(name);
    // A sample's tap gets a unique real interface here, so its lock's recorded -netdev option changes;
    // every device stays where the committed lock says.
    const committed = readLock(readFileSync(join(SAMPLES, `${name}.lock`), 'utf8'), `${name}.lock`).lock!;
    const domain = domainName();
    const { lock, view } = await exportAndStart(name, domain, ['--qemu-commandline']);
    expect(lock.devices).toEqual(committed.devices);
    expectGuestMatchesLock(lock, view);
    await expectWholeVm(domain, readFileSync(join(dir, name), 'utf8'), lock);
  }, T);

  const nics = (model: string, ids: string[]) => ids.map((id) => `  device ${id}: ${model} { netdev = user }`).join('\n');
  const machine = (chipset: string, body: string) => `machine m {\n  chipset = ${chipset}\n  memory = 256M\n${body}\n}\n`;
  const edits: [string, string, string][] = [
    ['pc: remove the first NIC', machine('pc', nics('e1000', ['n1', 'n2', 'n3'])), machine('pc', nics('e1000', ['n2', 'n3']))],
    ['q35: remove a middle NIC and add one', machine('q35', nics('virtio-net-pci', ['n1', 'n2', 'n3'])), machine('q35', nics('virtio-net-pci', ['n1', 'n3', 'n4']))],
    ['q35: reorder', machine('q35', `${nics('virtio-net-pci', ['a', 'b'])}\n  device d: virtio-blk-pci { file = "d.raw" }\n${nics('e1000', ['c'])}`), machine('q35', `${nics('e1000', ['c'])}\n  device d: virtio-blk-pci { file = "d.raw" }\n${nics('virtio-net-pci', ['b', 'a'])}`)],
    ['pc: change a model (e1000 to rtl8139)', machine('pc', nics('e1000', ['n1', 'n2'])), machine('pc', `${nics('rtl8139', ['n1'])}\n${nics('e1000', ['n2'])}`)],
    ['q35: change a model (virtio-net-pci to e1000e)', machine('q35', nics('virtio-net-pci', ['n1', 'n2'])), machine('q35', `${nics('e1000e', ['n1'])}\n${nics('virtio-net-pci', ['n2'])}`)],
  ];

  test.each(edits)('%s: re-export, virsh define, start: every surviving device keeps its guest address', async (_title, before, after) => {
    writeFileSync(join(dir, 'm.machine'), before);
    await provideBackends('m.machine');
    const first = await exportAndStart('m.machine');
    expectGuestMatchesLock(first.lock, first.view);
    writeFileSync(join(dir, 'm.machine'), after);
    const second = await exportAndStart('m.machine', first.name);
    expectGuestMatchesLock(second.lock, second.view);
    const was = where(first.view);
    const now = where(second.view);
    const survivors = [...now.keys()].filter((id) => was.has(id));
    expect(survivors.length).toBeGreaterThan(0);
    for (const id of survivors) expect(`${id} ${now.get(id)}`).toBe(`${id} ${was.get(id)}`);
  }, T);

  test('the 1,000-device q35 machine: its export defines and starts, every device where the lock says', async () => {
    const lines = ['machine big {', '  chipset = q35', '  memory = 512M'];
    for (let i = 0; i < 1000; i++) {
      const id = `d${i}`;
      if (i === 7) lines.push(`  device ${id}: virtio-balloon-pci`);
      else if (i >= 10 && i < 14) lines.push(`  device ${id}: ${i % 2 ? 'e1000' : 'rtl8139'} { netdev = user }`);
      else lines.push(['  device ID: virtio-rng-pci', '  device ID: virtio-net-pci { netdev = user }', '  device ID: virtio-blk-pci { file = "ID.img" }', '  device ID: virtio-net-pci { netdev = user }'][i % 4].replace(/ID/g, id));
    }
    writeFileSync(join(dir, 'big.machine'), [...lines, '}', ''].join('\n'));
    await provideBackends('big.machine');
    const { lock, view, xml } = await exportAndStart('big.machine');
    expect(lock.devices.filter((d) => d.attachment === 'pci').length).toBeGreaterThan(1100);
    expect(xml).toContain("model='pcie-root-port'");
    expectGuestMatchesLock(lock, view);
  }, 900_000);
});
