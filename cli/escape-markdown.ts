/**
 * The markdown printer's escaping, as GitHub renders a pull-request comment: every user string
 * reaches the comment through `markdownText` (running text and table cells) or `markdownCode`
 * (a code span). Neither lets a string open HTML, close its code span, split a table cell, make a
 * link, an image, an autolink, a mention or emphasis; hidden characters are shown as `\u{…}`.
 */
import { visibleText } from './escape-visible.js';

/**
 * Running text: `<`, `>` and `&` as character references; markdown's punctuation (`\` `` ` `` `*`
 * `_` `[` `]` `|` `~` `$`) backslash-escaped. Mentions, issue references and autolinks are found in
 * the text after markdown is read (GitHub's filters, remark-gfm's autolinks), where no escape is
 * left: a word joiner (U+2060, `&#8288;`) follows each `@` and a `#` before a digit, and comes
 * before the `:` of `http://` and the `.` of `www.`. Valid in a table cell.
 */
export function markdownText(s: string): string {
  return visibleText(s).replace(/[<>&@\\`*_[\]|~$]|#(?=\d)|(?<=[A-Za-z]):(?=\/\/)|(?<=[Ww]{3})\./g, (c) => TEXT[c] ?? `\\${c}`);
}
const TEXT: Readonly<Record<string, string>> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '@': '&#64;&#8288;', '#': '#&#8288;', ':': '&#8288;:', '.': '&#8288;.' };

/**
 * A code span holding `s` as it is: delimited by one backtick more than the longest run in it
 * (padded with a space when it starts or ends with a backtick or a space), so nothing inside is
 * markup. In a table cell (`cell`), pipes are escaped as GFM tables read them even in code.
 */
export function markdownCode(s: string, { cell = false } = {}): string {
  const v = visibleText(s);
  if (v === '') return '` `';
  const longest = Math.max(0, ...(v.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(longest + 1);
  const pad = /^[` ]|[` ]$/.test(v) && v.trim() !== '' ? ' ' : '';
  const body = cell ? v.replace(/\|/g, '\\|') : v;
  return `${fence}${pad}${body}${pad}${fence}`;
}
