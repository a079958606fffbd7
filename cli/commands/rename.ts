/**
 * `machinec rename FILE OLD NEW`: renames a device in the source and in the lock together, so
 * it keeps its address, MAC and serial. (Renaming in the source alone is a remove and an add.)
 */
import { compile, diagnose, renameInLock } from '../../compiler/index.js';
import { walkDevices } from '../../grammar/index.js';
import { journalPathOf, writeTogether } from '../io.js';
import { renderPlan } from '../render-plan.js';
import type { Session } from '../session.js';

const QEMU_ID = /^[A-Za-z][A-Za-z0-9_.-]*$/;

export async function renameCommand(s: Session, file: string, from: string, to: string): Promise<number> {
  const f = await s.compileFile(file, { qemu: false });
  const fail = (message: string, hint?: string): number => {
    s.report([diagnose('rename', message, { file: f.shown, hint })]);
    return 1;
  };
  if (!f.compilation?.ok) {
    s.report(f.diagnostics);
    return 1;
  }
  if (!QEMU_ID.test(to)) return fail(`${to} is not a valid id`, 'an id starts with a letter and holds only letters, digits, "-", "." and "_"');
  const source = s.sources.get(f.shown)!;
  // The tree the build just parsed: no second parse.
  const devices = [...walkDevices(f.compilation.spec?.node?.devices ?? [])];
  const target = devices.find((d) => d.id?.name === from);
  if (!target?.id) return fail(`${f.shown} has no device ${from}`);
  if (devices.some((d) => d.id?.name === to) || f.compilation.machine!.devices.some((d) => d.id === to)) return fail(`${to} is already taken in ${f.shown} or its lock`);
  // Build first so the lock describes the source as it is, then rename both.
  const lockBefore = f.compilation.lockText!;
  const newSource = source.slice(0, target.id.span.start) + to + source.slice(target.id.span.end);
  const renamed = renameInLock(lockBefore, f.lockShown, from, to);
  if (!renamed.text) {
    s.report(renamed.diagnostics);
    return 1;
  }
  const check = compile({ file: f.shown, source: newSource, lock: { file: f.lockShown, text: renamed.text } });
  if (!check.ok || check.lockText !== renamed.text) {
    s.report(check.diagnostics);
    if (check.plan) s.io.stderr(renderPlan(check.plan, { color: s.color, title: 'the rename would change the guest:' }));
    return fail('rename aborted: the renamed machine does not build to the same placement', 'nothing was written');
  }
  writeTogether(journalPathOf(f.path), [{ path: f.path, after: newSource }, { path: f.lockPath, after: renamed.text }]);
  s.io.stderr(`renamed ${from} to ${to} in ${f.shown} and ${f.lockShown}; its address, MAC and serial stay\n`);
  return 0;
}
