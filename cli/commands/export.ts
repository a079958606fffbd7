/**
 * `machinec export libvirt FILE [--out F]`: the machine as libvirt domain XML, every device at
 * its locked address. Like `build`, it writes or updates the lock first (`--locked` refuses), so
 * the XML never holds an address the lock does not.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { exportLibvirt } from '../../compiler/index.js';
import { hasErrors } from '../../grammar/index.js';
import { writeAtomic } from '../io.js';
import { renderPlan } from '../render-plan.js';
import type { Session } from '../session.js';
import { claimStateFolder, hasTpm, statePaths } from '../vm-state.js';

export interface ExportOptions {
  readonly out?: string;
  readonly locked: boolean;
  readonly name?: string;
  readonly accel?: 'kvm' | 'tcg';
  readonly qemuCommandline?: boolean;
}

export async function exportLibvirtCommand(s: Session, file: string, opts: ExportOptions): Promise<number> {
  const f = await s.compileFile(file);
  s.report(f.diagnostics);
  const c = f.compilation;
  if (!c?.ok) return 1;
  const exported = exportLibvirt({ spec: c.spec!, machine: c.machine!, baseDir: dirname(f.path), name: opts.name, accel: opts.accel, qemuCommandline: opts.qemuCommandline });
  s.report(exported.diagnostics);
  if (!exported.xml || hasErrors(exported.diagnostics)) {
    s.io.stderr(`${f.shown}: not exported: libvirt's domain XML cannot say what the errors above name; nothing was written (--qemu-commandline carries such devices as QEMU arguments)\n`);
    return 1;
  }
  if (c.lockText !== f.lockText) {
    if (opts.locked) {
      s.fail('lock-outdated', `${f.lockText === undefined ? `${f.lockShown} is missing` : `${f.lockShown} is out of date`} and --locked forbids writing it`);
      s.io.stderr(renderPlan(c.plan!, { color: s.color, title: `${f.shown}: what a build would change` }));
      return 1;
    }
    writeAtomic(f.lockPath, c.lockText!);
    s.io.stderr(`${f.lockText === undefined ? 'wrote' : 'updated'} ${f.lockShown}\n`);
  }
  // libvirt copies the VARS template to the nvram path at first start, but does not make its folder;
  // the machine's state folder is claimed for it, as run does, so that no other machine's domain boots on it.
  const stateDir = c.machine!.firmware || hasTpm(c.machine!) ? statePaths(c.spec!, dirname(f.path)).dir : undefined;
  for (const folder of exported.folders) {
    const problem = resolve(folder) === stateDir ? claimStateFolder(c.machine!, f.path, { shown: f.shown, span: c.spec!.properties.get('state')?.value?.span ?? c.spec!.node?.name?.span }, folder) : undefined;
    if (problem) {
      s.report([problem]);
      return 1;
    }
    mkdirSync(folder, { recursive: true });
  }
  if (opts.out) {
    writeAtomic(resolve(s.io.cwd, opts.out), exported.xml);
    s.io.stderr(`wrote ${opts.out}: ${c.machine!.devices.length} devices at their locked addresses\n`);
  } else s.io.stdout(exported.xml);
  return 0;
}
