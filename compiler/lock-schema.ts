/**
 * The lock as strictly validated data: machinec wrote it, so anything it would not have written
 * is an error naming the line, never a silent move and never an argument QEMU sees.
 *
 * - every value is a bare word or a JSON string (`serial="WD 1234"`), so any string round-trips;
 * - every key has a rule (`PIN_RULES`); a key without one is an error;
 * - the machine type is a bare QEMU type name; the UUID a UUID;
 * - `auto` only on the controllers machinec creates (root ports and bridges);
 * - no address, port, chassis or bus number held twice.
 *
 * Another helper's new lock key adds its rule here.
 */
import type { Diagnostic, Span } from '../grammar/index.js';
import { catalog } from './catalog.js';
import { formatAddress } from './machine-spec.js';
import { splitAt } from './text.js';
import type { PlacedDevice } from './model.js';
import { childKeyPin } from './qemu-facts.js';

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Characters of a bare word: A-Z a-z 0-9 _ . : + - (by char code: a lock has hundreds of words). */
const WORD_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:+-') WORD_CHAR[c.charCodeAt(0)] = 1;

/** A value written without quotes (a non-empty run of A-Z a-z 0-9 _ . : + -). Anything else is written as a JSON string. */
export function isBareWord(v: string): boolean {
  if (v.length === 0) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 128 || WORD_CHAR[c] === 0) return false;
  }
  return true;
}

export const quoteLockValue = (v: string): string => (isBareWord(v) ? v : JSON.stringify(v));

/** A lock line's words: split at single spaces, a `"…"` JSON string (after `key=`) kept whole. Undefined when a quote is unclosed. */
export function splitLockWords(line: string): string[] | undefined {
  if (!line.includes('"')) return splitAt(line, ' ');
  // Every word is the text between two unquoted spaces: sliced, not built a character at a time.
  const words: string[] = [];
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 32) {
      words.push(line.slice(start, i));
      start = i + 1;
    } else if (c === 34) {
      i = closingQuote(line, i);
      if (i < 0) return undefined;
    }
  }
  words.push(line.slice(start));
  return words;
}

function closingQuote(line: string, open: number): number {
  for (let i = open + 1; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i;
  }
  return -1;
}

/** A value as written: a bare word, or a JSON string without control characters. */
export function lockValue(text: string): string | undefined {
  if (!text.startsWith('"')) return isBareWord(text) ? text : undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'string' && !CONTROL.test(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `0` or up to six digits without a leading zero (`/^(0|[1-9]\d{0,5})$/`, by char code): its value, else -1. */
function smallInteger(v: string): number {
  if (v.length === 0 || v.length > 6 || (v.length > 1 && v.charCodeAt(0) === 48)) return -1;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
const integer = (min: number, max: number) => (v: string): string | undefined => {
  const n = smallInteger(v);
  return n >= 0 && n >= min && n <= max ? undefined : `an integer from ${min} to ${max}`;
};
const onOff = (v: string): string | undefined => (v === 'on' || v === 'off' ? undefined : 'on or off');

const ACPI_INDEX = /^[1-9]\d{0,9}$/;

/** Every key a device line may carry, with what its value must be. */
export const PIN_RULES: Readonly<Record<string, (value: string) => string | undefined>> = {
  mac: (v) => (MAC.test(v) ? undefined : 'a MAC address such as 52:54:00:12:34:56 (lower case)'),
  serial: (v) => (v.length <= 256 ? undefined : 'at most 256 characters'),
  chassis: integer(0, 255),
  'pcie-port': integer(0, 255),
  port: integer(1, 15),
  'scsi-id': integer(0, 255),
  unit: integer(0, 5),
  nr: integer(0, 30),
  cad: integer(0, 14),
  'disable-legacy': onOff,
  shpc: onOff,
  'io-reserve': (v) => (v === '0' ? undefined : '0'),
  // The VM devices' pins (vm-devices.ts): the NIC's acpi-index, vmgenid's GUID, the TPM's version.
  'acpi-index': (v) => (ACPI_INDEX.test(v) && Number(v) <= 0x7fffffff ? undefined : 'an integer from 1 to 2147483647'),
  guid: (v) => (UUID.test(v) ? undefined : 'a UUID (lower-case hex)'),
  version: (v) => (v === '2.0' ? undefined : '2.0 (machinec writes no other TPM version)'),
};

/** PIN_RULES as a map: a device line looks up every key it has. */
const PIN_RULE_MAP: ReadonlyMap<string, (value: string) => string | undefined> = new Map(Object.entries(PIN_RULES));
/** The rule of a pin key, if machinec writes that key. */
export const pinRule = (key: string): ((value: string) => string | undefined) | undefined => PIN_RULE_MAP.get(key);

/** The models machinec creates itself: the only ones an `auto` line may name. */
export const AUTO_MODELS: ReadonlySet<string> = new Set(['pcie-root-port', 'pci-bridge', 'pcie-pci-bridge']);

export interface LockLine {
  readonly device: PlacedDevice;
  readonly line: number;
  readonly span: Span;
}

/** The map `outer` holds under `key`, made when it is first asked for. */
function mapIn<K, V>(outer: Map<string, Map<K, V>>, key: string): Map<K, V> {
  let inner = outer.get(key);
  if (!inner) outer.set(key, (inner = new Map()));
  return inner;
}

/**
 * What a lock says that machinec would never write: errors naming the line. `rule` checks of
 * single lines come from the reader; these look at the lines together.
 */
export function lockConflicts(lines: readonly LockLine[], file: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const REBUILD = 'the lock is generated: restore it from git (`git checkout -- FILE`), or delete it and run `machinec build` to lock the placement anew (and review the plan)';
  const report = (l: LockLine, message: string, first?: LockLine, code = 'lock-conflict') =>
    out.push({ code, severity: 'error', message: `line ${l.line}: ${message}`, file, span: l.span, hint: REBUILD, related: first && [{ message: `line ${first.line} has it`, file, span: first.span }] });
  // What each line holds, one map per kind of place (no key strings built per line); `what` is
  // worded only when two lines hold the same thing.
  const claim = <K>(held: Map<K, LockLine>, key: K, l: LockLine, what: () => string) => {
    const first = held.get(key);
    if (first) report(l, `${l.device.id} ${what()}, which ${first.device.id} (line ${first.line}) already has`, first);
    else held.set(key, l);
  };
  const addrs = new Map<string, Map<number, LockLine>>();
  const places = new Map<string, Map<string, Map<string, LockLine>>>();
  const [rpChassis, rpPorts, bridgeChassis, macs] = [new Map<string, LockLine>(), new Map<string, LockLine>(), new Map<string, LockLine>(), new Map<string, LockLine>()];
  const secondaries = new Map<number, LockLine>();
  for (const l of lines) {
    const d = l.device;
    const spec = catalog[d.model];
    if (!spec) {
      report(l, `unknown device model ${d.model}`, undefined, 'lock-forged');
      continue;
    }
    if (d.auto && !AUTO_MODELS.has(d.model)) report(l, `${d.id} (${d.model}) is marked auto, but machinec creates only root ports and bridges`, undefined, 'lock-forged');
    if (d.addr) {
      const addr = d.addr;
      claim(mapIn(addrs, d.bus), addr.slot * 8 + addr.fn, l, () => `is at ${d.bus} ${formatAddress(addr)}`);
    }
    const placeKey = childKeyPin(d.attachment);
    if (placeKey) {
      const place = d.pins[placeKey];
      if (place === undefined) report(l, `${d.id} on ${d.bus} has no ${placeKey}=`, undefined, 'lock-syntax');
      else claim(mapIn(mapIn(places, placeKey), d.bus), place, l, () => `has ${placeKey} ${place} on ${d.bus}`);
    }
    if (d.model === 'pcie-root-port') {
      if (d.pins.chassis !== undefined) claim(rpChassis, d.pins.chassis, l, () => `has root port chassis ${d.pins.chassis}`);
      if (d.pins['pcie-port'] !== undefined) claim(rpPorts, d.pins['pcie-port'], l, () => `has PCIe port ${d.pins['pcie-port']}`);
    }
    if (d.model === 'pci-bridge' && d.pins.chassis !== undefined) claim(bridgeChassis, d.pins.chassis, l, () => `has bridge chassis ${d.pins.chassis}`);
    if (d.pins.mac !== undefined) claim(macs, d.pins.mac, l, () => `has MAC ${d.pins.mac}`);
    if (d.secondaryBus !== undefined) {
      if (!spec.provides || (spec.provides !== 'pci' && spec.provides !== 'pcie-port')) report(l, `${d.id} (${d.model}) makes no bus, so it has no secondary= bus number`, undefined, 'lock-syntax');
      else claim(secondaries, d.secondaryBus, l, () => `has bus number ${d.secondaryBus}`);
    }
  }
  return out;
}
