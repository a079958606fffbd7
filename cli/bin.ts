#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { main, serveWorker } from './main.js';
import { processIo } from './io.js';

// No top-level await: the bundled CLI runs this file as a script (cli/start.ts, cli/bundle.ts).
if (isMainThread) {
  // Worker threads start from this same file (cli/parallel.ts): the binary, wherever a symlink put it.
  void main(process.argv.slice(2), { ...processIo(), workerEntry: realpathSync(process.argv[1]) }).then((code) => {
    process.exitCode = code;
  });
} else {
  void serveWorker((workerData as { machinecTask: unknown }).machinecTask).then((outcomes) => parentPort!.postMessage(outcomes));
}
