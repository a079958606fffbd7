/** The repo a machine belongs to (its git work tree, else its folder), and the MACs, UUIDs and vmgenid GUIDs its locks hold. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { takenValues, type LockedFile, type PlacedMachine } from '../compiler/index.js';
import { displayPath, findMachines, lockPathOf, type Io } from './io.js';

/** The top of the git work tree holding `dir`, or `dir` itself outside git. */
export function repoRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (dirname(d) === d) return dir;
  }
}

/** Every lock under the repo of `machine`, its own included, with the machine it belongs to. */
function repoLocks(io: Pick<Io, 'cwd'>, machine: string): (LockedFile & { readonly machine: string })[] {
  const out: (LockedFile & { readonly machine: string })[] = [];
  for (const m of findMachines([repoRoot(dirname(machine))])) {
    try {
      out.push({ machine: m, file: displayPath(io, lockPathOf(m)), text: readFileSync(lockPathOf(m), 'utf8') });
    } catch {
      // no lock yet, or unreadable: its own build reports it
    }
  }
  return out;
}

type Values = ReturnType<typeof takenValues>;

/**
 * The MACs and UUIDs each lock of a repo holds, read once per run (a `lock` over 500 new machines
 * read every other lock once per machine: 32 s), and kept up to date with the locks this run
 * makes, so that a machine locked later avoids what one locked earlier just took.
 */
export class RepoValues {
  private readonly byRoot = new Map<string, Map<string, Values>>();
  /** Locks this run compiled, which may not be on disk yet. */
  private readonly recorded = new Map<string, Values>();

  constructor(private readonly io: Pick<Io, 'cwd'>) {}

  /** What the locks under the repo of `machine`, other than its own, hold. */
  takenBy(machine: string): Values {
    const macs = new Set<string>();
    const uuids = new Set<string>();
    const guids = new Set<string>();
    for (const [m, v] of this.locksOf(machine)) {
      if (m === machine) continue;
      for (const mac of v.macs) macs.add(mac);
      for (const uuid of v.uuids) uuids.add(uuid);
      for (const guid of v.guids) guids.add(guid);
    }
    return { macs, uuids, guids };
  }

  /** `machine`'s lock as this run leaves it (read lazily: a run that takes no new values reads no other lock). */
  record(machine: string, placed: Pick<PlacedMachine, 'uuid' | 'devices'>): void {
    const pinned = (key: string) => new Set(placed.devices.flatMap((d) => (d.pins[key] ? [d.pins[key]] : [])));
    const values = { macs: pinned('mac'), uuids: new Set([placed.uuid]), guids: pinned('guid') };
    this.recorded.set(machine, values);
    this.byRoot.get(repoRoot(dirname(machine)))?.set(machine, values);
  }

  private locksOf(machine: string): Map<string, Values> {
    const root = repoRoot(dirname(machine));
    let locks = this.byRoot.get(root);
    if (!locks) {
      locks = new Map();
      for (const lock of repoLocks(this.io, machine)) locks.set(lock.machine, this.recorded.get(lock.machine) ?? takenValues([lock]));
      for (const [m, v] of this.recorded) if (repoRoot(dirname(m)) === root) locks.set(m, v);
      this.byRoot.set(root, locks);
    }
    return locks;
  }
}
