/**
 * CST to AST. Tolerant: a node that error recovery left incomplete becomes an AST node with
 * its missing parts undefined, never an exception.
 */
import type { CstElement, CstNode, IToken } from 'chevrotain';
import type * as ast from './ast.js';
import type { Span } from './diagnostic.js';
import { tokenEnd } from './tokens.js';

const isToken = (e: CstElement | undefined): e is IToken => e !== undefined && 'image' in e;
const usable = (tok: IToken | undefined): tok is IToken =>
  tok !== undefined && !tok.isInsertedInRecovery && Number.isFinite(tok.startOffset);

function tokenOf(node: CstNode, key: string, i = 0): IToken | undefined {
  const e = node.children[key]?.[i];
  return isToken(e) && usable(e) ? e : undefined;
}
function nodesOf(node: CstNode, key: string): CstNode[] {
  return (node.children[key] ?? []).filter((e): e is CstNode => !isToken(e));
}
const tokenSpan = (tok: IToken): Span => ({ start: tok.startOffset, end: tokenEnd(tok) });

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

/** The span of everything a CST node covers, from its first to its last real token. */
function spanOf(node: CstNode, fallback: number): Span {
  const extent = extentOf(node);
  return extent ? { start: extent.start, end: extent.end } : { start: fallback, end: fallback };
}

function identifier(tok: IToken | undefined): ast.Identifier | undefined {
  return tok && { kind: 'Identifier', name: tok.image, span: tokenSpan(tok) };
}

const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function unescapeString(image: string): string {
  return image.slice(1, -1).replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c as 'n'] ?? c);
}

function value(node: CstNode): ast.Value | undefined {
  const span = spanOf(node, 0);
  const str = tokenOf(node, 'StringLiteral');
  if (str) return { kind: 'String', value: unescapeString(str.image), span };
  const size = tokenOf(node, 'Size');
  if (size) {
    const m = /^([0-9]+)([A-Za-z])?/.exec(size.image)!;
    return { kind: 'Size', bytes: Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()], text: size.image, span };
  }
  const int = tokenOf(node, 'HexInteger') ?? tokenOf(node, 'Integer');
  if (int) return { kind: 'Integer', value: Number(int.image), text: int.image, span };
  if (tokenOf(node, 'True')) return { kind: 'Boolean', value: true, span };
  if (tokenOf(node, 'False')) return { kind: 'Boolean', value: false, span };
  const [list] = nodesOf(node, 'list');
  if (list) {
    const items = nodesOf(list, 'value').map(value).filter((v): v is ast.Value => v !== undefined);
    return { kind: 'List', items, span };
  }
  const name = identifier(tokenOf(node, 'Identifier'));
  const [block] = nodesOf(node, 'block');
  if (!name && block) return { kind: 'Block', properties: nodesOf(block, 'property').map(property), span };
  if (!name) return undefined;
  if (!block) return name;
  return { kind: 'Block', type: name, properties: nodesOf(block, 'property').map(property), span };
}

function property(node: CstNode): ast.Property {
  const [v] = nodesOf(node, 'value');
  const span = spanOf(node, 0);
  const key = identifier(tokenOf(node, 'key')) ?? { kind: 'Identifier', name: '', span };
  return { kind: 'Property', key, value: v && value(v), span };
}

function members(node: CstNode): { properties: ast.Property[]; devices: ast.DeviceNode[]; members: (ast.Property | ast.DeviceNode)[] } {
  const properties: ast.Property[] = [];
  const devices: ast.DeviceNode[] = [];
  const all: (ast.Property | ast.DeviceNode)[] = [];
  for (const m of nodesOf(node, 'member')) {
    const [d] = nodesOf(m, 'device');
    const [p] = nodesOf(m, 'property');
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
  return { properties, devices, members: all };
}

function device(node: CstNode): ast.DeviceNode {
  const addr = tokenOf(node, 'AddressLiteral');
  return {
    kind: 'Device',
    id: identifier(tokenOf(node, 'id')),
    model: identifier(tokenOf(node, 'model')),
    address: addr && { kind: 'Address', text: addr.image, span: tokenSpan(addr) },
    hasBody: tokenOf(node, 'LCurly') !== undefined,
    ...members(node),
    span: spanOf(node, 0),
  };
}

export function buildFile(cst: CstNode | undefined, comments: readonly IToken[], length: number): ast.MachineFile {
  try {
    return buildTree(cst, comments, length);
  } finally {
    extents = new Map();
  }
}

function buildTree(cst: CstNode | undefined, comments: readonly IToken[], length: number): ast.MachineFile {
  const [m] = cst ? nodesOf(cst, 'machine') : [];
  const machine: ast.MachineNode | undefined = m && {
    kind: 'Machine',
    name: identifier(tokenOf(m, 'name')),
    ...members(m),
    span: spanOf(m, 0),
  };
  return {
    kind: 'File',
    machine,
    comments: comments.map((c) => ({ kind: 'Comment', text: c.image, block: c.image.startsWith('/*'), span: tokenSpan(c) })),
    span: { start: 0, end: length },
  };
}
