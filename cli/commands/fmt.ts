/**
 * `machinec fmt [--check] [files...]`: formats .machine files with prettier and the machinec
 * plugin, honouring `.prettierrc` (and `.editorconfig`, `.prettierignore` in cwd) like
 * `prettier --write` would. prettier and the plugin are imported only when this command runs.
 *
 * A file that does not parse is never touched: its diagnostics go to stderr and the exit code
 * is 1. With `--check`, files that would change are listed on stdout (exit 1 if any); without,
 * changed files are rewritten atomically and listed.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, type Diagnostic } from '../../grammar/index.js';
import { displayPath, findMachines, readText, writeAtomic } from '../io.js';
import { renderDiagnostics } from '../render-diagnostic.js';

export interface FmtOptions {
  /** Report files that are not formatted instead of rewriting them. */
  check: boolean;
  /** Files and folders; empty means every `.machine` file under cwd. */
  paths: string[];
  cwd: string;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export async function runFmt(opts: FmtOptions): Promise<number> {
  const { cwd, stdout, stderr } = opts;
  const shown = (file: string): string => displayPath({ cwd }, file);
  const problems: string[] = [];
  const named = (opts.paths.length ? opts.paths : [cwd]).map((p) => resolve(cwd, p));
  for (const p of named) if (!existsSync(p)) problems.push(`${shown(p)}: no such file or folder`);
  const files = findMachines(named.filter((p) => existsSync(p)));
  // Loaded here and only here: no other command pays for prettier.
  const [prettier, { default: plugin }] = await Promise.all([import('prettier'), import('../../prettier-plugin/index.js')]);
  const ignorePath = join(cwd, '.prettierignore');

  const diagnostics: Diagnostic[] = [];
  const sources = new Map<string, string>();
  /** Files that are not formatted (--check) or that were rewritten. */
  const unformatted: string[] = [];
  for (const file of files) {
    const name = shown(file);
    // As every command reads a source: a regular file inside the tree it sits in, never a FIFO or a link out of it.
    const read = readText(file, name, 'file', cwd);
    if (!read.ok) {
      diagnostics.push(read.diagnostic);
      continue;
    }
    const text = read.text;
    // Named explicitly or found by the walk, a file listed in .prettierignore is left alone.
    if ((await prettier.getFileInfo(file, { ignorePath })).ignored) continue;
    const errors = parse(text, name).diagnostics.filter((d) => d.severity === 'error');
    if (errors.length) {
      diagnostics.push(...errors);
      sources.set(name, text);
      continue;
    }
    let formatted: string;
    try {
      const config = (await prettier.resolveConfig(file, { editorconfig: true })) ?? {};
      // The config's own `plugins` are irrelevant here: the machine parser is ours.
      formatted = await prettier.format(text, { ...config, plugins: [plugin], parser: 'machine', filepath: file });
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
      continue;
    }
    if (formatted === text) continue;
    if (opts.check) {
      unformatted.push(name);
      continue;
    }
    try {
      writeAtomic(file, formatted);
      unformatted.push(name);
    } catch (e) {
      problems.push(`${name}: cannot write: ${(e as Error).message}`);
    }
  }

  if (diagnostics.length) stderr(renderDiagnostics(diagnostics, sources, false));
  for (const p of problems) stderr(`error: ${p}\n`);
  for (const name of unformatted) stdout(`${name}\n`);
  if (opts.check && unformatted.length) {
    const n = unformatted.length;
    stderr(`${n} file${n === 1 ? ' is' : 's are'} not formatted; run \`machinec fmt\` to fix\n`);
  }
  const failed = diagnostics.length > 0 || problems.length > 0 || (opts.check && unformatted.length > 0);
  return failed ? 1 : 0;
}
