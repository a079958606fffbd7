/**
 * The per-VM state folder (`NAME.state/` beside the file, or `state = "…"`): the machine's own
 * UEFI variables (a copy of the locked VARS template, made once) and its TPM's state. machinec
 * creates it and what is missing in it, and never deletes or overwrites anything there. It is
 * owned by one machine: a second machine pointing at it is an error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { basename, join, resolve } from 'node:path';
import { diagnose, firmwareChoice, isTpmModel, NVRAM_FILE, stateFolder, TPM_SOCKET, TPM_STATE_DIR, type Diagnostic, type MachineSpec, type PlacedMachine, type Span } from '../compiler/index.js';
import { writeAtomic } from './io.js';
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

const fail = (code: string, message: string, file: string, hint: string): Diagnostic => diagnose(code, message, { file, hint });

/**
 * Creates the state folder and the VARS copy when they are missing; never overwrites either.
 * `owner` names the machine (its file), written once into the folder and checked on every run.
 */
export function prepareState(machine: PlacedMachine, sourcePath: string, shown: string, paths: StatePaths, options: { own: boolean }): Diagnostic | undefined {
  const owner = `${machine.name} ${basename(sourcePath)}\n`;
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  if (options.own) {
    const ownerFile = join(paths.dir, OWNER_FILE);
    if (existsSync(ownerFile)) {
      const held = readFileSync(ownerFile, 'utf8');
      if (held !== owner) return fail('state-shared', `the state folder ${paths.dir} belongs to another machine (${held.trim()}), not to ${owner.trim()}`, shown, 'two machines must not share UEFI variables or a TPM: give this one its own folder with `state = "…"`');
    } else writeAtomic(ownerFile, owner);
  }
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
  /** Where `state = …` and `firmware { … }` are written, for the diagnostic. */
  readonly stateSpan?: Span;
  readonly firmwareSpan?: Span;
}

/** The state `machine` (its file at `path`, absolute) keeps, or undefined when it keeps none. */
export function stateOwner(shown: string, path: string, spec: MachineSpec, machine: PlacedMachine): StateOwner | undefined {
  if (!machine.firmware && !hasTpm(machine)) return undefined;
  const paths = statePaths(spec, resolve(path, '..'));
  return { shown, dir: paths.dir, nvram: paths.nvram, stateSpan: spec.properties.get('state')?.value?.span, firmwareSpan: spec.properties.get('firmware')?.value?.span };
}

/**
 * Two machines with one state folder (or one VARS file, by `nvram = "…"`) share UEFI variables
 * and a TPM: `check` says so before either runs (`run` refuses it too, by the owner file).
 */
export function sharedState(owners: readonly StateOwner[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Map<string, StateOwner>();
  for (const o of owners) {
    for (const [what, key] of [['state folder', o.dir], ['VARS file', o.nvram]] as const) {
      if (!key) continue;
      const first = seen.get(`${what} ${key}`);
      if (!first) {
        seen.set(`${what} ${key}`, o);
        continue;
      }
      const span = what === 'state folder' ? o.stateSpan : o.firmwareSpan;
      out.push({ code: 'state-shared', severity: 'error', message: `${o.shown} and ${first.shown} share the ${what} ${key}`, file: o.shown, span, hint: 'two machines must not share UEFI variables or a TPM: give this one its own folder with `state = "…"` (or its own `nvram`)' });
      break;
    }
  }
  return out;
}
