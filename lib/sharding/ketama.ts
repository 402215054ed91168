/**
 * twemproxy's ketama (nc_ketama.c) with `hash: md5`: each shard gets
 * 160 * weight share points named "<shard name>-<i>", and a key goes to the
 * first point at or after md5(key). Placement matches a nutcracker pool whose
 * servers are named by shard name, so a fleet can move over with a warm cache.
 */
import { createHash } from "node:crypto";
import { md5First32 } from "./md5.js";

const POINTS_PER_SERVER = 160;
const POINTS_PER_HASH = 4;

export interface Continuum {
  /** Sorted point values. */
  readonly values: Uint32Array;
  /** Shard index owning each point. */
  readonly owners: Uint16Array;
}

/** Points per shard exactly as twemproxy computes them, in float32 (doubles give 156 instead of 160 for 7 equal shards). */
export function twemproxyPointCount(weight: number, totalWeight: number, shardCount: number): number {
  const f = Math.fround;
  const pct = f(f(weight) / f(totalWeight));
  const perServer = f(f(f(pct * POINTS_PER_SERVER) / 4) * f(shardCount));
  return Math.floor(f(perServer + 0.0000000001)) * POINTS_PER_HASH;
}

/** Every shard's points, sorted: md5("<name>-<i>") gives four little-endian points per i (ketama_hash). */
export function buildContinuum(shards: ReadonlyArray<{ name: string; weight: number }>): Continuum {
  const total = shards.reduce((sum, s) => sum + s.weight, 0);
  const pairs: Array<[number, number]> = [];
  shards.forEach((shard, index) => {
    const hashes = twemproxyPointCount(shard.weight, total, shards.length) / POINTS_PER_HASH;
    for (let i = 0; i < hashes; i++) {
      const digest = createHash("md5").update(`${shard.name}-${i}`).digest();
      for (let x = 0; x < POINTS_PER_HASH; x++) pairs.push([digest.readUInt32LE(x * 4), index]);
    }
  });
  pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return {
    values: Uint32Array.from(pairs, (p) => p[0]),
    owners: Uint16Array.from(pairs, (p) => p[1]),
  };
}

/** Index of the first point >= hash, wrapping to 0 (ketama_dispatch). */
export function pointFor(values: Uint32Array, hash: number): number {
  let left = 0;
  let right = values.length;
  while (left < right) {
    const middle = (left + right) >>> 1;
    if (values[middle]! < hash) left = middle + 1;
    else right = middle;
  }
  return right === values.length ? 0 : right;
}

/** Hash bits that pick a bucket: 4096 buckets of 2^20 hash values each. */
export const BUCKET_SHIFT = 20;

/** Bucket table entry for "this bucket holds a point: search". Shard indexes stay below it. */
export const SEARCH = 0xffff;

/**
 * Owner per bucket of the hash space, or SEARCH for the few buckets that contain
 * a point. For a hash in a bucket without points, the first point at or after
 * it is the first point after the bucket, so one table read replaces the
 * binary search for about nine in ten keys (a few hundred points over 4096
 * buckets); the search's chain of dependent reads is what costs on a busy,
 * cache-cold hot path.
 */
export function bucketTable(values: Uint32Array, owners: Uint16Array): Uint16Array {
  // 2-byte entries keep the table at 8 KiB, small enough to stay in a busy core's cache.
  const table = new Uint16Array(2 ** (32 - BUCKET_SHIFT));
  for (let bucket = 0; bucket < table.length; bucket++) {
    const start = bucket * 2 ** BUCKET_SHIFT;
    const first = pointFor(values, start);
    const inside = values[first]! >= start && values[first]! < start + 2 ** BUCKET_SHIFT;
    table[bucket] = inside ? SEARCH : owners[first]!;
  }
  return table;
}

/** twemproxy hash_md5: the first four digest bytes, little-endian. */
export function md5Hash(key: string | Buffer): number {
  return md5First32(key);
}

/** The part of a key that is hashed, twemproxy's hash_tag rule. */
export function hashTagged(key: string | Buffer, tag: string | false): string | Buffer {
  if (tag === false) return key;
  if (typeof key === "string") {
    const open = key.indexOf(tag[0]!);
    const close = open === -1 ? -1 : key.indexOf(tag[1]!, open + 1);
    return close > open + 1 ? key.slice(open + 1, close) : key;
  }
  const open = key.indexOf(tag.charCodeAt(0));
  const close = open === -1 ? -1 : key.indexOf(tag.charCodeAt(1), open + 1);
  return close > open + 1 ? key.subarray(open + 1, close) : key;
}
