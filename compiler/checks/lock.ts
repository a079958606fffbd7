/**
 * Lock checks, and the relays of what the parser and the lock reader find while reading: each
 * diagnostic they make is reported by the registered check of its code.
 */
import type { Diagnostic } from '../../grammar/index.js';
import { chipsets, chipsetOfMachineType } from '../chipsets.js';
import type { MachineSpec } from '../machine-spec.js';
import type { PlacedDevice, PlacedMachine } from '../model.js';
import { runRegistered, type Check, type CheckPhase } from './registry.js';

/** What the installed QEMU offers. */
export interface QemuInfo {
  /** Every versioned machine type the installed QEMU has. */
  readonly machineTypes: readonly string[];
  /** `pc` → `pc-i440fx-7.2`, `q35` → `pc-q35-7.2`. */
  readonly aliases: Readonly<Record<string, string>>;
  readonly version?: string;
}

export interface LockContext {
  readonly spec: MachineSpec;
  readonly previous?: PlacedMachine;
  readonly qemu?: QemuInfo;
}

/** The machine type the build pins: the source's versioned one, the lock's, the installed QEMU's alias, or 7.2's. */
export const pinnedMachineType = ({ spec, previous, qemu }: LockContext): string =>
  spec.machineType ?? previous?.machineType ?? qemu?.aliases[spec.chipset] ?? chipsets[spec.chipset].defaultMachineType;

export const machineTypeAvailable = (ctx: LockContext): boolean => !ctx.qemu?.machineTypes.length || ctx.qemu.machineTypes.includes(pinnedMachineType(ctx));

/** The pins a guest tells devices apart by: a NIC's onboard name (acpi-index), its MAC, a disk's serial. */
export const UNIQUE_PINS = ['acpi-index', 'mac', 'serial'] as const;

/** Two devices of a lock that hold one value of a unique pin: the first holder in lock order, then the other. */
export interface SharedPin {
  readonly pin: (typeof UNIQUE_PINS)[number];
  readonly value: string;
  readonly first: PlacedDevice;
  readonly other: PlacedDevice;
}

export function sharedPins(devices: readonly PlacedDevice[]): SharedPin[] {
  const out: SharedPin[] = [];
  for (const pin of UNIQUE_PINS) {
    const holders = new Map<string, PlacedDevice>();
    for (const d of devices) {
      const value = d.pins[pin];
      if (value === undefined || value === '') continue; // an empty serial is none (QEMU gives the guest no serial)
      const first = holders.get(value);
      if (first) out.push({ pin, value, first, other: d });
      else holders.set(value, d);
    }
  }
  return out;
}

/** The serial a build gives a disk of `spec`: the one written, or its id as compiler/pins.ts shortens it. */
function serialFromSource(spec: MachineSpec, id: string): string | undefined {
  const d = spec.devices.find((x) => x.id === id);
  if (!d) return undefined;
  const given = d.node.properties.find((p) => p.key.name === 'serial')?.value;
  return given?.kind === 'String' ? given.value : id.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 20);
}

const GUEST_SEES: Record<SharedPin['pin'], (v: string) => string> = {
  'acpi-index': (v) => `both would be eno${v} in a Linux guest`,
  mac: () => 'a MAC is unique on a network',
  serial: (v) => `both would be /dev/disk/by-id/…${v} in a Linux guest`,
};

export const lockChecks: readonly Check<LockContext>[] = [
  {
    id: 'chipset-changed',
    phase: 'lock',
    severity: 'error',
    run({ spec, previous }, report) {
      if (previous && previous.chipset !== spec.chipset) {
        report(`the lock is for a ${previous.chipset} machine (${previous.machineType}), the source says ${spec.chipset}`, spec.properties.get('chipset')?.value?.span, 'a new chipset moves every device: to do it on purpose, delete the lock and build again');
      }
    },
  },
  {
    // One acpi-index or serial on two devices of a lock, as a hand edit or a merge leaves it (one MAC on two is the
    // reader's lock-conflict). Two serials a build gives alike (`serial` written so, or two ids alike in their first
    // 20 characters) are the source's doing: a build writes them again, so they are not the lock's fault.
    id: 'lock-duplicate-pin',
    phase: 'lock',
    severity: 'error',
    run({ spec, previous }, report) {
      if (!previous) return;
      const spanOf = (id: string) => spec.devices.find((d) => d.id === id)?.idSpan;
      const built = (d: PlacedDevice, value: string) => serialFromSource(spec, d.id) === value;
      for (const { pin, value, first, other } of sharedPins(previous.devices)) {
        if (pin === 'serial' && built(first, value) && built(other, value)) continue;
        report(
          `the lock gives ${first.id} and ${other.id} one ${pin}, ${value}: ${GUEST_SEES[pin](value)}`,
          spanOf(other.id) ?? spanOf(first.id),
          `take the lock of one branch (\`git checkout --ours FILE\`) and run \`machinec build\`, ` +
            `or set \`${pin}\` on ${other.id} to a value no other device has`,
        );
      }
    },
  },
];

/** `pc-q35-4.0.1` → [4, 0, 1]; undefined for a type with no version. */
const machineTypeVersion = (type: string): number[] | undefined => /-(\d+(?:\.\d+)*)$/.exec(type)?.[1].split('.').map(Number);

const compareVersions = (a: readonly number[], b: readonly number[]): number => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
};

/**
 * The machine type to suggest for one this QEMU lacks: the newest of the same chipset at or below its version
 * (pc-q35-8.2 on QEMU 7.2 → pc-q35-7.2), else the oldest above it (pc-q35-7.2 on QEMU 9.0 → pc-q35-8.2).
 */
export function nearestMachineType(type: string, available: readonly string[]): string | undefined {
  const wanted = machineTypeVersion(type);
  const versioned = available.flatMap((t) => { const v = machineTypeVersion(t); return v ? [{ t, v }] : []; }).sort((a, b) => compareVersions(a.v, b.v) || (a.t < b.t ? -1 : 1));
  if (!wanted) return versioned.at(-1)?.t;
  return versioned.filter((x) => compareVersions(x.v, wanted) <= 0).at(-1)?.t ?? versioned.find((x) => compareVersions(x.v, wanted) > 0)?.t;
}

/** Runs once the source and the lock are free of errors, beside placement. */
export const machineTypeChecks: readonly Check<LockContext>[] = [
  {
    id: 'machine-type-unavailable',
    phase: 'lock',
    severity: 'error',
    run(ctx, report) {
      const { spec, qemu } = ctx;
      if (!qemu || machineTypeAvailable(ctx)) return;
      const type = pinnedMachineType(ctx);
      const near = nearestMachineType(type, qemu.machineTypes.filter((t) => chipsetOfMachineType(t) === spec.chipset));
      report(
        `machine type ${type}${spec.machineType ? '' : ' (pinned in the lock)'} is not in this QEMU${qemu.version ? ` ${qemu.version}` : ''}`,
        spec.properties.get('chipset')?.value?.span,
        `${near ? `nearest available: ${near}. ` : ''}Changing the machine type changes what the guest sees: set \`chipset = ${near ?? 'TYPE'}\` deliberately and review the plan, or run a QEMU that still has ${type}`,
      );
    },
  },
];

function relayOf(id: string, phase: CheckPhase): Check<Diagnostic> {
  return {
    id,
    phase,
    severity: 'error',
    run(d, report) {
      report(d.message, d.span, d.hint, d.related, d.file);
    },
  };
}

/** The parser's codes (grammar/parse.ts; grammar/ cannot import the registry, so they are listed here). */
export const parserChecks: readonly Check<Diagnostic>[] = ['syntax-error', 'bad-character', 'unclosed-string', 'string-escape', 'hidden-character', 'too-deep'].map((id) => relayOf(id, 'source'));

/** The lock reader's codes (compiler/lockfile.ts, compiler/lock-schema.ts). */
export const lockReadChecks: readonly Check<Diagnostic>[] = ['lock-syntax', 'lock-truncated', 'lock-conflict', 'lock-version', 'lock-forged'].map((id) => relayOf(id, 'lock'));

/**
 * Reports each diagnostic made while reading through the registered check of its code, in order.
 * A code none of `checks` registers is a machinec bug: it throws (exit 3), it is never dropped.
 */
export function relayRead(checks: readonly Check<Diagnostic>[], read: readonly Diagnostic[], file: string, out: Diagnostic[]): Diagnostic[] {
  for (const d of read) {
    const check = checks.find((c) => c.id === d.code);
    if (!check) throw new Error(`diagnostic code ${d.code} is not a registered check (${checks.map((c) => c.id).join(', ')}): register it in compiler/checks/`);
    runRegistered([check], d, file, out);
  }
  return out;
}
