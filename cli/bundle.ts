/**
 * Bundles the CLI into one file, dist/machinec.mjs. Measured: chevrotain 11's ESM entry loads
 * lodash-es module by module (~300 ms); one bundled file loads in a fraction of that.
 * prettier stays outside: only `fmt` loads it.
 */
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const outfile = 'dist/machinec.mjs';
await build({
  entryPoints: ['cli/bin.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifySyntax: true,
  legalComments: 'none',
  // grammar/tokens.ts: the bundled CLI skips chevrotain's grammar self-checks at start (the tests run them).
  define: { MACHINEC_BUNDLED: 'true' },
  external: ['prettier', 'prettier/*'],
  banner: { js: "import { createRequire as __machinecRequire } from 'node:module';\nconst require = __machinecRequire(import.meta.url);" },
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
