/**
 * A small QMP (QEMU Machine Protocol) client over a unix socket.
 *
 * QMP is line-oriented: every message is one JSON object followed by a newline. A message may
 * arrive split across several socket chunks, and several messages may arrive in one chunk.
 * Asynchronous events (`{"event": …}`) may be interleaved with command replies at any time.
 * Commands are answered in order, so replies are matched to a FIFO of pending requests
 * (an `id` is sent as well and checked when QEMU echoes it back).
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface QmpEvent {
  readonly event: string;
  readonly data?: unknown;
  readonly timestamp?: { seconds: number; microseconds: number };
}

export interface QmpGreeting {
  readonly QMP: { version: unknown; capabilities: unknown[] };
}

/** A QMP command failed: QEMU answered `{"error": {"class", "desc"}}`. */
export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`);
    this.name = 'QmpError';
  }
}

export interface QmpConnectOptions {
  /** Give up if the socket does not accept a connection and greet within this bound (default 20 s). */
  readonly timeoutMs?: number;
  /** Delay between connection attempts (default 50 ms). */
  readonly retryMs?: number;
  /** Called before each retry; throw (or return a rejected promise) to abort early, e.g. when QEMU died. */
  readonly shouldAbort?: () => Error | undefined;
}

interface Pending {
  readonly id: number;
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

export class QmpClient {
  private buffer = '';
  private readonly pending: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private closeError: Error | undefined;
  private readonly eventListeners = new Set<(event: QmpEvent) => void>();
  /** Every event received so far, in order (bounded to the last 1000). */
  readonly events: QmpEvent[] = [];
  greeting: QmpGreeting | undefined;
  /** Counters: socket chunks read, messages parsed, messages that spanned more than one chunk. */
  readonly stats = { chunks: 0, messages: 0, splitMessages: 0 };
  private bufferChunks = 0;
  private greetingWaiter: { resolve: (g: QmpGreeting) => void; reject: (e: Error) => void } | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown(new Error('QMP connection closed')));
  }

  /**
   * Connect to the QMP socket at `path`, retrying (the socket file may not exist yet, or may not be
   * listening yet) until `timeoutMs`, then read the greeting and negotiate capabilities.
   */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? 20_000;
    const retryMs = options.retryMs ?? 50;
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      const abort = options.shouldAbort?.();
      if (abort) throw abort;
      try {
        const socket = await connectOnce(path, Math.max(1, deadline - Date.now()));
        const client = new QmpClient(socket);
        try {
          await client.readGreeting(Math.max(1, deadline - Date.now()));
          await client.execute('qmp_capabilities');
          return client;
        } catch (err) {
          client.destroy();
          throw err;
        }
      } catch (err) {
        lastError = err;
        const code = (err as NodeJS.ErrnoException).code;
        // Only "not there yet" errors are retried; anything else (a QMP error) is final.
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED' && code !== 'EAGAIN') throw err;
      }
      if (Date.now() + retryMs > deadline) {
        throw new Error(`QMP socket ${path} did not answer within ${timeoutMs} ms: ${String((lastError as Error)?.message ?? lastError)}`);
      }
      await sleep(retryMs);
    }
  }

  private readGreeting(timeoutMs: number): Promise<QmpGreeting> {
    if (this.greeting) return Promise.resolve(this.greeting);
    if (this.closed) return Promise.reject(this.closeError ?? new Error('QMP connection closed'));
    return new Promise<QmpGreeting>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.greetingWaiter = undefined;
        reject(new Error(`no QMP greeting within ${timeoutMs} ms`));
      }, timeoutMs);
      this.greetingWaiter = {
        resolve: (g) => { clearTimeout(timer); resolve(g); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
    });
  }

  /** Run a QMP command; resolves with its `return` value, rejects with a {@link QmpError}. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(this.closeError ?? new Error('QMP connection closed'));
    const id = this.nextId++;
    const message: Record<string, unknown> = { execute: command, id };
    if (args !== undefined) message.arguments = args;
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ id, command, resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(JSON.stringify(message) + '\n');
    });
  }

  /** Subscribe to asynchronous events; returns an unsubscribe function. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Resolves with the first event named `name` (including one already received, if `includePast`). */
  waitForEvent(name: string, timeoutMs: number, includePast = false): Promise<QmpEvent> {
    if (includePast) {
      const seen = this.events.find((e) => e.event === name);
      if (seen) return Promise.resolve(seen);
    }
    return new Promise<QmpEvent>((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`no QMP event ${name} within ${timeoutMs} ms`)); }, timeoutMs);
      const off = this.onEvent((e) => {
        if (e.event === name) { clearTimeout(timer); off(); resolve(e); }
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Close the connection (does not quit QEMU). Pending commands are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      // If the peer never closes its side, do not wait for ever.
      setTimeout(() => { this.socket.destroy(); resolve(); }, 500).unref();
    });
    this.shutdown(new Error('QMP connection closed'));
  }

  private destroy(): void {
    this.socket.destroy();
    this.shutdown(new Error('QMP connection closed'));
  }

  private shutdown(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    for (const p of this.pending.splice(0)) p.reject(new Error(`QMP ${p.command}: ${error.message}`));
    this.greetingWaiter?.reject(error);
    this.greetingWaiter = undefined;
  }

  private onData(chunk: string): void {
    this.stats.chunks++;
    this.buffer += chunk;
    this.bufferChunks++;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line === '') continue;
      this.stats.messages++;
      if (this.bufferChunks > 1) this.stats.splitMessages++;
      // Whatever is left started in this chunk.
      this.bufferChunks = this.buffer === '' ? 0 : 1;
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.shutdown(new Error(`QMP sent invalid JSON: ${line.slice(0, 200)}`));
        this.socket.destroy();
        return;
      }
      this.dispatch(message);
    }
  }

  private dispatch(message: Record<string, unknown>): void {
    if ('QMP' in message) {
      this.greeting = message as unknown as QmpGreeting;
      this.greetingWaiter?.resolve(this.greeting);
      this.greetingWaiter = undefined;
      return;
    }
    if ('event' in message) {
      const event = message as unknown as QmpEvent;
      this.events.push(event);
      if (this.events.length > 1000) this.events.shift();
      for (const l of [...this.eventListeners]) l(event);
      return;
    }
    if ('return' in message || 'error' in message) {
      const pending = this.pending.shift();
      if (!pending) return; // a reply nobody waits for (should not happen)
      if (message.id !== undefined && message.id !== pending.id) {
        pending.reject(new Error(`QMP reply id ${String(message.id)} does not match request ${pending.id} (${pending.command})`));
        return;
      }
      if ('error' in message) {
        const err = message.error as { class?: string; desc?: string };
        pending.reject(new QmpError(pending.command, err.class ?? 'GenericError', err.desc ?? JSON.stringify(err)));
      } else {
        pending.resolve(message.return);
      }
    }
  }
}

function connectOnce(path: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.createConnection({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect to ${path} timed out`), { code: 'EAGAIN' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

/** Convenience: connect and negotiate capabilities. */
export function connectQmp(path: string, options?: QmpConnectOptions): Promise<QmpClient> {
  return QmpClient.connect(path, options);
}
