/**
 * Renders diagnostics as a code frame:
 *
 *   error[unknown-model]: unknown device model virtio-net
 *    --> office.machine:7:16
 *     |
 *   7 |   device nic0: virtio-net {
 *     |                ^^^^^^^^^^
 *     = hint: did you mean virtio-net-pci?
 */
import { assertRegistered } from '../compiler/index.js';
import { lineStarts, locate, type Diagnostic, type Span } from '../grammar/index.js';
import { visibleLines } from './escape-visible.js';

export interface Palette {
  error(s: string): string;
  warning(s: string): string;
  note(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const plain: Palette = { error: (s) => s, warning: (s) => s, note: (s) => s, dim: (s) => s, bold: (s) => s };
const ansi = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
export const colors: Palette = { error: ansi('1;31'), warning: ansi('1;33'), note: ansi('1;36'), dim: ansi('2'), bold: ansi('1') };

export function paletteFor(color: boolean): Palette {
  return color ? colors : plain;
}

/** Line starts per text, computed once however many diagnostics point into it (rendering stays linear). */
const startsOf = (() => {
  let last: { text: string; starts: number[] } | undefined;
  return (text: string): number[] => {
    if (last?.text !== text) last = { text, starts: lineStarts(text) };
    return last.starts;
  };
})();

/** The widest source line shown whole; a longer one is shown as a window around the caret. */
export const MAX_SHOWN_LINE = 120;
/** How much of a long line is shown before the caret. */
const BEFORE_CARET = 40;
const ELIDED = '…';

/**
 * The part of `line` shown under the caret's span [from, to): the whole line when it is short,
 * else a window of MAX_SHOWN_LINE characters starting a little before the span, each cut end
 * marked with `…`. Hidden characters are shown as `\u{…}` and the caret follows them.
 */
function window(line: string, from: number, to: number): { text: string; lead: string; width: number } {
  let start = 0;
  let end = line.length;
  if (line.length > MAX_SHOWN_LINE) {
    start = Math.max(0, Math.min(from - BEFORE_CARET, line.length - MAX_SHOWN_LINE));
    end = Math.min(line.length, start + MAX_SHOWN_LINE);
  }
  const head = start > 0 ? `${ELIDED} ` : '';
  const tail = end < line.length ? ` ${ELIDED}` : '';
  const before = visibleLines(line.slice(start, from));
  const marked = visibleLines(line.slice(from, Math.min(to, end)));
  const text = head + before + marked + visibleLines(line.slice(Math.min(to, end), end)) + tail;
  return { text, lead: (head + before).replace(/[^\t]/g, ' '), width: Math.max(1, marked.length) };
}

function frame(text: string, span: Span, p: Palette): { where: string; lines: string[] } {
  const starts = startsOf(text);
  const start = locate(text, Math.min(span.start, text.length), starts);
  const lineStart = starts[start.line - 1];
  const lineText = text.slice(lineStart, starts[start.line] ?? text.length).replace(/\r?\n$/, '');
  const gutter = String(start.line).length;
  const pad = ' '.repeat(gutter);
  const from = start.column - 1;
  const shown = window(lineText, from, Math.max(from + 1, Math.min(span.end - lineStart, lineText.length)));
  return {
    where: `${start.line}:${start.column}`,
    lines: [`${pad} ${p.dim('|')}`, `${p.dim(String(start.line))} ${p.dim('|')} ${shown.text}`, `${pad} ${p.dim('|')} ${shown.lead}${p.error('^'.repeat(shown.width))}`],
  };
}

/** One diagnostic as a code frame; a code that is not registered throws (a machinec bug, exit 3). */
export function renderDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, string>, color = false): string {
  assertRegistered([d]);
  const p = paletteFor(color);
  const head = (d.severity === 'error' ? p.error : d.severity === 'warning' ? p.warning : p.note)(`${d.severity}[${d.code}]`);
  const out = [`${head}${p.bold(`: ${visibleLines(d.message)}`)}`];
  const text = sources.get(d.file);
  let gutter = ' ';
  if (d.span && text !== undefined) {
    const f = frame(text, d.span, p);
    gutter = ' '.repeat(f.lines[1].indexOf('|') > 0 ? String(f.where.split(':')[0]).length : 1);
    out.push(`${gutter}${p.dim('-->')} ${d.file}:${f.where}`, ...f.lines);
  } else if (d.file !== '') {
    out.push(`${gutter}${p.dim('-->')} ${d.file}`);
  }
  for (const r of d.related ?? []) {
    const rt = sources.get(r.file);
    if (r.span && rt !== undefined) {
      const f = frame(rt, r.span, p);
      out.push(`${gutter}${p.dim('::')} ${r.message} at ${r.file}:${f.where}`, ...f.lines);
    } else out.push(`${gutter}${p.dim('::')} ${r.message} (${r.file})`);
  }
  if (d.hint) out.push(`${gutter} ${p.dim('=')} hint: ${visibleLines(d.hint)}`);
  return out.join('\n');
}

/** The most diagnostics rendered in full; the rest are counted ("and N more"). */
export const MAX_RENDERED = 1000;

export function renderDiagnostics(diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>, color = false): string {
  if (!diagnostics.length) return '';
  assertRegistered(diagnostics);
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const parts = diagnostics.slice(0, MAX_RENDERED).map((d) => renderDiagnostic(d, sources, color));
  if (diagnostics.length > MAX_RENDERED) parts.push(`… and ${diagnostics.length - MAX_RENDERED} more`);
  if (errors) parts.push(`${errors} error${errors === 1 ? '' : 's'}`);
  return parts.join('\n\n') + '\n';
}
