/**
 * Tokens of the .machine language. Keywords come before Identifier and name it as their
 * longer_alt, so `devices` is an identifier and `device` a keyword. An `@` switches the lexer
 * into address mode for one word, so `05.0` or `1e.0` lexes as an address there and
 * nowhere else; the checker validates its contents.
 */
import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';

/**
 * Every token type names the characters its matches can start with (`start_chars_hint`), so the
 * lexer tries at each offset only the few types that can start there (chevrotain's first-character
 * optimisation) without analysing the regexps at start-up (see MachineLexer). A hint must hold
 * every character a match can start with: a missing one would make that token an error there.
 */
const DIGITS = [...'0123456789'];
const NAME_START = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_'];

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\f\uFEFF]+/, group: Lexer.SKIPPED, line_breaks: true, start_chars_hint: [' ', '\t', '\r', '\n', '\f', '\uFEFF'] });
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n\r]*/, group: 'comments', start_chars_hint: ['/'] });
export const BlockComment = createToken({ name: 'BlockComment', pattern: /\/\*[\s\S]*?\*\//, group: 'comments', line_breaks: true, start_chars_hint: ['/'] });

export const Identifier = createToken({ name: 'Identifier', label: "a name", pattern: /[A-Za-z_][A-Za-z0-9_.+-]*/, start_chars_hint: NAME_START });
const keyword = (name: string, word: string): TokenType =>
  createToken({ name, label: `'${word}'`, pattern: new RegExp(word), longer_alt: Identifier, start_chars_hint: [word[0]] });
export const Machine = keyword('Machine', 'machine');
export const Device = keyword('Device', 'device');
export const True = keyword('True', 'true');
export const False = keyword('False', 'false');

export const StringLiteral = createToken({ name: 'StringLiteral', label: "a string", pattern: /"(?:[^"\\\n\r]|\\.)*"/, start_chars_hint: ['"'] });
/** A size: digits and a binary unit, `512M`, `4G`, `64K`, `1T`, optionally `MiB`/`GB`. */
export const Size = createToken({ name: 'Size', label: "a size", pattern: /[0-9]+(?:[KMGTkmgt](?:i?[Bb])?|[Bb])(?![A-Za-z0-9_])/, start_chars_hint: DIGITS });
export const HexInteger = createToken({ name: 'HexInteger', label: "a hex integer", pattern: /0[xX][0-9a-fA-F]+(?![A-Za-z0-9_])/, start_chars_hint: ['0'] });
export const Integer = createToken({ name: 'Integer', label: "an integer", pattern: /[0-9]+(?![A-Za-z0-9_])/, start_chars_hint: DIGITS });

export const LCurly = createToken({ name: 'LCurly', label: "'{'", pattern: /{/, start_chars_hint: ['{'] });
export const RCurly = createToken({ name: 'RCurly', label: "'}'", pattern: /}/, start_chars_hint: ['}'] });
export const LSquare = createToken({ name: 'LSquare', label: "'['", pattern: /\[/, start_chars_hint: ['['] });
export const RSquare = createToken({ name: 'RSquare', label: "']'", pattern: /]/, start_chars_hint: [']'] });
export const Comma = createToken({ name: 'Comma', label: "','", pattern: /,/, start_chars_hint: [','] });
export const Colon = createToken({ name: 'Colon', label: "':'", pattern: /:/, start_chars_hint: [':'] });
export const Equals = createToken({ name: 'Equals', label: "'='", pattern: /=/, start_chars_hint: ['='] });
export const At = createToken({ name: 'At', label: "'@'", pattern: /@/, start_chars_hint: ['@'] });

const addressWord = /[A-Za-z0-9_.:]+/y;
/**
 * The word right after `@`, e.g. `05.0` or `1e.0`: an address only there, so `10` elsewhere
 * stays an integer. The checker validates its contents.
 */
export const AddressLiteral = createToken({
  name: 'AddressLiteral',
  label: 'an address like 05.0',
  line_breaks: false,
  start_chars_hint: [...DIGITS, ...NAME_START, '.', ':'],
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

/** Defined (true) by tools/bundle.ts in the bundled CLI only. */
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
 *  - first-character optimisation from the tokens' `start_chars_hint`s: chevrotain would otherwise
 *    parse every pattern with regexp-to-ast at start-up to learn them, and without it tries the
 *    21 types in order at every offset (an `=` after 19 failed ones). The types tried at an offset
 *    keep their order, so every token is the same.
 */
export const MachineLexer = new Lexer(allTokens, { positionTracking: 'onlyOffset', skipValidations: skipGrammarValidations });

/** The offset just after a token (tokens carry no endOffset: see MachineLexer). */
export const tokenEnd = (tok: IToken): number => tok.startOffset + tok.image.length;
