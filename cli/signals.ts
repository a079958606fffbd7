/**
 * SIGINT, SIGTERM and SIGHUP while machinec has QEMU (or a helper) running: every registered
 * cleanup runs (it forwards the signal or asks QEMU to quit, waits for the process, removes its
 * temporary folder), then machinec exits with the child's status when a cleanup gives one
 * (`run`), else 128 + the signal's number. No QEMU is left with parent 1, no folder behind. A
 * second signal while they wait kills what they wait for (`run`: QEMU, with SIGKILL).
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

/** What a second signal does while the first one's cleanups still wait: end the child outright. */
export type Force = () => void;
const forces = new Set<Force>();

/**
 * Registers a cleanup until the returned function is called; one registered while stopping still
 * runs. `force` runs on a second signal that arrives while the cleanups still wait (a QEMU that
 * does not end on SIGTERM: a stopped or deadlocked process), so machinec can always be ended.
 */
export function untilDone(cleanup: Cleanup, force?: Force): () => void {
  if (!installed) {
    installed = true;
    for (const s of SIGNALS) process.on(s, () => void stop(s));
  }
  cleanups.add(cleanup);
  if (force) forces.add(force);
  return () => {
    cleanups.delete(cleanup);
    if (force) forces.delete(force);
  };
}

async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    for (const f of forces) f();
    return;
  }
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
