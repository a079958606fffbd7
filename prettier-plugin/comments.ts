/**
 * Comment attachment rules beyond prettier's defaults. prettier attaches each comment to the
 * nearest node before or after it; that is right everywhere except just inside a `{`: there the
 * node before the comment is the header (`machine NAME`, `device ID: MODEL @ ADDR`, a typed
 * block's type), and attaching to it would move the comment out of the braces. So a comment
 * inside the braces and before the first member is:
 *   - dangling on the braced node when the body is empty (`{ /* c *\/ }`), or when it sits on
 *     the `{` line (`{ // c`): printed right after the `{`;
 *   - otherwise a leading comment of the first member.
 * Likewise a comment on the `[` line of a non-empty list, before its first item, stays there.
 */
import type { Printer } from 'prettier';
import type * as ast from '../grammar/index.js';
import { bracedItems, openBraceOf, type BracedNode, type PluginComment, type PluginNode } from './nodes.js';

function attach(node: PluginNode, comment: PluginComment, how: 'leading' | 'dangling'): true {
  comment.leading = how === 'leading';
  comment.trailing = false;
  comment.printed = false;
  (node.comments ??= []).push(comment);
  return true;
}

function handleBracedComment(comment: PluginComment, text: string): boolean {
  const enclosing = comment.enclosingNode;
  if (enclosing?.kind === 'List') return handleListComment(enclosing, comment, text);
  if (!enclosing || (enclosing.kind !== 'Machine' && enclosing.kind !== 'Device' && enclosing.kind !== 'Block')) return false;
  const open = openBraceOf(enclosing, text);
  if (open < 0 || comment.span.start < open) return false;
  const items: readonly PluginNode[] = bracedItems(enclosing as BracedNode);
  // After a member, prettier's own rules (trailing of that member, leading of the next) are right.
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

export const handleComments: NonNullable<Printer['handleComments']> = {
  ownLine: (comment: PluginComment, text: string) => handleBracedComment(comment, text),
  endOfLine: (comment: PluginComment, text: string) => handleBracedComment(comment, text),
  remaining: (comment: PluginComment, text: string) => handleBracedComment(comment, text),
};
