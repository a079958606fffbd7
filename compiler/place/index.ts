/**
 * Placement: gives every device its bus and address, in phases, each in its own file:
 *
 *   reconcile  the addresses already held: the chipset's built-ins, every locked device still in
 *              the source (and every root port or bridge machinec created, until `prune`), then
 *              explicit `@` addresses;
 *   allocate   everything else, in source order, by first fit and the chipset's growth policy,
 *              around the addresses removed devices freed (unless nothing else is free);
 *   pins       chassis and port numbers, MACs, serials (compiler/pins.ts);
 *   enumerate  guest topology order and the firmware's depth-first bus numbers;
 *   checks     the placement checks word what the phases found (compiler/checks/placement.ts).
 *
 * A bridge or root port that machinec creates goes after every locked one, and locked ones stay
 * (even empty) until `prune`: then no existing device's bus number changes.
 */
import { hasErrors, type Diagnostic } from '../../grammar/index.js';
import { placementChecks } from '../checks/placement.js';
import { runRegistered } from '../checks/registry.js';
import type { MachineSpec } from '../machine-spec.js';
import type { PlacedDevice } from '../model.js';
import { assignPins } from '../pins.js';
import { pinVmDevices } from '../vm-devices.js';
import { allocate, prune } from './allocate.js';
import { enumerate } from './enumerate.js';
import { reconcile } from './reconcile.js';

export interface PlaceResult {
  readonly devices: PlacedDevice[];
  readonly diagnostics: Diagnostic[];
}

export interface PlaceOptions {
  /** Drop root ports and bridges machinec created that hold no device (`machinec prune`). */
  readonly prune?: boolean;
  /** MACs other machines of the repo have locked: a new MAC avoids them. */
  readonly takenMacs?: ReadonlySet<string>;
  /** vmgenid GUIDs other locks of the repo hold: a new one avoids them. */
  readonly takenGuids?: ReadonlySet<string>;
}

export function place(machine: MachineSpec, locked: readonly PlacedDevice[], machineName: string, options: PlaceOptions = {}): PlaceResult {
  const p = reconcile(machine, locked);
  allocate(p, options.prune ? [] : locked);
  const f = p.findings;
  const placed = !f.idTaken.length && !f.addressTaken.length && !f.parentFull.length && !f.unplaced.length;
  let devices: PlacedDevice[] = [];
  if (placed) {
    if (options.prune) prune(p);
    f.noChassis.push(...assignPins(p.drafts, machineName, options.takenMacs));
    pinVmDevices([...p.drafts.values()], machineName, options.takenGuids);
    devices = enumerate(p);
  }
  const diagnostics: Diagnostic[] = [];
  runRegistered(placementChecks, { placement: p, devices, pinned: placed, diagnostics }, machine.file, diagnostics);
  return { devices: hasErrors(diagnostics) ? [] : devices, diagnostics };
}
