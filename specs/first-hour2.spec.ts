/**
 * The rest of a newcomer's first hour: the bus picture puts vmgenid and the TPM on the system bus
 * (the machine itself), not under the chipset's SATA controller; a plan lists the host effects
 * that change and only counts the ones that stay; `verify` runs under the accelerator asked for,
 * says which Hyper-V flags TCG cannot do, and `--json` records a QEMU that fails, with its stderr.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './support/cli.js';
import { QEMU, qemuDescribe } from './support/qemu.js';
import { tempFolder } from './support/temp.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function windows11(): string {
  const dir = tempFolder('machinec-first-hour2-');
  for (const f of ['windows11.machine', 'windows11.machine.lock']) cpSync(join(root, 'samples', f), join(dir, f));
  return dir;
}

/** The mermaid edges as `parent label -> child label`, read from the flowchart's own node lines. */
function mermaidEdges(chart: string): string[] {
  const labels = new Map([...chart.matchAll(/^ {2}(n\d+)\[+"([^"]*)"\]+$/gm)].map((m) => [m[1], m[2].split('<br/>')[0]]));
  return [...chart.matchAll(/^ {2}(n\d+) --> (n\d+)$/gm)].map((m) => `${labels.get(m[1])} -> ${labels.get(m[2])}`);
}

describe('machinec graph', () => {
  test('mermaid: vmgenid and the TPM hang off the system bus, which is no SATA controller', async () => {
    const r = await runCli(['graph', 'windows11.machine', '--format', 'mermaid'], windows11());
    expect(r.code).toBe(0);
    const edges = mermaidEdges(r.stdout);
    expect(edges).toContain('sysbus -> tpm');
    expect(edges).toContain('sysbus -> genid');
    const sysbus = /\["sysbus<br\/>([^<]*)<br\/>/.exec(r.stdout)![1];
    expect(sysbus).not.toMatch(/SATA|IDE|chipset/i);
    expect(sysbus).toMatch(/system bus/);
  });

  test('svg: the sysbus box does not call itself the chipset SATA controller', async () => {
    const r = await runCli(['graph', 'windows11.machine', '--format', 'svg'], windows11());
    expect(r.code).toBe(0);
    const box = /<g class="node bus[^"]*" data-id="sysbus">[\s\S]*?<\/g>/.exec(r.stdout)![0];
    expect(box).not.toMatch(/SATA/);
    expect(box).toMatch(/system bus/);
  });
});

describe('host effects in a plan', () => {
  /** windows11 with its NVMe disk's image renamed: one host effect goes, one comes, the rest stay. */
  function changedDisk(): string {
    const dir = windows11();
    const file = join(dir, 'windows11.machine');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"win11.qcow2"', '"win11-b.qcow2"'));
    return dir;
  }

  test('text: the changed ones listed, the unchanged ones only counted', async () => {
    const r = await runCli(['plan', 'windows11.machine'], changedDisk());
    expect(r.stdout).toMatch(/^ {2}- .*win11\.qcow2/m);
    expect(r.stdout).toMatch(/^ {2}\+ .*win11-b\.qcow2/m);
    expect(r.stdout).toMatch(/^ {2}\d+ host effects? unchanged$/m);
    // Win11.iso is read as before: counted, not repeated
    expect(r.stdout).not.toContain('Win11.iso');
  });

  test('markdown: no "as before" lines, a count instead', async () => {
    const r = await runCli(['plan', 'windows11.machine', '--format', 'markdown'], changedDisk());
    const section = r.stdout.slice(r.stdout.indexOf('**Host-side effects**'));
    expect(section).toContain('**new:**');
    expect(section).toContain('**gone:**');
    expect(section).not.toContain('as before');
    expect(section).not.toContain('Win11.iso');
    expect(section).toMatch(/^- \d+ host effects? unchanged$/m);
  });
});

const hyperv = `machine hv {
  chipset = q35
  memory = 256M
  cpu = qemu64 { hv-relaxed = true, hv-vpindex = true, hv-synic = true }
  device nic0: e1000 { netdev = user }
}
`;

qemuDescribe('verify on the real QEMU', () => {
  test('--accel tcg starts a machine with hv-vpindex and hv-synic, leaving out and naming what TCG cannot do', async () => {
    const dir = tempFolder('machinec-first-hour2-');
    writeFileSync(join(dir, 'hv.machine'), hyperv);
    const r = await runCli(['verify', 'hv.machine', '--accel', 'tcg', '--qemu', QEMU!], dir);
    expect(r.stderr).not.toContain('VP_INDEX');
    expect(r.stdout).toContain('not checked: -cpu hv-vpindex: left out, TCG cannot do it');
    expect(r.stdout).not.toContain('not checked: -cpu hv-synic');
    expect(r.code).toBe(0);
  }, 60_000);

  test('without --accel: KVM where this host can run the machine, else TCG, said in the report; verify passes either way', async () => {
    const dir = tempFolder('machinec-first-hour2-');
    writeFileSync(join(dir, 'hv.machine'), hyperv);
    const r = await runCli(['verify', 'hv.machine', '--json', '--qemu', QEMU!], dir);
    const [record] = JSON.parse(r.stdout) as { ok: boolean; accel: string; notChecked: string[] }[];
    expect(record.ok).toBe(true);
    if (record.accel === 'tcg') expect(record.notChecked).toContain('-cpu hv-vpindex: left out, TCG cannot do it (verify with --accel kvm on a host with /dev/kvm)');
    expect(r.code).toBe(0);
  }, 60_000);

  test('--json: a QEMU that exits at once gives a failure record with its stderr, not [] and not a QMP timeout', async () => {
    const dir = tempFolder('machinec-first-hour2-');
    writeFileSync(join(dir, 'bad.machine'), hyperv.replace('machine hv {', 'machine bad {\n  qemu-args = ["-no-such-option"]'));
    const r = await runCli(['verify', 'bad.machine', '--json', '--accel', 'tcg', '--qemu', QEMU!], dir);
    expect(r.code).toBe(2);
    const records = JSON.parse(r.stdout) as { file: string; ok: boolean; error?: { message: string; stderr?: string } }[];
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ file: 'bad.machine', ok: false });
    expect(records[0].error!.message).toMatch(/^QEMU exited during startup/);
    expect(records[0].error!.stderr).toContain('-no-such-option');
    expect(r.stderr).not.toContain('did not answer on QMP');
  }, 60_000);
});
