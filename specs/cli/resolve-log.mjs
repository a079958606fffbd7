// Preload for `node --import`: logs every module URL the process resolves to the file named by
// MACHINEC_RESOLVE_LOG, one a line. ESM imports go through the resolve hook (module.register,
// Node >= 20.6); require() calls through a wrapper of Module._resolveFilename.
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const log = process.env.MACHINEC_RESOLVE_LOG;
if (!log) throw new Error('resolve-log.mjs: set MACHINEC_RESOLVE_LOG');
register('./resolve-log-hooks.mjs', import.meta.url, { data: { log } });

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const file = resolveFilename.call(this, request, ...rest);
  appendFileSync(log, `${file.startsWith('/') ? pathToFileURL(file).href : file} (require)\n`);
  return file;
};
