/**
 * The VM pin checks: what pinning the firmware, the CPU and the machine type found (compiler/vm.ts
 * `PinFindings`), reported with each check's id as its code. Lock phase: they compare the lock's
 * pins with what the host has now.
 */
import type { MachineSpec } from '../machine-spec.js';
import { releaseMonth, type PinFindings } from '../vm.js';
import type { Check } from './registry.js';

export interface PinCheckContext {
  readonly spec: MachineSpec;
  readonly findings: PinFindings;
}

/** In the order a build reports them: firmware, CPU, then the machine type's age. */
export const vmPinChecks: readonly Check<PinCheckContext>[] = [
  {
    id: 'firmware-missing',
    phase: 'lock',
    severity: 'error',
    run({ findings }, report) {
      for (const { what, want, span } of findings.missing) report(`the firmware ${what} ${want} is not there`, span, 'install OVMF (Debian: apt-get install ovmf), or point `code`/`vars` in the firmware block at the images you have');
    },
  },
  {
    id: 'firmware-changed',
    phase: 'lock',
    severity: 'error',
    run({ findings }, report) {
      for (const { what, want, locked, seen, span } of findings.changed) {
        report(
          `the firmware ${what} ${want} is not the image this machine was locked with: locked sha256 ${locked.sha256} (${locked.size} bytes), on disk sha256 ${seen.sha256} (${seen.size} bytes)`,
          span,
          'a firmware package upgrade changes what the guest runs: the machine does not boot the new image until you approve it with `machinec lock --update firmware` (review `machinec plan` first), or reinstall the locked image',
        );
      }
    },
  },
  {
    id: 'cpu-follows-host',
    phase: 'lock',
    severity: 'warning',
    run({ findings: { followsHost: f } }, report) {
      if (f) report(`cpu = ${f.model} follows the host's CPU: the guest sees another CPU on another host or QEMU, and the lock cannot pin it`, f.span, 'name a model (e.g. Skylake-Client, EPYC-Rome) to pin what the guest sees');
    },
  },
  {
    id: 'machine-type-deprecated',
    phase: 'lock',
    severity: 'warning',
    run({ spec, findings: { old } }, report) {
      if (!old) return;
      report(
        `machine type ${old.machineType} (QEMU ${old.version}, ${old.month}) is more than 6 years old: QEMU removes versioned machine types after 6 years, and QEMU ${old.removedIn} (${releaseMonth(old.removedIn)}) no longer has it`,
        spec.properties.get('chipset')?.value?.span,
        'plan a move to a newer machine type (`machinec lock --update machine-type`, which changes what the guest sees: review the plan), or keep a QEMU older than that release',
      );
    },
  },
];
