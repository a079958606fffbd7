/**
 * Pinned values of the VM devices, decided once and then locked: the vmgenid GUID, the TPM
 * version, and `acpi-index` (a number as written, or `auto`: the lowest index no other device has).
 */
import { catalog } from './catalog.js';
import type { DeviceSpec } from './machine-spec.js';
import { uuidFor } from './pins.js';

interface PinDraft {
  readonly id: string;
  readonly model: string;
  readonly pins: Record<string, string>;
  readonly source?: DeviceSpec;
}

const sourceValue = (d: PinDraft, key: string) => d.source?.node.properties.find((p) => p.key.name === key)?.value;

export function pinVmDevices(drafts: readonly PinDraft[], machineName: string, takenGuids?: ReadonlySet<string>): void {
  const explicit = new Set<string>();
  for (const d of drafts) {
    const v = sourceValue(d, 'acpi-index');
    if (v?.kind === 'Integer') explicit.add(String(v.value));
  }
  const used = new Set(explicit);
  const autos: PinDraft[] = [];
  for (const d of drafts) {
    const pins = catalog[d.model]?.pins ?? [];
    if (pins.includes('guid')) {
      const given = sourceValue(d, 'guid');
      d.pins.guid = given?.kind === 'String' ? given.value.toLowerCase() : d.pins.guid ?? uuidFor(`${machineName}/vmgenid/${d.id}`, takenGuids);
    }
    if (pins.includes('version')) d.pins.version ??= '2.0';
    const index = sourceValue(d, 'acpi-index');
    if (!pins.includes('acpi-index') || !index) {
      if (Object.hasOwn(d.pins, 'acpi-index')) delete d.pins['acpi-index']; // only when there: a delete is a runtime call
    }
    else if (index.kind === 'Integer') d.pins['acpi-index'] = String(index.value);
    else if (d.pins['acpi-index'] && !used.has(d.pins['acpi-index'])) used.add(d.pins['acpi-index']);
    else autos.push(d);
  }
  let next = 1;
  for (const d of autos) {
    while (used.has(String(next))) next++;
    d.pins['acpi-index'] = String(next);
    used.add(String(next));
  }
}
