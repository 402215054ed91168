/**
 * Redis Cluster's key -> slot function: CRC16-CCITT (XMODEM) of the key, or of
 * its hash tag, modulo 16384. Strings hash as their UTF-8 bytes, exactly as
 * ioredis writes them to the socket.
 */

export const SLOT_COUNT = 16384;

const TABLE = buildTable();

function buildTable(): Uint16Array {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
}

const OPEN = 0x7b; // "{"
const CLOSE = 0x7d; // "}"

/** CRC16 of bytes[start, end). */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/** The slot of a key: 0..16383. */
export function keySlot(key: string | Buffer): number {
  return typeof key === "string" ? stringSlot(key) : bufferSlot(key);
}

function bufferSlot(key: Uint8Array): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf(OPEN);
  if (open !== -1) {
    const close = key.indexOf(CLOSE, open + 1);
    // An empty tag ("{}") does not count: the whole key is hashed.
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  return crc16(key, start, end) & (SLOT_COUNT - 1);
}

function stringSlot(key: string): number {
  let start = 0;
  let end = key.length;
  // Braces are ASCII, and UTF-8 never uses ASCII bytes inside a multi-byte
  // sequence, so finding them among UTF-16 code units finds the same bytes.
  const open = key.indexOf("{");
  if (open !== -1) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return crc16(Buffer.from(key.slice(start, end), "utf8")) & (SLOT_COUNT - 1);
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ c) & 0xff]!;
  }
  return crc & (SLOT_COUNT - 1);
}
