/**
 * Commands over many machines (`lock`, `check`) compile them on several threads: this thread
 * compiles the first share of the machines, one worker thread each of the others, and the results
 * are taken in file order. A worker's session (cli/session.ts) never changes a file, starts a
 * process or prints a note: a machine that needs one of these comes back `redo`, and this thread
 * compiles it itself, where a run on one thread would. So what a run prints and does is the same
 * on any number of threads; only its speed is not (docs/performance.md: most of a `lock --locked`
 * over many small machines is the JIT warming up, which each thread does at once).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Io } from './io.js';
import type { Session } from './session.js';

import { WORKER_FLAG } from './worker-flag.js';

export { WORKER_FLAG };

/** Fewer machines than this per thread do not pay for a worker's start (~40 ms of CPU). */
const MIN_SHARE = 40;

/** What a worker says of one machine: what it printed and what the run needs of it, or `redo`. */
export type WorkerOutcome<R> =
  | { readonly redo: true }
  | {
      readonly redo?: undefined;
      readonly out: string;
      readonly result: R;
      /** Whether its build asked for QEMU's machine types (the main thread prints its note then). */
      readonly askedQemu: boolean;
      /** The texts it read (shown name, text): the main thread's diagnostics about the run as a whole show their lines. */
      readonly sources: readonly (readonly [string, string])[];
    };

/** What a worker thread is asked to do: `kind` names the command's share function (cli/bin.ts). */
export interface WorkerTask {
  readonly kind: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly isTTY: boolean;
  readonly machines: readonly string[];
}

/** `items` in `jobs` contiguous shares at most, none smaller than MIN_SHARE (one share: no workers). */
export function shares<T>(items: readonly T[], jobs: number): T[][] {
  const n = Math.max(1, Math.min(jobs, Math.floor(items.length / MIN_SHARE)));
  const out: T[][] = [];
  for (let i = 0; i < n; i++) out.push(items.slice(Math.floor((i * items.length) / n), Math.floor(((i + 1) * items.length) / n)));
  return out;
}

/**
 * Threads a command uses by default: one per two CPUs this process may use. A thread compiling
 * many small machines keeps about one and a half CPUs busy (V8 optimises and collects garbage
 * on threads of its own), so on 2 CPUs a second one gained nothing: `lock --locked` over 500
 * machines took the same wall time on one thread and on two, with a third more CPU time on two.
 */
export const defaultJobs = (): number => Math.max(1, Math.floor(availableParallelism() / 2));

/** The worker side's Io: the main thread's folder, environment and colour; what it prints kept for the main thread. */
export function workerIo(task: WorkerTask, printed: string[]): Io {
  return { cwd: task.cwd, env: task.env, isTTY: task.isTTY, stdout: (t) => printed.push(t), stderr: (t) => printed.push(t) };
}

/** Runs `task` on a worker thread started from `entry`; undefined when the worker fails (its machines are then compiled here). */
function inWorker<R>(entry: string, task: WorkerTask): Promise<WorkerOutcome<R>[] | undefined> {
  return new Promise((done) => {
    let worker: Worker;
    try {
      worker = new Worker(entry, { argv: [WORKER_FLAG], workerData: { machinecTask: task } });
    } catch {
      done(undefined);
      return;
    }
    worker.once('message', (m: WorkerOutcome<R>[]) => done(m));
    worker.once('error', () => done(undefined));
    worker.once('exit', () => done(undefined));
  });
}

/**
 * Each machine's result in file order: the first share compiled here (`local`) while workers
 * compile the others; what a worker printed for a machine is printed here in its turn (after the
 * note a build prints the first time it asks QEMU, `askedQemu`), and a machine it leaves (`redo`,
 * or every machine of a worker that failed) is compiled here.
 */
export async function inOrder<R>(s: Session, machines: readonly string[], jobs: number, task: (share: readonly string[]) => WorkerTask, local: (file: string) => Promise<R>, qemuNote?: string): Promise<R[]> {
  const entry = s.io.workerEntry;
  const [mine, ...others] = entry ? shares(machines, jobs) : [machines];
  const workers = others.map((share) => inWorker<R>(entry!, task(share)));
  const results: R[] = [];
  for (const file of mine) results.push(await local(file));
  for (const [i, share] of others.entries()) {
    const outcomes = await workers[i];
    for (const [k, file] of share.entries()) {
      const o = outcomes?.[k];
      if (o && !o.redo) {
        if (o.askedQemu) s.noteQemu(qemuNote);
        for (const [shown, text] of o.sources) s.sources.set(shown, text);
        if (o.out) s.io.stderr(o.out);
        results.push(o.result);
      } else results.push(await local(file));
    }
  }
  return results;
}
