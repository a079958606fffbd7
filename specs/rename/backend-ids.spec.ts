/**
 * Backend ids have one home (compiler/qemu/backend-ids.ts): every backend a build emits for a
 * device is one the device owns by that rule, checked against the argv of real builds, and a
 * rename of backend ids touches whole ids only, never a look-alike inside an escaped value.
 */
import { backendOwner, ownedBackendIds, renameBackendIds } from '../../compiler/qemu/backend-ids.js';
import { catalog } from '../../compiler/catalog.js';
import { compile } from '../../compiler/index.js';

const BACKEND_OPTIONS = new Set(['-netdev', '-blockdev', '-chardev', '-audiodev', '-tpmdev', '-fsdev']);

/** The ids (`id=` or `node-name=`) of the backend options in an argv, read independently of the module under test. */
function argvBackendIds(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < argv.length; i++) {
    if (!BACKEND_OPTIONS.has(argv[i])) continue;
    const m = /(?:^|,)(?:id|node-name)=([^,]+)/.exec(argv[i + 1]);
    if (m) out.push(m[1]);
  }
  return out;
}

const MACHINE = `machine m {
  chipset = q35
  device tpm: tpm-crb {}
  device share: virtio-9p-pci { path = "." }
  device nic0: e1000e { netdev = user }
  device disk0: nvme { file = "d.qcow2" }
  device cd: ide-cd { file = "c.iso" }
  device vs: virtio-serial-pci { device port0: virtserialport { chardev = pty } }
  device hda: intel-hda { device sound: hda-duplex { audiodev = none } }
}
`;

describe('backend ids', () => {
  test('every backend of a build is owned by exactly one device, by the one rule', () => {
    const c = compile({ file: 'm.machine', source: MACHINE });
    expect(c.diagnostics.map((d) => d.message)).toEqual([]);
    const owned = c.machine!.devices.flatMap((d) => ownedBackendIds(d.model, d.id));
    // Every id the argv creates (but the machine's own console) is owned, and every owned id is created.
    expect(argvBackendIds(c.argv!).filter((id) => id !== 'chr-ttyS0').sort()).toEqual([...owned].sort());
    expect(ownedBackendIds('tpm-crb', 'tpm')).toEqual(['chr-tpm', 'tpm-tpm']);
    expect(ownedBackendIds('virtio-9p-pci', 'share')).toEqual(['fs-share']);
  });

  test('every model with a backend owns at least one backend id', () => {
    for (const [model, spec] of Object.entries(catalog)) if (spec.backend) expect(ownedBackendIds(model, 'x').length).toBeGreaterThan(0);
    expect(ownedBackendIds('pcie-root-port', 'x')).toEqual([]);
  });

  test('backendOwner reads the owner from the option and id', () => {
    expect(backendOwner('-netdev', 'net-nic0')).toBe('nic0');
    expect(backendOwner('-tpmdev', 'tpm-tpm')).toBe('tpm');
    expect(backendOwner('-fsdev', 'fs-share')).toBe('share');
    expect(backendOwner('-netdev', 'drive-nic0')).toBeUndefined();
    expect(backendOwner('-m', 'net-nic0')).toBeUndefined();
  });

  test('renameBackendIds renames ids and references, not look-alikes inside escaped values', () => {
    const renamed = new Map([['tpm', 'tpm0']]);
    expect(renameBackendIds('emulator,id=tpm-tpm,chardev=chr-tpm', renamed)).toBe('emulator,id=tpm-tpm0,chardev=chr-tpm0');
    expect(renameBackendIds('socket,id=chr-tpm,path=a,,chardev=chr-tpm', renamed)).toBe('socket,id=chr-tpm0,path=a,,chardev=chr-tpm');
    expect(renameBackendIds('socket,id=chr-tpmx', renamed)).toBe('socket,id=chr-tpmx');
    expect(renameBackendIds('driver=raw,node-name=drive-d', new Map([['d', 'e']]))).toBe('driver=raw,node-name=drive-e');
  });
});
