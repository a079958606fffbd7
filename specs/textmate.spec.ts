/**
 * The TextMate grammar (editors/machine.tmLanguage.json) as VS Code runs it: vscode-textmate with
 * the Oniguruma regex engine (vscode-oniguruma's WebAssembly). Every sample and every formatter
 * golden is tokenized; the dump of each is a golden (specs/textmate/), and every token machinec's
 * own lexer finds gets the scope of its kind, so highlighting follows the language.
 *
 * Regenerate the dumps after a deliberate grammar change with UPDATE_GOLDENS=1 and review them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import oniguruma from 'vscode-oniguruma';
import textmate from 'vscode-textmate';
import { scan, type Token } from '../grammar/index.js';
import { expectGolden } from './support/golden.js';

const GRAMMAR = join('editors', 'machine.tmLanguage.json');
const formatCases = readdirSync(join('specs', 'format')).filter((d) => existsSync(join('specs', 'format', d, 'output.machine'))).sort();
const files: [string, string][] = [
  ...readdirSync('samples').filter((f) => f.endsWith('.machine')).sort().map((f): [string, string] => [`sample-${f.replace(/\.machine$/, '')}`, join('samples', f)]),
  ...formatCases.map((d): [string, string] => [`format-${d}`, join('specs', 'format', d, 'output.machine')]),
];

interface Scoped {
  readonly start: number;
  readonly end: number;
  /** The innermost scope. */
  readonly scope: string;
}

let grammar: textmate.IGrammar;

beforeAll(async () => {
  await oniguruma.loadWASM(readFileSync(join('node_modules', 'vscode-oniguruma', 'release', 'onig.wasm')).buffer as ArrayBuffer);
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
    loadGrammar: async (scopeName: string) => (scopeName === 'source.machine' ? textmate.parseRawGrammar(readFileSync(GRAMMAR, 'utf8'), GRAMMAR) : null),
  });
  const g = await registry.loadGrammar('source.machine');
  if (!g) throw new Error('the grammar did not load');
  grammar = g;
});

/** Every token of `text` as TextMate scopes it, in offsets of the whole text. */
function tokenize(text: string): Scoped[] {
  const out: Scoped[] = [];
  let rule = textmate.INITIAL;
  let base = 0;
  for (const line of text.split('\n')) {
    const r = grammar.tokenizeLine(line, rule);
    for (const t of r.tokens) out.push({ start: base + t.startIndex, end: base + Math.min(t.endIndex, line.length), scope: t.scopes[t.scopes.length - 1] });
    rule = r.ruleStack;
    base += line.length + 1;
  }
  return out.filter((t) => t.end > t.start);
}

function dump(text: string, tokens: readonly Scoped[]): string {
  const lines: string[] = [];
  for (const t of tokens) {
    const image = text.slice(t.start, t.end);
    if (t.scope === 'source.machine' && !image.trim()) continue;
    lines.push(`${t.start}-${t.end} ${t.scope} ${JSON.stringify(image)}`);
  }
  return lines.join('\n') + '\n';
}

/** The scope each of the lexer's tokens must start with. */
function expectedScope(tokens: readonly Token[], i: number): string | undefined {
  const t = tokens[i];
  const prev = tokens[i - 1];
  switch (t.type) {
    case 'Machine':
    case 'Device':
      return 'keyword.declaration';
    case 'True':
    case 'False':
      return 'constant.language.boolean';
    case 'StringLiteral':
      return 'punctuation.definition.string.begin';
    case 'Size':
      return 'constant.numeric.size';
    case 'HexInteger':
      return 'constant.numeric.integer.hexadecimal';
    case 'Integer':
      return 'constant.numeric.integer.decimal';
    case 'AddressLiteral':
      return 'constant.numeric.address';
    case 'Identifier':
      if (prev?.type === 'Machine') return 'entity.name.type.machine-name';
      if (prev?.type === 'Device') return 'variable.other.device-id';
      if (prev?.type === 'Colon' && tokens[i - 3]?.type === 'Device') return 'support.class.model';
      if (tokens[i + 1]?.type === 'Equals') return 'variable.other.property';
      if (tokens[i + 1]?.type === 'LCurly') return 'entity.name.type.block';
      return 'constant.other.name';
    default:
      return undefined;
  }
}

describe('the TextMate grammar', () => {
  it('covers the samples and the formatter goldens', () => {
    expect(files.length).toBeGreaterThanOrEqual(4 + 22);
  });

  describe.each(files)('%s', (name, path) => {
    const text = readFileSync(path, 'utf8').replace(/\r\n/g, '\n');

    it('gives every token of the lexer its own scope, and every comment a comment scope', () => {
      const scoped = tokenize(text);
      const scopeAt = (offset: number): string => scoped.find((s) => s.start <= offset && offset < s.end)?.scope ?? 'none';
      const { tokens, comments } = scan(text);
      const mismatches: string[] = [];
      tokens.forEach((t, i) => {
        const want = expectedScope(tokens, i);
        if (want && !scopeAt(t.start).startsWith(want)) mismatches.push(`${t.start} ${t.type} ${JSON.stringify(t.image)}: ${scopeAt(t.start)}, expected ${want}`);
      });
      for (const c of comments) if (!/^(comment\.|punctuation\.definition\.comment)/.test(scopeAt(c.start))) mismatches.push(`${c.start} comment: ${scopeAt(c.start)}`);
      expect(mismatches).toEqual([]);
      // Nothing is left unscoped or marked invalid in a file that parses.
      expect(scoped.filter((s) => (s.scope === 'source.machine' && text.slice(s.start, s.end).trim()) || s.scope.startsWith('invalid')).map((s) => `${s.start} ${JSON.stringify(text.slice(s.start, s.end))}`)).toEqual([]);
    });

    it('tokenizes as the golden dump says', () => {
      expectGolden(join('specs', 'textmate', `${name}.tokens.txt`), dump(text, tokenize(text)));
    });
  });
});

describe('the VS Code extension (editors/vscode/)', () => {
  const dir = join('editors', 'vscode');
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

  it('ships the same grammar, for the language it contributes for .machine files', () => {
    const [grammarEntry] = manifest.contributes.grammars;
    expect(readFileSync(join(dir, grammarEntry.path), 'utf8')).toBe(readFileSync(GRAMMAR, 'utf8'));
    expect(grammarEntry).toMatchObject({ language: 'machine', scopeName: 'source.machine' });
    expect(manifest.contributes.languages).toEqual([expect.objectContaining({ id: 'machine', extensions: ['.machine'] })]);
    expect(existsSync(join(dir, manifest.contributes.languages[0].configuration))).toBe(true);
  });

  it('starts machinec lsp over stdio', () => {
    const client = readFileSync(join(dir, manifest.main), 'utf8');
    expect(client).toMatch(/args: \['lsp'\], transport: TransportKind\.stdio/);
  });
});
