/**
 * compile(): text, catalog and lock in; placed machine, QEMU arguments, lock text, plan and
 * diagnostics out. Pure: no files, no processes, no clocks.
 */
import { hasErrors, parse, type Diagnostic, type ParseResult } from '../grammar/index.js';
import { lockChecks, lockReadChecks, machineTypeAvailable, machineTypeChecks, parserChecks, pinnedMachineType, relayRead, type QemuInfo } from './checks/lock.js';
import { assertRegistered } from './checks/all.js';
import { runRegistered } from './checks/registry.js';
import { runSourceChecks } from './checks/source.js';
import { vmPinChecks } from './checks/vm-pins.js';
import { qemuModel } from './emit.js';
import { printArgv } from './qemu/argv.js';
import { readLock, writeLock } from './lockfile.js';
import { resolve, type MachineSpec } from './machine-spec.js';
import type { PlacedMachine } from './model.js';
import { place } from './place/index.js';
import { recordModel } from './records.js';
import { uuidFor } from './pins.js';
import { comparePlacements, type Plan } from './plan.js';
import { pinVm, type Approval, type HostFacts, type HostNeeds } from './vm.js';

export type { QemuInfo };

export interface CompileInput {
  /** The source's name as diagnostics show it. */
  readonly file: string;
  readonly source: string;
  /** The lock beside the source, when there is one. */
  readonly lock?: { readonly file: string; readonly text: string };
  /** What the installed QEMU offers; without it the lock's pin or the built-in default is used. */
  readonly qemu?: QemuInfo;
  /** Drop the empty root ports and bridges machinec created (their bus numbers go; the plan shows who moves). */
  readonly prune?: boolean;
  /**
   * Values other machines under the same folder or git work tree have locked (the CLI collects
   * them): a newly generated MAC or SMBIOS UUID avoids every one, so two machines of a repo never share one.
   */
  readonly taken?: { readonly macs: ReadonlySet<string>; readonly uuids: ReadonlySet<string>; readonly guids?: ReadonlySet<string> };
  /** Locked values to generate anew (`machinec lock --regenerate`): MACs of these device ids, the SMBIOS UUID. The plan shows the change. */
  readonly regenerate?: { readonly macs?: readonly string[]; readonly uuid?: boolean; readonly guids?: readonly string[] };
  /** The tree of `source` when the caller already has it (the language server re-parses only what an edit touched). */
  readonly parsed?: ParseResult;
  /** Only what `check` reports: stop after placement, without QEMU arguments, lock text or plan (the language server, on every edit). */
  readonly diagnosticsOnly?: boolean;
  /** What the host says about firmware files and CPU models (asked for in `Compilation.needs`). */
  readonly host?: HostFacts;
  /** Pins this build may change: `machinec lock --update firmware|cpu|machine-type`. */
  readonly update?: readonly Approval[];
}

export interface Compilation {
  readonly diagnostics: Diagnostic[];
  readonly ok: boolean;
  readonly spec?: MachineSpec;
  readonly machine?: PlacedMachine;
  /** QEMU arguments, without the binary. */
  readonly argv?: string[];
  readonly lockText?: string;
  /** The lock as read, when there was one. */
  readonly previous?: PlacedMachine;
  readonly plan?: Plan;
  /** What the CLI should read from the host (file digests, CPU aliases) and build again with. */
  readonly needs?: HostNeeds;
}

const baseName = (file: string): string => file.replace(/^.*[\\/]/, '');

/** The lock without the values `--regenerate` names, so placement generates them anew. */
function forgetPins(lock: PlacedMachine | undefined, what: NonNullable<CompileInput['regenerate']>): PlacedMachine | undefined {
  if (!lock) return lock;
  const macs = new Set(what.macs ?? []);
  const guids = new Set(what.guids ?? []);
  const devices = lock.devices.map((d) => {
    if (!macs.has(d.id) && !guids.has(d.id)) return d;
    const pins = { ...d.pins };
    if (macs.has(d.id)) delete pins.mac;
    if (guids.has(d.id)) delete pins.guid;
    return { ...d, pins };
  });
  return { ...lock, uuid: what.uuid ? '' : lock.uuid, devices };
}

const definedOnly = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

const byPosition = (a: Diagnostic, b: Diagnostic): number =>
  (a.file === b.file ? 0 : a.file < b.file ? -1 : 1) || (a.span?.start ?? -1) - (b.span?.start ?? -1);

export function compile(input: CompileInput): Compilation {
  const result = compileUnsorted(input);
  assertRegistered(result.diagnostics);
  result.diagnostics.sort(byPosition);
  return result;
}

/** The last lock read: an editor compiles on every keystroke against the same lock text. */
let lastLock: { text: string; file: string; read: ReturnType<typeof readLock> } | undefined;
function readLockOnce(text: string, file: string): ReturnType<typeof readLock> {
  if (lastLock?.text !== text || lastLock.file !== file) lastLock = { text, file, read: readLock(text, file) };
  return lastLock.read;
}

function compileUnsorted(input: CompileInput): Compilation {
  const parsed = input.parsed ?? parse(input.source, input.file);
  const spec = resolve(parsed.ast.machine, input.file);
  const read = [...parsed.diagnostics];
  if (!parsed.ast.machine && !read.length) {
    read.push({ code: 'syntax-error', severity: 'error', message: 'the file holds no machine', file: input.file, span: { start: 0, end: 0 }, hint: 'a .machine file holds one `machine NAME { … }`' });
  }
  const diagnostics = relayRead(parserChecks, read, input.file, []);
  // An unclosed string swallows the rest of its line: what the checks would say about it is noise.
  if (!parsed.diagnostics.some((d) => d.code === 'unclosed-string')) diagnostics.push(...runSourceChecks(spec));
  let previous: PlacedMachine | undefined;
  if (input.lock) {
    const lock = readLockOnce(input.lock.text, input.lock.file);
    relayRead(lockReadChecks, lock.diagnostics, input.lock.file, diagnostics);
    previous = lock.lock;
    if (!hasErrors(diagnostics)) runRegistered(lockChecks, { spec, previous }, input.file, diagnostics);
  }
  if (hasErrors(diagnostics)) return { diagnostics, ok: false, spec, previous };

  const approve = new Set(input.update ?? []);
  const lockContext = { spec, previous: approve.has('machine-type') ? undefined : previous, qemu: input.qemu };
  runRegistered(machineTypeChecks, lockContext, input.file, diagnostics);
  const type = machineTypeAvailable(lockContext) ? pinnedMachineType(lockContext) : undefined;
  const kept = input.regenerate ? forgetPins(previous, input.regenerate) : previous;
  const placement = place(spec, kept?.devices ?? [], spec.name, { prune: input.prune, takenMacs: input.taken?.macs, takenGuids: input.taken?.guids });
  diagnostics.push(...placement.diagnostics);
  if (hasErrors(diagnostics) || !type) return { diagnostics, ok: false, spec, previous };
  const vm = pinVm(spec, previous, input.host, approve, type);
  runRegistered(vmPinChecks, { spec, findings: vm.findings }, input.file, diagnostics);
  if (hasErrors(diagnostics)) return { diagnostics, ok: false, spec, previous, needs: vm.needs };

  const uuidProp = spec.properties.get('uuid')?.value;
  const machine: PlacedMachine = {
    name: spec.name,
    chipset: spec.chipset,
    machineType: type,
    uuid: uuidProp?.kind === 'String' ? uuidProp.value.toLowerCase() : kept?.uuid || uuidFor(spec.name, input.taken?.uuids),
    ...definedOnly(vm.pins),
    devices: placement.devices,
  };
  if (input.diagnosticsOnly) return { diagnostics, ok: true, spec, machine, previous };
  const model = qemuModel(spec, machine);
  const argv = printArgv(model);
  const recorded = recordModel(machine, model);
  // The plan is made when asked for: a build whose lock is current (`lock --locked` over a
  // folder, `check`) never shows it.
  let plan: Plan | undefined;
  return {
    diagnostics,
    ok: true,
    spec,
    machine: recorded,
    argv,
    lockText: writeLock(recorded, baseName(input.file)),
    previous,
    get plan() {
      return (plan ??= comparePlacements(previous, recorded));
    },
    needs: vm.needs,
  };
}
