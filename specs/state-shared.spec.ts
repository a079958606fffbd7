/**
 * Two machines sharing one state folder (UEFI variables, TPM state) are caught by `check`, before
 * either runs (`run` refuses it too, by the folder's owner file): the diagnostic names both files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './support/cli.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'machinec-state-shared-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const machine = (name: string, extra: string) => `machine ${name} {\n  chipset = q35\n  firmware = uefi\n${extra}\n  device tpm: tpm-crb {}\n}\n`;

describe('state folders shared between machines', () => {
  test('check finds two machines with one state folder, naming both', async () => {
    writeFileSync(join(dir, 'a.machine'), machine('a', '  state = "vms.state"'));
    writeFileSync(join(dir, 'b.machine'), machine('b', '  state = "vms.state"'));
    const r = await runCli(['check', '.'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[state-shared\]: b\.machine and a\.machine share the state folder .*vms\.state/);
    expect(r.stderr).toContain('b.machine:4:');
  });

  test('and two machines pointing nvram at one VARS file', async () => {
    writeFileSync(join(dir, 'a.machine'), machine('a', '').replace('firmware = uefi', 'firmware = uefi { nvram = "vars.fd" }'));
    writeFileSync(join(dir, 'b.machine'), machine('b', '').replace('firmware = uefi', 'firmware = uefi { nvram = "vars.fd" }'));
    const r = await runCli(['check', '.'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[state-shared\]: b\.machine and a\.machine share the VARS file .*vars\.fd/);
  });

  test('each its own folder (the default NAME.state): no problem', async () => {
    writeFileSync(join(dir, 'a.machine'), machine('a', ''));
    writeFileSync(join(dir, 'b.machine'), machine('b', ''));
    const r = await runCli(['check', '.'], dir);
    expect(r.stderr).not.toContain('state-shared');
    expect(r.code).toBe(0);
  });
});
