/**
 * The check registry, dtc-style: every diagnostic machinec can emit comes from a registered check
 * `{ id, phase, severity, run }`, and its code is its id (a check's `report` cannot set another).
 *
 * Phases: `source` (the parsed and resolved source), `lock` (the lock read beside it, and the
 * machine type it pins against the installed QEMU), `placed` (after placement). The failures of
 * the CLI itself (usage, files, QEMU, git, import) are not checks of a machine: they are listed in
 * `failures`, so that every code machinec prints is in one of the two tables.
 */
import type { Diagnostic, RelatedLocation, Severity, Span } from '../../grammar/index.js';
import { DEFAULT_QEMU_BINARY } from '../chipsets.js';

export type CheckPhase = 'source' | 'lock' | 'placed';

/** Reports one diagnostic with the check's own id as its code (in the checked file, or `file`). */
export type Report = (message: string, span: Span | undefined, hint?: string, related?: readonly RelatedLocation[], file?: string) => void;

export interface Check<C> {
  readonly id: string;
  readonly phase: CheckPhase;
  readonly severity: Severity;
  run(ctx: C, report: Report): void;
}

/** Runs checks in order; each diagnostic carries its check's id and severity. */
export function runRegistered<C>(list: readonly Check<C>[], ctx: C, file: string, out: Diagnostic[] = []): Diagnostic[] {
  for (const check of list) {
    check.run(ctx, (message, span, hint, related, other) => out.push({ code: check.id, severity: check.severity, message, file: other ?? file, span, hint, related }));
  }
  return out;
}


/** Failures of a command rather than of a machine: each code the CLI prints and what it means. */
export interface Failure {
  readonly id: string;
  readonly severity: Severity;
  readonly doc: string;
}

export const failures: readonly Failure[] = [
  { id: 'usage', severity: 'error', doc: 'the command line is wrong: an unknown option, a missing argument, no .machine files' },
  { id: 'unreadable-file', severity: 'error', doc: 'a source or lock file cannot be read (missing, not a regular file, over 16 MiB, or a symlink leaving the work tree)' },
  { id: 'unwritable-file', severity: 'error', doc: 'a file cannot be written (full disk, read-only folder, permissions); the old file is intact' },
  { id: 'lock-outdated', severity: 'error', doc: '--locked, and the lock is missing or a build would change it' },
  { id: 'qemu-missing', severity: 'error', doc: `no ${DEFAULT_QEMU_BINARY} to run` },
  { id: 'qemu-failed', severity: 'error', doc: 'QEMU would not start or stopped' },
  { id: 'guest-missing', severity: 'error', doc: "verify --guest linux: the guest's kernel, busybox or udevadm is not installed (Debian: linux-image-amd64, busybox-static, udev)" },
  { id: 'guest-silent', severity: 'error', doc: 'verify --guest linux: the guest did not report its names within the bound (--timeout)' },
  { id: 'git', severity: 'error', doc: 'a git command (diff against a revision) failed' },
  { id: 'rename', severity: 'error', doc: 'machinec rename cannot rename that id' },
  { id: 'import-failed', severity: 'error', doc: 'import could not carry the running QEMU into a .machine file' },
  { id: 'import-not-started', severity: 'error', doc: 'import could not start the QEMU command line it was given' },
  { id: 'import-exists', severity: 'error', doc: 'import would overwrite an existing .machine file' },
  { id: 'init-exists', severity: 'error', doc: 'init found a file or git config value of its own that differs from what it writes, and left it as it is' },
  { id: 'import-not-carried', severity: 'warning', doc: 'import: an option of the QEMU command line the .machine cannot say (named, never dropped silently; pass it in qemu-args)' },
  { id: 'libvirt-unsupported', severity: 'error', doc: "export libvirt: the machine says something libvirt's domain XML cannot" },
  { id: 'libvirt-override', severity: 'warning', doc: 'export libvirt: a device property without a libvirt element goes to <qemu:override>' },
  { id: 'libvirt-commandline', severity: 'warning', doc: 'export libvirt --qemu-commandline: a device carried as <qemu:commandline> arguments' },
  { id: 'state-shared', severity: 'error', doc: 'run and check: two machines share a state folder (or a VARS file), or its owner file names another machine' },
  { id: 'state-symlink', severity: 'warning', doc: 'check: a state folder is a symlink (run follows it, and refuses it when its owner file names another machine)' },
  { id: 'state-unwritable', severity: 'error', doc: 'run: the state folder cannot be made, or the VARS template cannot be copied into it' },
  { id: 'nvram-size', severity: 'error', doc: 'run: the machine\'s VARS file is not the size of its locked template' },
  { id: 'swtpm-failed', severity: 'error', doc: 'run: swtpm would not start for the machine\'s TPM' },
  { id: 'qmp-socket', severity: 'error', doc: 'run: the QMP socket cannot be placed (its folder is not private, the path is too long) or a running QEMU holds it' },
  { id: 'not-running', severity: 'error', doc: 'status: the machine is not running, or its QMP (socket or libvirt domain) cannot be reached (exit status 2)' },
  { id: 'other-machine', severity: 'error', doc: 'status: the machine that answers has another SMBIOS UUID than the lock (exit status 2)' },
  { id: 'internal', severity: 'error', doc: 'a machinec bug (exit status 3)' },
];
