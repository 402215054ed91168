/** The second half of the simulation's 2,000 seeds, and the seeds that once found a bug (see simulation.test.ts). */
import { describe, it } from "vitest";
import { REGRESSIONS } from "../sim/regressions.js";
import { expectSeedsPass, range, UNIT_STEPS } from "../sim/seeds.js";

describe("deterministic simulation: seeds 1001-2000", () => {
  it("every call settles once, typed, in time, with a reply its key held; nothing leaks", async () => {
    await expectSeedsPass(range(1001, 1000));
  }, 120_000);

  it("the seeds that found bugs, at their own step counts (those inside 1-2000 at the unit steps run above)", async () => {
    for (const { seed, steps } of REGRESSIONS) {
      if (steps === UNIT_STEPS && seed >= 1 && seed <= 2000) continue;
      await expectSeedsPass([seed], steps);
    }
  }, 60_000);
});
