/**
 * grammar/build-ast.ts gives the nodes of a parse without errors their spans from the first and
 * last tokens the grammar gives each node, and the nodes of a recovered parse the extent of the
 * real tokens under them (a walk over the CST). This shows the two agree: every .machine under
 * specs/ and samples/, the benchmark's generated machines, and each of them with words removed
 * (some of which still parse), built both ways wherever the parse had no errors, give the same tree.
 */
import { readFileSync } from 'node:fs';
import { generateMachine } from '../tools/generate-machine.js';
import { buildFile } from '../grammar/build-ast.js';
import { MachineParser } from '../grammar/parser.js';
import { MachineLexer } from '../grammar/tokens.js';
import { corpusFiles } from './support/machine-files.js';

const parser = new MachineParser();

/** The tree of `text` built both ways, or undefined when its parse has errors. */
function bothWays(text: string): { fromTokens: unknown; fromExtents: unknown } | undefined {
  const lexed = MachineLexer.tokenize(text);
  parser.input = lexed.tokens;
  const cst = parser.file();
  if (parser.errors.length) return undefined;
  const comments = lexed.groups.comments ?? [];
  return { fromTokens: buildFile(cst, comments, text.length, true), fromExtents: buildFile(cst, comments, text.length, false) };
}

/** The text, and with every n-th word-like token removed. */
const variants = (text: string): string[] => [
  text,
  ...[3, 5, 7, 11].map((n) => {
    let i = 0;
    return text.replace(/[A-Za-z0-9_.:"=@{}[\],-]+/g, (w) => (++i % n === 0 ? '' : w));
  }),
];

describe('spans from first and last tokens are the spans of the real tokens under each node', () => {
  const texts = corpusFiles()
    .map((f) => readFileSync(f, 'utf8'))
    .concat([1, 10, 100, 1000].map(generateMachine))
    .flatMap(variants);

  test('on every text that parses without errors', () => {
    let compared = 0;
    for (const text of texts) {
      const built = bothWays(text);
      if (!built) continue;
      expect(built.fromTokens).toStrictEqual(built.fromExtents);
      compared++;
    }
    expect(compared).toBeGreaterThan(200);
  });
});
