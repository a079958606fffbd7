/**
 * `machinec verify` learns the whole machine, on the real QEMU, OVMF and swtpm: it boots the
 * machine's own firmware (OVMF secure boot for samples/windows11, on a throwaway VARS copy) and
 * TPM (a throwaway swtpm), and checks what QEMU reports (query-pci after the firmware numbered the
 * buses, query-tpm, query-vm-generation-id, query-cpus-fast and the CPU's QOM type) against the
 * lock, leaving the machine's state folder alone. A machine whose -smp QEMU resolves otherwise
 * fails; and a dry start with the real backends makes a machine QEMU refuses (a VNC listen
 * address it cannot read, a host forward with a bad address) fail verify, naming QEMU's reason.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';
import { QEMU, qemuDescribe } from './support/qemu.js';

const SAMPLES = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'samples');
const haveVm = existsSync('/usr/share/OVMF/OVMF_CODE_4M.secboot.fd') && ['/usr/bin/swtpm', '/usr/local/bin/swtpm'].some(existsSync);
const vmTest = haveVm || process.env.CI ? test : test.skip;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-verify-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function verify(name: string, source: string) {
  writeFileSync(join(dir, `${name}.machine`), source);
  const b = await runCli(['build', `${name}.machine`], dir);
  expect(b.code).toBe(0);
  return runCli(['verify', `${name}.machine`, '--qemu', QEMU!], dir);
}

const small = (extra: string) => `machine t {
  chipset = pc
  cpus = 4
  topology = { sockets = 2, cores = 2, threads = 1 }
  cpu = Skylake-Client
${extra}
  device tpm: tpm-tis {}
  device genid: vmgenid {}
  device nic0: e1000 { netdev = user }
}
`;

qemuDescribe('machinec verify of the whole machine on real QEMU', () => {
  vmTest('windows11: OVMF secure boot and a throwaway swtpm; the PCI view after OVMF, the TPM, GUID, CPUs and model are the lock\'s; the state folder is not touched', async () => {
    for (const f of ['windows11.machine', 'windows11.machine.lock']) copyFileSync(join(SAMPLES, f), join(dir, f));
    const r = await runCli(['verify', 'windows11.machine', '--qemu', QEMU!], dir);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('every device is where the lock says');
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'windows11.state'))).toBe(false);
  }, 600_000);

  vmTest('a TPM, vmgenid and a 2-socket topology pass; a topology QEMU resolves otherwise (qemu-args -smp) is a mismatch', async () => {
    const ok = await verify('t', small(''));
    expect(ok.stdout).toContain('every device is where the lock says');
    expect(ok.code).toBe(0);
    rmSync(join(dir, 't.machine.lock'));
    const bad = await verify('t', small('  qemu-args = ["-smp", "4,sockets=1,cores=4,threads=1"]'));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/\(topology\)\s+sockets=2\s+sockets=1\s+query-cpus-fast shows another topology/);
    expect(bad.stdout).toMatch(/\(topology\)\s+cores=2\s+cores=4/);
  }, 300_000);

  test.each([
    ['a VNC listen address QEMU cannot read', 'display = vnc { listen = "127.0.0.1:notaport" }', 'netdev = user', /can't convert to a number: notaport/],
    ['a host forward with a bad host address', '', 'netdev = user { hostfwd = ["tcp:127.0.0.1.5:2222-:22"] }', /Invalid host forwarding rule 'tcp:127\.0\.0\.1\.5:2222-:22'/],
  ])('the dry start: %s fails verify, naming QEMU\'s reason', async (_what, prop, netdev, reason) => {
    const r = await verify('d', `machine d {\n  chipset = q35\n  ${prop}\n  device nic0: virtio-net-pci { ${netdev} }\n}\n`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\(qemu\)\s+starts with its real backends\s+.*QEMU refuses the machine/);
    expect(r.stdout).toMatch(reason);
  }, 120_000);
});
