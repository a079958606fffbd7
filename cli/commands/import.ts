/**
 * `machinec import --name NAME [--out DIR] -- qemu-system-x86_64 ARGS…` and
 * `machinec import --qmp SOCKET --name NAME`: adopt an existing VM without a single device moving.
 *
 * The command line is run once for inspection (TCG, no display or monitor, null-co stand-ins for
 * disks, user networking for tap and bridge, the firmware allowed to number the buses); a running
 * VM is only read. From QEMU's qdev tree (`info qtree`) and `query-pci`, import writes NAME.machine
 * and NAME.machine.lock that reproduce every PCI device, the implicit ones included, at its bus,
 * slot and function with its vendor:device ID, MAC, serial and chassis number. Before writing, the
 * built command line is started as well and its guest view compared with the original's, device by
 * device: nothing is written unless they are the same.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_QEMU_BINARY, emit, compile, isChipset, sharedValues, type Diagnostic, type HostFacts, type LockedFile } from '../../compiler/index.js';
import { digestFiles } from '../host-files.js';
import { displayPath, findMachines, lockPathOf, writeAtomic } from '../io.js';
import { repoRoot } from '../repo.js';
import { cpuAliases } from '../qemu/cpu-models.js';
import { untilDone } from '../signals.js';
import { startSwtpm, stopSwtpm, throwawayState } from '../vm-state.js';
import { connectQmp, findQemu, flattenQueryPci, QemuLaunchError, waitForStableGuestView, withQemu, type QmpClient, type QmpPciBus } from '../qemu/index.js';
import { adopt, AdoptError, compareViews, type Adopted, type Backends, type Inspection } from '../import/adopt.js';
import { inspect, qmpBackends } from '../import/inspect.js';
import { readCommandLine, type ReadCommandLine } from '../import/qemu-args.js';
import type { NetBackend } from '../import/qemu-syntax.js';
import { allDevices } from '../import/qtree.js';
import { libvirtCommandLine, loadLibvirtXml } from '../import/libvirt.js';
import type { Session } from '../session.js';

export interface ImportOptions {
  /** Required but for a libvirt domain, whose `<name>` it defaults to. */
  readonly name?: string;
  readonly out?: string;
  readonly qmp?: string;
  /** `--libvirt DOMAIN.xml` / `--libvirt-domain NAME`: the libvirt domain read into its QEMU command line (cli/import/libvirt.ts). */
  readonly libvirt?: string;
  readonly libvirtDomain?: string;
  readonly timeoutMs: number;
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** The options once the machine's name is known. */
type Named = ImportOptions & { readonly name: string };

/** A problem under a failure's message, one a line. */
const listItem = (p: string): string => `\n  - ${p}`;
const nothingWritten = (s: Session): number => {
  s.io.stderr('nothing was written\n');
  return 1;
};

function usage(s: Session, message: string, hint: string): number {
  return s.fail('usage', message, { hint }, 2);
}

/** Backends named on the command line, by the names QEMU gives them in the inspection run. */
function probeFormat(file: string): string | undefined {
  try {
    const fd = openSync(file, 'r');
    try {
      const head = Buffer.alloc(4);
      readSync(fd, head, 0, 4, 0);
      return head.toString('latin1') === 'QFI\xfb' ? 'qcow2' : 'raw';
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function commandLineBackends(read: ReadCommandLine, inspection: Inspection, cwd: string): Backends {
  // `-nic` netdevs are called `#netN` (numbered in creation order) unless the -nic has an id.
  const anonymous = [...new Set([...allDevices(inspection.qtree)].map((d) => d.props.get('netdev') ?? '').filter((n) => n.startsWith('#')))].sort(
    (a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, '')),
  );
  const nicIds = new Map<string, NetBackend>();
  const unnamed = read.nics.filter((n) => !n.id);
  for (const n of read.nics) if (n.id) nicIds.set(n.id, n);
  anonymous.forEach((name, k) => unnamed[k] && nicIds.set(name, unnamed[k]));
  return {
    net: (name) => read.netdevs.get(name) ?? nicIds.get(name) ?? (/^hub\d+port\d+$/.test(name) ? read.hubBackend ?? { type: 'user', options: [] } : undefined),
    block: (name) => read.drives.get(name),
    chardev: (name) => read.chardevs.get(name),
    fsdev: (name) => read.fsdevs.get(name),
    probe: (file) => probeFormat(isAbsolute(file) ? file : resolve(cwd, file)),
  };
}

/** Let the firmware number the buses, then read the VM. */
async function inspectLaunched(qmp: QmpClient, timeoutMs: number): Promise<Inspection> {
  await waitForStableGuestView(qmp, { timeoutMs });
  return inspect(qmp);
}

/** A running VM may still be in its firmware: wait (never `cont`) until query-pci stops changing and every bridge is numbered. */
async function settled(qmp: QmpClient, timeoutMs: number): Promise<void> {
  const started = Date.now();
  let previous = '';
  for (;;) {
    const raw = await qmp.execute<QmpPciBus[]>('query-pci');
    const text = JSON.stringify(raw);
    const numbered = flattenQueryPci(raw).every((d) => d.secondaryBus === undefined || d.secondaryBus !== 0);
    if ((numbered && text === previous) || Date.now() - started > timeoutMs) return;
    previous = text;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** What a build of the imported source would read from the host: firmware digests, the CPU model's versioned name. */
async function hostFactsFor(source: string, name: string, qemu: string | undefined): Promise<HostFacts | undefined> {
  const c = compile({ file: `${name}.machine`, source });
  const needs = c.needs;
  if (!needs || (!needs.files.length && !needs.cpuDefinitionsFor)) return undefined;
  const type = needs.cpuDefinitionsFor;
  return { files: digestFiles(needs.files), cpuAliases: type && qemu ? { [type]: await cpuAliases(qemu, type) } : undefined };
}

/** The written source as `machinec fmt` leaves it (prettier is loaded only here, in import's own bundle). */
async function formatted(source: string, path: string): Promise<string> {
  const [prettier, { default: plugin }] = await Promise.all([import('prettier'), import('../../prettier-plugin/index.js')]);
  const config = (await prettier.resolveConfig(path, { editorconfig: true })) ?? {};
  return prettier.format(source, { ...config, plugins: [plugin], parser: 'machine', filepath: path });
}

/** An swtpm for the inspection run's TPM, on a throwaway state: the VM's own swtpm is never connected to. */
async function inspectionSwtpm(read: ReadCommandLine, scratch: string): Promise<ChildProcess | undefined> {
  if (!read.inspectionTpm) return undefined;
  return startSwtpm({ dir: scratch, tpmSocket: read.inspectionTpm, tpmState: join(scratch, 'tpm') });
}

export async function importCommand(s: Session, given: readonly string[], options: ImportOptions): Promise<number> {
  let command = given;
  let opts = options as Named;
  let libvirt: LibvirtSource | undefined;
  if (opts.libvirt || opts.libvirtDomain) {
    if (given.length || opts.qmp || (opts.libvirt && opts.libvirtDomain)) return usage(s, 'give one of --libvirt FILE, --libvirt-domain NAME, --qmp SOCKET or a command line after --', 'machinec import --libvirt web.xml --name web');
    const loaded = loadLibvirtXml(s.io.cwd, s.io.env, { file: opts.libvirt, domain: opts.libvirtDomain });
    if ('error' in loaded) {
      s.fail('import-failed', loaded.error, { hint: loaded.hint });
      return nothingWritten(s);
    }
    const read = libvirtCommandLine(loaded.xml);
    if (read.errors.length) {
      s.fail('import-failed', `${loaded.origin}: ${read.errors.length} thing${read.errors.length === 1 ? '' : 's'} machinec cannot carry:${read.errors.map(listItem).join('')}`);
      return nothingWritten(s);
    }
    command = [DEFAULT_QEMU_BINARY, ...read.args];
    libvirt = { origin: loaded.origin, notes: read.notes, notNeeded: read.notNeeded };
    if (opts.name === undefined && !(read.name && NAME.test(read.name))) {
      return usage(s, `the domain's name ${read.name ?? '(none)'} is not a machine name`, 'pass --name NAME (a letter, then letters, digits, "-" and "_")');
    }
    opts = { ...opts, name: opts.name ?? read.name! };
  }
  if (opts.name === undefined) return usage(s, 'import needs --name NAME', `machinec import --name web -- ${DEFAULT_QEMU_BINARY} …`);
  const scratch = mkdtempSync(join(tmpdir(), 'machinec-import-'));
  const remove = () => rmSync(scratch, { recursive: true, force: true });
  const release = untilDone(remove); // a signal removes it too (cli/signals.ts)
  try {
    return await importInto(s, command, opts, scratch, libvirt);
  } finally {
    release();
    remove();
  }
}

/** A libvirt domain read into its QEMU command line (cli/import/libvirt.ts): where it came from, what it does not carry. */
interface LibvirtSource {
  readonly origin: string;
  readonly notes: string[];
  /** What the domain says that the guest does not see, each with why. */
  readonly notNeeded: string[];
}

/** Where import writes: NAME.machine and NAME.machine.lock in --out. */
interface Targets {
  readonly outDir: string;
  readonly sourcePath: string;
  readonly lockPath: string;
}

/** The name and what to import checked, and the files to write not there yet: the files, or a failure's exit status. */
function importTargets(s: Session, command: readonly string[], opts: Named): Targets | number {
  if (!NAME.test(opts.name)) return usage(s, `--name ${opts.name} is not a machine name`, 'a name starts with a letter and holds letters, digits, "-" and "_"');
  if (opts.qmp && command.length) return usage(s, 'give either --qmp SOCKET or a command line after --, not both', 'machinec import --qmp /run/vm.qmp --name NAME');
  if (!opts.qmp && !command.length) return usage(s, 'no QEMU command line to import', `machinec import --name NAME -- ${DEFAULT_QEMU_BINARY} -machine q35 …`);
  const outDir = resolve(s.io.cwd, opts.out ?? '.');
  const sourcePath = join(outDir, `${opts.name}.machine`);
  const lockPath = join(outDir, `${opts.name}.machine.lock`);
  for (const p of [sourcePath, lockPath]) {
    if (existsSync(p)) {
      return s.fail('import-exists', `${displayPath(s.io, p)} already exists`, { hint: 'import never overwrites a machine: choose another --name or --out, or remove it first' });
    }
  }
  return { outDir, sourcePath, lockPath };
}

/** What import read of the VM: QEMU's view of it, its backends, and the command line where it had one. */
interface Inspected {
  readonly inspection: Inspection;
  readonly backends: Backends;
  readonly read?: ReadCommandLine;
}

/** A running VM read over its QMP socket, never changed: what it shows, or a failure's exit status. */
async function inspectRunning(s: Session, qmpPath: string, timeoutMs: number): Promise<Inspected | number> {
  const sock = isAbsolute(qmpPath) ? qmpPath : resolve(s.io.cwd, qmpPath);
  const qmp = await connectQmp(sock, { timeoutMs: Math.min(timeoutMs, 5_000) });
  try {
    const status = await qmp.execute<{ status: string }>('query-status');
    if (status.status === 'prelaunch') {
      return s.fail('import-not-started', 'the VM has not run its firmware yet (started with -S and never continued): its bridges have no bus numbers', { hint: 'continue it (QMP `cont`) and import again; import only reads a running VM, it never changes it' });
    }
    await settled(qmp, timeoutMs);
    const inspection = await inspect(qmp);
    const backends = await qmpBackends(qmp);
    return { inspection, backends };
  } finally {
    await qmp.close();
  }
}

/** A QEMU command line run once for inspection (with a throwaway swtpm for its TPM): what it shows, or a failure's exit status. */
async function inspectCommandLine(s: Session, qemu: string | undefined, args: readonly string[], timeoutMs: number, scratch: string): Promise<Inspected | number> {
  if (!qemu) return s.fail('qemu-missing', `${DEFAULT_QEMU_BINARY} not found`, { hint: 'install it (Debian: apt-get install qemu-system-x86) or give its path as the first word after --' }, 2);
  const read = readCommandLine(args, s.io.cwd, scratch);
  if (read.errors.length) return usage(s, read.errors.join('; '), 'give the command line as QEMU takes it, after --');
  const swtpm = await inspectionSwtpm(read, scratch);
  const release = untilDone(() => stopSwtpm(swtpm));
  let inspection: Inspection;
  try {
    inspection = await withQemu({ qemu, args: read.inspectionArgs, timeoutMs }, (h) => inspectLaunched(h.qmp, timeoutMs));
  } finally {
    release();
    stopSwtpm(swtpm);
  }
  return { inspection, backends: commandLineBackends(read, inspection, s.io.cwd), read };
}

/** The VM inspected over QMP or from its command line; not being able to is qemu-failed. */
async function inspectVm(s: Session, opts: Named, qemu: string | undefined, args: readonly string[], scratch: string): Promise<Inspected | number> {
  try {
    return opts.qmp ? await inspectRunning(s, opts.qmp, opts.timeoutMs) : await inspectCommandLine(s, qemu, args, opts.timeoutMs, scratch);
  } catch (e) {
    const err = e as Error;
    return s.fail('qemu-failed', `could not inspect the VM: ${err instanceof QemuLaunchError ? err.message : err.message.split('\n')[0]}`, {}, 2);
  }
}

/** The inspected VM as a `.machine` and its lock, pinning what a build reads from the host: the pair, or import-failed's exit status. */
async function adoptInspected(s: Session, opts: Named, { inspection, backends, read }: Inspected, qemu: string | undefined, libvirt?: LibvirtSource): Promise<Adopted | number> {
  try {
    const word = read?.machineWord;
    const versioned = word && !isChipset(word) && word !== 'none' ? inspection.machineType : undefined;
    const options = {
      name: opts.name,
      chipsetWord: versioned,
      accel: read?.accel,
      uuidInSource: read ? read.uuidGiven : !/^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(inspection.uuid),
      origin: libvirt?.origin ?? (opts.qmp ? `the running VM at ${opts.qmp}` : 'a QEMU command line'),
      properties: read?.properties,
      topology: read ? read.topologyGiven : inspection.cpus > 1,
    };
    const adopted = adopt(inspection, backends, options);
    // Built again with what a build reads from the host, the lock pins the firmware images and the CPU model's versioned name.
    const host = await hostFactsFor(adopted.source, opts.name, qemu);
    return host ? adopt(inspection, backends, { ...options, host }) : adopted;
  } catch (e) {
    if (!(e instanceof AdoptError)) throw e;
    s.fail('import-failed', `${e.message}${e.problems.length ? ':' : ''}${e.problems.map(listItem).join('')}`, { hint: e.hint });
    return nothingWritten(s);
  }
}

/** The proof before writing: the built machine, started for real, shows the guest what the VM does; a failure's exit status if not. */
async function proveBuilt(s: Session, opts: Named, qemu: string, inspection: Inspection, adopted: Adopted): Promise<number | undefined> {
  const c = compile({ file: `${opts.name}.machine`, source: adopted.source, lock: { file: `${opts.name}.machine.lock`, text: adopted.lock } });
  let state: Awaited<ReturnType<typeof throwawayState>> | undefined;
  try {
    // With its own firmware (a throwaway copy of the VARS template) and TPM (a throwaway swtpm), as verify boots it.
    state = await throwawayState(c.machine!);
    const argv = emit(c.spec!, c.machine!, { standIns: { fileExists: () => false, resolveFile: (p) => p }, state: state.dir });
    const built = await withQemu({ qemu, args: argv, timeoutMs: opts.timeoutMs }, async (h) => (await waitForStableGuestView(h.qmp, { timeoutMs: opts.timeoutMs })).devices);
    const diff = compareViews(adopted.machine, built);
    const original = new Map(inspection.guest.map((g) => [`${g.bus}:${g.slot}.${g.fn}`, `${g.vendor}:${g.device}`]));
    for (const g of built) if (original.get(`${g.bus}:${g.slot}.${g.fn}`) !== `${g.vendor}:${g.device}`) diff.push(`${g.qdevId || 'a device'} differs from the original at ${g.bus}:${g.slot}.${g.fn}`);
    if (built.length !== inspection.guest.length) diff.push(`the original has ${inspection.guest.length} PCI functions, the built machine ${built.length}`);
    if (diff.length) {
      s.fail('import-failed', `the built machine does not show the guest what the original does:${diff.map(listItem).join('')}`);
      return nothingWritten(s);
    }
    return undefined;
  } catch (e) {
    s.fail('qemu-failed', `could not start the imported machine: ${(e as Error).message.split('\n')[0]}`);
    return nothingWritten(s);
  } finally {
    state?.end();
  }
}

/**
 * Notes for the MACs, UUID and VM generation IDs the imported lock shares with another lock of its repo: two VMs
 * started with QEMU's defaults both have MAC 52:54:00:12:34:56 and an all-zero UUID. Import keeps them (the guest's
 * network set-up and licences know them) and says how to give the copy new ones before `check` refuses the pair.
 */
function sharedWithRepo(s: Session, sourcePath: string, lock: LockedFile): string[] {
  const others: LockedFile[] = [];
  for (const m of findMachines([repoRoot(dirname(sourcePath))])) {
    if (resolve(m) === resolve(sourcePath) || !existsSync(lockPathOf(m))) continue;
    others.push({ file: displayPath(s.io, lockPathOf(m)), text: readFileSync(lockPathOf(m), 'utf8') });
  }
  return sharedValues([...others, lock])
    .filter((d) => d.file === lock.file)
    .map((d) => `${d.message}: import keeps the values the original VM has (QEMU's defaults, when it was started without mac= or -uuid), and \`machinec check\` reports the pair as duplicate-in-repo until one changes; ${d.hint ?? ''}`);
}

/** Writes the lock, then the formatted source, and says what was imported and what was not carried over. */
async function writeImported(s: Session, opts: Named, { outDir, sourcePath, lockPath }: Targets, adopted: Adopted, read?: ReadCommandLine, libvirt?: LibvirtSource): Promise<number> {
  mkdirSync(outDir, { recursive: true });
  const source = await formatted(adopted.source, sourcePath);
  writeAtomic(lockPath, adopted.lock);
  writeAtomic(sourcePath, source);
  const pci = adopted.machine.devices.filter((d) => d.attachment === 'pci').length;
  s.io.stdout(`imported ${opts.name} (${adopted.machine.machineType}): ${adopted.machine.devices.length} devices, ${pci} on PCI, each where the original has it\n  ${displayPath(s.io, sourcePath)}\n  ${displayPath(s.io, lockPath)}\n`);
  const shown = displayPath(s.io, sourcePath);
  const run = `the imported machine differs from the original there: pass what it needs in \`qemu-args\` or with \`machinec run ${opts.name}.machine -- …\``;
  const warnings: Diagnostic[] = [...(read?.notCarried ?? []), ...(libvirt?.notes ?? [])].map((o) => ({ code: 'import-not-carried', severity: 'warning', message: o.includes('not carried over') ? o : `${o} is not carried over`, file: shown, hint: run }));
  s.report(warnings);
  for (const n of adopted.notes) s.io.stderr(`note: ${n}\n`);
  for (const n of sharedWithRepo(s, sourcePath, { file: displayPath(s.io, lockPath), text: adopted.lock })) s.io.stderr(`note: ${n}\n`);
  for (const n of libvirt?.notNeeded ?? []) s.io.stderr(`note: not needed: ${n}\n`);
  return 0;
}

/** Import proper: check, inspect, adopt, prove, write. */
async function importInto(s: Session, command: readonly string[], opts: Named, scratch: string, libvirt?: LibvirtSource): Promise<number> {
  const targets = importTargets(s, command, opts);
  if (typeof targets === 'number') return targets;
  const [first, ...rest] = command;
  const binary = first && !first.startsWith('-') ? first : undefined;
  const qemu = findQemu(binary) ?? s.qemuPath;
  const inspected = await inspectVm(s, opts, qemu, binary ? rest : command, scratch);
  if (typeof inspected === 'number') return inspected;
  const adopted = await adoptInspected(s, opts, inspected, qemu, libvirt);
  if (typeof adopted === 'number') return adopted;
  if (qemu) {
    const failed = await proveBuilt(s, opts, qemu, inspected.inspection, adopted);
    if (failed !== undefined) return failed;
  }
  return writeImported(s, opts, targets, adopted, inspected.read, libvirt);
}
