/**
 * `plan --format markdown` and `diff --format markdown`: golden comments for the lock-spec
 * scenarios (specs/markdown/plan-<case>.md): one summary line, the change table with what the
 * guest notices, one mermaid block; an empty plan is one line. The mermaid blocks are parsed by
 * mermaid itself in specs/mermaid.e2e.spec.ts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderPlanMarkdown } from '../cli/render-markdown.js';
import { build } from './lock/harness.js';
import { expectGolden } from './support/golden.js';
import { PLAN_CASES } from './support/plan-cases.js';
import { runCli } from './support/cli.js';
import { tempFolder } from './support/temp.js';

const here = import.meta.dirname ?? new URL('.', import.meta.url).pathname;
const golden = (name: string, text: string) => expectGolden(join(here, 'markdown', name), text);

describe('markdown plans', () => {
  test.each(Object.keys(PLAN_CASES))('%s', (name) => {
    const { before, after } = PLAN_CASES[name];
    const first = build(before);
    const second = build(after, first);
    const md = renderPlanMarkdown(second.plan!, { title: `m.machine (${name})`, after: second.machine! });
    golden(`plan-${name}.md`, md);
    const lines = md.split('\n');
    expect(lines[0]).toMatch(/^\*\*m\.machine \(.*\)\*\*: \d+ to add, \d+ to remove, \d+ to move, \d+ to change/);
    expect(lines).toContain('| device | change | guest address | what the guest notices |');
    expect(md.match(/^```mermaid$/gm)).toHaveLength(1);
    for (const id of Object.keys(PLAN_CASES[name].signs)) expect(md).toContain(`| \`${id}\``);
  });

  test('an empty plan says so in one line', () => {
    const first = build(PLAN_CASES.add.before);
    const again = build(PLAN_CASES.add.before, first);
    const md = renderPlanMarkdown(again.plan!, { title: 'm.machine', after: again.machine! });
    expect(md).toBe('**m.machine**: no changes, the lock is up to date.\n');
  });

  test('plan --format markdown and diff --format markdown through the CLI', async () => {
    const dir = tempFolder('machinec-md-');
    writeFileSync(join(dir, 'm.machine'), PLAN_CASES.move.before);
    expect((await runCli(['build', 'm.machine'], dir)).code).toBe(0);
    writeFileSync(join(dir, 'old.lock'), (await import('node:fs')).readFileSync(join(dir, 'm.machine.lock')));
    writeFileSync(join(dir, 'm.machine'), PLAN_CASES.move.after);
    const plan = await runCli(['plan', 'm.machine', '--format', 'markdown'], dir);
    expect(plan.code).toBe(0);
    golden('cli-plan-move.md', plan.stdout);
    expect((await runCli(['build', 'm.machine'], dir)).code).toBe(0);
    const diff = await runCli(['diff', 'old.lock', 'm.machine.lock', '--format', 'markdown'], dir);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/^\*\*old\.lock → m\.machine\.lock\*\*: 0 to add, 0 to remove, 1 to move, 0 to change/);
    expect(diff.stdout).toContain('| `a` e1000 | moved | `00:03.0` → `00:10.0` | Linux: NIC enp0s3 → enp0s16<br>Windows: new device instance');
  });
});

describe('markdown plans show the host side', () => {
  it('a user netdev turned into a tap with a script: the option change and "runs /tmp/x.sh" in their own sections', async () => {
    const dir = tempFolder('machinec-md-host-');
    writeFileSync(join(dir, 't.machine'), 'machine t {\n  chipset = q35\n  device nic0: virtio-net-pci { netdev = user }\n}\n');
    expect((await runCli(['build', 't.machine', '--qemu', '/nonexistent/qemu'], dir)).code).toBe(0);
    writeFileSync(join(dir, 't.machine'), 'machine t {\n  chipset = q35\n  device nic0: virtio-net-pci { netdev = tap { ifname = "tap9", script = "/tmp/x.sh" } }\n}\n');
    const r = await runCli(['plan', 't.machine', '--format', 'markdown', '--qemu', '/nonexistent/qemu'], dir);
    expect(r.stdout).not.toContain('no changes');
    expect(r.stdout).toContain('**QEMU options** — **the host side changes**');
    expect(r.stdout).toMatch(/^- `-netdev net-nic0`: `user,id=net-nic0` → `tap,id=net-nic0,ifname=tap9,script=\/tmp\/x\.sh,downscript=no`$/m);
    expect(r.stdout).toMatch(/^\*\*Host-side effects\*\*/m);
    expect(r.stdout).toMatch(/^- \*\*new:\*\* runs \/tmp\/x\.sh /m);
  });
});
