/**
 * Every lock line reaches git's diff. `machinec textconv` shows each line that pins something
 * (firmware, cpu, smbios, qemu-args, option, and devices with their `props=`), so:
 * - a property over the sample locks: one line of a real lock mutated (a character of one field
 *   changed, the line dropped, doubled or swapped with the next) gives a textconv output other
 *   than the original's, whenever the two read as different locks (or the mutated one does not read);
 * - with real git and the textconv driver configured as a user would (.gitattributes
 *   `diff=machinec`, the built CLI): `lock --update firmware`, `lock --update cpu` and a bootindex
 *   change each show in `git diff` and `git diff --stat`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { readLock } from '../../compiler/index.js';
import { runCli } from '../support/cli.js';
import { freshBin, REPO } from '../support/bin.js';
import { tempFolder } from '../support/temp.js';

const SAMPLES = join(REPO, 'samples');
const LOCKS = readdirSync(SAMPLES).filter((f) => f.endsWith('.lock')).sort().map((f) => readFileSync(join(SAMPLES, f), 'utf8'));

const contentLines = (text: string): number[] => text.split('\n').flatMap((l, i) => (l !== '' && !l.startsWith('#') ? [i] : []));
const CHARS = '0123456789abcdefxyz=,.-_:/"'.split('');

type Mutation = { kind: 'char'; at: number; char: string } | { kind: 'drop' } | { kind: 'double' } | { kind: 'swap' };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('char' as const), at: fc.nat(), char: fc.constantFrom(...CHARS) }) },
  fc.record({ kind: fc.constant('drop' as const) }),
  fc.record({ kind: fc.constant('double' as const) }),
  fc.record({ kind: fc.constant('swap' as const) }),
);

function mutate(text: string, lineChoice: number, m: Mutation): string {
  const lines = text.split('\n');
  const content = contentLines(text);
  const i = content[lineChoice % content.length];
  const line = lines[i];
  if (m.kind === 'drop') lines.splice(i, 1);
  else if (m.kind === 'double') lines.splice(i, 0, line);
  else if (m.kind === 'swap') [lines[i], lines[i + 1]] = [lines[i + 1], lines[i]];
  else {
    // a character after the line's first word: a value, never the keyword that says what the line is
    const from = line.indexOf(' ') + 1;
    const at = from + (m.at % Math.max(1, line.length - from));
    lines[i] = line.slice(0, at) + m.char + line.slice(at + 1);
  }
  return lines.join('\n');
}

async function textconv(dir: string, text: string): Promise<string> {
  writeFileSync(join(dir, 'x.machine.lock'), text);
  const r = await runCli(['textconv', 'x.machine.lock'], dir);
  expect(r.code).toBe(0);
  return r.stdout;
}

describe('textconv shows every pinned line', () => {
  test('a lock with one line mutated never looks the same as the original', async () => {
    const dir = tempFolder('machinec-textconv-');
    let readable = 0;
    const originals: string[] = [];
    for (const l of LOCKS) originals.push(await textconv(dir, l));
    await fc.assert(
      fc.asyncProperty(fc.nat(LOCKS.length - 1), fc.nat(), mutation, async (which, line, m) => {
        const text = LOCKS[which];
        const mutated = mutate(text, line, m);
        // What the lock pins is what it reads as: the same character put back, two equal lines
        // swapped, or a word the reader does not read (the `-` of a device off PCI) pin the same.
        const read = readLock(mutated, 'x.machine.lock').lock;
        if (read && JSON.stringify(read) === JSON.stringify(readLock(text, 'x.machine.lock').lock)) return;
        if (read) readable++;
        expect(await textconv(dir, mutated)).not.toBe(originals[which]);
      }),
      { numRuns: 400, seed: 20261207 },
    );
    // Most mutations still read as a lock: the property is about those, not about refused locks shown as they are.
    expect(readable).toBeGreaterThan(150);
  }, 120_000);

  test('firmware, cpu, smbios, qemu-args, option lines and props= are shown as the lock has them', async () => {
    const dir = tempFolder('machinec-textconv-');
    const lock = LOCKS.find((l) => /^firmware /m.test(l))!;
    const out = await textconv(dir, lock);
    for (const l of lock.split('\n').filter((x) => /^(firmware|cpu|smbios|qemu-args|option) /.test(x))) expect(out.split('\n')).toContain(l);
    for (const props of lock.match(/ props=\S+/g) ?? []) expect(out).toContain(`  ${props.slice(1).replace(/"/g, '')}`);
  });
});

const OVMF = '/usr/share/OVMF';
const haveOvmf = existsSync(join(OVMF, 'OVMF_CODE_4M.fd')) && existsSync(join(OVMF, 'OVMF_CODE_4M.secboot.fd'));
const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e', NO_COLOR: '1' };

/** A repository with machinec's textconv driver configured as docs/git.md says, and `source` built and committed. */
function repo(source: (dir: string) => string) {
  const bin = freshBin();
  const dir = tempFolder('machinec-textconv-git-');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const machinec = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: dir, env, encoding: 'utf8' });
  git('init', '-q', '-b', 'main');
  git('config', 'diff.machinec.textconv', `"${process.execPath}" "${bin}" textconv`);
  writeFileSync(join(dir, '.gitattributes'), '*.machine.lock diff=machinec\n');
  copyFileSync(join(OVMF, 'OVMF_CODE_4M.fd'), join(dir, 'CODE.fd'));
  copyFileSync(join(OVMF, 'OVMF_VARS_4M.fd'), join(dir, 'VARS.fd'));
  writeFileSync(join(dir, 'm.machine'), source(dir));
  const built = machinec('build', 'm.machine');
  expect(built.stderr).not.toContain('error');
  git('add', '.');
  git('commit', '-qm', 'base');
  return { dir, git, machinec };
}

const SOURCE = (dir: string) => `machine m {\n  cpu = Skylake-Client\n  firmware = uefi { code = "${dir}/CODE.fd", vars = "${dir}/VARS.fd" }\n  device disk0: virtio-blk-pci { file = "d.img", bootindex = 1 }\n}\n`;

(haveOvmf || process.env.CI ? describe : describe.skip)('git diff with the textconv driver', () => {
  test('lock --update firmware: git diff shows the firmware line', () => {
    const r = repo(SOURCE);
    copyFileSync(join(OVMF, 'OVMF_CODE_4M.secboot.fd'), join(r.dir, 'CODE.fd'));
    expect(r.machinec('lock', '--update', 'firmware', 'm.machine').status).toBe(0);
    const diff = r.git('diff', 'm.machine.lock');
    expect(diff).toMatch(/^-firmware uefi .*code-size=3653632 /m);
    expect(diff).toMatch(/^\+firmware uefi .*code-sha256=[0-9a-f]{64}/m);
    expect(r.git('diff', '--stat', 'm.machine.lock')).toMatch(/m\.machine\.lock \| 2 \+-/);
  }, 60_000);

  test('lock --update cpu: git diff shows the cpu line', () => {
    const r = repo(SOURCE);
    // What an older QEMU resolved the alias to: the lock pins it until `--update cpu` approves the new one.
    const lockFile = join(r.dir, 'm.machine.lock');
    const lock = readFileSync(lockFile, 'utf8');
    const resolved = /^cpu (\S+) requested=Skylake-Client$/m.exec(lock)?.[1];
    expect(resolved).toBeDefined();
    writeFileSync(lockFile, lock.replace(/^cpu \S+/m, 'cpu Skylake-Client-v2').replace(new RegExp(`^option -cpu ${resolved}$`, 'm'), 'option -cpu Skylake-Client-v2'));
    r.git('commit', '-qam', 'pinned by an older QEMU');
    expect(r.machinec('lock', '--update', 'cpu', 'm.machine').status).toBe(0);
    const diff = r.git('diff', 'm.machine.lock');
    expect(diff).toMatch(/^-cpu Skylake-Client-v2 requested=Skylake-Client$/m);
    expect(diff).toContain(`\n+cpu ${resolved} requested=Skylake-Client\n`);
  }, 60_000);

  test('a bootindex change: git diff shows props=', () => {
    const r = repo(SOURCE);
    writeFileSync(join(r.dir, 'm.machine'), SOURCE(r.dir).replace('bootindex = 1', 'bootindex = 2'));
    expect(r.machinec('build', 'm.machine').status).toBe(0);
    const diff = r.git('diff', 'm.machine.lock');
    expect(diff).toMatch(/^-disk0 {2}virtio-blk-pci .* {2}props=bootindex=1 /m);
    expect(diff).toMatch(/^\+disk0 {2}virtio-blk-pci .* {2}props=bootindex=2 /m);
  }, 60_000);
});
