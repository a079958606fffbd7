/**
 * A state folder belongs to one machine, named by its file's path in the repo and its SMBIOS UUID:
 * two machines both called `web`, in prod/ and staging/ of one git work tree, never boot on one set
 * of UEFI variables, whether staging points at prod's folder with `state = "…"` or through a
 * symlink. `run` is the built binary starting the real QEMU (told `-version`, so it exits once it
 * has read its command line: the state folder is prepared by then); the owner file and the VARS
 * file are read from disk, the UUID from the lock's text.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshBin } from './support/bin.js';
import { runCli } from './support/cli.js';

const OVMF = '/usr/share/OVMF/OVMF_VARS_4M.fd';
const haveTools = existsSync(OVMF) && spawnSync('qemu-system-x86_64', ['-version']).status === 0 && spawnSync('git', ['--version']).status === 0;

let repo: string;
beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'machinec-state-owner-'));
  expect(spawnSync('git', ['init', '-q', repo]).status).toBe(0);
  mkdirSync(join(repo, 'prod'));
  mkdirSync(join(repo, 'staging'));
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

const web = (extra = '') => `machine web {\n  chipset = q35\n  firmware = uefi\n${extra}  device rng: virtio-rng-pci\n}\n`;

/** `machinec run --accel tcg FILE -- -version` in the repo: the real QEMU is started and exits at once. */
function run(file: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [freshBin(), 'run', '--accel', 'tcg', file, '--', '-version'], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const uuidOf = (lock: string) => /^machine \S+ \S+ uuid=([0-9a-f-]{36})$/m.exec(readFileSync(join(repo, lock), 'utf8'))![1];
const owner = (folder: string) => JSON.parse(readFileSync(join(repo, folder, 'machine'), 'utf8')) as unknown;
const qemuStarted = (stdout: string) => /QEMU emulator version/.test(stdout);

(haveTools ? describe : describe.skip)('run: a state folder is its owner machine\'s, by path and UUID', () => {
  test('prod claims its folder; staging, also called web, pointing at it with state = "../prod/web.state", is refused', () => {
    writeFileSync(join(repo, 'prod/web.machine'), web());
    writeFileSync(join(repo, 'staging/web.machine'), web('  state = "../prod/web.state"\n'));
    const prod = run('prod/web.machine');
    expect(prod.stderr).toBe('');
    expect(prod.code).toBe(0);
    expect(qemuStarted(prod.stdout)).toBe(true);
    expect(owner('prod/web.state')).toEqual({ machine: 'prod/web.machine', uuid: uuidOf('prod/web.machine.lock') });
    const vars = readFileSync(join(repo, 'prod/web.state/OVMF_VARS.fd'));
    expect(vars.equals(readFileSync(OVMF))).toBe(true);
    const varsTime = statSync(join(repo, 'prod/web.state/OVMF_VARS.fd')).mtimeMs;

    const staging = run('staging/web.machine');
    expect(staging.code).toBe(1);
    expect(qemuStarted(staging.stdout)).toBe(false);
    expect(staging.stderr).toMatch(/error\[state-shared\]: the state folder \S*prod\/web\.state belongs to prod\/web\.machine, not to staging\/web\.machine \(UUID [0-9a-f-]{36}\)/);
    expect(staging.stderr).toContain(' --> staging/web.machine:4:11\n');
    expect(staging.stderr).toContain('4 |   state = "../prod/web.state"\n  |           ^^^^^^^^^^^^^^^^^^^\n');
    expect(staging.stderr).toMatch(/= hint: two machines must not share UEFI variables or a TPM/);
    expect(owner('prod/web.state')).toEqual({ machine: 'prod/web.machine', uuid: uuidOf('prod/web.machine.lock') });
    expect(statSync(join(repo, 'prod/web.state/OVMF_VARS.fd')).mtimeMs).toBe(varsTime);
  }, 120_000);

  test('outside git too, where each folder is its own repo: staging\'s web is refused prod\'s folder', () => {
    rmSync(join(repo, '.git'), { recursive: true });
    writeFileSync(join(repo, 'prod/web.machine'), web());
    writeFileSync(join(repo, 'staging/web.machine'), web('  state = "../prod/web.state"\n'));
    expect(run('prod/web.machine').code).toBe(0);
    expect(owner('prod/web.state')).toEqual({ machine: 'web.machine', uuid: uuidOf('prod/web.machine.lock') });
    const staging = run('staging/web.machine');
    // Each folder is its own repo: both machines lock the same UUID, and only the path tells them apart.
    expect(uuidOf('staging/web.machine.lock')).toBe(uuidOf('prod/web.machine.lock'));
    expect(staging.code).toBe(1);
    expect(qemuStarted(staging.stdout)).toBe(false);
    expect(staging.stderr).toMatch(/error\[state-shared\]: the state folder \S*prod\/web\.state belongs to web\.machine, not to \.\.\/staging\/web\.machine/);
  }, 120_000);

  test('a staging/web.state that is a symlink to prod\'s folder is refused too; check names the symlink and the sharing', async () => {
    writeFileSync(join(repo, 'prod/web.machine'), web());
    writeFileSync(join(repo, 'staging/web.machine'), web());
    expect(run('prod/web.machine').code).toBe(0);
    symlinkSync('../prod/web.state', join(repo, 'staging/web.state'));

    const staging = run('staging/web.machine');
    expect(staging.code).toBe(1);
    expect(qemuStarted(staging.stdout)).toBe(false);
    expect(staging.stderr).toMatch(/error\[state-shared\]: the state folder \S*staging\/web\.state \(a symlink to \S*prod\/web\.state\) belongs to prod\/web\.machine/);

    const check = await runCli(['check', '.'], repo);
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(/error\[state-shared\]: staging\/web\.machine and prod\/web\.machine share the state folder \S*staging\/web\.state \(\S*prod\/web\.state, through a symlink\)/);
    expect(check.stderr).toMatch(/error\[state-shared\]: the owner file of the state folder \S*staging\/web\.state names prod\/web\.machine, not staging\/web\.machine/);
    expect(check.stderr).toMatch(/warning\[state-symlink\]: the state folder \S*staging\/web\.state of staging\/web\.machine is a symlink to \.\.\/prod\/web\.state/);
  }, 120_000);

  test('a symlinked folder no other machine owns: check warns, run claims it where the link leads', async () => {
    writeFileSync(join(repo, 'staging/web.machine'), web());
    mkdirSync(join(repo, 'disk2'));
    symlinkSync('../disk2', join(repo, 'staging/web.state'));
    const check = await runCli(['check', '.'], repo);
    expect(check.stderr).toMatch(/warning\[state-symlink\]: the state folder \S*staging\/web\.state of staging\/web\.machine is a symlink to \.\.\/disk2/);
    expect(check.stderr).not.toContain('state-shared');
    expect(check.code).toBe(0);
    expect(run('staging/web.machine').code).toBe(0);
    expect(lstatSync(join(repo, 'staging/web.state')).isSymbolicLink()).toBe(true);
    expect(owner('disk2')).toEqual({ machine: 'staging/web.machine', uuid: uuidOf('staging/web.machine.lock') });
  }, 120_000);

  test('the same path with another UUID (a regenerated or copied machine) is refused', () => {
    writeFileSync(join(repo, 'prod/web.machine'), web());
    mkdirSync(join(repo, 'prod/web.state'));
    writeFileSync(join(repo, 'prod/web.state/machine'), JSON.stringify({ machine: 'prod/web.machine', uuid: '00000000-0000-4000-8000-000000000001' }));
    const r = run('prod/web.machine');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/belongs to prod\/web\.machine with the UUID 00000000-0000-4000-8000-000000000001, not to prod\/web\.machine \(UUID [0-9a-f-]{36}\)/);
    expect(existsSync(join(repo, 'prod/web.state/OVMF_VARS.fd'))).toBe(false);
  }, 60_000);
});

(haveTools ? describe : describe.skip)('a state folder run cannot make', () => {
  test('a dangling symlink in its place: a diagnostic, not a stack trace', () => {
    writeFileSync(join(repo, 'prod/web.machine'), web());
    symlinkSync('../gone', join(repo, 'prod/web.state'));
    const r = run('prod/web.machine');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[state-unwritable\]: cannot make the state folder \S*prod\/web\.state \(a symlink to \.\.\/gone, which is not a folder\)/);
    expect(r.stderr).toContain(' --> prod/web.machine:1:9');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});

(haveTools ? describe : describe.skip)('export libvirt claims the state folder its domain\'s nvram goes in, as run does', () => {
  test('prod exports; staging pointing at prod\'s folder is refused, and no XML is written', async () => {
    writeFileSync(join(repo, 'prod/web.machine'), web());
    writeFileSync(join(repo, 'staging/web.machine'), web('  state = "../prod/web.state"\n'));
    const prod = await runCli(['export', 'libvirt', 'prod/web.machine', '--out', 'prod.xml'], repo);
    expect(prod.code).toBe(0);
    expect(readFileSync(join(repo, 'prod.xml'), 'utf8')).toContain(`<nvram template='${OVMF}'>${join(repo, 'prod/web.state/OVMF_VARS.fd')}</nvram>`);
    expect(owner('prod/web.state')).toEqual({ machine: 'prod/web.machine', uuid: uuidOf('prod/web.machine.lock') });
    const staging = await runCli(['export', 'libvirt', 'staging/web.machine', '--out', 'staging.xml'], repo);
    expect(staging.code).toBe(1);
    expect(staging.stderr).toMatch(/error\[state-shared\]: the state folder \S*prod\/web\.state belongs to prod\/web\.machine, not to staging\/web\.machine/);
    expect(existsSync(join(repo, 'staging.xml'))).toBe(false);
    expect(run('staging/web.machine').code).toBe(1);
  }, 120_000);
});

(haveTools ? describe : describe.skip)('owner files an older machinec wrote (NAME FILE only)', () => {
  test('beside the machine and naming it: taken over, and the path and UUID recorded', () => {
    writeFileSync(join(repo, 'prod/web.machine'), web());
    mkdirSync(join(repo, 'prod/web.state'));
    writeFileSync(join(repo, 'prod/web.state/machine'), 'web web.machine\n');
    const r = run('prod/web.machine');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(owner('prod/web.state')).toEqual({ machine: 'prod/web.machine', uuid: uuidOf('prod/web.machine.lock') });
  }, 60_000);

  test('naming a web.machine, but the folder is not beside this one: refused, it may be another web\'s', () => {
    writeFileSync(join(repo, 'staging/web.machine'), web('  state = "../prod/web.state"\n'));
    mkdirSync(join(repo, 'prod/web.state'));
    writeFileSync(join(repo, 'prod/web.state/machine'), 'web web.machine\n');
    const r = run('staging/web.machine');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[state-shared\]: the state folder \S*prod\/web\.state belongs to the machine web of a web\.machine \(recorded by name and file name only, and the folder is not beside this machine's file\)/);
    expect(readFileSync(join(repo, 'prod/web.state/machine'), 'utf8')).toBe('web web.machine\n');
    return runCli(['check', 'staging'], repo).then((check) => {
      expect(check.code).toBe(1);
      expect(check.stderr).toMatch(/error\[state-shared\]: the owner file of the state folder \S*prod\/web\.state names the machine web of a web\.machine \(an older machinec's owner file, by name and file name only\), not staging\/web\.machine/);
    });
  }, 60_000);
});
