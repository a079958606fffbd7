/**
 * `machinec verify FILE…`: starts the real QEMU with the machine (stand-ins for backends that
 * are not there), lets the firmware number the buses, reads QMP `query-pci`, and compares what
 * the guest sees with the lock: every device at its locked bus number, slot and function, with
 * the vendor:device ID the catalog expects, and nothing the lock does not know.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { compareGuestView, emit, readLock, type GuestPciDevice, type Mismatch } from '../../compiler/index.js';
import { QemuLaunchError, waitForStableGuestView, withQemu } from '../qemu/index.js';
import type { Session } from '../session.js';

export interface VerifyReport {
  readonly file: string;
  readonly machineType: string;
  readonly checked: number;
  readonly mismatches: Mismatch[];
  readonly notChecked: string[];
  readonly guest: GuestPciDevice[];
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
  readonly timeoutMs: number;
}

export async function verifyCommand(s: Session, files: readonly string[], opts: VerifyOptions): Promise<number> {
  const qemu = s.qemuPath;
  if (!qemu) {
    s.fail('qemu-missing', 'qemu-system-x86_64 not found', { hint: 'install it (Debian: apt-get install qemu-system-x86) or pass --qemu PATH' });
    return 2;
  }
  let worst = 0;
  const reports: VerifyReport[] = [];
  for (const file of files) {
    const f = await s.compileFile(file);
    s.report(f.diagnostics);
    const c = f.compilation;
    if (!c?.ok) {
      worst = Math.max(worst, 1);
      continue;
    }
    // Compare with the lock as it is on disk; without one, with what a build would lock.
    let lock = c.machine!;
    if (f.lockText !== undefined) {
      const r = readLock(f.lockText, f.lockShown);
      if (r.lock) lock = r.lock;
    } else s.io.stderr(`note: ${f.lockShown} does not exist: verifying the placement a build would lock\n`);
    const base = dirname(f.path);
    const resolveFile = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
    const argv = emit(c.spec!, c.machine!, { standIns: { resolveFile, fileExists: (p) => existsSync(resolveFile(p)) } });
    try {
      const guest = await withQemu({ qemu, args: argv, timeoutMs: opts.timeoutMs }, async (h) => (await waitForStableGuestView(h.qmp, { timeoutMs: opts.timeoutMs, stopWhenStable: true })).devices);
      const cmp = compareGuestView(lock, guest);
      const report: VerifyReport = { file: f.shown, machineType: c.machine!.machineType, guest, ...cmp };
      reports.push(report);
      if (!opts.json) s.io.stdout(renderReport(report));
      if (cmp.mismatches.length) worst = Math.max(worst, 1);
    } catch (e) {
      const err = e as Error;
      s.fail('qemu-failed', `${f.shown}: ${err instanceof QemuLaunchError ? err.message : err.message.split('\n')[0]}`);
      worst = 2;
    }
  }
  if (opts.json) s.io.stdout(JSON.stringify(reports.map(({ guest: _g, ...r }) => ({ ...r, ok: r.mismatches.length === 0 })), null, 2) + '\n');
  return worst;
}
