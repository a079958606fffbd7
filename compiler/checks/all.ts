/**
 * Every code machinec can print, in one table: the registered checks of every phase (their id is
 * the code of what they report) and the failures of a command (`failures`, phase `command`).
 * `compile()` and the CLI's renderer refuse a diagnostic whose code is not here: an unregistered
 * code is a machinec bug, never dropped and never printed as if it were a real one.
 */
import type { Diagnostic, RelatedLocation, Severity, Span } from '../../grammar/index.js';
import { repoChecks } from './repo-unique.js';
import { lockChecks, lockReadChecks, machineTypeChecks, parserChecks } from './lock.js';
import { placementChecks } from './placement.js';
import { failures, type CheckPhase } from './registry.js';
import { sourceChecks } from './source.js';
import { vmPinChecks } from './vm-pins.js';

export interface RegisteredCode {
  readonly id: string;
  readonly phase: CheckPhase | 'command';
  readonly severity: Severity;
}

const checks = [parserChecks, sourceChecks, lockReadChecks, lockChecks, machineTypeChecks, vmPinChecks, repoChecks, placementChecks].flat();

/** Each check and each command failure, in the order a build meets them. */
export const registry: readonly RegisteredCode[] = [
  ...checks.map(({ id, phase, severity }) => ({ id, phase, severity })),
  ...failures.map(({ id, severity }) => ({ id, phase: 'command' as const, severity })),
];

const codes = new Set(registry.map((r) => r.id));

export const isRegistered = (code: string): boolean => codes.has(code);

/** Throws on the first diagnostic whose code no check or failure registers. */
export function assertRegistered(diagnostics: readonly Diagnostic[]): void {
  const stray = diagnostics.find((d) => !codes.has(d.code));
  if (stray) throw new Error(`diagnostic code ${stray.code} is not registered (${stray.message}): add its check to compiler/checks/ or its failure to the failures table`);
}

const severities = new Map(registry.map((r) => [r.id, r.severity]));

/**
 * A diagnostic with a registered code and its registered severity: how the CLI makes its failures
 * (usage, QEMU, git, files). Without `file` it names no file (the message says what failed) and
 * renders without a `-->` line. An unregistered code throws.
 */
export function diagnose(code: string, message: string, at: { readonly file?: string; readonly span?: Span; readonly hint?: string; readonly related?: readonly RelatedLocation[] } = {}): Diagnostic {
  const severity = severities.get(code);
  if (!severity) throw new Error(`diagnostic code ${code} is not registered (${message}): add its failure to the failures table in compiler/checks/registry.ts`);
  return { code, severity, message, file: at.file ?? '', span: at.span, hint: at.hint, related: at.related };
}
