/**
 * The `machine-ast` printer: AST to prettier doc. The canonical style is described in the
 * README's "Formatting" section; in short, 2-space (or the configured) indent, `key = value` with single
 * spaces, the machine body and device trees one member per line, property-only bodies, typed
 * blocks and lists on one line when they fit. Literals are printed exactly as written.
 */
import type { AstPath, Doc, Printer } from 'prettier';
import { builders } from 'prettier/doc';
import type * as ast from '../grammar/index.js';
import { handleComments } from './comments.js';
import { bracedItems, isNextLineEmpty, openBraceOf, visitorKeys, type BracedNode, type PluginComment, type PluginNode } from './nodes.js';

const { breakParent, group, hardline, ifBreak, indent, join, line, softline } = builders;

type Print = (selector?: string | number | (string | number)[] | AstPath<PluginNode>) => Doc;

/**
 * A comment's text. Block comments keep every character, continuation lines included, so
 * re-indenting never changes them; line comments lose trailing blanks.
 *
 * A multi-line block comment is one string with its newlines in it, not lines joined with
 * `literalline`: a line comment printed before it on the same output line is a `lineSuffix`,
 * which prettier flushes at the next line break in the doc, and a break inside the block
 * comment would put that line comment inside it. It still breaks the groups around it, so a
 * list or typed block holding one is printed the same way whatever the source's layout.
 */
function commentDoc(comment: ast.Comment): Doc {
  if (!comment.block) return comment.text.trimEnd();
  return comment.text.includes('\n') ? [comment.text, breakParent] : comment.text;
}

/** Comments attached to a node that are neither leading nor trailing: the ones we print ourselves. */
function danglingComments(node: PluginNode): PluginComment[] {
  return (node.comments ?? []).filter((c) => !c.leading && !c.trailing);
}

function printDangling(comment: PluginComment): Doc {
  comment.printed = true;
  return commentDoc(comment);
}

const isSingleLineBlock = (c: PluginComment): boolean => c.block && !c.text.includes('\n');

/**
 * The members of a body separated by `separator`; a blank line after a member in the
 * source (runs collapsed to one) is kept as one blank line.
 */
function printItems(path: AstPath<PluginNode>, print: Print, key: 'members' | 'properties', separator: Doc, text: string): Doc[] {
  const parts: Doc[] = [];
  path.each((_, index, items: readonly PluginNode[]) => {
    parts.push(print());
    if (index < items.length - 1) {
      parts.push(separator);
      if (isNextLineEmpty(text, items[index].span.end)) parts.push(hardline);
    }
  }, key);
  return parts;
}

/**
 * `{ … }` of a machine, device or typed block. A machine body, and a device body holding
 * devices, always break, one member per line; a device body of properties only, and a typed
 * block, stay on one line when they fit (`{ file = "a.qcow2", bootindex = 1 }`). An empty body
 * is `{}`, or `{ /* c *\/ }` when it only holds short block comments. Comments on the `{`
 * line stay there.
 */
function printBraced(path: AstPath<PluginNode>, print: Print, text: string, alwaysBreak: boolean): Doc {
  const node = path.node as BracedNode & PluginNode;
  const dangling = danglingComments(node);
  const items = bracedItems(node);
  if (items.length === 0 && dangling.length === 0) return '{}';
  if (items.length === 0 && dangling.every(isSingleLineBlock)) {
    return group(['{', indent([line, join(line, dangling.map(printDangling))]), line, '}']);
  }
  const open = openBraceOf(node, text);
  const onOpenLine = dangling.filter((c) => open >= 0 && !/[\r\n]/.test(text.slice(open, c.span.start)));
  const ownLine = dangling.filter((c) => !onOpenLine.includes(c));
  const head: Doc[] = onOpenLine.length ? [' ', join(' ', onOpenLine.map(printDangling))] : [];
  if (onOpenLine.some((c) => !c.block)) head.push(breakParent);
  const inside: Doc[] = [];
  ownLine.forEach((c, i) => {
    inside.push(hardline, printDangling(c));
    if (i < ownLine.length - 1 && isNextLineEmpty(text, c.span.end)) inside.push(hardline);
  });
  if (items.length) {
    const key = node.kind === 'Block' ? 'properties' : 'members';
    // On one line, members are separated by commas (`{ a = 1, b = 2 }`); one per line, by nothing.
    inside.push(line, ...printItems(path, print, key, [ifBreak('', ','), line], text));
  }
  // A member with comments above it gets its own line: prettier lays out a leading comment by
  // the line breaks around it in the source, so a one-line body would not read back the same.
  const hasLeadingComments = items.some((item: PluginNode) => item.comments?.some((c) => c.leading));
  return group(['{', ...head, indent(inside), line, '}'], { shouldBreak: alwaysBreak || hasLeadingComments });
}

/** `[a, b]`, or one item per line with a trailing comma when it does not fit. */
function printList(path: AstPath<PluginNode>, print: Print): Doc {
  const node = path.node as ast.ListValue & PluginNode;
  const dangling = danglingComments(node);
  if (node.items.length === 0) {
    if (dangling.length === 0) return '[]';
    if (dangling.every(isSingleLineBlock)) return group(['[', join(' ', dangling.map(printDangling)), ']']);
    return ['[', indent([hardline, join(hardline, dangling.map(printDangling))]), hardline, ']'];
  }
  // Dangling comments in a non-empty list are the ones on the `[` line, before the first item.
  // Flat: `[/* c */ a, b]`; broken: `[ /* c */` then the items. A line comment forces the break.
  const comments = join(' ', dangling.map(printDangling));
  const head: Doc[] = dangling.length ? [ifBreak([' ', comments], [comments, ' '])] : [];
  if (dangling.some((c) => !c.block)) head.push(breakParent);
  return group(['[', ...head, indent([softline, join([',', line], path.map(() => print(), 'items'))]), ifBreak(','), softline, ']']);
}

function printNode(path: AstPath<PluginNode>, options: { originalText: string }, print: Print): Doc {
  const node = path.node;
  const text = options.originalText;
  switch (node.kind) {
    case 'File':
      return node.machine ? [print('machine'), hardline] : '';
    case 'Machine':
      return ['machine ', print('name'), ' ', printBraced(path, print, text, true)];
    case 'Device':
      return [
        'device ',
        print('id'),
        ': ',
        print('model'),
        node.address ? [' @ ', print('address')] : '',
        node.hasBody ? [' ', printBraced(path, print, text, node.devices.length > 0)] : '',
      ];
    case 'Property':
      return [print('key'), ' = ', print('value')];
    case 'Block':
      return node.type ? [print('type'), ' ', printBraced(path, print, text, false)] : printBraced(path, print, text, false);
    case 'List':
      return printList(path, print);
    case 'Identifier':
      return node.name;
    case 'String':
      // As written: the author's escapes are kept.
      return text.slice(node.span.start, node.span.end);
    case 'Integer':
    case 'Size':
    case 'Address':
      return node.text;
    case 'Boolean':
      return node.value ? 'true' : 'false';
    case 'Comment':
      return commentDoc(node);
  }
}

export const machinePrinter: Printer<PluginNode> = {
  print: printNode,
  getVisitorKeys: (node) => visitorKeys[node.kind] ?? [],
  canAttachComment: (node) => node.kind !== undefined && node.kind !== 'Comment' && node.kind !== 'File',
  isBlockComment: (node) => node.kind === 'Comment' && node.block,
  printComment: (path) => commentDoc(path.node as PluginComment),
  handleComments,
};
