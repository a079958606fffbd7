/**
 * Re-parsing after an edit, for the language server: when the old file parsed cleanly and the edit
 * lies inside one member (a device or property, at any depth), only the innermost such member
 * that stands alone is parsed again and the rest of the tree is kept (what follows it shifted by
 * the length change, its enclosing devices rebuilt). Anything else, and any doubt, parses the whole file, so the result is always the one
 * `parse` would give for the new text.
 */
import type * as ast from './ast.js';
import type { Span } from './diagnostic.js';
import { MAX_NESTING, parse, type ParseResult } from './parse.js';

export interface Parsed {
  readonly text: string;
  readonly result: ParseResult;
}

const WRAP_START = 'machine m {\n';
const WRAP_END = '\n}';
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

const shiftSpan = (s: Span, d: number): Span => ({ start: s.start + d, end: s.end + d });

function shiftValue(v: ast.Value, d: number): ast.Value {
  switch (v.kind) {
    case 'List':
      return { ...v, items: v.items.map((i) => shiftValue(i, d)), span: shiftSpan(v.span, d) };
    case 'Block':
      return { ...v, type: v.type && { ...v.type, span: shiftSpan(v.type.span, d) }, properties: v.properties.map((p) => shiftProperty(p, d)), span: shiftSpan(v.span, d) };
    default:
      return { ...v, span: shiftSpan(v.span, d) };
  }
}

function shiftProperty(p: ast.Property, d: number): ast.Property {
  return { ...p, key: { ...p.key, span: shiftSpan(p.key.span, d) }, value: p.value && shiftValue(p.value, d), span: shiftSpan(p.span, d) };
}

function shiftMember(m: ast.Property | ast.DeviceNode, d: number): ast.Property | ast.DeviceNode {
  if (m.kind === 'Property') return shiftProperty(m, d);
  const members = m.members.map((x) => shiftMember(x, d));
  const id = m.id && { ...m.id, span: shiftSpan(m.id.span, d) };
  const model = m.model && { ...m.model, span: shiftSpan(m.model.span, d) };
  const address = m.address && { ...m.address, span: shiftSpan(m.address.span, d) };
  return { ...m, id, model, address, ...split(members), members, span: shiftSpan(m.span, d) };
}

function split(members: readonly (ast.Property | ast.DeviceNode)[]): { properties: ast.Property[]; devices: ast.DeviceNode[] } {
  return { properties: members.filter((m): m is ast.Property => m.kind === 'Property'), devices: members.filter((m): m is ast.DeviceNode => m.kind === 'Device') };
}

/** The edited range: [start, oldEnd) of the old text became [start, newEnd) of the new one. */
interface Edit {
  readonly start: number;
  readonly oldEnd: number;
  readonly newEnd: number;
}

function editOf(before: string, after: string): Edit {
  const max = Math.min(before.length, after.length);
  let start = 0;
  while (start < max && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let tail = 0;
  while (tail < max - start && before.charCodeAt(before.length - 1 - tail) === after.charCodeAt(after.length - 1 - tail)) tail++;
  return { start, oldEnd: before.length - tail, newEnd: after.length - tail };
}

/** The tree of `text`, re-using `previous` where the edit between them allows. */
export function reparse(previous: Parsed | undefined, text: string, file: string): ParseResult {
  return (previous && reparseMember(previous, text, file)) ?? parse(text, file);
}

type Member = ast.Property | ast.DeviceNode;

interface Reparsed {
  readonly member: Member;
  /** The span (in the old text) of the member parsed again: the edited one, or one nested in it. */
  readonly old: Span;
  /** The comments inside the new text of that member. */
  readonly comments: readonly ast.Comment[];
}

/** The members with the one holding the edit parsed again: the innermost member that can stand alone. */
function reparseWithin(members: readonly Member[], edit: Edit, text: string, delta: number, file: string, depth = 1): { index: number; result: Reparsed } | undefined {
  const index = members.findIndex((m) => m.span.start <= edit.start && edit.oldEnd <= m.span.end);
  if (index < 0) return undefined;
  const old = members[index];
  const inner = old.kind === 'Device' ? reparseWithin(old.members, edit, text, delta, file, depth + 1) : undefined;
  if (inner && old.kind === 'Device') {
    const after = old.members.slice(inner.index + 1);
    const children = [...old.members.slice(0, inner.index), inner.result.member, ...(delta ? after.map((m) => shiftMember(m, delta)) : after)];
    const member: ast.DeviceNode = { ...old, ...split(children), members: children, span: { start: old.span.start, end: old.span.end + delta } };
    return { index, result: { ...inner.result, member } };
  }
  const result = reparseOne(old, text, delta, file, depth);
  return result && { index, result };
}

/** `old`, inside `depth` braces, parsed again from the new text on its own; undefined when it does not stand alone. */
function reparseOne(old: Member, text: string, delta: number, file: string, depth: number): Reparsed | undefined {
  const end = old.span.end + delta;
  // The member must stand alone in the new text, so that lexing it apart gives the same tokens.
  if (!isSpace(text[old.span.start - 1]) || !isSpace(text[end]) || end <= old.span.start) return undefined;
  const fragment = text.slice(old.span.start, end);
  // Parsed apart it sits `depth` levels less deep: it must not be able to pass the nesting limit in place.
  if ((fragment.match(/[{[]/g)?.length ?? 0) + depth > MAX_NESTING) return undefined;
  const wrapped = parse(WRAP_START + fragment + WRAP_END, file);
  const inner = wrapped.ast.machine;
  if (wrapped.diagnostics.length || inner?.members.length !== 1) return undefined;
  const offset = old.span.start - WRAP_START.length;
  const member = shiftMember(inner.members[0], offset);
  if (member.span.start !== old.span.start || member.span.end !== end) return undefined;
  return { member, old: old.span, comments: wrapped.ast.comments.map((c) => ({ ...c, span: shiftSpan(c.span, offset) })) };
}

function reparseMember(previous: Parsed, text: string, file: string): ParseResult | undefined {
  const machine = previous.result.ast.machine;
  if (!machine || previous.result.diagnostics.length) return undefined;
  if (previous.text === text) return previous.result;
  const edit = editOf(previous.text, text);
  const delta = text.length - previous.text.length;
  const found = reparseWithin(machine.members, edit, text, delta, file);
  if (!found) return undefined;
  const { index, result } = found;
  const after = machine.members.slice(index + 1);
  const members = [...machine.members.slice(0, index), result.member, ...(delta ? after.map((m) => shiftMember(m, delta)) : after)];
  const comments = [
    ...previous.result.ast.comments.filter((c) => c.span.end <= result.old.start),
    ...result.comments,
    ...previous.result.ast.comments.filter((c) => c.span.start >= result.old.end).map((c) => (delta ? { ...c, span: shiftSpan(c.span, delta) } : c)),
  ];
  const newMachine: ast.MachineNode = { ...machine, ...split(members), members, span: { start: machine.span.start, end: machine.span.end + delta } };
  return { ast: { kind: 'File', machine: newMachine, comments, span: { start: 0, end: text.length } }, diagnostics: [] };
}
