/**
 * Backend ids: every QEMU backend machinec creates for a device is named after the device
 * (`-netdev user,id=net-nic0` for `device nic0`), so a lock, a plan and a rename can tell which
 * device owns a backend without reading the argv back. The one home of those names.
 */
import { catalog, type Backend } from '../catalog.js';

/** The prefix of a backend's id, by the QEMU option that creates the backend. */
export const BACKEND_PREFIXES = {
  netdev: 'net-',
  blockdev: 'drive-',
  chardev: 'chr-',
  audiodev: 'audio-',
  tpmdev: 'tpm-',
  fsdev: 'fs-',
} as const;

/** A QEMU option that creates a backend (`-netdev`, `-blockdev`, …), without its dash. */
export type BackendOption = keyof typeof BACKEND_PREFIXES;

/** The id of the backend `option` creates for device `deviceId`: `backendId('netdev', 'nic0')` is `net-nic0`. */
export const backendId = (option: BackendOption, deviceId: string): string => BACKEND_PREFIXES[option] + deviceId;

/** The backend options a catalog backend kind creates for its device (a TPM: the swtpm socket's chardev and the tpmdev). */
export const BACKEND_OPTIONS: Readonly<Record<Backend, readonly BackendOption[]>> = {
  netdev: ['netdev'],
  block: ['blockdev'],
  cdrom: ['blockdev'],
  chardev: ['chardev'],
  audio: ['audiodev'],
  tpm: ['chardev', 'tpmdev'],
  fsdev: ['fsdev'],
};

/** The ids of the backends a device of `model` called `deviceId` owns (none for a model without a backend). */
export function ownedBackendIds(model: string, deviceId: string): string[] {
  const kind = catalog[model]?.backend;
  return kind ? BACKEND_OPTIONS[kind].map((o) => backendId(o, deviceId)) : [];
}

const isBackendOption = (o: string): o is BackendOption => Object.prototype.hasOwnProperty.call(BACKEND_PREFIXES, o);

/**
 * The device a backend belongs to, from the option that creates it and the backend's id:
 * `backendOwner('-netdev', 'net-nic0')` is `nic0`; undefined for an option or id of no device's backend.
 */
export function backendOwner(option: string, id: string): string | undefined {
  const name = option.replace(/^-/, '');
  if (!isBackendOption(name)) return undefined;
  const prefix = BACKEND_PREFIXES[name];
  return id.startsWith(prefix) && id.length > prefix.length ? id.slice(prefix.length) : undefined;
}

/** An option value's parts as written (`,,` stays inside its part: it is a comma in a value). */
function rawParts(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) !== 44) continue;
    if (value.charCodeAt(i + 1) === 44) i++;
    else {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/**
 * An option value with every backend id of a renamed device under the device's new name, wherever
 * the value names it (`id=`, `node-name=`, or a reference such as the tpmdev's `chardev=`).
 * `renamed` maps old device ids to new ones; ids of other devices stay as they are.
 */
export function renameBackendIds(value: string, renamed: ReadonlyMap<string, string>): string {
  if (!renamed.size) return value;
  const renamePart = (part: string): string => {
    const eq = part.indexOf('=');
    const id = part.slice(eq + 1);
    for (const prefix of Object.values(BACKEND_PREFIXES)) {
      const to = id.startsWith(prefix) ? renamed.get(id.slice(prefix.length)) : undefined;
      if (to !== undefined) return `${part.slice(0, eq + 1)}${prefix}${to}`;
    }
    return part;
  };
  return rawParts(value).map((p) => (p.includes('=') ? renamePart(p) : p)).join(',');
}
