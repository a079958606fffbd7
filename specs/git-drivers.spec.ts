/**
 * The git drivers with real git in temporary repositories, through the built CLI
 * (dist/machinec.mjs, as a user's git config would call it):
 * - `merge=machinec` (`machinec merge-lock %O %A %B %P`): two branches that each add a device to
 *   one machine merge, the merged lock passes `build --locked` and keeps the branches' addresses
 *   (when both took one address, the alphabetically first keeps it and the other is placed anew,
 *   the same whichever way the merge goes); a true clash stops the merge naming the device;
 * - `diff=machinec` (`machinec textconv`): `git diff` shows devices as the guest sees them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLock } from '../compiler/index.js';
import { tempFolder } from './support/temp.js';
import { freshBin } from './support/bin.js';

const here = import.meta.dirname ?? new URL('.', import.meta.url).pathname;
const BIN = freshBin();
const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e', NO_COLOR: '1' };

function repo(source: string) {
  const dir = tempFolder('machinec-git-');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const machinec = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  git('config', 'merge.machinec.name', 'machinec lock merge');
  git('config', 'merge.machinec.driver', `"${process.execPath}" "${BIN}" merge-lock %O %A %B %P`);
  git('config', 'diff.machinec.textconv', `"${process.execPath}" "${BIN}" textconv`);
  writeFileSync(join(dir, '.gitattributes'), '*.machine.lock merge=machinec diff=machinec\n');
  writeFileSync(join(dir, 'm.machine'), source);
  expect(machinec('build', 'm.machine').status).toBe(0);
  git('add', '.');
  git('commit', '-qm', 'base');
  /** On a new branch from main: edit the source, build, commit. */
  const branch = (name: string, edit: (s: string) => string) => {
    git('checkout', '-q', '-b', name, 'main');
    writeFileSync(join(dir, 'm.machine'), edit(readFileSync(join(dir, 'm.machine'), 'utf8')));
    expect(machinec('build', 'm.machine').status).toBe(0);
    git('commit', '-qam', name);
    return readLock(readFileSync(join(dir, 'm.machine.lock'), 'utf8'), 'l').lock!;
  };
  const merge = (into: string, from: string) => {
    git('checkout', '-q', into);
    return spawnSync('git', ['merge', '--no-edit', from], { cwd: dir, env, encoding: 'utf8' });
  };
  const lock = () => readLock(readFileSync(join(dir, 'm.machine.lock'), 'utf8'), 'l').lock!;
  return { dir, git, machinec, branch, merge, lock };
}

const BASE = (chipset: string) => `machine m {\n  chipset = ${chipset}\n  device nic0: e1000 { netdev = user }\n  device disk0: virtio-blk-pci { file = "d.img" }\n}\n`;
const addFirst = (line: string) => (s: string) => s.replace(/(chipset = \w+\n)/, `$1  ${line}\n`);
const addLast = (line: string) => (s: string) => s.replace(/\n}\n$/, `\n  ${line}\n}\n`);
const at = (m: { devices: readonly { id: string; guest?: { bus: number; slot: number; fn: number } }[] }, id: string) => {
  const g = m.devices.find((d) => d.id === id)?.guest;
  return g && `${g.bus}:${g.slot}.${g.fn}`;
};

describe('git merge driver', () => {
  test('two branches adding devices at different addresses: both addresses kept, build --locked passes', () => {
    const r = repo(BASE('pc'));
    const a = r.branch('a', addFirst('device nica: e1000 @ 08.0 { netdev = user }'));
    const b = r.branch('b', addLast('device nicb: rtl8139 { netdev = user }'));
    const m = r.merge('a', 'b');
    expect(m.status).toBe(0);
    expect(r.git('status', '--porcelain')).toBe('');
    const merged = r.lock();
    expect(at(merged, 'nica')).toBe(at(a, 'nica'));
    expect(at(merged, 'nicb')).toBe(at(b, 'nicb'));
    const built = r.machinec('build', 'm.machine', '--locked');
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
  });

  test('two branches each adding a NIC at the same first free address: distinct addresses, the same either way', () => {
    const results: string[] = [];
    for (const [into, from] of [['a', 'b'], ['b', 'a']]) {
      const r = repo(BASE('q35'));
      const a = r.branch('a', addFirst('device nica: virtio-net-pci { netdev = user }'));
      const b = r.branch('b', addLast('device nicb: virtio-net-pci { netdev = user }'));
      expect(at(a, 'nica')).toBe(at(b, 'nicb')); // the clash: both took the next root port
      const m = r.merge(into, from);
      expect(m.status).toBe(0);
      const merged = r.lock();
      expect(at(merged, 'nica')).toBe(at(a, 'nica'));
      expect(at(merged, 'nicb')).not.toBe(at(merged, 'nica'));
      expect(merged.devices.find((d) => d.id === 'nicb')!.pins.mac).toBe(b.devices.find((d) => d.id === 'nicb')!.pins.mac);
      const built = r.machinec('build', 'm.machine', '--locked');
      expect(built.stderr).toBe('');
      expect(built.status).toBe(0);
      results.push(readFileSync(join(r.dir, 'm.machine.lock'), 'utf8'));
    }
    expect(results[0]).toBe(results[1]);
  });

  test('one branch changes a QEMU option, the other adds a device with a quoted backend: the merged lock keeps both, reads strictly and passes build --locked', () => {
    for (const [into, from] of [['a', 'b'], ['b', 'a']]) {
      const r = repo(BASE('pc'));
      r.branch('a', addFirst('memory = 2G'));
      r.branch('b', addLast('device disk1: virtio-blk-pci { file = "my disk, 2.img" }'));
      const m = r.merge(into, from);
      expect(m.status).toBe(0);
      const text = readFileSync(join(r.dir, 'm.machine.lock'), 'utf8');
      const read = readLock(text, 'm.machine.lock');
      expect(read.diagnostics).toEqual([]);
      expect(read.lock!.options).toContainEqual(['-m', '2048M']);
      expect(read.lock!.options!.some(([o, v]) => o === '-blockdev' && v.includes('my disk,, 2.img'))).toBe(true);
      const built = r.machinec('build', 'm.machine', '--locked');
      expect(built.stderr).toBe('');
      expect(built.status).toBe(0);
    }
  });

  test('both branches change one QEMU option differently: a conflict naming it', () => {
    const r = repo(BASE('pc'));
    r.branch('a', addFirst('memory = 2G'));
    r.branch('b', addFirst('memory = 4G'));
    const m = r.merge('a', 'b');
    expect(m.status).not.toBe(0);
    expect(m.stdout + m.stderr).toMatch(/both branches change QEMU option -m differently \(ours: 2048M, theirs: 4096M\)/);
  });

  test('a true clash (one new id, two different devices) stops the merge naming the device', () => {
    const r = repo(BASE('pc'));
    r.branch('a', addFirst('device nic9: e1000 { netdev = user }'));
    r.branch('b', addLast('device nic9: rtl8139 { netdev = user }'));
    const m = r.merge('a', 'b');
    expect(m.status).not.toBe(0);
    expect(m.stdout + m.stderr).toMatch(/both branches add a device nic9, as different devices \(ours: e1000 at 00:05\.0, theirs: rtl8139 at 00:05\.0\)/);
    expect(r.git('diff', '--name-only', '--diff-filter=U')).toContain('m.machine.lock');
    expect(readFileSync(join(r.dir, 'm.machine.lock'), 'utf8')).toMatch(/^# conflict: both branches add a device nic9/);
  });
});

/** A whole VM: its machine-wide lock lines (firmware, cpu, smbios, qemu-args) and system devices (TPM, vmgenid). */
const VM = `machine w {
  chipset = q35
  cpu = Skylake-Client { hv-time = true }
  firmware = uefi { secure-boot = true }
  smbios = { manufacturer = "Acme", product = "Desk-1" }
  qemu-args = ["-global", "ICH9-LPC.disable_s3=1"]
  device tpm: tpm-crb {}
  device genid: vmgenid {}
  device nic0: e1000e { netdev = user, acpi-index = 1 }
}
`;
const vmLines = (text: string) => text.split('\n').filter((l) => /^(firmware|cpu|smbios|qemu-args) /.test(l));

describe('git merge driver on a whole VM', () => {
  test('one branch changes the SMBIOS values, the other adds a NIC: the machine-wide lines, the TPM, the GUID and acpi-index survive, build --locked passes', () => {
    const locks: string[] = [];
    for (const [into, from] of [['a', 'b'], ['b', 'a']]) {
      const r = repo(VM);
      const base = readFileSync(join(r.dir, 'm.machine.lock'), 'utf8');
      r.branch('a', (s) => s.replace('Desk-1', 'Desk-2'));
      const b = r.branch('b', addLast('device nic1: e1000e { netdev = user }'));
      const m = r.merge(into, from);
      expect(m.stdout + m.stderr).not.toMatch(/conflict|placed anew/);
      expect(m.status).toBe(0);
      const text = readFileSync(join(r.dir, 'm.machine.lock'), 'utf8');
      expect(vmLines(text)).toEqual(vmLines(base).map((l) => l.replace('Desk-1', 'Desk-2')));
      const merged = r.lock();
      for (const id of ['tpm', 'genid', 'nic0']) expect(merged.devices.find((d) => d.id === id)).toEqual(b.devices.find((d) => d.id === id));
      expect(merged.devices.find((d) => d.id === 'nic0')!.pins['acpi-index']).toBe('1');
      const built = r.machinec('build', 'm.machine', '--locked');
      expect(built.stderr).toBe('');
      expect(built.status).toBe(0);
      locks.push(text);
    }
    expect(locks[0]).toBe(locks[1]);
  });

  test('both branches change the SMBIOS values differently: a conflict naming the smbios line', () => {
    const r = repo(VM);
    r.branch('a', (s) => s.replace('Desk-1', 'Desk-2'));
    r.branch('b', (s) => s.replace('Desk-1', 'Desk-3'));
    const m = r.merge('a', 'b');
    expect(m.status).not.toBe(0);
    expect(m.stdout + m.stderr).toMatch(/both branches change the smbios line differently/);
  });
});

describe('git diff driver', () => {
  test('git diff shows the devices as the guest sees them', () => {
    const r = repo(BASE('pc'));
    writeFileSync(join(r.dir, 'm.machine'), BASE('pc').replace('nic0: e1000 {', 'nic0: e1000 @ 07.0 {'));
    expect(r.machinec('build', 'm.machine').status).toBe(0);
    const diff = r.git('diff', 'm.machine.lock');
    expect(diff).toMatch(/^-nic0 {2}e1000 {2}00:03\.0 {2}mac=52:54:00:[0-9a-f:]+ {2}linux=enp0s3 {2}windows=PCIROOT\(0\)#PCI\(0300\)$/m);
    expect(diff).toMatch(/^\+nic0 {2}e1000 {2}00:07\.0 {2}mac=52:54:00:[0-9a-f:]+ {2}linux=enp0s7 {2}windows=PCIROOT\(0\)#PCI\(0700\)$/m);
  });
});
