/**
 * The whole-VM options of an imported QEMU command line, as `.machine` properties: OVMF pflash
 * firmware (`-drive if=pflash` or `-blockdev` + `-machine pflash0=,pflash1=`, secure boot), `-cpu`,
 * `-vnc`/`-display`/`-spice`, the first `-serial` (or `-device isa-serial,chardev=`), `-smbios type=1`.
 * What a property cannot say is returned as a note naming the option, never dropped silently.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { blockTypes, cpuFlagKeys, cpuModels, OVMF, smbiosKeys } from '../../compiler/index.js';
import { kvText, type NetBackend } from './qemu-syntax.js';
import { printString } from '../../grammar/index.js';

/** A string as the .machine writes it (reads back as the same value). */
const quote = printString;
type Pairs = readonly (readonly [string, string])[];
const get = (pairs: Pairs, key: string): string | undefined => pairs.find(([k]) => k === key)?.[1];
const isOn = (v: string | undefined): boolean => v === 'on' || v === 'true' || v === 'yes' || v === '';
const block = (type: string, members: readonly string[]) => (members.length ? `${type ? `${type} ` : ''}{ ${members.join(', ')} }` : type);

/** What the command line says about the firmware: the pflash images by unit (absolute paths), secure boot, SMM. */
export interface FirmwareRead {
  readonly code?: string;
  readonly vars?: string;
  readonly secure: boolean;
  readonly smm?: string;
}

/** The VARS template the per-VM VARS file came from: the CODE image's sibling of the same size. */
export function templateFor(code: string, nvram: string | undefined, secureBoot: boolean): string {
  const m = /^OVMF_CODE(_4M)?((?:\.[a-z]+)?)\.fd$/.exec(basename(code));
  const dir = dirname(code);
  const size = nvram && existsSync(nvram) ? statSync(nvram).size : undefined;
  const candidates = m ? [`OVMF_VARS${m[1] ?? ''}${m[2]}.fd`, ...(secureBoot ? [`OVMF_VARS${m[1] ?? ''}.ms.fd`] : []), `OVMF_VARS${m[1] ?? ''}.fd`].map((n) => join(dir, n)) : [];
  const fits = candidates.find((c) => existsSync(c) && (size === undefined || statSync(c).size === size));
  return fits ?? (secureBoot ? OVMF.secureVars : OVMF.vars);
}

/** `firmware = uefi { … }`, pointing the state at the VM's own VARS file (used in place, never copied over). */
export function firmwareProperty(fw: FirmwareRead, notes: string[]): string | undefined {
  if (!fw.code) {
    if (fw.vars) notes.push('-drive if=pflash unit=1 without a CODE image (unit 0) is not carried over');
    return undefined;
  }
  const secureBoot = fw.secure && fw.smm === 'on';
  if (fw.secure && !secureBoot) notes.push('-global cfi.pflash01 secure=on without -machine smm=on is not carried over (machinec sets both for `secure-boot = true`)');
  if (fw.smm !== undefined && !secureBoot) notes.push(`-machine smm=${fw.smm} is not carried over (machinec turns SMM on with secure boot only)`);
  const members: string[] = [];
  if (secureBoot) members.push('secure-boot = true');
  if (fw.code !== (secureBoot ? OVMF.secureCode : OVMF.code)) members.push(`code = ${quote(fw.code)}`);
  const vars = templateFor(fw.code, fw.vars, secureBoot);
  if (vars !== (secureBoot ? OVMF.secureVars : OVMF.vars)) members.push(`vars = ${quote(vars)}`);
  if (fw.vars) members.push(`nvram = ${quote(fw.vars)}`);
  else notes.push(`the firmware has no VARS drive (pflash unit 1): the machine gets its own copy of ${vars} in its state folder`);
  return block('uefi', members);
}

/** `-cpu Skylake-Client,hv-relaxed=on,+vmx,-svm` → `Skylake-Client { hv-relaxed = true, vmx = true, svm = false }`. */
export function cpuProperty(value: string, notes: string[]): string | undefined {
  const [model, ...flags] = value.split(',');
  if (!cpuModels.includes(model)) {
    notes.push(`-cpu ${value} is not carried over (machinec does not know the CPU model ${model})`);
    return undefined;
  }
  const members: string[] = [];
  for (const f of flags) {
    const sign = /^[+-]/.exec(f)?.[0];
    const [key, raw] = sign ? [f.slice(1), sign === '+' ? 'on' : 'off'] : f.includes('=') ? [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] : [f, 'on'];
    const spec = Object.hasOwn(cpuFlagKeys, key) ? cpuFlagKeys[key] : undefined;
    if (spec?.type === 'boolean' && ['on', 'off', 'true', 'false'].includes(raw)) members.push(`${key} = ${raw === 'on' || raw === 'true'}`);
    else if (spec?.type === 'integer' && /^(0x[0-9a-f]+|\d+)$/i.test(raw)) members.push(`${key} = ${raw}`);
    else if (spec?.type === 'string') members.push(`${key} = ${quote(raw)}`);
    else notes.push(`-cpu flag ${f} is not carried over (machinec does not know it): the imported CPU lacks it`);
  }
  return block(model, members);
}

const DISPLAY_TYPES = Object.keys(blockTypes.display);

/** `-vnc 127.0.0.1:1` / `-display vnc=…` → `vnc { listen = "…" }`. */
export function vncProperty(value: string, notes: string[]): string {
  const [listen, ...rest] = value.split(',');
  const members = [`listen = ${quote(listen)}`];
  for (const o of rest) {
    if (o === 'password' || o === 'password=on') members.push('password = true');
    else notes.push(`-vnc option ${o} is not carried over`);
  }
  return block('vnc', members);
}

/** `-display gtk,full-screen=on`, `-display none`, `-display vnc=…`. */
export function displayProperty(value: string, notes: string[]): string | undefined {
  if (value.startsWith('vnc=')) return vncProperty(value.slice(4), notes);
  const [type, ...rest] = value.split(',');
  if (!DISPLAY_TYPES.includes(type) || type === 'vnc' || type === 'spice') {
    notes.push(`-display ${value} is not carried over`);
    return undefined;
  }
  const keys = blockTypes.display[type].keys;
  const members: string[] = [];
  for (const o of rest) {
    const [k, v = 'on'] = o.split('=');
    const spec = Object.hasOwn(keys, k) ? keys[k] : undefined;
    if (spec?.type === 'boolean') members.push(`${k} = ${isOn(v)}`);
    else notes.push(`-display ${type} option ${o} is not carried over`);
  }
  return block(type, members);
}

/** `-spice port=5930,addr=127.0.0.1,disable-ticketing=on` → `spice { port = 5930 }`. */
export function spiceProperty(pairs: Pairs, notes: string[]): string {
  const members: string[] = [];
  for (const [k, v] of pairs) {
    if (k === 'port' && /^\d+$/.test(v)) members.push(`port = ${v}`);
    else if (k === 'addr') members.push(`addr = ${quote(v)}`);
    else if (k === 'disable-ticketing') { if (!isOn(v)) members.push('disable-ticketing = false'); }
    else notes.push(`-spice option ${k}=${v} is not carried over`);
  }
  if (!pairs.some(([k]) => k === 'disable-ticketing')) members.push('disable-ticketing = false');
  return block('spice', members);
}

/** A chardev as the guest's ttyS0: `pty`, `socket { path = "…" }`, … */
export function serialOfChardev(c: NetBackend | undefined, what: string, notes: string[]): string | undefined {
  const path = c && get(c.options, 'path');
  if (c && (c.type === 'pty' || c.type === 'stdio' || c.type === 'null') && c.options.every(([k]) => k === 'signal' || k === 'logfile')) return c.type;
  if (c?.type === 'file' && path) return block('file', [`path = ${quote(path)}`]);
  if (c?.type === 'socket' && path) {
    const server = isOn(get(c.options, 'server') ?? 'off');
    const wait = isOn(get(c.options, 'wait') ?? (server ? 'on' : 'off'));
    const members = [`path = ${quote(path)}`, ...(server ? [] : ['server = false']), ...(wait ? ['wait = true'] : [])];
    const other = c.options.filter(([k]) => !['path', 'server', 'wait', 'nowait'].includes(k));
    if (!other.length) return block('socket', members);
  }
  notes.push(`${what} is not carried over (the guest's ttyS0 can be pty, stdio, null, a file or a unix socket)`);
  return undefined;
}

/** `-serial pty|stdio|null|file:PATH|unix:PATH,server=on,wait=off|chardev:ID`. */
export function serialProperty(value: string, chardevs: ReadonlyMap<string, NetBackend>, notes: string[]): string | undefined {
  const what = `-serial ${value}`;
  if (value.startsWith('chardev:')) return serialOfChardev(chardevs.get(value.slice(8)), what, notes);
  if (value === 'pty' || value === 'stdio' || value === 'null') return value;
  if (value.startsWith('file:')) return serialOfChardev({ type: 'file', options: [['path', value.slice(5)]] }, what, notes);
  if (value.startsWith('unix:')) {
    const [path, ...opts] = value.slice(5).split(',');
    const options: [string, string][] = [['path', path], ...opts.map((o): [string, string] => (o === 'server' ? ['server', 'on'] : o === 'nowait' ? ['wait', 'off'] : [o.split('=')[0], o.split('=')[1] ?? 'on']))];
    return serialOfChardev({ type: 'socket', options }, what, notes);
  }
  notes.push(`${what} is not carried over (the guest's ttyS0 can be pty, stdio, null, file:PATH or unix:PATH)`);
  return undefined;
}

/** `-smbios type=1,manufacturer=Acme,product=Desk-1` → `{ manufacturer = "Acme", product = "Desk-1" }`. */
export function smbiosProperty(pairs: Pairs, notes: string[]): string | undefined {
  if (get(pairs, 'type') !== '1') {
    notes.push(`-smbios ${kvText(pairs)} is not carried over (machinec writes SMBIOS type 1 only)`);
    return undefined;
  }
  const members: string[] = [];
  for (const [k, v] of pairs) {
    if (k === 'type') continue;
    if (Object.hasOwn(smbiosKeys, k)) members.push(`${k} = ${quote(v)}`);
    else notes.push(`-smbios type=1 ${k}=${v} is not carried over`);
  }
  return block('', members) || undefined;
}
