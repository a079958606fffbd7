/**
 * git integration: `machinec textconv LOCK` (a diff driver: `git diff` and `git log -p` show each
 * device as the guest sees it) and `machinec merge-lock %O %A %B [%P]` (a merge driver: locks
 * of branches that changed different devices merge; a true clash is a conflict naming the devices).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GuestView, mergeLocks, readLock, shortPlace } from '../../compiler/index.js';
import { writeAtomic } from '../io.js';
import type { Session } from '../session.js';

/** One line a device: id, model, guest address, pinned values, and the names the guest gives it. */
export async function textconvCommand(s: Session, file: string): Promise<number> {
  let text: string;
  try {
    text = readFileSync(resolve(s.io.cwd, file), 'utf8');
  } catch (e) {
    return s.fail('unreadable-file', `cannot read ${file}: ${(e as Error).message}`);
  }
  const r = readLock(text, file);
  // git shows whatever a textconv prints: a lock that does not read is shown as it is.
  if (!r.lock) {
    s.io.stdout(text);
    return 0;
  }
  const m = r.lock;
  const view = new GuestView(m);
  const lines = [`machine ${m.name} ${m.machineType} uuid=${m.uuid}`];
  for (const d of m.devices) {
    const n = view.namesOf(d);
    const pins = Object.keys(d.pins).sort().map((k) => `${k}=${d.pins[k]}`);
    const names = [n.linuxNic && `linux=${n.linuxNic}`, n.byPath && `by-path=${n.byPath}`, n.windowsLocation && `windows=${n.windowsLocation}`].filter(Boolean);
    lines.push([d.id, d.model, shortPlace(d).replace(/ /g, '_'), ...pins, ...names, ...(d.auto ? ['(machinec)'] : [])].join('  '));
  }
  s.io.stdout(lines.join('\n') + '\n');
  return 0;
}

export async function mergeLockCommand(s: Session, base: string, ours: string, theirs: string, path?: string): Promise<number> {
  const texts: string[] = [];
  for (const f of [base, ours, theirs]) {
    try {
      texts.push(readFileSync(resolve(s.io.cwd, f), 'utf8'));
    } catch (e) {
      return s.fail('unreadable-file', `cannot read ${f}: ${(e as Error).message}`, {}, 2);
    }
  }
  // Without %P git names only its temporary files: the lock is then named by its machine, never by them.
  const merged = mergeLocks(texts[0], texts[1], texts[2], path);
  const shown = path ?? merged.name ?? 'the lock';
  if (merged.text) {
    writeAtomic(resolve(s.io.cwd, ours), merged.text);
    if (merged.replaced.length) s.io.stderr(`machinec merge-lock: ${shown}: both branches added a device at one address; placed anew: ${merged.replaced.join(', ')}\n`);
    return 0;
  }
  // A conflict git shows: both sides between markers, with what clashes named above them.
  const conflict = [...merged.conflicts.map((c) => `# conflict: ${c}`), '<<<<<<< ours', texts[1].trimEnd(), '=======', texts[2].trimEnd(), '>>>>>>> theirs', ''].join('\n');
  writeAtomic(resolve(s.io.cwd, ours), conflict);
  for (const c of merged.conflicts) s.fail('lock-conflict', `${shown}: ${c}`);
  s.io.stderr('  = hint: settle the .machine file, take one side of the lock (`git checkout --ours FILE`), run `machinec build` and review the plan\n');
  return 1;
}
