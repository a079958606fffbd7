/** build, check, plan, lock, prune, run: the commands that compile machines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { childStatus, isStopping, untilDone } from '../signals.js';
import { hasErrors } from '../../grammar/index.js';
import { formatArgv, type ArgvFormat } from '../format-argv.js';
import { findMachines, writeAtomic } from '../io.js';
import { renderPlanMarkdown } from '../render-markdown.js';
import { planJson, renderPlan, type PlanFormat } from '../render-plan.js';
import { Session, type CompiledFile } from '../session.js';
import { hasTpm, prepareState, sharedState, startSwtpm, stateOwner, statePaths, stopSwtpm, symlinkedState, type StateOwner } from '../vm-state.js';
import { DEFAULT_QEMU_BINARY, diagnose, lockValues, sharedValues } from '../../compiler/index.js';
import type { Approval, CompileInput, LockedFile, QemuInfo } from '../../compiler/index.js';
import { defaultJobs, inOrder, workerIo, type WorkerOutcome, type WorkerTask } from '../parallel.js';
import { guardQmpSocket, prepareQmpSocket, qmpArgs, qmpSocketPath, releaseQmpSocket } from '../qemu/qmp-socket.js';

export interface BuildOptions {
  readonly format: ArgvFormat;
  readonly locked: boolean;
}

/** Writes the lock when it changes; with `locked`, refuses and shows the plan instead. */
function settleLock(s: Session, f: CompiledFile, locked: boolean): boolean {
  const c = f.compilation!;
  if (c.lockText === f.lockText) return true;
  if (locked) {
    const why = f.lockText === undefined ? `${f.lockShown} is missing` : `${f.lockShown} is out of date`;
    s.fail('lock-outdated', `${why} and --locked forbids writing it`);
    s.io.stderr(renderPlan(c.plan!, { color: s.color, title: `${f.shown}: what a build would change`, lockDiffers: f.lockText !== undefined }));
    s.io.stderr(`  = hint: run \`machinec build ${f.shown}\` (or \`machinec lock\`), review the plan, and commit the lock\n`);
    return false;
  }
  writeAtomic(f.lockPath, c.lockText!);
  return true;
}

/** The line build and run print when they wrote the lock; run, whose terminal is QEMU's next, shows the plan above it. */
function announceLock(s: Session, f: CompiledFile, withPlan = false): void {
  const c = f.compilation!;
  if (f.lockText === c.lockText) return;
  const { added, removed, moved, changed } = c.plan!.counts;
  if (withPlan && f.lockText !== undefined) s.io.stderr(renderPlan(c.plan!, { color: s.color, title: `${f.shown}: what this run changed in the guest`, lockDiffers: true }));
  s.io.stderr(f.lockText === undefined ? `wrote ${f.lockShown}: ${added} devices locked\n` : `updated ${f.lockShown}: ${added} added, ${removed} removed, ${moved} moved, ${changed} changed\n`);
}

export async function buildCommand(s: Session, file: string, opts: BuildOptions): Promise<number> {
  const f = await s.compileFile(file);
  s.report(f.diagnostics);
  if (!f.compilation?.ok) return 1;
  if (!settleLock(s, f, opts.locked)) return 1;
  announceLock(s, f);
  s.io.stdout(formatArgv(s.binaryName, f.compilation.argv!, opts.format));
  return 0;
}

/** The lock on disk for the repo-wide checks, with the values its compilation read from it (none when there is no lock). */
const lockAsRead = (f: CompiledFile): LockedFile | undefined =>
  f.lockText === undefined ? undefined : { file: f.lockShown, text: f.lockText, values: f.compilation && lockValues(f.compilation.previous) };

/** A worker thread's share of `kind` over `machines`, in this session's folder, environment and colour. */
const shareTask = (s: Session, kind: ShareTask['kind'], machines: readonly string[], more: Partial<ShareTask> = {}): ShareTask => ({ kind, cwd: s.io.cwd, env: { ...s.io.env }, isTTY: s.io.isTTY, machines, qemuOption: s.qemuOption, ...more });

/** What `check` found in one machine: whether it failed, its lock, and the state it keeps. */
interface CheckOutcome {
  readonly failed: boolean;
  readonly lock?: LockedFile;
  readonly owner?: StateOwner;
}

/** One machine of `check`: compiled without asking QEMU, its diagnostics printed. `redo` only in a worker session. */
async function checkOne(s: Session, file: string): Promise<CheckOutcome | 'redo'> {
  const f = await s.compileFile(file, { qemu: false });
  if (f.redo) return 'redo';
  s.report(f.diagnostics);
  const c = f.compilation;
  return {
    failed: hasErrors(f.diagnostics),
    lock: lockAsRead(f),
    owner: c?.machine && stateOwner(f.shown, f.path, c.spec!, c.machine),
  };
}

export async function checkCommand(s: Session, files: readonly string[], opts: { jobs?: number } = {}): Promise<number> {
  const machines = findMachines((files.length ? files : ['.']).map((p) => resolve(s.io.cwd, p)));
  const outcomes = await inOrder(s, machines, opts.jobs ?? defaultJobs(), (share) => shareTask(s, 'check', share), async (file) => (await checkOne(s, file)) as CheckOutcome);
  let failed = outcomes.filter((o) => o.failed).length;
  failed += reportShared(s, outcomes.flatMap((o) => (o.lock ? [o.lock] : [])));
  const owners = outcomes.flatMap((o) => (o.owner ? [o.owner] : []));
  const sharing = sharedState(owners);
  s.report([...sharing, ...symlinkedState(owners)]);
  failed += new Set(sharing.map((d) => d.file)).size;
  if (!machines.length) return s.fail('usage', 'no .machine files found', {}, 2);
  s.io.stderr(failed ? `${failed} of ${machines.length} machine${machines.length === 1 ? '' : 's'} failed the checks\n` : `${machines.length} machine${machines.length === 1 ? '' : 's'} checked, no problems\n`);
  return failed ? 1 : 0;
}

export interface PlanOptions {
  readonly format: PlanFormat;
  readonly diff: boolean;
  readonly prune?: boolean;
}

/** Errors a build gives for a change that needs approval, and the `lock --update` word that approves it. */
const APPROVABLE: Readonly<Record<string, Approval>> = { 'firmware-changed': 'firmware' };

export async function planCommand(s: Session, file: string, opts: PlanOptions): Promise<number> {
  let f = await s.compileFile(file, { prune: opts.prune });
  s.report(f.diagnostics);
  const errors = f.diagnostics.filter((d) => d.severity === 'error');
  const approvals = [...new Set(errors.map((d) => APPROVABLE[d.code]))];
  // A change that needs approval: show what approving it would change, and fail.
  const pending = errors.length > 0 && approvals.every(Boolean);
  if (pending) f = await s.compileFile(file, { prune: opts.prune, update: approvals });
  const c = f.compilation;
  if (!c?.ok) return 1;
  const title = f.lockText === undefined ? `${f.shown}: no lock yet, every device is new` : `${f.shown} against ${f.lockShown}`;
  if (pending) s.io.stderr(`these changes need approval: run \`machinec lock --update ${approvals.join(' ')} ${f.shown}\` once you have reviewed them\n`);
  if (opts.format === 'json') {
    s.io.stdout(JSON.stringify({ file: f.shown, lock: f.lockShown, lockExists: f.lockText !== undefined, upToDate: c.lockText === f.lockText, ...planJson(c.plan!) }, null, 2) + '\n');
  } else if (opts.format === 'markdown') {
    s.io.stdout(renderPlanMarkdown(c.plan!, { title, after: c.machine! }));
  } else {
    s.io.stdout(renderPlan(c.plan!, { color: s.color, title }));
  }
  if (opts.diff && c.lockText !== f.lockText) {
    s.io.stdout(createTwoFilesPatch(f.lockShown, f.lockShown, f.lockText ?? '', c.lockText!, 'locked', 'after build'));
  }
  return pending ? 1 : 0;
}

/** MACs and UUIDs two locks share: errors naming both files and devices. Returns how many locks have one. */
function reportShared(s: Session, locks: readonly LockedFile[]): number {
  const shared = sharedValues(locks);
  s.report(shared);
  return new Set(shared.map((d) => d.file)).size;
}

export interface LockOptions {
  readonly locked: boolean;
  readonly regenerate?: CompileInput['regenerate'];
  readonly update?: readonly Approval[];
  /** Threads to compile on (cli/parallel.ts); the default is one per two CPUs. */
  readonly jobs?: number;
}

type LockKind = 'current' | 'updated' | 'outdated' | 'failed';
/** What `lock` did with one machine, and its lock as the run leaves it (for the repo-wide checks). */
interface LockOutcome {
  readonly kind: LockKind;
  readonly lock?: LockedFile;
}

/** One machine of `lock`: compiled, its lock checked or written, what changed said. `redo` only in a worker session. */
async function lockOne(s: Session, file: string, opts: LockOptions): Promise<LockOutcome | 'redo'> {
  const f = await s.compileFile(file, { regenerate: opts.regenerate, update: opts.update });
  if (f.redo) return 'redo';
  s.report(f.diagnostics);
  const c = f.compilation;
  if (!c?.ok) return { kind: 'failed', lock: lockAsRead(f) };
  const lock: LockedFile = opts.locked && f.lockText !== undefined ? lockAsRead(f)! : { file: f.lockShown, text: c.lockText!, values: lockValues(c.machine) };
  if (opts.regenerate && c.lockText !== f.lockText) s.io.stderr(renderPlan(c.plan!, { color: s.color, title: `${f.lockShown}: regenerated` }));
  if (c.lockText === f.lockText) return { kind: 'current', lock };
  if (opts.locked) {
    s.io.stderr(renderPlan(c.plan!, { color: s.color, title: `${f.lockShown}: ${f.lockText === undefined ? 'missing' : 'out of date'}` }));
    return { kind: 'outdated', lock };
  }
  writeAtomic(f.lockPath, c.lockText!);
  s.io.stderr(`${f.lockText === undefined ? 'wrote' : 'updated'} ${f.lockShown}\n`);
  return { kind: 'updated', lock };
}

/** A worker thread's share of `lock` or `check` (cli/parallel.ts, started from cli/bin.ts). */
export interface ShareTask extends WorkerTask {
  readonly kind: 'lock' | 'check';
  readonly qemuOption?: string;
  /** The main thread's answer from QEMU (`lock`). */
  readonly qemu?: QemuInfo;
  readonly opts?: LockOptions;
}

/** Runs on a worker thread: each machine of its share, with what it printed and read, or `redo`. */
export async function commandShare(task: ShareTask): Promise<WorkerOutcome<LockOutcome | CheckOutcome>[]> {
  const printed: string[] = [];
  const s = new Session(workerIo(task, printed), task.qemuOption, { qemu: task.qemu });
  const outcomes: WorkerOutcome<LockOutcome | CheckOutcome>[] = [];
  for (const file of task.machines) {
    printed.length = 0;
    s.sources.clear();
    const asks = s.qemuAsks;
    const result = task.kind === 'lock' ? await lockOne(s, file, task.opts!) : await checkOne(s, file);
    outcomes.push(result === 'redo' ? { redo: true } : { out: printed.join(''), result, askedQemu: s.qemuAsks > asks, sources: [...s.sources] });
  }
  return outcomes;
}

export async function lockCommand(s: Session, paths: readonly string[], opts: LockOptions): Promise<number> {
  const machines = findMachines((paths.length ? paths : ['.']).map((p) => resolve(s.io.cwd, p)));
  if (!machines.length) return s.fail('usage', 'no .machine files found', {}, 2);
  if (opts.regenerate && machines.length !== 1) return s.fail('usage', '--regenerate names values of one machine: give one .machine file', {}, 2);
  const local = async (file: string): Promise<LockOutcome> => (await lockOne(s, file, opts)) as LockOutcome;
  // Workers get this thread's answer from QEMU (and this thread prints its note where a build first asks).
  const qemu = await s.askQemu();
  const outcomes = await inOrder(s, machines, opts.jobs ?? defaultJobs(), (share) => shareTask(s, 'lock', share, { qemu: qemu.info, opts }), local, qemu.note);
  const tally: Record<LockKind, number> = { current: 0, updated: 0, outdated: 0, failed: 0 };
  for (const o of outcomes) tally[o.kind]++;
  tally.failed += reportShared(s, outcomes.flatMap((o) => (o.lock ? [o.lock] : [])));
  s.io.stderr(`${machines.length} machine${machines.length === 1 ? '' : 's'}: ${tally.current} up to date, ${opts.locked ? `${tally.outdated} out of date` : `${tally.updated} written`}, ${tally.failed} with errors\n`);
  return tally.failed || tally.outdated ? 1 : 0;
}

export async function pruneCommand(s: Session, file: string, opts: { dryRun: boolean }): Promise<number> {
  const f = await s.compileFile(file, { prune: true });
  s.report(f.diagnostics);
  const c = f.compilation;
  if (!c?.ok) return 1;
  s.io.stdout(renderPlan(c.plan!, { color: s.color, title: `${f.shown}: pruning empty root ports and bridges` }));
  if (!opts.dryRun && c.lockText !== f.lockText) writeAtomic(f.lockPath, c.lockText!);
  return 0;
}

export async function runCommand(s: Session, file: string, extra: readonly string[], opts: { locked: boolean; accel?: string }): Promise<number> {
  const f = await s.compileFile(file);
  s.report(f.diagnostics);
  if (!f.compilation?.ok) return 1;
  if (!settleLock(s, f, opts.locked)) return 1;
  announceLock(s, f, true);
  const qemu = s.qemuPath;
  if (!qemu) return s.fail('qemu-missing', `${DEFAULT_QEMU_BINARY} not found`, { hint: 'install it (Debian: apt-get install qemu-system-x86) or pass --qemu PATH' }, 2);
  const c = f.compilation;
  if (needsBridgeAcl(c.argv!) && !existsSync(BRIDGE_ACL)) {
    const hint = `qemu-bridge-helper reads which bridges QEMU may join from ${BRIDGE_ACL}: create it as root with a line \`allow br0\` (the bridge's name), or use netdev = tap or user`;
    return s.fail('qemu-failed', `a bridge netdev needs ${BRIDGE_ACL}, which this host does not have (QEMU would stop with "failed to parse default acl file")`, { file: f.shown, hint }, 2);
  }
  const folder = dirname(f.path);
  // The machine's own state: VARS copied from the locked template once, the TPM's state kept.
  const paths = statePaths(c.spec!, folder);
  const needsState = c.machine!.firmware !== undefined || hasTpm(c.machine!);
  if (needsState) {
    const span = c.spec!.properties.get('state')?.value?.span ?? c.spec!.node?.name?.span;
    const problem = prepareState(c.machine!, f.path, f.shown, paths, { own: true, span });
    if (problem) {
      s.report([problem]);
      return 1;
    }
  }
  // QMP for `machinec status` and the user: owner-only, refused while another QEMU holds it.
  const sock = qmpSocketPath(c.machine!, f.path, paths.dir, s.io.env);
  const busy = await prepareQmpSocket(sock, needsState ? paths.dir : undefined, f.shown);
  if (busy) {
    s.report([busy]);
    return 1;
  }
  let swtpm: ChildProcess | undefined;
  if (hasTpm(c.machine!)) {
    try {
      swtpm = await startSwtpm(paths);
    } catch (e) {
      s.report([diagnose('swtpm-failed', (e as Error).message, { file: f.shown, hint: 'install swtpm (Debian: apt-get install swtpm swtpm-tools)' })]);
      return 2;
    }
  }
  const argv = opts.accel ? withAccel(c.argv!, opts.accel) : c.argv!;
  if (isStopping()) return new Promise<number>(() => undefined); // a signal came during set-up: its cleanups exit
  // Paths in a .machine file are relative to its folder, so QEMU runs there.
  const child = spawn(qemu, [...argv, ...qmpArgs(sock), ...extra], { stdio: 'inherit', cwd: folder });
  void guardQmpSocket(sock, () => child.exitCode === null && child.signalCode === null);
  const exited = new Promise<number>((done) => {
    const finish = (code: number) => {
      stopSwtpm(swtpm);
      releaseQmpSocket(sock);
      done(code);
    };
    child.on('error', (e) => {
      finish(s.fail('qemu-failed', e.message, {}, 2));
    });
    child.on('exit', (code, signal) => finish(childStatus(code, signal)));
  });
  // SIGINT, SIGTERM or SIGHUP to machinec go on to QEMU; machinec exits with QEMU's status. A
  // second one while QEMU has not ended (stopped, or deadlocked in its shutdown) kills it.
  const running = () => child.exitCode === null && child.signalCode === null;
  const release = untilDone(
    async (signal) => {
      if (running()) child.kill(signal);
      const status = await exited;
      return status === 0 ? undefined : status; // QEMU quit cleanly on it: 128 + the signal, as a shell reports
    },
    () => void (running() && child.kill('SIGKILL')),
  );
  return exited.finally(release);
}

/** The access list qemu-bridge-helper reads (QEMU's sysconfdir on Debian and most distributions). */
const BRIDGE_ACL = '/etc/qemu/bridge.conf';

/** Whether the command line has a bridge netdev that uses QEMU's own helper (one with helper= may read no list). */
const needsBridgeAcl = (argv: readonly string[]): boolean =>
  argv.some((a, i) => argv[i - 1] === '-netdev' && /^bridge(,|$)/.test(a) && !/(^|,)helper=/.test(a));

/** The command line with its -accel options replaced by one. */
function withAccel(argv: readonly string[], accel: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-accel') {
      if (!out.includes('-accel')) out.push('-accel', accel);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}
