/**
 * `machinec verify FILE…`: starts the real QEMU with the machine (stand-ins for backends that
 * are not there), lets the firmware number the buses, reads QMP `query-pci`, and compares what
 * the guest sees with the lock: every device at its locked bus number, slot and function, with
 * the vendor:device ID the catalog expects, and nothing the lock does not know.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { catalog, emit, formatGuestAddress, readLock, type PlacedDevice, type PlacedMachine } from '../../compiler/index.js';
import { chipsets } from '../../compiler/chipsets.js';
import { describeDevice, QemuLaunchError, waitForStableGuestView, withQemu, type GuestPciDevice } from '../qemu/index.js';
import type { Session } from '../session.js';

export interface Mismatch {
  readonly id: string;
  readonly expected: string;
  readonly found: string;
  readonly problem: string;
}

export interface VerifyReport {
  readonly file: string;
  readonly machineType: string;
  readonly checked: number;
  readonly mismatches: Mismatch[];
  readonly notChecked: string[];
  readonly guest: GuestPciDevice[];
}

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');

/** The vendor:device the guest reads: virtio devices drop their legacy ID behind a PCIe port, or with disable-legacy. */
export function expectedPciId(d: PlacedDevice, machine: PlacedMachine): { vendor: number; device: number } | undefined {
  const pci = catalog[d.model]?.pci;
  if (!pci) return undefined;
  const parent = machine.devices.find((p) => p.id === d.bus);
  const modern = parent?.model === 'pcie-root-port' || d.pins['disable-legacy'] === 'on';
  return { vendor: pci.vendor, device: modern && pci.modernDevice !== undefined ? pci.modernDevice : pci.device };
}

/** Compares the guest's PCI view with a lock. Pure: used by verify and by the tests. */
export function compareGuestView(lock: PlacedMachine, guest: readonly GuestPciDevice[]): { mismatches: Mismatch[]; checked: number; notChecked: string[] } {
  const mismatches: Mismatch[] = [];
  const notChecked: string[] = [];
  const byId = new Map(guest.filter((g) => g.qdevId).map((g) => [g.qdevId, g]));
  const seen = new Set<string>();
  let checked = 0;
  for (const d of lock.devices) {
    if (d.attachment !== 'pci' || !d.guest) continue;
    if (d.model === 'vfio-pci') {
      notChecked.push(`${d.id} (vfio-pci needs the host's device)`);
      continue;
    }
    checked++;
    seen.add(d.id);
    const want = `${formatGuestAddress(d.guest)}`;
    const id = expectedPciId(d, lock);
    const wantId = id ? `${hex(id.vendor, 4)}:${hex(id.device, 4)}` : '';
    const g = byId.get(d.id);
    if (!g) {
      mismatches.push({ id: d.id, expected: `${want} ${wantId}`.trim(), found: '(absent)', problem: 'not on any bus' });
      continue;
    }
    const got = formatGuestAddress({ bus: g.bus, slot: g.slot, fn: g.fn });
    const gotId = `${hex(g.vendor, 4)}:${hex(g.device, 4)}`;
    const problems: string[] = [];
    if (got !== want) problems.push('at another address');
    if (id && gotId !== wantId) problems.push('another vendor:device ID');
    if (d.secondaryBus !== undefined && g.secondaryBus !== d.secondaryBus) problems.push(`its bus is numbered ${g.secondaryBus ?? '-'}, locked ${d.secondaryBus}`);
    if (problems.length) mismatches.push({ id: d.id, expected: `${want} ${wantId}`.trim(), found: `${got} ${gotId}`, problem: problems.join('; ') });
  }
  const builtins = chipsets[lock.chipset].builtins;
  for (const g of guest) {
    if (g.qdevId && seen.has(g.qdevId)) continue;
    if (!g.qdevId && g.bus === 0 && builtins.some((b) => b.slot === g.slot && b.fn === g.fn)) continue;
    if (g.qdevId && lock.devices.some((d) => d.id === g.qdevId && d.model === 'vfio-pci')) continue;
    mismatches.push({ id: g.qdevId || '(unnamed)', expected: '(not in the lock)', found: describeDevice(g), problem: 'unexpected device' });
  }
  return { mismatches, checked, notChecked };
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
    s.io.stderr('error[qemu-missing]: qemu-system-x86_64 not found\n  = hint: install it (Debian: apt-get install qemu-system-x86) or pass --qemu PATH\n');
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
      s.io.stderr(`error[qemu-failed]: ${f.shown}: ${err instanceof QemuLaunchError ? err.message : err.message.split('\n')[0]}\n`);
      worst = 2;
    }
  }
  if (opts.json) s.io.stdout(JSON.stringify(reports.map(({ guest: _g, ...r }) => ({ ...r, ok: r.mismatches.length === 0 })), null, 2) + '\n');
  return worst;
}
