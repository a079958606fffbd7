#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { main, serveWorker } from './main.js';
import { processIo } from './io.js';
import { WORKER_FLAG } from './parallel.js';

// No top-level await: the bundled CLI runs this file as a script (cli/start.ts, tools/bundle.ts).
// A worker thread (cli/parallel.ts) is told by its argv, so a build never loads worker_threads.
if (process.argv[2] === WORKER_FLAG && parentPort) {
  void serveWorker((workerData as { machinecTask: unknown }).machinecTask).then((outcomes) => parentPort!.postMessage(outcomes));
} else {
  // Worker threads start from this same file: the binary, wherever a symlink put it.
  void main(process.argv.slice(2), { ...processIo(), workerEntry: realpathSync(process.argv[1]) }).then((code) => {
    process.exitCode = code;
  });
}
