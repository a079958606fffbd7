/**
 * A plan as markdown for a pull-request comment: one summary line, a table of changes with what
 * the guest notices, a mermaid picture of the bus tree with the changes marked, the addresses
 * kept free, and the host-side effects. An empty plan is one line.
 */
import { planTopology, shortPlace, type DeviceChange, type PlacedMachine, type Plan } from '../compiler/index.js';
import { markdownCode, markdownText } from './escape-markdown.js';
import { topologyToMermaid } from './graph/mermaid.js';

const KIND: Record<DeviceChange['sign'], string> = { '+': 'added', '-': 'removed', '!': 'moved', '~': 'changed' };

/** User strings reach the comment only through these: running text (also in cells) and code spans in and outside the table. */
const text = markdownText;
const code = (s: string): string => markdownCode(s, { cell: true });
const listCode = (s: string): string => markdownCode(s);

function kindOf(c: DeviceChange): string {
  if (c.renamedFrom) return `renamed from ${code(c.renamedFrom)}`;
  if (c.sign === '!' && c.details.some((d) => /renumbered|bus number/.test(d))) return 'renumbered';
  return KIND[c.sign];
}

function addressCell(c: DeviceChange): string {
  const before = c.before ? code(shortPlace(c.before)) : '—';
  const after = c.after ? code(shortPlace(c.after)) : '—';
  return before === after ? `${after} (stays)` : `${before} → ${after}`;
}

function noticeCell(c: DeviceChange): string {
  const extra = c.sign === '~' ? c.details.filter((d) => !/^renamed /.test(d) && (!/^model /.test(d) || c.notices.length === 0)) : [];
  const all = [...c.notices, ...extra];
  if (all.length) return all.map(text).join('<br>');
  return c.sign === '+' ? 'new device' : c.auto ? 'nothing by itself' : 'nothing';
}

/** Every QEMU option that comes, goes or changes, beside the devices. */
function optionsSection(plan: Plan): string[] {
  if (!plan.options.length) return [];
  const out = [`**QEMU options**${plan.hostChanged ? ' — **the host side changes**' : ''}:`, ''];
  for (const o of plan.options) {
    const what = o.sign === '~' ? `${listCode(o.before ?? '')} → ${listCode(o.after ?? '')}` : o.sign === '+' ? `added${o.after ? ` ${listCode(o.after)}` : ''}` : `removed${o.before ? ` (was ${listCode(o.before)})` : ''}`;
    out.push(`- ${listCode(o.option)}: ${what}`);
  }
  return [...out, ''];
}

/** What QEMU does on the host (programs run, files written, sockets, host devices), when any of it changes. */
function hostSection(plan: Plan): string[] {
  if (!plan.hostEffects.some((e) => e.sign !== '=')) return [];
  const mark = { '+': '**new:**', '-': '**gone:**' } as const;
  const changed = plan.hostEffects.flatMap((e) => (e.sign === '=' ? [] : [`- ${mark[e.sign]} ${text(e.text)}`]));
  const same = plan.hostEffects.filter((e) => e.sign === '=').length;
  const unchanged = same ? [`- ${same} host effect${same === 1 ? '' : 's'} unchanged`] : [];
  return ['**Host-side effects** (what QEMU does on the host):', '', ...changed, ...unchanged, ''];
}

export interface MarkdownOptions {
  readonly title: string;
  /** The machine after the change, for the bus picture. */
  readonly after: PlacedMachine;
}

export function renderPlanMarkdown(plan: Plan, { title, after }: MarkdownOptions): string {
  const { added, removed, moved, changed, renamed } = plan.counts;
  if (!plan.changes.length && !plan.machine.length && !plan.options.length) return `**${text(title)}**: no changes, the lock is up to date.\n`;
  const out: string[] = [];
  const devicesChange = plan.counts.removed + plan.counts.moved + plan.counts.changed > 0;
  const changes = devicesChange ? ' — **existing devices change in the guest**' : ' — **the guest sees the machine change**';
  const visible = plan.guestVisible ? changes : ' — existing devices stay as the guest knows them';
  out.push(`**${text(title)}**: ${added} to add, ${removed} to remove, ${moved} to move, ${changed} to change${renamed ? `, ${renamed} renamed` : ''}${visible}.`, '');
  const machineLines = [...plan.machine.map((m) => `- machine: ${text(m)}`), ...plan.guest.map((n) => `- guest: ${text(n)}`)];
  if (machineLines.length) out.push(...machineLines, '');
  if (plan.changes.length) {
    out.push('| device | change | guest address | what the guest notices |', '| --- | --- | --- | --- |');
    for (const c of plan.changes) {
      const who = `${code(c.id)} ${text(c.model)}${c.auto ? ' (machinec)' : ''}`;
      out.push(`| ${who} | ${kindOf(c)} | ${addressCell(c)} | ${noticeCell(c)} |`);
    }
    out.push('');
  }
  out.push('```mermaid', topologyToMermaid(planTopology(plan, after)).trimEnd(), '```', '');
  out.push(...optionsSection(plan), ...hostSection(plan));
  const reserved = plan.reserved;
  if (reserved.length) {
    out.push('**Addresses kept free** in this change (a removed device’s address goes to no new device unless nothing else is free, so no new device takes its guest names):', '');
    for (const r of reserved) out.push(`- ${listCode(r.address)}, freed by ${listCode(r.freedBy)}`);
    out.push('');
  }
  return out.join('\n');
}
