/**
 * Checks on the values themselves, wherever they appear (machine, devices, typed blocks, lists):
 * no string that could split an argument or a lock line, no number that would lose digits or
 * leave QEMU's range. Each reports under its own id, as every check in the registry does.
 */
import type { Property, Value } from '../../grammar/index.js';
import { chipsetNames, chipsets } from '../chipsets.js';
import type { Check } from './registry.js';
import type { SourceContext } from './source-context.js';

/**
 * C0 and C1 controls, DEL, the Unicode line and paragraph separators, and what libvirt's domain
 * XML cannot hold however it is escaped (U+FFFE, U+FFFF, a lone surrogate).
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffe\uffff\ud800-\udfff]/u;

/**
 * The most memory machinec writes: x86-64 addresses at most 2^52 bytes (4 PiB) of physical
 * memory. (QEMU 7.2 parses `-m` up to 2^64 - 1 bytes and fails far below that, when it
 * allocates; past 2^53 bytes a size would no longer be exact.)
 */
export const MAX_MEMORY_BYTES = 2 ** 52;

function valuesOf(props: readonly Property[], out: Value[]): void {
  for (const p of props) if (p.value) valuesIn(p.value, out);
}

function valuesIn(v: Value, out: Value[]): void {
  out.push(v);
  if (v.kind === 'List') for (const i of v.items) valuesIn(i, out);
  if (v.kind === 'Block') valuesOf(v.properties, out);
}

/** Every value of the machine and its devices, nested ones after their list or block, in source order: found once per resolved machine (two checks walk them). */
const valuesOfMachine = new WeakMap<SourceContext['machine'], Value[]>();
function everyValue(ctx: SourceContext): Value[] {
  let out = valuesOfMachine.get(ctx.machine);
  if (out) return out;
  out = [];
  valuesOf(ctx.machine.node?.properties ?? [], out);
  for (const d of ctx.machine.devices) valuesOf(d.node.properties, out);
  valuesOfMachine.set(ctx.machine, out);
  return out;
}

const describeControl = (s: string): string => {
  const c = CONTROL.exec(s)![0];
  const hex = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  if (c === '\n') return 'a newline';
  if (c === '\u0000') return 'a NUL character';
  return /[\ufffe\uffff\ud800-\udfff]/u.test(c) ? `${hex}, which no domain XML can hold` : `the control character ${hex}`;
};

export const valueChecks: readonly Check<SourceContext>[] = [
  {
    id: 'string-control-character',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const v of everyValue(ctx)) {
        if (v.kind === 'String' && CONTROL.test(v.value)) {
          report(`this string holds ${describeControl(v.value)}`, v.span, 'strings reach QEMU arguments and the lock, where a newline or control character would split them: remove it (paths and names never need one)');
        }
      }
    },
  },
  {
    id: 'number-range',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      for (const v of everyValue(ctx)) {
        if (v.kind === 'Integer' && !Number.isSafeInteger(v.value)) report(`${v.text} is too large: machinec takes integers up to 2^53 - 1 (9007199254740991)`, v.span, 'no QEMU property needs a larger one');
        if (v.kind === 'Size' && !Number.isSafeInteger(v.bytes)) report(`${v.text} is too large: machinec takes sizes up to 2^53 - 1 bytes (8 PiB)`, v.span, 'no QEMU property needs a larger one');
      }
    },
  },
  {
    id: 'memory-range',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const v = ctx.machine.properties.get('memory')?.value;
      if (v?.kind === 'Size' && Number.isSafeInteger(v.bytes) && v.bytes > MAX_MEMORY_BYTES) report(`memory ${v.text} is more than an x86-64 machine can address (4 PiB)`, v.span, 'QEMU cannot give a guest more than 4P of memory');
    },
  },
  {
    id: 'cpus-range',
    phase: 'source',
    severity: 'error',
    run(ctx, report) {
      const v = ctx.machine.properties.get('cpus')?.value;
      const max = chipsets[ctx.machine.chipset].maxCpus;
      const more = chipsetNames.find((c) => chipsets[c].maxCpus > max);
      if (v?.kind === 'Integer' && Number.isSafeInteger(v.value) && v.value > max) report(`${v.text} CPUs: QEMU's ${ctx.machine.chipset} machine takes at most ${max}`, v.span, more && `${more} takes up to ${chipsets[more].maxCpus}`);
    },
  },
];
