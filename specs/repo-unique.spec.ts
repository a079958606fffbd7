/**
 * Unique across a repo: prod/web.machine and staging/web.machine (both `machine web`) get
 * different MACs and UUIDs; locks that share one are reported by `lock DIR` and `check DIR`
 * naming both files and devices; `lock --regenerate` fixes it, and the plan shows it.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';

const Q = ['--qemu', '/nonexistent/qemu-system-x86_64'];
const WEB = 'machine web {\n  device nic0: virtio-net-pci { netdev = user }\n  device nic1: e1000 { netdev = user }\n}\n';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-repo-'));
  mkdirSync(join(dir, '.git'));
  for (const env of ['prod', 'staging']) mkdirSync(join(dir, env));
  writeFileSync(join(dir, 'prod', 'web.machine'), WEB);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const values = (lock: string) => [...lock.matchAll(/(?:mac|uuid)=(\S+)/g)].map((m) => m[1]);

test('a machine copied from another gets fresh MACs and UUID, also built on its own', async () => {
  expect((await runCli(['lock', 'prod', ...Q], dir)).code).toBe(0);
  copyFileSync(join(dir, 'prod', 'web.machine'), join(dir, 'staging', 'web.machine'));
  expect((await runCli(['build', 'staging/web.machine', ...Q], dir)).code).toBe(0);
  const prod = values(readFileSync(join(dir, 'prod', 'web.machine.lock'), 'utf8'));
  const staging = values(readFileSync(join(dir, 'staging', 'web.machine.lock'), 'utf8'));
  expect(prod).toHaveLength(3);
  expect(staging).toHaveLength(3);
  for (const v of staging) expect(prod).not.toContain(v);
  expect((await runCli(['check', '.'], dir)).code).toBe(0);
});

test('a copied lock: lock DIR and check DIR report each shared value naming both files and devices; --regenerate fixes it, shown in the plan', async () => {
  expect((await runCli(['lock', 'prod', ...Q], dir)).code).toBe(0);
  copyFileSync(join(dir, 'prod', 'web.machine'), join(dir, 'staging', 'web.machine'));
  copyFileSync(join(dir, 'prod', 'web.machine.lock'), join(dir, 'staging', 'web.machine.lock'));
  const before = readFileSync(join(dir, 'staging', 'web.machine.lock'), 'utf8');
  for (const cmd of [['check', '.'], ['lock', '.', ...Q]]) {
    const r = await runCli(cmd, dir);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error[duplicate-in-repo]'));
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/^error\[duplicate-in-repo\]: nic0 in staging\/web\.machine\.lock has MAC 52:54:00:\S+, which nic0 in prod\/web\.machine\.lock has too$/);
    expect(errors[2]).toMatch(/staging\/web\.machine\.lock has SMBIOS UUID \S+, which prod\/web\.machine\.lock has too/);
  }
  // Never changed silently: lock DIR left the shared values in place.
  expect(readFileSync(join(dir, 'staging', 'web.machine.lock'), 'utf8')).toBe(before);
  const fix = await runCli(['lock', '--regenerate', 'mac:nic0', '--regenerate', 'mac:nic1', '--regenerate', 'uuid', 'staging/web.machine', ...Q], dir);
  expect(fix.code).toBe(0);
  expect(fix.stderr).toMatch(/~ nic0 +virtio-net-pci +mac 52:54:00:\S+ → 52:54:00:/);
  expect(fix.stderr).toMatch(/SMBIOS UUID \S+ → /);
  expect((await runCli(['check', '.'], dir)).code).toBe(0);
  const bad = await runCli(['lock', '--regenerate', 'serial', 'staging/web.machine', ...Q], dir);
  expect(bad.code).toBe(2);
});

// A Windows domain controller learns it was copied from a new VM generation ID: a copy must get one.
const DC = 'machine dc {\n  device genid: vmgenid {}\n  device nic0: e1000 { netdev = user }\n}\n';
const guidOf = (lock: string) => /guid=(\S+)/.exec(lock)?.[1];

test('vmgenid: a copied machine gets a fresh GUID; a copied lock is reported naming the device; --regenerate guid:DEVICE fixes it, shown in the plan', async () => {
  writeFileSync(join(dir, 'prod', 'dc.machine'), DC);
  expect((await runCli(['lock', 'prod', ...Q], dir)).code).toBe(0);
  const prodGuid = guidOf(readFileSync(join(dir, 'prod', 'dc.machine.lock'), 'utf8'));
  expect(prodGuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  copyFileSync(join(dir, 'prod', 'dc.machine'), join(dir, 'staging', 'dc.machine'));
  expect((await runCli(['build', 'staging/dc.machine', ...Q], dir)).code).toBe(0);
  const stagingGuid = guidOf(readFileSync(join(dir, 'staging', 'dc.machine.lock'), 'utf8'));
  expect(stagingGuid).toBeDefined();
  expect(stagingGuid).not.toBe(prodGuid);

  copyFileSync(join(dir, 'prod', 'dc.machine.lock'), join(dir, 'staging', 'dc.machine.lock'));
  const r = await runCli(['check', '.'], dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`error[duplicate-in-repo]: genid in staging/dc.machine.lock has VM generation ID ${prodGuid}, which genid in prod/dc.machine.lock has too`);
  expect(r.stderr).toContain('machinec lock --regenerate guid:genid staging/dc.machine');
  const fix = await runCli(['lock', '--regenerate', 'guid:genid', '--regenerate', 'mac:nic0', '--regenerate', 'uuid', 'staging/dc.machine', ...Q], dir);
  expect(fix.code).toBe(0);
  expect(fix.stderr).toContain(prodGuid!);
  const fixed = guidOf(readFileSync(join(dir, 'staging', 'dc.machine.lock'), 'utf8'));
  expect(fixed).not.toBe(prodGuid);
  expect((await runCli(['check', '.'], dir)).code).toBe(0);
});
