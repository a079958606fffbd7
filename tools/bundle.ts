/**
 * Bundles the CLI into dist/ (`npm run build` runs this after tsc). Measured: chevrotain 11's ESM
 * entry loads lodash-es module by module (~300 ms); one bundled file loads in a fraction of that.
 *  - dist/machinec.mjs (cli/start.ts): the binary. It runs the core with a V8 code cache.
 *  - dist/core-HASH.cjs: every command the CLI imports statically (build, check, plan, lock, …),
 *    one script; dist/core-HASH.cjs.v8cache: its code cache, made here by running a build.
 *  - dist/lazy/*.mjs (and their shared dist/lazy/chunks/): verify, import, export, fmt, lsp, status, init and help, loaded only when
 *    they run. prettier and the language server packages stay outside the bundle, so the build path
 *    never loads them.
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { tables as parserTables } from '../grammar/parser.js';
import { generateMachine } from './generate-machine.js';

/**
 * Every chevrotain Lexer fills a 65,536-entry table (charCode -> first-char bucket) before its
 * first token: a sixth of the lexer's set-up on a cold start, and machinec's lexer (grammar/tokens.ts)
 * reads it only for characters above 255. The bundle computes the same bucket when asked instead
 * (`i > 255 ? 255 + ~~(i / 255) : i`, the table's own formula). The build fails if chevrotain's
 * source no longer has the shape this rewrites, so an upgrade cannot silently skip it.
 */
const lazyCharCodeMap: Plugin = {
  name: 'chevrotain-lazy-charcode-map',
  setup(b) {
    b.onLoad({ filter: /chevrotain[\\/]lib[\\/]src[\\/]scan[\\/]lexer\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const lookup = /(export function charCodeToOptimizedIndex\(charCode\) \{\s*return charCode < minOptimizationVal\s*\? charCode\s*): charCodeToOptimizedIdxMap\[charCode\];/;
      const init = /function initCharCodeToOptimizedIndexMap\(\) \{\s*if \(isEmpty\(charCodeToOptimizedIdxMap\)\) \{\s*charCodeToOptimizedIdxMap = new Array\(65536\);\s*for \(let i = 0; i < 65536; i\+\+\) \{\s*charCodeToOptimizedIdxMap\[i\] = i > 255 \? 255 \+ ~~\(i \/ 255\) : i;\s*\}\s*\}\s*\}/;
      if (!lookup.test(source) || !init.test(source)) throw new Error(`${args.path}: chevrotain's charCode map is not where tools/bundle.ts expects it; update lazyCharCodeMap`);
      const contents = source.replace(lookup, '$1: 255 + ~~(charCode / 255);').replace(init, 'function initCharCodeToOptimizedIndexMap() {}');
      return { contents, loader: 'js' };
    });
  },
};

/**
 * Node builtins a build seldom calls, loaded in the core on their first use: crypto (about 11 M
 * instructions, 2% of a cold build; a build calls it only to write several files together or to
 * digest firmware), child_process and net (QEMU and swtpm, which a build whose machine types are
 * cached never starts) and worker_threads (`lock` and `check` over many machines; 12 M). The core
 * imports a module whose every export is a getter that requires the builtin then (esbuild's ES
 * interop reads an export when it is used, not when it is imported).
 */
const LAZY_BUILTINS = ['crypto', 'child_process', 'net', 'worker_threads'];
const lazyBuiltins: Plugin = {
  name: 'machinec-lazy-builtins',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^node:(${LAZY_BUILTINS.join('|')})$`) }, (args) => ({ path: args.path, namespace: 'machinec-lazy-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'machinec-lazy-builtin' }, (args) => {
      const names = Object.keys(createRequire(import.meta.url)(args.path) as object);
      const contents = `let loaded;\nconst load = () => (loaded ??= require(${JSON.stringify(args.path.slice(5))}));\nfor (const name of ${JSON.stringify(names)}) Object.defineProperty(exports, name, { enumerable: true, get: () => load()[name] });\n`;
      return { contents, loader: 'js' };
    });
  },
};

/** What every bundle shares. */
const common: BuildOptions & { define: Record<string, string> } = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  // grammar/tokens.ts: the bundled CLI skips chevrotain's grammar self-checks at start (the tests run them).
  // grammar/parser.ts: it builds its parser from tables made here (grammar/tables.ts), not by recording the grammar.
  define: { MACHINEC_BUNDLED: 'true', MACHINEC_PARSER_TABLES: JSON.stringify(JSON.stringify(parserTables())) },
  // The language server's protocol packages stay outside too: only `machinec lsp` loads them.
  external: ['prettier', 'prettier/*', 'vscode-languageserver', 'vscode-languageserver/*', 'vscode-languageserver-textdocument'],
  logLevel: 'warning',
  metafile: true,
};

/** The commands cli/main.ts imports lazily, and their bundles (one missing here is bundled into the core instead). */
const lazy: Record<string, { name: string; source: string }> = {
  './commands/verify.js': { name: 'verify', source: 'cli/commands/verify.ts' },
  './commands/import.js': { name: 'import', source: 'cli/commands/import.ts' },
  './commands/export.js': { name: 'export', source: 'cli/commands/export.ts' },
  './commands/fmt.js': { name: 'fmt', source: 'cli/commands/fmt.ts' },
  './lsp/server.js': { name: 'lsp', source: 'cli/lsp/server.ts' },
  './commands/status.js': { name: 'status', source: 'cli/commands/status.ts' },
  './commands/init.js': { name: 'init', source: 'cli/commands/init.ts' },
  './commands/help.js': { name: 'help', source: 'cli/commands/help.ts' },
};

const lazyResult = await build({
  ...common,
  entryPoints: Object.fromEntries(Object.values(lazy).map((l) => [l.name, l.source])),
  outdir: 'dist/lazy',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  format: 'esm',
  banner: { js: "import { createRequire as __machinecRequire } from 'node:module';\nconst require = __machinecRequire(import.meta.url);" },
});

/** In the core, `import('./commands/verify.js')` becomes `__machinecImport('./lazy/verify.mjs')` (see cli/start.ts). */
const lazyImports: Plugin = {
  name: 'machinec-lazy-imports',
  setup(b) {
    b.onResolve({ filter: /^\.\/(commands|lsp)\// }, (args) =>
      args.kind === 'dynamic-import' && args.path in lazy ? { path: `./lazy/${lazy[args.path].name}.mjs`, external: true } : undefined,
    );
  },
};
const coreResult = await build({
  ...common,
  entryPoints: ['cli/bin.ts'],
  outfile: 'dist/core.cjs',
  format: 'cjs',
  write: false,
  plugins: [lazyCharCodeMap, lazyImports, lazyBuiltins],
});
const coreOut = coreResult.outputFiles![0];
// cli/start.ts wraps it in a function: no hashbang; strict, as the ES modules it comes from.
let coreText = `"use strict";${coreOut.text.replace(/^#!.*\n/, '')}`;
for (const specifier of Object.keys(lazy)) {
  const call = `import("./lazy/${lazy[specifier].name}.mjs")`;
  if (coreText.split(call).length !== 2) throw new Error(`tools/bundle.ts: expected one ${call} in the core`);
  coreText = coreText.replace(call, call.replace('import(', '__machinecImport('));
}
if (/\bimport\(/.test(coreText)) throw new Error('tools/bundle.ts: the core calls import(), which its code cache cannot serve: load it through __machinecImport');
// Named after its content: a code cache made for one core is never read by another.
const coreName = `core-${createHash('sha256').update(coreText).digest('hex').slice(0, 12)}.cjs`;
writeFileSync(join('dist', coreName), coreText);

const outfile = 'dist/machinec.mjs';
await build({
  ...common,
  entryPoints: ['cli/start.ts'],
  outfile,
  format: 'esm',
  define: { ...common.define, MACHINEC_CORE: JSON.stringify(`./${coreName}`) },
});
chmodSync(outfile, 0o755);

// The code cache: a build of the benchmark's 100-device machine compiles what a build runs.
const cacheFile = join(process.cwd(), 'dist', `${coreName}.v8cache`);
rmSync(cacheFile, { force: true });
{
  const dir = mkdtempSync(join(os.tmpdir(), 'machinec-bundle-'));
  try {
    writeFileSync(join(dir, 'train.machine'), generateMachine(100));
    const { NODE_OPTIONS: _flags, ...env } = process.env; // the cache holds only for the V8 flags it was made with
    spawnSync(process.execPath, [join(process.cwd(), outfile), 'build', 'train.machine'], { cwd: dir, env: { ...env, MACHINEC_WRITE_CODE_CACHE: cacheFile }, stdio: 'ignore' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!existsSync(cacheFile)) process.stderr.write('note: no V8 code cache for the CLI core (the training build failed); the CLI works, it starts slower\n');
}

// Outputs of earlier builds (other hashes, the old dist/chunks) go, after the new ones are in place.
const current = new Set([...Object.keys(lazyResult.metafile!.outputs), `dist/${coreName}`, `dist/${coreName}.v8cache`]);
for (const f of readdirSync('dist')) if (/^core-.*\.cjs/.test(f) && !current.has(`dist/${f}`)) rmSync(`dist/${f}`, { force: true });
for (const f of readdirSync('dist/lazy/chunks')) if (!current.has(`dist/lazy/chunks/${f}`)) rmSync(`dist/lazy/chunks/${f}`, { force: true });
rmSync('dist/chunks', { recursive: true, force: true });
