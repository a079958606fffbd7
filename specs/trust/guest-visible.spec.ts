/**
 * Guest-visible means guest-visible: a change to the CPU model or flags, the topology, SMBIOS,
 * the machine type, memory, firmware or ACPI is a change the guest sees, in `plan` (text and
 * --json `guestVisible`) and the markdown headline, with a `guest:` line saying what it notices.
 * A device added beside the others leaves the existing devices as the guest knows them.
 */
import { compile, type Plan } from '../../compiler/index.js';
import { planJson, renderPlan } from '../../cli/render-plan.js';
import { renderPlanMarkdown } from '../../cli/render-markdown.js';

const base = ['chipset = q35', 'memory = 1G', 'cpus = 4', 'cpu = Skylake-Client', 'device nic0: e1000 { netdev = user }'];
const machine = (lines: readonly string[]) => `machine m {\n${lines.map((l) => `  ${l}`).join('\n')}\n}\n`;
const replace = (from: string, to: string) => base.map((l) => (l === from ? to : l));

const build = (lines: readonly string[], lock?: string) =>
  compile({ file: 'm.machine', source: machine(lines), ...(lock ? { lock: { file: 'm.machine.lock', text: lock } } : {}) });

function planOf(lines: readonly string[], update: string[] = []): Plan {
  const first = build(base);
  expect(first.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const c = compile({ file: 'm.machine', source: machine(lines), lock: { file: 'm.machine.lock', text: first.lockText! }, update: update as never });
  expect(c.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
  return c.plan!;
}

type Case = readonly [string, readonly string[], RegExp, string[]];
const CASES: readonly Case[] = [
  ['a CPU flag', replace('cpu = Skylake-Client', 'cpu = Skylake-Client { pcid = false }'), /Linux: the CPU model and flags/, []],
  ['the CPU model', replace('cpu = Skylake-Client', 'cpu = Cascadelake-Server'), /Windows may ask for reactivation/, ['cpu']],
  ['the topology', [...base, 'topology = { sockets = 2, cores = 2, threads = 1 }'], /CPU topology at boot/, []],
  ['SMBIOS', [...base, 'smbios = { manufacturer = "Acme" }'], /SMBIOS/, []],
  ['the machine type', replace('chipset = q35', 'chipset = pc-q35-6.2'), /chipset and its ACPI tables/, ['machine-type']],
  ['memory', replace('memory = 1G', 'memory = 2G'), /memory size at boot/, []],
  ['firmware', [...base, 'firmware = uefi'], /other firmware/, ['firmware']],
  ['ACPI', [...base, 'acpi = false'], /ACPI tables come or go/, []],
];

describe('machine-wide changes are guest changes', () => {
  it.each(CASES.map((c) => ({ what: c[0], c })))('$what: plan, --json and markdown say the guest sees it', ({ c: [, lines, notice, update] }) => {
    const plan = planOf(lines, update);
    expect(plan.guestVisible).toBe(true);
    expect(planJson(plan).guestVisible).toBe(true);
    expect(planJson(plan).guest.join('\n')).toMatch(notice);
    const text = renderPlan(plan, { color: false });
    expect(text).toContain('(existing devices change in the guest)');
    expect(text.split('\n').filter((l) => /^\s+guest: /.test(l)).join('\n')).toMatch(notice);
    const md = renderPlanMarkdown(plan, { title: 'm.machine', after: build(lines).machine! });
    const headline = md.split('\n')[0]!;
    expect(headline).not.toContain('stay as the guest knows them');
    expect(headline).toContain('**the guest sees the machine change**');
    expect(md.split('\n').filter((l) => l.startsWith('- guest: ')).join('\n')).toMatch(notice);
  });

  it('a device added beside the others leaves the existing devices as the guest knows them', () => {
    const plan = planOf([...base, 'device nic1: e1000 { netdev = user }']);
    expect(plan.guestVisible).toBe(false);
    expect(plan.guest).toEqual([]);
    expect(renderPlan(plan, { color: false })).not.toContain('change in the guest');
    const md = renderPlanMarkdown(plan, { title: 'm.machine', after: build([...base, 'device nic1: e1000 { netdev = user }']).machine! });
    expect(md.split('\n')[0]).toContain('existing devices stay as the guest knows them');
  });
});
