/**
 * The first 32 bits of MD5 (little-endian), which is all ketama needs of a
 * key's digest. For short keys, computing it in JS is several times faster
 * than a call into node:crypto; long keys still go to node:crypto.
 * Checked against node:crypto by property tests.
 */
import { createHash, hash as oneShotHash } from "node:crypto";

/** Above this many bytes the native hash wins over the JS rounds. */
const JS_MAX_BYTES = 512;

const S = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21];
const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);
const G = Uint8Array.from({ length: 64 }, (_, i) =>
  i < 16 ? i : i < 32 ? (5 * i + 1) % 16 : i < 48 ? (3 * i + 5) % 16 : (7 * i) % 16,
);

const bytes = new Uint8Array(JS_MAX_BYTES + 72);
const words = new Int32Array(16);
const view = new DataView(bytes.buffer);

const nativeMd5: (data: string | Buffer) => Buffer =
  typeof oneShotHash === "function"
    ? (data) => oneShotHash("md5", data, "buffer")
    : (data) => createHash("md5").update(data).digest();

/** md5(data) digest bytes 0..3 as a little-endian uint32 (twemproxy hash_md5). */
export function md5First32(data: string | Uint8Array): number {
  const length = typeof data === "string" ? copyAscii(data) : copyBytes(data);
  if (length < 0) return nativeMd5(typeof data === "string" ? data : Buffer.from(data)).readUInt32LE(0);
  return digestFirstWord(length);
}

/** Copies an ASCII string into the block buffer; -1 when it is not ASCII or too long. */
function copyAscii(text: string): number {
  if (text.length > JS_MAX_BYTES) return -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return -1;
    bytes[i] = c;
  }
  return text.length;
}

function copyBytes(data: Uint8Array): number {
  if (data.length > JS_MAX_BYTES) return -1;
  bytes.set(data);
  return data.length;
}

function digestFirstWord(length: number): number {
  // Padding: 0x80, zeros to 56 mod 64, then the bit length (64-bit little-endian).
  const padded = (((length + 8) >>> 6) + 1) << 6;
  bytes[length] = 0x80;
  bytes.fill(0, length + 1, padded - 8);
  view.setUint32(padded - 8, (length << 3) >>> 0, true);
  view.setUint32(padded - 4, Math.floor(length / 0x20000000), true);

  let a0 = 0x67452301;
  let b0 = 0xefcdab89 | 0;
  let c0 = 0x98badcfe | 0;
  let d0 = 0x10325476;
  for (let offset = 0; offset < padded; offset += 64) {
    for (let w = 0; w < 16; w++) words[w] = view.getInt32(offset + w * 4, true);
    let a = a0;
    let b = b0;
    let c = c0;
    let d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number;
      if (i < 16) f = (b & c) | (~b & d);
      else if (i < 32) f = (d & b) | (~d & c);
      else if (i < 48) f = b ^ c ^ d;
      else f = c ^ (b | ~d);
      const sum = (a + f + K[i]! + words[G[i]!]!) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << S[i]!) | (sum >>> (32 - S[i]!)))) | 0;
    }
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  return a0 >>> 0;
}
