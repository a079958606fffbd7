/** Shared helpers for the lock specs: build through `compile`, carrying the lock from build to build. */
import { compile, formatGuestAddress, type QemuInfo } from '../../compiler/index.js';
import type { Compilation } from '../../compiler/index.js';
import type { PlacedDevice } from '../../compiler/model.js';
import { renderDiagnostics } from '../../cli/render-diagnostic.js';

export const FILE = 'm.machine';
export const LOCK = 'm.machine.lock';

export interface Build extends Compilation {
  readonly source: string;
}

/** Compiles `source` with the previous build's lock (if any); fails the test with rendered diagnostics. */
export function build(source: string, previous?: { lockText?: string } | string, qemu?: QemuInfo): Build {
  const result = tryBuild(source, previous, qemu);
  if (!result.ok) {
    const lockText = typeof previous === 'string' ? previous : previous?.lockText;
    throw new Error(`build failed:\n${render(result, source, lockText)}\n--- source ---\n${source}\n--- lock ---\n${lockText ?? '(none)'}`);
  }
  return result;
}

export function tryBuild(source: string, previous?: { lockText?: string } | string, qemu?: QemuInfo): Build {
  const lockText = typeof previous === 'string' ? previous : previous?.lockText;
  const result = compile({ file: FILE, source, lock: lockText === undefined ? undefined : { file: LOCK, text: lockText }, qemu });
  return { ...result, source };
}

export function render(result: Compilation, source: string, lockText?: string, file = FILE, lockFile = LOCK): string {
  const sources = new Map([[file, source]]);
  if (lockText !== undefined) sources.set(lockFile, lockText);
  return renderDiagnostics(result.diagnostics, sources, false);
}

export function device(b: Compilation, id: string): PlacedDevice {
  const d = b.machine?.devices.find((x) => x.id === id);
  if (!d) throw new Error(`no device ${id} in ${b.machine?.devices.map((x) => x.id).join(', ')}`);
  return d;
}

/** `00:04.0`: what the guest sees. */
export function guestOf(b: Compilation, id: string): string {
  const g = device(b, id).guest;
  if (!g) throw new Error(`${id} has no guest address`);
  return formatGuestAddress(g);
}

/** `pci.0 04.0 00:04.0 mac=… ` style summary of every device but `except`, to assert "nothing else moved". */
export function placements(b: Compilation, except: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of b.machine!.devices) {
    if (except.includes(d.id)) continue;
    const where = d.addr ? `${d.bus}@${d.addr.slot}.${d.addr.fn}` : `${d.bus}#${JSON.stringify(d.pins)}`;
    out[d.id] = `${where} guest=${d.guest ? formatGuestAddress(d.guest) : '-'} secondary=${d.secondaryBus ?? '-'}`;
  }
  return out;
}

/** A machine from a list of device lines. */
export function machine(chipset: 'pc' | 'q35', devices: readonly string[], name = 'm'): string {
  return `machine ${name} {\n  chipset = ${chipset}\n${devices.map((d) => `  ${d}\n`).join('')}}\n`;
}

export const nic = (id: string, model = 'e1000', at?: string): string => `device ${id}: ${model}${at ? ` @ ${at}` : ''} { netdev = user }`;
