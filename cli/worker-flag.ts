/** The argument a worker thread starts with (cli/parallel.ts, cli/bin.ts, cli/start.ts): not an option of the CLI. */
export const WORKER_FLAG = '--machinec-worker-thread';
