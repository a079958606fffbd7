/**
 * No function in compiler/, grammar/, cli/, prettier-plugin/ or tools/ is longer than about 80 lines (the
 * developers' guide): each function-like node with a body (declarations, methods, arrows, function
 * expressions, accessors) is measured with TypeScript's parser from its first to its last line,
 * nested functions included in the one that holds them. A planted long function shows the spec failing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LIMIT = 80;

function sourcesUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourcesUnder(`${dir}/${e.name}`) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [`${dir}/${e.name}`] : [],
  );
}

function nameOf(node: ts.SignatureDeclaration): string {
  if (node.name) return node.name.getText();
  const p = node.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return p.name.getText();
  return '(anonymous)';
}

/** Every function of `text` with its length in lines. */
export function functionLengths(file: string, text: string): { where: string; lines: number }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const out: { where: string; lines: number }[] = [];
  const line = (pos: number): number => source.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = line(node.getStart(source));
      out.push({ where: `${file}:${first} ${nameOf(node)}`, lines: line(node.end) - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const tooLong = (files: ReadonlyMap<string, string>): string[] =>
  [...files].flatMap(([f, text]) => functionLengths(f, text)).filter((m) => m.lines > LIMIT).map((m) => `${m.where}: ${m.lines} lines`);

const files = new Map(['compiler', 'grammar', 'cli', 'prettier-plugin', 'tools'].flatMap(sourcesUnder).map((f) => [f, readFileSync(join(root, f), 'utf8')] as const));

test(`no function in compiler/, grammar/, cli/, prettier-plugin/ or tools/ is over ${LIMIT} lines`, () => {
  expect(files.size).toBeGreaterThan(40);
  expect(tooLong(files)).toEqual([]);
});

test('the measure sees every kind of function, nested ones inside their holder', () => {
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
  const text = [
    `export function long() {\n${body(LIMIT - 1)}\n}`, // LIMIT + 1 lines
    `const arrow = () => {\n${body(LIMIT - 2)}\n};`, // LIMIT lines: allowed
    `class C { method() {\n${body(LIMIT)}\n} }`,
    `const o = { run(ctx: unknown) {\n  const inner = () => {\n${body(LIMIT)}\n  };\n} };`,
  ].join('\n');
  expect(tooLong(new Map([['compiler/planted.ts', text]]))).toEqual([
    `compiler/planted.ts:1 long: ${LIMIT + 1} lines`,
    `compiler/planted.ts:${2 * LIMIT + 2} method: ${LIMIT + 2} lines`,
    `compiler/planted.ts:${3 * LIMIT + 4} run: ${LIMIT + 4} lines`,
    `compiler/planted.ts:${3 * LIMIT + 5} inner: ${LIMIT + 2} lines`,
  ]);
});
