/**
 * The two VM samples, run by `machinec run` (the bundled CLI, as a user runs it) under TCG, and
 * checked against what QEMU, OVMF and swtpm report:
 * - samples/windows11.machine: OVMF secure boot (OVMF_CODE_4M.secboot.fd with OVMF_VARS_4M.ms.fd,
 *   smm=on) and an swtpm machinec starts; QMP says running, query-tpm lists tpm-crb, the guest's
 *   PCI view after OVMF numbered the buses is the lock's, the VARS copy in the state folder
 *   changes on the first boot and is the same file (not copied again) on the second run.
 * - samples/linux-server.machine: the forwarded host port accepts a connection, the 9p device
 *   is on the bus, the serial socket exists.
 * Each test works in its own temporary folder, with ports the OS hands out; the samples are copied
 * there and only their host-side paths and ports are rewritten (the lock is used as committed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readLock } from '../compiler/index.js';
import { compareGuestView } from '../compiler/index.js';
import { QmpClient, waitForStableGuestView } from '../cli/qemu/index.js';
import { qemuDescribe } from './support/qemu.js';
import { freshBin } from './support/bin.js';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const CLI = freshBin();
const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

interface Running {
  readonly child: ChildProcess;
  readonly qmp: QmpClient;
  stderr(): string;
  /** quit over QMP; resolves with machinec's exit code. */
  stop(): Promise<number | null>;
}

/** `machinec run --accel tcg FILE -- -qmp …` in `dir`, connected over QMP. */
async function run(dir: string, file: string): Promise<Running> {
  const sock = join(dir, `qmp-${Date.now()}.sock`);
  const child = spawn(process.execPath, [CLI, 'run', '--locked', '--accel', 'tcg', file, '--', '-qmp', `unix:${sock},server=on,wait=off`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => void (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let qmp: QmpClient;
  try {
    qmp = await QmpClient.connect(sock, { timeoutMs: 30_000, shouldAbort: () => (child.exitCode !== null ? new Error(`machinec run exited ${child.exitCode}: ${stderr}`) : undefined) });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    child,
    qmp,
    stderr: () => stderr,
    async stop() {
      // Bounded at every step: a QEMU that hangs in its shutdown (QEMU 7.2 under TCG can deadlock
      // when quit meets a pflash write) fails the test with null instead of hanging it, and is
      // never left running: a second SIGTERM makes machinec kill it (cli/signals.ts).
      const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, sleep(ms).then(() => 'timeout' as const)]);
      await within(qmp.execute('quit').catch(() => undefined), 10_000);
      await qmp.close().catch(() => undefined);
      const code = await within(exited, 20_000);
      if (code !== 'timeout') return code;
      child.kill('SIGTERM');
      await sleep(2_000);
      child.kill('SIGTERM');
      if ((await within(exited, 10_000)) === 'timeout') child.kill('SIGKILL');
      return null;
    },
  };
}

/**
 * The copy's edits (a socket for VNC, a raw image, free ports, fewer CPUs) change QEMU options,
 * which the lock records: build the copy once, and prove every line but the `option` lines (the
 * firmware, CPU and device pins run checks against) is the committed lock's.
 */
function relock(dir: string, file: string): void {
  const path = join(dir, `${file}.lock`);
  const pins = (text: string) => text.split('\n').filter((l) => !l.startsWith('option '));
  const committed = readFileSync(path, 'utf8');
  const r = spawnSync(process.execPath, [CLI, 'build', file], { cwd: dir, encoding: 'utf8' });
  expect({ status: r.status, stderr: r.stderr }).toMatchObject({ status: 0 });
  expect(pins(readFileSync(path, 'utf8'))).toEqual(pins(committed));
}

/** Whether a unix socket answers. */
const answers = (path: string): Promise<boolean> =>
  new Promise((done) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); done(true); });
    s.once('error', () => done(false));
  });

qemuDescribe('the VM samples under machinec run', () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  const scratch = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'machinec-vm-'));
    dirs.push(d);
    return d;
  };

  test('windows11: OVMF secure boot and swtpm; running, tpm-crb, the lock\'s PCI view, the VARS copy kept across runs', async () => {
    const dir = scratch();
    const rdp = await freePort(); // not the host's 3389: other specs start this sample too
    const source = readFileSync(join(root, 'samples', 'windows11.machine'), 'utf8')
      .replace('listen = "127.0.0.1:1"', `listen = "unix:${join(dir, 'vnc.sock')}"`)
      .replace('"win11.qcow2"', '"win11.img"')
      // Under TCG on two host cores OVMF takes ~70 s to number the buses with 8 vCPUs, ~20 s with 2
      // (measured): the copy keeps a two-level topology with fewer CPUs (only the lock's option lines change: relock).
      .replace('cpus = 8', 'cpus = 2')
      .replace('topology = { sockets = 1, cores = 4, threads = 2 }', 'topology = { sockets = 1, cores = 1, threads = 2 }')
      .replace('["tcp::3389-:3389", "udp::3389-:3389"]', `["tcp:127.0.0.1:${rdp}-:3389", "udp:127.0.0.1:${rdp}-:3389"]`);
    expect(source).toContain(`tcp:127.0.0.1:${rdp}-:3389`);
    writeFileSync(join(dir, 'windows11.machine'), source);
    copyFileSync(join(root, 'samples', 'windows11.machine.lock'), join(dir, 'windows11.machine.lock'));
    writeFileSync(join(dir, 'win11.img'), Buffer.alloc(1 << 20));
    writeFileSync(join(dir, 'Win11.iso'), Buffer.alloc(1 << 20));
    const lock = readLock(readFileSync(join(dir, 'windows11.machine.lock'), 'utf8'), 'lock').lock!;
    expect(lock.firmware?.code.path).toBe('/usr/share/OVMF/OVMF_CODE_4M.secboot.fd');
    expect(lock.firmware?.vars.path).toBe('/usr/share/OVMF/OVMF_VARS_4M.ms.fd');
    const nvram = join(dir, 'windows11.state', 'OVMF_VARS.fd');
    const template = lock.firmware!.vars.sha256!;

    relock(dir, 'windows11.machine');
    const first = await run(dir, 'windows11.machine');
    let afterFirst: string;
    try {
      expect(await first.qmp.execute('query-status')).toMatchObject({ running: true, status: 'running' });
      const tpm = await first.qmp.execute<{ model: string }[]>('query-tpm');
      expect(tpm.map((t) => t.model)).toEqual(['tpm-crb']);
      const genid = await first.qmp.execute<{ guid: string }>('query-vm-generation-id');
      expect(genid.guid).toBe(lock.devices.find((d) => d.id === 'genid')!.pins.guid);
      const cpus = await first.qmp.execute<{ props: { 'socket-id': number; 'core-id': number; 'thread-id': number } }[]>('query-cpus-fast');
      expect(cpus.map((c) => [c.props['socket-id'], c.props['core-id'], c.props['thread-id']])).toEqual([[0, 0, 0], [0, 0, 1]]);
      // The guest's PCI view once OVMF has numbered the buses.
      const view = await waitForStableGuestView(first.qmp, { timeoutMs: 90_000 });
      expect(compareGuestView(lock, view.devices).mismatches).toEqual([]);
      // OVMF writes its variables on the first boot: the copy is no longer the template.
      for (const start = Date.now(); sha(nvram) === template && Date.now() - start < 90_000; ) await sleep(500);
      expect(sha(nvram)).not.toBe(template);
      // Quit once OVMF has stopped writing them (3 s unchanged): quit during a pflash write can hang QEMU 7.2.
      for (let last = sha(nvram), since = Date.now(), start = Date.now(); Date.now() - since < 3_000 && Date.now() - start < 60_000; await sleep(500)) {
        if (sha(nvram) !== last) [last, since] = [sha(nvram), Date.now()];
      }
    } finally {
      expect(await first.stop()).toBe(0);
    }
    afterFirst = sha(nvram);
    const inode = statSync(nvram).ino;
    // swtpm ended with QEMU, and left the TPM's state behind.
    expect(await answers(join(dir, 'windows11.state', 'swtpm.sock'))).toBe(false);
    expect(existsSync(join(dir, 'windows11.state', 'tpm', 'tpm2-00.permall'))).toBe(true);

    const second = await run(dir, 'windows11.machine');
    try {
      expect(statSync(nvram).ino).toBe(inode);
      expect(await second.qmp.execute('query-status')).toMatchObject({ running: true });
      expect((await second.qmp.execute<{ model: string }[]>('query-tpm')).map((t) => t.model)).toEqual(['tpm-crb']);
    } finally {
      expect(await second.stop()).toBe(0);
    }
    // The same file: never copied from the template again (OVMF may have written to it meanwhile).
    expect(statSync(nvram).ino).toBe(inode);
    expect(sha(nvram)).not.toBe(template);
    expect(afterFirst).not.toBe(template);
  }, 420_000);

  test('linux-server: the forwarded port accepts a connection, the 9p device is on the bus, the serial socket exists', async () => {
    const dir = scratch();
    const [ssh, spice] = [await freePort(), await freePort()];
    mkdirSync(join(dir, 'www'));
    const source = readFileSync(join(root, 'samples', 'linux-server.machine'), 'utf8')
      .replace('"tcp::2222-:22"', `"tcp:127.0.0.1:${ssh}-:22"`)
      .replace('port = 5930', `port = ${spice}`)
      .replace('"/srv/www"', `"${join(dir, 'www')}"`)
      .replace('"web.qcow2"', '"web.img"');
    writeFileSync(join(dir, 'linux-server.machine'), source);
    copyFileSync(join(root, 'samples', 'linux-server.machine.lock'), join(dir, 'linux-server.machine.lock'));
    writeFileSync(join(dir, 'web.img'), Buffer.alloc(1 << 20));
    writeFileSync(join(dir, 'seed.iso'), Buffer.alloc(1 << 20));
    const lock = readLock(readFileSync(join(dir, 'linux-server.machine.lock'), 'utf8'), 'lock').lock!;

    relock(dir, 'linux-server.machine');
    const vm = await run(dir, 'linux-server.machine');
    try {
      expect(await vm.qmp.execute('query-status')).toMatchObject({ running: true });
      const view = await waitForStableGuestView(vm.qmp, { timeoutMs: 60_000 });
      expect(compareGuestView(lock, view.devices).mismatches).toEqual([]);
      const share = view.devices.find((d) => d.qdevId === 'share');
      expect(share && [share.vendor, share.device]).toEqual([0x1af4, 0x1049]); // virtio 9p, modern behind its root port
      expect(statSync(join(dir, 'web.serial')).isSocket()).toBe(true);
      const accepted = await new Promise<boolean>((done) => {
        const s = connect(ssh, '127.0.0.1');
        s.once('connect', () => { s.destroy(); done(true); });
        s.once('error', () => done(false));
      });
      expect(accepted).toBe(true);
    } finally {
      expect(await vm.stop()).toBe(0);
    }
  }, 180_000);
});
