/** `parse` never throws: it returns the tree it could build and every problem it found. */
import type { IRecognitionException, IToken } from 'chevrotain';
import type { MachineFile } from './ast.js';
import { buildFile } from './build-ast.js';
import type { Diagnostic } from './diagnostic.js';
import { MachineParser } from './parser.js';
import { readString } from './string-literal.js';
import { LCurly, LSquare, MachineLexer, RCurly, RSquare, StringLiteral } from './tokens.js';

let parser: MachineParser | undefined;

/**
 * The parser recurses at every `{` or `[`: a few hundred levels exhaust the stack, and chevrotain
 * does not always surface that as a RangeError (its rule stack ends up corrupt). Real machines
 * nest a handful of levels, so a file nested deeper than this is refused before parsing.
 */
export const MAX_NESTING = 64;

/** The first `{` or `[` nested deeper than MAX_NESTING, if any. */
function tooDeep(tokens: readonly IToken[]): IToken | undefined {
  let depth = 0;
  for (const t of tokens) {
    if (t.tokenType === LCurly || t.tokenType === LSquare) {
      if (++depth > MAX_NESTING) return t;
    } else if (t.tokenType === RCurly || t.tokenType === RSquare) depth = Math.max(0, depth - 1);
  }
  return undefined;
}

export interface ParseResult {
  readonly ast: MachineFile;
  readonly diagnostics: Diagnostic[];
}

function hintFor(e: IRecognitionException): string | undefined {
  const found = e.token.image;
  if (/expected '='/.test(e.message)) return 'properties are written `key = value`';
  if (/expected an address/.test(e.message)) return 'an address is the hex slot and function on the parent bus, e.g. `@ 05.0`';
  if (/expected ':'/.test(e.message)) return 'devices are written `device ID: MODEL { … }`';
  const rule = e.context?.ruleStack?.[e.context.ruleStack.length - 1];
  if (/^expected a name/.test(e.message) && rule === 'device') return 'devices are written `device ID: MODEL { … }`';
  if (/^expected a name/.test(e.message) && rule === 'machine') return 'a .machine file holds one `machine NAME { … }`';
  if (/expected '}'/.test(e.message) && found === '') return 'a `{` is not closed';
  if (/expected 'machine'/.test(e.message)) return 'a .machine file holds one `machine NAME { … }`';
  if (/after the end of the machine/.test(e.message)) return 'a .machine file holds one machine: move this inside its `{ … }`, or check for an extra `}` above';
  return undefined;
}

/** Unknown escapes and characters that do not show, in every string literal. */
function stringProblems(tokens: readonly IToken[], file: string, diagnostics: Diagnostic[]): void {
  for (const t of tokens) {
    if (t.tokenType !== StringLiteral) continue;
    for (const p of readString(t.image).problems) {
      const start = t.startOffset + p.offset;
      diagnostics.push({ code: p.code, severity: 'error', message: p.message, file, span: { start, end: start + p.length }, hint: p.hint });
    }
  }
}

export function parse(text: string, file: string): ParseResult {
  return parseWith((parser ??= new MachineParser()), text, file);
}

/** `parse` with a given parser (specs/parser-tables.spec.ts compares parsers built two ways). */
export function parseWith(parser: MachineParser, text: string, file: string): ParseResult {
  const diagnostics: Diagnostic[] = [];
  const lexed = MachineLexer.tokenize(text);
  for (const e of lexed.errors) {
    const ch = text[e.offset];
    const unclosed = ch === '"';
    diagnostics.push({
      code: unclosed ? 'unclosed-string' : 'bad-character',
      severity: 'error',
      message: unclosed ? 'this string is not closed' : `unexpected character ${JSON.stringify(text.slice(e.offset, e.offset + e.length).slice(0, 1))}`,
      file,
      span: { start: e.offset, end: e.offset + Math.max(1, Math.min(e.length, 1)) },
      hint: unclosed ? 'a string is closed with `"` on the same line' : ch === ';' ? 'members need no `;`: end them with a newline or a comma' : 'remove it',
    });
  }
  const comments = (lexed.groups.comments ?? []).slice().sort((a, b) => a.startOffset - b.startOffset);
  const deep = tooDeep(lexed.tokens);
  if (deep) {
    diagnostics.push({
      code: 'too-deep',
      severity: 'error',
      message: `${file} nests more than ${MAX_NESTING} levels deep`,
      file,
      span: { start: deep.startOffset, end: deep.startOffset + 1 },
      hint: 'devices, lists and blocks nest a few levels in a real machine: check for unclosed or repeated `{` and `[`',
    });
    return { ast: buildFile(undefined, comments, text.length, false), diagnostics };
  }
  stringProblems(lexed.tokens, file, diagnostics);
  parser.input = lexed.tokens;
  const cst = parser.file();
  for (const e of parser.errors) {
    const tok = e.token;
    const at = Number.isFinite(tok.startOffset) ? tok.startOffset : text.length;
    const end = at + tok.image.length;
    diagnostics.push({ code: 'syntax-error', severity: 'error', message: e.message, file, span: { start: at, end: Math.max(end, at) }, hint: hintFor(e) });
  }
  return { ast: buildFile(cst, comments, text.length, parser.errors.length === 0), diagnostics };
}
