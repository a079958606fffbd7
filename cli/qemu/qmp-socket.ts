/**
 * Where `run` exposes QMP for `machinec status` and its users: a unix socket, owner-only (0600),
 * in the machine's state folder when it keeps state, else in a private runtime folder (0700);
 * removed when QEMU ends, refused while another live QEMU holds it.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { diagnose, escapeOptionValue, type Diagnostic, type PlacedMachine } from '../../compiler/index.js';
import type { Io } from '../io.js';
import { hasTpm } from '../vm-state.js';

/** The socket's name in a state folder. */
export const QMP_SOCKET = 'qmp.sock';
/** A unix socket path holds at most 107 bytes on Linux. */
const SOCKET_PATH_MAX = 107;

/** The private folder for machines without a state folder: `$XDG_RUNTIME_DIR/machinec`, else `/tmp/machinec-UID`. */
export function runtimeFolder(env: Io['env']): string {
  const uid = process.getuid?.() ?? 0;
  return env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'machinec') : join('/tmp', `machinec-${uid}`);
}

/**
 * Where `run` exposes QMP for the machine of the file at `sourcePath`: `qmp.sock` in its state
 * folder when it keeps state, else `NAME-HASH.qmp` in the runtime folder (HASH: 8 hex digits of
 * the SHA-256 of the file's real path, so machines of one name in different folders, which may
 * share a UUID, each have their own socket).
 */
export function qmpSocketPath(machine: PlacedMachine, sourcePath: string, stateDir: string | undefined, env: Io['env']): string {
  const keepsState = machine.firmware !== undefined || hasTpm(machine);
  if (keepsState && stateDir) return join(stateDir, QMP_SOCKET);
  let real = sourcePath;
  try {
    real = realpathSync(sourcePath);
  } catch {
    // a file that is gone is named by the path given
  }
  return join(runtimeFolder(env), `${machine.name}-${createHash('sha256').update(real).digest('hex').slice(0, 8)}.qmp`);
}

/** Whether a QEMU (or anything) answers on a unix socket. */
function answers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      done(true);
    });
    sock.once('error', () => done(false));
  });
}

/** Makes the runtime folder owner-only (0700), and refuses one that is not a folder of this user's alone. */
function privateFolder(dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const uid = process.getuid?.() ?? st.uid;
    if (!st.isDirectory()) return `${dir} is not a folder`;
    if (st.uid !== uid) return `${dir} belongs to another user (uid ${st.uid})`;
    if ((st.mode & 0o077) !== 0) return `${dir} is open to others (mode ${(st.mode & 0o777).toString(8)})`;
    return undefined;
  } catch (e) {
    return `cannot make ${dir}: ${(e as Error).message}`;
  }
}

/**
 * Readies the QMP socket path for `run`: its folder made (the runtime folder owner-only), a socket a
 * crashed QEMU left removed; refused when a live QEMU holds it or the path is too long for a socket.
 */
export async function prepareQmpSocket(sock: string, stateDir: string | undefined, shown: string): Promise<Diagnostic | undefined> {
  const fail = (message: string, hint: string) => diagnose('qmp-socket', message, { file: shown, hint });
  if (Buffer.byteLength(sock) > SOCKET_PATH_MAX)
    return fail(
      `the QMP socket path ${sock} is longer than a unix socket allows (${SOCKET_PATH_MAX} bytes)`,
      'give the machine a shorter state folder with `state = "…"`, or a shorter XDG_RUNTIME_DIR',
    );
  const dir = join(sock, '..');
  const problem = dir === stateDir ? undefined : privateFolder(dir);
  if (problem) return fail(`the QMP socket's folder is not private: ${problem}`, `remove it, or make it yours with mode 0700 (chmod 700 ${dir})`);
  if (existsSync(sock)) {
    if (await answers(sock))
      return fail(
        `a running QEMU already holds the QMP socket ${sock}`,
        'this machine (or another of the same name) is running: stop it first, or see it with `machinec status`',
      );
    rmSync(sock, { force: true }); // left by a QEMU that was killed
  }
  return undefined;
}

/** QEMU's option for the socket (a comma in the path doubled, as QEMU's option syntax asks). */
export const qmpArgs = (sock: string): string[] => ['-qmp', `unix:${escapeOptionValue(sock)},server=on,wait=off`];

/** Makes the socket owner-only (0600) as soon as QEMU has made it; stops looking when `running` says QEMU ended. */
export async function guardQmpSocket(sock: string, running: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && running(); i++) {
    try {
      chmodSync(sock, 0o600);
      return;
    } catch {
      await sleep(50);
    }
  }
}

/** Removes the socket when QEMU has ended (QEMU removes it itself on a clean exit, not when killed). */
export function releaseQmpSocket(sock: string): void {
  rmSync(sock, { force: true });
}
