import { SLOT_COUNT } from "./keySlot.js";

/** An inclusive range of slots. */
export type SlotRange = readonly [start: number, end: number];

const LAST_SLOT = SLOT_COUNT - 1;

/**
 * Contiguous ranges in shard order, sized by weight. With equal weights this
 * is the split `redis-cli --cluster create` makes, float32 rounding included
 * (3 shards: 0-5460, 5461-10922, 10923-16383).
 */
export function defaultSlotRanges(weights: readonly number[]): SlotRange[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const ranges: SlotRange[] = [];
  let first = 0;
  let cursor = 0;
  weights.forEach((weight, i) => {
    const share = Math.fround((SLOT_COUNT * weight) / total);
    let last = Math.round(Math.fround(Math.fround(cursor + share) - 1));
    if (last > LAST_SLOT || i === weights.length - 1) last = LAST_SLOT;
    if (last < first) last = first;
    ranges.push([first, last]);
    first = last + 1;
    cursor = Math.fround(cursor + share);
  });
  return ranges;
}

/** slot -> shard index, from one list of ranges per shard (already validated). */
export function slotOwnerTable(rangesByShard: ReadonlyArray<readonly SlotRange[]>): Uint16Array {
  const owners = new Uint16Array(SLOT_COUNT);
  rangesByShard.forEach((ranges, shard) => {
    for (const [start, end] of ranges) owners.fill(shard, start, end + 1);
  });
  return owners;
}

/**
 * Checks an explicit { shardName: [[start, end], ...] } map and returns every
 * problem found (unknown shard, bad range, overlap, gap, idle shard) plus the
 * ranges in shard order when there are none.
 */
export function checkSlotMap(
  map: unknown,
  shardNames: readonly string[],
): { problems: string[]; ranges?: SlotRange[][] } {
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    return { problems: ["sharding.slots must be an object of { shardName: [[start, end], ...] }"] };
  }
  const problems: string[] = [];
  const owner = new Int32Array(SLOT_COUNT).fill(-1);
  const overlaps = new Map<string, Array<[number, number]>>();
  const ranges: SlotRange[][] = shardNames.map(() => []);

  for (const [name, list] of Object.entries(map)) {
    const shard = shardNames.indexOf(name);
    if (shard === -1) {
      problems.push(`sharding.slots names unknown shard '${name}'`);
      continue;
    }
    if (!Array.isArray(list)) {
      problems.push(`sharding.slots.${name} must be an array of [start, end] ranges`);
      continue;
    }
    list.forEach((range: unknown, i) => {
      const where = `sharding.slots.${name}[${i}]`;
      if (!Array.isArray(range) || range.length !== 2 || !range.every(isSlot)) {
        problems.push(`${where} must be [start, end] with integers from 0 to ${LAST_SLOT}`);
        return;
      }
      const [start, end] = range as [number, number];
      if (start > end) {
        problems.push(`${where} starts after it ends (${start} > ${end})`);
        return;
      }
      ranges[shard]!.push([start, end]);
      for (let slot = start; slot <= end; slot++) {
        const previous = owner[slot]!;
        if (previous === -1 || previous === shard) {
          owner[slot] = shard;
          continue;
        }
        const pair = `${shardNames[previous]} and ${name}`;
        addToRanges(overlaps.get(pair) ?? overlaps.set(pair, []).get(pair)!, slot);
      }
    });
  }

  for (const [pair, slots] of overlaps) problems.push(`slots ${formatRanges(slots)} are assigned to both ${pair}`);
  const gaps: Array<[number, number]> = [];
  owner.forEach((shard, slot) => shard === -1 && addToRanges(gaps, slot));
  if (gaps.length) problems.push(`slots ${formatRanges(gaps)} are not assigned to any shard`);
  shardNames.forEach((name, shard) => {
    if (ranges[shard]!.length === 0 && !problems.some((p) => p.includes(`sharding.slots.${name}`))) {
      problems.push(`shard '${name}' owns no slots in sharding.slots`);
    }
  });
  return problems.length ? { problems } : { problems, ranges };
}

function isSlot(value: unknown): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= LAST_SLOT;
}

function addToRanges(ranges: Array<[number, number]>, slot: number): void {
  const last = ranges[ranges.length - 1];
  if (last && last[1] === slot - 1) last[1] = slot;
  else ranges.push([slot, slot]);
}

function formatRanges(ranges: Array<[number, number]>): string {
  const shown = ranges.slice(0, 5).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  return ranges.length > 5 ? `${shown.join(", ")} and ${ranges.length - 5} more range(s)` : shown.join(", ");
}
