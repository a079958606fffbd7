/**
 * `lock` and `check` over many machines compile them on several threads (cli/parallel.ts). The rule it must
 * keep: what a run prints, its exit status and the files it leaves are byte-identical on one
 * thread and on four, for a repo with every kind of machine a run treats specially. The built
 * CLI (dist/machinec.mjs) runs here, as a user runs it; V8 writes one CPU profile per thread it
 * ran, which shows the run on four really used more than one.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMachine } from '../tools/generate-machine.js';
import { freshBin } from './support/bin.js';

const here = import.meta.dirname ?? new URL('.', import.meta.url).pathname;
const BIN = freshBin();
const MACHINES = 120;

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'machinec-parallel-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const machinec = (cwd: string, args: readonly string[], node: readonly string[] = []) => spawnSync(process.execPath, [...node, BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });

/** Every file under `dir` (dot-files too) with its content, for comparing two trees. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name).slice(dir.length)] = readFileSync(join(e.parentPath, e.name), 'utf8');
  }
  return out;
}

/** A repo of MACHINES locked machines, then edited so that every share of it has machines of each kind. */
function repo(name: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, '.git'), { recursive: true });
  for (let i = 0; i < MACHINES; i++) writeFileSync(join(dir, `m${String(i).padStart(3, '0')}.machine`), generateMachine(10).replace('machine bench10 {', `machine m${i} {`));
  const m = (i: number) => join(dir, `m${String(i).padStart(3, '0')}.machine`);
  // Two machines in different shares with one state folder (UEFI variables, TPM): state-shared.
  for (const i of [5, 115]) writeFileSync(m(i), readFileSync(m(i), 'utf8').replace('  cpus    = 4', '  cpus    = 4\n  state   = "one.state"\n  device tpm: tpm-crb {}'));
  expect(machinec(dir, ['lock', '-j', '1', '.']).status).toBe(0);
  for (const i of [7, 64, 65, 110]) writeFileSync(m(i), readFileSync(m(i), 'utf8').replace('  device video: VGA {}', '  device video: VGA {}\n  device extra: e1000 { netdev = user }'));
  for (const i of [70, 71, 111]) rmSync(`${m(i)}.lock`); // new machines: their MACs must avoid each other's
  writeFileSync(m(80), 'machine bad {\n  device x: \n}\n'); // a syntax error
  writeFileSync(`${m(90)}.lock`, 'garbage\n'); // a lock that does not read
  cpSync(`${m(3)}.lock`, `${m(95)}.lock`); // a copied lock: duplicate-in-repo
  writeFileSync(m(100), readFileSync(m(100), 'utf8').replace('memory  = 8G', 'memory  = 8G\n  cpus = 4')); // a property given twice
  rmSync(m(101));
  symlinkSync('/etc/hostname', m(101)); // a link out of the repo: refused
  writeFileSync(join(dir, '.m102.machine.lock.999999.x1.tmp'), 'stale'); // a dead writer's temp file
  writeFileSync(join(dir, '.m103.machine.journal'), JSON.stringify({ journal: 1, writes: [] })); // an interrupted write to finish
  return dir;
}

let runs = 0;
const NO_QEMU = ['--qemu', '/nonexistent/qemu-system-x86_64'];

test.each([
  ['lock --locked', ['lock', '--locked', '.']],
  ['lock --locked, no QEMU (its note printed once, where a build first asks)', ['lock', '--locked', '.', ...NO_QEMU]],
  ['lock (writes locks; new MACs avoid those taken earlier in the run)', ['lock', '.']],
  ['check', ['check', '.']],
])('%s: one thread and four print, exit and write the same', (_what, args) => {
  const run = String(++runs);
  // Both runs in the same folder (messages name it), from the same start.
  const dir = repo(`repo-${run}`);
  cpSync(dir, `${dir}.start`, { recursive: true, verbatimSymlinks: true });
  const profiles = join(root, `profiles-${run}`);
  const a = machinec(dir, [...args, '-j', '1']);
  const after = tree(dir);
  rmSync(dir, { recursive: true });
  cpSync(`${dir}.start`, dir, { recursive: true, verbatimSymlinks: true });
  const b = machinec(dir, [...args, '-j', '4'], ['--cpu-prof', '--cpu-prof-dir', profiles]);
  expect(a.stderr).toContain(`${MACHINES} machines`);
  expect(b.stderr).toBe(a.stderr);
  expect(b.stdout).toBe(a.stdout);
  expect(b.status).toBe(a.status);
  expect(a.status).toBe(1);
  expect(tree(dir)).toEqual(after);
  expect(readdirSync(profiles).length).toBeGreaterThan(1);
});

test('--jobs takes a whole number from 1 to 64', () => {
  const r = machinec(root, ['lock', '--locked', '-j', '0', '.']);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/error\[usage\].*--jobs takes a whole number of threads from 1 to 64, not "0"/);
});
