/**
 * status: a running machine against its lock. `run` exposes QMP on a unix socket (owner-only, in
 * the machine's state folder, else in a private runtime folder); status reads the guest's PCI
 * view (`query-pci`, once the firmware has numbered the buses) and each NIC's `mac` and each
 * disk's `serial` (`qom-get`) through it, or through `virsh qemu-monitor-command` for a libvirt
 * domain, and says every device missing, extra, moved or with another value.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compareGuestView, readLock, type GuestPciDevice, type Mismatch, type PlacedMachine } from '../../compiler/index.js';
import { flattenQueryPci, type QmpPciBus } from '../qemu/guest-view.js';
import { connectQmp, QmpError } from '../qemu/qmp.js';
import type { Session } from '../session.js';
import { qmpSocketPath } from '../qemu/qmp-socket.js';
import { statePaths } from '../vm-state.js';
import { markdownText } from '../escape-markdown.js';

/** A running machine's QMP, reached over its socket or through libvirt; ids as QEMU has them are `prefix` + machinec's. */
interface Monitor {
  readonly where: string;
  readonly prefix: string;
  execute<T>(command: string, args?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

/** The machine cannot be reached: exit 2 with this message and hint. */
class Unreachable extends Error {
  constructor(
    message: string,
    readonly hint: string,
    readonly code = 'not-running',
  ) {
    super(message);
  }
}

async function socketMonitor(sock: string, shown: string): Promise<Monitor> {
  if (!existsSync(sock))
    throw new Unreachable(
      `${shown} is not running: no QMP socket at ${sock}`,
      `start it with \`machinec run ${shown}\`; a libvirt domain is read with --connect URI --domain NAME`,
    );
  try {
    const qmp = await connectQmp(sock, { timeoutMs: 3_000 });
    return { where: `QMP ${sock}`, prefix: '', execute: (c, a) => qmp.execute(c, a), close: () => qmp.close() };
  } catch (e) {
    throw new Unreachable(
      `${shown} is not running: nothing answers on ${sock} (${(e as Error).message.split('\n')[0]})`,
      `start it with \`machinec run ${shown}\`; a socket left by a killed QEMU is removed by the next run`,
    );
  }
}

/** `virsh -c URI qemu-monitor-command DOMAIN JSON`: its `return`, or its error. */
function virshQmp<T>(uri: string, domain: string, command: string, args?: Record<string, unknown>): Promise<T> {
  const json = JSON.stringify(args ? { execute: command, arguments: args } : { execute: command });
  return new Promise((done, reject) => {
    execFile(
      'virsh',
      ['-c', uri, 'qemu-monitor-command', '--domain', domain, '--cmd', json],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err)
          return reject(
            new Unreachable(
              `virsh cannot reach the domain ${domain} on ${uri}: ${(stderr || err.message).trim().split('\n')[0]}`,
              `is it defined and running? \`virsh -c ${uri} list --all\`; start it with \`virsh -c ${uri} start ${domain}\``,
            ),
          );
        let answer: { return?: T; error?: { class: string; desc: string } };
        try {
          answer = JSON.parse(stdout) as typeof answer;
        } catch {
          return reject(
            new Unreachable(`virsh answered ${command} for ${domain} with something that is not QMP's JSON: ${stdout.slice(0, 200)}`, 'is it a QEMU domain?'),
          );
        }
        if (answer.error) return reject(new QmpError(command, answer.error.class, answer.error.desc));
        done(answer.return as T);
      },
    );
  });
}

function libvirtMonitor(uri: string, domain: string): Monitor {
  return { where: `libvirt domain ${domain} on ${uri}`, prefix: 'ua-', execute: (c, a) => virshQmp(uri, domain, c, a), close: async () => undefined };
}

/** The guest's PCI view once the firmware has numbered every bridge and two answers agree; ids as machinec's. */
async function stableView(m: Monitor, timeoutMs: number): Promise<GuestPciDevice[]> {
  const started = Date.now();
  let previous = '';
  for (;;) {
    const view = flattenQueryPci(await m.execute<QmpPciBus[]>('query-pci')).map((d) => ({
      ...d,
      qdevId: d.qdevId.startsWith(m.prefix) ? d.qdevId.slice(m.prefix.length) : d.qdevId,
    }));
    const text = JSON.stringify(view);
    if (view.every((d) => d.secondaryBus !== 0) && text === previous) return view;
    previous = text;
    if (Date.now() - started > timeoutMs) {
      const status = await m.execute<{ status: string }>('query-status');
      throw new Unreachable(
        `the firmware has not numbered the buses of the running machine after ${timeoutMs / 1000} s (it is ${status.status})`,
        'a machine paused before its firmware ran (-S) is compared once it runs; give it longer with --timeout',
      );
    }
    await sleep(250);
  }
}

/** One way the running machine differs from its lock. */
export interface Drift {
  readonly id: string;
  readonly kind: 'missing' | 'extra' | 'moved' | 'changed';
  readonly locked: string;
  readonly running: string;
  readonly detail: string;
}

function driftOf(m: Mismatch): Drift {
  const kind = m.found === '(absent)' ? 'missing' : m.problem === 'unexpected device' ? 'extra' : /address|numbered/.test(m.problem) ? 'moved' : 'changed';
  return { id: m.id, kind, locked: m.expected, running: m.found, detail: m.problem };
}

/** The values `qom-get` reads back from a running device: each NIC's MAC, each disk's serial. */
const QOM_VALUES = ['mac', 'serial'] as const;

/** Every locked MAC and serial against the running device's; a device QEMU does not have is missing. */
async function valueDrift(m: Monitor, lock: PlacedMachine, absent: ReadonlySet<string>): Promise<{ drift: Drift[]; compared: number }> {
  const drift: Drift[] = [];
  let compared = 0;
  for (const d of lock.devices) {
    for (const key of QOM_VALUES) {
      const want = d.pins[key];
      if (want === undefined || absent.has(d.id)) continue;
      let got: string;
      try {
        got = String(await m.execute('qom-get', { path: `/machine/peripheral/${m.prefix}${d.id}`, property: key }));
      } catch (e) {
        if (!(e instanceof QmpError)) throw e;
        if (e.errorClass === 'DeviceNotFound') {
          drift.push({ id: d.id, kind: 'missing', locked: `${d.model} ${key}=${want}`, running: '(absent)', detail: 'not in the running machine' });
          break;
        }
        continue; // a model without the property: nothing to compare
      }
      compared++;
      if (got.toLowerCase() !== want.toLowerCase())
        drift.push({ id: d.id, kind: 'changed', locked: `${key}=${want}`, running: `${key}=${got}`, detail: `another ${key === 'mac' ? 'MAC' : 'serial'}` });
    }
  }
  return { drift, compared };
}

/** What status found: the PCI devices and values compared, and every difference. */
export interface StatusReport {
  readonly where: string;
  readonly pciCompared: number;
  readonly valuesCompared: number;
  readonly drift: Drift[];
}

async function readStatus(m: Monitor, lock: PlacedMachine, timeoutMs: number): Promise<StatusReport> {
  const { UUID } = await m.execute<{ UUID: string }>('query-uuid');
  if (UUID.toLowerCase() !== lock.uuid.toLowerCase())
    throw new Unreachable(
      `${m.where} is another machine: its UUID is ${UUID}, the lock's is ${lock.uuid}`,
      'status reads the machine the lock names by its SMBIOS UUID: check --domain, or which machine file this one was started from',
      'other-machine',
    );
  const view = await stableView(m, timeoutMs);
  const { mismatches, checked } = compareGuestView(lock, view);
  const pci = mismatches.map(driftOf);
  const values = await valueDrift(m, lock, new Set(pci.filter((d) => d.kind === 'missing').map((d) => d.id)));
  const order = { missing: 0, extra: 1, moved: 2, changed: 3 };
  const drift = [...pci, ...values.drift].sort((a, b) => order[a.kind] - order[b.kind] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { where: m.where, pciCompared: checked, valuesCompared: values.compared, drift };
}

export type StatusFormat = 'text' | 'json' | 'markdown';

export interface StatusOptions {
  readonly format: StatusFormat;
  /** A libvirt connection URI and domain, instead of the socket `run` exposes. */
  readonly connect?: string;
  readonly domain?: string;
  readonly timeoutMs: number;
}

const SIGN: Record<Drift['kind'], string> = { missing: '-', extra: '+', moved: '!', changed: '~' };


function renderText(r: StatusReport, title: string): string {
  const counts = `${r.pciCompared} PCI devices, ${r.valuesCompared} MACs and serials compared`;
  if (!r.drift.length) return `${title}: in sync with the lock (${counts})\n`;
  const lines = r.drift.map((d) => `  ${SIGN[d.kind]} ${d.id}: ${d.kind}, locked ${d.locked}, running ${d.running} (${d.detail})`);
  return `${title}: drifted from the lock, ${r.drift.length} difference${r.drift.length === 1 ? '' : 's'} (${counts})\n${lines.join('\n')}\n`;
}

function renderMarkdown(r: StatusReport, title: string): string {
  if (!r.drift.length)
    return `**${markdownText(title)}**: in sync with the lock (${r.pciCompared} PCI devices, ${r.valuesCompared} MACs and serials compared).\n`;
  const rows = r.drift.map((d) => `| ${d.kind} | ${[d.id, d.locked, d.running, d.detail].map((c) => `${markdownText(c)}`).join(' | ')} |`);
  return [
    `**${markdownText(title)}**: drifted from the lock, ${r.drift.length} difference${r.drift.length === 1 ? '' : 's'}.`,
    '',
    '| change | device | locked | running | why |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** The lock of FILE as written (status compares with it, not with what a build would lock now), or the exit status. */
async function lockOf(s: Session, file: string): Promise<{ lock: PlacedMachine; shown: string; lockShown: string; sock: string } | number> {
  const f = await s.compileFile(file);
  if (f.lockText === undefined) {
    s.report(f.diagnostics);
    return s.fail(
      'unreadable-file',
      `${f.shown} has no lock: nothing to compare the running machine with`,
      { file: f.shown, hint: `run \`machinec build ${f.shown}\` (or \`machinec run\`) first` },
      2,
    );
  }
  const read = readLock(f.lockText, f.lockShown);
  if (!read.lock) {
    s.report(read.diagnostics);
    return 2;
  }
  const c = f.compilation;
  if (c?.ok && c.lockText !== f.lockText)
    s.io.stderr(`note: ${f.shown} has changed since ${f.lockShown} was written; status compares the running machine with the lock\n`);
  const stateDir = c?.spec ? statePaths(c.spec, join(f.path, '..')).dir : undefined;
  return { lock: read.lock, shown: f.shown, lockShown: f.lockShown, sock: qmpSocketPath(read.lock, f.path, stateDir, s.io.env) };
}

export async function statusCommand(s: Session, file: string, opts: StatusOptions): Promise<number> {
  if ((opts.connect === undefined) !== (opts.domain === undefined))
    return s.fail('usage', '--connect and --domain go together: a libvirt URI and a domain name', {}, 2);
  if (opts.domain?.startsWith('-')) return s.fail('usage', `a domain name that starts with - is not accepted: ${JSON.stringify(opts.domain)}`, {}, 2);
  const found = await lockOf(s, file);
  if (typeof found === 'number') return found;
  let monitor: Monitor | undefined;
  let report: StatusReport;
  try {
    monitor = opts.connect !== undefined ? libvirtMonitor(opts.connect, opts.domain!) : await socketMonitor(found.sock, found.shown);
    report = await readStatus(monitor, found.lock, opts.timeoutMs);
  } catch (e) {
    if (!(e instanceof Unreachable) && !(e instanceof QmpError)) throw e;
    return s.fail(
      e instanceof Unreachable ? e.code : 'not-running',
      (e as Error).message,
      { file: found.shown, hint: e instanceof Unreachable ? e.hint : 'QEMU refused a query status needs' },
      2,
    );
  } finally {
    await monitor?.close();
  }
  const title = `${found.shown} (${report.where}) against ${found.lockShown}`;
  if (opts.format === 'json') {
    const compared = { pci: report.pciCompared, values: report.valuesCompared };
    const json = { file: found.shown, lock: found.lockShown, running: report.where, inSync: report.drift.length === 0, compared, drift: report.drift };
    s.io.stdout(`${JSON.stringify(json, null, 2)}\n`);
  } else s.io.stdout(opts.format === 'markdown' ? renderMarkdown(report, title) : renderText(report, title));
  return report.drift.length ? 1 : 0;
}
