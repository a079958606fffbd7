/**
 * After `machinec rename`, the real QEMU runs the renamed machine (`machinec run`, which also
 * starts the TPM's swtpm) and says, over QMP, that the device is there under its new id and that
 * its backend link names a backend of the new id: `qom-get /machine/peripheral/newdev netdev` is
 * `net-newdev` for a NIC, `tpm-newdev` for a TPM's `tpmdev`, and nothing is left under the old id.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { connectQmp } from '../../cli/qemu/index.js';
import { BIN, cleanScratch, ensureBin, Q, runCli, scratch } from '../cli/harness.js';
import { QEMU, qemuDescribe } from '../support/qemu.js';
import { folder, FROM, machineFor, MODELS, TO } from './models.js';

/** The device properties through which QEMU links a device to its backend. */
const BACKEND_LINKS = ['netdev', 'drive', 'chardev', 'audiodev', 'tpmdev', 'fsdev'];

interface QomProperty {
  readonly name: string;
  readonly type: string;
}

/** `machinec run` on the machine in `dir`, paused, with a QMP socket; what QEMU says of the devices. */
async function runAndAsk(dir: string): Promise<{ peripherals: string[]; links: Record<string, unknown> }> {
  const sock = join(dir, 'qmp.sock');
  const args = [BIN, 'run', 'm.machine', '--qemu', QEMU!, '--', '-S', '-display', 'none', '-qmp', `unix:${sock},server=on,wait=off`];
  const run = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  run.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((done) => run.on('exit', done));
  try {
    const died = (): Error | undefined => (run.exitCode !== null ? new Error(`machinec run exited ${run.exitCode}: ${stderr}`) : undefined);
    const qmp = await connectQmp(sock, { timeoutMs: 30_000, shouldAbort: died });
    const listed = await qmp.execute<QomProperty[]>('qom-list', { path: '/machine/peripheral' });
    const peripherals = listed.filter((p) => p.type.startsWith('child<')).map((p) => p.name);
    const links: Record<string, unknown> = {};
    if (peripherals.includes(TO)) {
      const path = `/machine/peripheral/${TO}`;
      const own = await qmp.execute<QomProperty[]>('qom-list', { path });
      for (const p of own.filter((o) => BACKEND_LINKS.includes(o.name))) links[p.name] = await qmp.execute('qom-get', { path, property: p.name });
      // A disk's medium, by the device QEMU attached it to (a usb-storage hands its drive to a SCSI disk inside it).
      const blocks = await qmp.execute<{ qdev?: string; inserted?: { 'node-name'?: string } }[]>('query-block');
      for (const b of blocks.filter((x) => x.qdev?.startsWith(`/machine/peripheral/${TO}`))) links[`medium ${b.qdev}`] = b.inserted?.['node-name'] ?? '';
    }
    await qmp.execute('quit').catch(() => undefined);
    await qmp.close();
    await exited;
    return { peripherals, links };
  } finally {
    if (run.exitCode === null) run.kill('SIGKILL');
  }
}

qemuDescribe('a renamed device of every backend-owning model, as QEMU sees it', () => {
  let root: string;
  beforeAll(() => {
    ensureBin();
    root = scratch({}, 'machinec-rename-qemu-');
  });
  afterAll(cleanScratch);

  test.each(MODELS.map((m) => [m.model, m] as const))('%s', async (model, { spec }) => {
    const dir = folder(root, model, machineFor(model, spec));
    expect((await runCli(['build', 'm.machine', ...Q], dir)).code).toBe(0);
    expect((await runCli(['rename', 'm.machine', FROM, TO], dir)).code).toBe(0);
    const { peripherals, links } = await runAndAsk(dir);
    expect(peripherals).toContain(TO);
    expect(peripherals).not.toContain(FROM);
    // Each backend link QEMU reports names the new id (or is empty: a usb-storage's own drive, given to its SCSI disk).
    const values = Object.values(links);
    expect(values.length).toBeGreaterThan(0);
    for (const v of values) expect(v).toMatch(new RegExp(`^([a-z]+-)?${TO}$|^$`));
    expect(values.some((v) => new RegExp(`^[a-z]+-${TO}$`).test(String(v)))).toBe(true);
  }, 60_000);
});
