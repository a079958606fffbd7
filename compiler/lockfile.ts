/**
 * The lockfile: `NAME.machine.lock`, one device a line in guest topology order, so that a diff
 * line is a device. Plain `key=value` words, LF, a final newline, a format version and nothing
 * that changes between runs or machines.
 *
 *   # comment lines
 *   lockfile 2
 *   machine office pc-q35-7.2 uuid=…
 *   pci 00:02.0 rp1 pcie-root-port bus=pcie.0 addr=02.0 chassis=1 pcie-port=1 secondary=1 auto
 *   pci 01:00.0 nic0 virtio-net-pci bus=rp1 addr=00.0 mac=52:54:00:…
 *   usb - tablet usb-tablet bus=usb.0 port=1
 *
 * The second word is the guest's bus:slot.function ("-" off PCI): derived, but written so a
 * reviewer sees what the guest sees, and a renumbered bus shows up in the diff.
 *
 * Format 2 gives a root port's PCIe port number its own key, `pcie-port=`; in format 1 it was
 * `port=`, the key a USB device's port has. Format 1 is still read (every address kept, the
 * root port's `port=` read as `pcie-port=`), and the next write is format 2.
 */
import type { Diagnostic } from '../grammar/index.js';
import { chipsetOfMachineType } from './chipsets.js';
import { formatAddress, parseAddress } from './machine-spec.js';
import { lockConflicts, lockValue, MACHINE_TYPE, PIN_RULES, quoteLockValue, splitLockWords, UUID, type LockLine } from './lock-schema.js';
import type { Attachment, GuestAddress, PlacedDevice, PlacedMachine } from './model.js';
import { readVmLine, writeVmLines, type VmLinePins } from './vm-lock.js';

export const LOCK_FORMAT = 2;
/** Formats this machinec reads: the current one, and 1 (upgraded as it is read). */
const READS: readonly number[] = [1, 2];

/** Format 1's key for a root port's PCIe port number, renamed in format 2. */
function upgradeV1Pins(model: string, pins: Record<string, string>): void {
  if (model !== 'pcie-root-port' || pins.port === undefined) return;
  pins['pcie-port'] = pins.port;
  delete pins.port;
}

const ATTACHMENTS: readonly Attachment[] = ['pci', 'usb', 'scsi', 'ide', 'virtio-serial', 'hda', 'system'];

export function formatGuestAddress(g: GuestAddress): string {
  return `${g.bus.toString(16).padStart(2, '0')}:${formatAddress(g)}`;
}

/** A file name as the lock's comment shows it: quoted and escaped when it holds a control character. */
const shownName = (name: string): string => (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name) ? JSON.stringify(name) : name);

export function writeLock(machine: PlacedMachine, source: string): string {
  const sourceName = shownName(source);
  const lines = [
    `# ${sourceName}.lock: written by machinec. Do not edit; commit it beside ${sourceName}.`,
    `# Every address and value the guest can see is pinned here. Review changes with \`machinec plan\`.`,
    `lockfile ${LOCK_FORMAT}`,
    `machine ${machine.name} ${machine.machineType} uuid=${machine.uuid}`,
    ...writeVmLines(machine),
  ];
  for (const [opt, value] of machine.options ?? []) lines.push(value === '' ? `option ${opt}` : `option ${opt} ${quoteLockValue(value)}`);
  for (const d of machine.devices) {
    const words = [d.attachment, d.guest ? formatGuestAddress(d.guest) : '-', d.id, d.model, `bus=${d.bus}`];
    if (d.addr) words.push(`addr=${formatAddress(d.addr)}`);
    for (const key of Object.keys(d.pins).sort()) words.push(`${key}=${quoteLockValue(d.pins[key])}`);
    if (d.secondaryBus !== undefined) words.push(`secondary=${d.secondaryBus}`);
    if (d.props !== undefined) words.push(`props=${quoteLockValue(d.props)}`);
    if (d.auto) words.push('auto');
    lines.push(words.join(' '));
  }
  return lines.join('\n') + '\n';
}

export interface ReadLockResult {
  readonly lock?: PlacedMachine;
  readonly diagnostics: Diagnostic[];
}

const WORD = /^[A-Za-z0-9_.:+-]+$/;

/** Reads a lock strictly: any line it does not understand is an error, and a bad lock is never rewritten. */
export function readLock(text: string, file: string): ReadLockResult {
  const diagnostics: Diagnostic[] = [];
  const lines = text.split('\n');
  let offset = 0;
  const fail = (lineStart: number, line: string, message: string, hint: string, code = 'lock-syntax'): ReadLockResult => {
    diagnostics.push({ code, severity: 'error', message, file, span: { start: lineStart, end: lineStart + Math.max(1, line.replace(/\r$/, '').length) }, hint });
    return { diagnostics };
  };
  const REBUILD = 'the lock is generated: restore it from git (`git checkout -- FILE`) or delete it and run `machinec build` to lock the current placement anew';
  let version: number | undefined;
  let header: { name: string; type: string; uuid: string } | undefined;
  const devices: PlacedDevice[] = [];
  const options: [string, string][] = [];
  const deviceLines: LockLine[] = [];
  const vm: { -readonly [K in keyof VmLinePins]: VmLinePins[K] } = {};
  const ids = new Set<string>();
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n];
    const start = offset;
    offset += raw.length + 1;
    const line = raw.replace(/\r$/, '');
    // machinec ends every lock with a newline: a last line without one was cut short (a truncated
    // write or copy), and its last value may be cut too (`mac=52:54:00:81:f`), so it is not read.
    if (n === lines.length - 1 && raw !== '') return fail(start, line, `line ${n + 1} is cut short: the lock does not end with a newline`, REBUILD, 'lock-truncated');
    if (/^(<<<<<<<|=======|>>>>>>>|\|\|\|\|\|\|\|)( |$)/.test(line)) {
      return fail(start, line, 'the lock has git conflict markers', 'never merge a lock by hand: take either side (`git checkout --ours FILE`), then run `machinec build` and review the plan', 'lock-conflict');
    }
    if (line.trim() === '' || line.startsWith('#')) continue;
    const words = splitLockWords(line);
    if (!words) return fail(start, line, `line ${n + 1}: a quoted value is not closed`, REBUILD);
    if (words.some((w) => w === '')) return fail(start, line, `unexpected spacing on line ${n + 1}`, REBUILD);
    if (version === undefined) {
      if (words[0] !== 'lockfile' || words.length !== 2 || !/^\d+$/.test(words[1])) return fail(start, line, `not a machinec lock: it must start with \`lockfile ${LOCK_FORMAT}\``, REBUILD);
      version = Number(words[1]);
      if (!READS.includes(version)) return fail(start, line, `lock format ${version} is not one this machinec reads (it reads formats ${READS.join(' and ')})`, version > LOCK_FORMAT ? 'it was written by a newer machinec: upgrade machinec' : REBUILD, 'lock-version');
      continue;
    }
    if (!header) {
      const uuid = words[3]?.startsWith('uuid=') ? words[3].slice(5) : undefined;
      if (words[0] !== 'machine' || words.length !== 4 || !uuid || !WORD.test(words[1]) || !chipsetOfMachineType(words[2])) return fail(start, line, `line ${n + 1}: expected \`machine NAME TYPE uuid=…\``, REBUILD);
      if (!MACHINE_TYPE.test(words[2])) return fail(start, line, `line ${n + 1}: ${words[2]} is not a bare QEMU machine type`, REBUILD);
      if (!UUID.test(uuid)) return fail(start, line, `line ${n + 1}: uuid=${uuid} is not a UUID (lower-case hex)`, REBUILD);
      header = { name: words[1], type: words[2], uuid };
      continue;
    }
    if (words[0] === 'option') {
      const value = words.length === 3 ? lockValue(words[2]) : '';
      if (words.length > 3 || !/^-[a-z][a-z0-9-]*$/.test(words[1] ?? '') || value === undefined || (words.length === 3 && value === '')) return fail(start, line, `line ${n + 1}: expected \`option -NAME [VALUE]\``, REBUILD);
      if (['-name', '-machine', '-uuid', '-device'].includes(words[1])) return fail(start, line, `line ${n + 1}: ${words[1]} is never an option line (it comes from the machine and device lines)`, REBUILD, 'lock-forged');
      options.push([words[1], value]);
      continue;
    }
    if (!devices.length) {
      const problem = readVmLine(words, vm);
      if (problem) return fail(start, line, `line ${n + 1}: ${problem}`, REBUILD);
      if (problem === undefined) continue;
    }
    const [attachment, guestText, id, model, ...rest] = words;
    if (!ATTACHMENTS.includes(attachment as Attachment) || !id || !model || !WORD.test(id) || !WORD.test(model)) return fail(start, line, `line ${n + 1}: not a device line`, REBUILD);
    if (ids.has(id)) return fail(start, line, `line ${n + 1}: device ${id} is locked twice`, REBUILD);
    ids.add(id);
    const pins: Record<string, string> = {};
    let bus: string | undefined;
    let addr;
    let secondaryBus: number | undefined;
    let auto = false;
    let props: string | undefined;
    for (const w of rest) {
      if (w === 'auto') { auto = true; continue; }
      const eq = w.indexOf('=');
      if (eq <= 0) return fail(start, line, `line ${n + 1}: expected key=value, found ${w}`, REBUILD);
      const key = w.slice(0, eq);
      const value = lockValue(w.slice(eq + 1));
      if (value === undefined) return fail(start, line, `line ${n + 1}: bad value in ${w}`, REBUILD);
      if (key === 'bus') bus = value;
      else if (key === 'props') props = value;
      else if (key === 'addr') {
        addr = parseAddress(value);
        if (!addr) return fail(start, line, `line ${n + 1}: bad address ${value}`, REBUILD);
      } else if (key === 'secondary') {
        if (!/^[1-9]\d{0,2}$/.test(value) || Number(value) > 255) return fail(start, line, `line ${n + 1}: secondary=${value} is not a bus number (1 to 255)`, REBUILD);
        secondaryBus = Number(value);
      } else {
        const ruleKey = version === 1 && model === 'pcie-root-port' && key === 'port' ? 'pcie-port' : key; // format 1's root port number
        const rule = Object.hasOwn(PIN_RULES, ruleKey) ? PIN_RULES[ruleKey] : undefined;
        const problem = rule ? rule(value) : `${key}= is not a key machinec writes`;
        if (problem) return fail(start, line, `line ${n + 1}: ${key}=${w.slice(eq + 1)}: ${rule ? `expected ${problem}` : problem}`, REBUILD);
        if (Object.hasOwn(pins, key)) return fail(start, line, `line ${n + 1}: ${key}= is given twice`, REBUILD);
        pins[key] = value;
      }
    }
    if (!bus || (attachment === 'pci') !== (addr !== undefined)) return fail(start, line, `line ${n + 1}: a device needs bus= (and addr= on PCI)`, REBUILD);
    let guest: GuestAddress | undefined;
    if (attachment === 'pci') {
      const m = /^([0-9a-f]{2}):([0-9a-f]{2}\.[0-7])$/.exec(guestText);
      const a = m && parseAddress(m[2]);
      if (!m || !a) return fail(start, line, `line ${n + 1}: bad guest address ${guestText}`, REBUILD);
      guest = { bus: parseInt(m[1], 16), ...a };
    }
    if (version === 1) upgradeV1Pins(model, pins);
    const device: PlacedDevice = { id, model, attachment: attachment as Attachment, bus, addr, guest, secondaryBus, auto, pins, ...(props === undefined ? {} : { props }) };
    devices.push(device);
    deviceLines.push({ device, line: n + 1, span: { start, end: start + Math.max(1, line.length) } });
  }
  if (version === undefined || !header) return fail(0, lines[0] ?? '', 'the lock is empty or cut short', REBUILD);
  const conflicts = lockConflicts(deviceLines, file);
  if (conflicts.length) return { diagnostics: [...diagnostics, ...conflicts] };
  return {
    diagnostics,
    lock: { name: header.name, chipset: chipsetOfMachineType(header.type)!, machineType: header.type, uuid: header.uuid, ...vm, devices, options },
  };
}

/** The lock with device `from` called `to`, and the buses it provides renamed with it (`machinec rename`). */
export function renameInLock(lockText: string, lockFile: string, from: string, to: string): { text?: string; diagnostics: Diagnostic[] } {
  const r = readLock(lockText, lockFile);
  if (!r.lock) return { diagnostics: r.diagnostics };
  const rename = (bus: string): string => (bus === from ? to : bus.startsWith(`${from}.`) ? to + bus.slice(from.length) : bus);
  const devices = r.lock.devices.map((d) => ({ ...d, id: d.id === from ? to : d.id, bus: rename(d.bus) }));
  // Backends are named after their device: net-OLD, drive-OLD, chr-OLD, audio-OLD.
  const backendId = new RegExp(`(^|,)(id|node-name)=(net|drive|chr|audio)-${from.replace(/[.+-]/g, '\\$&')}(?=,|$)`);
  const options = r.lock.options?.map(([opt, value]) => [opt, value.replace(backendId, `$1$2=$3-${to}`)] as const);
  const source = lockFile.replace(/^.*[\\/]/, '').replace(/\.lock$/, '');
  return { text: writeLock({ ...r.lock, devices, options }, source), diagnostics: [] };
}
