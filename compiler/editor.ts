/**
 * What an editor asks of a .machine file, answered from the catalog, the schemas and the lock:
 * completion candidates, hover text, where a device id is, and quick fixes for "did you mean"
 * hints. Pure: text and data in, plain data out; cli/lsp/ speaks the protocol.
 */
import { walkDevices, scan, type Diagnostic, type MachineFile, type Span, type Token } from '../grammar/index.js';
import { audiodevTypes, backendProps, catalog, chardevTypes, machineProps, netdevTypes, type ModelSpec, type Plug, type PropSpec } from './catalog.js';
import { formatGuestAddress } from './lockfile.js';
import { formatAddress } from './machine-spec.js';
import { chipsetNames } from './chipsets.js';
import type { PlacedDevice, PlacedMachine } from './model.js';

export type CompletionKind = 'model' | 'property' | 'value' | 'device' | 'keyword';

export interface Completion {
  readonly label: string;
  readonly kind: CompletionKind;
  /** One line: a model's bus, a property's type. */
  readonly detail?: string;
  /** Markdown. */
  readonly documentation?: string;
}

export interface Completions {
  /** The text the chosen item replaces (the word being typed; empty at a fresh position). */
  readonly span: Span;
  readonly items: readonly Completion[];
}

/** Where a `{` or `[` opened: the machine, a device of a model, a typed block (`tap { … }`) of a key, a list of a key. */
type Scope =
  | { readonly kind: 'machine' }
  | { readonly kind: 'device'; readonly model: string }
  | { readonly kind: 'block'; readonly key: string; readonly type: string }
  | { readonly kind: 'list'; readonly key: string; readonly within: Scope }
  | { readonly kind: 'other' };

const PLUG_TEXT: Record<Plug, string> = {
  pcie: 'a PCI Express endpoint: on q35 behind its own pcie-root-port, on pc on pci.0',
  pci: 'conventional PCI: on pc on pci.0, on q35 behind a pcie-pci-bridge',
  integrated: 'sits on the root bus (pcie.0 or pci.0) on both chipsets',
  'root-port': 'a PCIe root port on pcie.0 (q35): holds one device at 00.0',
  'pci-bridge': 'a PCI-PCI bridge: 31 slots (01–1f) for conventional PCI devices',
  'pcie-pci-bridge': 'a PCIe-to-PCI bridge (q35): slots 01–1f for conventional PCI devices',
  usb: 'plugs into a USB controller (qemu-xhci, piix3-usb-uhci)',
  scsi: 'plugs into a SCSI controller (virtio-scsi-pci)',
  ide: "plugs into an IDE/SATA bus (ich9-ahci, or the chipset's own at top level)",
  'virtio-serial': 'plugs into virtio-serial-pci',
  hda: 'plugs into intel-hda',
  system: 'a machine device off PCI (TPM, vmgenid): no address',
};

/** Which values a key takes, for the keys whose values are a closed or known set. */
function valuesOf(key: string, spec: PropSpec | undefined): readonly string[] {
  if (spec?.values) return spec.values;
  if (key === 'netdev') return netdevTypes;
  if (key === 'chardev') return chardevTypes;
  if (key === 'audiodev') return audiodevTypes;
  if (key === 'chipset') return chipsetNames;
  if (spec?.type === 'boolean') return ['true', 'false'];
  return [];
}

/** Every property a device of `model` takes: its own and its backend's. */
export function modelProperties(model: string): Readonly<Record<string, PropSpec>> {
  const spec: ModelSpec | undefined = Object.hasOwn(catalog, model) ? catalog[model] : undefined;
  if (!spec) return {};
  return { ...spec.props, ...(spec.backend ? backendProps[spec.backend] : {}) };
}

function propertiesOf(scope: Scope): Readonly<Record<string, PropSpec>> {
  if (scope.kind === 'machine') return machineProps;
  if (scope.kind === 'device') return modelProperties(scope.model);
  return {};
}

export function describeType(spec: PropSpec): string {
  const range = spec.min !== undefined || spec.max !== undefined ? ` ${spec.min ?? '…'}..${spec.max ?? '…'}` : '';
  const values = spec.values ? `: ${spec.values.join(' | ')}` : '';
  return `${spec.type}${range}${values}`;
}

/** The scope each token sits in, computed by one walk over the tokens before `upTo`. */
function scopeAt(tokens: readonly Token[], upTo: number): Scope {
  const stack: Scope[] = [];
  const at = (i: number): Token | undefined => tokens[i];
  for (let i = 0; i < upTo; i++) {
    const t = tokens[i];
    if (t.type === 'LCurly') stack.push(opener(tokens, i));
    else if (t.type === 'LSquare') stack.push({ kind: 'list', key: at(i - 1)?.type === 'Equals' ? at(i - 2)?.image ?? '' : '', within: stack[stack.length - 1] ?? { kind: 'other' } });
    else if (t.type === 'RCurly' || t.type === 'RSquare') stack.pop();
  }
  return stack[stack.length - 1] ?? { kind: 'other' };
}

/** What the `{` at tokens[i] opens. */
function opener(tokens: readonly Token[], i: number): Scope {
  const t = (k: number): Token | undefined => tokens[i - k];
  if (t(2)?.type === 'Machine') return { kind: 'machine' };
  if (t(2)?.type === 'Equals') return { kind: 'block', key: t(3)?.image ?? '', type: t(1)?.image ?? '' };
  // device ID: MODEL [@ ADDR] {
  const back = t(2)?.type === 'At' ? 2 : 0;
  if (t(1 + back)?.type === 'Identifier' && t(2 + back)?.type === 'Colon' && t(4 + back)?.type === 'Device') return { kind: 'device', model: t(1 + back)!.image };
  return { kind: 'other' };
}

const isWord = (t: Token | undefined): boolean => t !== undefined && (t.type === 'Identifier' || t.type === 'Machine' || t.type === 'Device' || t.type === 'True' || t.type === 'False');

export interface EditorContext {
  /** The lock as read (a compilation's `previous`), for device ids and guest addresses. */
  readonly locked?: PlacedMachine;
  /** Where a build would place each device now (a compilation's `machine`). */
  readonly placed?: PlacedMachine;
  /** The tree of the text, for the ids already written. */
  readonly ast?: MachineFile;
}

/** Completion candidates at `offset` of `text`. */
export function completionsAt(text: string, offset: number, context: EditorContext = {}): Completions {
  const { tokens, comments } = scan(text);
  const none: Completions = { span: { start: offset, end: offset }, items: [] };
  if (comments.some((c) => c.start < offset && offset < c.end + (c.image.startsWith('//') ? 1 : 0))) return none;
  let i = tokens.findIndex((t) => t.end >= offset);
  if (i < 0) i = tokens.length;
  const current = tokens[i] && tokens[i].start < offset ? tokens[i] : undefined;
  if (current && current.type === 'StringLiteral') return none;
  const word = isWord(current) ? current : undefined;
  const span = word ? { start: word.start, end: word.end } : { start: offset, end: offset };
  const before = word || !current ? i : i + 1; // tokens before the position
  const prev = tokens[before - 1];
  const items = candidates(tokens, before, prev, context);
  return { span, items };
}

function candidates(tokens: readonly Token[], before: number, prev: Token | undefined, context: EditorContext): Completion[] {
  const back = (k: number): Token | undefined => tokens[before - k];
  if (prev?.type === 'Colon' && back(3)?.type === 'Device') return modelItems();
  if (prev?.type === 'Device') return idItems(context);
  const scope = scopeAt(tokens, before);
  if (prev?.type === 'Equals') return valueItems(back(2)?.image ?? '', propertiesOf(scope));
  if (scope.kind === 'list' && (prev?.type === 'LSquare' || prev?.type === 'Comma' || isWord(prev))) return valueItems(scope.key, propertiesOf(scope.within));
  if (prev?.type === 'At' || prev?.type === 'Machine' || (isWord(prev) && back(2)?.type === 'Device')) return [];
  return keyItems(scope);
}

function modelItems(): Completion[] {
  return Object.entries(catalog).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, spec]) => ({ label: name, kind: 'model', detail: PLUG_TEXT[spec.plug], documentation: describeModel(name, spec) }));
}

function idItems(context: EditorContext): Completion[] {
  const written = new Set([...walkDevices(context.ast?.machine?.devices ?? [])].map((d) => d.id?.name));
  return (context.locked?.devices ?? [])
    .filter((d) => !d.auto && !written.has(d.id))
    .map((d) => ({ label: d.id, kind: 'device', detail: `${d.model}, locked at ${describeLocked(d)}`, documentation: 'in the lock but not in the source: writing it again keeps its address and pins' }));
}

function valueItems(key: string, props: Readonly<Record<string, PropSpec>>): Completion[] {
  const spec = Object.hasOwn(props, key) ? props[key] : undefined;
  return valuesOf(key, spec).map((v) => ({ label: v, kind: 'value', detail: key }));
}

function keyItems(scope: Scope): Completion[] {
  const props = propertiesOf(scope);
  const items: Completion[] = Object.entries(props).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, spec]) => ({ label: name, kind: 'property', detail: describeType(spec), documentation: spec.doc }));
  const nests = scope.kind === 'machine' || (scope.kind === 'device' && Object.hasOwn(catalog, scope.model) && catalog[scope.model].provides !== undefined);
  if (nests) items.push({ label: 'device', kind: 'keyword', detail: 'device ID: MODEL { … }' });
  return items;
}

export function describeModel(name: string, spec: ModelSpec): string {
  const lines = [`**${name}**: ${PLUG_TEXT[spec.plug]}.`];
  if (spec.provides) lines.push(`Provides a ${spec.provides} bus${spec.capacity ? ` (${spec.capacity} ${spec.provides === 'usb' ? 'ports' : 'devices'})` : ''}.`);
  if (spec.backend) lines.push(`Backend: ${Object.keys(backendProps[spec.backend]).join(', ')}.`);
  if (spec.pins?.length) lines.push(`Locked: ${spec.pins.join(', ')}.`);
  if (spec.chipsets) lines.push(`Only on ${spec.chipsets.join(', ')}.`);
  return lines.join('\n\n');
}

function describeLocked(d: PlacedDevice): string {
  if (d.guest) return `${formatGuestAddress(d.guest)} (bus=${d.bus} addr=${d.addr ? formatAddress(d.addr) : '?'})`;
  return `${d.bus}${d.pins.port ? ` port ${d.pins.port}` : ''}`;
}

export interface Hover {
  readonly span: Span;
  /** Markdown. */
  readonly text: string;
}

/** What the word at `offset` is: a model, a device id (with its locked place and pins), a property. */
export function hoverAt(text: string, offset: number, context: EditorContext = {}): Hover | undefined {
  const { tokens } = scan(text);
  const i = tokens.findIndex((t) => t.start <= offset && offset < t.end);
  const t = tokens[i];
  if (!t || t.type !== 'Identifier') return undefined;
  const span = { start: t.start, end: t.end };
  const back = (k: number): Token | undefined => tokens[i - k];
  if (back(1)?.type === 'Colon' && back(3)?.type === 'Device') {
    return Object.hasOwn(catalog, t.image) ? { span, text: describeModel(t.image, catalog[t.image]) } : undefined;
  }
  if (back(1)?.type === 'Device') return { span, text: describeDevice(t.image, context) };
  if (tokens[i + 1]?.type === 'Equals') {
    const props = propertiesOf(scopeAt(tokens, i));
    const spec = Object.hasOwn(props, t.image) ? props[t.image] : undefined;
    return spec && { span, text: `**${t.image}**: ${describeType(spec)}${spec.doc ? `\n\n${spec.doc}` : ''}` };
  }
  return undefined;
}

function describeDevice(id: string, context: EditorContext): string {
  const locked = context.locked?.devices.find((d) => d.id === id);
  const placed = context.placed?.devices.find((d) => d.id === id);
  const d = locked ?? placed;
  if (!d) return `**${id}**: ${context.locked ? 'not in the lock yet' : 'no lock yet'}`;
  const lines = [`**${id}** (${d.model}): ${locked ? 'locked at' : 'not locked yet; a build places it at'} ${describeLocked(d)}`];
  for (const key of ['mac', 'serial']) if (d.pins[key]) lines.push(`${key} ${d.pins[key]}`);
  if (d.secondaryBus !== undefined) lines.push(`bus ${d.secondaryBus.toString(16).padStart(2, '0')} behind it`);
  return lines.join('\n\n');
}

/** The device id written at `offset` (on its declaration), with where it is declared. */
export function deviceIdAt(ast: MachineFile, offset: number): { id: string; span: Span } | undefined {
  for (const d of walkDevices(ast.machine?.devices ?? [])) {
    if (d.id && d.id.span.start <= offset && offset <= d.id.span.end) return { id: d.id.name, span: d.id.span };
  }
  return undefined;
}

export interface QuickFix {
  readonly title: string;
  readonly span: Span;
  readonly newText: string;
}

/** The edit a "did you mean X?" hint proposes: X in place of the diagnostic's range. */
export function quickFix(d: Diagnostic): QuickFix | undefined {
  const m = d.hint && /did you mean ([^\s?]+)\?/.exec(d.hint);
  return m && d.span ? { title: `change to ${m[1]}`, span: d.span, newText: m[1] } : undefined;
}
