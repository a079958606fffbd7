/**
 * The machine-level lines of the lock, after the `machine` line:
 *
 *   firmware uefi secure-boot=on code=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd code-size=3653632 code-sha256=… vars=… vars-size=… vars-sha256=…
 *   cpu Skylake-Client-v1 requested=Skylake-Client
 *   smbios manufacturer=Acme product=Desk-1
 *   qemu-args -global ICH9-LPC.disable_s3=1
 *
 * Values are words: a byte outside [A-Za-z0-9_.:+/@,=-] is written %XX (a space is %20).
 */
import type { CpuPin, FirmwarePin, PinnedFile, PlacedMachine } from './model.js';

const encode = (v: string): string => Array.from(new TextEncoder().encode(v), (b) => (/[A-Za-z0-9_.:+/@,=-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
function decode(v: string): string | undefined {
  if (!/^([A-Za-z0-9_.:+/@,=-]|%[0-9A-F]{2})*$/.test(v)) return undefined;
  try {
    return decodeURIComponent(v);
  } catch {
    return undefined;
  }
}

const fileWords = (key: string, f: PinnedFile): string[] => [`${key}=${encode(f.path)}`, ...(f.size !== undefined ? [`${key}-size=${f.size}`] : []), ...(f.sha256 ? [`${key}-sha256=${f.sha256}`] : [])];

export function writeVmLines(m: PlacedMachine): string[] {
  const lines: string[] = [];
  if (m.firmware) lines.push(['firmware', 'uefi', `secure-boot=${m.firmware.secureBoot ? 'on' : 'off'}`, ...fileWords('code', m.firmware.code), ...fileWords('vars', m.firmware.vars)].join(' '));
  if (m.cpu) lines.push(['cpu', m.cpu.model, ...(m.cpu.requested ? [`requested=${m.cpu.requested}`] : []), ...(m.cpu.followsHost ? ['follows-host'] : [])].join(' '));
  const s = m.smbios;
  if (s) lines.push(['smbios', ...Object.keys(s).sort().map((k) => `${k}=${encode(s[k])}`)].join(' '));
  if (m.qemuArgs?.length) lines.push(['qemu-args', ...m.qemuArgs.map(encode)].join(' '));
  if (m.acpi === false) lines.push('acpi off');
  return lines;
}

export type VmLinePins = Partial<Pick<PlacedMachine, 'firmware' | 'cpu' | 'smbios' | 'qemuArgs' | 'acpi'>>;

const SHA256 = /^[0-9a-f]{64}$/;
const MODEL = /^[A-Za-z0-9_.+-]+$/;

function keyValues(words: readonly string[]): Map<string, string> | string {
  const out = new Map<string, string>();
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) return `expected key=value, found ${w}`;
    const value = decode(w.slice(eq + 1));
    if (value === undefined) return `bad value in ${w}`;
    if (out.has(w.slice(0, eq))) return `${w.slice(0, eq)} is given twice`;
    out.set(w.slice(0, eq), value);
  }
  return out;
}

function readFile(kv: Map<string, string>, key: string): PinnedFile | string {
  const path = kv.get(key);
  const size = kv.get(`${key}-size`);
  const sha = kv.get(`${key}-sha256`);
  if (!path || !path.startsWith('/') && !/^[A-Za-z0-9_.]/.test(path)) return `firmware needs ${key}=PATH`;
  if (size !== undefined && !/^[1-9]\d{0,11}$/.test(size)) return `${key}-size=${size} is not a size in bytes`;
  if (sha !== undefined && !SHA256.test(sha)) return `${key}-sha256 is not a sha256 digest (64 lowercase hex digits)`;
  if ((size === undefined) !== (sha === undefined)) return `${key}-size and ${key}-sha256 go together`;
  return { path, ...(size !== undefined ? { size: Number(size) } : {}), ...(sha ? { sha256: sha } : {}) };
}

/** Reads one machine-level line into `into`; returns a problem, or undefined when the line is fine. Unknown first words return null. */
export function readVmLine(words: readonly string[], into: { -readonly [K in keyof VmLinePins]: VmLinePins[K] }): string | undefined | null {
  const [kind, ...rest] = words;
  if (kind === 'firmware') {
    if (into.firmware) return 'firmware is locked twice';
    if (rest[0] !== 'uefi') return 'expected `firmware uefi …`';
    const kv = keyValues(rest.slice(1));
    if (typeof kv === 'string') return kv;
    const unknown = [...kv.keys()].find((k) => !['secure-boot', 'code', 'code-size', 'code-sha256', 'vars', 'vars-size', 'vars-sha256'].includes(k));
    if (unknown) return `firmware has no key ${unknown}`;
    const sb = kv.get('secure-boot');
    if (sb !== 'on' && sb !== 'off') return 'firmware needs secure-boot=on or off';
    const code = readFile(kv, 'code');
    const vars = readFile(kv, 'vars');
    if (typeof code === 'string') return code;
    if (typeof vars === 'string') return vars;
    into.firmware = { secureBoot: sb === 'on', code, vars } satisfies FirmwarePin;
    return undefined;
  }
  if (kind === 'cpu') {
    if (into.cpu) return 'cpu is locked twice';
    const [model, ...more] = rest;
    if (!model || !MODEL.test(model)) return 'expected `cpu MODEL`';
    const followsHost = more.includes('follows-host');
    const kv = keyValues(more.filter((w) => w !== 'follows-host'));
    if (typeof kv === 'string') return kv;
    if ([...kv.keys()].some((k) => k !== 'requested')) return 'cpu takes only requested= and follows-host';
    const requested = kv.get('requested');
    if (requested !== undefined && !MODEL.test(requested)) return `bad CPU model ${requested}`;
    into.cpu = { model, followsHost, ...(requested ? { requested } : {}) } satisfies CpuPin;
    return undefined;
  }
  if (kind === 'smbios') {
    if (into.smbios) return 'smbios is locked twice';
    const kv = keyValues(rest);
    if (typeof kv === 'string') return kv;
    const unknown = [...kv.keys()].find((k) => !['manufacturer', 'product', 'version', 'serial', 'sku', 'family'].includes(k));
    if (unknown) return `smbios has no key ${unknown}`;
    into.smbios = Object.fromEntries(kv);
    return undefined;
  }
  if (kind === 'qemu-args') {
    if (into.qemuArgs) return 'qemu-args is locked twice';
    const args = rest.map(decode);
    if (!args.length || args.some((a) => a === undefined)) return 'bad qemu-args';
    into.qemuArgs = args as string[];
    return undefined;
  }
  if (kind === 'acpi') {
    if (into.acpi === false) return 'acpi is locked twice';
    if (rest.length !== 1 || rest[0] !== 'off') return 'expected `acpi off`';
    into.acpi = false;
    return undefined;
  }
  return null;
}

const fileText = (f: PinnedFile | undefined): string => (f ? `${f.path}${f.sha256 ? ` (sha256 ${f.sha256.slice(0, 12)}…, ${f.size} bytes)` : ''}` : '(none)');
const cpuText = (c: CpuPin | undefined): string => (c ? `${c.model}${c.followsHost ? ' (follows the host)' : ''}` : "(QEMU's default)");

/** Plain-language lines for the plan: what changed in the firmware, CPU, SMBIOS values and qemu-args. */
export function compareVm(before: PlacedMachine, after: PlacedMachine): string[] {
  const out: string[] = [];
  const fa = before.firmware;
  const fb = after.firmware;
  if (!fa !== !fb) out.push(`firmware ${fa ? 'UEFI' : 'SeaBIOS'} → ${fb ? 'UEFI' : 'SeaBIOS'}`);
  if (fa && fb) {
    if (fa.secureBoot !== fb.secureBoot) out.push(`secure boot ${fa.secureBoot ? 'on' : 'off'} → ${fb.secureBoot ? 'on' : 'off'}`);
    for (const k of ['code', 'vars'] as const) {
      const a = fa[k];
      const b = fb[k];
      if (a.path !== b.path || a.sha256 !== b.sha256 || a.size !== b.size) out.push(`firmware ${k === 'code' ? 'CODE' : 'VARS template'} ${fileText(a)} → ${fileText(b)}`);
    }
  }
  const ca = before.cpu;
  const cb = after.cpu;
  if (ca?.model !== cb?.model || ca?.followsHost !== cb?.followsHost) out.push(`CPU model ${cpuText(ca)} → ${cpuText(cb)}`);
  const sa = before.smbios ?? {};
  const sb = after.smbios ?? {};
  for (const k of [...new Set([...Object.keys(sa), ...Object.keys(sb)])].sort()) if (sa[k] !== sb[k]) out.push(`SMBIOS ${k} ${sa[k] === undefined ? '(none)' : JSON.stringify(sa[k])} → ${sb[k] === undefined ? '(none)' : JSON.stringify(sb[k])}`);
  const qa = (before.qemuArgs ?? []).join(' ');
  const qb = (after.qemuArgs ?? []).join(' ');
  if (qa !== qb) out.push(`qemu-args ${qa || '(none)'} → ${qb || '(none)'}`);
  if (before.acpi !== after.acpi) out.push(`ACPI ${before.acpi === false ? 'off' : 'on'} → ${after.acpi === false ? 'off' : 'on'}`);
  return out;
}
