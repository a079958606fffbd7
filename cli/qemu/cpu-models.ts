/**
 * Which versioned CPU model an unversioned one is for a machine type (QMP query-cpu-definitions,
 * `alias-of`: with pc-q35-7.2, Skylake-Client is Skylake-Client-v1). Asked once per binary and
 * machine type (a QEMU start, ~1 s), then cached beside the machine types, keyed by the binary's
 * path, mtime and size.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { binaryKey, cacheDir } from './machine-types.js';

const QUERY_TIMEOUT_MS = 10_000;
const CACHE_NAME = 'qemu-cpu-models.json';

interface CacheEntry {
  readonly path: string;
  readonly mtimeMs: number;
  readonly size: number;
  readonly machineType: string;
  readonly aliases: Record<string, string>;
}

/** `query-cpu-definitions` answers → unversioned name → versioned name. */
export function parseCpuDefinitions(answers: readonly { name: string; 'alias-of'?: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of answers) if (d['alias-of']) out[d.name] = d['alias-of'];
  return out;
}

function ask(binary: string, machineType: string): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const child = execFile(binary, ['-machine', machineType, '-accel', 'tcg', '-nodefaults', '-no-user-config', '-display', 'none', '-S', '-qmp', 'stdio'], { timeout: QUERY_TIMEOUT_MS, maxBuffer: 8 * 1024 * 1024 }, (error, stdout) => {
      for (const line of stdout.split('\n')) {
        try {
          const msg = JSON.parse(line) as { return?: unknown };
          if (Array.isArray(msg.return)) return resolve(parseCpuDefinitions(msg.return as { name: string }[]));
        } catch {
          // not a QMP line
        }
      }
      reject(error ?? new Error(`${binary} gave no query-cpu-definitions answer`));
    });
    child.stdin?.end('{"execute":"qmp_capabilities"}\n{"execute":"query-cpu-definitions"}\n{"execute":"quit"}\n');
  });
}

export async function cpuAliases(binary: string, machineType: string): Promise<Record<string, string>> {
  const key = binaryKey(binary);
  const file = path.join(cacheDir(), CACHE_NAME);
  let entries: CacheEntry[] = [];
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as { version: number; entries: CacheEntry[] };
    if (parsed.version === 1 && Array.isArray(parsed.entries)) entries = parsed.entries;
  } catch {
    // no cache yet
  }
  const hit = key && entries.find((e) => e.path === key!.path && e.mtimeMs === key!.mtimeMs && e.size === key!.size && e.machineType === machineType);
  if (hit) return hit.aliases;
  const aliases = await ask(binary, machineType);
  if (key) {
    const kept = entries.filter((e) => !(e.path === key!.path && e.machineType === machineType));
    try {
      await fs.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
      await fs.writeFile(tmp, JSON.stringify({ version: 1, entries: [...kept, { ...key, machineType, aliases }] }) + '\n');
      await fs.rename(tmp, file);
    } catch {
      // a cache is a convenience
    }
  }
  return aliases;
}
