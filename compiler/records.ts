/**
 * What the lock records of the emitted command line beyond placement, so that any change to
 * the QEMU arguments is a change to the lock that `plan` and `diff` name: every option other
 * than -name, -machine, -uuid and -device (backends, memory, CPUs, accelerators, display, …), and
 * each device's -device properties the device line does not already say.
 */
import { escapeOptionValue, type DevicePairs } from './emit.js';
import { splitOption } from './host-effects.js';
import type { PlacedDevice, PlacedMachine } from './model.js';

/** -device keys that the lock's device line already determines (placement, pins, backend ids). */
const EXPLAINED = new Set(['id', 'bus', 'addr', 'multifunction', 'chassis', 'port', 'chassis_nr', 'mac', 'serial', 'disable-legacy', 'shpc', 'io-reserve', 'channel', 'scsi-id', 'lun', 'unit', 'nr', 'cad', 'netdev', 'drive', 'chardev', 'audiodev', 'acpi-index', 'guid', 'tpmdev', 'fsdev']);

/** Options the lock header already says. */
const HEADER = new Set(['-name', '-machine', '-uuid']);


/** The argv as options and their values; an option followed by another option (or nothing) takes none. */
export function argvPairs(argv: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('-')) out.push([argv[i], argv[++i]]);
    else out.push([argv[i], '']);
  }
  return out;
}

/** Whether a key is given twice (a Map keeps the first one's place and the last one's value). */
function repeatsKey(pairs: readonly (readonly [string, string])[]): boolean {
  for (let i = 1; i < pairs.length; i++) for (let j = 0; j < i; j++) if (pairs[i][0] === pairs[j][0]) return true;
  return false;
}

/** The placed machine with the argv's options and per-device properties recorded in it. */
export function recordArgv(machine: PlacedMachine, argv: readonly string[], made?: DevicePairs): PlacedMachine {
  const options: [string, string][] = [];
  const props = new Map<string, string>();
  let next = 0; // the next value of `made`: they come in argv order
  for (const [opt, value] of argvPairs(argv)) {
    if (HEADER.has(opt)) continue;
    if (opt !== '-device') {
      options.push([opt, value]);
      continue;
    }
    // A value emit made: its properties as it joined them (what splitting it gives, without a Map when no key repeats).
    const known = made?.[next]?.value === value ? made[next++].pairs : undefined;
    const pairs: Iterable<readonly [string, string]> = known && !repeatsKey(known) ? known : known ? new Map(known) : splitOption(value).pairs;
    let extra = '';
    let id = '';
    for (const [k, v] of pairs) {
      if (k === 'id') id = v;
      else if (!EXPLAINED.has(k)) extra += `${extra ? ',' : ''}${k}=${escapeOptionValue(v)}`;
    }
    if (extra) props.set(id, extra);
  }
  const { devices: placed, ...header } = machine;
  const devices: PlacedDevice[] = placed.map((d) => (props.has(d.id) ? { ...d, props: props.get(d.id) } : d));
  // Not `{ ...machine, options, devices }`: storing `devices` again over the spread one makes V8
  // generalize the field on every call and throw this function's optimized code away.
  return { ...header, devices, options };
}
