/**
 * The layers, as imports: `cli/` reaches the compiler and the grammar only through their public
 * entry points (`compiler/index.ts`, `grammar/index.ts`); a command in `cli/commands/` imports
 * no other command, and only `cli/main.ts` imports commands; `grammar/` imports only chevrotain;
 * `compiler/` is pure (no `cli/`, no Node built-ins, no packages such as prettier or commander,
 * no `process`). Every import of every source file is read with TypeScript's own scanner
 * (static, type-only, re-exports, dynamic `import()` and `require`).
 *
 * The rule is also run on the real tree with one deep import planted in it, so the spec shows
 * its own failure: a scanner that saw nothing, or a rule that allowed everything, fails it.
 * `tools/` (the bundler and the benchmark, not shipped) may use internals: parser tables, phase by phase.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourcesUnder(rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** `from` imports `spec`: the repo-relative path it names (.js read as .ts), or the package name. */
function target(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return relative(root, resolve(root, dirname(from), spec)).split(sep).join('/').replace(/\.js$/, '.ts');
}

const layer = (path: string): string => path.split('/')[0];
const PUBLIC = new Set(['compiler/index.ts', 'grammar/index.ts']);
/** Packages compiler/ may import: pure ones only, added here on purpose (none today). */
const COMPILER_PACKAGES = new Set<string>();

/** What is wrong with `file` importing `spec`, if anything. */
function rule(file: string, spec: string): string | undefined {
  const to = target(file, spec);
  const relativeImport = spec.startsWith('.');
  const from = layer(file);
  if (from === 'cli' && relativeImport && (layer(to) === 'compiler' || layer(to) === 'grammar') && !PUBLIC.has(to)) {
    return `reaches past the public API into ${to}: import from ${layer(to)}/index.ts (export it there if it is missing)`;
  }
  if (file.startsWith('cli/commands/') && to.startsWith('cli/commands/')) return `a command imports another command (${to}): move what they share out of cli/commands/`;
  if (from === 'cli' && file !== 'cli/main.ts' && !file.startsWith('cli/commands/') && to.startsWith('cli/commands/')) return `only cli/main.ts imports commands (${to}): move what is shared out of cli/commands/`;
  if (from === 'grammar' && (relativeImport ? layer(to) !== 'grammar' : spec !== 'chevrotain')) return `grammar/ imports only chevrotain and itself, not ${to}`;
  if (from === 'compiler') {
    if (relativeImport && layer(to) !== 'compiler' && to !== 'grammar/index.ts') return `compiler/ imports only itself and grammar/index.ts, not ${to}`;
    if (!relativeImport && !COMPILER_PACKAGES.has(spec)) return `compiler/ is pure: no packages or Node built-ins (${spec})`;
  }
  return undefined;
}

/** Where `text` uses the global `process` (not a property or a key called process). */
function processUses(file: string, text: string): number[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const lines: number[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && node.text === 'process' && !isPropertyName(node)) lines.push(source.getLineAndCharacterOfPosition(node.getStart()).line + 1);
    const onGlobal = (ts.isPropertyAccessExpression(node) && node.name.text === 'process') || (ts.isElementAccessExpression(node) && ts.isStringLiteral(node.argumentExpression) && node.argumentExpression.text === 'process');
    if (onGlobal && node.expression.getText() === 'globalThis') lines.push(source.getLineAndCharacterOfPosition(node.getStart()).line + 1);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

function isPropertyName(node: ts.Identifier): boolean {
  const p = node.parent;
  if (ts.isPropertyAccessExpression(p)) return p.name === node;
  if (ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isPropertySignature(p) || ts.isMethodDeclaration(p) || ts.isMethodSignature(p)) return p.name === node;
  return ts.isQualifiedName(p) && p.right === node;
}

/** What is wrong with one file (kept per file and text: the planted trees re-read only the planted file). */
const seen = new Map<string, string[]>();
function fileViolations(file: string, text: string): string[] {
  const key = `${file}\0${text}`;
  const known = seen.get(key);
  if (known) return known;
  const out: string[] = [];
  for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
    const problem = rule(file, ref.fileName);
    if (problem) out.push(`${file}: ${problem}`);
  }
  if (layer(file) === 'compiler' || layer(file) === 'grammar') {
    for (const line of processUses(file, text)) out.push(`${file}:${line}: uses process: the compiler is pure (the CLI passes what it needs in)`);
  }
  seen.set(key, out);
  return out;
}

export function violations(files: ReadonlyMap<string, string>): string[] {
  return [...files].flatMap(([file, text]) => fileViolations(file, text));
}

const files = new Map(['cli', 'compiler', 'grammar'].flatMap(sourcesUnder).map((f) => [f, readFileSync(join(root, f), 'utf8')]));

test('every import respects the layers', () => {
  expect(files.size).toBeGreaterThan(40);
  expect(violations(files)).toEqual([]);
});

test('the scan sees the real imports: cli/ reaches the compiler through compiler/index.ts', () => {
  const publicImports = [...files].filter(([f]) => layer(f) === 'cli').flatMap(([f, text]) => ts.preProcessFile(text, true, true).importedFiles.map((r) => target(f, r.fileName)));
  expect(publicImports.filter((t) => t === 'compiler/index.ts').length).toBeGreaterThan(20);
  expect(publicImports.filter((t) => t === 'grammar/index.ts').length).toBeGreaterThan(3);
});

describe('a deep import planted in the real tree fails the spec', () => {
  const planted = (file: string, line: string): string[] => {
    const copy = new Map(files);
    copy.set(file, `${copy.get(file) ?? ''}\n${line}\n`);
    return violations(copy);
  };
  test.each([
    ['cli/commands/verify.ts', "import { chipsets } from '../../compiler/chipsets.js';", /verify\.ts: reaches past the public API into compiler\/chipsets\.ts/],
    ['cli/commands/graph.ts', "import type { PlacedMachine } from '../../compiler/model.js';", /graph\.ts: reaches past the public API into compiler\/model\.ts/],
    ['cli/import/adopt.ts', "import { expectedPciId } from '../commands/verify.js';", /only cli\/main\.ts imports commands/],
    ['cli/commands/diff.ts', "import { planJson } from './build.js';", /a command imports another command \(cli\/commands\/build\.ts\)/],
    ['grammar/parse.ts', "import { catalog } from '../compiler/catalog.js';", /grammar\/ imports only chevrotain/],
    ['compiler/emit.ts', "import { readFileSync } from 'node:fs';", /compiler\/ is pure: no packages or Node built-ins \(node:fs\)/],
    ['compiler/plan.ts', "import prettier from 'prettier';", /no packages .*\(prettier\)/],
    ['compiler/plan.ts', "import { Command } from 'commander';", /no packages .*\(commander\)/],
    ['compiler/emit.ts', 'const cwd = process.cwd();', /emit\.ts:\d+: uses process/],
    ['compiler/emit.ts', 'const env = globalThis.process;', /uses process/],
    ['compiler/emit.ts', "const env = globalThis['process'];", /uses process/],
  ])('%s + %s', (file, line, expected) => {
    const found = planted(file, line);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(expected);
  });
});

describe('the rule allows what the layers allow', () => {
  const one = (file: string, text: string) => violations(new Map([[file, text]]));
  test('static, re-exported, dynamic and multi-line deep imports are all seen', () => {
    expect(one('cli/session.ts', "export { place } from '../compiler/place/index.js';")).toHaveLength(1);
    expect(one('cli/main.ts', "const m = await import('../grammar/parse.js');")).toHaveLength(1);
    expect(one('cli/main.ts', "import {\n  a,\n  b,\n} from '../compiler/lockfile.js';")).toHaveLength(1);
  });
  test('public entry points, cli/main.ts importing commands, chevrotain, and a property called process', () => {
    expect(one('cli/main.ts', "import { compile } from '../compiler/index.js';\nimport { parse } from '../grammar/index.js';\nimport { buildCommand } from './commands/build.js';")).toEqual([]);
    expect(one('cli/commands/import.ts', "import { adopt } from '../import/adopt.js';")).toEqual([]);
    expect(one('grammar/parse.ts', "import { Lexer } from 'chevrotain';")).toEqual([]);
    expect(one('compiler/vm.ts', "const o = { process: 1 }; o.process; interface X { process: string }")).toEqual([]);
  });
});
