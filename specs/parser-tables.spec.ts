/**
 * The bundled CLI builds its parser from tables (grammar/tables.ts) that tools/bundle.ts computes
 * from a parser built the usual way; this shows the two are the same parser:
 *  - the rules, follow sets and every lookahead decision built from the tables equal the recorded
 *    ones (each decision asked about every sequence of tokens it can look at);
 *  - every .machine under specs/ and samples/, and each of them cut short and with tokens
 *    removed (syntax errors, recovery), parses to the same tree and diagnostics with both;
 *  - the built CLI (dist/machinec.mjs) prints, for every syntax-error case, what the in-process CLI
 *    prints, and its core holds the tables.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EOF, type IToken, type TokenType } from 'chevrotain';
import { parseWith } from '../grammar/parse.js';
import { MachineParser, tables } from '../grammar/parser.js';
import { allTokens } from '../grammar/tokens.js';
import { runCli } from './support/cli.js';
import { corpusFiles, root } from './support/machine-files.js';
import { freshBin } from './support/bin.js';

const recorded = new MachineParser(undefined);
const fromTables = new MachineParser(tables());

interface Internals {
  gastProductionsCache: Record<string, unknown>;
  resyncFollows: Record<string, TokenType[]>;
  lookAheadFuncsCache: Map<number, (this: unknown) => unknown>;
}
const internals = (p: MachineParser): Internals => p as unknown as Internals;

/** A production tree as plain data: constructor names, fields, token and rule names. */
function plain(value: unknown, seen = new Set<unknown>()): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => plain(v, seen));
  if ('tokenTypeIdx' in value) return `token ${(value as TokenType).name}`;
  if (seen.has(value)) return 'cycle';
  const out: Record<string, unknown> = { constructor: value.constructor.name };
  for (const [k, v] of Object.entries(value)) out[k] = k === 'referencedRule' ? `rule ${(v as { name?: string } | undefined)?.name}` : plain(v, new Set([...seen, value]));
  return out;
}

describe('a parser built from tables is the recorded parser', () => {
  test('the same rules', () => {
    expect(plain(internals(fromTables).gastProductionsCache)).toEqual(plain(internals(recorded).gastProductionsCache));
    expect(Object.keys(internals(recorded).gastProductionsCache)).toEqual(['file', 'machine', 'member', 'property', 'device', 'value', 'list', 'block']);
  });

  test('the same follow sets for error recovery', () => {
    expect(plain(internals(fromTables).resyncFollows)).toEqual(plain(internals(recorded).resyncFollows));
    expect(Object.keys(internals(recorded).resyncFollows).length).toBeGreaterThan(5);
  });

  test('every lookahead decision decides the same on every sequence of tokens it can see', () => {
    const a = internals(recorded).lookAheadFuncsCache;
    const b = internals(fromTables).lookAheadFuncsCache;
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    const types = [...allTokens, EOF];
    const token = (t: TokenType): IToken => ({ tokenType: t, tokenTypeIdx: t.tokenTypeIdx!, image: t.name, startOffset: 0 }) as IToken;
    let asked = 0;
    const differ: string[] = [];
    for (const [key, decide] of a) {
      for (const x of types) for (const y of types) for (const z of types) {
        const ahead = [token(x), token(y), token(z)];
        const self = { LA_FAST: (n: number) => ahead[n - 1], LA: (n: number) => ahead[n - 1] };
        const [want, got] = [decide.call(self), b.get(key)!.call(self)];
        if (want !== got) differ.push(`${key} on ${x.name} ${y.name} ${z.name}: ${String(got)}, not ${String(want)}`);
        asked++;
      }
    }
    expect(differ).toEqual([]);
    expect(asked).toBeGreaterThan(10 * types.length ** 3);
  });

  const files = corpusFiles();
  test('there are files to parse', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  /** The text, cut short at a third, and with every seventh word-like token removed: syntax errors the parser recovers from. */
  const variants = (text: string): string[] => {
    let n = 0;
    return [text, text.slice(0, Math.floor(text.length / 3)), text.replace(/[A-Za-z0-9_.:"=@{}[\],-]+/g, (w) => (++n % 7 === 0 ? '' : w))];
  };

  test.each(files.map((f) => [f.slice(root.length + 1), f]))('%s parses the same, and broken the same', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    for (const v of variants(text)) expect(parseWith(fromTables, v, 'x.machine')).toEqual(parseWith(recorded, v, 'x.machine'));
  });
});

describe('the built CLI', () => {
  const bin = freshBin();
  const errors = join(root, 'specs', 'errors');
  const syntaxCases = readdirSync(errors).filter((f) => f.endsWith('.errors.txt') && readFileSync(join(errors, f), 'utf8').includes('error[syntax-error]'));

  test('its core holds the parser tables', () => {
    const core = readdirSync(join(root, 'dist')).find((f) => /^core-[0-9a-f]+\.cjs$/.test(f));
    const text = readFileSync(join(root, 'dist', core!), 'utf8');
    expect(text).toContain('member:Alternation:0:3');
    expect(text).not.toContain('MACHINEC_PARSER_TABLES');
  });

  test.each(syntaxCases.map((f) => f.replace(/\.errors\.txt$/, '.machine')))('check %s: the diagnostics of the in-process CLI', async (name) => {
    const built = spawnSync(process.execPath, [bin, 'check', name], { cwd: errors, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const inProcess = await runCli(['check', name], errors, { NO_COLOR: '1' });
    expect({ code: built.status, stdout: built.stdout, stderr: built.stderr }).toEqual(inProcess);
    expect(built.stderr).toContain('error[syntax-error]');
  });
});
