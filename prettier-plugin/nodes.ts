/**
 * The tree the plugin hands to prettier: the grammar's AST, plus the fields prettier's comment
 * machinery adds to nodes and comments while attaching them. Also the small text scanners the
 * parser, the comment handlers and the printer share.
 */
import type * as ast from '../grammar/index.js';

/** A comment as prettier sees it: the grammar's comment plus attachment state. */
export interface PluginComment extends ast.Comment {
  /** prettier's error message for an unprinted comment reads `comment.value`. */
  value: string;
  leading?: boolean;
  trailing?: boolean;
  printed?: boolean;
  placement?: 'ownLine' | 'endOfLine' | 'remaining';
  enclosingNode?: PluginNode;
  precedingNode?: PluginNode;
  followingNode?: PluginNode;
}

/** Any node of the tree; prettier stores the comments attached to a node on `comments`. */
export type PluginNode = (ast.Node | PluginComment) & { comments?: PluginComment[] };

/** The root: the file, with every comment of the source for prettier to attach. */
export type PluginRoot = ast.MachineFile & { comments: PluginComment[] };

/** Nodes written with a `{ … }` body whose inside can hold comments of its own. */
export type BracedNode = ast.MachineNode | ast.DeviceNode | ast.BlockValue;

/** Which children of each node hold nodes, in source order; `properties`/`devices` repeat `members`. */
export const visitorKeys: Record<PluginNode['kind'], string[]> = {
  File: ['machine'],
  Machine: ['name', 'members'],
  Device: ['id', 'model', 'address', 'members'],
  Property: ['key', 'value'],
  Block: ['type', 'properties'],
  List: ['items'],
  Identifier: [],
  String: [],
  Integer: [],
  Size: [],
  Boolean: [],
  Address: [],
  Comment: [],
};

export const locStart = (node: { span: ast.Span }): number => node.span.start;
export const locEnd = (node: { span: ast.Span }): number => node.span.end;

/** The members (or properties, for a typed block) inside the braces of a braced node. */
export function bracedItems(node: BracedNode): readonly (ast.Property | ast.DeviceNode)[] {
  return node.kind === 'Block' ? node.properties : node.members;
}

/** Where the part before `{` ends, or undefined when the node has no body. */
function headerEnd(node: PluginNode): number | undefined {
  switch (node.kind) {
    case 'Machine':
      return node.name?.span.end;
    case 'Device':
      return node.hasBody ? (node.address ?? node.model ?? node.id)?.span.end : undefined;
    case 'Block':
      return node.type ? node.type.span.end : node.span.start;
    default:
      return undefined;
  }
}

/** Skips spaces, tabs and newlines from `i`. */
function skipWhitespace(text: string, i: number): number {
  while (i < text.length && /[ \t\r\n\f\uFEFF]/.test(text[i])) i++;
  return i;
}

/** If a comment starts at `i`, the offset just past it; otherwise `i`. */
function skipComment(text: string, i: number): number {
  if (text.startsWith('//', i)) {
    const nl = text.slice(i).search(/[\r\n]/);
    return nl < 0 ? text.length : i + nl;
  }
  if (text.startsWith('/*', i)) {
    const close = text.indexOf('*/', i + 2);
    return close < 0 ? text.length : close + 2;
  }
  return i;
}

/**
 * The offset of the `{` that opens a braced node's body, skipping whitespace and comments
 * after its header; -1 when the node has no body.
 */
export function openBraceOf(node: PluginNode, text: string): number {
  const from = headerEnd(node);
  if (from === undefined) return -1;
  let i = from;
  for (let prev = -1; prev !== i; ) {
    prev = i;
    i = skipComment(text, skipWhitespace(text, i));
  }
  return text[i] === '{' ? i : -1;
}

/**
 * Whether a blank line follows the line on which `end` lies, looking past what may follow a
 * node on its line: spaces, a member's optional comma and the node's trailing comments (a
 * multi-line block comment counts as part of the line it starts on).
 */
export function isNextLineEmpty(text: string, end: number): boolean {
  let i = end;
  for (let prev = -1; prev !== i; ) {
    prev = i;
    while (text[i] === ' ' || text[i] === '\t' || text[i] === ',') i++;
    i = skipComment(text, i);
  }
  if (text[i] === '\r' && text[i + 1] === '\n') i += 2;
  else if (text[i] === '\n' || text[i] === '\r') i += 1;
  else return false;
  while (text[i] === ' ' || text[i] === '\t') i++;
  return text[i] === '\n' || text[i] === '\r';
}
