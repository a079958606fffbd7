/** The repo a machine belongs to (its git work tree, else its folder) and the locks of the other machines in it. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LockedFile } from '../compiler/index.js';
import { displayPath, findMachines, lockPathOf, type Io } from './io.js';

/** The top of the git work tree holding `dir`, or `dir` itself outside git. */
export function repoRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (dirname(d) === d) return dir;
  }
}

/** Every lock under the repo of `machine`, except its own. */
export function otherLocks(io: Pick<Io, 'cwd'>, machine: string): LockedFile[] {
  const out: LockedFile[] = [];
  for (const m of findMachines([repoRoot(dirname(machine))])) {
    if (m === machine) continue;
    try {
      out.push({ file: displayPath(io, lockPathOf(m)), text: readFileSync(lockPathOf(m), 'utf8') });
    } catch {
      // no lock yet, or unreadable: its own build reports it
    }
  }
  return out;
}
