/**
 * A client's own order on a moving key during a migration (docs/scaling.md),
 * on real servers: a read issued behind this client's write of the same key
 * (a pipeline's SET then GET, or two calls in one turn) sees that write, as it
 * would on one connection without a migration. Found by the chaos soak's
 * --grow: in warm, the read went to the new owner before the write's
 * invalidation reached it and answered the value the write replaced.
 */
import { describe, expect, it } from "vitest";
import { fleetForFile } from "../support/fleet.js";
import { migrating, owners } from "../support/migration.js";

const files = fleetForFile(4);
const fleet = new Proxy({} as typeof files.fleet, { get: (_, name) => Reflect.get(files.fleet, name) });

describe("a read behind this client's write of a moving key", () => {
  it.each(["warm", "dual", "switch"] as const)("in %s, a pipeline's GET after its SET of the key answers that SET (5 rounds)", async (phase) => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const key = Array.from({ length: 400 }, (_, i) => `order:${phase}:${i}`).find((k) => where.old(k) !== where.next(k))!;
    const { client } = migrating(fleet, "slots", phase);
    await client.ready();
    // In warm, a write copies its value to the new owner: the value a stale read there would answer.
    await client.set(key, "v0");
    for (let round = 1; round <= 5; round++) {
      const [set, got] = (await client.pipeline().set(key, `v${round}`).get(key).exec())!;
      expect(set).toEqual([null, "OK"]);
      expect(got).toEqual([null, `v${round}`]);
    }
    await client.quit();
  });

  it("in warm, a GET issued in the same turn as a SET of the key, behind it, answers that SET", async () => {
    await fleet.flushAll();
    const where = owners(fleet, "slots");
    const key = Array.from({ length: 400 }, (_, i) => `order:turn:${i}`).find((k) => where.old(k) !== where.next(k))!;
    const { client } = migrating(fleet, "slots", "warm");
    await client.ready();
    await client.set(key, "v0");
    for (let round = 1; round <= 5; round++) {
      const [, got] = await Promise.all([client.set(key, `v${round}`), client.get(key)]);
      expect(got).toBe(`v${round}`);
    }
    await client.quit();
  });
});
