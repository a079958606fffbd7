/**
 * Headless Chromium for specs that check pictures and mermaid: `chromiumDescribe` runs where
 * Chromium is installed, skips with a message elsewhere, and fails in CI. Each run gets its own
 * profile folder (removed afterwards) and no network features.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

export function chromiumDescribe(name: string, body: () => void): void {
  if (CHROMIUM) return describe(name, body);
  if (process.env.CI) {
    describe(name, () => test('chromium is installed (required in CI)', () => {
      throw new Error('chromium not found and CI is set: .ci/run installs it');
    }));
    return;
  }
  console.warn(`${name}: chromium not found: skipping (apt-get install chromium)`);
  describe.skip(name, body);
}

function chromium(args: readonly string[]): string {
  const profile = mkdtempSync(join(tmpdir(), 'machinec-chromium-'));
  try {
    return execFileSync(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The DOM after the page's scripts ran (up to `budgetMs` of virtual time). */
export function dumpDom(file: string, budgetMs = 10_000): string {
  return chromium([`--virtual-time-budget=${budgetMs}`, '--dump-dom', `file://${file}`]);
}

export function screenshot(file: string, png: string, size: { width: number; height: number }): void {
  chromium([`--screenshot=${png}`, `--window-size=${size.width},${size.height}`, '--hide-scrollbars', `file://${file}`]);
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes) into pixels. */
export function decodePng(data: Buffer): { width: number; height: number; channels: number; pixels: Uint8Array } {
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < data.length) {
    const len = data.readUInt32BE(pos);
    const type = data.toString('latin1', pos + 4, pos + 8);
    const body = data.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8 || body[12] !== 0) throw new Error('only 8-bit, non-interlaced PNGs');
      channels = body[9] === 6 ? 4 : body[9] === 2 ? 3 : 0;
      if (!channels) throw new Error(`PNG colour type ${body[9]} not handled`);
    } else if (type === 'IDAT') idat.push(body);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x];
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][filter];
      pixels[y * stride + x] = (v + pred) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** How many pixels differ from the most common colour (the background). */
export function inkPixels(png: Buffer): number {
  const { width, height, channels, pixels } = decodePng(png);
  const counts = new Map<number, number>();
  const colour = (i: number) => (pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2];
  for (let i = 0; i < width * height * channels; i += channels) counts.set(colour(i), (counts.get(colour(i)) ?? 0) + 1);
  const background = Math.max(...counts.values());
  return width * height - background;
}
