/**
 * The benchmark: `npm run bench` (builds, then runs dist/tools/bench.js).
 *
 * Generates q35 machines of 10, 100, 1,000 and 10,000 devices (a realistic mix: virtio-net-pci,
 * virtio-blk-pci, conventional NICs behind pcie-pci-bridges, qemu-xhci with USB children,
 * virtio-scsi-pci with scsi-hd disks) and measures, per size:
 *  - in-process phases, warm, median of several runs: parse; check (resolve + runChecks);
 *    place (readLock + place, reconciling with the lock of a first build); emit (emit + writeLock
 *    + comparePlacements); total (`compile()` end to end, with the lock);
 *  - the CLI cold: `node dist/machinec.mjs build FILE` spawned anew each time, with the lock
 *    present, median wall time, next to `node -e 0` measured in the same run;
 *  - the CLI's peak RSS (`/usr/bin/time -f %M`, else a preload reporting `process.resourceUsage()`).
 *
 * A PCI domain has 256 bus numbers and a q35 root bus 29 usable slots × 8 root ports, so 10,000
 * PCI devices cannot exist in one machine: the big machines are mostly conventional PCI (31 to a
 * pcie-pci-bridge) and, at 10,000, SCSI disks (up to 256 per virtio-scsi-pci controller), which the
 * compiler still checks, places, locks and emits one by one.
 *
 * Options: --sizes 10,100,1000,10000  --runs N (in-process)  --spawns N (CLI)  --out FILE (markdown)
 * Prints a markdown table and a PASS/MISS line per target. Never part of the tests: timings vary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parse } from '../grammar/index.js';
import { DEFAULT_QEMU_BINARY, compile } from '../compiler/index.js';
import { comparePlacements, emit, place, readLock, resolve, writeLock, type PlacedMachine } from '../compiler/index.js';
import { runSourceChecks } from '../compiler/checks/source.js';
import { checkDocument, type OpenDocument } from '../cli/lsp/documents.js';
import { composition, generateMachine, type Composition } from './generate-machine.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = resolvePath(here, '..', 'machinec.mjs');

// ---------------------------------------------------------------------------------------------
// Measuring

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function timeIt(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

interface InProcess {
  parse: number;
  check: number;
  place: number;
  emit: number;
  total: number;
  /** `compile()` without a lock: the first build, where placement creates every root port and bridge. */
  fresh: number;
  devicesPlaced: number;
}

/** Warm, in-process phase timings (ms, medians). Throws when the machine does not compile. */
function measureInProcess(source: string, runs: number): InProcess {
  const file = 'bench.machine';
  const first = compile({ file, source });
  if (!first.ok) throw new Error(`the generated machine does not compile: ${first.diagnostics.slice(0, 3).map((d) => `${d.code}: ${d.message}`).join('; ')}`);
  const lock = { file: `${file}.lock`, text: first.lockText! };
  const again = compile({ file, source, lock });
  if (!again.ok || again.lockText !== first.lockText) throw new Error('a second build with the first build\'s lock changed the lock');
  const t: Record<keyof Omit<InProcess, 'devicesPlaced'>, number[]> = { parse: [], check: [], place: [], emit: [], total: [], fresh: [] };
  const warmup = 2;
  for (let r = 0; r < runs + warmup; r++) {
    let parsed!: ReturnType<typeof parse>;
    const tParse = timeIt(() => (parsed = parse(source, file)));
    let spec!: ReturnType<typeof resolve>;
    const tCheck = timeIt(() => {
      spec = resolve(parsed.ast.machine, file);
      runSourceChecks(spec);
    });
    let machine!: PlacedMachine;
    let previous!: PlacedMachine;
    const tPlace = timeIt(() => {
      previous = readLock(lock.text, lock.file).lock!;
      const placed = place(spec, previous.devices, spec.name);
      machine = { ...previous, devices: placed.devices };
    });
    const tEmit = timeIt(() => {
      emit(spec, machine);
      writeLock(machine, file);
      comparePlacements(previous, machine);
    });
    const tTotal = timeIt(() => compile({ file, source, lock }));
    const tFresh = timeIt(() => compile({ file, source }));
    if (r < warmup) continue;
    t.fresh.push(tFresh);
    t.parse.push(tParse);
    t.check.push(tCheck);
    t.place.push(tPlace);
    t.emit.push(tEmit);
    t.total.push(tTotal);
  }
  return { parse: median(t.parse), check: median(t.check), place: median(t.place), emit: median(t.emit), total: median(t.total), fresh: median(t.fresh), devicesPlaced: first.machine!.devices.length };
}

const TIME = '/usr/bin/time';
/** Reports the process's peak RSS (KB) on stderr at exit, for systems without /usr/bin/time. */
const RSS_PRELOAD = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\nmaxrss '+process.resourceUsage().maxRSS+'\\n'))`;

interface Spawned {
  wall: number;
  rssKb?: number;
  /** User + system CPU seconds × 1000, when /usr/bin/time reports them. */
  cpu?: number;
}

function spawnTimed(args: readonly string[], cwd: string, withRss: boolean): Spawned {
  const useTime = withRss && existsSync(TIME);
  const cmd = useTime ? TIME : process.execPath;
  const argv = useTime ? ['-f', 'maxrss %M cpu %U %S', process.execPath, ...args] : withRss ? ['--import', RSS_PRELOAD, ...args] : [...args];
  const t = performance.now();
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
  const wall = performance.now() - t;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 400)}`);
  const m = /maxrss (\d+)/.exec(r.stderr);
  const cpu = /cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { wall, rssKb: m ? Number(m[1]) : undefined, cpu: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : undefined };
}

interface Cli {
  wall: number;
  rssMb: number;
  cpu: number;
  /** `node -e 0`, spawned alternately with the CLI, so both see the same load. */
  node: number;
}

/** A cold CLI build (a new process each time) with the lock present: median wall, median peak RSS and CPU. */
function measureCli(dir: string, file: string, spawns: number): Cli {
  spawnTimed([CLI, 'build', file], dir, false); // writes the lock (and fills the QEMU cache)
  const lock = readFileSync(join(dir, `${file}.lock`), 'utf8');
  const walls: number[] = [];
  const nodes: number[] = [];
  const rss: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < spawns; i++) {
    nodes.push(spawnTimed(['-e', '0'], dir, false).wall);
    walls.push(spawnTimed([CLI, 'build', file], dir, false).wall);
  }
  for (let i = 0; i < Math.min(3, spawns); i++) {
    const r = spawnTimed([CLI, 'build', file], dir, true);
    rss.push(r.rssKb ?? NaN);
    cpu.push(r.cpu ?? NaN);
  }
  if (readFileSync(join(dir, `${file}.lock`), 'utf8') !== lock) throw new Error('a build with the lock present rewrote the lock');
  return { wall: median(walls), rssMb: median(rss) / 1024, cpu: median(cpu), node: median(nodes) };
}

function measureNode(dir: string, spawns: number): { wall: number; rssMb: number } {
  const walls: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < spawns; i++) walls.push(spawnTimed(['-e', '0'], dir, false).wall);
  for (let i = 0; i < Math.min(3, spawns); i++) rss.push(spawnTimed(['-e', '0'], dir, true).rssKb ?? NaN);
  return { wall: median(walls), rssMb: median(rss) / 1024 };
}

/** The same build with an empty QEMU cache: what `qemu-system-x86_64 -machine help` adds once per binary. */
function measureUncachedQemu(dir: string, file: string): number | undefined {
  const cache = mkdtempSync(join(os.tmpdir(), 'machinec-bench-cache-'));
  try {
    const t = performance.now();
    const r = spawnSync(process.execPath, [CLI, 'build', file], { cwd: dir, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, env: { ...process.env, XDG_CACHE_HOME: cache } });
    return r.status === 0 ? performance.now() - t : undefined;
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
const fmtN = (n: number): string => n.toLocaleString('en-US');

// ---------------------------------------------------------------------------------------------
// The language server: re-checking an open document after a one-character edit

/**
 * What `machinec lsp` does on each keystroke (cli/lsp/documents.ts checkDocument: re-parse of the
 * member the edit touched, then `compile` with the lock, diagnostics only), warm medians of wall
 * and of this process's CPU time (which a loaded, shared host inflates less). Two edits: after a
 * NIC's id half way down (it renames the NIC), and in a disk's file name inside a virtio-scsi-pci
 * holding a tenth of the machine (the member re-parsed is then that whole controller). Each edit
 * types one character there, the next deletes it.
 */
interface Timing {
  wall: number;
  cpu: number;
}
type Recheck = Record<'oneLine' | 'inController' | 'wholeFile' | 'full', Timing>;

function timeWallCpu(fn: () => void, runs: number): Timing {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c = process.cpuUsage();
    wall.push(timeIt(fn));
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

function measureEditorRecheck(n: number, runs: number): Recheck {
  const source = generateMachine(n);
  const path = join(os.tmpdir(), `bench${n}.machine`);
  const lockText = compile({ file: path, source }).lockText!;
  const timed = (at: number): Timing => {
    let text = source;
    let typed = false;
    const doc: OpenDocument = { uri: `file://${path}`, path, lockUri: `file://${path}.lock`, lockText, document: { getText: () => text } as OpenDocument['document'] };
    const edit = () => {
      typed = !typed;
      text = typed ? source.slice(0, at) + 'x' + source.slice(at) : source;
      if (!checkDocument(doc).ok) throw new Error('the edited machine does not check');
    };
    timeWallCpu(edit, 6); // warm-up
    return timeWallCpu(edit, runs);
  };
  const nicId = source.indexOf(':', source.indexOf('  device nic', source.length / 2));
  const disk = source.indexOf('"vol0-50.raw"') + 6;
  if (nicId < 0 || disk < 6) throw new Error('the generated machine has no NIC or disk to edit');
  const lock = { file: `${path}.lock`, text: lockText };
  // The language server's check of a file it has no tree for yet (on open): all of it parsed.
  const wholeFile = timeWallCpu(() => compile({ file: path, source, lock, diagnosticsOnly: true }), runs);
  const full = timeWallCpu(() => compile({ file: path, source, lock }), runs);
  return { oneLine: timed(nicId), inController: timed(disk), wholeFile, full };
}

function editorRecheckLines(r: Recheck | undefined, verdict: (ok: boolean | undefined, what: string, measured: string) => void): string[] {
  if (!r) return [];
  const worst = Math.max(r.oneLine.wall, r.inController.wall);
  verdict(worst < 20, 'language server re-check of 1,000 devices after a one-character edit < 20 ms warm', `${ms(worst)} ms wall, ${ms(Math.max(r.oneLine.cpu, r.inController.cpu))} ms CPU`);
  verdict(r.wholeFile.wall < 20, 'language server check of a whole 1,000-device file (on open: all of it parsed, diagnostics only, with the lock) < 20 ms warm', `${ms(r.wholeFile.wall)} ms wall, ${ms(r.wholeFile.cpu)} ms CPU`);
  const row = (what: string, t: Timing) => `| ${what} | ${ms(t.wall)} | ${ms(t.cpu)} |`;
  return [
    '| language server, 1,000 devices: re-check after a one-character edit (warm medians) | wall ms | CPU ms |',
    '|---|---:|---:|',
    row('typed after a NIC id', r.oneLine),
    row('typed in a disk file name, in a virtio-scsi-pci holding 99 disks', r.inController),
    row('the whole file parsed and checked (on open; what `check` judges, without QEMU arguments, lock text or plan)', r.wholeFile),
    row('for reference, in the same run: `compile()` of the whole file with its lock', r.full),
    '',
  ];
}

// ---------------------------------------------------------------------------------------------
// Cold start: where a cold build's time goes, and the many-machine commands

/** Milliseconds of a cold build by what they are spent on (medians over CPU profiles). */
export interface ColdBreakdown {
  /** Compiling the bundle and Node's built-in modules (with the V8 code cache: reading it). */
  moduleCompile: number;
  /** Building chevrotain's lexer and parser (their constructors). */
  chevrotain: number;
  /** The garbage collector. */
  gc: number;
  /** `compile()` itself, without the parser's set-up inside it. */
  compiler: number;
  /** Everything else: Node's own start, argument parsing, file I/O, output, exit. */
  other: number;
  total: number;
}

type ProfileNode = { id: number; callFrame: { functionName: string; url: string }; children?: number[] };
const BREAKDOWN_ORDER = ['gc', 'chevrotain', 'compiler', 'moduleCompile'] as const;

/** Which part of a cold build a stack (innermost frame first) belongs to, or 'other'. */
function classifyStack(frames: readonly ProfileNode['callFrame'][]): keyof Omit<ColdBreakdown, 'total'> {
  const has = (test: (f: ProfileNode['callFrame']) => boolean) => frames.some(test);
  if (frames[0]?.functionName === '(garbage collector)') return 'gc';
  if (has((f) => /^(Lexer|MachineParser)\d*$/.test(f.functionName) && f.url.includes('/core-'))) return 'chevrotain';
  if (has((f) => /^compile\d*$/.test(f.functionName) && f.url.includes('/core-'))) return 'compiler';
  if (has((f) => /^(compileSourceTextModule|compileForInternalLoader|Script)$/.test(f.functionName))) return 'moduleCompile';
  return 'other';
}

/** Splits one V8 CPU profile's samples into the breakdown's parts (ms). */
function breakdownOf(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }): ColdBreakdown {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const part = new Map<number, keyof Omit<ColdBreakdown, 'total'>>();
  const out: ColdBreakdown = { moduleCompile: 0, chevrotain: 0, gc: 0, compiler: 0, other: 0, total: 0 };
  profile.samples.forEach((id, i) => {
    if (!part.has(id)) {
      const frames: ProfileNode['callFrame'][] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(nodes.get(at)!.callFrame);
      part.set(id, classifyStack(frames));
    }
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    out[part.get(id)!] += ms;
    out.total += ms;
  });
  return out;
}

/** Cold builds under `--cpu-prof` (0.1 ms sampling): the median of each part over `runs` processes. */
function measureColdBreakdown(dir: string, file: string, runs: number): ColdBreakdown {
  const profDir = mkdtempSync(join(os.tmpdir(), 'machinec-bench-prof-'));
  try {
    const parts: ColdBreakdown[] = [];
    for (let i = 0; i < runs; i++) {
      const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', profDir, '--cpu-prof-name', `run${i}.cpuprofile`, CLI, 'build', file], { cwd: dir, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
      if (r.status !== 0) throw new Error(`profiled build exited ${r.status}: ${r.stderr.slice(0, 400)}`);
      parts.push(breakdownOf(JSON.parse(readFileSync(join(profDir, `run${i}.cpuprofile`), 'utf8'))));
    }
    const keys = [...BREAKDOWN_ORDER, 'other', 'total'] as const;
    return Object.fromEntries(keys.map((k) => [k, median(parts.map((p) => p[k]))])) as unknown as ColdBreakdown;
  } finally {
    rmSync(profDir, { recursive: true, force: true });
  }
}

interface LockLocked {
  /** Median wall (ms). */
  wall: number;
  /** User + system CPU of one more run (ms), when /usr/bin/time reports it: on a loaded host, closer to the quiet wall time. */
  cpu?: number;
  /** `node -e 0` spawned alternately, median wall. */
  node: number;
  /** The same on one thread per CPU (`-j CPUS`), median wall. */
  perCpu: number;
}

/** `machinec lock --locked` over `machines` machines of `devices` devices each, locks current: median wall of `spawns` runs. */
function measureLockLocked(dir: string, machines: number, devices: number, spawns: number): LockLocked {
  const folder = join(dir, `lock-${machines}x${devices}`);
  mkdirSync(folder);
  for (let i = 0; i < machines; i++) writeFileSync(join(folder, `m${i}.machine`), generateMachine(devices).replace(`machine bench${devices} {`, `machine m${i} {`));
  spawnTimed([CLI, 'lock', folder], dir, false); // writes every lock
  const walls: number[] = [];
  const nodes: number[] = [];
  const perCpu: number[] = [];
  for (let i = 0; i < spawns; i++) {
    nodes.push(spawnTimed(['-e', '0'], dir, false).wall);
    walls.push(spawnTimed([CLI, 'lock', '--locked', folder], dir, false).wall);
    perCpu.push(spawnTimed([CLI, 'lock', '--locked', '-j', String(os.availableParallelism()), folder], dir, false).wall);
  }
  return { wall: median(walls), cpu: spawnTimed([CLI, 'lock', '--locked', folder], dir, true).cpu, node: median(nodes), perCpu: median(perCpu) };
}

function coldStartLines(b: ColdBreakdown | undefined, lockLocked: LockLocked | undefined, verdict: (ok: boolean | undefined, what: string, measured: string) => void): string[] {
  if (lockLocked) verdict(lockLocked.wall < 1000, '`machinec lock --locked` over 500 machines of 10 devices < 1 s wall', `${ms(lockLocked.wall)} ms (with -j ${os.availableParallelism()}, a thread per CPU: ${ms(lockLocked.perCpu)} ms; node -e 0 alternately: ${ms(lockLocked.node)} ms; CPU ${lockLocked.cpu === undefined ? '—' : `${ms(lockLocked.cpu)} ms`})`);
  if (!b) return [];
  const row = (what: string, x: number) => `| ${what} | ${ms(x)} | ${((100 * x) / b.total).toFixed(0)}% |`;
  return [
    '| cold build of 100 devices, by part (CPU profile, median) | ms | share |',
    '|---|---:|---:|',
    row('module compile (bundle and Node built-ins; with the code cache, reading it)', b.moduleCompile),
    row('chevrotain set-up (lexer and parser constructors)', b.chevrotain),
    row('garbage collection', b.gc),
    row('compiler (`compile()` without the parser set-up)', b.compiler),
    row("other (Node's own start, arguments, files, output, exit)", b.other),
    row('total profiled', b.total),
    '',
  ];
}

function args(): { sizes: number[]; runs?: number; spawns: number; out?: string } {
  const a = process.argv.slice(2);
  const get = (k: string) => {
    const i = a.indexOf(k);
    return i >= 0 ? a[i + 1] : undefined;
  };
  return {
    sizes: (get('--sizes') ?? '10,100,1000,10000').split(',').map(Number),
    runs: get('--runs') ? Number(get('--runs')) : undefined,
    spawns: Number(get('--spawns') ?? 10),
    out: get('--out'),
  };
}

interface Row {
  n: number;
  composition: Composition;
  devicesPlaced: number;
  inProcess?: InProcess;
  cli?: Cli;
  error?: string;
}

type Verdict = (ok: boolean | undefined, what: string, measured: string) => void;

/** What one run measures: a row per size, node alone, a build with an empty QEMU cache, the cold-start breakdown, lock --locked. */
interface Measured {
  readonly rows: Row[];
  readonly node: { wall: number; rssMb: number };
  readonly uncached?: number;
  readonly breakdown?: ColdBreakdown;
  readonly lockLocked?: LockLocked;
}

/** One size: its machine written, measured in process and as the CLI (the row says why where that failed). */
function measureSize(dir: string, n: number, opts: ReturnType<typeof args>, log: (s: string) => void): Row {
  const source = generateMachine(n);
  const file = `bench${n}.machine`;
  writeFileSync(join(dir, file), source);
  const row: Row = { n, composition: composition(n), devicesPlaced: 0 };
  try {
    row.inProcess = measureInProcess(source, opts.runs ?? (n >= 10000 ? 7 : n >= 1000 ? 11 : 21));
    row.devicesPlaced = row.inProcess.devicesPlaced;
    log(`${fmtN(n)}: in-process total ${ms(row.inProcess.total)} ms`);
    row.cli = measureCli(dir, file, opts.spawns);
    log(`${fmtN(n)}: CLI ${ms(row.cli.wall)} ms, ${row.cli.rssMb.toFixed(0)} MB`);
  } catch (e) {
    row.error = (e as Error).message;
    log(`${fmtN(n)}: FAILED: ${row.error}`);
  }
  return row;
}

/** Every measurement that spawns, in a temp folder removed afterwards. */
function measureAll(opts: ReturnType<typeof args>, log: (s: string) => void): Measured {
  const dir = mkdtempSync(join(os.tmpdir(), 'machinec-bench-'));
  const rows: Row[] = [];
  try {
    const node = measureNode(dir, opts.spawns);
    log(`node -e 0: ${ms(node.wall)} ms, ${node.rssMb.toFixed(0)} MB`);
    for (const n of opts.sizes) rows.push(measureSize(dir, n, opts, log));
    const probe = rows.find((r) => r.cli);
    const uncached = probe ? measureUncachedQemu(dir, `bench${probe.n}.machine`) : undefined;
    const breakdown = rows.some((r) => r.n === 100 && r.cli) ? measureColdBreakdown(dir, 'bench100.machine', opts.spawns) : undefined;
    const lockLocked = measureLockLocked(dir, 500, 10, Math.min(5, opts.spawns));
    log(`lock --locked, 500 × 10 devices: ${ms(lockLocked.wall)} ms (-j ${os.availableParallelism()}: ${ms(lockLocked.perCpu)} ms)`);
    return { rows, node, uncached, breakdown, lockLocked };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report's table: a row per size, then node alone, the uncached build and the device mix per size. */
function tableLines({ rows, node, uncached }: Measured, spawns: number): string[] {
  const lines: string[] = [];
  lines.push(`Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${os.platform()} ${os.release()}. Times in ms; in-process phases are warm medians; CLI is a new process each time (median of ${spawns}), with the lock present, spawned alternately with \`node -e 0\` so both see the same load; CLI CPU is user + system (\`/usr/bin/time\`, 10 ms resolution).`);
  lines.push('');
  lines.push('| devices | placed (with auto ports/bridges) | parse | check | place | emit | total in-process | first build (no lock) | CLI wall | node -e 0 | CLI / node | CLI CPU | peak RSS (MB) |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    if (!r.inProcess || !r.cli) {
      lines.push(`| ${fmtN(r.n)} | — | failed: ${r.error?.replace(/\|/g, '\\|')} | | | | | | | | | | |`);
      continue;
    }
    const p = r.inProcess;
    lines.push(`| ${fmtN(r.n)} | ${fmtN(r.devicesPlaced)} | ${ms(p.parse)} | ${ms(p.check)} | ${ms(p.place)} | ${ms(p.emit)} | ${ms(p.total)} | ${ms(p.fresh)} | ${ms(r.cli.wall)} | ${ms(r.cli.node)} | ${(r.cli.wall / r.cli.node).toFixed(2)}× | ${Number.isNaN(r.cli.cpu) ? '—' : ms(r.cli.cpu)} | ${r.cli.rssMb.toFixed(0)} |`);
  }
  lines.push('');
  lines.push(`node -e 0 alone at the start: ${ms(node.wall)} ms wall, ${node.rssMb.toFixed(0)} MB peak RSS.${uncached !== undefined ? ` A build with an empty QEMU cache (\`${DEFAULT_QEMU_BINARY} -machine help\` runs once per binary): ${ms(uncached)} ms.` : ''}`);
  lines.push('');
  lines.push('Mix per size (q35): ' + rows.map((r) => `${fmtN(r.n)} = ${r.composition.pcie} PCIe endpoints (virtio-net/blk), ${r.composition.xhci} qemu-xhci + ${r.composition.usb} USB, ${r.composition.scsiControllers} virtio-scsi-pci + ${r.composition.scsiDisks} scsi-hd, ${r.composition.conventional} conventional PCI (VGA, e1000, rtl8139, i6300esb)`).join('; ') + '.');
  lines.push('');
  return lines;
}

/** The verdicts on CLI wall and RSS at 100, 1,000 and 10,000 devices, and on linearity from each size to ten times it. */
function sizeVerdicts(rows: readonly Row[], verdict: Verdict): void {
  const at = (n: number) => rows.find((r) => r.n === n && r.cli && r.inProcess);
  const r100 = at(100);
  verdict(r100 && r100.cli!.wall / r100.cli!.node <= 1.5, 'CLI wall at 100 devices ≤ 1.5 × node -e 0', r100 ? `${(r100.cli!.wall / r100.cli!.node).toFixed(2)}× (${ms(r100.cli!.wall)} vs ${ms(r100.cli!.node)} ms)` : 'not measured');
  const r1k = at(1000);
  verdict(r1k && r1k.cli!.wall / r1k.cli!.node <= 2, 'CLI wall at 1,000 devices ≤ 2 × node -e 0', r1k ? `${(r1k.cli!.wall / r1k.cli!.node).toFixed(2)}× (${ms(r1k.cli!.wall)} vs ${ms(r1k.cli!.node)} ms)` : 'not measured');
  verdict(r1k && r1k.cli!.wall < 300, 'CLI wall at 1,000 devices < 300 ms', r1k ? `${ms(r1k.cli!.wall)} ms` : 'not measured');
  const r10k = at(10000);
  verdict(r10k && r10k.cli!.wall < 2000, 'CLI wall at 10,000 devices < 2 s', r10k ? `${ms(r10k.cli!.wall)} ms` : 'not measured');
  verdict(r10k && r10k.cli!.rssMb < 300, 'CLI peak RSS at 10,000 devices < 300 MB', r10k ? `${r10k.cli!.rssMb.toFixed(0)} MB` : 'not measured');
  for (const r of rows) {
    const big = at(r.n * 10);
    if (!at(r.n) || !big) continue;
    const ratio = big.inProcess!.total / r.inProcess!.total;
    const cliRatio = big.cli!.wall / r.cli!.wall;
    verdict(ratio <= 12, `linearity ${fmtN(r.n)} → ${fmtN(big.n)}: in-process total ×${ratio.toFixed(1)} ≤ 12`, `×${ratio.toFixed(1)} (CLI wall ×${cliRatio.toFixed(1)})`);
  }
}

/** Measures, then prints the report (and writes it to --out): the table, then every verdict. */
async function main(): Promise<void> {
  const opts = args();
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const m = measureAll(opts, log);
  const lines = tableLines(m, opts.spawns);
  const verdicts: string[] = [];
  const verdict: Verdict = (ok, what, measured) => verdicts.push(`- ${ok === undefined ? 'N/A ' : ok ? 'PASS' : 'MISS'} ${what}: ${measured}`);
  sizeVerdicts(m.rows, verdict);
  lines.push(...editorRecheckLines(opts.sizes.includes(1000) ? measureEditorRecheck(1000, opts.runs ?? 21) : undefined, verdict));
  lines.push(...coldStartLines(m.breakdown, m.lockLocked, verdict));
  lines.push(...verdicts, '');
  const text = lines.join('\n');
  process.stdout.write(text);
  if (opts.out) writeFileSync(opts.out, text);
}

if (process.argv[1] && resolvePath(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
