/**
 * Renames in review: `machinec rename` keeps the address, MAC and serial, and `diff` recognises
 * the device under its new id (same model, same MAC or serial, or the same place), so
 * `rename` then `diff --git HEAD` shows one `~ OLD renamed NEW, stays at …` line and exits 0.
 * Real git, in a temporary repository.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { comparePlacements, readLock } from '../compiler/index.js';
import { runCli } from './support/cli.js';
import { tempFolder } from './support/temp.js';

const ROUTER = `machine router {
  chipset = pc
  device wan: e1000 { netdev = user }
  device lan3: e1000 { netdev = user }
  device usb: piix3-usb-uhci {
    device tablet: usb-tablet {}
  }
  device disk: virtio-blk-pci { file = "r.qcow2" }
}
`;

describe('rename, then diff --git HEAD', () => {
  const setup = async () => {
    const dir = tempFolder('machinec-rename-');
    const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' };
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe', env });
    git('init', '-q');
    writeFileSync(join(dir, 'router.machine'), ROUTER);
    expect((await runCli(['build', 'router.machine'], dir)).code).toBe(0);
    git('add', '.');
    git('commit', '-qm', 'router');
    return { dir, git };
  };

  test('a NIC: one "renamed" line, exit 0', async () => {
    const { dir } = await setup();
    expect((await runCli(['rename', 'router.machine', 'lan3', 'dmz'], dir)).code).toBe(0);
    const r = await runCli(['diff', 'router.machine.lock', '--git', 'HEAD'], dir);
    expect(r.stdout).toBe('router.machine.lock@HEAD → router.machine.lock\n  ~ lan3 renamed dmz, stays at 00:04.0 (e1000)\n0 to add, 0 to remove, 0 to move, 0 to change, 1 renamed\n');
    expect(r.code).toBe(0);
    const md = await runCli(['diff', 'router.machine.lock', '--git', 'HEAD', '--format', 'markdown'], dir);
    expect(md.stdout).toContain('| `dmz` e1000 | renamed from `lan3` | `00:04.0` (stays) | nothing |');
  });

  test('a controller: its children follow without moving, exit 0', async () => {
    const { dir } = await setup();
    expect((await runCli(['rename', 'router.machine', 'usb', 'hub'], dir)).code).toBe(0);
    const r = await runCli(['diff', 'router.machine.lock', '--git', 'HEAD'], dir);
    expect(r.stdout).toContain('~ usb renamed hub, stays at 00:05.0 (piix3-usb-uhci)');
    expect(r.stdout).not.toContain('tablet');
    expect(r.code).toBe(0);
  });

  test('a disk keeps its serial under its new id, and is recognised by it', async () => {
    const { dir } = await setup();
    expect((await runCli(['rename', 'router.machine', 'disk', 'system'], dir)).code).toBe(0);
    const r = await runCli(['diff', 'router.machine.lock', '--git', 'HEAD'], dir);
    expect(r.stdout).toContain('~ disk renamed system, stays at 00:06.0 (virtio-blk-pci)');
    expect(r.code).toBe(0);
  });

  test('a removal and an addition of different NICs is not a rename', () => {
    const lock = (lines: string) => readLock(`lockfile 2\nmachine m pc-i440fx-7.2 uuid=00000000-0000-4000-8000-000000000000\n${lines}`, 'l').lock!;
    const before = lock('pci 00:03.0 a e1000 bus=pci.0 addr=03.0 mac=52:54:00:00:00:01\n');
    const after = lock('pci 00:04.0 b e1000 bus=pci.0 addr=04.0 mac=52:54:00:00:00:02\n');
    const plan = comparePlacements(before, after);
    expect(plan.changes.map((c) => c.sign + c.id)).toEqual(['+b', '-a']);
    expect(plan.guestVisible).toBe(true);
  });
});
