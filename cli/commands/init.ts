/**
 * `machinec init [DIR]`: sets up the git work tree holding DIR for machines. It adds the lock's diff and merge
 * drivers to .gitattributes and sets their git config in that repository, ignores the state folders (*.state/),
 * writes the review workflow (.github/workflows/machinec-review.yml) and a pre-commit hook. It only adds: a line
 * already there stays, a file or config value that differs from what init would write is left alone and named
 * (error init-exists, exit 1). A second run changes nothing and says so.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { displayPath, writeAtomic } from '../io.js';
import type { Session } from '../session.js';
import { packageRoot, terminalText } from '../package-files.js';

/** The attributes that name machinec's drivers (docs/review.md). */
export const ATTRIBUTES = '*.machine.lock diff=machinec merge=machinec';
/** The repository config the drivers need: `git config KEY VALUE`. */
export const GIT_CONFIG: readonly (readonly [string, string])[] = [
  ['diff.machinec.textconv', 'machinec textconv'],
  ['merge.machinec.name', 'machinec lock merge'],
  ['merge.machinec.driver', 'machinec merge-lock %O %A %B %P'],
];
/** The per-VM state folders (OVMF VARS, the TPM's state): the guest's own data, never committed. */
export const IGNORED = '*.state/';
export const WORKFLOW = '.github/workflows/machinec-review.yml';
export const PRE_COMMIT = `#!/bin/sh
# Written by machinec init: refuse a commit whose .machine files are not formatted or whose locks are out of date.
machinec fmt --check || exit 1
machinec lock --locked
`;

/** What init did to one file or setting, for its report. */
interface Step {
  readonly what: string;
  readonly outcome: 'done' | 'kept' | 'refused';
  readonly detail?: string;
}

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The work tree's top, or undefined when `dir` is in none (or git is missing). */
function workTree(dir: string): string | undefined {
  try {
    return git(dir, 'rev-parse', '--show-toplevel');
  } catch {
    return undefined;
  }
}

/** Adds each missing line to a line list file (.gitattributes, .gitignore), keeping what is there. */
function addLines(top: string, name: string, lines: readonly string[]): Step {
  const path = join(top, name);
  const text = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  const have = new Set((text ?? '').split(/\r?\n/).map((l) => l.trim()));
  const missing = lines.filter((l) => !have.has(l));
  if (!missing.length) return { what: name, outcome: 'kept' };
  const before = text === undefined || text === '' || text.endsWith('\n') ? (text ?? '') : `${text}\n`;
  writeAtomic(path, `${before}${missing.join('\n')}\n`);
  return { what: name, outcome: 'done', detail: `${text === undefined ? 'wrote' : 'added to'} ${name}: ${missing.join(', ')}` };
}

/** Writes a file init owns when it is missing; one that differs is the user's and stays. */
function writeOwn(top: string, name: string, text: string, shown: string, executable = false): Step {
  const path = isAbsolute(name) ? name : join(top, name);
  if (existsSync(path)) {
    if (readFileSync(path, 'utf8') === text) return { what: shown, outcome: 'kept' };
    return { what: shown, outcome: 'refused', detail: `${shown} exists and is not the one machinec writes, so init left it as it is` };
  }
  mkdirSync(dirname(path), { recursive: true });
  writeAtomic(path, text);
  if (executable) chmodSync(path, 0o755);
  return { what: shown, outcome: 'done', detail: `wrote ${shown}` };
}

/** Sets each driver key missing from the repository's config; a key set to something else stays. */
function setConfig(top: string): Step[] {
  return GIT_CONFIG.map(([key, value]) => {
    let now: string | undefined;
    try {
      now = git(top, 'config', '--local', '--get', key);
    } catch {
      now = undefined; // git config exits 1 for a key that is not set
    }
    if (now === value) return { what: `git config ${key}`, outcome: 'kept' };
    if (now !== undefined) return { what: `git config ${key}`, outcome: 'refused', detail: `git config ${key} is ${JSON.stringify(now)}, not ${JSON.stringify(value)}, so init left it as it is` };
    git(top, 'config', '--local', key, value);
    return { what: `git config ${key}`, outcome: 'done', detail: `set git config ${key} ${JSON.stringify(value)}` };
  });
}

export async function initCommand(s: Session, dir: string | undefined): Promise<number> {
  const target = resolve(s.io.cwd, dir ?? '.');
  if (!existsSync(target)) return s.fail('usage', `${dir} does not exist`, { hint: 'create the folder and run `git init` in it first' }, 2);
  const top = workTree(target);
  if (!top) return s.fail('git', `${displayPath(s.io, target)} is not in a git work tree`, { hint: 'run `git init` there first: init sets up the repository\'s diff and merge drivers and a pre-commit hook' });
  const root = packageRoot(s.io);
  const workflow = root && existsSync(join(root, 'examples', 'machinec-review.yml')) ? readFileSync(join(root, 'examples', 'machinec-review.yml'), 'utf8') : undefined;
  if (workflow === undefined) return s.fail('unreadable-file', 'the review workflow (examples/machinec-review.yml) is not in this machinec installation', { hint: 'reinstall machinec from its package (npm pack ships examples/)' });
  const hook = resolve(top, git(top, 'rev-parse', '--git-path', 'hooks/pre-commit'));
  const steps = [
    addLines(top, '.gitattributes', [ATTRIBUTES]),
    ...setConfig(top),
    addLines(top, '.gitignore', [IGNORED]),
    writeOwn(top, WORKFLOW, workflow, WORKFLOW),
    writeOwn(top, hook, PRE_COMMIT, displayPath({ cwd: top }, hook), true),
  ];
  return report(s, relative(s.io.cwd, top) === '' ? '.' : displayPath(s.io, top), steps);
}

/** One line for each change, the refusals as diagnostics; exit 1 when init left something of the user's in its way. */
function report(s: Session, shown: string, steps: readonly Step[]): number {
  for (const step of steps) if (step.outcome === 'done') s.io.stdout(`${terminalText(step.detail!)}\n`);
  const refused = steps.filter((step) => step.outcome === 'refused');
  for (const step of refused) s.fail('init-exists', terminalText(step.detail!), { hint: `compare it with what \`machinec help review\` describes; to get machinec's, remove it (or unset the key) and run \`machinec init\` again` });
  if (steps.every((step) => step.outcome === 'kept')) s.io.stdout(`${terminalText(shown)} is already set up for machinec: nothing changed\n`);
  else if (!steps.some((step) => step.outcome === 'done')) s.io.stdout('nothing changed\n');
  return refused.length ? 1 : 0;
}
