/**
 * Bundles the CLI into dist/machinec.mjs. Measured: chevrotain 11's ESM entry loads lodash-es
 * module by module (~300 ms); one bundled file loads in a fraction of that.
 * prettier stays outside, and what `fmt` and `verify` import lazily goes into chunks
 * (dist/chunks/) loaded only when they run: without splitting, the prettier plugin would be inlined
 * and its static `import 'prettier/doc'` would load prettier on every build.
 */
import { build } from 'esbuild';
import { chmodSync, readdirSync, rmSync } from 'node:fs';

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
  legalComments: 'none',
  // grammar/tokens.ts: the bundled CLI skips chevrotain's grammar self-checks at start (the tests run them).
  define: { MACHINEC_BUNDLED: 'true' },
  // The language server's protocol packages stay outside too: only `machinec lsp` loads them.
  external: ['prettier', 'prettier/*', 'vscode-languageserver', 'vscode-languageserver/*', 'vscode-languageserver-textdocument'],
  banner: { js: "import { createRequire as __machinecRequire } from 'node:module';\nconst require = __machinecRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
});
chmodSync(outfile, 0o755);
// Chunks of earlier builds (other hashes) go, after the new ones are in place.
const current = new Set(Object.keys(result.metafile.outputs));
for (const f of readdirSync('dist/chunks')) if (!current.has(`dist/chunks/${f}`)) rmSync(`dist/chunks/${f}`, { force: true });
