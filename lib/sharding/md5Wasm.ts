/**
 * MD5's block function as a tiny WebAssembly module, emitted here byte by
 * byte (no build step, no binary blob). WASM has native 32-bit add and
 * rotate, so the 64 steps cost a fraction of the same code in JS, where
 * every add risks leaving int32 range. Checked against node:crypto by tests.
 *
 * Exports `memory` (one page; the message goes at offset 0) and
 * `digest(length) -> i32`: pads the message in place, runs MD5 over it and
 * returns the first state word, i.e. digest bytes 0..3 little-endian.
 */

const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);
const G = Array.from({ length: 64 }, (_, i) =>
  i < 16 ? i : i < 32 ? (5 * i + 1) % 16 : i < 48 ? (3 * i + 5) % 16 : (7 * i) % 16,
);
const INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476];

const op = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b, void: 0x40, i32: 0x7f,
  get: 0x20, set: 0x21, tee: 0x22, load: 0x28, store: 0x36, store8: 0x3a, const: 0x41, eqz: 0x45,
  add: 0x6a, sub: 0x6b, and: 0x71, or: 0x72, xor: 0x73, shl: 0x74, shrU: 0x76, rotl: 0x77,
  /** memory.fill (bulk memory): 0xfc 11, memory index 0 */
  fill: [0xfc, 11, 0],
};

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

// Locals: 0 = length (param), 1..4 = a b c d, 5..8 = the chained state,
// 9 = block offset, 10 = padded length, then the block count.
const LENGTH = 0;
const A = [1, 2, 3, 4];
const STATE = 5;
const OFFSET = 9;
const PADDED = 10;
const BLOCKS = 11;

function body(): number[] {
  const code: number[] = [];
  const emit = (...bytes: number[]) => code.push(...bytes);
  const not = (local: number) => [op.get, local, op.const, ...sleb(-1), op.xor];
  // padded = ((length + 8) / 64 + 1) * 64; message, 0x80, zeros, then the bit length (64-bit LE).
  emit(op.get, LENGTH, op.const, 8, op.add, op.const, 6, op.shrU, op.const, 1, op.add, op.const, 6, op.shl, op.set, PADDED);
  emit(op.get, LENGTH, op.const, ...sleb(0x80), op.store8, 0, 0);
  emit(op.get, LENGTH, op.const, 1, op.add, op.const, 0, op.get, PADDED, op.get, LENGTH, op.sub, op.const, 9, op.sub, ...op.fill);
  emit(op.get, PADDED, op.const, 8, op.sub, op.get, LENGTH, op.const, 3, op.shl, op.store, 2, 0);
  emit(op.get, PADDED, op.const, 4, op.sub, op.const, 0, op.store, 2, 0);
  emit(op.get, PADDED, op.const, 6, op.shrU, op.set, BLOCKS);
  INIT.forEach((value, i) => emit(op.const, ...sleb(value), op.set, STATE + i));
  emit(op.block, op.void, op.loop, op.void);
  emit(op.get, BLOCKS, op.eqz, op.brIf, 1);
  for (let i = 0; i < 4; i++) emit(op.get, STATE + i, op.set, A[i]!);
  for (let i = 0; i < 64; i++) {
    // Registers rotate instead of moving: step i writes the one playing "a".
    const [a, b, c, d] = [0, 1, 2, 3].map((r) => A[(r - (i % 4) + 4) % 4]!) as [number, number, number, number];
    emit(op.get, b, op.get, a);
    if (i < 16) emit(op.get, b, op.get, c, op.and, ...not(b), op.get, d, op.and, op.or);
    else if (i < 32) emit(op.get, d, op.get, b, op.and, ...not(d), op.get, c, op.and, op.or);
    else if (i < 48) emit(op.get, b, op.get, c, op.xor, op.get, d, op.xor);
    else emit(op.get, c, op.get, b, ...not(d), op.or, op.xor);
    emit(op.add, op.get, OFFSET, op.load, 2, ...uleb(4 * G[i]!), op.add);
    emit(op.const, ...sleb(K[i]!), op.add, op.const, S[(i >> 4) * 4 + (i % 4)]!, op.rotl, op.add, op.set, a);
  }
  for (let i = 0; i < 4; i++) emit(op.get, STATE + i, op.get, A[i]!, op.add, op.set, STATE + i);
  emit(op.get, OFFSET, op.const, ...sleb(64), op.add, op.set, OFFSET);
  emit(op.get, BLOCKS, op.const, 1, op.sub, op.set, BLOCKS);
  emit(op.br, 0, op.end, op.end);
  emit(op.get, STATE, op.end);
  return [1, 11, op.i32, ...code]; // one local declaration: 11 x i32
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(text: string): number[] {
  return [...uleb(text.length), ...Buffer.from(text, "ascii")];
}

export interface Md5Module {
  readonly memory: { readonly buffer: ArrayBuffer };
  digest(length: number): number;
}

/** The slice of the WebAssembly API used here (Node 20's types do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

/** The module, or undefined where WebAssembly is unavailable (e.g. node --jitless). */
export function instantiateMd5(): Md5Module | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api) return undefined;
  const code = body();
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 1, op.i32, 1, op.i32]), // type: (i32) -> i32
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0, 1]), // memory: min one page
    ...section(7, [2, ...name("memory"), 2, 0, ...name("digest"), 0, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
  return new api.Instance(new api.Module(bytes)).exports as Md5Module;
}
