#!/usr/bin/env node
/**
 * The bundled CLI's first file (dist/machinec.mjs; tools/bundle.ts writes it). It runs the CLI's
 * core (dist/core-HASH.cjs: every command but the lazy ones) as a vm.Script with the V8 code cache
 * that `npm run build` made by running a build (dist/core-HASH.cjs.v8cache): Node 20 has no compile
 * cache for modules, and compiling the core's functions is a fifth of a cold build
 * (docs/performance.md). When V8 refuses the cache (another Node version or V8 flags) the core compiles as
 * usual: same behaviour, only slower. The cache is named after the core's content hash, so it can
 * never belong to another core. Code cached this way cannot call `import()` (V8 loses the
 * callback), so the core loads its lazy commands (dist/lazy/*.mjs) through `load` below.
 */
import { createRequire } from 'node:module';
import { WORKER_FLAG } from './worker-flag.js';

// Node's builtins are required, not imported: importing one into an ES module makes its ES facade,
// which reads every export (for node:fs that loads its streams and fs/promises with readline).
const require = createRequire(import.meta.url);
const { readFileSync, renameSync, writeFileSync } = require('node:fs') as typeof import('node:fs');
const { dirname } = require('node:path') as typeof import('node:path');
const { fileURLToPath, pathToFileURL } = require('node:url') as typeof import('node:url');
const { Script } = require('node:vm') as typeof import('node:vm');

/** Defined by tools/bundle.ts: the core's file name, next to this one. */
declare const MACHINEC_CORE: string;

/**
 * V8's optimizing compiler is tuned for servers that run for hours; a machinec run lasts a second.
 * Inlining makes each of TurboFan's compiles (about half of a `lock --locked` of 500 machines, on
 * the second CPU) larger than the time it saves, and allocation-site pretenuring, once it decides
 * to move objects to the old generation, throws away the optimized code of a dozen functions in
 * the middle of the run. Without both, `lock --locked` over 500 machines takes 15% less wall time
 * and a 10,000-device build 17% less (docs/performance.md); output is the same. Set before the core
 * is compiled, so the code cache, which V8 stamps with its flags, is made and used under the same
 * flags (`npm run build` makes it by running this file). A worker thread shares the process's
 * flags, already set by the main thread.
 */
const V8_FLAGS = '--no-turbo-inlining --no-allocation-site-pretenuring';
if (process.argv[2] !== WORKER_FLAG) (require('node:v8') as typeof import('node:v8')).setFlagsFromString(V8_FLAGS);

const core = fileURLToPath(new URL(MACHINEC_CORE, import.meta.url));
const cacheFile = `${core}.v8cache`;
let cachedData: Buffer | undefined;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  // no cache: compile as usual
}
const script = new Script(`(function (exports, require, module, __filename, __dirname, __machinecImport) {${readFileSync(core, 'utf8')}\n})`, { filename: core, cachedData });
const load = (specifier: string): Promise<unknown> => import(new URL(specifier, pathToFileURL(core)).href);
const module = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(core), module, core, dirname(core), load);

// Whether this run used the cache (specs/bundle.spec.ts asks; nothing else prints it).
if (process.env.MACHINEC_REPORT_CODE_CACHE === '1') process.stderr.write(`code cache: ${cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted'}\n`);

// `npm run build` makes the cache: a build run with this set writes what V8 compiled, at exit.
if (process.env.MACHINEC_WRITE_CODE_CACHE === cacheFile) {
  process.on('exit', () => {
    writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
    renameSync(`${cacheFile}.tmp`, cacheFile);
  });
}
