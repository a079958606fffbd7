/**
 * git integration: `machinec textconv LOCK` (a diff driver: `git diff` and `git log -p` show each
 * device as the guest sees it) and `machinec merge-lock %O %A %B [%P]` (a merge driver: locks
 * of branches that changed different devices merge; a true clash is a conflict naming the devices).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chipsets, GuestView, mergeLocks, readLock, shortPlace, type PlacedMachine } from '../../compiler/index.js';
import { writeAtomic } from '../io.js';
import type { Session } from '../session.js';

/**
 * A lock as `git diff` shows it: every line that pins something, in the lock's order. Devices one
 * line each as the guest sees them (id, model, guest address, pinned values, QEMU properties and
 * the names the guest gives it); the format, firmware, cpu, smbios, qemu-args and option lines as
 * they are. Only comments and blank lines are left out, so two locks that pin anything
 * differently never look the same.
 */
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
  s.io.stdout(textconvLines(text, r.lock).join('\n') + '\n');
  return 0;
}

/** A value as the lock writes it: a bare word, else a JSON string. */
const lockValue = (v: string): string => (/^[!#-~]+$/.test(v) ? v : JSON.stringify(v));

type Device = PlacedMachine['devices'][number];

/**
 * A PCI device's `bus=` and `addr=` when they are not what its guest address says (the bus whose
 * number it is, the slot and function): QEMU gets them, so a lock whose wiring disagrees shows it.
 */
function wiringUnlike(m: PlacedMachine, d: Device): string[] {
  if (!d.guest || !d.addr) return [];
  const owner = d.guest.bus === 0 ? chipsets[m.chipset]?.rootBus : m.devices.find((x) => x.secondaryBus === d.guest!.bus)?.id;
  if (owner === d.bus && d.addr.slot === d.guest.slot && d.addr.fn === d.guest.fn) return [];
  return [`bus=${lockValue(d.bus)}`, `addr=${d.addr.slot.toString(16).padStart(2, '0')}.${d.addr.fn}`];
}

function deviceLine(m: PlacedMachine, view: GuestView, d: Device): string {
  const n = view.namesOf(d);
  const pins = Object.keys(d.pins).sort().map((k) => `${k}=${lockValue(d.pins[k])}`);
  const props = d.props === undefined ? [] : [`props=${lockValue(d.props)}`];
  const names = [n.linuxNic && `linux=${n.linuxNic}`, n.byPath && `by-path=${n.byPath}`, n.windowsLocation && `windows=${n.windowsLocation}`].filter(Boolean);
  return [d.id, d.model, shortPlace(d).replace(/ /g, '_'), ...wiringUnlike(m, d), ...pins, ...props, ...names, ...(d.auto ? ['(machinec)'] : [])].join('  ');
}

/**
 * The lock's lines past its comments: the format line, the machine line, then each line as it is
 * but the device lines, which are the last lines that are not options (a lock lists the machine's
 * own values before its devices), one for each device read.
 */
function textconvLines(text: string, m: PlacedMachine): string[] {
  const view = new GuestView(m);
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const [format, , ...rest] = lines;
  const others = rest.filter((l) => !l.startsWith('option ') && l !== 'option');
  const firstDevice = others.length - m.devices.length;
  const out = [`machine ${m.name} ${m.machineType} uuid=${m.uuid}`, format];
  let seen = 0;
  for (const l of rest) {
    if (l.startsWith('option ') || l === 'option') out.push(l);
    else if (seen++ < firstDevice) out.push(l);
    else out.push(deviceLine(m, view, m.devices[seen - 1 - firstDevice]));
  }
  return out;
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
