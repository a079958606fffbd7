/** File I/O for the commands: reading sources and locks, and writing files atomically. */
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { Diagnostic } from '../grammar/index.js';

export interface Io {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stdout/stderr are terminals (colour). */
  readonly isTTY: boolean;
}

export function processIo(): Io {
  return {
    cwd: process.cwd(),
    env: process.env,
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: Boolean(process.stderr.isTTY),
  };
}

export const useColor = (io: Io): boolean => io.isTTY && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb';

export const lockPathOf = (source: string): string => `${source}.lock`;

/** How a path is shown in messages: relative to the working directory when inside it. */
export function displayPath(io: Pick<Io, 'cwd'>, path: string): string {
  const rel = relative(io.cwd, path);
  return rel && !rel.startsWith('..') ? rel : path;
}

export type ReadResult = { ok: true; text: string } | { ok: false; diagnostic: Diagnostic };

export function readText(path: string, shown: string, what = 'file'): ReadResult {
  try {
    return { ok: true, text: readFileSync(path, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : String((e as Error).message);
    return { ok: false, diagnostic: { code: 'unreadable-file', severity: 'error', message: `cannot read ${what} ${shown}: ${why}`, file: shown, hint: code === 'ENOENT' ? 'check the path' : undefined } };
  }
}

export const readIfExists = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

/**
 * Writes through a temporary file in the same folder, flushed to disk, then renamed over the
 * target: readers see the old file or the new one, never half of one, and two writers at once
 * each rename a whole file. The file keeps its permissions.
 */
export function writeAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  let fd: number | undefined;
  let mode = 0o644;
  try {
    mode = statSync(path).mode & 0o7777; // keep the file's permissions
  } catch {
    // a new file
  }
  try {
    fd = openSync(tmp, 'wx', mode);
    fchmodSync(fd, mode);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Every `.machine` file under the given files and folders, sorted; node_modules and dot-folders skipped. */
export function findMachines(paths: readonly string[]): string[] {
  const out = new Set<string>();
  const walk = (p: string): void => {
    let st;
    try {
      st = statSync(p);
    } catch {
      out.add(p); // reported as unreadable later
      return;
    }
    if (st.isFile()) {
      out.add(p);
      return;
    }
    for (const entry of readdirSync(p, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = join(p, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.machine')) out.add(full);
    }
  };
  for (const p of paths) walk(p);
  return [...out].sort();
}
