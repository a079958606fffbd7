/**
 * machinec on the real QEMU: every sample boots with its devices where the lock says, a wrong
 * lock is caught by `verify`, option escaping reaches QEMU intact, and the 2009 Fedora test
 * passes: removing a NIC does not move the other one, on pc and on q35, after firmware
 * enumeration, as the guest sees it.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, emit } from '../compiler/index.js';
import { withQemu } from '../cli/qemu/index.js';
import { runCli } from './support/cli.js';
import { guestView, qemuDescribe, QEMU, where } from './support/qemu.js';

const T = 60_000;
const SAMPLES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'samples');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-e2e-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Builds `source` against `lock` and returns the new lock and the guest view of the result. */
async function buildAndBoot(source: string, lock?: string) {
  const c = compile({ file: 'm.machine', source, lock: lock === undefined ? undefined : { file: 'm.machine.lock', text: lock } });
  if (!c.ok) throw new Error(c.diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n'));
  const argv = emit(c.spec!, c.machine!, { standIns: { fileExists: () => false, resolveFile: (p) => p } });
  return { lock: c.lockText!, machine: c.machine!, view: await guestView(argv) };
}

const nics = (model: string, ids: string[]) => ids.map((id) => `  device ${id}: ${model} { netdev = user }`).join('\n');

qemuDescribe('machinec on real QEMU', () => {
  const samples = readdirSync(SAMPLES).filter((f) => f.endsWith('.machine'));

  test.each(samples)('sample %s: machinec verify finds every device where the lock says', async (name) => {
    copyFileSync(join(SAMPLES, name), join(dir, name));
    const built = await runCli(['build', name], dir);
    expect(built.code).toBe(0);
    const r = await runCli(['verify', name, '--qemu', QEMU!], dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('every device is where the lock says');
    expect(r.code).toBe(0);
  }, 4 * T); // a UEFI sample boots OVMF under TCG: a minute on a loaded host

  test('office: the top-level devices sit where the compiler said, in the guest', async () => {
    const source = readFileSync(join(SAMPLES, 'office.machine'), 'utf8');
    const { view } = await buildAndBoot(source);
    // Independent facts: q35 video at 00:01.0; root ports packed from 02.0, one device each at 00.0.
    expect(where(view, 'video')).toBe('00:01.0');
    expect(where(view, 'rp1')).toBe('00:02.0');
    expect(where(view, 'nic0')).toBe('01:00.0');
    expect(where(view, 'disk0')).toBe('02:00.0');
    expect(where(view, 'usb')).toBe('03:00.0');
    expect(view.find((g) => g.qdevId === 'nic0')).toMatchObject({ vendor: 0x1af4, device: 0x1041 });
  }, T);

  test('a lock edited by hand (a slot changed) fails verify with a mismatch table', async () => {
    copyFileSync(join(SAMPLES, 'legacy.machine'), join(dir, 'legacy.machine'));
    expect((await runCli(['build', 'legacy.machine'], dir)).code).toBe(0);
    const lockPath = join(dir, 'legacy.machine.lock');
    writeFileSync(lockPath, readFileSync(lockPath, 'utf8').replace('pci 01:01.0 nic1 rtl8139 bus=bridge1 addr=01.0', 'pci 01:01.0 nic1 rtl8139 bus=bridge1 addr=07.0'));
    const r = await runCli(['verify', 'legacy.machine', '--qemu', QEMU!], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/device\s+locked\s+guest sees\s+problem/);
    expect(r.stdout).toMatch(/nic1\s+01:01\.0 10ec:8139\s+01:07\.0 10ec:8139\s+at another address/);
  }, T);

  test('a disk file named a,b.img is the file QEMU opens (comma escaping)', async () => {
    const image = join(dir, 'a,b.img');
    writeFileSync(image, Buffer.alloc(1024 * 1024));
    const source = `machine esc {\n  chipset = pc\n  device disk0: virtio-blk-pci { file = ${JSON.stringify(image)}, format = raw }\n}\n`;
    const c = compile({ file: 'esc.machine', source });
    expect(c.ok).toBe(true);
    expect(c.argv!.join(' ')).toContain(`file.filename=${image.replace(',', ',,')}`);
    const argv = emit(c.spec!, c.machine!, { standIns: { fileExists: () => true, resolveFile: (p) => p } });
    expect(argv).toContain(`driver=raw,node-name=drive-disk0,file.driver=file,file.filename=${image.replace(',', ',,')}`);
    const files = await withQemu({ qemu: QEMU, args: argv, paused: true }, async (h) => {
      const nodes = await h.qmp.execute<{ 'node-name': string; file: string }[]>('query-named-block-nodes');
      return nodes.map((n) => n.file);
    });
    expect(files).toContain(image);
  }, T);

  test('the 2009 Fedora test on pc: remove the first NIC, the second keeps 00:04.0', async () => {
    const both = await buildAndBoot(`machine seed {\n  chipset = pc\n${nics('e1000', ['nic1', 'nic2'])}\n}\n`);
    expect(where(both.view, 'nic1')).toBe('00:03.0');
    expect(where(both.view, 'nic2')).toBe('00:04.0');
    const after = await buildAndBoot(`machine seed {\n  chipset = pc\n${nics('e1000', ['nic2'])}\n}\n`, both.lock);
    expect(where(after.view, 'nic2')).toBe('00:04.0');
  }, T);

  test('the 2009 Fedora test on q35: remove the middle NIC, the third keeps bus 3', async () => {
    const three = await buildAndBoot(`machine seed {\n${nics('virtio-net-pci', ['nic1', 'nic2', 'nic3'])}\n}\n`);
    expect(where(three.view, 'nic3')).toBe('03:00.0');
    const after = await buildAndBoot(`machine seed {\n${nics('virtio-net-pci', ['nic1', 'nic3'])}\n}\n`, three.lock);
    expect(where(after.view, 'nic1')).toBe('01:00.0');
    expect(where(after.view, 'nic3')).toBe('03:00.0');
    expect(where(after.view, 'rp2')).toBe('00:02.1'); // the emptied root port stays, so bus 3 stays bus 3
  }, T);

  test('three edits in a row: every surviving device keeps its bus, slot and function in the guest', async () => {
    const versions = [
      `machine edits {\n${nics('virtio-net-pci', ['wan', 'lan'])}\n  device legacy: e1000 { netdev = user }\n  device disk: virtio-blk-pci { file = "d.img" }\n  device video: VGA\n}\n`,
      // 1. add devices before the others, of both kinds
      `machine edits {\n  device rng: virtio-rng-pci\n  device old: rtl8139 { netdev = user }\n${nics('virtio-net-pci', ['wan', 'lan'])}\n  device legacy: e1000 { netdev = user }\n  device disk: virtio-blk-pci { file = "d.img" }\n  device video: VGA\n}\n`,
      // 2. remove the first NIC and the first conventional device
      `machine edits {\n  device rng: virtio-rng-pci\n  device old: rtl8139 { netdev = user }\n${nics('virtio-net-pci', ['lan'])}\n  device disk: virtio-blk-pci { file = "d.img" }\n  device video: VGA\n}\n`,
      // 3. reorder, change a model, add a NIC that reuses the freed root port
      `machine edits {\n  device video: VGA\n  device disk: virtio-blk-pci { file = "d.img" }\n  device lan: e1000e { netdev = user }\n  device old: e1000 { netdev = user }\n  device rng: virtio-rng-pci\n  device wan2: virtio-net-pci { netdev = user }\n}\n`,
    ];
    const seen = new Map<string, string>();
    let lock: string | undefined;
    for (const source of versions) {
      const r = await buildAndBoot(source, lock);
      lock = r.lock;
      for (const d of r.machine.devices) {
        if (d.attachment !== 'pci') continue;
        const now = where(r.view, d.id);
        if (seen.has(d.id)) expect(`${d.id} ${now}`).toBe(`${d.id} ${seen.get(d.id)}`);
        seen.set(d.id, now);
      }
    }
    expect(seen.size).toBeGreaterThanOrEqual(8);
  }, 4 * T);
});

describe('machinec verify when QEMU is not usable', () => {
  const office = () => {
    copyFileSync(join(SAMPLES, 'office.machine'), join(dir, 'office.machine'));
    return 'office.machine';
  };

  test('QEMU missing: exit 2 with a hint', async () => {
    const r = await runCli(['verify', office(), '--qemu', '/nonexistent/qemu-system-x86_64'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[qemu-missing]');
    expect(r.stderr).toContain('apt-get install qemu-system-x86');
  });

  test('QEMU fails to start: exit 2 with its stderr', async () => {
    const fake = join(dir, 'fake-qemu');
    writeFileSync(fake, '#!/bin/sh\necho "qemu: could not load PC BIOS" >&2\nexit 1\n', { mode: 0o755 });
    const r = await runCli(['verify', office(), '--qemu', fake], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('could not load PC BIOS');
  });

  test('QEMU does not answer: exit 2 after --timeout, and nothing is left running', async () => {
    const fake = join(dir, 'silent-qemu');
    writeFileSync(fake, `#!/bin/sh\necho $$ >> ${join(dir, 'pids')}\nexec sleep 30\n`, { mode: 0o755 });
    const started = Date.now();
    const r = await runCli(['verify', office(), '--qemu', fake, '--timeout', '1'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[qemu-failed]');
    expect(Date.now() - started).toBeLessThan(15_000);
    const pids = readFileSync(join(dir, 'pids'), 'utf8').trim().split('\n').map(Number);
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  }, 20_000);
});
