/**
 * Comment attachment rules beyond prettier's defaults. prettier attaches each comment to the
 * nearest node before or after it, which is right between members and between list items.
 * Two places need more care.
 *
 * Just inside a `{`: the node before the comment is the header (`machine NAME`,
 * `device ID: MODEL @ ADDR`, a typed block's type); attaching to it would move the comment out
 * of the braces. So a comment inside the braces and before the first member is
 *   - dangling on the braced node when the body is empty (`{ /* c *\/ }`), or when it sits on
 *     the `{` line (`{ // c`): printed right after the `{`;
 *   - otherwise a leading comment of the first member.
 * Likewise a comment on the `[` line of a non-empty list, before its first item, stays there.
 *
 * Inside a one-line construct (a property, a device or machine header before its `{`, a typed
 * block's type before its `{`), a comment with a line break before or after it cannot stay
 * where it is without splitting the construct over lines, which the next format would read
 * differently. So a line comment there, or a block comment on its own line, becomes a leading
 * comment of the innermost member (property, device or machine) around it and is printed on
 * its own line above that member, in source order. A block comment that ends a line stays in
 * place as a trailing comment of the node before it. Comments with code on both sides
 * (`key /* c *\/ = value`) stay in place by prettier's rules.
 */
import type { Printer } from 'prettier';
import type * as ast from '../grammar/index.js';
import { bracedItems, openBraceOf, visitorKeys, type BracedNode, type PluginComment, type PluginNode, type PluginRoot } from './nodes.js';

function attach(node: PluginNode, comment: PluginComment, how: 'leading' | 'trailing' | 'dangling'): true {
  comment.leading = how === 'leading';
  comment.trailing = how === 'trailing';
  comment.printed = false;
  (node.comments ??= []).push(comment);
  return true;
}

const isBraced = (node: PluginNode | undefined): node is BracedNode & PluginNode =>
  node?.kind === 'Machine' || node?.kind === 'Device' || node?.kind === 'Block';

/** A comment between a braced node's `{` and its first member (prettier's default handles the rest). */
function handleBodyComment(enclosing: BracedNode & PluginNode, open: number, comment: PluginComment, text: string): boolean {
  const items: readonly PluginNode[] = bracedItems(enclosing);
  if (comment.precedingNode && items.includes(comment.precedingNode)) return false;
  const onOpenLine = !/[\r\n]/.test(text.slice(open, comment.span.start));
  if (items.length === 0 || onOpenLine) return attach(enclosing, comment, 'dangling');
  return attach(comment.followingNode ?? items[0], comment, 'leading');
}

/** In a non-empty list, a comment on the `[` line before the first item stays after the `[`. */
function handleListComment(list: ast.ListValue & PluginNode, comment: PluginComment, text: string): boolean {
  if (list.items.length === 0 || comment.precedingNode) return false;
  if (/[\r\n]/.test(text.slice(list.span.start, comment.span.start))) return false;
  return attach(list, comment, 'dangling');
}

/** The innermost property, device or machine whose span holds `offset`. */
function innermostMember(node: PluginNode, offset: number): PluginNode | undefined {
  let found: PluginNode | undefined;
  for (let current: PluginNode | undefined = node; current; ) {
    if (current.kind === 'Property' || current.kind === 'Device' || current.kind === 'Machine') found = current;
    const parent: PluginNode = current;
    current = undefined;
    for (const key of visitorKeys[parent.kind] ?? []) {
      const value: PluginNode | PluginNode[] | undefined = (parent as unknown as Record<string, PluginNode | PluginNode[] | undefined>)[key];
      const children: PluginNode[] = Array.isArray(value) ? value : value ? [value] : [];
      for (const child of children) {
        if (child.span.start <= offset && offset < child.span.end) current = child;
      }
    }
  }
  return found;
}

/** A comment inside a property, or in a header before its `{`, with a line break beside it. */
function handleInlineComment(comment: PluginComment, placement: 'ownLine' | 'endOfLine', root: PluginRoot): boolean {
  if (placement === 'endOfLine' && comment.block && comment.precedingNode) return attach(comment.precedingNode, comment, 'trailing');
  const member = innermostMember(root as PluginNode, comment.span.start);
  return member ? attach(member, comment, 'leading') : false;
}

function handle(comment: PluginComment, text: string, root: PluginRoot, placement: 'ownLine' | 'endOfLine' | 'remaining'): boolean {
  const enclosing = comment.enclosingNode;
  if (enclosing?.kind === 'List') return handleListComment(enclosing, comment, text);
  if (isBraced(enclosing)) {
    const open = openBraceOf(enclosing, text);
    if (open >= 0 && comment.span.start > open) return handleBodyComment(enclosing, open, comment, text);
  } else if (enclosing?.kind !== 'Property') return false;
  // Inside a property, or in a header before its `{`.
  return placement === 'remaining' ? false : handleInlineComment(comment, placement, root);
}

export const handleComments: NonNullable<Printer['handleComments']> = {
  ownLine: (comment: PluginComment, text: string, _options: unknown, root: PluginRoot) => handle(comment, text, root, 'ownLine'),
  endOfLine: (comment: PluginComment, text: string, _options: unknown, root: PluginRoot) => handle(comment, text, root, 'endOfLine'),
  remaining: (comment: PluginComment, text: string, _options: unknown, root: PluginRoot) => handle(comment, text, root, 'remaining'),
};
