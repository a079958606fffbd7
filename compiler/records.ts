/**
 * What the lock records of the QEMU machine beyond placement, so that any change to the command
 * line is a change to the lock that `plan` and `diff` name: every option other than -name,
 * -machine, -uuid and -device (backends, memory, CPUs, accelerators, display, …), and each
 * device's properties the device line does not already say. Printed from the machine model.
 */
import { splitOption } from './host-effects.js';
import { pinRule } from './lock-schema.js';
import type { PlacedDevice, PlacedMachine } from './model.js';
import { keyvalText, type KeyvalPairs } from './qemu/keyval.js';
import { optionValue, type QemuModel } from './qemu/model.js';

/** -device keys that the lock's device line says for a device of the machine's qemu-args (placement, pins, backend ids). */
const EXPLAINED = new Set([
  ...['id', 'bus', 'addr', 'multifunction', 'chassis', 'port', 'chassis_nr', 'mac', 'serial', 'disable-legacy', 'shpc', 'io-reserve', 'channel', 'scsi-id'],
  ...['lun', 'unit', 'nr', 'cad', 'netdev', 'drive', 'chardev', 'audiodev', 'acpi-index', 'guid', 'tpmdev', 'fsdev'],
]);

/** Options the lock header already says. */
const HEADER = new Set(['-name', '-machine', '-uuid']);

/** The argv as options and their values; an option followed by another option (or nothing) takes none. */
export function argvPairs(argv: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (!argv[i].startsWith('-')) out.push(['-hda', argv[i]]); // a bare word is QEMU's implicit -hda
    else if (next !== undefined && !next.startsWith('-')) out.push([argv[i], argv[++i]]);
    else out.push([argv[i], '']);
  }
  return out;
}

/** Whether a key is given twice (a Map keeps the first one's place and the last one's value). */
function repeatsKey(pairs: KeyvalPairs): boolean {
  for (let i = 1; i < pairs.length; i++) for (let j = 0; j < i; j++) if (pairs[i][0] === pairs[j][0]) return true;
  return false;
}

/** A device's properties the lock's device line does not say, as the lock writes them (`bootindex=1,romfile=x`). */
export function unexplainedProps(props: KeyvalPairs): string {
  const pairs: KeyvalPairs = repeatsKey(props) ? [...new Map(props.map(([k, v]) => [k, v]))] : props;
  return keyvalText(undefined, pairs.filter(([k]) => !EXPLAINED.has(k)));
}

/** The placed machine with the model's options and per-device properties recorded in it. */
export function recordModel(machine: PlacedMachine, model: QemuModel): PlacedMachine {
  const options: [string, string][] = [];
  const props = new Map<string, string>();
  for (const a of model.args) {
    if (a.kind === 'device') {
      // What machinec sets the device line says; of the source's own properties, the ones a device line can hold too.
      const extra = keyvalText(undefined, a.own.filter(([k]) => !pinRule(k)));
      if (extra) props.set(a.id, extra);
    } else if (a.kind === 'raw') {
      // The machine's qemu-args, as the user wrote them: their -device values are the user's text.
      for (const [opt, value] of argvPairs(a.args)) {
        if (HEADER.has(opt)) continue;
        if (opt !== '-device') options.push([opt, value]);
        else {
          const { pairs } = splitOption(value);
          const extra = unexplainedProps([...pairs].filter(([k]) => k !== 'id'));
          if (extra) props.set(pairs.get('id') ?? '', extra);
        }
      }
    } else if (!HEADER.has(a.kind === 'backend' ? `-${a.option}` : a.option)) {
      options.push([a.kind === 'backend' ? `-${a.option}` : a.option, optionValue(a) ?? '']);
    }
  }
  const { devices: placed, ...header } = machine;
  const devices: PlacedDevice[] = placed.map((d) => (props.has(d.id) ? { ...d, props: props.get(d.id) } : d));
  // Not `{ ...machine, options, devices }`: storing `devices` again over the spread one makes V8
  // generalize the field on every call and throw this function's optimized code away.
  return { ...header, devices, options };
}
