/**
 * Unique across a repo: two machines under one folder or git work tree never share a MAC or an
 * SMBIOS UUID. The CLI reads every lock under the repo; this finds the values two of them share.
 * A shared value already locked is never changed silently: the hint names
 * `machinec lock --regenerate`, which the plan then shows.
 */
import type { Diagnostic } from '../../grammar/index.js';
import { runRegistered, type Check } from './registry.js';
import { readLock } from '../lockfile.js';
import type { PlacedMachine } from '../model.js';

/** The MACs and vmgenid GUIDs of a lock (each with the device holding it), and its SMBIOS UUID. */
export interface LockValues {
  readonly macs: ReadonlyMap<string, string>;
  readonly guids: ReadonlyMap<string, string>;
  readonly uuid?: string;
}

export interface LockedFile {
  /** The lock as shown in messages. */
  readonly file: string;
  readonly text: string;
  /** `lockValues` of the machine `text` holds, when the caller has it read already (a compilation's): not read from `text` again. */
  readonly values?: LockValues;
}

/** Every MAC, vmgenid GUID and the SMBIOS UUID a locked machine holds. */
export function lockValues(lock: Pick<PlacedMachine, 'uuid' | 'devices'> | undefined): LockValues {
  const macs = new Map<string, string>();
  const guids = new Map<string, string>();
  for (const d of lock?.devices ?? []) {
    if (d.pins.mac) macs.set(d.pins.mac, d.id);
    if (d.pins.guid) guids.set(d.pins.guid, d.id);
  }
  return { macs, guids, uuid: lock?.uuid };
}

const lockedValues = (l: LockedFile): LockValues => l.values ?? lockValues(readLock(l.text, l.file).lock);

/** The values other locks of the repo hold: what a new MAC or UUID must avoid. */
export function takenValues(others: readonly LockedFile[]): { macs: Set<string>; uuids: Set<string>; guids: Set<string> } {
  const macs = new Set<string>();
  const uuids = new Set<string>();
  const guids = new Set<string>();
  for (const o of others) {
    const v = lockedValues(o);
    for (const mac of v.macs.keys()) macs.add(mac);
    for (const guid of v.guids.keys()) guids.add(guid);
    if (v.uuid) uuids.add(v.uuid);
  }
  return { macs, uuids, guids };
}

/** Values a lock shares with an earlier one (files in the order given). */
interface Shared {
  readonly mac?: { readonly value: string; readonly id: string; readonly first: { readonly file: string; readonly id: string } };
  readonly uuid?: { readonly value: string; readonly first: string };
  /** A vmgenid GUID: a copied Windows domain controller that keeps it is not told it was copied. */
  readonly guid?: { readonly value: string; readonly id: string; readonly first: { readonly file: string; readonly id: string } };
  readonly file: string;
}

function findShared(locks: readonly LockedFile[]): Shared[] {
  const out: Shared[] = [];
  const macs = new Map<string, { file: string; id: string }>();
  const uuids = new Map<string, string>();
  const guids = new Map<string, { file: string; id: string }>();
  for (const l of locks) {
    const v = lockedValues(l);
    for (const [mac, id] of v.macs) {
      const first = macs.get(mac);
      if (!first) macs.set(mac, { file: l.file, id });
      else if (first.file !== l.file) out.push({ file: l.file, mac: { value: mac, id, first } });
    }
    for (const [guid, id] of v.guids) {
      const first = guids.get(guid);
      if (!first) guids.set(guid, { file: l.file, id });
      else if (first.file !== l.file) out.push({ file: l.file, guid: { value: guid, id, first } });
    }
    if (v.uuid) {
      const first = uuids.get(v.uuid);
      if (!first) uuids.set(v.uuid, l.file);
      else out.push({ file: l.file, uuid: { value: v.uuid, first } });
    }
  }
  return out;
}

const sourceOf = (lock: string): string => lock.replace(/\.lock$/, '');

/** Lock phase, across the locks of a folder or git work tree (`lock DIR`, `check DIR`). */
export const repoChecks: readonly Check<readonly LockedFile[]>[] = [
  {
    id: 'duplicate-in-repo',
    phase: 'lock',
    severity: 'error',
    run(locks, report) {
      for (const { file, mac, uuid, guid } of findShared(locks)) {
        if (guid) report(`${guid.id} in ${file} has VM generation ID ${guid.value}, which ${guid.first.id} in ${guid.first.file} has too`, undefined, `a guest (a Windows domain controller) learns it was copied by a new one: \`machinec lock --regenerate guid:${guid.id} ${sourceOf(file)}\` gives it one`, [{ message: `${guid.first.id} has it here`, file: guid.first.file }], file);
        if (mac) report(`${mac.id} in ${file} has MAC ${mac.value}, which ${mac.first.id} in ${mac.first.file} has too`, undefined, `two NICs on one network must not share a MAC: give ${mac.id} a new one with \`machinec lock --regenerate mac:${mac.id} ${sourceOf(file)}\` and review the plan`, [{ message: `${mac.first.id} has it here`, file: mac.first.file }], file);
        if (uuid) report(`${file} has SMBIOS UUID ${uuid.value}, which ${uuid.first} has too`, undefined, `guests and management tools tell machines apart by it: \`machinec lock --regenerate uuid ${sourceOf(file)}\` gives it a new one`, [{ message: 'the same UUID', file: uuid.first }], file);
      }
    },
  },
];

/** An error for each value a lock shares with an earlier one (files in the order given), naming both files and devices. */
export function sharedValues(locks: readonly LockedFile[]): Diagnostic[] {
  return runRegistered(repoChecks, locks, '');
}
