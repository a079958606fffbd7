/**
 * CST to AST. Tolerant: a node that error recovery left incomplete becomes an AST node with
 * its missing parts undefined, never an exception.
 */
import type { CstElement, CstNode, IToken } from 'chevrotain';
import type * as ast from './ast.js';
import type { Span } from './diagnostic.js';
import { tokenEnd } from './tokens.js';
import { readString } from './string-literal.js';

const isToken = (e: CstElement | undefined): e is IToken => e !== undefined && 'image' in e;
const usable = (tok: IToken | undefined): tok is IToken =>
  tok !== undefined && !tok.isInsertedInRecovery && Number.isFinite(tok.startOffset);

function tokenOf(node: CstNode, key: string): IToken | undefined {
  const e = node.children[key]?.[0];
  return isToken(e) && usable(e) ? e : undefined;
}
/** The nodes under a rule's name: chevrotain keeps tokens under token names and labels, so these are all CST nodes. */
const nodesOf = (node: CstNode, key: string): readonly CstNode[] => (node.children[key] as CstNode[] | undefined) ?? [];
const nodeOf = (node: CstNode, key: string): CstNode | undefined => node.children[key]?.[0] as CstNode | undefined;
const tokenSpan = (tok: IToken): Span => ({ start: tok.startOffset, end: tokenEnd(tok) });
const endOf = (tok: IToken | undefined): number | undefined => tok && tokenEnd(tok);

/**
 * What a CST node covers, from its first to its last real token; null when it holds none.
 * Remembered per node: devices, properties and values all ask for their spans, and a node's is
 * made from its children's, so each token is looked at once, not once per enclosing node.
 */
let extents = new Map<CstNode, Span | null>(); // one tree's, dropped once its AST is built
function extentOf(node: CstNode): Span | null {
  const known = extents.get(node);
  if (known !== undefined) return known;
  let start = Infinity;
  let end = -Infinity;
  for (const key in node.children) {
    for (const e of node.children[key]) {
      if (isToken(e)) {
        if (!usable(e)) continue;
        start = Math.min(start, e.startOffset);
        end = Math.max(end, tokenEnd(e));
      } else {
        const inner = extentOf(e);
        if (!inner) continue;
        start = Math.min(start, inner.start);
        end = Math.max(end, inner.end);
      }
    }
  }
  const extent = Number.isFinite(start) ? { start, end } : null;
  extents.set(node, extent);
  return extent;
}

/**
 * Whether the tree being built comes from a parse without errors. Then every node holds every
 * token the grammar gives it, so its span runs from the first of them to the last, which its
 * builder names (`spanFrom`): no walk over the tree. After error recovery a node may lack any of
 * them or hold tokens recovery inserted, so its span is what extentOf finds among its real tokens.
 * specs/ast-spans.spec.ts checks that both give the same tree on every parse without errors.
 */
let clean = false;

/** The span of `node`: from `first` to `end` after a clean parse, else from its first to its last real token. */
function spanFrom(node: CstNode, first: IToken | undefined, end: number | undefined): Span {
  if (clean) return { start: first!.startOffset, end: end! };
  const extent = extentOf(node);
  return extent ? { start: extent.start, end: extent.end } : { start: 0, end: 0 };
}

function identifier(tok: IToken | undefined): ast.Identifier | undefined {
  return tok && { kind: 'Identifier', name: tok.image, span: tokenSpan(tok) };
}

const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A string literal's value (its problems are the parser's diagnostics). */
const unescapeString = (image: string): string => readString(image).value;

function value(node: CstNode): ast.Value | undefined {
  const str = tokenOf(node, 'StringLiteral');
  if (str) return { kind: 'String', value: unescapeString(str.image), span: spanFrom(node, str, tokenEnd(str)) };
  const size = tokenOf(node, 'Size');
  if (size) {
    const m = /^([0-9]+)([A-Za-z])?/.exec(size.image)!;
    return { kind: 'Size', bytes: Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()], text: size.image, span: spanFrom(node, size, tokenEnd(size)) };
  }
  const int = tokenOf(node, 'HexInteger') ?? tokenOf(node, 'Integer');
  if (int) return { kind: 'Integer', value: Number(int.image), text: int.image, span: spanFrom(node, int, tokenEnd(int)) };
  const bool = tokenOf(node, 'True') ?? tokenOf(node, 'False');
  if (bool) return { kind: 'Boolean', value: bool.tokenType.name === 'True', span: spanFrom(node, bool, tokenEnd(bool)) };
  const list = nodeOf(node, 'list');
  if (list) {
    const items: ast.Value[] = [];
    for (const v of nodesOf(list, 'value')) {
      const item = value(v);
      if (item) items.push(item);
    }
    return { kind: 'List', items, span: spanFrom(node, tokenOf(list, 'LSquare'), endOf(tokenOf(list, 'RSquare'))) };
  }
  const nameToken = tokenOf(node, 'Identifier');
  const name = identifier(nameToken);
  const block = nodeOf(node, 'block');
  if (!block) return name;
  const span = spanFrom(node, nameToken ?? tokenOf(block, 'LCurly'), endOf(tokenOf(block, 'RCurly')));
  if (!name) return { kind: 'Block', properties: nodesOf(block, 'property').map(property), span };
  return { kind: 'Block', type: name, properties: nodesOf(block, 'property').map(property), span };
}

function property(node: CstNode): ast.Property {
  const v = nodeOf(node, 'value');
  const val = v && value(v);
  const keyToken = tokenOf(node, 'key');
  const span = spanFrom(node, keyToken, val?.span.end);
  const key = identifier(keyToken) ?? { kind: 'Identifier', name: '', span };
  return { kind: 'Property', key, value: val, span };
}

type Member = ast.Property | ast.DeviceNode;

/** The members of a machine or device body, in the three arrays its AST node holds. */
function collectMembers(node: CstNode, properties: ast.Property[], devices: ast.DeviceNode[], all: Member[]): void {
  for (const m of nodesOf(node, 'member')) {
    const d = nodeOf(m, 'device');
    const p = nodeOf(m, 'property');
    if (d) {
      const dev = device(d);
      devices.push(dev);
      all.push(dev);
    } else if (p) {
      const prop = property(p);
      properties.push(prop);
      all.push(prop);
    }
  }
}

function device(node: CstNode): ast.DeviceNode {
  const addr = tokenOf(node, 'AddressLiteral');
  const model = tokenOf(node, 'model');
  const properties: ast.Property[] = [];
  const devices: ast.DeviceNode[] = [];
  const members: Member[] = [];
  collectMembers(node, properties, devices, members);
  return {
    kind: 'Device',
    id: identifier(tokenOf(node, 'id')),
    model: identifier(model),
    address: addr && { kind: 'Address', text: addr.image, span: tokenSpan(addr) },
    hasBody: tokenOf(node, 'LCurly') !== undefined,
    properties,
    devices,
    members,
    span: spanFrom(node, tokenOf(node, 'Device'), endOf(tokenOf(node, 'RCurly') ?? addr ?? model)),
  };
}

/** The file's tree; `parsedClean`: the CST comes from a parse without errors (see `clean`). */
export function buildFile(cst: CstNode | undefined, comments: readonly IToken[], length: number, parsedClean: boolean): ast.MachineFile {
  clean = parsedClean;
  try {
    return buildTree(cst, comments, length);
  } finally {
    extents = new Map();
  }
}

function machine(m: CstNode): ast.MachineNode {
  const properties: ast.Property[] = [];
  const devices: ast.DeviceNode[] = [];
  const members: Member[] = [];
  const name = identifier(tokenOf(m, 'name'));
  collectMembers(m, properties, devices, members);
  return { kind: 'Machine', name, properties, devices, members, span: spanFrom(m, tokenOf(m, 'Machine'), endOf(tokenOf(m, 'RCurly'))) };
}

function buildTree(cst: CstNode | undefined, comments: readonly IToken[], length: number): ast.MachineFile {
  const m = cst && nodeOf(cst, 'machine');
  return {
    kind: 'File',
    machine: m && machine(m),
    comments: comments.map((c) => ({ kind: 'Comment', text: c.image, block: c.image.startsWith('/*'), span: tokenSpan(c) })),
    span: { start: 0, end: length },
  };
}
