/**
 * The language server's side of stdio: LSP's base protocol (`Content-Length: N\r\n\r\n` and N
 * bytes of JSON) read by a framer of machinec's own, and the rules of the lifecycle a client must
 * keep. vscode-jsonrpc's stream reader buffers whatever length a header names, stops answering
 * after a bad header and keeps running at end of input; a reader in front of it could not bound
 * the body without parsing the headers itself, so this one replaces it. Here:
 * - a frame holds at most MAX_FRAME_BYTES (16 MiB, as every other input machinec reads) and its
 *   headers at most MAX_HEADER_BYTES; the body of a larger frame is never buffered;
 * - a frame without a Content-Length, with one that is not a decimal number of bytes, or too large,
 *   is answered with a JSON-RPC parse error (id null), said on stderr, and the server exits 1: after
 *   a bad header the next frame's start is unknown, so it does not try to resynchronise;
 * - a frame whose body is not JSON is answered with a parse error and the server goes on (the
 *   framing is intact);
 * - end of input ends the server: exit 0 after `shutdown`, 1 otherwise (and 1 when it ends inside
 *   a frame);
 * - before `initialize`, a request is answered with ServerNotInitialized (-32002) and a
 *   notification is dropped, `exit` excepted; a second `initialize`, and any request after
 *   `shutdown`, is answered with InvalidRequest (-32600).
 * The protocol package is only imported by `machinec lsp` (server.ts passes it in).
 */
import type * as Lsp from 'vscode-languageserver/node';
import { MAX_INPUT_BYTES } from '../io.js';

export const MAX_FRAME_BYTES = MAX_INPUT_BYTES;
export const MAX_HEADER_BYTES = 8 * 1024;

/** What a framer finds in its input: a frame's body, or why the input is not LSP's framing. */
export type Frame = { readonly body: string } | { readonly malformed: string };

const NONE = Buffer.alloc(0);
const HEADER_END = Buffer.from('\r\n\r\n');

/** The Content-Length a header block names, or why it names none that can be read. */
export function contentLength(headers: string): number | string {
  let length: number | string = 'a frame has no Content-Length header';
  for (const line of headers.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) return `a frame has a header line without a name: ${JSON.stringify(line.slice(0, 80))}`;
    if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d{1,12}$/.test(value)) return `Content-Length ${JSON.stringify(value.slice(0, 40))} is not a number of bytes`;
    length = Number(value);
    if (length > MAX_FRAME_BYTES) return `Content-Length ${value} is more than the ${MAX_FRAME_BYTES} bytes (16 MiB) machinec reads`;
  }
  return length;
}

/** Splits a byte stream into LSP frames, holding at most one frame's headers and body at a time. */
export class Framer {
  private head: Buffer = NONE;
  private body: Buffer[] = [];
  private have = 0;
  /** The body length the current frame's header named, or -1 while reading headers. */
  private want = -1;
  private broken = false;

  push(chunk: Buffer): Frame[] {
    const out: Frame[] = [];
    let rest = chunk;
    while (!this.broken && (rest.length || this.want === 0)) {
      if (this.want < 0) {
        const found = this.readHeader(rest);
        if (typeof found === 'string') return this.fail(out, found);
        if (!found) break;
        rest = found.rest;
      }
      const take = rest.subarray(0, this.want - this.have);
      if (take.length) this.body.push(take);
      this.have += take.length;
      rest = rest.subarray(take.length);
      if (this.have < this.want) break;
      out.push({ body: Buffer.concat(this.body).toString('utf8') });
      this.body = [];
      this.have = 0;
      this.want = -1;
    }
    return out;
  }

  /** At end of input: why what is left is not a whole frame, or undefined when it ended between frames. */
  end(): string | undefined {
    if (this.broken || (this.want < 0 && !this.head.length)) return undefined;
    return this.want < 0 ? 'input ended inside a frame header' : `input ended after ${this.have} of the ${this.want} bytes of a frame`;
  }

  /** Adds `bytes` to the header block; once it is whole, sets `want` and gives what follows it. */
  private readHeader(bytes: Buffer): { rest: Buffer } | string | undefined {
    this.head = this.head.length ? Buffer.concat([this.head, bytes]) : bytes;
    const end = this.head.indexOf(HEADER_END);
    if (end < 0 || end > MAX_HEADER_BYTES) {
      return this.head.length > MAX_HEADER_BYTES + HEADER_END.length ? `a frame's headers are longer than ${MAX_HEADER_BYTES} bytes` : undefined;
    }
    const length = contentLength(this.head.subarray(0, end).toString('latin1'));
    if (typeof length === 'string') return length;
    const rest = this.head.subarray(end + HEADER_END.length);
    this.head = NONE;
    this.want = length;
    return { rest };
  }

  private fail(out: Frame[], why: string): Frame[] {
    this.broken = true;
    this.head = NONE;
    this.body = [];
    return [...out, { malformed: why }];
  }
}

/** What the lifecycle has seen: `initialize`, then `shutdown`. */
export interface Lifecycle {
  initialized: boolean;
  shutdown: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What to do with one frame's body: hand the message on, or answer it here with an error (and
 * drop it). Updates the lifecycle as `initialize` and `shutdown` pass.
 */
export function admit(body: string, life: Lifecycle): { message: Lsp.Message } | { answer?: Lsp.ResponseMessage } {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch (e) {
    return { answer: errorResponse(null, -32700, `the frame's body is not JSON: ${(e as Error).message}`) };
  }
  if (!isObject(message) || message.jsonrpc !== '2.0') return { answer: errorResponse(null, -32600, 'a message must be a JSON-RPC 2.0 object') };
  const id = typeof message.id === 'number' || typeof message.id === 'string' ? message.id : undefined;
  const method = typeof message.method === 'string' ? message.method : undefined;
  if (method === undefined) return { message: message as unknown as Lsp.Message }; // a response to the server's own request
  if (!life.initialized && method !== 'initialize') {
    if (id === undefined) return method === 'exit' ? { message: message as unknown as Lsp.Message } : {};
    return { answer: errorResponse(id, -32002, `the server is not initialized: send initialize before ${method}`) };
  }
  if (id !== undefined && (life.shutdown || (life.initialized && method === 'initialize'))) {
    return { answer: errorResponse(id, -32600, life.shutdown ? `the server is shutting down: only exit may follow shutdown, not ${method}` : 'the server is initialized already') };
  }
  if (method === 'initialize') life.initialized = true;
  if (method === 'shutdown') life.shutdown = true;
  return { message: message as unknown as Lsp.Message };
}

const errorResponse = (id: number | string | null, code: number, message: string): Lsp.ResponseMessage => ({ jsonrpc: '2.0', id, error: { code, message } });

/** The streams the server talks on, and how it ends (server.ts: flush the answer, then exit with the status). */
export interface Stdio {
  readonly input: NodeJS.ReadableStream;
  readonly writer: Lsp.MessageWriter;
  readonly log: (line: string) => void;
  readonly finish: (status: number) => void;
}

/** A MessageReader over `io.input` that frames with Framer, keeps the lifecycle, and ends the server at end of input. */
export function boundedReader(lsp: typeof Lsp, io: Stdio): Lsp.MessageReader {
  const life: Lifecycle = { initialized: false, shutdown: false };
  const framer = new Framer();
  let ending = false;
  const stop = (status: number, why?: string, answer?: Lsp.ResponseMessage) => {
    if (ending) return;
    ending = true;
    if (why) io.log(`machinec lsp: ${why}; stopping`);
    io.input.removeAllListeners('data');
    void (answer ? io.writer.write(answer) : Promise.resolve()).catch(() => undefined).finally(() => io.finish(status));
  };
  class Reader extends lsp.AbstractMessageReader {
    listen(callback: Lsp.DataCallback): Lsp.Disposable {
      const onData = (chunk: Buffer | string) => {
        for (const frame of framer.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) {
          if ('malformed' in frame) return stop(1, frame.malformed, errorResponse(null, -32700, frame.malformed));
          const admitted = admit(frame.body, life);
          if ('message' in admitted) callback(admitted.message);
          else if (admitted.answer) void io.writer.write(admitted.answer).catch(() => undefined);
        }
      };
      io.input.on('data', onData);
      io.input.on('end', () => {
        const truncated = framer.end();
        stop(truncated ? 1 : life.shutdown ? 0 : 1, truncated);
      });
      io.input.on('error', (e: Error) => stop(1, `cannot read the input: ${e.message}`));
      return { dispose: () => void io.input.removeListener('data', onData) };
    }
  }
  return new Reader();
}
