/** A plan as text for people: one line a device, `+ - ! ~`, and a count. */
import type { PlacedDevice, Plan } from '../compiler/index.js';
import { visibleText as shown } from './escape-visible.js';
import { paletteFor } from './render-diagnostic.js';

/** How `plan` and `diff` print a plan. */
export type PlanFormat = 'text' | 'json' | 'markdown';

export interface RenderPlanOptions {
  readonly color: boolean;
  /** Shown in the heading, e.g. `office.machine against office.machine.lock`. */
  readonly title?: string;
  /** The lock's text is not what a build writes (said when nothing it pins changes). */
  readonly lockDiffers?: boolean;
}

export function renderPlan(plan: Plan, { color, title, lockDiffers }: RenderPlanOptions): string {
  const p = paletteFor(color);
  const paint = { '+': p.note, '-': p.error, '!': p.warning, '~': p.bold } as const;
  const lines: string[] = [];
  if (title) lines.push(p.bold(shown(title)));
  for (const m of plan.machine) lines.push(`  ${p.warning('!')} machine: ${shown(m)}`);
  for (const n of plan.guest) lines.push(`    ${p.dim(`guest: ${shown(n)}`)}`);
  const idWidth = Math.max(0, ...plan.changes.map((c) => shown(c.id).length));
  const modelWidth = Math.max(0, ...plan.changes.map((c) => shown(c.model).length));
  for (const c of plan.changes) {
    const who = `${shown(c.id).padEnd(idWidth)}  ${shown(c.model).padEnd(modelWidth)}`;
    const [first, ...more] = c.details.map(shown);
    const notices = c.notices.map(shown);
    if (c.renamedFrom) {
      // `~ lan3 renamed dmz, stays at 02:03.0 (e1000)`: the old id first, as the reviewer knew it
      lines.push(`  ${paint[c.sign](c.sign)} ${shown(c.renamedFrom)} ${first} (${shown(c.model)})`);
      for (const d of [...more, ...notices.map((n) => p.dim(`guest: ${n}`))]) lines.push(`      ${d}`);
      continue;
    }
    lines.push(`  ${paint[c.sign](c.sign)} ${who}  ${first}${c.auto ? p.dim(' (created by machinec)') : ''}`);
    for (const d of more) lines.push(`    ${' '.repeat(idWidth + modelWidth + 4)}${d}`);
    for (const n of notices) lines.push(`    ${' '.repeat(idWidth + modelWidth + 4)}${p.dim(`guest: ${n}`)}`);
  }
  for (const o of plan.options) {
    const [before, after] = [shown(o.before ?? ''), shown(o.after ?? '')];
    const what = o.sign === '~' ? `: ${before} → ${after}` : o.sign === '+' ? (after ? `: ${after}` : '') : `${before ? `: ${before}` : ''} (removed)`;
    lines.push(`  ${paint[o.sign](o.sign)} option ${shown(o.option)}${what}`);
  }
  if (plan.reserved.length) lines.push(`  kept free in this change: ${plan.reserved.map((r) => `${shown(r.address)} (${shown(r.freedBy)})`).join(', ')}`);
  if (plan.hostEffects.some((e) => e.sign !== '=')) {
    lines.push(p.bold('host effects (what QEMU does on the host):'));
    for (const e of plan.hostEffects) if (e.sign !== '=') lines.push(`  ${paint[e.sign](e.sign)} ${shown(e.text)}`);
    const same = plan.hostEffects.filter((e) => e.sign === '=').length;
    if (same) lines.push(p.dim(`  ${same} host effect${same === 1 ? '' : 's'} unchanged`));
  }
  const { added, removed, moved, changed, renamed } = plan.counts;
  if (!plan.changes.length && !plan.machine.length && !plan.options.length) lines.push(lockDiffers ? '  nothing the lock pins changes, but its text is not what a build writes (line order, comments or spacing)' : '  no changes: the lock is up to date');
  else lines.push(`${added} to add, ${removed} to remove, ${moved} to move, ${changed} to change${renamed ? `, ${renamed} renamed` : ''}${plan.guestVisible ? p.warning(' (existing devices change in the guest)') : ''}${plan.options.length ? `, ${plan.options.length} QEMU option${plan.options.length === 1 ? '' : 's'}${plan.hostChanged ? p.warning(' (the host side changes)') : ''}` : ''}`);
  return lines.join('\n') + '\n';
}

/** A plan as JSON (`plan --json`, `diff --json`): the changes without the source nodes. */
export function planJson(plan: Plan) {
  return {
    guestVisible: plan.guestVisible,
    counts: plan.counts,
    machine: plan.machine,
    guest: plan.guest,
    changes: plan.changes.map((c) => ({ sign: c.sign, id: c.id, model: c.model, auto: c.auto, details: c.details, notices: c.notices, before: c.before && strip(c.before), after: c.after && strip(c.after) })),
    options: plan.options,
    hostChanged: plan.hostChanged,
    hostEffects: plan.hostEffects.map((e) => ({ sign: e.sign, kind: e.effect.kind, target: e.effect.target, by: e.effect.by })),
  };
}
const strip = (d: PlacedDevice) => {
  const { source: _source, ...rest } = d;
  return rest;
};
