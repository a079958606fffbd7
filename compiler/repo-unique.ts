/**
 * Unique across a repo: two machines under one folder or git work tree never share a MAC or an
 * SMBIOS UUID. The CLI reads every lock under the repo; this finds the values two of them share.
 * A shared value already locked is never changed silently: the hint names
 * `machinec lock --regenerate`, which the plan then shows.
 */
import type { Diagnostic } from '../grammar/index.js';
import { readLock } from './lockfile.js';

export interface LockedFile {
  /** The lock as shown in messages. */
  readonly file: string;
  readonly text: string;
}

/** Every MAC and the SMBIOS UUID locked in `text` (nothing when the lock does not read). */
export function lockedValues(text: string, file: string): { macs: Map<string, string>; uuid?: string } {
  const lock = readLock(text, file).lock;
  const macs = new Map<string, string>();
  for (const d of lock?.devices ?? []) if (d.pins.mac) macs.set(d.pins.mac, d.id);
  return { macs, uuid: lock?.uuid };
}

/** The values other locks of the repo hold: what a new MAC or UUID must avoid. */
export function takenValues(others: readonly LockedFile[]): { macs: Set<string>; uuids: Set<string> } {
  const macs = new Set<string>();
  const uuids = new Set<string>();
  for (const o of others) {
    const v = lockedValues(o.text, o.file);
    for (const mac of v.macs.keys()) macs.add(mac);
    if (v.uuid) uuids.add(v.uuid);
  }
  return { macs, uuids };
}

/** An error for each value a lock shares with an earlier one (files in the order given), naming both files and devices. */
export function sharedValues(locks: readonly LockedFile[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const macs = new Map<string, { file: string; id: string }>();
  const uuids = new Map<string, string>();
  for (const l of locks) {
    const v = lockedValues(l.text, l.file);
    for (const [mac, id] of v.macs) {
      const first = macs.get(mac);
      if (!first) macs.set(mac, { file: l.file, id });
      else if (first.file !== l.file) {
        out.push({ code: 'duplicate-in-repo', severity: 'error', message: `${id} in ${l.file} has MAC ${mac}, which ${first.id} in ${first.file} has too`, file: l.file, related: [{ message: `${first.id} has it here`, file: first.file }], hint: `two NICs on one network must not share a MAC: give ${id} a new one with \`machinec lock --regenerate mac:${id} ${l.file.replace(/\.lock$/, '')}\` and review the plan` });
      }
    }
    if (v.uuid) {
      const first = uuids.get(v.uuid);
      if (!first) uuids.set(v.uuid, l.file);
      else out.push({ code: 'duplicate-in-repo', severity: 'error', message: `${l.file} has SMBIOS UUID ${v.uuid}, which ${first} has too`, file: l.file, related: [{ message: 'the same UUID', file: first }], hint: `guests and management tools tell machines apart by it: \`machinec lock --regenerate uuid ${l.file.replace(/\.lock$/, '')}\` gives it a new one` });
    }
  }
  return out;
}
