/**
 * Runs the built CLI as a user without root's powers, for the specs about permissions (a read-only
 * folder, an unreadable file): root reads and writes through any mode bits, so those cases can only
 * be seen as another user. Not root: the specs' own user. Root: the user MACHINEC_TEST_USER (default
 * `machinec-test`), which `.ci/run` creates; the CLI is copied to a folder that user can read (the
 * checkout itself may sit under a folder only root can enter). Under CI a missing user fails the spec.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, chmodSync, copyFileSync, cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, freshBin } from './bin.js';
import { tempFolder } from './temp.js';

export const TEST_USER = process.env.MACHINEC_TEST_USER ?? 'machinec-test';

export interface User {
  readonly uid: number;
  readonly gid: number;
}

function idOf(flag: '-u' | '-g'): number | undefined {
  const r = spawnSync('id', [flag, TEST_USER], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}

/** Who the permission specs run as, or why they cannot run here (never undefined under CI). */
export function unprivilegedUser(): User | string {
  if (process.getuid?.() !== 0) return { uid: process.getuid!(), gid: process.getgid!() };
  const uid = idOf('-u');
  const gid = idOf('-g');
  if (uid !== undefined && gid !== undefined) return { uid, gid };
  const why = `running as root and there is no user ${TEST_USER} (.ci/run creates it: useradd -r ${TEST_USER})`;
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}

let copied: string | undefined;
/** The built CLI in a folder every user can read. */
function readableBin(): string {
  if (copied) return copied;
  freshBin();
  const dir = tempFolder('machinec-bin-');
  const dist = join(BIN, '..');
  for (const f of readdirSync(dist)) {
    if (f === 'machinec.mjs' || /^core-/.test(f)) copyFileSync(join(dist, f), join(dir, f));
  }
  if (existsSync(join(dist, 'lazy'))) cpSync(join(dist, 'lazy'), join(dir, 'lazy'), { recursive: true });
  chmodSync(dir, 0o755);
  return (copied = join(dir, 'machinec.mjs'));
}

/** Gives `dir` (and what is in it, not below) to `user`, keeping the modes. */
export function giveTo(dir: string, user: User): void {
  chownSync(dir, user.uid, user.gid);
  for (const f of readdirSync(dir)) chownSync(join(dir, f), user.uid, user.gid);
  if ((statSync(dir).mode & 0o111) === 0) chmodSync(dir, 0o755);
}

/** `machinec ARGS` run by `user` in `dir`. */
export function runAs(user: User, args: readonly string[], dir: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [readableBin(), ...args], {
    cwd: dir,
    uid: user.uid,
    gid: user.gid,
    env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
