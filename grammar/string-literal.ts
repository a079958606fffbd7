/**
 * String literals, both ways: what a literal as written means (its escapes decoded, and what is
 * wrong with it), and the literal that means a given value. Every writer of `.machine` text takes
 * its strings from `printString`, so whatever it writes reads back as the same value.
 *
 * Escapes: `\\`, `\"`, `\n`, `\t`, `\r`, and `\u{…}` (1 to 6 hex digits, a Unicode scalar value).
 * A character a reviewer cannot see — a control character other than tab, a format character such
 * as a bidi override or a zero-width space, a line or paragraph separator — is refused as written
 * and must be spelled with `\u{…}`, so a diff shows it.
 */

/** What is wrong at `offset` (relative to the literal's opening quote) for `length` characters. */
export interface StringProblem {
  readonly code: 'string-escape' | 'hidden-character';
  readonly offset: number;
  readonly length: number;
  readonly message: string;
  readonly hint: string;
}

export interface ReadString {
  readonly value: string;
  readonly problems: readonly StringProblem[];
}

const SIMPLE: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', n: '\n', t: '\t', r: '\r' };

/** A character that shows as nothing, or as something else, where a reviewer reads the text. */
const HIDDEN = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const isHidden = (ch: string): boolean => ch !== '\t' && HIDDEN.test(ch);
const HIDDEN_ANY = /[\0-\x08\x0a-\x1f\x7f-\x9f\p{Cf}\u2028\u2029]/u;

/** `U+202E`: the code point as Unicode writes it. */
const codePoint = (ch: string): string => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
const spelled = (ch: string): string => `\\u{${ch.codePointAt(0)!.toString(16).toUpperCase()}}`;

/** `\u{…}` at `i` (the backslash): the character and the escape's length, or a problem. */
function unicodeEscape(image: string, i: number): { ch: string; length: number } | StringProblem {
  const m = /^\\u\{([0-9A-Fa-f]{1,6})\}/.exec(image.slice(i, i + 11));
  const cp = m ? parseInt(m[1], 16) : -1;
  if (!m || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    const length = m ? m[0].length : 2;
    return { code: 'string-escape', offset: i, length, message: `${image.slice(i, i + length)} is not a Unicode character`, hint: 'write `\\u{` with 1 to 6 hex digits of a code point up to 10FFFF, then `}`' };
  }
  return { ch: String.fromCodePoint(cp), length: m[0].length };
}

/** The value of a literal as the lexer matched it (quotes included), and every problem in it. */
export function readString(image: string): ReadString {
  const inner = image.slice(1, -1);
  if (!inner.includes('\\') && !HIDDEN_ANY.test(inner)) return { value: inner, problems: [] };
  const problems: StringProblem[] = [];
  let value = '';
  for (let i = 1; i < image.length - 1; ) {
    const ch = String.fromCodePoint(image.codePointAt(i)!);
    if (ch !== '\\') {
      if (isHidden(ch)) problems.push({ code: 'hidden-character', offset: i, length: ch.length, message: `this string holds ${codePoint(ch)}, a character that does not show`, hint: `write it as ${spelled(ch)}, so a reviewer sees it` });
      value += ch;
      i += ch.length;
      continue;
    }
    const next = image[i + 1];
    if (next === 'u') {
      const u = unicodeEscape(image, i);
      if ('code' in u) {
        problems.push(u);
        i += u.length;
      } else {
        value += u.ch;
        i += u.length;
      }
    } else if (next in SIMPLE) {
      value += SIMPLE[next];
      i += 2;
    } else {
      problems.push({ code: 'string-escape', offset: i, length: 2, message: `\\${next} is not an escape the language has`, hint: 'escapes are \\\\, \\", \\n, \\t, \\r and \\u{…}; write a backslash as \\\\' });
      value += next;
      i += 2;
    }
  }
  return { value, problems };
}

/** The literal, quotes included, that reads back as `value`. */
export function printString(value: string): string {
  let out = '"';
  for (const ch of value) {
    if (ch === '\\' || ch === '"') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (isHidden(ch)) out += spelled(ch);
    else out += ch;
  }
  return `${out}"`;
}

/** Text for a line comment: every character that does not show (line breaks too) spelled as `\u{…}`. */
export function printCommentText(text: string): string {
  let out = '';
  for (const ch of text) out += ch === '\t' || !isHidden(ch) ? ch : spelled(ch);
  return out;
}
