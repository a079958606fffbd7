/**
 * The parser's set-up, precomputed. chevrotain builds a parser by running every rule once to record
 * its grammar, then derives the follow sets error recovery resyncs on and a lookahead function for
 * each OR, OPTION and MANY: about a tenth of a cold `machinec build` (README "Benchmark"). Those
 * results depend only on the grammar, so tools/bundle.ts computes them when it bundles the CLI
 * (`parserTables`, from a parser built the usual way) and the bundled parser is built from them:
 * the same grammar objects, follow sets and lookahead decisions, without recording or analysing.
 * specs/parser-tables.spec.ts checks that a parser built from tables is the recorded one.
 */
import {
  Alternation, Alternative, EOF, getLookaheadPaths, LLkLookaheadStrategy, NonTerminal, Option, Repetition, RepetitionMandatory,
  RepetitionMandatoryWithSeparator, RepetitionWithSeparator, Rule, Terminal, tokenMatcher,
  type ILookaheadStrategy, type IProduction, type IToken, type LookaheadProductionType, type TokenType,
} from 'chevrotain';

/** A production as JSON: its kind, and the fields chevrotain's recorder sets on it. */
export interface ProductionJson {
  readonly kind: string;
  /** Rule: its name. NonTerminal: the rule it calls. Terminal: its token type's name. */
  readonly name?: string;
  readonly idx?: number;
  readonly label?: string;
  /** The token type's name of a MANY_SEP / AT_LEAST_ONE_SEP separator. */
  readonly separator?: string;
  readonly maxLookahead?: number;
  readonly ignoreAmbiguities?: boolean;
  readonly hasPredicates?: boolean;
  readonly definition?: readonly ProductionJson[];
}

export interface ParserTables {
  /** chevrotain's version the tables were made with: another one builds its parser the usual way. */
  readonly chevrotain: string;
  readonly rules: readonly ProductionJson[];
  /** Error recovery's follow sets: chevrotain's key (`member0_~IN~_machine`) to token type names. */
  readonly follows: Readonly<Record<string, readonly string[]>>;
  /** `rule:ProductionType:occurrence:maxLookahead` to the token-name paths of each alternative (an OPTION or MANY: the paths into it). */
  readonly lookahead: Readonly<Record<string, readonly (readonly (readonly string[])[])[]>>;
}

const kinds = {
  Rule, NonTerminal, Terminal, Alternation, Alternative, Option, Repetition, RepetitionMandatory, RepetitionMandatoryWithSeparator, RepetitionWithSeparator,
} as const;
type Kind = keyof typeof kinds;
type Production = IProduction & { idx?: number; label?: string; separator?: TokenType; maxLookahead?: number; ignoreAmbiguities?: boolean; hasPredicates?: boolean };

function kindOf(p: IProduction): Kind {
  for (const k of Object.keys(kinds) as Kind[]) if (p.constructor === kinds[k]) return k;
  throw new Error(`grammar/tables.ts: unknown chevrotain production ${p.constructor.name}`);
}

/** The fields of a production that are not its children, in the form `toJson` writes them. */
const fields = ['idx', 'label', 'maxLookahead', 'ignoreAmbiguities', 'hasPredicates'] as const;

function toJson(p: IProduction): ProductionJson {
  const prod = p as Production;
  const kind = kindOf(p);
  const out: Record<string, unknown> = { kind };
  if (p instanceof Rule) out.name = p.name;
  else if (p instanceof NonTerminal) out.name = p.nonTerminalName;
  else if (p instanceof Terminal) out.name = p.terminalType.name;
  for (const f of fields) if (prod[f] !== undefined) out[f] = prod[f];
  if (prod.separator) out.separator = prod.separator.name;
  if (!(p instanceof Terminal) && !(p instanceof NonTerminal)) out.definition = (p as unknown as { definition: IProduction[] }).definition.map(toJson);
  return out as unknown as ProductionJson;
}

/** The fields chevrotain's production constructors set before their options (lodash's pickBy and assign: slow on a cold start). */
const defaults: Record<Kind, Record<string, unknown>> = {
  Rule: { orgText: '' },
  NonTerminal: { idx: 1 },
  Terminal: { idx: 1 },
  Alternation: { idx: 1, ignoreAmbiguities: false, hasPredicates: false },
  Alternative: { ignoreAmbiguities: false },
  Option: { idx: 1 },
  Repetition: { idx: 1 },
  RepetitionMandatory: { idx: 1 },
  RepetitionMandatoryWithSeparator: { idx: 1 },
  RepetitionWithSeparator: { idx: 1 },
};

/**
 * A production as chevrotain's recorder makes it: the same class and own fields (its constructor
 * would set; the spec compares them), referencedRule left to chevrotain's resolver.
 */
function fromJson(j: ProductionJson, tokens: ReadonlyMap<string, TokenType>): IProduction {
  const token = (name: string | undefined): TokenType => {
    const t = name === undefined ? undefined : tokens.get(name);
    if (!t) throw new Error(`grammar/tables.ts: no token type ${name}`);
    return t;
  };
  const kind = j.kind as Kind;
  if (!(kind in kinds)) throw new Error(`grammar/tables.ts: unknown production kind ${j.kind}`);
  const prod: Record<string, unknown> = Object.create(kinds[kind].prototype);
  if (kind !== 'Terminal') prod._definition = kind === 'NonTerminal' ? [] : (j.definition ?? []).map((d) => fromJson(d, tokens));
  Object.assign(prod, defaults[kind]);
  for (const f of fields) if (j[f] !== undefined) prod[f] = j[f];
  if (kind === 'Rule') prod.name = j.name;
  else if (kind === 'NonTerminal') prod.nonTerminalName = j.name;
  else if (kind === 'Terminal') prod.terminalType = token(j.name);
  if (j.separator !== undefined) prod.separator = token(j.separator);
  return prod as unknown as IProduction;
}

const lookaheadKey = (rule: string, type: LookaheadProductionType, occurrence: number, maxLookahead: number): string => `${rule}:${type}:${occurrence}:${maxLookahead}`;

/** Every OR, OPTION and MANY (of any kind) inside `p`, with its production type. */
function decisions(p: IProduction, out: { prod: Production; type: LookaheadProductionType }[] = []): typeof out {
  const kind = kindOf(p);
  if (kind !== 'Rule' && kind !== 'Alternative' && kind !== 'Terminal' && kind !== 'NonTerminal') out.push({ prod: p as Production, type: kind });
  // A NonTerminal's definition is the rule it calls: its decisions are that rule's.
  if (kind !== 'Terminal' && kind !== 'NonTerminal') for (const d of (p as unknown as { definition: IProduction[] }).definition) decisions(d, out);
  return out;
}

interface Analysed {
  getGAstProductions(): Record<string, Rule>;
}

/** The tables of a parser that was built the usual way (recorded, with recovery). */
export function parserTables(parser: Analysed, version: string, maxLookahead: number): ParserTables {
  const rules = Object.values(parser.getGAstProductions());
  const follows = (parser as unknown as { resyncFollows: Record<string, TokenType[]> }).resyncFollows;
  const lookahead: Record<string, string[][][]> = {};
  for (const rule of rules) {
    for (const { prod, type } of decisions(rule)) {
      const k = prod.maxLookahead || maxLookahead;
      const paths = getLookaheadPaths({ occurrence: prod.idx ?? 1, rule, prodType: type, maxLookahead: k });
      const used = type === 'Alternation' ? paths : paths.slice(0, 1);
      lookahead[lookaheadKey(rule.name, type, prod.idx ?? 1, k)] = used.map((alt) => alt.map((path) => path.map((t) => t.name)));
    }
  }
  return {
    chevrotain: version,
    rules: rules.map(toJson),
    follows: Object.fromEntries(Object.entries(follows).map(([key, types]) => [key, types.map((t) => t.name)])),
    lookahead,
  };
}

/** What the parser needs from tables: the recorded rules by name, the follow sets, the lookahead strategy. */
export interface LoadedTables {
  readonly rules: ReadonlyMap<string, Rule>;
  readonly follows: Record<string, TokenType[]>;
  readonly lookaheadStrategy: ILookaheadStrategy;
}

export function loadTables(tables: ParserTables, tokenTypes: readonly TokenType[], maxLookahead: number): LoadedTables {
  const tokens = new Map<string, TokenType>([[EOF.name, EOF], ...tokenTypes.map((t): [string, TokenType] => [t.name, t])]);
  const named = (name: string): TokenType => {
    const t = tokens.get(name);
    if (!t) throw new Error(`grammar/tables.ts: no token type ${name}`);
    return t;
  };
  const rules = new Map(tables.rules.map((j) => [j.name!, fromJson(j, tokens) as Rule]));
  const follows = Object.fromEntries(Object.entries(tables.follows).map(([key, names]) => [key, names.map(named)]));
  const paths = (key: string): TokenType[][][] | undefined => tables.lookahead[key]?.map((alt) => alt.map((path) => path.map(named)));
  return { rules, follows, lookaheadStrategy: new TableLookahead(paths, maxLookahead) };
}

interface Lookahead {
  LA_FAST(howMuch: number): IToken;
}

/** The token type indexes a one-token path of `alt` starts with (a category stands for its members). */
function firstTokens(alt: readonly TokenType[][]): number[] {
  return alt.flatMap(([t]) => [t.tokenTypeIdx!, ...(t.categoryMatches ?? [])]);
}

const oneToken = (alts: readonly TokenType[][][]): boolean => alts.every((alt) => alt.every((path) => path.length === 1));

/** Whether the tokens ahead follow one of `alt`'s paths (chevrotain's lookahead function, from its paths). */
function matcherOf(alt: readonly TokenType[][]): (this: Lookahead) => boolean {
  if (oneToken([alt as TokenType[][]])) {
    const starts: boolean[] = [];
    for (const idx of firstTokens(alt)) starts[idx] = true;
    return function (this: Lookahead) {
      return starts[this.LA_FAST(1).tokenTypeIdx] === true;
    };
  }
  return function (this: Lookahead) {
    return alt.some((path) => path.every((t, i) => tokenMatcher(this.LA_FAST(i + 1), t)));
  };
}

/** The alternative the tokens ahead choose: the first whose paths match; undefined if none. */
function chooserOf(alts: readonly TokenType[][][]): (this: Lookahead) => number | undefined {
  if (oneToken(alts)) {
    const choice: number[] = [];
    alts.forEach((alt, i) => {
      for (const idx of firstTokens(alt)) choice[idx] ??= i;
    });
    return function (this: Lookahead) {
      return choice[this.LA_FAST(1).tokenTypeIdx];
    };
  }
  const matchers = alts.map(matcherOf);
  return function (this: Lookahead) {
    for (let i = 0; i < matchers.length; i++) if (matchers[i].call(this)) return i;
    return undefined;
  };
}

/**
 * chevrotain's LL(k) lookahead with the paths of each decision from the tables: the functions it
 * builds from those paths decide the same (first alternative whose path matches; undefined if
 * none). A decision with predicates or not in the tables is left to chevrotain.
 */
class TableLookahead extends LLkLookaheadStrategy {
  constructor(
    private readonly paths: (key: string) => TokenType[][][] | undefined,
    maxLookahead: number,
  ) {
    super({ maxLookahead });
  }

  override buildLookaheadForAlternation(options: Parameters<ILookaheadStrategy['buildLookaheadForAlternation']>[0]): ReturnType<ILookaheadStrategy['buildLookaheadForAlternation']> {
    const alts = options.hasPredicates || options.dynamicTokensEnabled ? undefined : this.paths(lookaheadKey(options.rule.name, 'Alternation', options.prodOccurrence, options.maxLookahead));
    return alts ? chooserOf(alts) : super.buildLookaheadForAlternation(options);
  }

  override buildLookaheadForOptional(options: Parameters<ILookaheadStrategy['buildLookaheadForOptional']>[0]): ReturnType<ILookaheadStrategy['buildLookaheadForOptional']> {
    const alts = options.dynamicTokensEnabled ? undefined : this.paths(lookaheadKey(options.rule.name, options.prodType, options.prodOccurrence, options.maxLookahead));
    return alts ? matcherOf(alts[0]) : super.buildLookaheadForOptional(options);
  }
}
