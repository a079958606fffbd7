/** File I/O for the commands: reading sources and locks, and writing files atomically. */
import { createHash } from 'node:crypto';
import { closeSync, constants, readFileSync, fchmodSync, fstatSync, fsyncSync, lstatSync, openSync, readSync, realpathSync, renameSync, rmSync, writeSync, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { diagnose } from '../compiler/index.js';
import type { Diagnostic } from '../grammar/index.js';

export interface Io {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stdout/stderr are terminals (colour). */
  readonly isTTY: boolean;
  /** The file a worker thread starts from (the CLI's own), when commands may compile on several threads (cli/parallel.ts). */
  readonly workerEntry?: string;
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

/** The largest source or lock machinec reads: a bigger file is refused before it is read. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;

/** The git work tree holding `dir`, if any: the nearest folder upwards with a `.git`. */
function workTreeOf(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (dirname(d) === d) return undefined;
  }
}

/**
 * The tree a path may point into: the git work tree holding it, else the working directory when
 * the path is inside it, else the path's own folder. A symlink whose target leaves it is refused.
 */
const isInCwd = (path: string, cwd: string): boolean => !relative(cwd, path).startsWith('..');
function treeOf(path: string, cwd: string): string {
  const dir = dirname(path);
  return workTreeOf(dir) ?? (isInCwd(path, cwd) ? cwd : dir);
}

const inside = (root: string, path: string): boolean => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

function readFailure(what: string, shown: string, why: string, hint?: string): ReadResult {
  return { ok: false, diagnostic: diagnose('unreadable-file', `cannot read ${what} ${shown}: ${why}`, { file: shown, hint }) };
}

const ERRNO_WHY: Readonly<Record<string, string>> = {
  ENOENT: 'it does not exist',
  EISDIR: 'it is a folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many symbolic links',
  ENOTDIR: 'a part of the path is not a folder',
  EIO: 'an I/O error',
};

/**
 * Reads a source or a lock: a regular file only (a FIFO, device or folder is an error, never a
 * hang), at most MAX_INPUT_BYTES, and never through a symlink that leaves the tree it sits in
 * (the git work tree, or the working directory): such a file's content is never read, so it can
 * never appear in a diagnostic.
 */
export function readText(path: string, shown: string, what = 'file', cwd = dirname(path), listings?: FolderListings): ReadResult {
  const fd = listings ? openUnlinked(path) : undefined;
  return readOpened(path, shown, what, cwd, listings, typeof fd === 'number' ? fd : undefined);
}

/**
 * `open(path)` when its last part is not a symlink (O_NOFOLLOW): the descriptor, else the errno
 * code. A run reads two files per machine, and the `lstat` this spares is a syscall each; any
 * failure (a symlink, a missing file, permissions) is read again the long way, for its diagnostic.
 */
function openUnlinked(path: string): number | string {
  if (!constants.O_NOFOLLOW) return 'ENOSYS';
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | constants.O_NOFOLLOW);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'EIO';
  }
}

/** `readText`, from `opened` when given (the path opened by `openUnlinked`: not a symlink), closing it. */
function readOpened(path: string, shown: string, what: string, cwd: string, listings: FolderListings | undefined, opened: number | undefined): ReadResult {
  let fd = opened;
  try {
    const real = opened !== undefined ? listings!.realPathUnlinked(path) : listings ? listings.realPath(path) : realpathSync(path);
    const root = listings ? listings.treeRoot(resolve(path), cwd) : realpathSync(treeOf(resolve(path), cwd));
    if (!inside(root, real)) return readFailure(what, shown, `it is a symbolic link to ${real}, outside ${root}`, 'machinec reads only files inside the git work tree (or folder) it works on; copy the file in instead of linking it');
    fd ??= openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const st = fstatSync(fd);
    if (st.isDirectory()) return readFailure(what, shown, ERRNO_WHY.EISDIR);
    if (!st.isFile()) return readFailure(what, shown, 'it is not a regular file (a FIFO, socket or device)', 'machinec reads regular files only');
    if (st.size > MAX_INPUT_BYTES) return readFailure(what, shown, `it is ${st.size} bytes, more than the ${MAX_INPUT_BYTES} (16 MiB) machinec reads`);
    const buf = Buffer.alloc(Math.min(MAX_INPUT_BYTES + 1, st.size + 1));
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, n)) > 0; ) n += r;
    if (n > st.size) return readFailure(what, shown, 'it grew while being read');
    return { ok: true, text: buf.toString('utf8', 0, n) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    return readFailure(what, shown, ERRNO_WHY[code] ?? code ?? String((e as Error).message), code === 'ENOENT' ? 'check the path' : undefined);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A file that may be absent: undefined when it does not exist, else read as `readText` does. */
export function readIfExists(path: string, shown: string, what: string, cwd?: string, listings?: FolderListings): ReadResult | undefined {
  if (listings) {
    // The open says whether it exists (ENOENT as lstat says it); a failure other than that is read the long way.
    const fd = openUnlinked(path);
    if (fd === 'ENOENT') return undefined;
    if (typeof fd === 'number') return readOpened(path, shown, what, cwd ?? dirname(path), listings, fd);
  }
  try {
    lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  }
  // With listings the O_NOFOLLOW open was tried above: read the long way, not open again.
  return listings ? readOpened(path, shown, what, cwd ?? dirname(path), listings, undefined) : readText(path, shown, what, cwd);
}

/**
 * A file machinec could not write (full disk, read-only folder, permissions): an environment
 * failure, exit 1 with a diagnostic naming the file, never "a machinec bug".
 */
const FILE_WRITE_ERROR = Symbol.for('machinec.FileWriteError');

export class FileWriteError extends Error {
  /** The commands in dist/lazy carry their own copy of this module: `instanceof` tests a brand both copies set. */
  static override [Symbol.hasInstance](e: unknown): boolean {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[FILE_WRITE_ERROR] === true;
  }
  readonly [FILE_WRITE_ERROR] = true;
  constructor(readonly path: string, readonly errno: string, cause: string) {
    super(`cannot write ${path}: ${cause}`);
  }
  diagnostic(shown: string): Diagnostic {
    const why: Record<string, string> = { ENOSPC: 'no space left on the device', EDQUOT: 'disk quota exceeded', EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'the file system is read-only', ENOENT: 'its folder does not exist', EIO: 'an I/O error' };
    return diagnose('unwritable-file', `cannot write ${shown}: ${why[this.errno] ?? this.errno}`, { file: shown, hint: 'the file on disk is unchanged; free space or fix the permissions, then run the command again' });
  }
}

const TEMP = /^\.(.+)\.(\d+)\.[0-9a-z]+\.tmp$/;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Temporary files of these paths left by a writer that was killed (its process is gone): removed.
 * Each folder is listed once however many of its files are asked about (a command over a folder of
 * 500 machines asks three times per machine).
 */
export function removeStaleTemps(...paths: string[]): void {
  removeStaleTempsListed(paths);
}

/**
 * What one command run has seen of its folders: each folder's dot-files (the only names a temp
 * file or a journal can have), listed once per run. A command over a folder of 500 machines
 * recovers before reading each of them; listing the folder each time made that quadratic.
 * Files another process creates during the run are left to the next run, as they were when the
 * listing was per machine (a live writer's temps are never removed, and a journal is finished
 * only after its writer is gone).
 */
export class FolderListings {
  private readonly dotFiles = new Map<string, readonly string[] | undefined>();
  private readonly trees = new Map<string, string>();

  /** The dot-files of `dir` when it was first asked about in this run; undefined when it cannot be listed. */
  dotFilesOf(dir: string): readonly string[] | undefined {
    if (!this.dotFiles.has(dir)) {
      let names: string[] | undefined;
      try {
        names = readdirSync(dir).filter((n) => n.startsWith('.'));
      } catch {
        names = undefined;
      }
      this.dotFiles.set(dir, names);
    }
    return this.dotFiles.get(dir);
  }

  private readonly realDirs = new Map<string, string>();
  /** `realpath(path)`, its folder's asked once in this run: for a file that is not a symlink, one `lstat`. */
  realPath(path: string): string {
    return lstatSync(path).isSymbolicLink() ? realpathSync(path) : this.realPathUnlinked(path);
  }

  /** `realpath(path)` of a path whose last part is not a symlink (opened with O_NOFOLLOW): its folder's, asked once in this run. */
  realPathUnlinked(path: string): string {
    const dir = dirname(path);
    let real = this.realDirs.get(dir);
    if (real === undefined) this.realDirs.set(dir, (real = realpathSync(dir)));
    return join(real, basename(path));
  }

  /** `realpath(treeOf(path, cwd))`, asked once per folder in this run (the same for every file in it). */
  treeRoot(path: string, cwd: string): string {
    const key = `${isInCwd(path, cwd) ? 1 : 0}${cwd}\0${dirname(path)}`;
    let root = this.trees.get(key);
    if (root === undefined) this.trees.set(key, (root = realpathSync(treeOf(path, cwd))));
    return root;
  }
}

function removeStaleTempsListed(paths: readonly string[], listings?: FolderListings): void {
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) {
    const names = byDir.get(dirname(p)) ?? new Set<string>();
    byDir.set(dirname(p), names.add(basename(p)));
  }
  for (const [dir, names] of byDir) {
    let entries: readonly string[];
    if (listings) {
      const listed = listings.dotFilesOf(dir);
      if (!listed) continue;
      entries = listed;
    } else {
      try {
        entries = readdirSync(dir);
      } catch {
        continue;
      }
    }
    for (const name of entries) {
      const m = TEMP.exec(name);
      if (m && names.has(m[1]) && Number(m[2]) !== process.pid && !alive(Number(m[2]))) rmSync(join(dir, name), { force: true });
    }
  }
}

/**
 * Writes through a temporary file in the same folder, flushed to disk, then renamed over the
 * target: readers see the old file or the new one, never half of one, and two writers at once
 * each rename a whole file. Short writes are continued until every byte is written. The file
 * keeps its permissions. Temporary files a killed writer left behind are removed first. `write`
 * is `fs.writeSync` (a spec passes one that writes a few bytes at a time, or none).
 */
export function writeAtomic(path: string, text: string, write: (fd: number, bytes: Buffer, offset: number, length: number) => number = writeSync): void {
  removeStaleTemps(path);
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
    const bytes = Buffer.from(text, 'utf8');
    for (let done = 0; done < bytes.length; ) {
      const n = write(fd, bytes, done, bytes.length - done);
      if (n <= 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
      done += n;
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new FileWriteError(path, code, (e as Error).message);
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
    // A named file that is not a folder (a FIFO, a socket, a device) is read, and refused, as a file.
    if (!st.isDirectory()) {
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

/** The journal beside FILE that makes writing FILE and FILE.lock together one step. */
export const journalPathOf = (source: string): string => join(dirname(source), `.${basename(source)}.journal`);

interface Journal {
  readonly journal: 1;
  readonly writes: readonly { readonly file: string; readonly before: string; readonly after: string }[];
}

const sha256 = (text: string | undefined): string => (text === undefined ? '' : createHash('sha256').update(text).digest('hex'));

const currentText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * Writes files in one folder as one step (`rename`: the source and its lock). The new contents
 * go into a journal first (written atomically), then each file, then the journal goes. A crash
 * before the journal is whole changes nothing; after it, `recoverWrites` finishes the job.
 * (`write` is writeAtomic; a spec passes one that stops part way, as a kill would.)
 */
export function writeTogether(journal: string, writes: readonly { readonly path: string; readonly after: string }[], write: (path: string, text: string) => void = writeAtomic): void {
  const entry: Journal = { journal: 1, writes: writes.map((w) => ({ file: basename(w.path), before: sha256(currentText(w.path)), after: w.after })) };
  writeAtomic(journal, JSON.stringify(entry));
  for (const w of writes) write(w.path, w.after);
  rmSync(journal, { force: true });
}

/** The files a killed writer of FILE can leave temporary files of: FILE, its lock and its journal. */
const recoverable = (source: string): string[] => [source, lockPathOf(source), journalPathOf(source)];

/**
 * Whether `recoverWrites(source, listings)` could find anything to do: a dot-file beside FILE that
 * is a temporary file of FILE or its lock, or FILE's journal. A worker thread (cli/parallel.ts)
 * never recovers; it leaves such a machine to the main thread.
 */
export function mayNeedRecovery(source: string, listings: FolderListings): boolean {
  const journal = basename(journalPathOf(source));
  const names = new Set(recoverable(source).map((p) => basename(p)));
  const listed = listings.dotFilesOf(dirname(source));
  if (!listed) return true;
  return listed.some((name) => name === journal || names.has(TEMP.exec(name)?.[1] ?? ''));
}

/**
 * Run before a command reads FILE: removes temporary files a killed machinec left beside FILE and
 * its lock, and finishes a `writeTogether` a crash interrupted. Returns what it did, for a note;
 * a journal whose files were edited since is left alone (and said).
 */
export function recoverWrites(source: string, listings?: FolderListings): string | undefined {
  const journal = journalPathOf(source);
  removeStaleTempsListed(recoverable(source), listings);
  if (listings && !listings.dotFilesOf(dirname(journal))?.includes(basename(journal))) return undefined;
  const text = currentText(journal);
  if (text === undefined) return undefined;
  let entry: Journal;
  try {
    entry = JSON.parse(text) as Journal;
    if (entry.journal !== 1 || !Array.isArray(entry.writes)) throw new Error('not a journal');
  } catch {
    return `${journal} is not a machinec journal: left as it is`;
  }
  const dir = dirname(source);
  const paths = entry.writes.map((w) => join(dir, basename(w.file)));
  const states = paths.map((p) => sha256(currentText(p)));
  if (entry.writes.some((w, i) => states[i] !== w.before && states[i] !== sha256(w.after))) return `${journal}: an interrupted write, but its files changed since; delete it once you have checked them`;
  entry.writes.forEach((w, i) => {
    if (states[i] !== sha256(w.after)) writeAtomic(paths[i], w.after);
  });
  rmSync(journal, { force: true });
  return `finished an interrupted write of ${entry.writes.map((w) => w.file).join(' and ')}`;
}
