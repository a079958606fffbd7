/**
 * Tokens of the .machine language. Keywords come before Identifier and name it as their
 * longer_alt, so `devices` is an identifier and `device` a keyword. An `@` switches the lexer
 * into address mode for one word, so `05.0` or `1e.0` lexes as an address there and
 * nowhere else; the checker validates its contents.
 */
import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\f\uFEFF]+/, group: Lexer.SKIPPED, line_breaks: true });
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n\r]*/, group: 'comments' });
export const BlockComment = createToken({ name: 'BlockComment', pattern: /\/\*[\s\S]*?\*\//, group: 'comments', line_breaks: true });

export const Identifier = createToken({ name: 'Identifier', label: "a name", pattern: /[A-Za-z_][A-Za-z0-9_.+-]*/ });
const keyword = (name: string, word: string): TokenType =>
  createToken({ name, label: `'${word}'`, pattern: new RegExp(word), longer_alt: Identifier });
export const Machine = keyword('Machine', 'machine');
export const Device = keyword('Device', 'device');
export const True = keyword('True', 'true');
export const False = keyword('False', 'false');

export const StringLiteral = createToken({ name: 'StringLiteral', label: "a string", pattern: /"(?:[^"\\\n\r]|\\.)*"/ });
/** A size: digits and a binary unit, `512M`, `4G`, `64K`, `1T`, optionally `MiB`/`GB`. */
export const Size = createToken({ name: 'Size', label: "a size", pattern: /[0-9]+(?:[KMGTkmgt](?:i?[Bb])?|[Bb])(?![A-Za-z0-9_])/ });
export const HexInteger = createToken({ name: 'HexInteger', label: "a hex integer", pattern: /0[xX][0-9a-fA-F]+(?![A-Za-z0-9_])/ });
export const Integer = createToken({ name: 'Integer', label: "an integer", pattern: /[0-9]+(?![A-Za-z0-9_])/ });

export const LCurly = createToken({ name: 'LCurly', label: "'{'", pattern: /{/ });
export const RCurly = createToken({ name: 'RCurly', label: "'}'", pattern: /}/ });
export const LSquare = createToken({ name: 'LSquare', label: "'['", pattern: /\[/ });
export const RSquare = createToken({ name: 'RSquare', label: "']'", pattern: /]/ });
export const Comma = createToken({ name: 'Comma', label: "','", pattern: /,/ });
export const Colon = createToken({ name: 'Colon', label: "':'", pattern: /:/ });
export const Equals = createToken({ name: 'Equals', label: "'='", pattern: /=/ });
export const At = createToken({ name: 'At', label: "'@'", pattern: /@/ });

const addressWord = /[A-Za-z0-9_.:]+/y;
/**
 * The word right after `@`, e.g. `05.0` or `1e.0`: an address only there, so `10` elsewhere
 * stays an integer. The checker validates its contents.
 */
export const AddressLiteral = createToken({
  name: 'AddressLiteral',
  label: 'an address like 05.0',
  line_breaks: false,
  start_chars_hint: [...'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_.:'],
  pattern: {
    exec(text: string, offset: number, tokens: { tokenType: TokenType }[]) {
      if (tokens.length === 0 || tokens[tokens.length - 1].tokenType !== At) return null;
      addressWord.lastIndex = offset;
      return addressWord.exec(text);
    },
  } as unknown as RegExp,
});

export const allTokens = [
  WhiteSpace, LineComment, BlockComment, AddressLiteral,
  Machine, Device, True, False,
  Identifier, StringLiteral, Size, HexInteger, Integer,
  LCurly, RCurly, LSquare, RSquare, Comma, Colon, Equals, At,
];

/** Defined (true) by cli/bundle.ts in the bundled CLI only. */
declare const MACHINEC_BUNDLED: boolean | undefined;
/**
 * chevrotain checks the token and grammar definitions each time it builds the lexer and the
 * parser: about 15 ms of every CLI start. The bundled CLI skips the checks (its grammar is the one
 * the tests built with them on); tsc output, the tests and the prettier plugin keep them.
 */
export const skipGrammarValidations = typeof MACHINEC_BUNDLED !== 'undefined' && MACHINEC_BUNDLED === true;

/**
 * Start-up matters (the CLI builds this lexer on every run; README "Benchmark"), so the lexer is
 * built with what costs least to set up and lexes the same tokens:
 *  - `positionTracking: 'onlyOffset'`: tokens carry startOffset only; their end is `tokenEnd`,
 *    and lines and columns are computed when a diagnostic is rendered (location.ts). It also skips
 *    chevrotain's analysis of which patterns can match a line break.
 *  - `safeMode: true`: no first-character optimisation, whose set-up parses every pattern with
 *    regexp-to-ast; with 21 token types, trying them in order costs less than that analysis on
 *    all but very large files. The token order, and so every token, is the same.
 */
export const MachineLexer = new Lexer(allTokens, { positionTracking: 'onlyOffset', safeMode: true, skipValidations: skipGrammarValidations });

/** The offset just after a token (tokens carry no endOffset: see MachineLexer). */
export const tokenEnd = (tok: IToken): number => tok.startOffset + tok.image.length;
