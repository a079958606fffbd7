/**
 * Orphans, and import of a virtserialport, on the real QEMU: kill
 * machinec during `verify` of a 1,000-device machine, during `run`, and during `import`, and no
 * QEMU process and no /tmp/machinec-qemu-* folder survives; machinec exits 128 + the signal (run:
 * QEMU's status when it fails, else 128 + the signal). A QEMU that aborts gives `run` 128 + its signal, not 128.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from './support/cli.js';
import { qemuDescribe } from './support/qemu.js';
import { freshBin } from './support/bin.js';

const BIN = freshBin();
const T = 120_000;

let dir: string;
let tmp: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-signals-'));
  tmp = mkdtempSync(join(tmpdir(), 'machinec-signals-tmp-')); // machinec's TMPDIR: its folders are counted here
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

function machine(count: number): string {
  const lines = ['machine big {', '  chipset = q35', '  memory = 512M'];
  for (let i = 0; i < count; i++) lines.push(i % 2 ? `  device d${i}: virtio-net-pci { netdev = user }` : `  device d${i}: virtio-rng-pci`);
  return [...lines, '}', ''].join('\n');
}

/** QEMU processes whose parent is `pid` or that carry `marker` on their command line. */
function qemus(marker: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') || cmd.includes('/qemu-system')) if (cmd.includes(marker)) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

/** Starts machinec, waits until a QEMU of it runs, then `afterMs` (or, with 'between', until that QEMU has gone), sends `signal`. */
async function killDuring(args: string[], signal: NodeJS.Signals, marker: string, afterMs: number | 'between' = 300): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, sig) => r({ code, signal: sig })));
  for (let i = 0; i < 600 && !qemus(marker).length; i++) await sleep(50);
  expect(qemus(marker).length).toBe(1);
  if (afterMs === 'between') {
    const [first] = qemus(marker);
    while (existsSync(`/proc/${first}`) && child.exitCode === null) await sleep(2);
  } else await sleep(afterMs);
  child.kill(signal);
  const result = await Promise.race([exited, sleep(30_000).then(() => ({ code: -1, signal: null }))]);
  return result;
}

/** `machinec run` of a small machine, once its QEMU (named `marker` in `dir`) is running. */
function catchesSigterm(pid: number): boolean {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0';
    return (BigInt(`0x${mask}`) >> 14n) & 1n ? true : false; // SIGTERM is signal 15, bit 14
  } catch {
    return false;
  }
}

async function runningQemu(name: string) {
  writeFileSync(join(dir, 'm.machine'), 'machine m {\n  accel = tcg\n  display = none\n}\n');
  const marker = join(dir, name);
  const child = spawn(process.execPath, [BIN, 'run', 'm.machine', '--', '-S', '-name', marker], { cwd: dir, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  for (let i = 0; i < 600 && !qemus(marker).length; i++) await sleep(50);
  // Until QEMU has set its own SIGTERM handler a SIGTERM ends it outright, even stopped (a loaded
  // machine showed it): wait for the handler (the SIGTERM bit of /proc/PID/status SigCgt).
  for (let i = 0; i < 600 && qemus(marker).length && !catchesSigterm(qemus(marker)[0]); i++) await sleep(50);
  return { marker, child, exited };
}

qemuDescribe('signals reach QEMU; nothing is left behind', () => {
  it.each([['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const)('%s during verify of the 1,000-device machine', async (signal, status) => {
    writeFileSync(join(dir, 'big.machine'), machine(1000));
    expect((await runCli(['build', 'big.machine'], dir)).code).toBe(0);
    const r = await killDuring(['verify', 'big.machine', '--timeout', '60'], signal, tmp);
    expect(r).toEqual({ code: status, signal: null });
    await sleep(200);
    expect(qemus(tmp)).toEqual([]);
    expect(readdirSync(tmp).filter((f) => f.startsWith('machinec-qemu-'))).toEqual([]);
  }, T);

  it('SIGTERM during run: QEMU is stopped and machinec exits with its status', async () => {
    writeFileSync(join(dir, 'm.machine'), 'machine m {\n  accel = tcg\n  display = none\n}\n');
    const marker = join(dir, 'marker-run');
    const r = await killDuring(['run', 'm.machine', '--', '-S', '-name', marker], 'SIGTERM', marker);
    // QEMU ends on SIGTERM with status 0 ("terminating on signal 15"); machinec reports the signal, as a shell would.
    expect(r).toEqual({ code: 143, signal: null });
    expect(qemus(marker)).toEqual([]);
  }, T);

  it('run: a second SIGTERM kills a QEMU that does not end on the first (stopped, or deadlocked in its shutdown)', async () => {
    const { marker, child, exited } = await runningQemu('marker-hung');
    const [qemu] = qemus(marker);
    process.kill(qemu, 'SIGSTOP'); // a stopped QEMU cannot act on SIGTERM, as a deadlocked one does not
    child.kill('SIGTERM');
    await sleep(1_000);
    expect([child.exitCode, qemus(marker)]).toEqual([null, [qemu]]); // machinec waits for QEMU, as it should
    child.kill('SIGTERM');
    expect(await Promise.race([exited, sleep(30_000).then(() => 'still running')])).toBe(137); // 128 + SIGKILL
    expect(qemus(marker)).toEqual([]);
  }, T);

  it('run: a QEMU killed by a signal gives 128 + that signal, not 128', async () => {
    const { marker, exited } = await runningQemu('marker-abort');
    for (const pid of qemus(marker)) process.kill(pid, 'SIGABRT');
    expect(await exited).toBe(134);
  }, T);

  // import runs two QEMUs one after the other (the original, then the built import): a signal at
  // any moment, also between them, leaves nothing behind (CI once caught a folder left in between).
  it('SIGTERM during import, early to late: no QEMU, no folder, nothing written', async () => {
    const codes: (number | null)[] = [];
    for (const afterMs of ['between', 0, 150, 300, 450, 600, 800] as const) {
      const out = join(dir, `out-${afterMs}`);
      const r = await killDuring(['import', '--name', 'vm', '--out', out, '--', 'qemu-system-x86_64', '-M', 'q35', '-m', '256', '-name', 'imp'], 'SIGTERM', tmp, afterMs);
      codes.push(r.code);
      expect(r.signal).toBeNull();
      await sleep(100);
      expect(qemus(tmp)).toEqual([]);
      expect(readdirSync(tmp).filter((f) => f.startsWith('machinec-qemu-'))).toEqual([]);
      // Either the signal came first (143, nothing written) or import had finished (0, both files).
      if (r.code === 143) expect(readdirSync(dir).includes(`out-${afterMs}`) ? readdirSync(out).filter((f) => f.startsWith('vm.')) : []).toEqual([]);
      else expect([r.code, readdirSync(out).sort()]).toEqual([0, ['vm.machine', 'vm.machine.lock']]);
    }
    expect(codes.slice(0, 3)).toEqual([143, 143, 143]);
  }, 4 * T);
});

qemuDescribe('import carries a virtserialport', () => {
  it('virtio-serial-pci with a virtserialport imports (it was "unknown" while listed as known)', async () => {
    const r = spawnSync(process.execPath, [BIN, 'import', '--name', 'vs', '--', 'qemu-system-x86_64', '-M', 'q35', '-m', '256', '-device', 'virtio-serial-pci,id=vser', '-chardev', 'null,id=c0', '-device', 'virtserialport,chardev=c0,bus=vser.0,id=ch0'], { cwd: dir, encoding: 'utf8', timeout: 90_000 });
    expect(r.stderr).not.toMatch(/cannot describe/);
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'vs.machine'), 'utf8')).toMatch(/device vser: virtio-serial-pci @ [0-9a-f.]+ \{\n\s+device ch0: virtserialport \{ chardev = null \}/);
  }, T);
});
