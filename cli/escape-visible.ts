/**
 * Characters a reader would not see as themselves, shown as visible escapes (`\u{202E}`): C0 and
 * C1 controls, DEL, bidirectional controls, zero-width and other invisible format characters,
 * line and paragraph separators, lone surrogates, private-use characters, variation selectors,
 * fillers, and spaces other than the plain one. Every printer applies it to user strings first:
 * the terminal as it is (`visibleText`), the markdown, mermaid, SVG and dot printers before their
 * own escaping.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0\u{e0100}-\u{e01ef}]|(?! )\p{Zs}/gu;

const escapeOf = (c: string): string => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`;

/** `s` with every character a reader would not see as itself written as `\u{…}`. */
export const visibleText = (s: string): string => s.replace(HIDDEN, escapeOf);

/** `visibleText`, keeping tabs and line breaks as they are: for source lines and messages on a terminal. */
export const visibleLines = (s: string): string => s.split(/([\t\n])/).map((p) => (p === '\t' || p === '\n' ? p : visibleText(p))).join('');
