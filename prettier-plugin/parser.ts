/**
 * The `machine` parser: the grammar's tolerant `parse`, made strict. prettier must never print
 * a tree that error recovery patched up, so any error diagnostic becomes a thrown SyntaxError
 * carrying `loc`, which prettier turns into a code frame and reports without writing the file.
 */
import type { Parser } from 'prettier';
import { locate, parse, type Diagnostic } from '../grammar/index.js';
import { locEnd, locStart, type PluginComment, type PluginNode, type PluginRoot } from './nodes.js';

/** A parse failure in the shape prettier expects: 1-based line and column under `loc`. */
export class MachineSyntaxError extends SyntaxError {
  readonly loc: { start: { line: number; column: number }; end?: { line: number; column: number } };
  readonly diagnostic: Diagnostic;

  constructor(diagnostic: Diagnostic, text: string) {
    const start = locate(text, diagnostic.span?.start ?? 0);
    const end = diagnostic.span && diagnostic.span.end > diagnostic.span.start ? locate(text, diagnostic.span.end) : undefined;
    const hint = diagnostic.hint ? `; ${diagnostic.hint}` : '';
    super(`${diagnostic.message}${hint} (${start.line}:${start.column})`);
    this.name = 'SyntaxError';
    this.loc = end ? { start, end } : { start };
    this.diagnostic = diagnostic;
  }
}

export function parseMachine(text: string, filepath?: string): PluginRoot {
  const { ast, diagnostics } = parse(text, filepath ?? '<input>');
  const error = diagnostics.find((d) => d.severity === 'error');
  if (error) throw new MachineSyntaxError(error, text);
  // Fresh comment objects: prettier mutates them while attaching and removes `comments` from the root.
  const comments: PluginComment[] = ast.comments.map((c) => ({ ...c, value: c.text }));
  return { ...ast, comments };
}

export const machineParser: Parser<PluginNode> = {
  parse: (text, options) => parseMachine(text, options.filepath) as PluginNode,
  astFormat: 'machine-ast',
  locStart,
  locEnd,
};
