/**
 * `machinec verify FILE…`: starts the real QEMU with the machine (stand-ins for backends that
 * are not there) and its own firmware (OVMF for `uefi`, on a throwaway copy of the VARS
 * template) and TPM (a throwaway swtpm), lets the firmware number the buses, reads QMP
 * `query-pci`, and compares what the guest sees with the lock: every device at its locked bus
 * number, slot and function, with the vendor:device ID the catalog expects, and nothing the lock
 * does not know; `query-tpm` shows each TPM, `query-vm-generation-id` the locked GUID,
 * `query-cpus-fast` the CPU count, topology and locked model. Then a dry start (CPUs stopped)
 * with the real backends proves QEMU accepts them: a machine QEMU refuses fails verify.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_QEMU_BINARY, compareGuestView, emit, escapeOptionValue as esc, isTpmModel, readLock, splitOption } from '../../compiler/index.js';
import type { GuestPciDevice, Mismatch, PlacedMachine } from '../../compiler/index.js';
import { QemuLaunchError, waitForStableGuestView, withQemu, type QmpClient } from '../qemu/index.js';
import { verifyGuestCommand } from '../guest/verify-guest.js';
import type { Session } from '../session.js';
import { throwawayState } from '../vm-state.js';

export interface VerifyReport {
  readonly file: string;
  readonly machineType: string;
  readonly checked: number;
  readonly mismatches: Mismatch[];
  readonly notChecked: string[];
  readonly guest: GuestPciDevice[];
}

const text = (head: string, pairs: Map<string, string>): string => [...(head && !pairs.has('driver') ? [esc(head)] : []), ...[...pairs].map(([k, v]) => `${k}=${esc(v)}`)].join(',');

/** The -smp the machine asks for: CPU count and the topology keys it names. */
function smpOf(argv: readonly string[]): { cpus: number; keys: Map<string, number> } {
  const at = argv.indexOf('-smp');
  const { head, pairs } = splitOption(at < 0 ? '1' : argv[at + 1]);
  return { cpus: Number(head || pairs.get('cpus') || 1), keys: new Map([...pairs].filter(([k]) => k !== 'cpus').map(([k, v]) => [k, Number(v)])) };
}

/** What QEMU says of the TPMs, the VM generation ID and the CPUs, against the lock. */
async function vmMismatches(qmp: QmpClient, lock: PlacedMachine, argv: readonly string[]): Promise<Mismatch[]> {
  const out: Mismatch[] = [];
  const tpms = lock.devices.filter((d) => isTpmModel(d.model));
  const seen = await qmp.execute<{ model: string; id: string }[]>('query-tpm');
  for (const d of tpms) {
    const t = seen.find((x) => x.id === `tpm-${d.id}`);
    if (!t || t.model !== d.model) out.push({ id: d.id, expected: d.model, found: t ? t.model : '(none)', problem: 'query-tpm does not show the TPM' });
  }
  for (const t of seen) if (!tpms.some((d) => t.id === `tpm-${d.id}`)) out.push({ id: t.id, expected: '(not in the lock)', found: t.model, problem: 'unexpected TPM' });
  const genid = lock.devices.find((d) => d.model === 'vmgenid');
  if (genid) {
    const g = await qmp.execute<{ guid: string }>('query-vm-generation-id').then((x) => x.guid.toLowerCase(), () => '(none)');
    if (g !== genid.pins.guid) out.push({ id: genid.id, expected: genid.pins.guid ?? '?', found: g, problem: 'query-vm-generation-id is not the locked GUID' });
  }
  const cpus = await qmp.execute<{ 'qom-path': string; props: Record<string, number | undefined> }[]>('query-cpus-fast');
  const smp = smpOf(argv);
  if (cpus.length !== smp.cpus) out.push({ id: '(cpus)', expected: String(smp.cpus), found: String(cpus.length), problem: 'query-cpus-fast shows another CPU count' });
  for (const [key, want] of smp.keys) {
    const prop = `${key.replace(/s$/, '')}-id`;
    const ids = new Set(cpus.map((c) => c.props[prop] ?? 0));
    const got = key === 'sockets' ? ids.size : Math.max(...ids) + 1;
    if (got !== want) out.push({ id: '(topology)', expected: `${key}=${want}`, found: `${key}=${got}`, problem: 'query-cpus-fast shows another topology' });
  }
  if (lock.cpu && !lock.cpu.followsHost && cpus[0]) {
    const type = await qmp.execute<string>('qom-get', { path: cpus[0]['qom-path'], property: 'type' });
    if (type !== `${lock.cpu.model}-x86_64-cpu`) out.push({ id: '(cpu)', expected: lock.cpu.model, found: type.replace(/-x86_64-cpu$/, ''), problem: 'the CPU is not the locked model' });
  }
  return out;
}

/**
 * The command line with its real backends, made safe to start beside a running copy of the VM:
 * TCG, images opened read-only without locks (a missing one a null-co node), tap and bridge
 * netdevs as user ones, socket and file chardevs moved into `scratch`, a missing 9p folder an
 * empty one, a window-system display none. What was substituted is said.
 */
const REWRITTEN = new Set(['-accel', '-display', '-blockdev', '-netdev', '-chardev', '-fsdev', '-drive']);
export function dryStartArgs(argv: readonly string[], folder: string, scratch: string): { args: string[]; substituted: string[] } {
  const args: string[] = [];
  const substituted: string[] = [];
  const here = (p: string) => (isAbsolute(p) ? p : resolve(folder, p));
  for (let i = 0; i < argv.length; i++) {
    const [opt, value] = [argv[i], argv[i + 1] ?? ''];
    if (!REWRITTEN.has(opt) || i + 1 >= argv.length) { args.push(opt); continue; }
    i++;
    const { head, pairs } = splitOption(value);
    if (opt === '-accel') { if (!args.includes('-accel')) args.push('-accel', 'tcg'); continue; }
    if (opt === '-display') { if (!['none', 'egl-headless'].includes(head)) substituted.push(`-display ${head} (no window here)`); continue; }
    if (opt === '-blockdev') {
      const file = pairs.get('file.filename');
      if (file !== undefined && !existsSync(here(file))) { substituted.push(`image ${file} (not here)`); args.push(opt, `driver=null-co,node-name=${esc(pairs.get('node-name') ?? '')}`); continue; }
      if (file !== undefined) {
        // The image is opened (format and options checked) read-only, unlocked and unattached; the device gets a null-co node of its name.
        const node = pairs.get('node-name') ?? '';
        pairs.set('file.filename', here(file)).set('file.locking', 'off').set('read-only', 'on').set('node-name', `${node}-dry`);
        args.push(opt, `driver=null-co,node-name=${esc(node)}`);
      }
    } else if (opt === '-netdev' && ['tap', 'bridge', 'vde', 'l2tpv3', 'vhost-user', 'socket', 'stream', 'dgram'].includes(head)) {
      substituted.push(`-netdev ${pairs.get('id')} ${head} (needs the host)`);
      args.push(opt, `user,id=${esc(pairs.get('id') ?? '')}`);
      continue;
    } else if (opt === '-chardev' && pairs.has('path') && (head === 'socket' || head === 'file')) {
      if (!pairs.get('path')!.endsWith('swtpm.sock')) pairs.set('path', join(scratch, `chardev-${pairs.get('id')}`));
    } else if (opt === '-fsdev' && pairs.has('path') && !existsSync(here(pairs.get('path')!))) {
      substituted.push(`9p folder ${pairs.get('path')} (not here)`);
      pairs.set('path', scratch);
    } else if (opt === '-drive' && pairs.get('if') === 'pflash' && pairs.has('file')) pairs.set('file', here(pairs.get('file')!));
    args.push(opt, opt === '-netdev' ? value : text(head, pairs));
  }
  return { args, substituted };
}

export type VerifyAccel = 'kvm' | 'tcg';

/** KVM when /dev/kvm can be opened for reading and writing, else TCG. */
export function defaultAccel(device = '/dev/kvm'): VerifyAccel {
  try {
    accessSync(device, constants.R_OK | constants.W_OK);
    return 'kvm';
  } catch {
    return 'tcg';
  }
}

/**
 * Hyper-V enlightenments QEMU refuses under TCG (7.2: "kernel doesn't allow setting HyperV VP_INDEX"); the
 * others (hv-relaxed, hv-vapic, hv-time, hv-synic, …) TCG accepts and ignores.
 */
const TCG_REFUSES = new Set(['hv-vpindex']);

/** `argv` under one accelerator only (no fallback); under TCG without the hv- flags TCG refuses, each said. */
export function argsForAccel(argv: readonly string[], accel: VerifyAccel): { args: string[]; leftOut: string[] } {
  const args: string[] = [];
  const leftOut: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-accel' && i + 1 < argv.length) {
      if (!args.includes('-accel')) args.push('-accel', accel);
      i++;
    } else if (argv[i] === '-cpu' && i + 1 < argv.length && accel === 'tcg') {
      const [model, ...flags] = argv[++i].split(',');
      const refused = (f: string) => TCG_REFUSES.has(f.replace(/=.*$/, '').replace(/_/g, '-'));
      leftOut.push(...flags.filter(refused).map((f) => f.replace(/=.*$/, '')));
      args.push('-cpu', [model, ...flags.filter((f) => !refused(f))].join(','));
    } else args.push(argv[i]);
  }
  return { args, leftOut };
}

function renderReport(r: VerifyReport): string {
  const lines = [`${r.file}: ${r.machineType}, ${r.checked} PCI devices checked against the guest's view`];
  for (const n of r.notChecked) lines.push(`  not checked: ${n}`);
  if (!r.mismatches.length) {
    lines.push('  every device is where the lock says');
    return lines.join('\n') + '\n';
  }
  const rows = [['device', 'locked', 'guest sees', 'problem'], ...r.mismatches.map((m) => [m.id, m.expected, m.found, m.problem])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) lines.push('  ' + row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  '));
  lines.push(`${r.mismatches.length} mismatch${r.mismatches.length === 1 ? '' : 'es'}`);
  return lines.join('\n') + '\n';
}

export interface VerifyOptions {
  readonly json: boolean;
  /** Without it: 20 s, or 120 s for a machine that boots OVMF (its PCI enumeration under TCG takes 12 s unloaded). */
  readonly timeoutMs?: number;
  /** Boot a guest of that OS on each machine and compare its names with machinec's instead. */
  readonly guest?: 'linux';
  /** The accelerator QEMU runs under; without it, KVM where /dev/kvm is usable, else TCG. */
  readonly accel?: VerifyAccel;
}

/** What `verify --json` prints of a machine QEMU could not start or answer for: the failure itself. */
export interface VerifyFailure {
  readonly file: string;
  readonly ok: false;
  readonly accel: VerifyAccel;
  readonly error: { readonly code: 'qemu-failed'; readonly message: string; readonly stderr?: string };
}

type Compiled = Awaited<ReturnType<Session['compileFile']>>;

/** One machine started under `accel` and compared with its lock; throws when QEMU fails. */
async function verifyOne(s: Session, f: Compiled, qemu: string, accel: VerifyAccel, opts: VerifyOptions): Promise<VerifyReport> {
  const c = f.compilation!;
  // Compare with the lock as it is on disk; without one, with what a build would lock.
  let lock = c.machine!;
  if (f.lockText !== undefined) {
    const r = readLock(f.lockText, f.lockShown);
    if (r.lock) lock = r.lock;
  } else s.io.stderr(`note: ${f.lockShown} does not exist: verifying the placement a build would lock\n`);
  const timeoutMs = opts.timeoutMs ?? (c.machine!.firmware ? 120_000 : 20_000);
  const base = dirname(f.path);
  const resolveFile = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  let state: Awaited<ReturnType<typeof throwawayState>> | undefined;
  try {
    // The machine's own firmware on a throwaway VARS copy, its TPM on a throwaway swtpm.
    state = await throwawayState(c.machine!);
    const run = argsForAccel(emit(c.spec!, c.machine!, { standIns: { resolveFile, fileExists: (p) => existsSync(resolveFile(p)) }, state: state.dir }), accel);
    const { guest, vm } = await withQemu({ qemu, args: run.args, timeoutMs }, async (h) => {
      const view = (await waitForStableGuestView(h.qmp, { timeoutMs, stopWhenStable: true })).devices;
      return { guest: view, vm: await vmMismatches(h.qmp, lock, run.args) };
    });
    state.end();
    const cmp = compareGuestView(lock, guest);
    cmp.mismatches.push(...vm);
    // The dry start: the real backends (CPUs stopped), so a machine QEMU refuses fails here.
    state = await throwawayState(c.machine!);
    const dry = dryStartArgs(emit(c.spec!, c.machine!, { state: state.dir }), base, state.dir);
    const dryArgs = argsForAccel(dry.args, accel).args;
    const refused = await withQemu({ qemu, args: dryArgs, timeoutMs, paused: true }, async (h) => void (await h.qmp.execute('query-status'))).then(
      () => undefined,
      (e: Error) => /QEMU stderr:\s*(?:qemu-system-\w+: )?(.*?)\s*(?:command:|$)/s.exec(e.message)?.[1].replace(/\s+/g, ' ') ?? e.message.split('\n')[0],
    );
    if (refused) cmp.mismatches.push({ id: '(qemu)', expected: 'starts with its real backends', found: refused, problem: 'QEMU refuses the machine' });
    cmp.notChecked.push(...run.leftOut.map((flag) => `-cpu ${flag}: left out, TCG cannot do it (verify with --accel kvm on a host with /dev/kvm)`));
    cmp.notChecked.push(...dry.substituted.map((d) => `${d}: a stand-in in the dry start`));
    return { file: f.shown, machineType: c.machine!.machineType, guest, ...cmp };
  } finally {
    state?.end();
  }
}

/** QEMU's reason for refusing a start: the last line of its stderr that is not a warning. */
const reasonOf = (e: QemuLaunchError): string =>
  e.stderr.split('\n').map((l) => l.replace(/^qemu-system-\w+: /, '').trim()).filter((l) => l && !/^(-accel \w+: )?warning:/.test(l)).pop() ?? e.message.split('\n')[0];

/**
 * Without --accel: KVM where /dev/kvm is usable; a machine this host's KVM refuses at startup (no SMM, no
 * VP_INDEX under nested KVM) is verified again under TCG, and the report says so.
 */
async function verifyUnderAccel(s: Session, f: Compiled, qemu: string, opts: VerifyOptions): Promise<{ report: VerifyReport; accel: VerifyAccel }> {
  const first = opts.accel ?? defaultAccel();
  try {
    return { report: await verifyOne(s, f, qemu, first, opts), accel: first };
  } catch (e) {
    if (opts.accel || first === 'tcg' || !(e instanceof QemuLaunchError) || !/exited during startup/.test(e.message)) throw e;
    const report = await verifyOne(s, f, qemu, 'tcg', opts);
    report.notChecked.unshift(`KVM: QEMU refused the machine under KVM (${reasonOf(e)}): verified under TCG`);
    return { report, accel: 'tcg' };
  }
}

export async function verifyCommand(s: Session, files: readonly string[], opts: VerifyOptions): Promise<number> {
  if (opts.guest === 'linux') return verifyGuestCommand(s, files, opts);
  const qemu = s.qemuPath;
  if (!qemu) {
    s.fail('qemu-missing', `${DEFAULT_QEMU_BINARY} not found`, { hint: 'install it (Debian: apt-get install qemu-system-x86) or pass --qemu PATH' });
    return 2;
  }
  let worst = 0;
  const records: (Omit<VerifyReport, 'guest'> & { ok: boolean; accel: VerifyAccel } | VerifyFailure)[] = [];
  for (const file of files) {
    const f = await s.compileFile(file);
    s.report(f.diagnostics);
    if (!f.compilation?.ok) {
      worst = Math.max(worst, 1);
      continue;
    }
    try {
      const { report: { guest: _g, ...report }, accel } = await verifyUnderAccel(s, f, qemu, opts);
      records.push({ ...report, ok: report.mismatches.length === 0, accel });
      if (!opts.json) s.io.stdout(renderReport({ ...report, guest: _g }));
      if (report.mismatches.length) worst = Math.max(worst, 1);
    } catch (e) {
      const err = e as Error;
      const message = err instanceof QemuLaunchError ? err.message.split('\nQEMU stderr:')[0].split('\ncommand:')[0] : err.message.split('\n')[0];
      const stderr = err instanceof QemuLaunchError && err.stderr.trim() ? err.stderr.trim() : undefined;
      records.push({ file: f.shown, ok: false, accel: opts.accel ?? defaultAccel(), error: { code: 'qemu-failed', message, ...(stderr ? { stderr } : {}) } });
      s.fail('qemu-failed', `${f.shown}: ${err instanceof QemuLaunchError ? err.message : err.message.split('\n')[0]}`);
      worst = 2;
    }
  }
  if (opts.json) s.io.stdout(JSON.stringify(records, null, 2) + '\n');
  return worst;
}
