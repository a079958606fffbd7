/**
 * One CLI run: where output goes, whether it is coloured, the QEMU it talks to (asked once),
 * and every text read so far, so diagnostics can show their source lines.
 */
import { dirname, resolve } from 'node:path';
import { DEFAULT_QEMU_BINARY, compile, diagnose, type Approval, type CompileInput, type Compilation, type Diagnostic, type HostFacts, type HostNeeds, type QemuInfo } from '../compiler/index.js';
import { digestFiles } from './host-files.js';
import { cpuAliases } from './qemu/cpu-models.js';
import { RepoValues } from './repo.js';
import { displayPath, FolderListings, lockPathOf, mayNeedRecovery, readIfExists, readText, recoverWrites, useColor, type Io } from './io.js';
import { findQemu, listMachineTypes } from './qemu/machine-types.js';
import { renderDiagnostic, renderDiagnostics } from './render-diagnostic.js';

export interface CompiledFile {
  readonly path: string;
  readonly shown: string;
  readonly lockPath: string;
  readonly lockShown: string;
  /** The lock on disk before this run, if any. */
  readonly lockText?: string;
  readonly compilation?: Compilation;
  readonly diagnostics: Diagnostic[];
  /** In a worker session: this machine needs what only the main thread does (see the constructor); nothing else is set. */
  readonly redo?: true;
}

export class Session {
  readonly color: boolean;
  readonly sources = new Map<string, string>();
  /** Each folder listed once per run (temp files and journals to recover, the tree a file sits in). */
  private readonly listings = new FolderListings();
  private readonly repoValues: RepoValues;

  /**
   * `worker`: this session runs in a worker thread (cli/parallel.ts) with the main thread's answer
   * from QEMU. It never changes a file, starts a process or prints a note: a machine that would
   * need one of these comes back `redo`, for the main thread to compile as a run on one thread would.
   */
  constructor(
    readonly io: Io,
    readonly qemuOption?: string,
    private readonly worker?: { readonly qemu: QemuInfo | undefined },
  ) {
    this.color = useColor(io);
    this.repoValues = new RepoValues(io);
    if (worker) this.qemuAnswer = Promise.resolve({ info: worker.qemu });
  }

  /** The binary named in printed command lines: --qemu as given, else qemu-system-x86_64 (never a machine-specific path). */
  get binaryName(): string {
    return this.qemuOption ?? DEFAULT_QEMU_BINARY;
  }

  /** The QEMU binary: --qemu, else qemu-system-x86_64 on PATH. */
  get qemuPath(): string | undefined {
    return findQemu(this.qemuOption);
  }

  /** Machine types of the installed QEMU, asked once per run (and cached per binary across runs), with the note a build prints when it cannot ask. */
  private qemuAnswer?: Promise<{ info?: QemuInfo; note?: string }>;
  askQemu(): Promise<{ info?: QemuInfo; note?: string }> {
    this.qemuAnswer ??= (async () => {
      const path = this.qemuPath;
      if (!path) return { note: `note: ${this.qemuOption ?? DEFAULT_QEMU_BINARY} not found: machine types come from the lock, or default to pc-i440fx-7.2 and pc-q35-7.2 (QEMU 7.2)\n` };
      try {
        const mt = await listMachineTypes(path);
        return { info: { machineTypes: mt.types, aliases: mt.aliases } };
      } catch (e) {
        return { note: `note: could not ask ${path} for its machine types (${(e as Error).message.split('\n')[0]}); using the lock's or the defaults\n` };
      }
    })();
    return this.qemuAnswer;
  }

  private qemuNoted = false;
  /** How many times a build of this session asked for QEMU's machine types (a worker's machines say whether they did). */
  qemuAsks = 0;
  /** The installed QEMU's machine types; the first build that asks prints why there are none. */
  async qemu(): Promise<QemuInfo | undefined> {
    this.qemuAsks++;
    const answer = await this.askQemu();
    this.noteQemu(answer.note);
    return answer.info;
  }

  /** Prints why QEMU gave no machine types, once per run: where a build first asks (in a worker's share, the main thread prints it in that machine's turn). */
  noteQemu(note: string | undefined): void {
    if (note && !this.qemuNoted) this.io.stderr(note);
    this.qemuNoted = true;
  }

  /** Firmware digests and CPU aliases for a build, asked for by the compilation's `needs`. */
  private async hostFacts(needs: HostNeeds | undefined, known: HostFacts, folder: string, qemu: boolean): Promise<HostFacts | 'redo' | undefined> {
    if (!needs) return undefined;
    const files = needs.files.map((f) => resolve(folder, f));
    const missing = files.filter((f) => !known.files || !Object.hasOwn(known.files, f));
    const type = needs.cpuDefinitionsFor;
    const wantCpu = qemu && type !== undefined && !known.cpuAliases?.[type] && this.qemuPath !== undefined;
    if (!missing.length && !wantCpu) return undefined;
    if (wantCpu && this.worker) return 'redo';
    const digests = { ...known.files, ...digestFiles(missing) };
    // The compiler asks by the path as written; relative paths are relative to the machine's folder.
    for (const f of needs.files) digests[f] = digests[resolve(folder, f)];
    let cpu = known.cpuAliases;
    if (wantCpu) {
      try {
        cpu = { ...cpu, [type]: await cpuAliases(this.qemuPath!, type) };
      } catch (e) {
        this.io.stderr(`note: could not ask ${this.qemuPath} for its CPU models (${(e as Error).message.split('\n')[0]}); unversioned CPU models stay unresolved\n`);
        cpu = { ...cpu, [type]: {} };
      }
    }
    return { ...known, files: digests, cpuAliases: cpu };
  }

  async compileFile(path: string, options: { prune?: boolean; qemu?: boolean; update?: readonly Approval[]; regenerate?: CompileInput['regenerate'] } = {}): Promise<CompiledFile> {
    const full = resolve(this.io.cwd, path);
    const shown = displayPath(this.io, full);
    const lockPath = lockPathOf(full);
    const lockShown = displayPath(this.io, lockPath);
    const redo: CompiledFile = { path: full, shown, lockPath, lockShown, diagnostics: [], redo: true };
    if (this.worker && mayNeedRecovery(full, this.listings)) return redo;
    const recovered = this.worker ? undefined : recoverWrites(full, this.listings);
    if (recovered) this.io.stderr(`note: ${recovered}\n`);
    const source = readText(full, shown, 'machine file', this.io.cwd, this.listings);
    if (!source.ok) return { path: full, shown, lockPath, lockShown, diagnostics: [source.diagnostic] };
    this.sources.set(shown, source.text);
    const lock = readIfExists(lockPath, lockShown, 'lock', this.io.cwd, this.listings);
    if (lock && !lock.ok) return { path: full, shown, lockPath, lockShown, diagnostics: [lock.diagnostic] };
    const lockText = lock?.text;
    if (lockText !== undefined) this.sources.set(lockShown, lockText);
    const qemu = options.qemu === false ? undefined : await this.qemu();
    const input: CompileInput = { file: shown, source: source.text, lock: lockText === undefined ? undefined : { file: lockShown, text: lockText }, qemu, prune: options.prune, update: options.update, regenerate: options.regenerate };
    let host: HostFacts = { today: new Date().toISOString().slice(0, 10) };
    let compilation = compile({ ...input, host });
    // A build that pins firmware or a CPU model says what to read; read it and build again.
    for (let round = 0; round < 2; round++) {
      const more = await this.hostFacts(compilation.needs, host, dirname(full), options.qemu !== false);
      if (!more) break;
      if (more === 'redo') return redo;
      host = more;
      compilation = compile({ ...input, host });
    }
    // Something new to lock: new MACs, UUIDs and GUIDs avoid every value the repo's other locks
    // hold, and a machine locked later in this run avoids these.
    if (compilation.ok && (compilation.lockText !== lockText || options.regenerate)) {
      if (this.worker) return redo;
      compilation = compile({ ...input, host, taken: this.repoValues.takenBy(full) });
      if (compilation.ok && compilation.machine) this.repoValues.record(full, compilation.machine);
    }
    return { path: full, shown, lockPath, lockShown, lockText, compilation, diagnostics: compilation.diagnostics };
  }

  report(diagnostics: readonly Diagnostic[]): void {
    if (diagnostics.length) this.io.stderr(renderDiagnostics(diagnostics, this.sources, this.color));
  }

  /** A command's failure, rendered like every diagnostic (without the count line); returns `status`. */
  fail(code: string, message: string, at: Parameters<typeof diagnose>[2] = {}, status = 1): number {
    this.io.stderr(`${renderDiagnostic(diagnose(code, message, at), this.sources, this.color)}\n`);
    return status;
  }
}
