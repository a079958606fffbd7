#!/usr/bin/env node
import { main } from './main.js';
import { processIo } from './io.js';

// No top-level await: the bundled CLI runs this file as a script (cli/start.ts, cli/bundle.ts).
void main(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
