/** The tokens of a text, for editors: where a position is (a model, a key, a value, a comment). */
import { MachineLexer } from './tokens.js';

export interface Token {
  /** The token type's name: `Identifier`, `Device`, `Colon`, `LCurly`, `StringLiteral`, `LineComment`, … */
  readonly type: string;
  readonly image: string;
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface Scan {
  /** Every token but comments, in order. */
  readonly tokens: readonly Token[];
  readonly comments: readonly Token[];
}

export function scan(text: string): Scan {
  const lexed = MachineLexer.tokenize(text);
  const view = (t: { tokenType: { name: string }; image: string; startOffset: number }): Token => ({ type: t.tokenType.name, image: t.image, start: t.startOffset, end: t.startOffset + t.image.length });
  return { tokens: lexed.tokens.map(view), comments: (lexed.groups.comments ?? []).map(view).sort((a, b) => a.start - b.start) };
}
