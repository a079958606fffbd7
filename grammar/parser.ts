/**
 * The .machine grammar. One parser instance serves every parse: `parse()` sets its input.
 *
 *   file      := machine
 *   machine   := 'machine' NAME '{' member* '}'
 *   member    := (property | device) ','?
 *   property  := KEY '=' value
 *   device    := 'device' ID ':' MODEL ('@' ADDRESS)? ('{' member* '}')?
 *   value     := STRING | SIZE | INTEGER | HEX | 'true' | 'false' | list | NAME block? | block
 *   list      := '[' (value ','?)* ']'
 *   block     := '{' (property ','?)* '}'
 */
import { CstParser, type CstNode, type IParserErrorMessageProvider, type TokenType, type IToken } from 'chevrotain';
import * as t from './tokens.js';

const describe = (token: IToken): string => (token.tokenType === t.Identifier || token.image === '' ? token.image || 'end of file' : `'${token.image}'`);
const labelOf = (type: TokenType): string => type.LABEL ?? type.name;

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => `expected ${labelOf(expected)}, found ${describe(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) => `unexpected ${describe(firstRedundant)} after the end of the machine`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual, ruleName }) => {
    if (ruleName === 'value') return `expected a value (a name, string, number, size, true/false or [list]), found ${describe(actual[0])}`;
    if (ruleName === 'member') return `expected a property \`key = value\` or a \`device\`, found ${describe(actual[0])}`;
    const firsts = new Set<string>();
    for (const paths of expectedPathsPerAlt) for (const path of paths) if (path[0]) firsts.add(labelOf(path[0]));
    return `expected ${[...firsts].join(' or ')}, found ${describe(actual[0])}`;
  },
  buildEarlyExitMessage: ({ expectedIterationPaths, actual }) => {
    const firsts = expectedIterationPaths.map((p) => (p[0] ? labelOf(p[0]) : '?'));
    return `expected ${firsts.join(' or ')}, found ${describe(actual[0])}`;
  },
};

export class MachineParser extends CstParser {
  constructor() {
    super(t.allTokens, { recoveryEnabled: true, errorMessageProvider: messages, maxLookahead: 3, skipValidations: t.skipGrammarValidations });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', () => {
    this.SUBRULE(this.machine);
  });

  machine = this.RULE('machine', () => {
    this.CONSUME(t.Machine);
    this.CONSUME(t.Identifier, { LABEL: 'name' });
    this.CONSUME(t.LCurly);
    this.MANY(() => this.SUBRULE(this.member));
    this.CONSUME(t.RCurly);
  });

  /** A property or a device; a comma after one is allowed (`{ netdev = user, mac = "…" }`). */
  member = this.RULE('member', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.device) },
      { ALT: () => this.SUBRULE(this.property) },
    ]);
    this.OPTION(() => this.CONSUME(t.Comma));
  });

  property = this.RULE('property', () => {
    this.CONSUME(t.Identifier, { LABEL: 'key' });
    this.CONSUME(t.Equals);
    this.SUBRULE(this.value);
  });

  device = this.RULE('device', () => {
    this.CONSUME(t.Device);
    this.CONSUME(t.Identifier, { LABEL: 'id' });
    this.CONSUME(t.Colon);
    this.CONSUME2(t.Identifier, { LABEL: 'model' });
    this.OPTION(() => {
      this.CONSUME(t.At);
      this.CONSUME(t.AddressLiteral);
    });
    this.OPTION2(() => {
      this.CONSUME(t.LCurly);
      this.MANY(() => this.SUBRULE(this.member));
      this.CONSUME(t.RCurly);
    });
  });

  value = this.RULE('value', () => {
    this.OR([
      { ALT: () => this.CONSUME(t.StringLiteral) },
      { ALT: () => this.CONSUME(t.Size) },
      { ALT: () => this.CONSUME(t.HexInteger) },
      { ALT: () => this.CONSUME(t.Integer) },
      { ALT: () => this.CONSUME(t.True) },
      { ALT: () => this.CONSUME(t.False) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE2(this.block) },
      {
        ALT: () => {
          this.CONSUME(t.Identifier);
          this.OPTION(() => this.SUBRULE(this.block));
        },
      },
    ]);
  });

  list = this.RULE('list', () => {
    this.CONSUME(t.LSquare);
    this.MANY(() => {
      this.SUBRULE(this.value);
      this.OPTION(() => this.CONSUME(t.Comma));
    });
    this.CONSUME(t.RSquare);
  });

  block = this.RULE('block', () => {
    this.CONSUME(t.LCurly);
    this.MANY(() => {
      this.SUBRULE(this.property);
      this.OPTION(() => this.CONSUME(t.Comma));
    });
    this.CONSUME(t.RCurly);
  });
}

export type { CstNode };
