/**
 * `machinec verify --guest linux FILE…`: boots the Linux guest on each machine (its own command
 * line and firmware, stand-ins for backends that are not there, a throwaway VARS copy and TPM)
 * and prints, per NIC and disk, the name the guest gave it beside the name machinec predicts.
 * Exit 1 when any differs, 2 when the guest cannot be built or booted.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_QEMU_BINARY, emit, NVRAM_FILE, readLock, type PlacedMachine } from '../../compiler/index.js';
import type { Session } from '../session.js';
import { throwawayState } from '../vm-state.js';
import { bootGuest, GuestSilentError } from './boot.js';
import { compareGuestNames, type GuestNameRow } from './compare.js';
import { guestImage, GuestMissingError, type GuestImage } from './image.js';

export interface GuestVerifyReport {
  readonly file: string;
  readonly kernel: string;
  readonly firmware: 'seabios' | 'ovmf';
  readonly bootMs: number;
  readonly devices: GuestNameRow[];
  /** What the guest's boot does not share with the machine's (secure boot off). */
  readonly notChecked: string[];
  readonly ok: boolean;
}

export interface GuestVerifyOptions {
  readonly json: boolean;
  /** Without it: 180 s, 300 s for a machine that boots OVMF (both under TCG). */
  readonly timeoutMs?: number;
}

/**
 * OVMF with secure boot loads only a kernel signed by a key in its db (Microsoft's), and Debian's
 * kernel is signed by Debian's: the guest boots the same CODE image with the VARS template that
 * enrolls no keys (`OVMF_VARS_4M.ms.fd` → `OVMF_VARS_4M.fd`), secure boot off.
 */
function secureBootOff(machine: PlacedMachine, stateDir: string): string | undefined {
  const fw = machine.firmware;
  if (!fw?.secureBoot) return undefined;
  const plain = join(dirname(fw.vars.path), basename(fw.vars.path).replace(/\.(ms|secboot|snakeoil)(?=\.fd$)/, ''));
  if (plain === fw.vars.path || !existsSync(plain)) return undefined;
  copyFileSync(plain, join(stateDir, NVRAM_FILE));
  return `secure boot: the guest booted with ${basename(plain)} (no keys enrolled), as Debian's kernel is not signed by a key in ${basename(fw.vars.path)}`;
}

const dash = (v: string | undefined): string => v ?? '-';

export function renderGuestReport(r: GuestVerifyReport): string {
  const lines = [`${r.file}: Linux ${r.kernel} booted through ${r.firmware === 'ovmf' ? 'OVMF' : 'SeaBIOS'} in ${(r.bootMs / 1000).toFixed(1)} s`];
  for (const n of r.notChecked) lines.push(`  not checked: ${n}`);
  const rows = [
    ['device', 'guest device', 'machinec predicts', 'guest says', 'guest uses', ''],
    ...r.devices.map((d) => [d.id, dash(d.guestDevice), dash(d.predicted), dash(d.guest), d.kind === 'nic' ? dash(d.uses) : '', d.ok ? 'ok' : 'DIFFERS']),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) lines.push(`  ${row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}`);
  const bad = r.devices.filter((d) => !d.ok).length;
  lines.push(bad ? `${bad} name${bad === 1 ? '' : 's'} differ${bad === 1 ? 's' : ''} from the guest's` : '  every name is the guest\'s');
  return `${lines.join('\n')}\n`;
}

/** The guest booted on one compiled file; undefined (after a diagnostic) when it does not compile. */
async function verifyOne(s: Session, qemu: string, image: GuestImage, file: string, opts: GuestVerifyOptions): Promise<GuestVerifyReport | undefined> {
  const f = await s.compileFile(file);
  s.report(f.diagnostics);
  const c = f.compilation;
  if (!c?.ok) return undefined;
  let lock = c.machine!;
  if (f.lockText !== undefined) lock = readLock(f.lockText, f.lockShown).lock ?? lock;
  else s.io.stderr(`note: ${f.lockShown} does not exist: checking the names a build would lock\n`);
  const base = dirname(f.path);
  const resolveFile = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const state = await throwawayState(c.machine!);
  try {
    const notChecked = [secureBootOff(c.machine!, state.dir)].filter((n): n is string => n !== undefined);
    const argv = emit(c.spec!, c.machine!, { standIns: { resolveFile, fileExists: (p) => existsSync(resolveFile(p)) }, state: state.dir });
    const smp = argv[argv.indexOf('-smp') + 1];
    const oneCpu = `CPUs: the guest booted with one (-smp ${smp} is slow under TCG; no NIC or disk name depends on it)`;
    if (argv.includes('-smp') && smp !== '1') notChecked.push(oneCpu);
    const timeoutMs = opts.timeoutMs ?? (c.machine!.firmware ? 300_000 : 180_000);
    const boot = await bootGuest(qemu, argv, image, timeoutMs);
    const devices = compareGuestNames(lock, boot.report);
    const firmware = c.machine!.firmware ? 'ovmf' : 'seabios';
    return { file: f.shown, kernel: image.kernelVersion, firmware, bootMs: boot.bootMs, devices, notChecked, ok: devices.every((d) => d.ok) };
  } finally {
    state.end();
  }
}

export async function verifyGuestCommand(s: Session, files: readonly string[], opts: GuestVerifyOptions): Promise<number> {
  const qemu = s.qemuPath;
  const hint = 'install it (Debian: apt-get install qemu-system-x86) or pass --qemu PATH';
  if (!qemu) return s.fail('qemu-missing', `${DEFAULT_QEMU_BINARY} not found`, { hint }, 2);
  let image: GuestImage;
  try {
    image = guestImage(s.io.env);
  } catch (e) {
    if (!(e instanceof GuestMissingError)) throw e;
    return s.fail('guest-missing', e.message, { hint: `install Debian's ${e.packages.join(', ')} (apt-get install linux-image-amd64 busybox-static udev)` }, 2);
  }
  let worst = 0;
  const reports: GuestVerifyReport[] = [];
  for (const file of files) {
    try {
      const r = await verifyOne(s, qemu, image, file, opts);
      if (!r) { worst = Math.max(worst, 1); continue; }
      reports.push(r);
      if (!opts.json) s.io.stdout(renderGuestReport(r));
      if (!r.ok) worst = Math.max(worst, 1);
    } catch (e) {
      const err = e as Error;
      if (err instanceof GuestSilentError) {
        const last = err.console.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).at(-1);
        const said = last ? `; its console's last line: ${JSON.stringify(last.slice(0, 120))}` : '';
        s.fail('guest-silent', `${file}: ${err.message}`, { hint: `give it longer with --timeout SECONDS${said}` });
      } else s.fail('qemu-failed', `${file}: ${err.message.split('\n')[0]}`);
      worst = 2;
    }
  }
  if (opts.json) s.io.stdout(`${JSON.stringify(reports, null, 2)}\n`);
  return worst;
}
