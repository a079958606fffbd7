/**
 * What the guest sees on its PCI buses, read from a running QEMU over QMP (`query-pci`).
 *
 * Bus numbers behind bridges and root ports are given by the firmware (SeaBIOS) when it runs,
 * so the view is only meaningful once the firmware has enumerated: {@link waitForStableGuestView}.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describeDevice, type GuestPciDevice } from '../../compiler/index.js';
import type { QmpClient } from './qmp.js';

export type { GuestPciDevice };

/** The parts of QMP's `PciDeviceInfo` that are used here. */
export interface QmpPciDevice {
  bus: number;
  slot: number;
  function: number;
  class_info: { class: number; desc?: string };
  id: { vendor: number; device: number; subsystem?: number; 'subsystem-vendor'?: number };
  qdev_id: string;
  pci_bridge?: {
    bus: { number: number; secondary: number; subordinate: number };
    devices?: QmpPciDevice[];
  };
}

export interface QmpPciBus {
  bus: number;
  devices: QmpPciDevice[];
}

/** Flatten `query-pci`'s nested answer into a list sorted by (bus, slot, fn). */
export function flattenQueryPci(buses: readonly QmpPciBus[]): GuestPciDevice[] {
  const out: GuestPciDevice[] = [];
  const visit = (devices: readonly QmpPciDevice[] | undefined): void => {
    for (const d of devices ?? []) {
      const bridge = d.pci_bridge;
      out.push({
        bus: d.bus,
        slot: d.slot,
        fn: d.function,
        vendor: d.id.vendor,
        device: d.id.device,
        classId: d.class_info.class,
        qdevId: d.qdev_id ?? '',
        ...(bridge ? { secondaryBus: bridge.bus.secondary, subordinateBus: bridge.bus.subordinate } : {}),
      });
      if (bridge) visit(bridge.devices);
    }
  };
  for (const b of buses) visit(b.devices);
  return out.sort((a, b) => a.bus - b.bus || a.slot - b.slot || a.fn - b.fn);
}

/** One `query-pci`, flattened. */
export async function readGuestView(qmp: QmpClient): Promise<GuestPciDevice[]> {
  return flattenQueryPci(await qmp.execute<QmpPciBus[]>('query-pci'));
}

export interface StableViewOptions {
  /** Give up after this long (default 15 s). */
  readonly timeoutMs?: number;
  /** Polling interval (default 250 ms). */
  readonly intervalMs?: number;
  /**
   * Pause the guest (QMP `stop`) as soon as the buses are numbered, before the firmware goes on to
   * map every BAR: QEMU 7.2 aborts (`phys_section_add: Assertion … failed`) when a machine with
   * about 1,000 devices maps them all, and the bus numbers are all verify needs.
   */
  readonly stopWhenStable?: boolean;
}

export interface StableGuestView {
  readonly devices: GuestPciDevice[];
  /** Milliseconds from the call (after `cont`, if it was sent) until the view was stable. */
  readonly elapsedMs: number;
  /** How many `query-pci` calls were made. */
  readonly polls: number;
}

/**
 * Let the firmware run (sends `cont` if the VM is paused), then poll `query-pci` until two
 * consecutive answers show the same topology and every bridge has a nonzero secondary bus.
 */
export async function waitForStableGuestView(qmp: QmpClient, options: StableViewOptions = {}): Promise<StableGuestView> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 250;
  const started = Date.now();
  const status = await qmp.execute<{ running: boolean; status: string }>('query-status');
  if (!status.running) await qmp.execute('cont');

  let previous: string | undefined;
  let polls = 0;
  let last: GuestPciDevice[] = [];
  for (;;) {
    const raw = await qmp.execute<QmpPciBus[]>('query-pci');
    polls++;
    last = flattenQueryPci(raw);
    // The topology only: BARs keep changing while the firmware assigns them.
    const text = JSON.stringify(last);
    const numbered = last.every((d) => d.secondaryBus === undefined || d.secondaryBus !== 0);
    if (numbered && text === previous) {
      if (options.stopWhenStable) await qmp.execute('stop');
      return { devices: last, elapsedMs: Date.now() - started, polls };
    }
    previous = text;
    if (Date.now() - started + intervalMs > timeoutMs) {
      const unnumbered = last.filter((d) => d.secondaryBus === 0).map(describeDevice);
      throw new Error(
        `guest PCI view not stable after ${timeoutMs} ms (${polls} polls)` +
          (unnumbered.length ? `; bridges without a bus number: ${unnumbered.join(', ')}` : ''),
      );
    }
    await sleep(intervalMs);
  }
}

/** Find a device by its QEMU id. */
export function findByQdevId(view: readonly GuestPciDevice[], qdevId: string): GuestPciDevice | undefined {
  return view.find((d) => d.qdevId === qdevId);
}

export { describeDevice };
