/**
 * Host effects are checked, default-deny: every way the machine reaches the host (a 9p share,
 * a VNC or SPICE listener, the writable UEFI variables, each hostfwd, and whatever qemu-args
 * say) is listed, and `diff` exits 1 with hostChanged. An option of QEMU's own option table that
 * the host-effects table does not know is listed as unclassified, never left out.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { FLAGS } from '../../cli/import/qemu-syntax.js';
import { classifiedOption, compile, describeHostEffect, hostEffects } from '../../compiler/index.js';
import { cleanScratch, put, run, runCli, scratch } from '../cli/harness.js';

afterAll(cleanScratch);

const machine = (body: string) => `machine m {\n  device nic0: e1000 { netdev = user }\n${body}\n}\n`;
const effects = (body: string) => {
  const c = compile({ file: 'm.machine', source: machine(body) });
  expect(c.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return hostEffects(c.machine!).map(describeHostEffect).join('\n');
};

/** Builds the plain machine, then the changed one, and diffs the two locks as a reviewer would. */
async function diffAfter(body: string): Promise<{ code: number; hostChanged: boolean; stdout: string }> {
  const dir = scratch({ 'm.machine': machine('') });
  expect((await run(['build', 'm.machine'], dir)).code).toBe(0);
  copyFileSync(join(dir, 'm.machine.lock'), join(dir, 'old.lock'));
  put(dir, 'm.machine', machine(body));
  expect((await run(['build', 'm.machine'], dir)).code).toBe(0);
  const json = await runCli(['diff', '--json', 'old.lock', 'm.machine.lock'], dir);
  const text = await runCli(['diff', 'old.lock', 'm.machine.lock'], dir);
  if (!json.stdout) throw new Error(json.stderr);
  return { code: json.code, hostChanged: JSON.parse(json.stdout).hostChanged, stdout: text.stdout };
}

const CASES: [string, string][] = [
  ['  device fs0: virtio-9p-pci { path = "/" }', 'opens for writing /  [-fsdev fs-fs0 (9p share, read and written by the guest)]'],
  ['  display = vnc { listen = "0.0.0.0:1" }', 'listens on 0.0.0.0:1 (VNC), no password'],
  ['  display = spice { port = 5930, addr = "0.0.0.0" }', 'listens on 0.0.0.0:5930 (SPICE), no password'],
  ['  qemu-args = ["-incoming", "exec:cat /tmp/state"]', 'runs cat /tmp/state'],
  ['  qemu-args = ["-plugin", "/tmp/libevil.so"]', 'runs /tmp/libevil.so'],
  ['  qemu-args = ["-nic", "tap,script=/tmp/up.sh"]', 'runs /tmp/up.sh'],
  ['  qemu-args = ["-net", "tap,script=/tmp/up.sh"]', 'runs /tmp/up.sh'],
  ['  qemu-args = ["-device", "vfio-pci,host=01:00.0"]', 'uses host device host PCI device 01:00.0 (passed through)  [qemu-args -device'],
  ['  qemu-args = ["-device", "usb-host,hostbus=1,hostaddr=2"]', 'uses host device host USB device hostbus=1,hostaddr=2 (passed through)'],
  ['  qemu-args = ["-device", "loader,file=/etc/shadow"]', 'reads /etc/shadow'],
  ['  qemu-args = ["-drive", "file=/tmp/d.img,if=virtio"]', 'opens for writing /tmp/d.img'],
  ['  qemu-args = ["-hda", "/tmp/hda.img"]', 'opens for writing /tmp/hda.img'],
  ['  qemu-args = ["-serial", "file:/tmp/serial.log"]', 'opens for writing /tmp/serial.log'],
  ['  qemu-args = ["-qmp", "tcp:0.0.0.0:4444,server=on,wait=off"]', 'listens on 0.0.0.0:4444'],
  ['  qemu-args = ["/tmp/hda.img"]', 'unclassified host effect: /tmp/hda.img'],
  ['  qemu-args = ["-no-such-option", "x"]', 'unclassified host effect: -no-such-option x  [qemu-args (unclassified QEMU option: review by hand)]'],
];

describe('each way to reach the host is listed, and diff says the host side changes', () => {
  it.each(CASES)('%s', async (body, effect) => {
    expect(effects(body)).toContain(effect);
    const diff = await diffAfter(body);
    expect(diff.code).toBe(1);
    expect(diff.hostChanged).toBe(true);
    expect(diff.stdout).toContain(`+ ${effect.split('  [')[0]}`);
    expect(diff.stdout).not.toContain('-no-user-config'); // a bare word is not the value of the option before it
  });

  it('the writable pflash VARS are listed', async () => {
    expect(effects('  firmware = uefi')).toContain('opens for writing m.state/OVMF_VARS.fd  [-drive (pflash)]');
    const diff = await diffAfter('  firmware = uefi');
    expect(diff.code).toBe(1);
    expect(diff.hostChanged).toBe(true);
    expect(diff.stdout).toContain('+ opens for writing m.state/OVMF_VARS.fd');
  });

  it('every hostfwd of a netdev is listed, and removing one of three names that one', async () => {
    const fwd = (list: string[]) => `  device nic1: e1000 { netdev = user { hostfwd = [${list.map((f) => `"${f}"`).join(', ')}] } }`;
    expect(effects(fwd(['tcp::9090-:9090', 'udp::5353-:53']))).toMatch(/listens on tcp::9090-:9090[^\n]*\nlistens on udp::5353-:53/);
    const dir = scratch({ 'm.machine': machine(fwd(['tcp::1-:1', 'tcp::2-:2', 'tcp::3-:3'])) });
    expect((await run(['build', 'm.machine'], dir)).code).toBe(0);
    copyFileSync(join(dir, 'm.machine.lock'), join(dir, 'old.lock'));
    put(dir, 'm.machine', machine(fwd(['tcp::1-:1', 'tcp::3-:3'])));
    expect((await run(['build', 'm.machine'], dir)).code).toBe(0);
    const diff = await runCli(['diff', 'old.lock', 'm.machine.lock'], dir);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toMatch(/- listens on tcp::2-:2/);
    expect(diff.stdout).not.toMatch(/[-+] listens on tcp::[13]-:[13]/);
  });
});

/** QEMU's option names as its -help lists them, with whether each takes an argument. */
function helpOptions(): Map<string, boolean> {
  const qemu = spawnSync('which', ['qemu-system-x86_64'], { encoding: 'utf8' }).stdout.trim();
  const out = new Map<string, boolean>();
  if (!qemu) return out;
  for (const line of spawnSync(qemu, ['-help'], { encoding: 'utf8' }).stdout.split('\n')) {
    const m = /^--?([A-Za-z0-9_-]+)(?: or -([A-Za-z0-9_-]+))?(.*)$/.exec(line);
    if (!m) continue;
    const rest = m[3]; // as specs/qemu-flags.e2e.spec.ts reads it: a flag's text is only a description
    const flag = rest === '' || (/^\s{2,}\S/.test(rest) && !/\S\s{2,}\S/.test(rest.trim()));
    for (const name of [m[1], m[2]].filter(Boolean)) out.set(`-${name}`, !flag);
  }
  return out;
}

describe("QEMU's own options in qemu-args are never silent", () => {
  const help = helpOptions();
  const names = [...new Set([...FLAGS, ...help.keys()])].filter((n) => !['-name', '-machine', '-uuid', '-M'].includes(n)).sort();

  it('reads a real option table', () => {
    expect(names.length).toBeGreaterThan(FLAGS.size);
  });

  it('a random option is classified, or listed as unclassified', () => {
    fc.assert(
      fc.property(fc.constantFrom(...names), (name) => {
        const args = help.get(name) ? `"${name}", "x"` : `"${name}"`;
        const listed = effects(`  qemu-args = [${args}]`);
        return classifiedOption(name) || listed.includes(`unclassified host effect: ${name}`);
      }),
      { numRuns: Number(process.env.HOST_EFFECT_RUNS ?? 200) },
    );
  });
});
