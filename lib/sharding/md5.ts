/**
 * The first 32 bits of MD5 (little-endian): all ketama needs of a key's
 * digest, on the hot path of every ketama command. Keys up to 512 bytes are
 * hashed by a small WebAssembly block function (md5Wasm.ts), several times
 * cheaper than a call into node:crypto; longer keys, or a runtime without
 * WebAssembly, use node:crypto. Checked against node:crypto by tests.
 */
import { createHash, hash as oneShotHash } from "node:crypto";
import { instantiateMd5 } from "./md5Wasm.js";

const WASM_MAX_BYTES = 512;

const nativeMd5: (data: string | Buffer) => Buffer =
  typeof oneShotHash === "function"
    ? (data) => oneShotHash("md5", data, "buffer")
    : (data) => createHash("md5").update(data).digest();

const wasm = instantiateMd5();
const memory = wasm ? new Uint8Array(wasm.memory.buffer) : new Uint8Array(0);

/** md5(data) digest bytes 0..3 as a little-endian uint32 (twemproxy hash_md5). */
export function md5First32(data: string | Uint8Array): number {
  const length = wasm ? copyIn(data) : -1;
  if (length < 0) {
    const input = typeof data === "string" ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return nativeMd5(input).readUInt32LE(0);
  }
  return wasm!.digest(length) >>> 0;
}

/** Puts the message at offset 0; -1 when it is too long or a non-ASCII string. */
function copyIn(data: string | Uint8Array): number {
  if (data.length > WASM_MAX_BYTES) return -1;
  if (typeof data !== "string") {
    memory.set(data);
    return data.length;
  }
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c >= 0x80) return -1;
    memory[i] = c;
  }
  return data.length;
}
