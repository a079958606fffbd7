/** Size and sha256 of the files a build pins (firmware images), or null when a file is not there. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export function digestFiles(paths: readonly string[]): Record<string, { size: number; sha256: string } | null> {
  const out: Record<string, { size: number; sha256: string } | null> = {};
  for (const p of paths) {
    try {
      const bytes = readFileSync(p);
      out[p] = { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    } catch {
      out[p] = null;
    }
  }
  return out;
}
