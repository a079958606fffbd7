/**
 * `machinec init` in real git repositories, with the built binary on PATH as git's drivers and hook call it:
 * git itself says which attributes, config, ignores and hook apply; a build, a commit through the hook, an
 * edit and a rebuild, and `git diff` shows the lock as textconv prints it. A second run changes nothing; a
 * user's files keep their lines, and one of init's files that differs is named, never overwritten.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshBin, REPO } from './support/bin.js';
import { tempFolder } from './support/temp.js';

const bin = freshBin();
const binDir = tempFolder('machinec-init-bin-');
symlinkSync(bin, join(binDir, 'machinec'));
const env = { ...process.env, PATH: `${binDir}:${process.env.PATH}`, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', NO_COLOR: '1' };

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env, encoding: 'utf8' });
const machinec = (cwd: string, ...args: string[]) => {
  const r = spawnSync('machinec', args, { cwd, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

function repo(): string {
  const dir = tempFolder('machinec-init-');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 'Test');
  git(dir, 'config', 'user.email', 'test@example.invalid');
  return dir;
}

/** Everything init may touch, as text: to show a second run changed nothing. */
const state = (dir: string): string =>
  ['.gitattributes', '.gitignore', '.github/workflows/machinec-review.yml', '.git/hooks/pre-commit', '.git/config'].map((f) => `${f}\n${readFileSync(join(dir, f), 'utf8')}`).join('\n');

const OFFICE = readFileSync(join(REPO, 'samples', 'office.machine'), 'utf8');

describe('machinec init', () => {
  test('sets up an empty repository as git reads it, and a second run changes nothing', () => {
    const dir = repo();
    const first = machinec(dir, 'init');
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain('wrote .gitattributes: *.machine.lock diff=machinec merge=machinec\n');
    expect(first.stdout).toContain('set git config merge.machinec.driver "machinec merge-lock %O %A %B %P"\n');
    expect(first.stdout).toContain('wrote .gitignore: *.state/\n');
    expect(first.stdout).toContain('wrote .github/workflows/machinec-review.yml\n');
    expect(first.stdout).toContain('wrote .git/hooks/pre-commit\n');
    // git, not init, says what applies.
    expect(git(dir, 'check-attr', 'diff', 'merge', '--', 'vm/web.machine.lock')).toBe('vm/web.machine.lock: diff: machinec\nvm/web.machine.lock: merge: machinec\n');
    expect(git(dir, 'config', '--get', 'diff.machinec.textconv')).toBe('machinec textconv\n');
    expect(git(dir, 'config', '--get', 'merge.machinec.name')).toBe('machinec lock merge\n');
    expect(git(dir, 'check-ignore', 'web.state/VARS.fd')).toBe('web.state/VARS.fd\n');
    expect(readFileSync(join(dir, '.github/workflows/machinec-review.yml'), 'utf8')).toBe(readFileSync(join(REPO, 'examples', 'machinec-review.yml'), 'utf8'));
    expect(statSync(join(dir, '.git/hooks/pre-commit')).mode & 0o111).toBe(0o111);

    const before = state(dir);
    const second = machinec(dir, 'init');
    expect(second).toEqual({ code: 0, stdout: '. is already set up for machinec: nothing changed\n', stderr: '' });
    expect(state(dir)).toBe(before);
  });

  test('then a build, a commit through the hook, an edit and a rebuild: git diff shows textconv\'s view of the lock', () => {
    const dir = repo();
    expect(machinec(dir, 'init').code).toBe(0);
    writeFileSync(join(dir, 'office.machine'), OFFICE);
    expect(machinec(dir, 'build', 'office.machine').code).toBe(0);
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'office');

    writeFileSync(join(dir, 'office.machine'), OFFICE.replace('  device video: VGA {}\n', '  device video: VGA {}\n  device nic1: e1000 { netdev = user }\n'));
    // The hook refuses a commit whose lock is out of date.
    git(dir, 'add', 'office.machine');
    const refused = spawnSync('git', ['commit', '-q', '-m', 'nic1 without its lock'], { cwd: dir, env, encoding: 'utf8' });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('office.machine.lock');

    expect(machinec(dir, 'build', 'office.machine').code).toBe(0);
    const diff = git(dir, 'diff', '--', 'office.machine.lock');
    const raw = git(dir, 'diff', '--no-textconv', '--', 'office.machine.lock');
    const after = machinec(dir, 'textconv', 'office.machine.lock').stdout.split('\n');
    const added = diff.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++')).map((l) => l.slice(1));
    expect(added.length).toBeGreaterThan(0);
    for (const line of added) expect(after).toContain(line);
    expect(added.some((l) => l.startsWith('nic1 '))).toBe(true);
    // textconv's view, not the lock's own lines: the device line reads as textconv writes it (the
    // lock's option lines it shows as they are).
    const rawAdded = raw.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++')).map((l) => l.slice(1));
    const rawDevice = rawAdded.find((l) => / nic1 /.test(l))!;
    expect(rawDevice).toBeDefined();
    expect(added).not.toContain(rawDevice);
    git(dir, 'commit', '-q', '-a', '-m', 'nic1');
    expect(git(dir, 'log', '--oneline').split('\n').filter(Boolean)).toHaveLength(2);
  });

  test("keeps a user's lines and files: adds its own, and names the one it will not overwrite", () => {
    const dir = repo();
    writeFileSync(join(dir, '.gitattributes'), '*.png binary'); // no newline at the end
    writeFileSync(join(dir, '.gitignore'), 'build/\n*.state/\n');
    mkdirSync(join(dir, '.git/hooks'), { recursive: true });
    writeFileSync(join(dir, '.git/hooks/pre-commit'), '#!/bin/sh\nmake lint\n');
    chmodSync(join(dir, '.git/hooks/pre-commit'), 0o755);
    git(dir, 'config', 'diff.machinec.textconv', 'cat');
    const r = machinec(dir, 'init', '.');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('added to .gitattributes: *.machine.lock diff=machinec merge=machinec\n');
    expect(r.stdout).not.toContain('.gitignore');
    expect(r.stderr).toContain('error[init-exists]: .git/hooks/pre-commit exists and is not the one machinec writes, so init left it as it is');
    expect(r.stderr).toContain('error[init-exists]: git config diff.machinec.textconv is "cat", not "machinec textconv", so init left it as it is');
    expect(r.stderr).toContain('= hint:');
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(readFileSync(join(dir, '.gitattributes'), 'utf8')).toBe('*.png binary\n*.machine.lock diff=machinec merge=machinec\n');
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('build/\n*.state/\n');
    expect(readFileSync(join(dir, '.git/hooks/pre-commit'), 'utf8')).toBe('#!/bin/sh\nmake lint\n');
    expect(git(dir, 'config', '--get', 'diff.machinec.textconv')).toBe('cat\n');
    expect(git(dir, 'config', '--get', 'merge.machinec.driver')).toBe('machinec merge-lock %O %A %B %P\n');
  });

  test('outside a git work tree, a diagnostic with a hint and nothing written', () => {
    const dir = tempFolder('machinec-init-nogit-');
    const r = machinec(dir, 'init');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[git]:');
    expect(r.stderr).toContain('git init');
    expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout).toBe('');
  });
});
