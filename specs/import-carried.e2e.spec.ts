/**
 * The CPUs of a libvirt domain as libvirt itself starts them: a domain with `<vcpu current='1'>4</vcpu>`
 * and no `<topology>` is defined in the real libvirtd, `virsh domxml-to-native qemu-argv` gives
 * libvirt's own -smp and -machine, and `machinec build` of `machinec import --libvirt` of it
 * (named after the domain, no --name) gives the CPUs the guest starts with, in the same sockets
 * of one core, with the hot-pluggable rest named as not carried. A domain without <acpi/> imports
 * as `acpi = false`, whose -machine is libvirt's.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';
import { domainName, libvirtDescribe, removeDomain, virsh } from './support/libvirt.js';

const T = 300_000;
let dir: string;
const domains: string[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-import-carried-'));
});
afterEach(() => {
  for (const d of domains.splice(0)) removeDomain(d);
  rmSync(dir, { recursive: true, force: true });
});

/** `-smp` as QEMU reads it: cpus first, then key=value pairs; maxcpus defaults to the topology's product. */
function smp(value: string): Record<string, number> {
  const [cpus, ...pairs] = value.split(',');
  const out: Record<string, number> = { cpus: Number(cpus), dies: 1 };
  for (const p of pairs) out[p.split('=')[0]] = Number(p.split('=')[1]);
  out.maxcpus ??= out.sockets * out.dies * out.cores * out.threads;
  return out;
}

const optionOf = (argv: readonly string[], name: string): string => argv[argv.indexOf(name) + 1];
/** `-machine` options other than those libvirt adds for its own process (usb, dump-guest-core, memory-backend, …). */
const guestMachine = (value: string): string[] => value.split(',').filter((o) => /^(?:type=)?pc|^q35|^acpi=|^smm=/.test(o)).map((o) => o.replace(/^type=/, ''));

libvirtDescribe('machinec import --libvirt: the CPUs libvirt starts', () => {
  test("<vcpu current='1'>4</vcpu> without <topology>: libvirt's -smp and -machine against machinec build of the import", async () => {
    const name = domainName();
    domains.push(name);
    const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory><vcpu placement='static' current='1'>4</vcpu><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><features><acpi/><apic/></features><devices><interface type='user'><model type='virtio'/></interface></devices></domain>`;
    writeFileSync(join(dir, 'minimal.xml'), xml);
    virsh('define', '--validate', join(dir, 'minimal.xml'));
    writeFileSync(join(dir, 'domain.xml'), virsh('dumpxml', name));
    const native = virsh('domxml-to-native', 'qemu-argv', join(dir, 'domain.xml')).trim().split(/\s+/);
    const r = await runCli(['import', '--libvirt', 'domain.xml', '--timeout', '120'], dir);
    expect(`${r.code}\n${r.stderr}`).toMatch(/^0\n/);
    expect(r.stderr).toMatch(new RegExp(`warning\\[import-not-carried\\].*<vcpu current='1'>4</vcpu>.*maxcpus=4`, 's'));
    expect(readFileSync(join(dir, `${name}.machine`), 'utf8')).toMatch(/topology\s*=\s*\{ sockets = 1, cores = 1, threads = 1 \}/);
    const b = await runCli(['build', '--format', 'json', `${name}.machine`], dir);
    expect(b.code).toBe(0);
    const built = JSON.parse(b.stdout) as string[];
    const theirs = smp(optionOf(native, '-smp'));
    const ours = smp(optionOf(built, '-smp'));
    // The guest starts with libvirt's one CPU, in sockets of one core and one thread, as libvirt gives it.
    expect({ cpus: ours.cpus, dies: ours.dies, cores: ours.cores, threads: ours.threads }).toEqual({ cpus: theirs.cpus, dies: theirs.dies, cores: theirs.cores, threads: theirs.threads });
    // What differs is what the warning names: the three CPUs libvirt can add while the guest runs.
    expect([theirs.maxcpus, ours.maxcpus]).toEqual([4, 1]);
    expect(guestMachine(optionOf(built, '-machine'))).toEqual(guestMachine(optionOf(native, '-machine')));
  }, T);

  test('a domain without <features><acpi/> imports as acpi = false: -machine …,acpi=off, as libvirt gives it', async () => {
    const name = domainName();
    domains.push(name);
    const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os><devices><interface type='user'><model type='e1000'/></interface></devices></domain>`;
    writeFileSync(join(dir, 'minimal.xml'), xml);
    virsh('define', '--validate', join(dir, 'minimal.xml'));
    writeFileSync(join(dir, 'domain.xml'), virsh('dumpxml', name));
    const native = virsh('domxml-to-native', 'qemu-argv', join(dir, 'domain.xml')).trim().split(/\s+/);
    // libvirt says it as -machine acpi=off or, for this QEMU, as the older -no-acpi: the same machine option.
    const theirs = [...guestMachine(optionOf(native, '-machine')), ...(native.includes('-no-acpi') ? ['acpi=off'] : [])];
    expect(theirs).toEqual(['pc-i440fx-7.2', 'acpi=off']);
    const r = await runCli(['import', '--libvirt', 'domain.xml', '--name', 'noacpi', '--timeout', '120'], dir);
    expect(`${r.code}\n${r.stderr}`).toMatch(/^0\n/);
    expect(readFileSync(join(dir, 'noacpi.machine'), 'utf8')).toMatch(/^\s*acpi\s*=\s*false$/m);
    const b = await runCli(['build', '--format', 'json', 'noacpi.machine'], dir);
    expect(b.code).toBe(0);
    expect(guestMachine(optionOf(JSON.parse(b.stdout) as string[], '-machine'))).toEqual(theirs);
  }, T);

  test('<vcpu>4</vcpu> without <topology>: 4 sockets of one core, as libvirt gives them', async () => {
    const name = domainName();
    domains.push(name);
    const xml = `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory><vcpu>4</vcpu><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os><features><acpi/></features><devices/></domain>`;
    writeFileSync(join(dir, 'minimal.xml'), xml);
    virsh('define', '--validate', join(dir, 'minimal.xml'));
    writeFileSync(join(dir, 'domain.xml'), virsh('dumpxml', name));
    const native = virsh('domxml-to-native', 'qemu-argv', join(dir, 'domain.xml')).trim().split(/\s+/);
    const r = await runCli(['import', '--libvirt', 'domain.xml', '--name', 'four', '--timeout', '120'], dir);
    expect(`${r.code}\n${r.stderr}`).toMatch(/^0\n/);
    const b = await runCli(['build', '--format', 'json', 'four.machine'], dir);
    expect(b.code).toBe(0);
    expect(smp(optionOf(JSON.parse(b.stdout) as string[], '-smp'))).toEqual(smp(optionOf(native, '-smp')));
  }, T);
});
