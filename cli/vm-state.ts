/**
 * The per-VM state folder (`NAME.state/` beside the file, or `state = "…"`): the machine's own
 * UEFI variables (a copy of the locked VARS template, made once) and its TPM's state. machinec
 * creates it and what is missing in it, and never deletes or overwrites anything there. It is
 * owned by one machine: its owner file (`machine` in the folder) names the machine's file by its
 * path in the repo and its SMBIOS UUID from the lock, and `run` refuses the folder to any other
 * machine, whether the folder is reached through `state = "…"` or a symlink.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { diagnose, firmwareChoice, isTpmModel, NVRAM_FILE, stateFolder, TPM_SOCKET, TPM_STATE_DIR } from '../compiler/index.js';
import type { Diagnostic, MachineSpec, PlacedMachine, Span } from '../compiler/index.js';
import { writeAtomic } from './io.js';
import { repoRoot } from './repo.js';
import { isStopping, untilDone } from './signals.js';

const OWNER_FILE = 'machine';

export interface StatePaths {
  readonly dir: string;
  /** The VARS file QEMU writes, when the machine boots UEFI. */
  readonly nvram?: string;
  readonly tpmSocket: string;
  readonly tpmState: string;
}

export function statePaths(spec: MachineSpec, folder: string, stateDir?: string): StatePaths {
  const dir = stateDir ?? resolve(folder, stateFolder(spec));
  const fw = firmwareChoice(spec);
  return {
    dir,
    nvram: fw && (stateDir ? join(stateDir, 'OVMF_VARS.fd') : resolve(folder, fw.nvram)),
    tpmSocket: join(dir, TPM_SOCKET),
    tpmState: join(dir, TPM_STATE_DIR),
  };
}

const fail = (code: string, message: string, file: string, hint: string, span?: Span): Diagnostic => diagnose(code, message, { file, hint, span });

/** The machine a state folder belongs to: its file by its path in the repo that holds the folder (repoPathOf, with `/`), and its SMBIOS UUID. */
export interface OwnerRecord {
  readonly machine: string;
  readonly uuid: string;
}

/** `path`, through the symlinks in it, as far as it exists. */
function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return dirname(path) === path ? path : join(real(dirname(path)), basename(path));
  }
}

/**
 * The path of the machine file `sourcePath` as the owner file of `stateDir` records it: from the
 * top of the repo (cli/repo.ts) that holds the folder, where it really is. For a folder in the
 * machine's own repo that is the machine's path in the repo (`prod/web.machine`); a folder in
 * another repo, or outside git in another folder, records a path that leaves it
 * (`../staging/web.machine`), so two machines of one name and file name never record the same.
 */
export function repoPathOf(sourcePath: string, stateDir: string): string {
  const folder = real(dirname(sourcePath));
  return join(relative(repoRoot(dirname(real(stateDir))), folder), basename(sourcePath)).split(sep).join('/');
}

export const ownerText = (o: OwnerRecord): string => `${JSON.stringify({ machine: o.machine, uuid: o.uuid }, null, 2)}\n`;

/** What an owner file says: the record, a line `NAME FILE` an older machinec wrote, or nothing it can read. */
export function readOwner(text: string): OwnerRecord | { readonly legacy: string } | undefined {
  if (!text.startsWith('{')) return /^\S+ \S[^\n]*\n?$/.test(text) ? { legacy: text.trim() } : undefined;
  try {
    const o = JSON.parse(text) as Partial<OwnerRecord>;
    return typeof o.machine === 'string' && typeof o.uuid === 'string' ? { machine: o.machine, uuid: o.uuid } : undefined;
  } catch {
    return undefined;
  }
}

const SHARED_HINT = 'two machines must not share UEFI variables or a TPM: give this one its own folder with `state = "…"`';

/** Where `dir` leads when it is a symlink, for messages. */
export function symlinkTarget(dir: string): string | undefined {
  try {
    return lstatSync(dir).isSymbolicLink() ? `${readlinkSync(dir)}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claims the state folder for `me`: writes the owner file when there is none, checks it otherwise.
 * An owner file of an older machinec (`NAME FILE`, no path or UUID) is taken over, rewritten with
 * both, only when it names this machine and its file and the folder sits beside the file: a folder
 * elsewhere may be another machine's of the same name and file name.
 */
function claimState(dir: string, me: OwnerRecord, legacy: { line: string; beside: boolean }, at: { shown: string; span?: Span }): Diagnostic | undefined {
  const { shown, span } = at;
  const ownerFile = join(dir, OWNER_FILE);
  const write = (): Diagnostic | undefined => {
    try {
      return void writeAtomic(ownerFile, ownerText(me));
    } catch (e) {
      return fail('state-unwritable', `cannot write the owner file ${ownerFile}: ${(e as Error).message}`, shown, 'check the state folder is writable', span);
    }
  };
  if (!existsSync(ownerFile)) return write();
  let text: string;
  try {
    text = readFileSync(ownerFile, 'utf8');
  } catch (e) {
    return fail('state-unwritable', `cannot read the owner file ${ownerFile}: ${(e as Error).message}`, shown, 'it names the machine the folder belongs to: make it a readable file, or remove it', span);
  }
  const held = readOwner(text);
  const via = symlinkTarget(dir) === undefined ? '' : ` (a symlink to ${real(dir)})`;
  if (held && 'legacy' in held) {
    if (held.legacy === legacy.line && legacy.beside) return write();
    const [name, file] = held.legacy.split(' ');
    const why = held.legacy === legacy.line ? 'by name and file name only, and the folder is not beside this machine\'s file' : 'by name and file name only';
    return fail('state-shared', `the state folder ${dir}${via} belongs to the machine ${name} of a ${file} (recorded ${why}), not to ${me.machine}`, shown, `${SHARED_HINT}; if the folder is this machine's, remove ${ownerFile} and run again`, span);
  }
  if (!held) return fail('state-shared', `the state folder ${dir}${via} has an owner file machinec cannot read: ${ownerFile}`, shown, `${SHARED_HINT}; if the folder is this machine's, remove ${ownerFile} and run again`, span);
  if (held.machine === me.machine && held.uuid === me.uuid) return undefined;
  const other = held.machine === me.machine ? `${held.machine} with the UUID ${held.uuid}` : held.machine;
  return fail('state-shared', `the state folder ${dir}${via} belongs to ${other}, not to ${me.machine} (UUID ${me.uuid})`, shown, `${SHARED_HINT}; a machine moved or given a new UUID (\`lock --regenerate\`) claims its folder again once ${ownerFile} is removed`, span);
}

/** Makes the state folder when it is missing (a dangling symlink, or a file in its place, cannot be made one). */
function makeStateFolder(dir: string, at: { shown: string; span?: Span }): Diagnostic | undefined {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return undefined;
  } catch (e) {
    const link = symlinkTarget(dir);
    const what = link === undefined ? '' : ` (a symlink to ${link}, which is not a folder)`;
    return fail('state-unwritable', `cannot make the state folder ${dir}${what}: ${(e as Error).message}`, at.shown, 'make the folder, or point `state = "…"` at one machinec can create', at.span);
  }
}

/** Makes the state folder `dir` when it is missing and claims it for `machine` (its file at `sourcePath`): run, and export libvirt. */
export function claimStateFolder(machine: PlacedMachine, sourcePath: string, at: { shown: string; span?: Span }, dir: string): Diagnostic | undefined {
  const unmade = makeStateFolder(dir, at);
  if (unmade) return unmade;
  const legacy = { line: `${machine.name} ${basename(sourcePath)}`, beside: dirname(real(dir)) === real(dirname(sourcePath)) };
  return claimState(dir, { machine: repoPathOf(sourcePath, dir), uuid: machine.uuid }, legacy, at);
}

/**
 * Creates the state folder and the VARS copy when they are missing; never overwrites either.
 * With `own`, the folder is claimed for the machine (claimState) before anything in it is used;
 * `span` (its `state = …`, else its name) is where a refusal points.
 */
export function prepareState(machine: PlacedMachine, sourcePath: string, shown: string, paths: StatePaths, options: { own: boolean; span?: Span }): Diagnostic | undefined {
  const at = { shown, span: options.span };
  const problem = options.own ? claimStateFolder(machine, sourcePath, at, paths.dir) : makeStateFolder(paths.dir, at);
  if (problem) return problem;
  const fw = machine.firmware;
  if (fw && paths.nvram && !existsSync(paths.nvram)) {
    try {
      copyFileSync(fw.vars.path, paths.nvram, constants.COPYFILE_EXCL);
    } catch (e) {
      return fail('state-unwritable', `cannot copy the VARS template ${fw.vars.path} to ${paths.nvram}: ${(e as Error).message}`, shown, 'check the state folder is writable and the ovmf package is installed');
    }
  } else if (fw && paths.nvram && fw.vars.size !== undefined && statSync(paths.nvram).size !== fw.vars.size) {
    return fail('nvram-size', `${paths.nvram} has ${statSync(paths.nvram).size} bytes, but the locked VARS template has ${fw.vars.size}`, shown, 'a CODE image boots only with VARS of its own size family (4M with 4M); machinec never overwrites the file: move it away to start from the template');
  }
  return undefined;
}

export const hasTpm = (machine: PlacedMachine): boolean => machine.devices.some((d) => isTpmModel(d.model));

/** Whether something answers on a unix socket. */
function answers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect(path);
    sock.once('connect', () => { sock.destroy(); done(true); });
    sock.once('error', () => done(false));
  });
}

/** Starts swtpm on the machine's TPM state; resolves once its control socket answers. */
export async function startSwtpm(paths: StatePaths, swtpm = 'swtpm', timeoutMs = 10_000): Promise<ChildProcess> {
  mkdirSync(paths.tpmState, { recursive: true, mode: 0o700 });
  if (existsSync(paths.tpmSocket)) {
    if (await answers(paths.tpmSocket)) throw new Error(`an swtpm already serves ${paths.tpmSocket}: is this machine running?`);
    rmSync(paths.tpmSocket, { force: true }); // a socket left by a crash; the TPM state beside it is kept
  }
  if (isStopping()) throw new Error('machinec is stopping on a signal: swtpm not started');
  const child = spawn(swtpm, ['socket', '--tpmstate', `dir=${paths.tpmState}`, '--ctrl', `type=unixio,path=${paths.tpmSocket}`, '--tpm2', '--terminate'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // A signal to machinec ends this swtpm too, whether or not a QEMU ever connected to it.
  const release = untilDone(() => stopSwtpm(child));
  child.once('exit', release);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
  let onEarlyExit = (_code: number | null): void => undefined;
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`cannot start ${swtpm}: ${e.message}`)));
    onEarlyExit = (code: number | null) => reject(new Error(`${swtpm} exited (${code}) before it listened: ${stderr.trim()}`));
    child.once('exit', onEarlyExit);
  });
  exited.catch(() => undefined); // observed below; after start-up its exit is the run's business
  const ready = (async () => {
    for (const start = Date.now(); Date.now() - start < timeoutMs; await new Promise((r) => setTimeout(r, 50))) {
      if (existsSync(paths.tpmSocket)) return;
    }
    throw new Error(`${swtpm} did not create ${paths.tpmSocket} within ${timeoutMs / 1000} s`);
  })();
  try {
    await Promise.race([ready, exited]);
  } catch (e) {
    child.kill('SIGTERM');
    throw e;
  }
  child.removeListener('exit', onEarlyExit);
  return child;
}

/** Ends an swtpm machinec started (it normally ends by itself when QEMU disconnects). */
export function stopSwtpm(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

/**
 * A throwaway state folder for a machine that is started only to be looked at (verify, import's
 * proof): a fresh copy of the locked VARS template, and an swtpm on a fresh TPM state when the
 * machine has a TPM. The machine's own state folder is never opened. `end` stops the swtpm and
 * removes the folder.
 */
export async function throwawayState(machine: PlacedMachine): Promise<{ dir: string; end: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'machinec-state-'));
  let swtpm: ChildProcess | undefined;
  // A signal to machinec ends the swtpm and removes the folder too (cli/signals.ts).
  const release = untilDone(() => end());
  const end = () => {
    release();
    stopSwtpm(swtpm);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (machine.firmware) copyFileSync(machine.firmware.vars.path, join(dir, NVRAM_FILE));
    if (hasTpm(machine)) swtpm = await startSwtpm({ dir, tpmSocket: join(dir, TPM_SOCKET), tpmState: join(dir, TPM_STATE_DIR) });
  } catch (e) {
    end();
    throw e;
  }
  return { dir, end };
}

/** A machine `check` looked at that keeps state (UEFI variables or a TPM): where its state folder and its VARS file are. */
export interface StateOwner {
  readonly shown: string;
  readonly dir: string;
  readonly nvram?: string;
  /** The folder and the VARS file through any symlinks: what two machines must not share. */
  readonly realDir: string;
  readonly realNvram?: string;
  /** Where the state folder leads, when it is a symlink. */
  readonly symlink?: string;
  /** Another machine the folder's owner file names (its path in the repo), when it names one. */
  readonly heldBy?: string;
  /** Where `state = …` and `firmware { … }` are written, for the diagnostic. */
  readonly stateSpan?: Span;
  readonly firmwareSpan?: Span;
}

/** Whom the owner file in `dir` names, when it is not the machine at `path` (read only: `check` writes nothing). */
function heldByOther(dir: string, path: string, name: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, OWNER_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const held = readOwner(text);
  if (!held) return `whatever ${join(dir, OWNER_FILE)} says (machinec cannot read it)`;
  if (!('legacy' in held)) return held.machine === repoPathOf(path, dir) ? undefined : held.machine;
  // As run takes it over: naming this machine and its file, beside the file.
  if (held.legacy === `${name} ${basename(path)}` && dirname(real(dir)) === real(dirname(path))) return undefined;
  const [heldName, heldFile] = held.legacy.split(' ');
  return `the machine ${heldName} of a ${heldFile} (an older machinec's owner file, by name and file name only)`;
}

/** The state `machine` (its file at `path`, absolute) keeps, or undefined when it keeps none. */
export function stateOwner(shown: string, path: string, spec: MachineSpec, machine: PlacedMachine): StateOwner | undefined {
  if (!machine.firmware && !hasTpm(machine)) return undefined;
  const paths = statePaths(spec, resolve(path, '..'));
  return {
    shown,
    dir: paths.dir,
    nvram: paths.nvram,
    realDir: real(paths.dir),
    realNvram: paths.nvram && real(paths.nvram),
    symlink: symlinkTarget(paths.dir),
    heldBy: heldByOther(paths.dir, path, machine.name),
    stateSpan: spec.properties.get('state')?.value?.span,
    firmwareSpan: spec.properties.get('firmware')?.value?.span,
  };
}

/**
 * Two machines with one state folder (or one VARS file, by `nvram = "…"`), through symlinks or not,
 * share UEFI variables and a TPM: `check` says so before either runs, and when the folder's owner
 * file names another machine (`run` refuses both, by the owner file).
 */
export function sharedState(owners: readonly StateOwner[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Map<string, StateOwner>();
  const hint = 'two machines must not share UEFI variables or a TPM: give this one its own folder with `state = "…"` (or its own `nvram`)';
  for (const o of owners) {
    for (const [what, key, shownKey] of [['state folder', o.realDir, o.dir], ['VARS file', o.realNvram, o.nvram]] as const) {
      if (!key) continue;
      const first = seen.get(`${what} ${key}`);
      if (!first) {
        seen.set(`${what} ${key}`, o);
        continue;
      }
      const span = what === 'state folder' ? o.stateSpan : o.firmwareSpan;
      const through = key === shownKey ? '' : ` (${key}, through a symlink)`;
      out.push({ code: 'state-shared', severity: 'error', message: `${o.shown} and ${first.shown} share the ${what} ${shownKey}${through}`, file: o.shown, span, hint });
      break;
    }
    if (o.heldBy) out.push({ code: 'state-shared', severity: 'error', message: `the owner file of the state folder ${o.dir} names ${o.heldBy}, not ${o.shown}`, file: o.shown, span: o.stateSpan, hint });
  }
  return out;
}

/** State folders that are symlinks: machinec follows them, and says where they lead. */
export function symlinkedState(owners: readonly StateOwner[]): Diagnostic[] {
  return owners.flatMap((o) =>
    o.symlink === undefined
      ? []
      : [{ code: 'state-symlink', severity: 'warning' as const, message: `the state folder ${o.dir} of ${o.shown} is a symlink to ${o.symlink} (${o.realDir})`, file: o.shown, span: o.stateSpan, hint: 'run follows it and refuses it when its owner file names another machine; a folder of its own, not a link, keeps this machine\'s UEFI variables and TPM its own' }],
  );
}
