/**
 * The machinec command line, in-process through `main` (specs/support/cli.ts), on scratch
 * folders: build, check, plan, diff, lock, prune, rename, QEMU detection and colour.
 *
 * Plan and diff text are goldens under specs/cli/; `UPDATE_GOLDENS=1` rewrites them:
 *   UPDATE_GOLDENS=1 NODE_OPTIONS=--experimental-vm-modules npx jest specs/cli.spec.ts
 * Every build passes `--qemu /nonexistent/…` so machine types are QEMU 7.2's whatever is installed;
 * the QEMU section runs the real one when it is there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findQemu } from '../cli/qemu/machine-types.js';
import { readLock } from '../compiler/index.js';
import { ANSI, cleanScratch, exists, golden, leftovers, lockLine, put, Q, QEMU_NOTE, read, run, runCli, runTerminal, sample, scratch, snapshot, tree } from './cli/harness.js';
import { giveTo, runAs, unprivilegedUser } from './support/unprivileged.js';

const OFFICE = sample('office.machine');
const LEGACY = sample('legacy.machine');

/** A pc machine whose later edit shows every sign of a plan. */
const EDITS = `machine edits {
  chipset = pc
  device nic0: e1000 { netdev = user }
  device nic1: e1000 @ 06.0 { netdev = user }
  device nic2: e1000 { netdev = user }
  device disk0: virtio-blk-pci { file = "d.img" }
}
`;
/** nic0 changes model (~), nic1 moves on purpose (!), nic2 goes (-), nic3 comes (+). */
const EDITS_AFTER = `machine edits {
  chipset = pc
  device nic0: rtl8139 { netdev = user }
  device nic1: e1000 @ 07.0 { netdev = user }
  device disk0: virtio-blk-pci { file = "d.img" }
  device nic3: e1000 { netdev = user }
}
`;
/** EDITS plus one device: additions only. */
const EDITS_ADDED = EDITS.replace(/}\n$/, '  device rng: virtio-rng-pci\n}\n');

const BAD_MODEL = `machine office {
  chipset = q35
  device nic0: virtio-net {
    netdev = user
  }
}
`;

afterAll(cleanScratch);

describe('build', () => {
  it('prints the command line as JSON, as lines, and as shell text that round-trips through bash', async () => {
    // Quotes, $, backticks, globs, commas (doubled for QEMU), a backslash and a non-ASCII letter.
    const source = `machine quoting {
  chipset = pc
  device disk0: virtio-blk-pci { file = "my disk's \\"$HOME\\" \`id\` *.img, part;2 \\\\ é" }
  device nic0: e1000 { netdev = user }
}
`;
    const dir = scratch({ 'q.machine': source });
    const qemu = '/no where/qemu $x';
    const json = await runCli(['build', 'q.machine', '--format', 'json', '--qemu', qemu], dir);
    expect(json.code).toBe(0);
    const argv = JSON.parse(json.stdout) as string[];
    expect(argv[0]).toBe(qemu);
    expect(argv).toContain('driver=raw,node-name=drive-disk0,file.driver=file,file.filename=my disk\'s "$HOME" `id` *.img,, part;2 \\ é');
    expect(argv.slice(1, 5)).toEqual(['-name', 'quoting', '-machine', 'pc-i440fx-7.2']);

    const lines = await runCli(['build', 'q.machine', '--format', 'lines', '--qemu', qemu], dir);
    expect(lines.code).toBe(0);
    expect(lines.stdout).toBe(argv.join('\n') + '\n');

    const shell = await runCli(['build', 'q.machine', '--qemu', qemu], dir);
    expect(shell.code).toBe(0);
    expect(shell).toEqual(await runCli(['build', 'q.machine', '--format', 'shell', '--qemu', qemu], dir));
    // One option a line, continued with ` \`.
    const text = shell.stdout.split('\n');
    expect(text.pop()).toBe('');
    expect(text[0]).toBe(`'/no where/qemu $x' \\`);
    for (const l of text.slice(1, -1)) expect(l).toMatch(/^ {2}-\S+( .+)? \\$/);
    expect(text[text.length - 1]).toMatch(/^ {2}-device e1000,id=nic0,\S+$/);
    const words = execFileSync('bash', ['-c', 'eval "set -- $(cat)"; printf "%s\\0" "$@"'], { input: shell.stdout, encoding: 'utf8' });
    expect(words.split('\0').slice(0, -1)).toEqual(argv);
  });

  it('writes the lock on the first build and leaves it alone on the second', async () => {
    const dir = scratch({ 'office.machine': OFFICE });
    const first = await run(['build', 'office.machine'], dir);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('wrote office.machine.lock: 8 devices locked\n');
    expect(first.stdout).toMatch(/^\/nonexistent\/qemu-system-x86_64 \\\n {2}-name office \\\n {2}-machine pc-q35-7.2 \\\n/);
    expect(first.stdout).toContain('  -device virtio-net-pci,id=nic0,bus=rp1,addr=00.0,mac=52:54:00:48:be:7b,netdev=net-nic0 \\\n');
    const lock = snapshot(dir, 'office.machine.lock');
    expect(lock.text).toBe(`${lock.text.split('\n').slice(0, 2).join('\n')}
lockfile 2
machine office pc-q35-7.2 uuid=295afe92-b80c-4764-be60-276e97b07dec
option -accel kvm
option -accel tcg
option -m 4096M
option -smp 2
option -nodefaults
option -no-user-config
option -netdev "user,id=net-nic0"
option -blockdev "driver=qcow2,node-name=drive-disk0,file.driver=file,file.filename=office.qcow2"
pci 00:01.0 video VGA bus=pcie.0 addr=01.0
pci 00:02.0 rp1 pcie-root-port bus=pcie.0 addr=02.0 chassis=1 pcie-port=1 secondary=1 auto
pci 01:00.0 nic0 virtio-net-pci bus=rp1 addr=00.0 mac=52:54:00:48:be:7b
pci 00:02.1 rp2 pcie-root-port bus=pcie.0 addr=02.1 chassis=2 pcie-port=2 secondary=2 auto
pci 02:00.0 disk0 virtio-blk-pci bus=rp2 addr=00.0 serial=disk0
pci 00:02.2 rp3 pcie-root-port bus=pcie.0 addr=02.2 chassis=3 pcie-port=3 secondary=3 auto
pci 03:00.0 usb qemu-xhci bus=rp3 addr=00.0
usb - tablet usb-tablet bus=usb.0 port=1
`);
    expect(lock.text.split('\n').filter((l) => l.startsWith('#'))).toHaveLength(2);

    await new Promise((r) => setTimeout(r, 20)); // a rewrite would show in the mtime
    const second = await run(['build', 'office.machine'], dir);
    expect(second).toEqual({ code: 0, stdout: first.stdout, stderr: '' });
    expect(snapshot(dir, 'office.machine.lock')).toEqual(lock);
    expect(leftovers(dir)).toEqual([]);
  });

  it('says what it updated when the source changed', async () => {
    const dir = scratch({ 'edits.machine': EDITS });
    expect((await run(['build', 'edits.machine'], dir)).stderr).toBe('wrote edits.machine.lock: 4 devices locked\n');
    put(dir, 'edits.machine', EDITS_AFTER);
    const r = await run(['build', 'edits.machine'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('updated edits.machine.lock: 1 added, 1 removed, 1 moved, 1 changed\n');
  });

  it('--locked with no lock fails with the plan and writes nothing', async () => {
    const dir = scratch({ 'office.machine': OFFICE });
    const r = await run(['build', 'office.machine', '--locked'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`error[lock-outdated]: office.machine.lock is missing and --locked forbids writing it
office.machine: what a build would change
  + video   VGA             new at 00:01.0 (pcie.0 01.0)
  + rp1     pcie-root-port  new at 00:02.0 (pcie.0 02.0) (created by machinec)
  + nic0    virtio-net-pci  new at 01:00.0 (rp1 00.0)
                            backend -netdev user,id=net-nic0
                            guest: Linux: new NIC enp1s0
  + rp2     pcie-root-port  new at 00:02.1 (pcie.0 02.1) (created by machinec)
  + disk0   virtio-blk-pci  new at 02:00.0 (rp2 00.0)
                            backend -blockdev driver=qcow2,node-name=drive-disk0,file.driver=file,file.filename=office.qcow2
  + rp3     pcie-root-port  new at 00:02.2 (pcie.0 02.2) (created by machinec)
  + usb     qemu-xhci       new at 03:00.0 (rp3 00.0)
  + tablet  usb-tablet      new at usb.0 port 1
  + option -accel: kvm
  + option -accel #2: tcg
  + option -m: 4096M
  + option -smp: 2
  + option -nodefaults
  + option -no-user-config
host effects (what QEMU does on the host):
  + opens for writing office.qcow2  [-blockdev drive-disk0 (disk image)]
8 to add, 0 to remove, 0 to move, 0 to change, 6 QEMU options
  = hint: run \`machinec build office.machine\` (or \`machinec lock\`), review the plan, and commit the lock
`);
    expect(tree(dir)).toEqual({ 'office.machine': OFFICE });
  });

  it('--locked with an out-of-date lock fails and leaves the lock as it was; with a current lock it builds', async () => {
    const dir = scratch({ 'edits.machine': EDITS });
    await run(['build', 'edits.machine'], dir);
    const ok = await run(['build', 'edits.machine', '--locked'], dir);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain('-device e1000,id=nic1,bus=pci.0,addr=06.0');
    const lock = snapshot(dir, 'edits.machine.lock');
    put(dir, 'edits.machine', EDITS_ADDED);
    const r = await run(['build', 'edits.machine', '--locked'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error\[lock-outdated\]: edits.machine.lock is out of date and --locked forbids writing it\nedits.machine: what a build would change\n {2}\+ rng {2}virtio-rng-pci {2}new at 00:07.0 \(pci.0 07.0\)\n1 to add, 0 to remove, 0 to move, 0 to change\n/);
    expect(snapshot(dir, 'edits.machine.lock')).toEqual(lock);
  });

  it('build --locked never says "no changes" of a lock it refuses: reordered options are a plan line, other text differences are said as such', async () => {
    const dir = scratch({ 'edits.machine': EDITS });
    await run(['build', 'edits.machine'], dir);
    const text = read(dir, 'edits.machine.lock');
    // -accel kvm before -accel tcg is QEMU's order of preference: swapping them changes what runs.
    put(dir, 'edits.machine.lock', text.replace('option -accel kvm\noption -accel tcg\n', 'option -accel tcg\noption -accel kvm\n'));
    const swapped = await run(['build', 'edits.machine', '--locked'], dir);
    expect(swapped.code).toBe(1);
    expect(swapped.stderr).toContain('\n  ~ option -accel: tcg → kvm\n  ~ option -accel #2: kvm → tcg\n');
    // Two backends swapped: a build writes backends in their devices' order, so nothing pinned changes.
    put(dir, 'edits.machine.lock', text.replace(/^(option -netdev "user,id=net-nic0"\n)(option -netdev "user,id=net-nic2"\n)/m, '$2$1'));
    const backends = await run(['build', 'edits.machine', '--locked'], dir);
    expect(backends.stderr).toContain('\n  nothing the lock pins changes, but its text is not what a build writes (line order, comments or spacing)\n');
    put(dir, 'edits.machine.lock', text.replace(/^# .*\n/gm, ''));
    const bare = await run(['build', 'edits.machine', '--locked'], dir);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('\n  nothing the lock pins changes, but its text is not what a build writes (line order, comments or spacing)\n');
    expect(bare.stderr).not.toContain('no changes');
  });

  it('a missing or unreadable file is an unreadable-file diagnostic, exit 1', async () => {
    const dir = scratch({ 'a.machine': LEGACY });
    const missing = await run(['build', 'nope.machine'], dir);
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error[unreadable-file]: cannot read machine file nope.machine: it does not exist\n --> nope.machine\n  = hint: check the path\n\n1 error\n',
    });
    // A path through a file (ENOTDIR): works as root too.
    const through = await run(['build', 'a.machine/b.machine'], dir);
    expect(through.code).toBe(1);
    expect(through.stdout).toBe('');
    expect(through.stderr).toMatch(/^error\[unreadable-file\]: cannot read machine file a.machine\/b.machine: a part of the path is not a folder/);
    // A lock that is a folder cannot be read either: nothing is built, nothing written.
    mkdirSync(join(dir, 'a.machine.lock'));
    const lockDir = await run(['build', 'a.machine'], dir);
    expect(lockDir.code).toBe(1);
    expect(lockDir.stdout).toBe('');
    expect(lockDir.stderr).toMatch(/^error\[unreadable-file\]: cannot read lock a.machine.lock: /);
    expect(Object.keys(tree(dir)).sort()).toEqual(['a.machine']);
  });

  const user = unprivilegedUser();
  if (typeof user === 'string') it.todo(`a file the user may not read: not run here, ${user}`);
  else it(`a file the user may not read is unreadable-file "permission denied", exit 1 (as uid ${user.uid})`, () => {
    const dir = scratch({ 'locked.machine': LEGACY });
    giveTo(dir, user);
    chmodSync(join(dir, 'locked.machine'), 0o000);
    const denied = runAs(user, ['build', 'locked.machine', ...Q], dir);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toBe('');
    expect(denied.stderr).toMatch(/^error\[unreadable-file\]: cannot read machine file locked.machine: permission denied\n/);
    expect(Object.keys(tree(dir))).toEqual(['locked.machine']);
  });

  it('a folder given as FILE is unreadable-file, and no lock appears beside it', async () => {
    const dir = scratch({ 'vms/a.machine': LEGACY });
    const r = await run(['build', 'vms'], dir);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error[unreadable-file]: cannot read machine file vms: it is a folder\n --> vms\n\n1 error\n' });
    expect(Object.keys(tree(dir))).toEqual(['vms/a.machine']);
  });

  it('bad input: a code frame on stderr, nothing on stdout, no lock', async () => {
    const dir = scratch({ 'office.machine': BAD_MODEL });
    const r = await run(['build', 'office.machine'], dir);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: `error[unknown-model]: unknown device model virtio-net
 --> office.machine:3:16
  |
3 |   device nic0: virtio-net {
  |                ^^^^^^^^^^
  = hint: did you mean virtio-net-pci?

1 error
`,
    });
    expect(exists(dir, 'office.machine.lock')).toBe(false);
  });

  it('paths outside the working folder are shown as given, absolute', async () => {
    const dir = scratch({ 'office.machine': BAD_MODEL });
    const elsewhere = scratch();
    const r = await run(['build', join(dir, 'office.machine')], elsewhere);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(` --> ${join(dir, 'office.machine')}:3:16\n`);
  });

  it.each([
    [['bogus'], /^error: unknown command 'bogus'\n/],
    [['build'], /^error: missing required argument 'file'\n/],
    [['build', 'a.machine', '--format', 'xml'], /^error: option '--format <format>' argument 'xml' is invalid\. Allowed choices are shell, json, lines\.\n/],
    [['build', 'a.machine', '--bogus'], /^error: unknown option '--bogus'\n/],
    [['build', 'a.machine', 'b.machine'], /^error: too many arguments for 'build'/],
    [['rename', 'a.machine', 'x'], /^error: missing required argument 'new'\n/],
    [['diff', 'a.lock'], /^error\[usage\]: give two locks/],
    [['diff', 'a.lock', 'b.lock', 'c.lock'], /^error\[usage\]: give two locks/],
    [['diff', 'a.lock', 'b.lock', '--git', 'HEAD'], /^error\[usage\]: with --git REV, give one lock/],
    [['check', 'empty'], /^error\[usage\]: no \.machine files found\n$/],
    [['lock', 'empty'], /^error\[usage\]: no \.machine files found\n$/],
    [[], /^Usage: machinec/],
  ])('usage error %j: exit 2, nothing on stdout, nothing written', async (args, message) => {
    const dir = scratch({ 'a.machine': LEGACY, 'empty/notes.txt': 'x' });
    const r = await runCli(args, dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(Object.keys(tree(dir))).toEqual(['a.machine', 'empty/notes.txt']);
  });

  it('--version and --help exit 0', async () => {
    const dir = scratch();
    expect(await runCli(['--version'], dir)).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
    const help = await runCli(['--help'], dir);
    expect(help.code).toBe(0);
    for (const c of ['build', 'run', 'check', 'plan', 'diff', 'lock', 'prune', 'rename', 'fmt']) expect(help.stdout).toContain(`  ${c} `);
    const sub = await runCli(['build', '--help'], dir);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('--format <format>');
  });
});

describe('check', () => {
  const files = {
    'a.machine': LEGACY,
    'b.machine': BAD_MODEL,
    'sub/c.machine': OFFICE,
    'node_modules/pkg/d.machine': BAD_MODEL,
    '.hidden/e.machine': BAD_MODEL,
    'notes.txt': BAD_MODEL,
  };

  it('checks every .machine under the folder, skipping node_modules and dot-folders, with one summary', async () => {
    const dir = scratch(files);
    const r = await runCli(['check'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error\[unknown-model\]: unknown device model virtio-net\n --> b.machine:3:16\n/);
    expect(r.stderr).not.toMatch(/node_modules|\.hidden|notes/);
    expect(r.stderr.endsWith('\n1 error\n1 of 3 machines failed the checks\n')).toBe(true);
    expect(await runCli(['check', '.'], dir)).toEqual(r);
    expect(tree(dir)).toEqual(tree(scratch(files))); // no locks written
  });

  it('takes several files and folders; exit 0 when all pass', async () => {
    const dir = scratch(files);
    expect(await runCli(['check', 'a.machine', 'sub'], dir)).toEqual({ code: 0, stdout: '', stderr: '2 machines checked, no problems\n' });
    expect(await runCli(['check', 'sub/c.machine'], dir)).toEqual({ code: 0, stdout: '', stderr: '1 machine checked, no problems\n' });
    const r = await runCli(['check', 'a.machine', 'b.machine', 'missing.machine'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[unreadable-file]: cannot read machine file missing.machine: it does not exist');
    expect(r.stderr.endsWith('2 of 3 machines failed the checks\n')).toBe(true);
    // An explicit file in node_modules is checked: only folder walks skip it.
    expect((await runCli(['check', 'node_modules/pkg/d.machine'], dir)).code).toBe(1);
  });

  it('reports a lock that does not parse beside a good machine', async () => {
    const dir = scratch({ 'a.machine': LEGACY, 'a.machine.lock': 'lockfile 1\n<<<<<<< HEAD\n' });
    const r = await runCli(['check'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[lock-conflict\]: the lock has git conflict markers\n --> a.machine.lock:2:1\n/);
    expect(read(dir, 'a.machine.lock')).toBe('lockfile 1\n<<<<<<< HEAD\n');
  });
});

describe('plan', () => {
  it('without a lock: every device new, with the title and signs', async () => {
    const dir = scratch({ 'legacy.machine': LEGACY });
    const r = await run(['plan', 'legacy.machine'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    golden('plan-new.txt', r.stdout);
    expect(r.stdout.split('\n')[0]).toBe('legacy.machine: no lock yet, every device is new');
    expect(tree(dir)).toEqual({ 'legacy.machine': LEGACY });
  });

  it('after edits: + - ! ~ against the lock, and nothing written', async () => {
    const dir = scratch({ 'edits.machine': EDITS });
    await run(['build', 'edits.machine'], dir);
    put(dir, 'edits.machine', EDITS_AFTER);
    const before = tree(dir);
    const r = await run(['plan', 'edits.machine'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    golden('plan-edits.txt', r.stdout);
    const signs = r.stdout.split('\n').slice(1, -2).filter((l) => !/^(guest|backend|host effects|opens|runs|uses|kept free)/.test(l.trim())).map((l) => l.trim()[0]);
    expect(new Set(signs)).toEqual(new Set(['+', '-', '!', '~']));
    expect(r.stdout.split('\n')[0]).toBe('edits.machine against edits.machine.lock');
    expect(r.stdout).toMatch(/\n1 to add, 1 to remove, 1 to move, 1 to change \(existing devices change in the guest\)\n$/);

    const diff = await run(['plan', 'edits.machine', '--diff'], dir);
    expect(diff.code).toBe(0);
    expect(diff.stdout.startsWith(r.stdout)).toBe(true);
    golden('plan-edits-diff.txt', diff.stdout);
    const patch = diff.stdout.slice(r.stdout.length);
    expect(patch).toMatch(/^Index: edits.machine.lock\n=+\n--- edits.machine.lock\tlocked\n\+\+\+ edits.machine.lock\tafter build\n@@ /);
    expect(patch).toMatch(/\n-pci 00:\S+ nic2 e1000 /);
    expect(patch).toMatch(/\n\+pci 00:\S+ nic3 e1000 /);
    expect(tree(dir)).toEqual(before);
  });

  it('up to date: no changes, and --diff prints no patch', async () => {
    const dir = scratch({ 'legacy.machine': LEGACY });
    await run(['build', 'legacy.machine'], dir);
    const r = await run(['plan', 'legacy.machine', '--diff'], dir);
    expect(r).toEqual({ code: 0, stdout: 'legacy.machine against legacy.machine.lock\n  no changes: the lock is up to date\n', stderr: '' });
  });

  it('--json: file, lock, state, counts and one entry a change without source spans', async () => {
    const dir = scratch({ 'edits.machine': EDITS });
    const fresh = JSON.parse((await run(['plan', 'edits.machine', '--json'], dir)).stdout);
    expect(fresh).toMatchObject({ file: 'edits.machine', lock: 'edits.machine.lock', lockExists: false, upToDate: false, guestVisible: false, counts: { added: 4, removed: 0, moved: 0, changed: 0 }, machine: [] });
    await run(['build', 'edits.machine'], dir);
    put(dir, 'edits.machine', EDITS_AFTER);
    const r = await run(['plan', 'edits.machine', '--json'], dir);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(Object.keys(plan)).toEqual(['file', 'lock', 'lockExists', 'upToDate', 'guestVisible', 'counts', 'machine', 'guest', 'changes', 'options', 'hostChanged', 'hostEffects']);
    expect(plan).toMatchObject({ lockExists: true, upToDate: false, guestVisible: true, counts: { added: 1, removed: 1, moved: 1, changed: 1 } });
    const byId = Object.fromEntries(plan.changes.map((c: { id: string }) => [c.id, c]));
    expect(Object.keys(byId).sort()).toEqual(['nic0', 'nic1', 'nic2', 'nic3']);
    expect(byId.nic0).toMatchObject({ sign: '~', model: 'rtl8139', auto: false, before: { model: 'e1000', addr: { slot: 3, fn: 0 } }, after: { model: 'rtl8139', addr: { slot: 3, fn: 0 } } });
    expect(byId.nic1).toMatchObject({ sign: '!', before: { addr: { slot: 6, fn: 0 } }, after: { addr: { slot: 7, fn: 0 }, guest: { bus: 0, slot: 7, fn: 0 } } });
    expect(byId.nic2).toMatchObject({ sign: '-', before: { id: 'nic2' } });
    expect(byId.nic2.after).toBeUndefined();
    expect(byId.nic3).toMatchObject({ sign: '+', after: { id: 'nic3', pins: { mac: expect.stringMatching(/^52:54:00(:[0-9a-f]{2}){3}$/) } } });
    for (const c of plan.changes) {
      expect(Object.keys(c)).toEqual(expect.arrayContaining(['sign', 'id', 'model', 'auto', 'details']));
      expect(c.details.length).toBeGreaterThan(0);
      expect(JSON.stringify(c)).not.toContain('"source"');
    }
    expect(exists(dir, 'edits.machine.lock')).toBe(true);
  });

  it('bad input: exit 1, diagnostics on stderr, nothing on stdout', async () => {
    const dir = scratch({ 'office.machine': BAD_MODEL });
    const r = await run(['plan', 'office.machine', '--json'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error\[unknown-model\]/);
  });
});

describe('diff', () => {
  /** old.lock from EDITS, then new.lock from `next`. */
  async function locks(next: string): Promise<string> {
    const dir = scratch({ 'edits.machine': EDITS });
    await run(['build', 'edits.machine'], dir);
    put(dir, 'old.lock', read(dir, 'edits.machine.lock'));
    put(dir, 'edits.machine', next);
    expect((await run(['build', 'edits.machine'], dir)).code).toBe(0);
    put(dir, 'new.lock', read(dir, 'edits.machine.lock'));
    return dir;
  }

  it('exit 0 when devices were only added', async () => {
    const dir = await locks(EDITS_ADDED);
    const r = await runCli(['diff', 'old.lock', 'new.lock'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    golden('diff-added.txt', r.stdout);
    expect(r.stdout).toBe('old.lock → new.lock\n  + rng  virtio-rng-pci  new at 00:07.0 (pci.0 07.0)\n1 to add, 0 to remove, 0 to move, 0 to change\n');
    // The same lock twice: nothing to say.
    expect(await runCli(['diff', 'new.lock', 'edits.machine.lock'], dir)).toEqual({ code: 0, stdout: 'new.lock → edits.machine.lock\n  no changes: the lock is up to date\n', stderr: '' });
    // A .machine stands for its lock.
    expect((await runCli(['diff', 'old.lock', 'edits.machine'], dir)).stdout).toBe(r.stdout.replace('→ new.lock', '→ edits.machine.lock'));
  });

  it('exit 1 when a device moved, changed or went; --json has the same plan', async () => {
    const dir = await locks(EDITS_AFTER);
    const r = await runCli(['diff', 'old.lock', 'new.lock'], dir);
    expect(r.code).toBe(1);
    golden('diff-changed.txt', r.stdout);
    const json = await runCli(['diff', 'old.lock', 'new.lock', '--json'], dir);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ guestVisible: true, counts: { added: 1, removed: 1, moved: 1, changed: 1 } });
  });

  it.each([
    ['removed', EDITS.replace(/ {2}device nic2.*\n/, '')],
    ['moved', EDITS.replace('@ 06.0', '@ 09.0')],
    ['changed', EDITS.replace('nic0: e1000', 'nic0: rtl8139')],
  ])('exit 1 when a device is %s alone', async (_what, next) => {
    const dir = await locks(next);
    const r = await runCli(['diff', 'old.lock', 'new.lock'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\(existing devices change in the guest\)\n$/);
  });

  it('exit 2 when a lock is missing or does not parse', async () => {
    const dir = await locks(EDITS_ADDED);
    const missing = await runCli(['diff', 'old.lock', 'gone.lock'], dir);
    expect(missing).toEqual({ code: 2, stdout: '', stderr: 'error[unreadable-file]: cannot read lock gone.lock: it does not exist\n --> gone.lock\n  = hint: check the path\n\n1 error\n' });
    put(dir, 'bad.lock', 'lockfile 1\nmachine edits pc-i440fx-7.2\npci what\n');
    const bad = await runCli(['diff', 'bad.lock', 'new.lock'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^error\[lock-syntax\]: .*\n --> bad.lock:\d+:1\n/);
    // An empty file is not a lock, old or new (only a lock absent at a git revision counts as all new).
    put(dir, 'empty.lock', '');
    expect(await runCli(['diff', 'old.lock', 'empty.lock'], dir)).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^error\[lock-syntax\]: the lock is empty or cut short\n --> empty.lock:1:1\n/) });
    expect(await runCli(['diff', 'empty.lock', 'old.lock'], dir)).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^error\[lock-syntax\]: the lock is empty or cut short\n --> empty.lock:1:1\n/) });
    expect((await runCli(['diff', 'old.lock', '.'], dir)).code).toBe(2);
  });

  describe('--git REV', () => {
    const git = (dir: string, ...args: string[]): string =>
      execFileSync('git', ['-c', 'user.name=spec', '-c', 'user.email=spec@example.com', '-c', 'commit.gpgsign=false', '-c', 'init.defaultBranch=main', ...args], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

    async function repo(): Promise<string> {
      const dir = scratch({ 'vms/edits.machine': EDITS });
      git(dir, 'init', '-q');
      expect((await run(['build', 'vms/edits.machine'], dir)).code).toBe(0);
      git(dir, 'add', '.');
      git(dir, 'commit', '-q', '-m', 'edits');
      return dir;
    }

    it('compares the committed lock with the working copy', async () => {
      const dir = await repo();
      expect(await runCli(['diff', 'vms/edits.machine.lock', '--git', 'HEAD'], dir)).toEqual({
        code: 0,
        stdout: 'vms/edits.machine.lock@HEAD → vms/edits.machine.lock\n  no changes: the lock is up to date\n',
        stderr: '',
      });
      put(dir, 'vms/edits.machine', EDITS_AFTER);
      expect((await run(['build', 'vms/edits.machine'], dir)).code).toBe(0);
      const r = await runCli(['diff', 'vms/edits.machine.lock', '--git', 'HEAD'], dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      golden('diff-git.txt', r.stdout);
      const old = git(dir, 'show', 'HEAD:vms/edits.machine.lock');
      put(dir, 'old.lock', old);
      const plain = await runCli(['diff', 'old.lock', 'vms/edits.machine.lock'], dir);
      expect(r.stdout.split('\n').slice(1)).toEqual(plain.stdout.split('\n').slice(1));
      // From inside the folder, naming the .machine.
      const inside = await runCli(['diff', 'edits.machine', '--git', 'HEAD'], join(dir, 'vms'));
      expect(inside.code).toBe(1);
      expect(inside.stdout.split('\n').slice(1)).toEqual(r.stdout.split('\n').slice(1));
    });

    it('a lock absent at REV counts as all new', async () => {
      const dir = await repo();
      put(dir, 'vms/legacy.machine', LEGACY);
      expect((await run(['build', 'vms/legacy.machine'], dir)).code).toBe(0);
      const r = await runCli(['diff', 'vms/legacy.machine.lock', '--git', 'HEAD'], dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`vms/legacy.machine.lock@HEAD → vms/legacy.machine.lock
  + nic0     e1000       new at 00:05.0 (pci.0 05.0)
                         backend -netdev user,id=net-nic0
                         guest: Linux: new NIC enp0s5
  + bridge1  pci-bridge  new at 00:1e.0 (pci.0 1e.0)
  + nic1     rtl8139     new at 01:01.0 (bridge1 01.0)
                         backend -netdev tap,id=net-nic1,ifname=tap0,script=no,downscript=no
                         guest: Linux: new NIC enp1s1
  + option -accel: kvm
  + option -accel #2: tcg
  + option -m: 1024M
  + option -smp: 1
  + option -nodefaults
  + option -no-user-config
host effects (what QEMU does on the host):
  + uses host device tap interface tap0  [-netdev net-nic1 (tap)]
3 to add, 0 to remove, 0 to move, 0 to change, 6 QEMU options
`);
    });

    it('exit 2 for a bad revision, a folder outside git, or a working copy without the lock', async () => {
      const dir = await repo();
      const bad = await runCli(['diff', 'vms/edits.machine.lock', '--git', 'no-such-rev'], dir);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^error\[git\]: cannot read vms\/edits.machine.lock at no-such-rev: /);
      const outside = scratch({ 'a.machine': LEGACY });
      await run(['build', 'a.machine'], outside);
      const noRepo = await runCli(['diff', 'a.machine.lock', '--git', 'HEAD'], outside);
      expect(noRepo.code).toBe(2);
      expect(noRepo.stderr).toMatch(/^error\[git\]: /);
      const gone = await runCli(['diff', 'vms/none.machine.lock', '--git', 'HEAD'], dir);
      expect(gone.code).toBe(2);
      expect(gone.stderr).toContain('error[unreadable-file]: cannot read lock vms/none.machine.lock: it does not exist');
    });
  });
});

describe('lock', () => {
  const files = {
    'a.machine': LEGACY,
    'b.machine': EDITS,
    'sub/c.machine': OFFICE,
    'node_modules/x/d.machine': BAD_MODEL,
    '.git/e.machine': BAD_MODEL,
  };

  it('writes every lock under the paths, then --locked passes; an edit fails --locked naming the machine', async () => {
    const dir = scratch(files);
    const first = await runCli(['lock', ...Q], dir);
    expect(first).toEqual({
      code: 0,
      stdout: '',
      stderr: `${QEMU_NOTE}wrote a.machine.lock\nwrote b.machine.lock\nwrote sub/c.machine.lock\n3 machines: 0 up to date, 3 written, 0 with errors\n`,
    });
    const locks = tree(dir);
    for (const m of ['a', 'b']) expect((await run(['build', `${m}.machine`], dir)).stderr).toBe(''); // same as build's locks
    expect((await run(['build', 'sub/c.machine'], dir)).stderr).toBe('');

    expect(await runCli(['lock', '--locked', '.', ...Q], dir)).toEqual({ code: 0, stdout: '', stderr: `${QEMU_NOTE}3 machines: 3 up to date, 0 out of date, 0 with errors\n` });

    put(dir, 'b.machine', EDITS_ADDED);
    const before = tree(dir);
    const r = await run(['lock', '--locked'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`b.machine.lock: out of date
  + rng  virtio-rng-pci  new at 00:07.0 (pci.0 07.0)
1 to add, 0 to remove, 0 to move, 0 to change
3 machines: 2 up to date, 1 out of date, 0 with errors
`);
    expect(tree(dir)).toEqual(before);
    expect(r.stderr.match(/ machines: /g)).toHaveLength(1);

    const update = await run(['lock', 'b.machine', 'sub'], dir);
    expect(update).toEqual({ code: 0, stdout: '', stderr: 'updated b.machine.lock\n2 machines: 1 up to date, 1 written, 0 with errors\n' });
    expect(locks['a.machine.lock']).toBe(read(dir, 'a.machine.lock'));
  });

  it('a missing lock fails --locked; a broken machine counts as an error and the others are still written', async () => {
    const dir = scratch({ 'a.machine': LEGACY, 'b.machine': BAD_MODEL, 'c.machine': OFFICE });
    const locked = await run(['lock', '--locked'], dir);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(/^a.machine.lock: missing\n[^]*\nerror\[unknown-model\][^]*\nc.machine.lock: missing\n[^]*\n3 machines: 0 up to date, 2 out of date, 1 with errors\n$/);
    expect(Object.keys(tree(dir))).toEqual(['a.machine', 'b.machine', 'c.machine']);
    const r = await run(['lock'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^wrote a.machine.lock\nerror\[unknown-model\][^]*\n1 error\nwrote c.machine.lock\n3 machines: 0 up to date, 2 written, 1 with errors\n$/);
    expect(Object.keys(tree(dir))).toEqual(['a.machine', 'a.machine.lock', 'b.machine', 'c.machine', 'c.machine.lock']);
  });
});

describe('prune', () => {
  const nics = (ids: string[]): string => `machine pruned {
  chipset = q35
${ids.map((id) => `  device ${id}: virtio-net-pci { netdev = user }`).join('\n')}
}
`;

  it('keeps an emptied root port until prune; --dry-run shows the renumbering and writes nothing', async () => {
    const dir = scratch({ 'p.machine': nics(['nic1', 'nic2', 'nic3']) });
    await run(['build', 'p.machine'], dir);
    const full = read(dir, 'p.machine.lock');
    expect(lockLine(full, 'nic3')).toMatch(/^pci 03:00.0 nic3 virtio-net-pci bus=rp3 addr=00.0 mac=/);

    put(dir, 'p.machine', nics(['nic1', 'nic3']));
    const removed = await run(['build', 'p.machine'], dir);
    expect(removed.stderr).toBe('updated p.machine.lock: 0 added, 1 removed, 0 moved, 0 changed\n');
    const kept = read(dir, 'p.machine.lock');
    expect(lockLine(kept, 'rp2')).toBe(lockLine(full, 'rp2'));
    expect(lockLine(kept, 'nic3')).toBe(lockLine(full, 'nic3'));
    expect(kept).not.toMatch(/ nic2 /);

    const before = tree(dir);
    const lockBefore = snapshot(dir, 'p.machine.lock');
    const dry = await run(['prune', 'p.machine', '--dry-run'], dir);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toBe('');
    golden('prune-dry-run.txt', dry.stdout);
    expect(dry.stdout.split('\n')[0]).toBe('p.machine: pruning empty root ports and bridges');
    expect(dry.stdout).toMatch(/\n {2}- rp2 .*\(created by machinec\)\n/);
    expect(dry.stdout).toMatch(/\n {2}! nic3 .*03:00.0.*02:00.0/);
    expect(tree(dir)).toEqual(before);
    expect(snapshot(dir, 'p.machine.lock')).toEqual(lockBefore);

    const real = await run(['prune', 'p.machine'], dir);
    expect(real).toEqual({ code: 0, stdout: dry.stdout, stderr: '' });
    const pruned = read(dir, 'p.machine.lock');
    expect(pruned).not.toMatch(/ rp2 /);
    expect(lockLine(pruned, 'nic3')).toBe(lockLine(full, 'nic3').replace('pci 03:00.0', 'pci 02:00.0'));
    expect(lockLine(pruned, 'nic1')).toBe(lockLine(full, 'nic1'));
    expect(leftovers(dir)).toEqual([]);

    // Pruned and built agree; a second prune has nothing to do.
    expect(await run(['build', 'p.machine'], dir)).toMatchObject({ code: 0, stderr: '' });
    expect(await run(['prune', 'p.machine'], dir)).toEqual({ code: 0, stdout: 'p.machine: pruning empty root ports and bridges\n  no changes: the lock is up to date\n', stderr: '' });
  });
});

describe('rename', () => {
  it('renames in source and lock together: same address, MAC and serial; the next build changes nothing', async () => {
    const dir = scratch({ 'office.machine': OFFICE });
    await run(['build', 'office.machine'], dir);
    const lock = read(dir, 'office.machine.lock');
    const r = await runCli(['rename', 'office.machine', 'nic0', 'lan0'], dir);
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'renamed nic0 to lan0 in office.machine and office.machine.lock; its address, MAC and serial stay\n' });
    expect(read(dir, 'office.machine')).toBe(OFFICE.replace('device nic0:', 'device lan0:'));
    const renamed = read(dir, 'office.machine.lock');
    expect(lockLine(renamed, 'lan0')).toBe(lockLine(lock, 'nic0').replace(' nic0 ', ' lan0 '));
    expect(renamed).toBe(lock.replace(' nic0 ', ' lan0 ').replace('id=net-nic0', 'id=net-lan0')); // its backend is named after it

    const disk = await runCli(['rename', 'office.machine', 'disk0', 'system'], dir);
    expect(disk.code).toBe(0);
    expect(lockLine(read(dir, 'office.machine.lock'), 'system')).toBe(lockLine(lock, 'disk0').replace(' disk0 ', ' system '));

    const after = snapshot(dir, 'office.machine.lock');
    const build = await run(['build', 'office.machine'], dir);
    expect(build.code).toBe(0);
    expect(build.stderr).toBe('');
    expect(build.stdout).toContain('-device virtio-net-pci,id=lan0,bus=rp1,addr=00.0,mac=52:54:00:48:be:7b,netdev=net-lan0');
    expect(build.stdout).toContain('-device virtio-blk-pci,id=system,bus=rp2,addr=00.0,serial=disk0,drive=drive-system');
    expect(snapshot(dir, 'office.machine.lock')).toEqual(after);
    expect((await run(['plan', 'office.machine'], dir)).stdout).toBe('office.machine against office.machine.lock\n  no changes: the lock is up to date\n');
  });

  it('renaming a USB controller renames its children’s bus in the lock', async () => {
    const dir = scratch({ 'office.machine': OFFICE });
    await run(['build', 'office.machine'], dir);
    const lock = read(dir, 'office.machine.lock');
    expect(lockLine(lock, 'tablet')).toBe('usb - tablet usb-tablet bus=usb.0 port=1');
    expect((await runCli(['rename', 'office.machine', 'usb', 'xhci'], dir)).code).toBe(0);
    const renamed = read(dir, 'office.machine.lock');
    expect(lockLine(renamed, 'tablet')).toBe('usb - tablet usb-tablet bus=xhci.0 port=1');
    expect(lockLine(renamed, 'xhci')).toBe(lockLine(lock, 'usb').replace(' usb ', ' xhci '));
    expect(read(dir, 'office.machine')).toBe(OFFICE.replace('device usb:', 'device xhci:'));
    const build = await run(['build', 'office.machine'], dir);
    expect(build.stderr).toBe('');
    expect(build.stdout).toContain('-device usb-tablet,id=tablet,bus=xhci.0,port=1');
  });

  it('renaming a bridge renames the bus of the devices behind it', async () => {
    const dir = scratch({ 'legacy.machine': LEGACY });
    await run(['build', 'legacy.machine'], dir);
    const lock = read(dir, 'legacy.machine.lock');
    expect((await runCli(['rename', 'legacy.machine', 'bridge1', 'br'], dir)).code).toBe(0);
    const renamed = read(dir, 'legacy.machine.lock');
    expect(lockLine(renamed, 'nic1')).toBe(lockLine(lock, 'nic1').replace('bus=bridge1', 'bus=br'));
    expect((await run(['build', 'legacy.machine'], dir)).stderr).toBe('');
  });

  it.each([
    ['an id in use', 'nic0', 'disk0', 'error[rename]: disk0 is already taken in office.machine or its lock\n --> office.machine\n\n1 error\n'],
    ['the same id', 'nic0', 'nic0', 'error[rename]: nic0 is already taken in office.machine or its lock\n --> office.machine\n\n1 error\n'],
    ['an id machinec created', 'nic0', 'rp2', 'error[rename]: rp2 is already taken in office.machine or its lock\n --> office.machine\n\n1 error\n'],
    ['an invalid id', 'nic0', '9lives', 'error[rename]: 9lives is not a valid id\n --> office.machine\n  = hint: an id starts with a letter and holds only letters, digits, "-", "." and "_"\n\n1 error\n'],
    ['an id with a comma', 'nic0', 'a,b', 'error[rename]: a,b is not a valid id\n --> office.machine\n  = hint: an id starts with a letter and holds only letters, digits, "-", "." and "_"\n\n1 error\n'],
    ['a missing id', 'nope', 'x', 'error[rename]: office.machine has no device nope\n --> office.machine\n\n1 error\n'],
  ])('refuses %s: exit 1, nothing written', async (_what, from, to, stderr) => {
    const dir = scratch({ 'office.machine': OFFICE });
    await run(['build', 'office.machine'], dir);
    const before = tree(dir);
    const lock = snapshot(dir, 'office.machine.lock');
    expect(await runCli(['rename', 'office.machine', from, to], dir)).toEqual({ code: 1, stdout: '', stderr });
    expect(tree(dir)).toEqual(before);
    expect(snapshot(dir, 'office.machine.lock')).toEqual(lock);
  });

  it('refuses a QEMU-reserved id, a broken source and a broken lock, writing nothing', async () => {
    const dir = scratch({ 'office.machine': OFFICE });
    await run(['build', 'office.machine'], dir);
    let before = tree(dir);
    const reserved = await runCli(['rename', 'office.machine', 'nic0', 'pcie.0'], dir);
    expect(reserved.code).toBe(1);
    expect(reserved.stdout).toBe('');
    expect(tree(dir)).toEqual(before);

    put(dir, 'office.machine.lock', 'lockfile 1\n=======\n');
    before = tree(dir);
    const lock = await runCli(['rename', 'office.machine', 'nic0', 'lan0'], dir);
    expect(lock.code).toBe(1);
    expect(lock.stderr).toMatch(/^error\[lock-conflict\]/);
    expect(tree(dir)).toEqual(before);

    const bad = scratch({ 'office.machine': BAD_MODEL });
    const source = await runCli(['rename', 'office.machine', 'nic0', 'lan0'], bad);
    expect(source.code).toBe(1);
    expect(source.stderr).toMatch(/^error\[unknown-model\]/);
    expect(tree(bad)).toEqual({ 'office.machine': BAD_MODEL });
  });

  it('without a lock, locks the renamed machine as a build would', async () => {
    const dir = scratch({ 'office.machine': OFFICE });
    expect((await runCli(['rename', 'office.machine', 'nic0', 'lan0'], dir)).code).toBe(0);
    const lock = read(dir, 'office.machine.lock');
    expect(lockLine(lock, 'lan0')).toMatch(/ mac=52:54:00:48:be:7b$/); // nic0's MAC: generated before the rename
    expect((await run(['build', 'office.machine'], dir)).stderr).toBe('');
  });
});

describe('QEMU and machine types', () => {
  const savedCache = process.env.XDG_CACHE_HOME;
  beforeAll(() => {
    process.env.XDG_CACHE_HOME = scratch({}, 'machinec-cache-');
  });
  afterAll(() => {
    if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedCache;
  });

  it('--qemu /nonexistent: build works and says "not found" once, also for lock over several files', async () => {
    const dir = scratch({ 'a.machine': LEGACY, 'b.machine': OFFICE, 'c/d.machine': EDITS });
    const build = await runCli(['build', 'b.machine', ...Q], dir);
    expect(build.code).toBe(0);
    expect(build.stderr).toBe(`${QEMU_NOTE}wrote b.machine.lock: 8 devices locked\n`);
    expect(build.stdout).toMatch(/^\/nonexistent\/qemu-system-x86_64 \\\n {2}-name office \\\n {2}-machine pc-q35-7.2 \\\n/);
    const lock = await runCli(['lock', ...Q], dir);
    expect(lock.code).toBe(0);
    expect(lock.stderr.match(/not found/g)).toHaveLength(1);
    expect(lock.stderr.startsWith(QEMU_NOTE)).toBe(true);
    expect(read(dir, 'a.machine.lock')).toMatch(/\nmachine legacy pc-i440fx-7.2 /);
  });

  it('a QEMU that answers -machine help decides the type, and the lock keeps it', async () => {
    const dir = scratch({ 'office.machine': OFFICE, 'legacy.machine': LEGACY });
    const fake = join(dir, 'fake-qemu');
    writeFileSync(
      fake,
      `#!/bin/sh
[ "$1" = "-machine" ] || exit 1
cat <<'EOF'
Supported machines are:
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-9.9)
pc-i440fx-9.9        Standard PC (i440FX + PIIX, 1996) (default)
pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-9.9)
pc-q35-9.9           Standard PC (Q35 + ICH9, 2009)
none                 empty machine
EOF
`,
    );
    chmodSync(fake, 0o755);
    const r = await runCli(['build', 'office.machine', '--qemu', fake], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('wrote office.machine.lock: 8 devices locked\n');
    expect(r.stdout).toContain('  -machine pc-q35-9.9 \\\n');
    expect(read(dir, 'office.machine.lock')).toMatch(/\nmachine office pc-q35-9\.9 uuid=/);
    // Without QEMU, the lock's pin stands.
    const without = await run(['build', 'office.machine'], dir);
    expect(without).toMatchObject({ code: 0, stderr: '' });
    expect(without.stdout).toContain('  -machine pc-q35-9.9 \\\n');
    // A QEMU without the type asked for is an error naming the nearest, and nothing is written.
    const pinned = scratch({ 'legacy.machine': LEGACY.replace('chipset = pc', 'chipset = pc-i440fx-2.0') });
    const old = await runCli(['build', 'legacy.machine', '--qemu', fake], pinned);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/error\[machine-type-unavailable\]/);
    expect(old.stderr).toContain('pc-i440fx-');
    expect(exists(pinned, 'legacy.machine.lock')).toBe(false);
  });

  const qemu = findQemu();
  (qemu ? it : it.skip)('with the real QEMU (when installed), the type comes from its -machine help', async () => {
    const help = spawnSync(qemu!, ['-machine', 'help'], { encoding: 'utf8' }).stdout;
    const q35 = /^q35\s.*\(alias of (\S+)\)/m.exec(help)?.[1];
    const pc = /^pc\s.*\(alias of (\S+)\)/m.exec(help)?.[1];
    expect(q35).toMatch(/^pc-q35-/);
    const dir = scratch({ 'office.machine': OFFICE, 'legacy.machine': LEGACY });
    const r = await runCli(['build', 'office.machine'], dir);
    expect(r).toMatchObject({ code: 0, stderr: 'wrote office.machine.lock: 8 devices locked\n' });
    expect(r.stdout.startsWith('qemu-system-x86_64 \\\n')).toBe(true);
    expect(r.stdout).toContain(`  -machine ${q35} \\\n`);
    expect(read(dir, 'office.machine.lock')).toContain(`\nmachine office ${q35} uuid=`);
    expect((await runCli(['lock'], dir)).stderr).not.toContain('note:');
    expect(read(dir, 'legacy.machine.lock')).toContain(`\nmachine legacy ${pc} uuid=`);
  });
});

describe('colour', () => {
  const files = { 'bad.machine': BAD_MODEL, 'edits.machine': EDITS };

  it('never on a non-terminal, with or without NO_COLOR', async () => {
    const dir = scratch(files);
    for (const env of [{}, { NO_COLOR: '1' }]) {
      const bad = await runCli(['build', 'bad.machine', ...Q], dir, env);
      expect(bad.code).toBe(1);
      expect(bad.stderr).not.toMatch(ANSI);
      const plan = await runCli(['plan', 'edits.machine', ...Q], dir, env);
      expect(plan.stdout).not.toMatch(ANSI);
    }
  });

  it('on a terminal unless NO_COLOR is set (or TERM=dumb)', async () => {
    const dir = scratch(files);
    const bad = await runTerminal(['build', 'bad.machine', ...Q], dir, {}, true);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\x1b\[1;31merror\[unknown-model\]\x1b\[0m/);
    const plan = await runTerminal(['plan', 'edits.machine', ...Q], dir, {}, true);
    expect(plan.stdout).toMatch(ANSI);
    expect(plan.stdout.replace(/\x1b\[[\d;]*m/g, '')).toBe((await run(['plan', 'edits.machine'], dir)).stdout);
    for (const env of [{ NO_COLOR: '1' }, { NO_COLOR: '' }, { TERM: 'dumb' }]) {
      const plain = await runTerminal(['build', 'bad.machine', ...Q], dir, env, true);
      expect(plain.stderr).not.toMatch(ANSI);
      expect((await runTerminal(['plan', 'edits.machine', ...Q], dir, env, true)).stdout).not.toMatch(ANSI);
    }
  });
});

it('the lock a build writes reads back without diagnostics', async () => {
  const dir = scratch({ 'office.machine': OFFICE });
  await run(['build', 'office.machine'], dir);
  const r = readLock(readFileSync(join(dir, 'office.machine.lock'), 'utf8'), 'office.machine.lock');
  expect(r.diagnostics).toEqual([]);
  expect(r.lock?.devices.map((d) => d.id)).toEqual(['video', 'rp1', 'nic0', 'rp2', 'disk0', 'rp3', 'usb', 'tablet']);
});
