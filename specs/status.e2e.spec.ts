/**
 * `machinec status` on the real QEMU 7.2 (TCG) and a real libvirtd: a q35 machine started with
 * `machinec run` exposes QMP on an owner-only socket, a second run is refused while it holds it,
 * status exits 0 in sync; a device hot-added by hand over that socket (`device_add`) and a MAC the
 * lock regenerated while the machine runs make status exit 1 naming them; once run ends the socket
 * is gone, no QEMU is left and status exits 2. The same machine exported to libvirt and started
 * with virsh is in sync, then drifts with `virsh attach-device --live`.
 */
import { createHash } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readLock } from '../compiler/index.js';
import { connectQmp } from '../cli/qemu/qmp.js';
import { freshBin } from './support/bin.js';
import { runCli } from './support/cli.js';
import { domainName, libvirtDescribe, libvirtGuestView, removeDomain, virsh } from './support/libvirt.js';
import { qemuDescribe } from './support/qemu.js';

const BIN = freshBin();
const T = 180_000;

const MACHINE = `machine drift {
  chipset = q35
  memory = 128M
  device nic0: e1000e { netdev = user }
  device disk0: virtio-blk-pci { file = "d.raw" }
  device spare: pcie-root-port
}
`;

let dir: string;
let runtime: string;
let env: Record<string, string | undefined>;
let run: ChildProcess | undefined;
const domains: string[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-status-'));
  runtime = mkdtempSync(join(tmpdir(), 'mc-xdg-'));
  env = { PATH: process.env.PATH, XDG_RUNTIME_DIR: runtime };
  writeFileSync(join(dir, 'drift.machine'), MACHINE);
  writeFileSync(join(dir, 'd.raw'), '');
  truncateSync(join(dir, 'd.raw'), 1 << 20);
});

afterEach(async () => {
  for (const pid of run?.pid ? childrenOf(run.pid) : []) process.kill(pid, 'SIGKILL');
  if (run && run.exitCode === null && run.signalCode === null) {
    run.kill('SIGKILL');
    await new Promise((done) => run!.once('exit', done));
  }
  run = undefined;
  for (const d of domains.splice(0)) removeDomain(d);
  rmSync(dir, { recursive: true, force: true });
  rmSync(runtime, { recursive: true, force: true });
});

/** The processes whose parent is `pid` (QEMU under machinec run). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        return readFileSync(`/proc/${p}/stat`, 'utf8')
          .replace(/^.*\) /, '')
          .split(' ')[1] === String(pid)
          ? [Number(p)]
          : [];
      } catch {
        return [];
      }
    });
}

const status = (...args: string[]) => runCli(['status', 'drift.machine', ...args], dir, env);

/** Waits until `check` holds, polling. */
async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  for (const start = Date.now(); !check(); await sleep(100)) if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
}

qemuDescribe('machinec status against a machine started with machinec run', () => {
  test(
    'in sync, refused a second run, drift by hand over the socket, gone when run ends',
    async () => {
      const hash = createHash('sha256')
        .update(realpathSync(join(dir, 'drift.machine')))
        .digest('hex')
        .slice(0, 8);
      const sock = join(runtime, 'machinec', `drift-${hash}.qmp`);
      run = spawn(process.execPath, [BIN, 'run', 'drift.machine', '--accel', 'tcg', '--', '-display', 'none'], {
        cwd: dir,
        env: { ...process.env, ...env },
        stdio: 'ignore',
      });
      await until('the QMP socket, owner-only', () => existsSync(sock) && (statSync(sock).mode & 0o777) === 0o600);
      expect(statSync(join(runtime, 'machinec')).mode & 0o777).toBe(0o700);

      const clean = await status();
      expect(clean.stderr).toBe('');
      expect(clean.code).toBe(0);
      expect(clean.stdout).toMatch(/in sync with the lock \(5 PCI devices, 2 MACs and serials compared\)/);

      const second = spawnSync(process.execPath, [BIN, 'run', 'drift.machine', '--accel', 'tcg', '--', '-display', 'none'], {
        cwd: dir,
        env: { ...process.env, ...env },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(second.status).toBe(1);
      expect(second.stderr).toMatch(/error\[qmp-socket\]: a running QEMU already holds the QMP socket/);

      // Drift made by hand, as an operator would: a NIC hot-added on the free root port.
      const qmp = await connectQmp(sock);
      await qmp.execute('device_add', { driver: 'e1000', id: 'extra', bus: 'spare', mac: '52:54:00:12:34:56' });
      const runningMac = await qmp.execute<string>('qom-get', { path: '/machine/peripheral/nic0', property: 'mac' });
      await qmp.close();
      const extra = await status('--format', 'json');
      expect(extra.code).toBe(1);
      const report = JSON.parse(extra.stdout) as { inSync: boolean; drift: { id: string; kind: string; running: string }[] };
      expect(report.inSync).toBe(false);
      expect(report.drift).toEqual([expect.objectContaining({ id: 'extra', kind: 'extra', running: '03:00.0 8086:100e [0200] extra' })]);

      // The definition moves on while the machine runs: nic0 gets another MAC in the lock, not in QEMU.
      writeFileSync(join(dir, 'drift.machine'), MACHINE.replace('e1000e { netdev = user }', 'e1000e {\n    netdev = user\n    mac = "52:54:00:aa:bb:cc"\n  }'));
      expect((await runCli(['lock', 'drift.machine'], dir, env)).code).toBe(0);
      const locked = readLock(readFileSync(join(dir, 'drift.machine.lock'), 'utf8'), 'drift.machine.lock').lock!.devices.find((d) => d.id === 'nic0')!.pins.mac;
      expect(locked).toBe('52:54:00:aa:bb:cc');
      expect(runningMac).not.toBe(locked);
      const moved = await status();
      expect(moved.code).toBe(1);
      expect(moved.stdout).toContain(`~ nic0: changed, locked mac=${locked}, running mac=${runningMac} (another MAC)`);
      expect(moved.stdout).toMatch(/\+ extra: extra/);
      const md = await status('--format', 'markdown');
      expect(md.stdout).toContain('| extra | extra | (not in the lock) | 03:00.0 8086:100e \\[0200\\] extra | unexpected device |');

      const qemus = childrenOf(run.pid!);
      expect(qemus.length).toBe(1);
      run.kill('SIGTERM');
      await new Promise((done) => run!.once('exit', done));
      expect(existsSync(sock)).toBe(false);
      expect(qemus.filter((p) => existsSync(`/proc/${p}`))).toEqual([]);
      const gone = await status();
      expect(gone.code).toBe(2);
      expect(gone.stderr).toMatch(/error\[not-running\]: drift.machine is not running: no QMP socket at/);
      expect(gone.stderr).toMatch(/hint: start it with `machinec run drift.machine`/);
    },
    T,
  );
});

qemuDescribe('machinec status against a machine that keeps state', () => {
  test(
    'a machine with a TPM exposes QMP as qmp.sock in its state folder, owner-only, removed by run when QEMU is killed',
    async () => {
      writeFileSync(join(dir, 'drift.machine'), MACHINE.replace('  device spare: pcie-root-port\n', '  device tpm: tpm-crb {}\n'));
      const sock = join(dir, 'drift.state', 'qmp.sock');
      run = spawn(process.execPath, [BIN, 'run', 'drift.machine', '--accel', 'tcg', '--', '-display', 'none'], {
        cwd: dir,
        env: { ...process.env, ...env },
        stdio: 'ignore',
      });
      await until('the QMP socket in the state folder, owner-only', () => existsSync(sock) && (statSync(sock).mode & 0o777) === 0o600);
      expect(existsSync(join(runtime, 'machinec'))).toBe(false);
      const clean = await status();
      expect(clean.code).toBe(0);
      expect(clean.stdout).toContain(`(QMP ${sock})`);
      // A QEMU killed outright removes nothing (on SIGTERM it removes its socket itself): run does.
      const qemu = childrenOf(run.pid!).filter((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('qemu-system'));
      expect(qemu.length).toBe(1);
      const exited = new Promise<number | null>((done) => run!.once('exit', (code) => done(code)));
      process.kill(qemu[0], 'SIGKILL');
      expect(await exited).toBe(137);
      expect(existsSync(sock)).toBe(false);
      expect((await status()).code).toBe(2);
    },
    T,
  );
});

libvirtDescribe('machinec status against a libvirt domain', () => {
  test(
    'an exported domain started with virsh is in sync, then drifts with virsh attach-device --live',
    async () => {
      const name = domainName();
      domains.push(name);
      const exported = await runCli(['export', 'libvirt', 'drift.machine', '--accel', 'tcg', '--name', name, '--out', 'domain.xml'], dir, env);
      expect(exported.code).toBe(0);
      virsh('define', join(dir, 'domain.xml'));
      virsh('start', name);
      await libvirtGuestView(name, 120_000); // the firmware has numbered the buses (the guest is paused there)
      const args = ['--connect', 'qemu:///system', '--domain', name];
      const clean = await status(...args);
      expect(clean.stderr).toBe('');
      expect(clean.code).toBe(0);
      expect(clean.stdout).toContain(`libvirt domain ${name} on qemu:///system`);

      // On the free root port: libvirt's index of its controller is the bus of the new NIC's address.
      const spare = /<controller type='pci' index='(\d+)' model='pcie-root-port'>(?:(?!<\/controller>)[\s\S])*<alias name='ua-spare'\/>/.exec(
        readFileSync(join(dir, 'domain.xml'), 'utf8'),
      )![1];
      const address = `<address type='pci' domain='0x0000' bus='${Number(spare)}' slot='0x00' function='0x0'/>`;
      writeFileSync(
        join(dir, 'nic.xml'),
        `<interface type='user'><mac address='52:54:00:12:34:56'/><model type='e1000'/><alias name='ua-extra'/>${address}</interface>\n`,
      );
      virsh('attach-device', name, join(dir, 'nic.xml'), '--live');
      const drifted = await status(...args, '--format', 'json');
      expect(drifted.code).toBe(1);
      const report = JSON.parse(drifted.stdout) as { drift: { id: string; kind: string }[] };
      expect(report.drift).toEqual([expect.objectContaining({ id: 'extra', kind: 'extra' })]);

      // Another machine's lock against this domain: refused by the SMBIOS UUID, not compared.
      writeFileSync(join(dir, 'other.machine'), MACHINE.replace('machine drift', 'machine other'));
      expect((await runCli(['build', 'other.machine'], dir, env)).code).toBe(0);
      const other = await runCli(['status', 'other.machine', ...args], dir, env);
      expect(other.code).toBe(2);
      expect(other.stderr).toMatch(/error\[other-machine\]: libvirt domain \S+ on qemu:\/\/\/system is another machine: its UUID is/);

      virsh('destroy', name);
      const down = await status(...args);
      expect(down.code).toBe(2);
      expect(down.stderr).toMatch(/error\[not-running\]: virsh cannot reach the domain/);
    },
    T,
  );
});
