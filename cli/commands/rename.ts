/**
 * `machinec rename FILE OLD NEW`: renames a device in the source and in the lock together, so
 * it keeps its address, MAC and serial. (Renaming in the source alone is a remove and an add.)
 * The steps are the compiler's (compiler/rename.ts), shared with the editor's rename.
 */
import { diagnose, renameDevice } from '../../compiler/index.js';
import { journalPathOf, writeTogether } from '../io.js';
import { renderPlan } from '../render-plan.js';
import type { Session } from '../session.js';

export async function renameCommand(s: Session, file: string, from: string, to: string): Promise<number> {
  const f = await s.compileFile(file, { qemu: false });
  if (!f.compilation?.ok) {
    s.report(f.diagnostics);
    return 1;
  }
  const source = s.sources.get(f.shown)!;
  const r = renameDevice({ file: f.shown, source, lockFile: f.lockShown, built: f.compilation, from, to });
  if (!r.ok) {
    s.report(r.diagnostics);
    if (r.plan) s.io.stderr(renderPlan(r.plan, { color: s.color, title: 'the rename would change the guest:' }));
    s.report([diagnose('rename', r.message, { file: f.shown, hint: r.hint })]);
    return 1;
  }
  writeTogether(journalPathOf(f.path), [{ path: f.path, after: r.source }, { path: f.lockPath, after: r.lock }]);
  const kept = r.kept.length ? ` (written in ${f.shown}: ${r.kept.join(', ')})` : '';
  s.io.stderr(`renamed ${from} to ${to} in ${f.shown} and ${f.lockShown}; its address, MAC and serial stay${kept}\n`);
  return 0;
}
