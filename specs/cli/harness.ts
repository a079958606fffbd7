/** Shared helpers for the CLI specs: scratch folders, in-process runs, goldens, the bundled binary. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { main } from '../../cli/main.js';
import { runCli, type CliResult } from '../support/cli.js';
import { BIN, freshBin } from '../support/bin.js';
import { expectGolden } from '../support/golden.js';

export const REPO = process.cwd();
export { BIN };
export const GOLDENS = join(REPO, 'specs', 'cli');

/** Every spec passes `--qemu` this, so machine types are QEMU 7.2's defaults whatever is installed. */
export const NO_QEMU = '/nonexistent/qemu-system-x86_64';
export const Q = ['--qemu', NO_QEMU] as const;
export const QEMU_NOTE = `note: ${NO_QEMU} not found: machine types come from the lock, or default to pc-i440fx-7.2 and pc-q35-7.2 (QEMU 7.2)\n`;

export const SAMPLES = join(REPO, 'samples');
export const sample = (name: string): string => readFileSync(join(SAMPLES, name), 'utf8');

/** A stack frame as Node prints it: never on a user's terminal. */
export const STACK_FRAME = /\n\s+at .+:\d+:\d+/;
export const ANSI = /\x1b\[/;

const scratchDirs: string[] = [];

/** A fresh temp folder holding `files` (paths may contain folders). Removed by `cleanScratch`. */
export function scratch(files: Record<string, string> = {}, prefix = 'machinec-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  for (const [name, text] of Object.entries(files)) put(dir, name, text);
  return dir;
}

export function cleanScratch(): void {
  for (const d of scratchDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function put(dir: string, name: string, text: string): void {
  mkdirSync(dirname(join(dir, name)), { recursive: true });
  writeFileSync(join(dir, name), text);
}

export const read = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');
export const exists = (dir: string, name: string): boolean => existsSync(join(dir, name));

/** Contents, mtime and inode: a file that was rewritten (even with the same bytes) shows it. */
export function snapshot(dir: string, name: string): { text: string; mtimeMs: number; ino: number } {
  const st = statSync(join(dir, name));
  return { text: read(dir, name), mtimeMs: st.mtimeMs, ino: st.ino };
}

/** Every file under `dir`, relative, sorted, with its bytes: to assert that nothing was written. */
export function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== '.git') walk(p);
      } else out[p] = readFileSync(join(dir, p), 'latin1');
    }
  };
  walk('');
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Temporary files left behind by a write (writeAtomic's `.NAME.PID.RANDOM.tmp`). */
export function leftovers(dir: string): string[] {
  return Object.keys(tree(dir)).filter((f) => /\.tmp(-\d+)?$/.test(f));
}

export { runCli, type CliResult };

/** runCli with `--qemu /nonexistent/...` appended and the one "not found" note checked and removed from stderr. */
export async function run(args: readonly string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const r = await runCli([...args, ...Q], cwd, env);
  return { ...r, stderr: stripNote(r.stderr) };
}

export function stripNote(stderr: string): string {
  const i = stderr.indexOf(QEMU_NOTE);
  if (i < 0) return stderr;
  const rest = stderr.slice(0, i) + stderr.slice(i + QEMU_NOTE.length);
  if (rest.includes('not found')) throw new Error(`the QEMU note was printed more than once:\n${stderr}`);
  return rest;
}

/** Runs main with a custom terminal: `isTTY` and the environment as given. */
export async function runTerminal(args: readonly string[], cwd: string, env: Record<string, string | undefined>, isTTY: boolean): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main([...args], { cwd, env, isTTY, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

/** Compares `actual` with specs/cli/NAME, or rewrites it with UPDATE_GOLDENS=1. */
export function golden(name: string, actual: string): void {
  expectGolden(join(GOLDENS, name), actual);
}

/** Fails unless dist/machinec.mjs is built from today's sources (`npm test` builds it first). */
export function ensureBin(): void {
  freshBin();
}

/** The lock line of device `id`. */
export function lockLine(lock: string, id: string): string {
  const line = lock.split('\n').find((l) => l.split(' ')[2] === id);
  if (!line) throw new Error(`no device ${id} in the lock:\n${lock}`);
  return line;
}
