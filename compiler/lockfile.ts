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
import { chipsetOfMachineType, isMachineType } from './chipsets.js';
import { formatAddress, parseAddress } from './machine-spec.js';
import { isBareWord, lockConflicts, lockValue, pinRule, quoteLockValue, splitLockWords, UUID, type LockLine } from './lock-schema.js';
import type { Attachment, GuestAddress, PlacedDevice, PlacedMachine } from './model.js';
import { hex2, splitAt } from './text.js';
import { renameBackendIds } from './qemu/backend-ids.js';
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
const ATTACHMENT_SET: ReadonlySet<string> = new Set(ATTACHMENTS);

export function formatGuestAddress(g: GuestAddress): string {
  return `${hex2(g.bus)}:${formatAddress(g)}`;
}

/** A file name as the lock's comment shows it: quoted and escaped when it holds a control character. */
const shownName = (name: string): string => (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name) ? JSON.stringify(name) : name);

export function writeLock(machine: PlacedMachine, source: string): string {
  const sourceName = shownName(source);
  // One string, a line at a time: no array of lines to spread and join.
  let text = `# ${sourceName}.lock: written by machinec. Do not edit; commit it beside ${sourceName}.\n# Every address and value the guest can see is pinned here. Review changes with \`machinec plan\`.\nlockfile ${LOCK_FORMAT}\nmachine ${machine.name} ${machine.machineType} uuid=${machine.uuid}\n`;
  for (const line of writeVmLines(machine)) text += `${line}\n`;
  for (const [opt, value] of machine.options ?? []) text += value === '' ? `option ${opt}\n` : `option ${opt} ${quoteLockValue(value)}\n`;
  for (const d of machine.devices) text += `${deviceLine(d)}\n`;
  return text;
}

/** An object's keys in code-unit order, as `sort()` gives them (by insertion: a device has a handful of pins, and `sort` copies). */
function sortedKeys(o: Record<string, string>): string[] {
  const keys = Object.keys(o);
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i];
    let j = i - 1;
    for (; j >= 0 && keys[j] > k; j--) keys[j + 1] = keys[j];
    keys[j + 1] = k;
  }
  return keys;
}

/** `ATTACHMENT GUEST ID MODEL bus=… [addr=…] key=value… [secondary=…] [props=…] [auto]` */
function deviceLine(d: PlacedDevice): string {
  let line = `${d.attachment} ${d.guest ? formatGuestAddress(d.guest) : '-'} ${d.id} ${d.model} bus=${d.bus}`;
  if (d.addr) line += ` addr=${formatAddress(d.addr)}`;
  for (const key of sortedKeys(d.pins)) line += ` ${key}=${quoteLockValue(d.pins[key])}`;
  if (d.secondaryBus !== undefined) line += ` secondary=${d.secondaryBus}`;
  if (d.props !== undefined) line += ` props=${quoteLockValue(d.props)}`;
  if (d.auto) line += ' auto';
  return line;
}

export interface ReadLockResult {
  readonly lock?: PlacedMachine;
  readonly diagnostics: Diagnostic[];
}

const REBUILD = 'the lock is generated: restore it from git (`git checkout -- FILE`) or delete it and run `machinec build` to lock the current placement anew';

/** A line the reader refuses: the whole lock is refused with it (code `lock-syntax` unless said). */
class Refusal {
  constructor(
    readonly refused: string,
    readonly code?: string,
    readonly hint?: string,
  ) {}
}
const refuse = (refused: string, code?: string, hint?: string): Refusal => new Refusal(refused, code, hint);
const isRefusal = (x: unknown): x is Refusal => x instanceof Refusal;

/** What has been read so far, line by line. */
interface LockReading {
  version?: number;
  header?: { name: string; type: string; uuid: string };
  readonly devices: PlacedDevice[];
  readonly options: [string, string][];
  readonly deviceLines: LockLine[];
  readonly vm: { -readonly [K in keyof VmLinePins]: VmLinePins[K] };
  readonly ids: Set<string>;
}

/** `lockfile N`: the format, one this machinec reads. */
function readFormatLine(words: readonly string[]): number | Refusal {
  if (words[0] !== 'lockfile' || words.length !== 2 || !/^\d+$/.test(words[1])) return refuse(`not a machinec lock: it must start with \`lockfile ${LOCK_FORMAT}\``);
  const version = Number(words[1]);
  if (!READS.includes(version)) return refuse(`lock format ${version} is not one this machinec reads (it reads formats ${READS.join(' and ')})`, 'lock-version', version > LOCK_FORMAT ? 'it was written by a newer machinec: upgrade machinec' : REBUILD);
  return version;
}

/** `machine NAME TYPE uuid=…` */
function readMachineLine(words: readonly string[], n: number): LockReading['header'] | Refusal {
  const uuid = words[3]?.startsWith('uuid=') ? words[3].slice(5) : undefined;
  if (words[0] !== 'machine' || words.length !== 4 || !uuid || !isBareWord(words[1]) || !chipsetOfMachineType(words[2])) return refuse(`line ${n}: expected \`machine NAME TYPE uuid=…\``);
  if (!isMachineType(words[2])) return refuse(`line ${n}: ${words[2]} is not a bare QEMU machine type`);
  if (!UUID.test(uuid)) return refuse(`line ${n}: uuid=${uuid} is not a UUID (lower-case hex)`);
  return { name: words[1], type: words[2], uuid };
}

const OPTION_NAME = /^-[a-z][a-z0-9-]*$/;
const NEVER_OPTION_LINES: ReadonlySet<string> = new Set(['-name', '-machine', '-uuid', '-device']);

/** `option -NAME [VALUE]`: never one of the options the machine and device lines make. */
function readOptionLine(words: readonly string[], n: number): [string, string] | Refusal {
  const value = words.length === 3 ? lockValue(words[2]) : '';
  if (words.length > 3 || !OPTION_NAME.test(words[1] ?? '') || value === undefined || (words.length === 3 && value === '')) return refuse(`line ${n}: expected \`option -NAME [VALUE]\``);
  if (NEVER_OPTION_LINES.has(words[1])) return refuse(`line ${n}: ${words[1]} is never an option line (it comes from the machine and device lines)`, 'lock-forged');
  return [words[1], value];
}

interface DeviceWords {
  readonly pins: Record<string, string>;
  bus?: string;
  addr?: ReturnType<typeof parseAddress>;
  secondaryBus?: number;
  auto: boolean;
  props?: string;
}

/** A device line's pin `key=value`, judged by its rule (format 1's root port `port=` as `pcie-port=`). */
function readPin(into: DeviceWords, key: string, value: string, w: string, model: string, version: number, n: number): Refusal | undefined {
  const ruleKey = version === 1 && model === 'pcie-root-port' && key === 'port' ? 'pcie-port' : key;
  const rule = pinRule(ruleKey);
  const problem = rule ? rule(value) : `${key}= is not a key machinec writes`;
  if (problem) return refuse(`line ${n}: ${key}=${w.slice(key.length + 1)}: ${rule ? `expected ${problem}` : problem}`);
  if (Object.hasOwn(into.pins, key)) return refuse(`line ${n}: ${key}= is given twice`);
  into.pins[key] = value;
  return undefined;
}

const BUS_NUMBER = /^[1-9]\d{0,2}$/;

/** One `key=value` word (or `auto`) of a device line. */
function readDeviceWord(into: DeviceWords, w: string, model: string, version: number, n: number): Refusal | undefined {
  if (w === 'auto') {
    into.auto = true;
    return undefined;
  }
  const eq = w.indexOf('=');
  if (eq <= 0) return refuse(`line ${n}: expected key=value, found ${w}`);
  const key = w.slice(0, eq);
  const value = lockValue(w.slice(eq + 1));
  if (value === undefined) return refuse(`line ${n}: bad value in ${w}`);
  if (key === 'bus') into.bus = value;
  else if (key === 'props') into.props = value;
  else if (key === 'addr') {
    into.addr = parseAddress(value);
    if (!into.addr) return refuse(`line ${n}: bad address ${value}`);
  } else if (key === 'secondary') {
    if (!BUS_NUMBER.test(value) || Number(value) > 255) return refuse(`line ${n}: secondary=${value} is not a bus number (1 to 255)`);
    into.secondaryBus = Number(value);
  } else return readPin(into, key, value, w, model, version, n);
  return undefined;
}

/** A lower-case hex digit's value (the lock writes no other), else -1. */
const lowerHex = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1);

/** The guest's bus:slot.fn of a PCI device line (the second word): `BB:SS.F`, lower-case hex, by char code. */
function readGuestAddress(attachment: string, guestText: string, n: number): GuestAddress | undefined | Refusal {
  if (attachment !== 'pci') return undefined;
  const g = guestText;
  const b1 = lowerHex(g.charCodeAt(0));
  const b0 = lowerHex(g.charCodeAt(1));
  const s1 = lowerHex(g.charCodeAt(3));
  const s0 = lowerHex(g.charCodeAt(4));
  const fn = g.charCodeAt(6) - 48;
  const slot = s1 * 16 + s0;
  if (g.length !== 7 || g.charCodeAt(2) !== 58 || g.charCodeAt(5) !== 46 || b1 < 0 || b0 < 0 || s1 < 0 || s0 < 0 || !(fn >= 0 && fn <= 7) || slot >= 32) return refuse(`line ${n}: bad guest address ${guestText}`);
  return { bus: b1 * 16 + b0, slot, fn };
}

/** `ATTACHMENT GUEST ID MODEL bus=… [addr=…] key=value… [auto]` */
function readDeviceLine(words: readonly string[], n: number, r: LockReading): PlacedDevice | Refusal {
  // By index, not destructured: an array pattern runs the iterator protocol, per line until optimised.
  const attachment = words[0];
  const guestText = words[1];
  const id = words[2];
  const model = words[3];
  if (!ATTACHMENT_SET.has(attachment) || !id || !model || !isBareWord(id) || !isBareWord(model)) return refuse(`line ${n}: not a device line`);
  if (r.ids.has(id)) return refuse(`line ${n}: device ${id} is locked twice`);
  r.ids.add(id);
  const d: DeviceWords = { pins: {}, auto: false };
  for (let i = 4; i < words.length; i++) {
    const refused = readDeviceWord(d, words[i], model, r.version!, n);
    if (refused) return refused;
  }
  if (!d.bus || (attachment === 'pci') !== (d.addr !== undefined)) return refuse(`line ${n}: a device needs bus= (and addr= on PCI)`);
  const guest = readGuestAddress(attachment, guestText, n);
  if (isRefusal(guest)) return guest;
  if (r.version === 1) upgradeV1Pins(model, d.pins);
  const a = attachment as Attachment;
  if (d.props === undefined) return { id, model, attachment: a, bus: d.bus, addr: d.addr ?? undefined, guest, secondaryBus: d.secondaryBus, auto: d.auto, pins: d.pins };
  return { id, model, attachment: a, bus: d.bus, addr: d.addr ?? undefined, guest, secondaryBus: d.secondaryBus, auto: d.auto, pins: d.pins, props: d.props };
}

/** One line past the comments: the format, the machine, an option, a VM line (before the devices) or a device. */
function readLine(r: LockReading, words: readonly string[], n: number, start: number, length: number): Refusal | undefined {
  if (r.version === undefined) {
    const version = readFormatLine(words);
    if (isRefusal(version)) return version;
    r.version = version;
  } else if (!r.header) {
    const header = readMachineLine(words, n);
    if (isRefusal(header)) return header;
    r.header = header;
  } else if (words[0] === 'option') {
    const option = readOptionLine(words, n);
    if (isRefusal(option)) return option;
    r.options.push(option);
  } else {
    const vmProblem = r.devices.length ? null : readVmLine(words, r.vm);
    if (vmProblem) return refuse(`line ${n}: ${vmProblem}`);
    if (vmProblem === undefined) return undefined;
    const device = readDeviceLine(words, n, r);
    if (isRefusal(device)) return device;
    r.devices.push(device);
    r.deviceLines.push({ device, line: n, span: { start, end: start + Math.max(1, length) } });
  }
  return undefined;
}

const CONFLICT_MARKER = /^(<<<<<<<|=======|>>>>>>>|\|\|\|\|\|\|\|)( |$)/;

/** Why a raw line is refused before its words are read: cut short, conflict markers, bad quoting or spacing. */
function refuseRaw(raw: string, line: string, n: number, last: boolean): Refusal | readonly string[] | undefined {
  // machinec ends every lock with a newline: a last line without one was cut short (a truncated
  // write or copy), and its last value may be cut too (`mac=52:54:00:81:f`), so it is not read.
  if (last && raw !== '') return refuse(`line ${n} is cut short: the lock does not end with a newline`, 'lock-truncated');
  // Every line machinec writes past the comments starts with a-z: no conflict marker, comment or blank.
  const first = line.charCodeAt(0);
  if (!(first >= 97 && first <= 122)) {
    if (CONFLICT_MARKER.test(line)) {
      return refuse('the lock has git conflict markers', 'lock-conflict', 'never merge a lock by hand: take either side (`git checkout --ours FILE`), then run `machinec build` and review the plan');
    }
    if (line.trim() === '' || line.startsWith('#')) return undefined;
  }
  const words = splitLockWords(line);
  if (!words) return refuse(`line ${n}: a quoted value is not closed`);
  for (let i = 0; i < words.length; i++) if (words[i] === '') return refuse(`unexpected spacing on line ${n}`);
  return words;
}

/** Reads a lock strictly: any line it does not understand is an error, and a bad lock is never rewritten. */
export function readLock(text: string, file: string): ReadLockResult {
  const lines = splitAt(text, '\n');
  const fail = (lineStart: number, line: string, r: Refusal): ReadLockResult => ({
    diagnostics: [{ code: r.code ?? 'lock-syntax', severity: 'error', message: r.refused, file, span: { start: lineStart, end: lineStart + Math.max(1, (line.endsWith('\r') ? line.slice(0, -1) : line).length) }, hint: r.hint ?? REBUILD }],
  });
  const r: LockReading = { devices: [], options: [], deviceLines: [], vm: {}, ids: new Set() };
  let offset = 0;
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n];
    const start = offset;
    offset += raw.length + 1;
    const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    const words = refuseRaw(raw, line, n + 1, n === lines.length - 1);
    if (isRefusal(words)) return fail(start, line, words);
    const refused = words && readLine(r, words, n + 1, start, line.length);
    if (refused) return fail(start, line, refused);
  }
  if (r.version === undefined || !r.header) return fail(0, lines[0] ?? '', refuse('the lock is empty or cut short'));
  const conflicts = lockConflicts(r.deviceLines, file);
  if (conflicts.length) return { diagnostics: conflicts };
  const { header, vm, devices, options } = r;
  return { diagnostics: [], lock: { name: header.name, chipset: chipsetOfMachineType(header.type)!, machineType: header.type, uuid: header.uuid, ...vm, devices, options } };
}

/** The lock with device `from` called `to`, and the buses it provides renamed with it (`machinec rename`). */
export function renameInLock(lockText: string, lockFile: string, from: string, to: string): { text?: string; diagnostics: Diagnostic[] } {
  const r = readLock(lockText, lockFile);
  if (!r.lock) return { diagnostics: r.diagnostics };
  const rename = (bus: string): string => (bus === from ? to : bus.startsWith(`${from}.`) ? to + bus.slice(from.length) : bus);
  const devices = r.lock.devices.map((d) => ({ ...d, id: d.id === from ? to : d.id, bus: rename(d.bus) }));
  // Backends are named after their device (net-OLD, tpm-OLD, fs-OLD, …): backend-ids.ts renames them, references included.
  const renamed = new Map([[from, to]]);
  const options = r.lock.options?.map(([opt, value]) => [opt, renameBackendIds(value, renamed)] as const);
  const source = lockFile.replace(/^.*[\\/]/, '').replace(/\.lock$/, '');
  return { text: writeLock({ ...r.lock, devices, options }, source), diagnostics: [] };
}
