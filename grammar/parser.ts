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
import { CstParser, VERSION, type CstNode, type IParserConfig, type IParserErrorMessageProvider, type IToken, type Rule, type TokenType } from 'chevrotain';
import { loadTables, parserTables, type LoadedTables, type ParserTables } from './tables.js';
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

const MAX_LOOKAHEAD = 3;

/** Defined by tools/bundle.ts in the bundled CLI only: `tables()` of the grammar below (grammar/tables.ts), as JSON. */
declare const MACHINEC_PARSER_TABLES: string | undefined;
const bundledTables = typeof MACHINEC_PARSER_TABLES === 'undefined' ? undefined : (JSON.parse(MACHINEC_PARSER_TABLES) as ParserTables);

/** chevrotain's grammar recorder (internal: not in its types), which a parser built from tables skips. */
interface Recorder {
  enableRecording(): void;
  disableRecording(): void;
  topLevelRuleRecord(name: string, impl: () => void): Rule;
}
const recorder = CstParser.prototype as unknown as Recorder;

export class MachineParser extends CstParser {
  private readonly loaded: LoadedTables | undefined;

  /**
   * `tables` (the bundled CLI's, else none): build the parser from them instead of recording and
   * analysing the grammar; ignored when made with another chevrotain version.
   */
  constructor(tables: ParserTables | undefined = bundledTables) {
    const loaded = tables?.chevrotain === VERSION ? loadTables(tables, t.allTokens, MAX_LOOKAHEAD) : undefined;
    const config: IParserConfig = { recoveryEnabled: true, errorMessageProvider: messages, maxLookahead: MAX_LOOKAHEAD, skipValidations: t.skipGrammarValidations };
    super(t.allTokens, loaded ? { ...config, lookaheadStrategy: loaded.lookaheadStrategy } : config);
    this.loaded = loaded;
    this.performSelfAnalysis();
  }

  override performSelfAnalysis(): void {
    if (!this.loaded) return super.performSelfAnalysis();
    // chevrotain computes recovery's follow sets in its analysis only with recovery on: they are in the tables.
    const recovery = this as unknown as { recoveryEnabled: boolean; resyncFollows: Record<string, TokenType[]> };
    recovery.recoveryEnabled = false;
    try {
      super.performSelfAnalysis();
    } finally {
      recovery.recoveryEnabled = true;
    }
    recovery.resyncFollows = this.loaded.follows;
  }

  // The recorder's three steps, skipped when the recorded rules come from tables.
  enableRecording(): void {
    if (!this.loaded) recorder.enableRecording.call(this);
  }

  disableRecording(): void {
    if (!this.loaded) recorder.disableRecording.call(this);
  }

  topLevelRuleRecord(name: string, impl: () => void): Rule {
    if (!this.loaded) return recorder.topLevelRuleRecord.call(this, name, impl);
    const rule = this.loaded.rules.get(name);
    if (!rule) throw new Error(`grammar/parser.ts: the parser tables have no rule ${name}`);
    return rule;
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

/** What tools/bundle.ts builds the bundled parser from: the grammar above, recorded and analysed by chevrotain. */
export const tables = (): ParserTables => parserTables(new MachineParser(undefined), VERSION, MAX_LOOKAHEAD);

export type { CstNode };
