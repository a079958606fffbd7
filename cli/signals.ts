/**
 * SIGINT, SIGTERM and SIGHUP while machinec has QEMU (or a helper) running: every registered
 * cleanup runs (it forwards the signal or asks QEMU to quit, waits for the process, removes its
 * temporary folder), then machinec exits with the child's status when a cleanup gives one
 * (`run`), else 128 + the signal's number. No QEMU is left with parent 1, no folder behind.
 */
import { constants } from 'node:os';

/** Returns the exit status machinec should end with (run: QEMU's), or nothing. */
export type Cleanup = (signal: NodeJS.Signals) => Promise<number | void> | number | void;

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const cleanups = new Set<Cleanup>();
let installed = false;
let stopping = false;

/** 128 + the signal's number, as a shell reports a process a signal ended. */
export const signalStatus = (signal: NodeJS.Signals): number => 128 + (constants.signals[signal] ?? 0);

/** A child's exit as machinec's own status: its code, or 128 + the signal that ended it. */
export const childStatus = (code: number | null, signal: NodeJS.Signals | null): number => code ?? (signal ? signalStatus(signal) : 1);

/** True once a signal arrived: nothing new may start (a QEMU started now would outlive machinec). */
export const isStopping = (): boolean => stopping;

/** Registers a cleanup until the returned function is called; one registered while stopping still runs. */
export function untilDone(cleanup: Cleanup): () => void {
  if (!installed) {
    installed = true;
    for (const s of SIGNALS) process.on(s, () => void stop(s));
  }
  cleanups.add(cleanup);
  return () => void cleanups.delete(cleanup);
}

async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  const ran = new Set<Cleanup>();
  let status: number | undefined;
  // Cleanups registered while others run (a launch that was under way) run too, before exit.
  for (let pending = [...cleanups]; pending.length; pending = [...cleanups].filter((c) => !ran.has(c))) {
    for (const c of pending) ran.add(c);
    const results = await Promise.allSettled(pending.map(async (c) => c(signal)));
    status ??= results.map((r) => (r.status === 'fulfilled' ? r.value : undefined)).find((v): v is number => typeof v === 'number');
  }
  process.exit(status ?? signalStatus(signal));
}
