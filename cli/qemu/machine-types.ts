/**
 * Facts about the installed QEMU binary: where it is, its version, its machine types.
 * Machine types are cached per binary (path + mtime + size): `-machine help` costs a QEMU start.
 */
import { execFile } from 'node:child_process';
import { constants as fsConstants, promises as fs, statSync, accessSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_QEMU_BINARY } from '../../compiler/index.js';

/** `execFile` as a promise, made on first use: a build whose machine types are cached starts no QEMU and loads no child_process. */
const execFileAsync = (file: string, args: readonly string[], options: { timeout: number; maxBuffer?: number }) => promisify(execFile)(file, args, options);

export const DEFAULT_QEMU = DEFAULT_QEMU_BINARY;
/** `-machine help` and `--version` answer in well under a second; a binary that hangs must not hold up a build. */
const QUERY_TIMEOUT_MS = 5_000;

export interface MachineTypes {
  /** Every concrete machine type, in QEMU's order (aliases are not listed here). */
  readonly types: string[];
  /** Alias → concrete type, e.g. `pc` → `pc-i440fx-7.2`, `q35` → `pc-q35-7.2`. */
  readonly aliases: Record<string, string>;
  /** The type QEMU uses without `-machine`, if it says so. */
  readonly defaultType?: string;
}

/** Parse the output of `qemu-system-x86_64 -machine help`. */
export function parseMachineHelp(text: string): MachineTypes {
  const types: string[] = [];
  const aliases: Record<string, string> = {};
  let defaultType: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!line || /^Supported machines/i.test(line) || /^\s/.test(line)) continue;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    const name = m ? m[1] : line.trim();
    const desc = m ? m[2] : '';
    const alias = /\(alias of ([^)\s]+)\)/.exec(desc);
    if (alias) {
      aliases[name] = alias[1];
      continue;
    }
    types.push(name);
    if (/\(default\)/.test(desc)) defaultType = name;
  }
  return defaultType ? { types, aliases, defaultType } : { types, aliases };
}

/** Resolve a machine name (alias or type) to a concrete type, or undefined if QEMU does not know it. */
export function resolveMachineType(mt: MachineTypes, name: string): string | undefined {
  if (mt.aliases[name] !== undefined) return mt.aliases[name];
  return mt.types.includes(name) ? name : undefined;
}

/** What a cache entry about a binary is keyed by: its path, mtime and size (undefined when it cannot be read). */
export function binaryKey(binary: string): { path: string; mtimeMs: number; size: number } | undefined {
  try {
    const st = statSync(binary);
    return { path: binary, mtimeMs: st.mtimeMs, size: st.size };
  } catch {
    return undefined;
  }
}

export function cacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(base, 'machinec');
}

interface CacheEntry {
  readonly path: string;
  readonly mtimeMs: number;
  readonly size: number;
  readonly machineTypes: MachineTypes;
}

interface CacheFile {
  readonly version: 1;
  entries: CacheEntry[];
}

const CACHE_NAME = 'qemu-machine-types.json';

async function readCache(file: string): Promise<CacheFile | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as CacheFile;
    return parsed && parsed.version === 1 && Array.isArray(parsed.entries) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

async function writeCache(file: string, data: CacheFile): Promise<void> {
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Write-then-rename, so a concurrent reader never sees half a file.
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(data, null, 1) + '\n');
    await fs.rename(tmp, file);
  } catch {
    // A cache is a convenience: never fatal.
  }
}

/** Resolve a command name to its absolute path via PATH (a path with a slash is taken as is). */
function resolveBinary(qemuPath: string): string {
  if (qemuPath.includes('/')) return path.resolve(qemuPath);
  return findOnPath(qemuPath) ?? qemuPath;
}

/**
 * The machine types the given QEMU binary supports (runs `-machine help`), cached under
 * `$XDG_CACHE_HOME/machinec` (or `~/.cache/machinec`) keyed by binary path, mtime and size.
 */
export async function listMachineTypes(qemuPath: string = DEFAULT_QEMU, options: { cache?: boolean } = {}): Promise<MachineTypes> {
  const useCache = options.cache ?? true;
  const binary = resolveBinary(qemuPath);
  const key = binaryKey(binary);
  const file = path.join(cacheDir(), CACHE_NAME);
  const cached = useCache && key ? await readCache(file) : undefined;
  const hit = cached?.entries.find((e) => e.path === key!.path && e.mtimeMs === key!.mtimeMs && e.size === key!.size);
  if (hit && Array.isArray(hit.machineTypes?.types) && hit.machineTypes.types.length > 0) return hit.machineTypes;

  const { stdout } = await execFileAsync(binary, ['-machine', 'help'], { timeout: QUERY_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 });
  const machineTypes = parseMachineHelp(stdout);
  if (machineTypes.types.length === 0) throw new Error(`${binary} -machine help listed no machine types`);
  if (useCache && key) {
    const entries = (cached?.entries ?? []).filter((e) => e.path !== key!.path);
    entries.push({ ...key, machineTypes });
    await writeCache(file, { version: 1, entries });
  }
  return machineTypes;
}

export interface QemuVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
  /** The full first line, e.g. `QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)`. */
  readonly text: string;
}

/** Parse `qemu-system-x86_64 --version` output. */
export function parseQemuVersion(text: string): QemuVersion {
  const first = text.split('\n')[0]?.trim() ?? '';
  const m = /version\s+(\d+)\.(\d+)(?:\.(\d+))?/i.exec(first);
  if (!m) throw new Error(`cannot parse QEMU version from: ${first || '(empty output)'}`);
  return { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3] ?? 0), text: first };
}

export async function qemuVersion(qemuPath: string = DEFAULT_QEMU): Promise<QemuVersion> {
  const { stdout } = await execFileAsync(resolveBinary(qemuPath), ['--version'], { timeout: QUERY_TIMEOUT_MS });
  return parseQemuVersion(stdout);
}

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The QEMU binary to use: `explicit` if given (and executable; a bare name is looked up on PATH),
 * else `qemu-system-x86_64` on PATH, else undefined. Never throws.
 */
export function findQemu(explicit?: string): string | undefined {
  try {
    if (explicit) {
      if (explicit.includes('/')) return isExecutable(explicit) ? path.resolve(explicit) : undefined;
      return findOnPath(explicit);
    }
    return findOnPath(DEFAULT_QEMU);
  } catch {
    return undefined;
  }
}
