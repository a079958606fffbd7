/**
 * The one diagnostic type every phase returns: the lexer, the parser, the checks,
 * placement and the lockfile reader. Phases never throw on bad input; the CLI renders these.
 */

/** A half-open range of UTF-16 offsets into the source text: [start, end). */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export type Severity = 'error' | 'warning' | 'note';

export interface RelatedLocation {
  readonly message: string;
  readonly file: string;
  readonly span?: Span;
}

export interface Diagnostic {
  /** A stable kebab-case name, e.g. `unknown-model`; shown as `error[unknown-model]`. */
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly file: string;
  /** Absent when the problem has no place in the text (an unreadable file, a missing lock). */
  readonly span?: Span;
  /** What to do about it, e.g. "did you mean virtio-net-pci?". */
  readonly hint?: string;
  readonly related?: readonly RelatedLocation[];
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
