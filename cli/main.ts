/** The machinec command line. `main` is what the binary runs, and what tests call in-process. */
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { displayPath, FileWriteError, type Io } from './io.js';
import { DEFAULT_QEMU_BINARY, diagnose } from '../compiler/index.js';
import { isDeviceId } from '../grammar/index.js';
import { renderDiagnostic, renderDiagnostics } from './render-diagnostic.js';
import { Session } from './session.js';
import { buildCommand, checkCommand, commandShare, lockCommand, planCommand, pruneCommand, runCommand, type ShareTask } from './commands/build.js';
import { diffCommand } from './commands/diff.js';
import { renameCommand } from './commands/rename.js';

export const VERSION = '0.1.0';

const formatOption = () => new Option('--format <format>', 'shell (paste-safe, one option a line), json (an array), or lines (one argument a line)').choices(['shell', 'json', 'lines']).default('shell');
const planFormatOption = () => new Option('--format <format>', 'text (for a terminal), json, or markdown (a pull-request comment with a picture of the buses)').choices(['text', 'json', 'markdown']).default('text');
const qemuOption = () => new Option('--qemu <path>', `the QEMU binary (default: ${DEFAULT_QEMU_BINARY} on PATH)`);

/** The longest --timeout: a day (Node's timers stop at 2^31 ms, about 24.8 days). */
const MAX_TIMEOUT_S = 86_400;

/** A bad option value: said as a usage diagnostic, exit 2. */
class UsageError extends Error {}

/** `--timeout S`: a plain decimal number of seconds, more than 0 and at most a day (no exponent, no sign). */
export function parseTimeout(text: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds > 0) || seconds > MAX_TIMEOUT_S) throw new UsageError(`--timeout takes a number of seconds above 0 and at most ${MAX_TIMEOUT_S} (e.g. 20 or 2.5), not ${JSON.stringify(text)}`);
  return Math.round(seconds * 1000);
}

/** `--jobs N`: threads to compile on, 1 to 64. */
export function parseJobs(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 64)) throw new UsageError(`--jobs takes a whole number of threads from 1 to 64, not ${JSON.stringify(text)}`);
  return n;
}

const jobsOption = () => new Option('-j, --jobs <n>', 'compile on N threads (default: one per two CPUs); what it prints and writes is the same on any number').argParser(parseJobs);

/** `--git REV`: a revision, never something git would read as an option. */
export function parseRevision(text: string): string {
  if (text === '' || text.startsWith('-') || /[\x00-\x20\x7f:]/.test(text)) throw new UsageError(`--git takes a revision such as HEAD, main or a commit id, not ${JSON.stringify(text)}`);
  return text;
}

/** A worker thread's share of a command (cli/parallel.ts): the outcome of each of its machines. */
export function serveWorker(task: unknown): Promise<unknown[]> {
  return commandShare(task as ShareTask);
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  try {
    return await commands(argv, io);
  } catch (e) {
    return failure(e, io);
  }
}

/** Environment failures are exit 1 or 2 with a diagnostic; exit 3 is for machinec bugs only. */
function failure(e: unknown, io: Io): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
  if (e instanceof UsageError) {
    io.stderr(`${renderDiagnostic(diagnose('usage', e.message, { file: 'machinec' }), new Map())}\n`);
    return 2;
  }
  if (e instanceof FileWriteError) {
    io.stderr(renderDiagnostics([e.diagnostic(displayPath(io, e.path))], new Map()));
    return 1;
  }
  const err = e as NodeJS.ErrnoException;
  const hint = 'this is a machinec bug; nothing was half-written. Set MACHINEC_DEBUG=1 for details';
  io.stderr(`${renderDiagnostic(diagnose('internal', `${err.code ? `${err.code}: ` : ''}${err.message}`, { hint }), new Map())}\n`);
  if (io.env.MACHINEC_DEBUG) io.stderr(`${err.stack}\n`);
  return 3;
}

/** What each group of command registrations needs: the program, the I/O, a Session for a command's options, where its exit status goes. */
interface Cli {
  readonly program: Command;
  readonly io: Io;
  session(opts: { qemu?: string }): Session;
  exit(status: number): void;
}

/** build, run, check and plan: a machine compiled to its command line, started, checked, its changes shown. */
function buildCommands(c: Cli): void {
  const { program } = c;
  program
    .command('build')
    .description('compile FILE to a QEMU command line and write or update FILE.lock')
    .argument('<file>', 'a .machine file')
    .addOption(formatOption())
    .option('--locked', 'never write the lock: fail with the plan when it is missing or would change')
    .addOption(qemuOption())
    .action(async (file: string, o) => {
      c.exit(await buildCommand(c.session(o), file, { format: o.format, locked: Boolean(o.locked) }));
    });

  program
    .command('run')
    .description('build FILE and start QEMU with it; arguments after -- go to QEMU')
    .argument('<file>', 'a .machine file')
    .argument('[qemu-args...]', 'extra QEMU arguments, after --')
    .option('--locked', 'never write the lock')
    .addOption(new Option('--accel <accel>', "the accelerator for this run, instead of the machine's accel").choices(['kvm', 'tcg']))
    .addOption(qemuOption())
    .action(async (file: string, extra: string[], o) => {
      c.exit(await runCommand(c.session(o), file, extra, { locked: Boolean(o.locked), accel: o.accel }));
    });

  program
    .command('status')
    .description('compare a running machine (started with run, or a libvirt domain) with its lock: exit 0 in sync, 1 drifted, 2 not running')
    .argument('<file>', 'a .machine file')
    .addOption(new Option('--format <format>', 'text, json, or markdown').choices(['text', 'json', 'markdown']).default('text'))
    .option('--connect <uri>', 'a libvirt connection URI (with --domain), e.g. qemu:///system')
    .option('--domain <name>', 'the libvirt domain running the machine (with --connect)')
    .option('--timeout <seconds>', 'how long the firmware may take to number the buses (default 20)')
    .addOption(qemuOption())
    .action(async (file: string, o) => {
      const { statusCommand } = await import('./commands/status.js');
      const timeoutMs = o.timeout === undefined ? 20_000 : parseTimeout(o.timeout);
      c.exit(await statusCommand(c.session(o), file, { format: o.format, connect: o.connect, domain: o.domain, timeoutMs }));
    });

  program
    .command('check')
    .description('report problems in machine files (and their locks) without building; for editors and hooks')
    .argument('[paths...]', '.machine files or folders (default: the current folder)')
    .addOption(jobsOption())
    .action(async (paths: string[], o) => {
      c.exit(await checkCommand(c.session(o), paths, { jobs: o.jobs }));
    });

  program
    .command('plan')
    .description('show what a build would change in the guest, without writing anything')
    .argument('<file>', 'a .machine file')
    .option('--json', 'machine-readable output (the same as --format json)')
    .addOption(planFormatOption())
    .option('--diff', 'also print the unified diff of the lock')
    .addOption(qemuOption())
    .action(async (file: string, o) => {
      c.exit(await planCommand(c.session(o), file, { format: o.json ? 'json' : o.format, diff: Boolean(o.diff) }));
    });
}

/** diff, lock, prune and rename: locks compared, updated, pruned of empty ports and bridges, a device renamed in both. */
function lockCommands(c: Cli): void {
  const { program } = c;
  program
    .command('diff')
    .description('compare two locks as the guest sees them; exit 1 when an existing device moves, changes or goes')
    .argument('<locks...>', 'OLD.lock NEW.lock, or one lock with --git REV')
    .option('--git <rev>', 'compare the committed version at REV with the working copy')
    .option('--json', 'machine-readable output (the same as --format json)')
    .addOption(planFormatOption())
    .action(async (locks: string[], o) => {
      c.exit(await diffCommand(c.session(o), locks, { git: o.git === undefined ? undefined : parseRevision(o.git), format: o.json ? 'json' : o.format }));
    });

  program
    .command('lock')
    .description('update (or with --locked, check) the lock of every .machine under PATHS')
    .argument('[paths...]', 'files or folders (default: the current folder)')
    .option('--locked', 'check only: exit 1 when any lock is missing or out of date')
    .option('--regenerate <what>', 'generate a locked value anew in one machine: mac:DEVICE (its MAC), guid:DEVICE (a vmgenid\'s VM generation ID) or uuid (the SMBIOS UUID), repeatable; the plan shows the change', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .addOption(
      new Option('--update <pin>', 'approve a change the lock otherwise refuses (repeatable): firmware (a new OVMF image), cpu (re-resolve the CPU model), machine-type (the newest of the chipset)')
        .choices(['firmware', 'cpu', 'machine-type'])
        .argParser((v: string, all: string[] | undefined) => {
          if (!['firmware', 'cpu', 'machine-type'].includes(v)) throw new InvalidArgumentError('one of firmware, cpu, machine-type');
          return [...(all ?? []), v];
        }),
    )
    .addOption(jobsOption())
    .addOption(qemuOption())
    .action(async (paths: string[], o) => {
      const what: string[] = o.regenerate ?? [];
      const bad = what.find((w) => w !== 'uuid' && !(/^(mac|guid):/.test(w) && isDeviceId(w.slice(w.indexOf(':') + 1))));
      if (bad) throw new CommanderError(2, 'machinec.usage', `error: --regenerate takes mac:DEVICE, guid:DEVICE or uuid, not ${bad}`);
      const regenerate = what.length ? { macs: what.filter((w) => w.startsWith('mac:')).map((w) => w.slice(4)), guids: what.filter((w) => w.startsWith('guid:')).map((w) => w.slice(5)), uuid: what.includes('uuid') } : undefined;
      c.exit(await lockCommand(c.session(o), paths, { locked: Boolean(o.locked), regenerate, update: o.update ?? [], jobs: o.jobs }));
    });

  program
    .command('prune')
    .description('remove empty root ports and bridges machinec created; shows which bus numbers change')
    .argument('<file>', 'a .machine file')
    .option('--dry-run', 'show the plan, write nothing')
    .addOption(qemuOption())
    .action(async (file: string, o) => {
      c.exit(await pruneCommand(c.session(o), file, { dryRun: Boolean(o.dryRun) }));
    });

  program
    .command('rename')
    .description('rename a device in FILE and its lock together, keeping its address, MAC and serial')
    .argument('<file>', 'a .machine file')
    .argument('<old>', 'the current id')
    .argument('<new>', 'the new id')
    .action(async (file: string, from: string, to: string, o) => {
      c.exit(await renameCommand(c.session(o), file, from, to));
    });
}

/** graph, textconv and merge-lock: a machine drawn, a lock as git diffs and merges it. */
function pictureAndGitCommands(c: Cli): void {
  const { program } = c;
  program
    .command('graph')
    .description('draw the buses, root ports, bridges and devices of FILE (ids, models, guest addresses)')
    .argument('<file>', 'a .machine file')
    .addOption(new Option('--format <format>', 'svg (standalone, for a browser), dot (Graphviz) or mermaid').choices(['svg', 'dot', 'mermaid']).default('svg'))
    .action(async (file: string, o) => {
      const { graphCommand } = await import('./commands/graph.js');
      c.exit(await graphCommand(c.session(o), file, { format: o.format }));
    });

  program
    .command('textconv')
    .description("print a lock as the guest sees it, one device a line: git's diff driver for *.machine.lock")
    .argument('<lock>', 'a .machine.lock file')
    .action(async (file: string, o) => {
      const { textconvCommand } = await import('./commands/git.js');
      c.exit(await textconvCommand(c.session(o), file));
    });

  program
    .command('merge-lock')
    .description("git's merge driver for *.machine.lock: merge-lock %O %A %B %P; writes the merged lock to %A, exit 1 on a true clash")
    .argument('<base>', 'the common ancestor (%O)')
    .argument('<ours>', 'our version, where the result goes (%A)')
    .argument('<theirs>', 'their version (%B)')
    .argument('[path]', 'the path in the repository, for messages (%P)')
    .action(async (base: string, ours: string, theirs: string, path: string | undefined, o) => {
      const { mergeLockCommand } = await import('./commands/git.js');
      c.exit(await mergeLockCommand(c.session(o), base, ours, theirs, path));
    });
}

/** verify, import and export: the real QEMU asked, an existing VM adopted, a machine written for libvirt. */
function qemuCommands(c: Cli): void {
  const { program } = c;
  program
    .command('verify')
    .description('start the real QEMU with each machine and check the guest sees every device where the lock says')
    .argument('<files...>', '.machine files')
    .option('--json', 'machine-readable output')
    .option('--timeout <seconds>', 'how long QEMU may take to start and enumerate (default 20; 120 for a UEFI machine: OVMF under TCG is slow)')
    .addOption(new Option('--guest <os>', "boot a small guest on each machine and print the names it gives each NIC and disk beside machinec's").choices(['linux']))
    .addOption(new Option('--accel <accel>', 'the accelerator QEMU runs under (default: kvm when /dev/kvm is usable, else tcg)').choices(['kvm', 'tcg']))
    .addOption(qemuOption())
    .action(async (files: string[], o) => {
      const { verifyCommand } = await import('./commands/verify.js');
      const timeoutMs = o.timeout === undefined ? undefined : parseTimeout(o.timeout);
      c.exit(await verifyCommand(c.session(o), files, { json: Boolean(o.json), timeoutMs, guest: o.guest, accel: o.accel }));
    });

  program
    .command('import')
    .description('adopt an existing VM: write NAME.machine and its lock from its QEMU command line (after --) or its QMP socket, every device where it is today')
    .option('--name <name>', "the machine name (NAME.machine, NAME.machine.lock); a libvirt domain's own name by default")
    .option('--out <dir>', 'where to write them (default: the current folder)')
    .option('--qmp <socket>', "a running VM's QMP unix socket, instead of a command line")
    .option('--libvirt <file>', 'a libvirt domain XML file (virsh dumpxml), instead of a command line')
    .option('--libvirt-domain <name>', 'a defined libvirt domain (read with virsh dumpxml), instead of a command line')
    .option('--timeout <seconds>', 'how long QEMU may take to start and enumerate', '20')
    .argument('[command...]', `${DEFAULT_QEMU_BINARY} ARGS…, after --`)
    .action(async (command: string[], o) => {
      const { importCommand } = await import('./commands/import.js');
      c.exit(await importCommand(c.session(o), command, { name: o.name, out: o.out, qmp: o.qmp, libvirt: o.libvirt, libvirtDomain: o.libvirtDomain, timeoutMs: parseTimeout(o.timeout) }));
    });

  program
    .command('export')
    .description('write a machine for another engine: `export libvirt FILE` prints libvirt domain XML with every device at its locked address')
    .addArgument(new Argument('<engine>', 'the engine').choices(['libvirt']))
    .argument('<file>', 'a .machine file')
    .option('--out <file>', 'write the XML there instead of stdout')
    .option('--locked', 'never write the lock: fail when it is missing or would change')
    .option('--name <name>', 'the libvirt domain name (default: the machine name)')
    .option('--qemu-commandline', "carry devices libvirt's XML cannot describe as <qemu:commandline> arguments (a warning each) instead of failing")
    .addOption(new Option('--accel <accel>', 'kvm (<domain type=\'kvm\'>) or tcg (type=\'qemu\'); default: the machine\'s first').choices(['kvm', 'tcg']))
    .addOption(qemuOption())
    .action(async (_engine: string, file: string, o) => {
      const { exportLibvirtCommand } = await import('./commands/export.js');
      c.exit(await exportLibvirtCommand(c.session(o), file, { out: o.out, locked: Boolean(o.locked), name: o.name, accel: o.accel, qemuCommandline: Boolean(o.qemuCommandline) }));
    });
}

/** fmt and lsp: the formatter and the language server for editors. */
function editorCommands(c: Cli): void {
  const { program } = c;
  program
    .command('fmt')
    .description('format .machine files with the prettier plugin')
    .argument('[paths...]', 'files or folders (default: every .machine under the current folder)')
    .option('--check', 'list files that are not formatted and exit 1; write nothing')
    .action(async (paths: string[], o) => {
      const { runFmt } = await import('./commands/fmt.js');
      c.exit(await runFmt({ check: Boolean(o.check), paths, cwd: c.io.cwd, stdout: c.io.stdout, stderr: c.io.stderr }));
    });

  program
    .command('lsp')
    .description('a Language Server Protocol server for editors: diagnostics, completion, hover, formatting, rename')
    .option('--stdio', 'talk over stdin and stdout (the only transport; editors pass it)')
    .action(async () => {
      const { lspCommand } = await import('./lsp/server.js');
      c.exit(await lspCommand());
    });
}

/** init and help: a repository set up for machines, and the guide in the terminal. */
function startCommands(c: Cli): void {
  const { program } = c;
  program
    .command('init')
    .description('set up the git repository holding DIR: lock diff and merge drivers, *.state/ ignored, a review workflow, a pre-commit hook')
    .argument('[dir]', 'a folder in the repository (default: the current folder)')
    .action(async (dir: string | undefined, o) => {
      const { initCommand } = await import('./commands/init.js');
      c.exit(await initCommand(c.session(o), dir));
    });

  program
    .command('help')
    .description("print a page of the guide (machinec help lists them), or a command's options (machinec help COMMAND)")
    .argument('[topic]', 'a topic such as language, lockfile or review, or a command')
    .action(async (topic: string | undefined, o) => {
      const command = topic === undefined ? undefined : program.commands.find((cmd) => cmd.name() === topic);
      if (command) return void command.outputHelp();
      const { helpTopicCommand } = await import('./commands/help.js');
      c.exit(await helpTopicCommand(c.session(o), topic));
    });
}

/** One example a command, shown at the end of its --help. */
const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  build: ['machinec build office.machine', 'machinec build office.machine --locked --format json'],
  run: ['machinec run office.machine', 'machinec run office.machine --accel tcg -- -nographic'],
  status: ['machinec status office.machine', 'machinec status office.machine --connect qemu:///system --domain office --format json'],
  check: ['machinec check', 'machinec check machines/ office.machine'],
  plan: ['machinec plan office.machine', 'machinec plan office.machine --format markdown --diff'],
  diff: ['machinec diff old/office.machine.lock office.machine.lock', 'machinec diff office.machine.lock --git main --format markdown'],
  lock: ['machinec lock', 'machinec lock --locked', 'machinec lock --regenerate mac:nic0 office.machine'],
  prune: ['machinec prune office.machine --dry-run'],
  rename: ['machinec rename office.machine nic0 lan'],
  graph: ['machinec graph office.machine > office.svg', 'machinec graph office.machine --format mermaid'],
  textconv: ['git config diff.machinec.textconv "machinec textconv"   # machinec init does this'],
  'merge-lock': ['git config merge.machinec.driver "machinec merge-lock %O %A %B %P"   # machinec init does this'],
  verify: ['machinec verify office.machine', 'machinec verify windows.machine --timeout 300 --json'],
  import: [`machinec import --name web -- ${DEFAULT_QEMU_BINARY} -M q35 -m 2G -nic user,model=virtio-net-pci`, 'machinec import --name web --qmp /run/web.qmp'],
  export: ['machinec export libvirt office.machine --out office.xml && virsh define office.xml'],
  fmt: ['machinec fmt', 'machinec fmt --check office.machine'],
  lsp: ['machinec lsp --stdio   # editors start it; see machinec help editors'],
  init: ['machinec init', 'machinec init path/to/repo'],
  help: ['machinec help', 'machinec help language', 'machinec help build'],
};

function addExamples(program: Command): void {
  for (const command of program.commands) {
    const examples = EXAMPLES[command.name()];
    if (examples) command.addHelpText('after', `\nExample${examples.length > 1 ? 's' : ''}:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
  }
  program.addHelpText('after', '\nStart with `machinec init` in a git repository, then `machinec build FILE`. `machinec help` lists the guide\'s topics.\n');
}

/** The machinec program, its commands registered in the order --help lists them; the exit status of the one that ran. */
async function commands(argv: readonly string[], io: Io): Promise<number> {
  let exit = 0;
  const program = new Command('machinec')
    .description('Compile .machine files into QEMU command lines whose devices never move in the guest.')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run machinec --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .enablePositionalOptions()
    .helpCommand(false);
  const c: Cli = { program, io, session: (opts) => new Session(io, opts.qemu), exit: (status) => { exit = status; } };
  buildCommands(c);
  lockCommands(c);
  pictureAndGitCommands(c);
  qemuCommands(c);
  editorCommands(c);
  startCommands(c);
  addExamples(program);

  await program.parseAsync([...argv], { from: 'user' });
  return exit;
}
