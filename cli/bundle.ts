/**
 * Bundles the CLI into dist/machinec.mjs. Measured: chevrotain 11's ESM entry loads lodash-es
 * module by module (~300 ms); one bundled file loads in a fraction of that.
 * prettier stays outside, and what `fmt` and `verify` import lazily goes into chunks
 * (dist/chunks/) loaded only when they run: without splitting, the prettier plugin would be inlined
 * and its static `import 'prettier/doc'` would load prettier on every build.
 */
import { build, type Plugin } from 'esbuild';
import { chmodSync, readdirSync, readFileSync, rmSync } from 'node:fs';

/**
 * Every chevrotain Lexer fills a 65,536-entry table (charCode -> first-char bucket) before its
 * first token: a sixth of the lexer's set-up on a cold start, and machinec's lexer (safeMode, see
 * grammar/tokens.ts) never reads it. The bundle computes the same bucket when asked instead
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
      if (!lookup.test(source) || !init.test(source)) throw new Error(`${args.path}: chevrotain's charCode map is not where cli/bundle.ts expects it; update lazyCharCodeMap`);
      const contents = source.replace(lookup, '$1: 255 + ~~(charCode / 255);').replace(init, 'function initCharCodeToOptimizedIndexMap() {}');
      return { contents, loader: 'js' };
    });
  },
};

const outfile = 'dist/machinec.mjs';
const result = await build({
  entryPoints: { machinec: 'cli/bin.ts' },
  outdir: 'dist',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifySyntax: true,
  minifyWhitespace: true,
  minifyIdentifiers: true,
  legalComments: 'none',
  // grammar/tokens.ts: the bundled CLI skips chevrotain's grammar self-checks at start (the tests run them).
  define: { MACHINEC_BUNDLED: 'true' },
  // The language server's protocol packages stay outside too: only `machinec lsp` loads them.
  external: ['prettier', 'prettier/*', 'vscode-languageserver', 'vscode-languageserver/*', 'vscode-languageserver-textdocument'],
  banner: { js: "import { createRequire as __machinecRequire } from 'node:module';\nconst require = __machinecRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
  plugins: [lazyCharCodeMap],
});
chmodSync(outfile, 0o755);
// Chunks of earlier builds (other hashes) go, after the new ones are in place.
const current = new Set(Object.keys(result.metafile.outputs));
for (const f of readdirSync('dist/chunks')) if (!current.has(`dist/chunks/${f}`)) rmSync(`dist/chunks/${f}`, { force: true });
