/** The machines specs/rename/models*.spec.ts rename: one per catalog model that owns a backend. */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { catalog, childBusOf, type Backend, type ModelSpec } from '../../compiler/catalog.js';

export const FROM = 'olddev';
export const TO = 'newdev';

/** What a device of each backend kind needs in the source to build; a new kind fails to type-check until it is here. */
const BACKEND_SOURCE: Record<Backend, string> = {
  netdev: 'netdev = user',
  block: 'file = "disk.raw", format = raw',
  cdrom: 'file = "cd.iso", format = raw',
  chardev: 'chardev = pty',
  audio: 'audiodev = none',
  tpm: '',
  fsdev: 'path = "share"',
};

/** Every model with a backend, from the catalog's own rows: a model added there is renamed here too. */
export const MODELS = Object.entries(catalog)
  .filter((e): e is [string, ModelSpec & { backend: Backend }] => e[1].backend !== undefined)
  .map(([model, spec]) => ({ model, spec }));

/** A controller model that provides the bus `spec` plugs into, found in the catalog (none for a device on PCI or the system bus). */
function hostOf(spec: ModelSpec): string | undefined {
  const bus = childBusOf[spec.plug];
  if (!bus) return undefined;
  const host = Object.entries(catalog).find(([, s]) => s.provides === bus && (s.chipsets ?? ['q35']).includes('q35'));
  if (!host) throw new Error(`no controller in the catalog provides a ${bus} bus`);
  return host[0];
}

export function machineFor(model: string, spec: ModelSpec & { backend: Backend }): string {
  const props = BACKEND_SOURCE[spec.backend];
  const device = `device ${FROM}: ${model} {${props ? ` ${props} ` : ''}}`;
  const host = hostOf(spec);
  const body = host ? `  device ctl: ${host} {\n    ${device}\n  }\n` : `  ${device}\n`;
  return `machine m {\n  chipset = q35\n${body}}\n`;
}

/** A folder under `root` holding the machine, the files it uses and, when given, a copy of a lock. */
export function folder(root: string, name: string, source: string, lock?: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'share'), { recursive: true });
  writeFileSync(join(dir, 'disk.raw'), Buffer.alloc(1 << 20));
  writeFileSync(join(dir, 'cd.iso'), Buffer.alloc(1 << 20));
  writeFileSync(join(dir, 'm.machine'), source);
  if (lock) copyFileSync(lock, join(dir, 'm.machine.lock'));
  return dir;
}
