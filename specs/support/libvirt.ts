/**
 * A real libvirtd for end-to-end specs. `libvirtDescribe` sets libvirt up as the facts file
 * says (QEMU as root, the groups and user Debian's package expects, virtlogd and libvirtd
 * started when not running), runs the suite, skips it with a message where libvirt or root is
 * missing, and fails it in CI. Domains get unique names (`mc-test-…`) and are always destroyed
 * and undefined: other helpers share the daemon.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { flattenQueryPci, type GuestPciDevice, type QmpPciBus } from '../../cli/qemu/guest-view.js';

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
export const LIBVIRT = has('virsh') && has('libvirtd') && isRoot;

const running = (name: string): boolean => spawnSync('pgrep', ['-x', name]).status === 0;

/** QEMU as root (as libvirt-qemu it cannot open what the specs create, and libvirtd 9.0 hung probing it), daemons up. */
export function setUpLibvirt(): void {
  const conf = '/etc/libvirt/qemu.conf';
  const text = existsSync(conf) ? readFileSync(conf, 'utf8') : '';
  if (!/^user = "root"$/m.test(text) || !/^group = "root"$/m.test(text)) writeFileSync(conf, `${text}${text && !text.endsWith('\n') ? '\n' : ''}user = "root"\ngroup = "root"\n`);
  for (const group of ['kvm', 'libvirt-qemu']) if (spawnSync('getent', ['group', group]).status !== 0) execFileSync('groupadd', ['-r', group]);
  if (spawnSync('getent', ['passwd', 'libvirt-qemu']).status !== 0) execFileSync('useradd', ['-r', '-g', 'libvirt-qemu', '-d', '/var/lib/libvirt', '-s', '/usr/sbin/nologin', 'libvirt-qemu']);
  for (const d of ['/var/log/libvirt', '/var/run/libvirt', '/var/lib/libvirt']) mkdirSync(d, { recursive: true });
  if (!running('virtlogd')) execFileSync('virtlogd', ['-d']);
  if (!running('libvirtd')) execFileSync('libvirtd', ['-d']);
}

export function libvirtDescribe(name: string, body: () => void): void {
  if (LIBVIRT) {
    describe(name, () => {
      beforeAll(async () => {
        setUpLibvirt();
        // The first call after start probes QEMU (~5 s).
        for (let i = 0; i < 60 && spawnSync('virsh', ['-c', 'qemu:///system', 'version']).status !== 0; i++) await sleep(500);
        removeOrphanDomains();
      }, 60_000);
      body();
    });
    return;
  }
  if (process.env.CI) {
    describe(name, () => {
      test('libvirt is installed and the specs run as root (required in CI)', () => {
        throw new Error('virsh/libvirtd not found or not root, and CI is set: the libvirt specs must run');
      });
    });
    return;
  }
  console.warn(`${name}: libvirt (virsh, libvirtd) or root missing: skipping (install Debian's libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)`);
  describe.skip(name, body);
}

export function virsh(...args: string[]): string {
  return virshWithin(120_000, ...args);
}

export function virshWithin(timeoutMs: number, ...args: string[]): string {
  const r = spawnSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`virsh ${args.join(' ')}: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  return r.stdout;
}

export const domainName = (): string => `mc-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * Removes the test domains a killed run left defined (`mc-test-<pid>-…` whose process is gone): a
 * sample's domain carries the lock's fixed UUID, and libvirt refuses a second domain with it.
 */
export function removeOrphanDomains(): void {
  const list = spawnSync('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name'], { encoding: 'utf8' });
  for (const name of (list.stdout ?? '').split('\n').map((l) => l.trim())) {
    const pid = /^mc-test-(\d+)-/.exec(name)?.[1];
    if (pid && !existsSync(`/proc/${pid}`)) removeDomain(name);
  }
}

/** Destroys (when running) and undefines a domain, ignoring one that is already gone. */
export function removeDomain(name: string): void {
  spawnSync('virsh', ['-c', 'qemu:///system', 'destroy', name], { encoding: 'utf8' });
  spawnSync('virsh', ['-c', 'qemu:///system', 'undefine', name, '--nvram'], { encoding: 'utf8' });
  spawnSync('virsh', ['-c', 'qemu:///system', 'undefine', name], { encoding: 'utf8' });
}

/**
 * The guest's PCI view of a running domain (`virsh qemu-monitor-command … query-pci`), once the
 * firmware has numbered every bridge and two answers agree; then the guest is paused (`stop`).
 * OVMF with secure boot and 8 vCPUs under TCG takes a minute here when the machine is loaded.
 * libvirt's `ua-` alias prefix is taken off the ids, so they read as machinec's.
 */
export async function libvirtGuestView(name: string, timeoutMs = 240_000): Promise<GuestPciDevice[]> {
  const started = Date.now();
  let previous = '';
  for (;;) {
    const answer = JSON.parse(virsh('qemu-monitor-command', name, '{"execute":"query-pci"}')) as { return: QmpPciBus[] };
    const view = flattenQueryPci(answer.return).map((d) => ({ ...d, qdevId: d.qdevId.replace(/^ua-/, '') }));
    const text = JSON.stringify(view);
    if (view.every((d) => d.secondaryBus !== 0) && text === previous) {
      virsh('qemu-monitor-command', name, '{"execute":"stop"}');
      return view;
    }
    previous = text;
    if (Date.now() - started > timeoutMs) throw new Error(`guest PCI view of ${name} not stable after ${timeoutMs} ms`);
    await sleep(300);
  }
}

/** A valid, empty qcow2 image (version 2, 64 KiB clusters): qemu-img is not installed here. */
export function writeQcow2(path: string, size = 16 << 20): void {
  const C = 65536;
  const buf = Buffer.alloc(4 * C);
  const l1Size = Math.max(1, Math.ceil(size / (C * (C / 8))));
  buf.writeUInt32BE(0x514649fb, 0); // magic QFI\xfb
  buf.writeUInt32BE(2, 4); // version
  buf.writeUInt32BE(16, 20); // cluster_bits
  buf.writeBigUInt64BE(BigInt(size), 24);
  buf.writeUInt32BE(l1Size, 36);
  buf.writeBigUInt64BE(BigInt(3 * C), 40); // L1 table: cluster 3
  buf.writeBigUInt64BE(BigInt(C), 48); // refcount table: cluster 1
  buf.writeUInt32BE(1, 56); // refcount_table_clusters
  buf.writeBigUInt64BE(BigInt(2 * C), C); // refcount block: cluster 2
  for (let i = 0; i < 4; i++) buf.writeUInt16BE(1, 2 * C + 2 * i);
  writeFileSync(path, buf);
}

/** One QMP command to a running domain (`virsh qemu-monitor-command`): its `return`. */
export function libvirtQmp<T = unknown>(name: string, execute: string, args?: Record<string, unknown>): T {
  return (JSON.parse(virsh('qemu-monitor-command', name, JSON.stringify(args ? { execute, arguments: args } : { execute }))) as { return: T }).return;
}

/** The arguments libvirt started a domain's QEMU with (its pid file, then /proc). */
export function libvirtQemuArgv(name: string): string[] {
  const pid = readFileSync(`/var/run/libvirt/qemu/${name}.pid`, 'utf8').trim();
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}
