/** `machinec diff`: what changes in the guest between two locks, for code review. */
import { execFileSync } from 'node:child_process';
import { basename, dirname, resolve } from 'node:path';
import { comparePlacements, readLock, type PlacedMachine } from '../../compiler/index.js';
import { displayPath, lockPathOf, readText } from '../io.js';
import { renderPlanMarkdown } from '../render-markdown.js';
import { planJson, renderPlan, type PlanFormat } from '../render-plan.js';
import type { Session } from '../session.js';

const asLockPath = (p: string): string => (p.endsWith('.machine') ? lockPathOf(p) : p);

/** Exit 0: nothing an existing device shows the guest changed (additions only). 1: something did. 2: a lock could not be read. */
export async function diffCommand(s: Session, paths: readonly string[], opts: { git?: string; format: PlanFormat }): Promise<number> {
  /** `text` undefined: the lock did not exist at the revision (every device is new). */
  const texts: { shown: string; text?: string }[] = [];
  if (opts.git !== undefined) {
    if (paths.length !== 1) return s.fail('usage', 'with --git REV, give one lock (or .machine) file', {}, 2);
    const full = resolve(s.io.cwd, asLockPath(paths[0]));
    const shown = displayPath(s.io, full);
    let old: string | undefined;
    try {
      old = execFileSync('git', ['show', `${opts.git}:./${basename(full)}`], { cwd: dirname(full), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const err = String((e as { stderr?: string }).stderr ?? (e as Error).message);
      if (!/does not exist|exists on disk, but not in/.test(err)) return s.fail('git', `cannot read ${shown} at ${opts.git}: ${err.trim().split('\n')[0]}`, {}, 2);
    }
    texts.push({ shown: `${shown}@${opts.git}`, text: old });
    const now = readText(full, shown, 'lock', s.io.cwd);
    if (!now.ok) {
      s.report([now.diagnostic]);
      return 2;
    }
    texts.push({ shown, text: now.text });
  } else {
    if (paths.length !== 2) return s.fail('usage', 'give two locks: machinec diff OLD.lock NEW.lock (or one with --git REV)', {}, 2);
    for (const p of paths) {
      const full = resolve(s.io.cwd, asLockPath(p));
      const shown = displayPath(s.io, full);
      const r = readText(full, shown, 'lock', s.io.cwd);
      if (!r.ok) {
        s.report([r.diagnostic]);
        return 2;
      }
      texts.push({ shown, text: r.text });
    }
  }
  const machines: (PlacedMachine | undefined)[] = [];
  for (const { shown, text } of texts) {
    if (text === undefined) {
      machines.push(undefined);
      continue;
    }
    s.sources.set(shown, text);
    const r = readLock(text, shown);
    s.report(r.diagnostics);
    if (!r.lock) return 2;
    machines.push(r.lock);
  }
  const [before, after] = machines;
  if (!after) return s.fail('usage', 'the new lock is empty', {}, 2);
  const plan = comparePlacements(before, after);
  const title = `${texts[0].shown} → ${texts[1].shown}`;
  if (opts.format === 'json') s.io.stdout(JSON.stringify(planJson(plan), null, 2) + '\n');
  else if (opts.format === 'markdown') s.io.stdout(renderPlanMarkdown(plan, { title, after }));
  else s.io.stdout(renderPlan(plan, { color: s.color, title }));
  return plan.guestVisible || plan.hostChanged ? 1 : 0;
}
