/**
 * Renaming a device, the one set of steps `machinec rename` and the editor's rename both take:
 * the source edit, the lock rewritten with it (the device's line, the buses it provides, every
 * backend it owns and every reference to one), and the check that the renamed pair builds to the
 * same placement. A device keeps everything the guest sees: its address, MAC, serial, and a value
 * that only defaulted to its id (a 9p share's mount tag) is written into the source.
 */
import { DEVICE_ID_RULE, isDeviceId, walkDevices, type DeviceNode, type Diagnostic, type MachineNode, type Span } from '../grammar/index.js';
import { catalog, type Backend } from './catalog.js';
import { compile, type Compilation, type CompileInput } from './compile.js';
import { renameInLock } from './lockfile.js';
import type { Plan } from './plan.js';

/** Text to put in place of a span of the source (an empty span inserts). */
export interface SourceEdit {
  readonly span: Span;
  readonly text: string;
}

export interface RenameRequest {
  /** The source's name as diagnostics show it, and its text. */
  readonly file: string;
  readonly source: string;
  /** The lock's name as diagnostics show it. */
  readonly lockFile: string;
  /** The build of `source` against the lock as it is: the lock a build would write is what gets renamed. */
  readonly built: Compilation;
  readonly from: string;
  readonly to: string;
  /** What else the check build is compiled with (the installed QEMU's facts), as `built` was. */
  readonly input?: Omit<CompileInput, 'file' | 'source' | 'lock'>;
}

export type RenameResult =
  | {
      readonly ok: true;
      readonly edits: readonly SourceEdit[];
      readonly source: string;
      readonly lock: string;
      /** Guest-visible values that defaulted to the old id and are now written in the source (`tag = "share"`). */
      readonly kept: readonly string[];
    }
  | {
      readonly ok: false;
      readonly message: string;
      readonly hint?: string;
      /** The diagnostics behind the refusal (the build's errors, a lock that does not read). */
      readonly diagnostics: readonly Diagnostic[];
      /** What the rename would change in the guest, when the renamed pair builds elsewhere. */
      readonly plan?: Plan;
    };

/**
 * Properties whose value the guest sees and which default to the device's id, by backend kind:
 * renamed without them, the device would change in the guest (a 9p share's mount tag is what the
 * guest mounts: `mount -t 9p -o trans=virtio share /mnt`).
 */
const ID_DEFAULTS: Partial<Record<Backend, string>> = { fsdev: 'tag' };

/** A string as the .machine language writes it: quoted, `\` and `"` escaped (grammar/build-ast.ts reads them back). */
const sourceString = (s: string): string => `"${s.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;

/**
 * Where and how to write `key = value` into a device's body: after its last member, on a line of
 * its own when the body spans lines (after a `//` comment that ends the member's line).
 */
function addProperty(source: string, d: DeviceNode, key: string, value: string): SourceEdit {
  const property = `${key} = ${value}`;
  const end = d.span.end;
  const at = (offset: number, text: string): SourceEdit => ({ span: { start: offset, end: offset }, text });
  if (!d.hasBody) return at(end, ` { ${property} }`);
  const last = d.members[d.members.length - 1];
  if (!last) return at(end - 1, ` ${property} `);
  const after = last.span.end;
  if (!source.slice(after, end).includes('\n')) return at(after, `, ${property}`);
  const lineStart = source.lastIndexOf('\n', last.span.start - 1) + 1;
  const indent = /^[ \t]*/.exec(source.slice(lineStart))![0];
  const lineEnd = source.indexOf('\n', after);
  const crlf = source.charCodeAt(lineEnd - 1) === 13;
  const rest = source.slice(after, crlf ? lineEnd - 1 : lineEnd);
  return at(/^\s*(\/\/.*)?$/.test(rest) ? after + rest.length : after, `${crlf ? '\r\n' : '\n'}${indent}${property}`);
}

/** The source edits that rename device `from` (found in `machine`) to `to`, keeping the values that defaulted to its id. */
export function renameInSource(
  source: string,
  machine: MachineNode | undefined,
  from: string,
  to: string,
): { edits: SourceEdit[]; kept: string[] } | undefined {
  const target = [...walkDevices(machine?.devices ?? [])].find((d) => d.id?.name === from);
  if (!target?.id) return undefined;
  const edits: SourceEdit[] = [{ span: target.id.span, text: to }];
  const kept: string[] = [];
  const kind = target.model && catalog[target.model.name]?.backend;
  const key = kind && ID_DEFAULTS[kind];
  if (key && !target.properties.some((p) => p.key.name === key)) {
    edits.push(addProperty(source, target, key, sourceString(from)));
    kept.push(`${key} = ${sourceString(from)}`);
  }
  return { edits, kept };
}

/** `source` with `edits` (spans of the original text, not overlapping) applied. */
export function applyEdits(source: string, edits: readonly SourceEdit[]): string {
  let out = source;
  for (const e of [...edits].sort((a, b) => b.span.start - a.span.start)) out = out.slice(0, e.span.start) + e.text + out.slice(e.span.end);
  return out;
}

const refuse = (message: string, hint?: string, diagnostics: readonly Diagnostic[] = [], plan?: Plan): RenameResult =>
  ({ ok: false, message, hint, diagnostics, plan });

/** Renames device `from` to `to` in the source and the lock together, or says why not; nothing is written here. */
export function renameDevice(r: RenameRequest): RenameResult {
  const { built, from, to } = r;
  if (!built.ok || built.lockText === undefined) {
    return refuse('the machine does not build: fix its errors first, so the lock can be renamed with it', undefined, built.diagnostics);
  }
  if (!isDeviceId(to)) return refuse(`${to} is not a valid id`, DEVICE_ID_RULE);
  const machine = built.spec?.node;
  const inSource = renameInSource(r.source, machine, from, to);
  if (!inSource) return refuse(`${r.file} has no device ${from}`);
  const taken = [...walkDevices(machine?.devices ?? [])].some((d) => d.id?.name === to) || built.machine!.devices.some((d) => d.id === to);
  if (taken) return refuse(`${to} is already taken in ${r.file} or its lock`);
  const lock = renameInLock(built.lockText, r.lockFile, from, to);
  if (!lock.text) return refuse(`${r.lockFile} does not read: ${lock.diagnostics.map((d) => d.message).join('; ')}`, undefined, lock.diagnostics);
  const source = applyEdits(r.source, inSource.edits);
  const check = compile({ ...r.input, file: r.file, source, lock: { file: r.lockFile, text: lock.text } });
  if (!check.ok || check.lockText !== lock.text) {
    return refuse('rename aborted: the renamed machine does not build to the same placement', 'nothing was written', check.diagnostics, check.plan);
  }
  return { ok: true, edits: inSource.edits, source, lock: lock.text, kept: inSource.kept };
}
