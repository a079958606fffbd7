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
import { DEFAULT_QEMU_BINARY } from '../../compiler/index.js';

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

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** The arguments QEMU is started with: the machine's, no display, QMP on the private socket, `-S` when paused. */
function qemuArgv(options: LaunchOptions, sock: string): string[] {
  // A unix socket path is limited to ~107 bytes; tmpdir paths are short, but say so if not.
  return [
    ...options.args,
    '-display', 'none',
    '-qmp', `unix:${sock},server=on,wait=off`,
    ...(options.paused ? ['-S'] : []),
  ];
}

/** A spawned QEMU as launchQemu watches it: its exit, its stderr's tail, its QMP client once connected, its cleanup. */
class Started {
  stderr = '';
  exit: Exit | undefined;
  spawnError: Error | undefined;
  qmp: QmpClient | undefined;
  readonly exitPromise: Promise<Exit>;
  /** Let the 'exit' handler flush stderr: wait for the stream to end as well. */
  readonly stderrDone: Promise<void>;
  private closing: Promise<void> | undefined;
  private readonly release: () => void;

  /** Watches the child from the moment it is spawned (synchronously, so no signal falls in between). */
  constructor(readonly qemu: string, readonly argv: readonly string[], readonly dir: string, readonly child: ChildProcess) {
    // A signal to machinec stops this QEMU and removes its folder before machinec exits.
    this.release = untilDone(() => this.shutdown());
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      // Keep the tail bounded.
      this.stderr = (this.stderr + s).slice(-64 * 1024);
    });
    this.exitPromise = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      child.once('error', (err) => {
        this.spawnError = err;
        // 'exit' may never fire for a spawn failure (ENOENT).
        if (child.pid === undefined) {
          this.exit = { code: null, signal: null };
          resolve(this.exit);
        }
      });
    });
    this.stderrDone = new Promise<void>((resolve) => {
      child.stderr!.once('close', () => resolve());
      child.stderr!.once('end', () => resolve());
    });
  }

  /** `quit` over QMP, wait for exit (SIGKILL after a short bound), remove the temp dir. Idempotent. */
  shutdown(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  /** The shutdown itself, run once: quit, SIGTERM where QMP was never reached, SIGKILL, the folder removed, the signal cleanup released. */
  private async stop(): Promise<void> {
    const { qmp, child } = this;
    if (!this.exit && qmp && !qmp.isClosed) {
      try {
        await Promise.race([qmp.execute('quit'), this.exitPromise, delay(QUIT_GRACE_MS)]);
      } catch {
        // QEMU closes the socket while answering quit: that is fine.
      }
    }
    if (qmp) await qmp.close().catch(() => undefined);
    else if (!this.exit) child.kill('SIGTERM'); // never reached QMP: nothing to say quit to
    if (!this.exit) {
      await Promise.race([this.exitPromise, delay(QUIT_GRACE_MS)]);
    }
    if (!this.exit) {
      child.kill('SIGKILL');
      await Promise.race([this.exitPromise, delay(KILL_GRACE_MS)]);
    }
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
    this.release();
  }

  /** QEMU could not be spawned or exited during startup: the error, with its stderr flushed. */
  async earlyExit(): Promise<QemuLaunchError> {
    await Promise.race([this.stderrDone, delay(500)]);
    const why = this.spawnError ? `cannot start ${this.qemu}: ${this.spawnError.message}` : `QEMU exited during startup (code ${this.exit?.code}, signal ${this.exit?.signal})`;
    return new QemuLaunchError(why, this.stderr, [this.qemu, ...this.argv], this.dir);
  }
}

/** The QMP connection, raced against QEMU dying (bad option, missing device, …). */
async function connectRaced(p: Started, sock: string, timeoutMs: number): Promise<QmpClient> {
  const connect = QmpClient.connect(sock, {
    timeoutMs,
    shouldAbort: () => (p.exit || p.spawnError ? new Error('QEMU exited') : undefined),
  });
  const died = p.exitPromise.then(async (): Promise<never> => {
    throw await p.earlyExit();
  });
  died.catch(() => undefined); // it also rejects when QEMU quits later, when nobody listens
  // Whichever loses the race must not become an unhandled rejection (or a leaked socket).
  let lostRace = false;
  connect.then((c) => { if (lostRace) void c.close(); }, () => undefined);
  try {
    return await Promise.race([connect, died]);
  } catch (err) {
    lostRace = true;
    throw err;
  }
}

/** What went wrong, decided before shutdown() kills QEMU (which would look like an early exit). */
async function startupFailure(p: Started, err: unknown, timeoutMs: number): Promise<QemuLaunchError> {
  if (err instanceof QemuLaunchError) return err;
  // A socket reset or refusal while QEMU dies comes before its exit event: give the exit a moment to arrive.
  if (!p.exit && !p.spawnError) await Promise.race([p.exitPromise, delay(1000)]);
  if (p.exit || p.spawnError) return p.earlyExit();
  return new QemuLaunchError(`QEMU did not answer on QMP within ${timeoutMs} ms: ${(err as Error).message}`, p.stderr, [p.qemu, ...p.argv], p.dir);
}

/** Starts QEMU in a private temp dir and connects to its QMP socket; on any failure QEMU is stopped and the dir removed. */
export async function launchQemu(options: LaunchOptions): Promise<QemuHandle> {
  const qemu = options.qemu ?? DEFAULT_QEMU_BINARY;
  const timeoutMs = options.timeoutMs ?? 20_000;
  // From this check to untilDone() (in Started) all is synchronous, so a signal cannot fall between
  // making the folder, starting QEMU and registering their cleanup.
  if (isStopping()) throw new QemuLaunchError('machinec is stopping on a signal: QEMU not started', '', [qemu, ...options.args]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'machinec-qemu-'));
  const sock = path.join(dir, 'qmp.sock');
  const argv = qemuArgv(options, sock);
  const started = Date.now();
  let child: ChildProcess;
  try {
    child = spawn(qemu, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new QemuLaunchError(`cannot start ${qemu}: ${(err as Error).message}`, '', [qemu, ...argv], dir);
  }
  const p = new Started(qemu, argv, dir, child);
  try {
    p.qmp = await connectRaced(p, sock, timeoutMs);
  } catch (err) {
    const failure = await startupFailure(p, err, timeoutMs);
    await p.shutdown();
    throw failure;
  }
  const startupMs = Date.now() - started;
  const client = p.qmp;
  return {
    qmp: client,
    process: child,
    pid: child.pid!,
    dir,
    argv: [qemu, ...argv],
    startupMs,
    stderr: () => p.stderr,
    exited: () => p.exitPromise,
    close: () => p.shutdown(),
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
