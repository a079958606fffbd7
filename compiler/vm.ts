/**
 * The whole VM beyond its PCI devices: CPU model and topology, firmware, display, serial console,
 * SMBIOS, the state folder and the qemu-args escape hatch. Read from the machine's properties,
 * checked against the tables of vm-schema.ts, pinned in the lock and emitted as QEMU options.
 */
import type { Property, Span, Value } from '../grammar/index.js';
import type { MachineSpec } from './machine-spec.js';
import type { CpuPin, FirmwarePin, PinnedFile, PlacedMachine } from './model.js';
import { hostDependentModels } from './cpu-models.js';
import { NVRAM_FILE, OVMF } from './vm-schema.js';

/** What the host says, read by the CLI: the compiler itself does no I/O. */
export interface HostFacts {
  /** Files the build asked about (`Compilation.needs.files`): size and sha256, or null when missing. */
  readonly files?: Readonly<Record<string, { readonly size: number; readonly sha256: string } | null>>;
  /** Per machine type, unversioned CPU model → versioned one (QMP query-cpu-definitions, alias-of). */
  readonly cpuAliases?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Today, YYYY-MM-DD: for the age of pinned machine types. */
  readonly today?: string;
}

/** Pins a build may change only when asked to: `machinec lock --update firmware|cpu|machine-type`. */
export type Approval = 'firmware' | 'cpu' | 'machine-type';
export const APPROVALS: readonly Approval[] = ['firmware', 'cpu', 'machine-type'];

/** What the CLI should read from the host before building again. */
export interface HostNeeds {
  readonly files: string[];
  /** Ask QEMU's query-cpu-definitions for this machine type. */
  readonly cpuDefinitionsFor?: string;
}

/** A name, a string, or the type of a block: `vnc { … }` → vnc; `{ … }` → ''. */
export function typeOf(v: Value | undefined): string | undefined {
  if (!v) return undefined;
  if (v.kind === 'Identifier') return v.name;
  if (v.kind === 'String') return v.value;
  if (v.kind === 'Block') return v.type?.name ?? '';
  return undefined;
}

export const blockProps = (v: Value | undefined): readonly Property[] => (v?.kind === 'Block' ? v.properties : []);

/** A key of a block or of a property list, as a plain value. */
export function member(props: readonly Property[], key: string): Value | undefined {
  return props.find((p) => p.key.name === key)?.value;
}
const stringOf = (v: Value | undefined): string | undefined => (v?.kind === 'String' ? v.value : undefined);
const boolOf = (v: Value | undefined): boolean | undefined => (v?.kind === 'Boolean' ? v.value : undefined);

/** The machine's state folder, relative to its file's folder: `NAME.state` unless `state = "…"`. */
export function stateFolder(spec: MachineSpec): string {
  return stringOf(spec.properties.get('state')?.value) ?? `${spec.file.replace(/^.*[\\/]/, '').replace(/\.machine$/, '')}.state`;
}

export interface FirmwareChoice {
  readonly secureBoot: boolean;
  readonly code: string;
  readonly vars: string;
  /** The per-VM VARS file: in the state folder unless `nvram = "…"` points at an existing one. */
  readonly nvram: string;
}

export function firmwareChoice(spec: MachineSpec): FirmwareChoice | undefined {
  const v = spec.properties.get('firmware')?.value;
  if (typeOf(v) !== 'uefi') return undefined;
  const props = blockProps(v);
  const secureBoot = boolOf(member(props, 'secure-boot')) ?? false;
  return {
    secureBoot,
    code: stringOf(member(props, 'code')) ?? (secureBoot ? OVMF.secureCode : OVMF.code),
    vars: stringOf(member(props, 'vars')) ?? (secureBoot ? OVMF.secureVars : OVMF.vars),
    nvram: stringOf(member(props, 'nvram')) ?? `${stateFolder(spec)}/${NVRAM_FILE}`,
  };
}

/** What pinning found that the VM pin checks (compiler/checks/vm-pins.ts) report. */
export interface PinFindings {
  /** Firmware files the host says are not there. */
  readonly missing: { readonly what: string; readonly want: string; readonly span?: Span }[];
  /** Firmware files whose digest is not the locked one (and no `--update firmware`). */
  readonly changed: { readonly what: string; readonly want: string; readonly locked: PinnedFile; readonly seen: { readonly size: number; readonly sha256: string }; readonly span?: Span }[];
  /** `cpu = host` or `max`: the guest's CPU follows the host. */
  followsHost?: { readonly model: string; readonly span?: Span };
  /** The pinned machine type is past QEMU's 6-year deprecation. */
  old?: { readonly machineType: string; readonly version: string; readonly month: string; readonly removedIn: string };
}

interface PinContext {
  readonly spec: MachineSpec;
  readonly previous?: PlacedMachine;
  readonly host?: HostFacts;
  readonly approve: ReadonlySet<Approval>;
  readonly findings: PinFindings;
  readonly needs: { files: string[]; cpuDefinitionsFor?: string };
}

/** One firmware file: the locked pin while the file on disk still matches it, else an error (or the new file, when approved). */
function pinFile(ctx: PinContext, want: string, locked: PinnedFile | undefined, what: string, span: Span | undefined): PinnedFile {
  ctx.needs.files.push(want);
  const facts = ctx.host?.files;
  const seen = facts && Object.hasOwn(facts, want) ? facts[want] : undefined;
  if (facts && Object.hasOwn(facts, want) && seen === null) {
    ctx.findings.missing.push({ what, want, span });
    return locked?.path === want ? locked : { path: want };
  }
  const fresh: PinnedFile = seen ? { path: want, size: seen.size, sha256: seen.sha256 } : { path: want };
  if (!locked || locked.path !== want || !locked.sha256) return seen || !locked || locked.path !== want ? fresh : locked;
  if (!seen || (seen.sha256 === locked.sha256 && seen.size === locked.size)) return locked;
  if (ctx.approve.has('firmware')) return fresh;
  ctx.findings.changed.push({ what, want, locked, seen, span });
  return locked;
}

export function pinFirmware(ctx: PinContext): FirmwarePin | undefined {
  const choice = firmwareChoice(ctx.spec);
  if (!choice) return undefined;
  const span = ctx.spec.properties.get('firmware')?.value?.span;
  const locked = ctx.previous?.firmware;
  return {
    secureBoot: choice.secureBoot,
    code: pinFile(ctx, choice.code, locked?.code, 'CODE image', span),
    vars: pinFile(ctx, choice.vars, locked?.vars, 'VARS template', span),
  };
}

export function pinCpu(ctx: PinContext, machineType: string): CpuPin | undefined {
  const v = ctx.spec.properties.get('cpu')?.value;
  const model = typeOf(v);
  if (!model) return undefined;
  if (hostDependentModels.includes(model)) {
    ctx.findings.followsHost = { model, span: v!.span };
    return { model, followsHost: true };
  }
  if (/-v\d+$/.test(model)) return { model, followsHost: false };
  const locked = ctx.previous?.cpu;
  if (locked?.requested === model && !ctx.approve.has('cpu') && locked.model !== model) return locked;
  ctx.needs.cpuDefinitionsFor = machineType;
  const resolved = ctx.host?.cpuAliases?.[machineType]?.[model];
  if (resolved) return { model: resolved, requested: model, followsHost: false };
  return locked?.requested === model ? locked : { model, followsHost: false };
}

export function smbiosValues(spec: MachineSpec): Record<string, string> | undefined {
  const props = blockProps(spec.properties.get('smbios')?.value);
  const out: Record<string, string> = {};
  for (const p of [...props].sort((a, b) => (a.key.name < b.key.name ? -1 : 1))) {
    const s = stringOf(p.value);
    if (s !== undefined) out[p.key.name] = s;
  }
  return Object.keys(out).length ? out : undefined;
}

export function qemuArgs(spec: MachineSpec): string[] | undefined {
  const v = spec.properties.get('qemu-args')?.value;
  const items = v?.kind === 'List' ? v.items.map(stringOf).filter((s): s is string => s !== undefined) : [];
  return items.length ? items : undefined;
}

/** The machine-level pins of a build, and what the CLI must read for the next one. */
export function pinVm(spec: MachineSpec, previous: PlacedMachine | undefined, host: HostFacts | undefined, approve: ReadonlySet<Approval>, machineType: string) {
  const findings: PinFindings = { missing: [], changed: [], old: machineTypeAge(machineType, host?.today) };
  const ctx: PinContext = { spec, previous, host, approve, findings, needs: { files: [] } };
  const firmware = pinFirmware(ctx);
  const cpu = pinCpu(ctx, machineType);
  const acpiValue = spec.properties.get('acpi')?.value;
  const acpi = acpiValue?.kind === 'Boolean' && !acpiValue.value ? (false as const) : undefined;
  const pins = { firmware, cpu, smbios: smbiosValues(spec), qemuArgs: qemuArgs(spec), acpi };
  return { pins, findings, needs: ctx.needs as HostNeeds };
}

/**
 * QEMU removes versioned machine types 6 years after their release (its deprecation policy). QEMU
 * 5.0 and later: X.0 in April, X.1 in August, X.2 in December of 2015+X. Older: the table.
 */
const OLD_RELEASES: Readonly<Record<string, string>> = {
  '2.0': '2014-04', '2.1': '2014-08', '2.2': '2014-12', '2.3': '2015-04', '2.4': '2015-08', '2.5': '2015-12', '2.6': '2016-05',
  '2.7': '2016-09', '2.8': '2016-12', '2.9': '2017-04', '2.10': '2017-08', '2.11': '2017-12', '2.12': '2018-04',
  '3.0': '2018-08', '3.1': '2018-12', '4.0': '2019-04', '4.1': '2019-08', '4.2': '2019-12',
};
const MONTHS = ['04', '08', '12'];

export function releaseMonth(version: string): string | undefined {
  if (OLD_RELEASES[version]) return OLD_RELEASES[version];
  const m = /^(\d+)\.([0-2])$/.exec(version);
  return m && Number(m[1]) >= 5 ? `${2015 + Number(m[1])}-${MONTHS[Number(m[2])]}` : undefined;
}

/** The first release at least 6 years after `month` (YYYY-MM). */
function removingRelease(month: string): string {
  const [y, mo] = month.split('-').map(Number);
  const target = (y + 6) * 12 + mo;
  for (let major = 5; ; major++) for (let minor = 0; minor < 3; minor++) if ((2015 + major) * 12 + (minor + 1) * 4 >= target) return `${major}.${minor}`;
}

function machineTypeAge(machineType: string, today: string | undefined): PinFindings['old'] {
  const version = /-(\d+\.\d+)$/.exec(machineType)?.[1];
  const month = version && releaseMonth(version);
  if (!month || !today) return undefined;
  const [y, mo] = month.split('-').map(Number);
  const [ty, tm] = today.split('-').map(Number);
  if (ty * 12 + tm < (y + 6) * 12 + mo) return undefined;
  return { machineType, version, month, removedIn: removingRelease(month) };
}

