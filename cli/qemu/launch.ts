/**
 * Start a real QEMU with a QMP socket in a private temp dir, and always clean up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { isStopping, untilDone } from '../signals.js';
import os from 'node:os';
import path from 'node:path';
import { QmpClient } from './qmp.js';

export interface LaunchOptions {
  /** QEMU binary; default `qemu-system-x86_64` from PATH. */
  readonly qemu?: string;
  /** The machine's arguments (without `-display`, `-qmp`). */
  readonly args: readonly string[];
  /** Bound for QEMU to come up and answer on QMP (default 20 s). */
  readonly timeoutMs?: number;
  /** Start with `-S` (CPUs stopped, firmware not run yet). */
  readonly paused?: boolean;
}

export interface QemuHandle {
  readonly qmp: QmpClient;
  readonly process: ChildProcess;
  readonly pid: number;
  /** The private temp dir (holds `qmp.sock`); removed by {@link QemuHandle.close}. */
  readonly dir: string;
  /** The full argument list QEMU was started with. */
  readonly argv: readonly string[];
  /** Milliseconds from spawn to QMP ready. */
  readonly startupMs: number;
  /** QEMU's stderr so far. */
  stderr(): string;
  /** Resolves when QEMU has exited (immediately if it already has). */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** `quit` over QMP, wait for exit (SIGKILL after a short bound), remove the temp dir. Idempotent. */
  close(): Promise<void>;
}

/** Raised when QEMU cannot be started or does not answer; `stderr` is QEMU's own output. */
export class QemuLaunchError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    readonly argv: readonly string[],
    /** The temp dir that was used (already removed when this is thrown). */
    readonly dir?: string,
  ) {
    super(`${message}${stderr.trim() ? `\nQEMU stderr:\n${stderr.trim()}` : ''}\ncommand: ${argv.join(' ')}`);
    this.name = 'QemuLaunchError';
  }
}

const QUIT_GRACE_MS = 3_000;
const KILL_GRACE_MS = 2_000;

export async function launchQemu(options: LaunchOptions): Promise<QemuHandle> {
  const qemu = options.qemu ?? 'qemu-system-x86_64';
  const timeoutMs = options.timeoutMs ?? 20_000;
  // From this check to untilDone() below all is synchronous, so a signal cannot fall between
  // making the folder, starting QEMU and registering their cleanup.
  if (isStopping()) throw new QemuLaunchError('machinec is stopping on a signal: QEMU not started', '', [qemu, ...options.args]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'machinec-qemu-'));
  const sock = path.join(dir, 'qmp.sock');
  // A unix socket path is limited to ~107 bytes; tmpdir paths are short, but say so if not.
  const argv = [
    ...options.args,
    '-display', 'none',
    '-qmp', `unix:${sock},server=on,wait=off`,
    ...(options.paused ? ['-S'] : []),
  ];

  let stderr = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const started = Date.now();
  let child: ChildProcess;
  try {
    child = spawn(qemu, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new QemuLaunchError(`cannot start ${qemu}: ${(err as Error).message}`, '', [qemu, ...argv], dir);
  }
  // A signal to machinec stops this QEMU and removes its folder before machinec exits.
  const release = untilDone(() => shutdown());
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    // Keep the tail bounded.
    stderr = (stderr + s).slice(-64 * 1024);
  });
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
    child.once('error', (err) => {
      spawnError = err;
      // 'exit' may never fire for a spawn failure (ENOENT).
      if (child.pid === undefined) {
        exit = { code: null, signal: null };
        resolve(exit);
      }
    });
  });
  // Let the 'exit' handler flush stderr: wait for the stream to end as well.
  const stderrDone = new Promise<void>((resolve) => {
    child.stderr!.once('close', () => resolve());
    child.stderr!.once('end', () => resolve());
  });

  let closing: Promise<void> | undefined;
  let qmp: QmpClient | undefined;
  const shutdown = (): Promise<void> => {
    closing ??= (async () => {
      if (!exit && qmp && !qmp.isClosed) {
        try {
          await Promise.race([qmp.execute('quit'), exitPromise, delay(QUIT_GRACE_MS)]);
        } catch {
          // QEMU closes the socket while answering quit: that is fine.
        }
      }
      if (qmp) await qmp.close().catch(() => undefined);
      else if (!exit) child.kill('SIGTERM'); // never reached QMP: nothing to say quit to
      if (!exit) {
        await Promise.race([exitPromise, delay(QUIT_GRACE_MS)]);
      }
      if (!exit) {
        child.kill('SIGKILL');
        await Promise.race([exitPromise, delay(KILL_GRACE_MS)]);
      }
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      release();
    })();
    return closing;
  };

  try {
    // Race the connection against QEMU dying (bad option, missing device, …).
    const connect = QmpClient.connect(sock, {
      timeoutMs,
      shouldAbort: () => (exit || spawnError ? new Error('QEMU exited') : undefined),
    });
    const died = exitPromise.then(async (e) => {
      await Promise.race([stderrDone, delay(500)]);
      const why = spawnError ? `cannot start ${qemu}: ${spawnError.message}` : `QEMU exited during startup (code ${e.code}, signal ${e.signal})`;
      throw new QemuLaunchError(why, stderr, [qemu, ...argv], dir);
    });
    died.catch(() => undefined); // it also rejects when QEMU quits later, when nobody listens
    // Whichever loses the race must not become an unhandled rejection (or a leaked socket).
    let lostRace = false;
    connect.then((c) => { if (lostRace) void c.close(); }, () => undefined);
    try {
      qmp = await Promise.race([connect, died]);
    } catch (err) {
      lostRace = true;
      throw err;
    }
  } catch (err) {
    // Decide what went wrong before shutdown() kills QEMU (which would look like an early exit).
    let failure: QemuLaunchError;
    if (err instanceof QemuLaunchError) failure = err;
    else if (exit || spawnError) {
      await Promise.race([stderrDone, delay(500)]);
      const why = spawnError ? `cannot start ${qemu}: ${spawnError.message}` : `QEMU exited during startup (code ${exit?.code}, signal ${exit?.signal})`;
      failure = new QemuLaunchError(why, stderr, [qemu, ...argv], dir);
    } else {
      failure = new QemuLaunchError(`QEMU did not answer on QMP within ${timeoutMs} ms: ${(err as Error).message}`, stderr, [qemu, ...argv], dir);
    }
    await shutdown();
    throw failure;
  }

  const startupMs = Date.now() - started;
  const client = qmp;
  return {
    qmp: client,
    process: child,
    pid: child.pid!,
    dir,
    argv: [qemu, ...argv],
    startupMs,
    stderr: () => stderr,
    exited: () => exitPromise,
    close: shutdown,
  };
}

/** Start QEMU, run `fn`, and close QEMU whatever happens. */
export async function withQemu<T>(options: LaunchOptions, fn: (handle: QemuHandle) => Promise<T>): Promise<T> {
  const handle = await launchQemu(options);
  try {
    return await fn(handle);
  } finally {
    await handle.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
