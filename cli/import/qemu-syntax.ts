/**
 * QEMU's command-line syntax as `machinec import` reads it: which options take an argument, the
 * `-opt value` pairs, QEMU's key=value lists (bare `key` is `key=on`, `,,` is a comma), and the
 * backends an option names, as the .machine writes them. The one reader of QEMU syntax.
 */
import { escapeOptionValue, splitKeyval } from '../../compiler/index.js';

/**
 * QEMU options that take no argument (everything else takes exactly one): every one QEMU 7.2's
 * `-help` lists without an argument (specs/qemu-flags.e2e.spec.ts reads the installed QEMU's), and
 * older ones an existing command line may still carry.
 */
export const FLAGS: ReadonlySet<string> = new Set([
  'audio-help', 'daemonize', 'enable-kvm', 'enable-sync-profile', 'full-screen', 'h', 'help', 'mem-prealloc', 'no-acpi', 'no-fd-bootchk',
  'no-hpet', 'no-reboot', 'no-shutdown', 'no-user-config', 'nodefaults', 'nographic', 'only-migratable', 'portrait', 'preconfig', 'S', 's',
  'singlestep', 'snapshot', 'usb', 'version', 'win2k-hack', 'xen-attach', 'xen-domid-restrict',
  // gone from QEMU 7.2's -help, still seen in older command lines
  'no-kvm', 'curses', 'alt-grab', 'ctrl-grab', 'no-frame', 'sdl', 'no-quit', 'localtime', 'rtc-td-hack', 'std-vga', 'enable-fips', 'semihosting',
]);

export interface QemuOption {
  readonly name: string;
  readonly value?: string;
}

/** `-opt value` pairs; `--opt` is `-opt`. A stray word is an error (it would be a disk image on old QEMUs). */
export function splitOptions(args: readonly string[]): { options: QemuOption[]; errors: string[] } {
  const options: QemuOption[] = [];
  const errors: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-')) {
      errors.push(`unexpected argument ${a} (a bare image name: write -drive file=${a})`);
      continue;
    }
    const name = a.replace(/^--?/, '');
    if (FLAGS.has(name)) options.push({ name });
    else if (i + 1 < args.length) options.push({ name, value: args[++i] });
    else errors.push(`${a} needs a value`);
  }
  return { options, errors };
}

/** QEMU's key=value list (split as the compiler's keyval reader does: `,,` is a comma); a first word without `=` is `implied`, a bare key is `key=on`. */
export function parseKv(text: string, implied?: string): [string, string][] {
  return splitKeyval(text).filter((p, i) => p !== '' || i === 0).map((p, i) => {
    const eq = p.indexOf('=');
    if (eq < 0) return i === 0 && implied ? [implied, p] : [p, 'on'];
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}

/** Pairs back into QEMU's key=value list, each value's commas doubled. */
export const kvText = (pairs: readonly (readonly [string, string])[]): string => pairs.map(([k, v]) => `${k}=${escapeOptionValue(v)}`).join(',');

/** A backend as the .machine writes it: `user`, `tap { ifname = "tap0" }`, a disk file. */
export interface NetBackend {
  readonly type: string;
  /** For `-nic`: the netdev id it was given. */
  readonly id?: string;
  readonly options: readonly (readonly [string, string])[];
}
export interface BlockBackend {
  readonly file?: string;
  readonly format?: string;
  readonly readonly?: boolean;
}

export interface FsdevBackend {
  readonly path: string;
  readonly readonly?: boolean;
}
