/**
 * Seeds that found a bug: with the bug put back, each of these fails (the
 * seed and step count, for this version of the simulation). The unit share
 * runs seeds 1-2000 at UNIT_STEPS already; those listed here with other
 * steps run on their own (simulation2.test.ts). Each bug also has a test of
 * its own against real servers or a fake connection, named in the commit.
 */
export interface Regression {
  readonly seed: number;
  readonly steps: number;
  readonly bug: string;
}

export const REGRESSIONS: readonly Regression[] = [
  { seed: 379, steps: 60, bug: "a command handed over with an earlier deadline than its new lane's last waited behind later ones (lib/connection/deadlines.ts)" },
  { seed: 849, steps: 24, bug: "the same, at the unit share's step count" },
  { seed: 655, steps: 60, bug: "a script's EVAL after NOSCRIPT got a deadline of its own, not what was left (lib/exec/runScript.ts)" },
  { seed: 775, steps: 60, bug: "the same" },
  { seed: 26, steps: 24, bug: "the wait for a pooled connection (write concern, blocking) was not counted against the call's deadline (lib/exec/pooled.ts)" },
  { seed: 292, steps: 24, bug: "a MULTI refused by the ACL ran the block's commands on their own and answered 'EXEC without MULTI' (MultiGuard)" },
  { seed: 635, steps: 24, bug: "an ASK hand-over's ASKING rejected unhandled when it expired (NodeClient.adopt)" },
  { seed: 7, steps: 24, bug: "over a cluster a pattern listened on every master, so each message arrived once per master (lib/pubsub/PubSub.ts)" },
  { seed: 8, steps: 24, bug: "over a cluster, subscribing before the slot map was read failed instead of waiting for it" },
  { seed: 659857, steps: 60, bug: "the checker (not the client): a value set in the same fake ms as a call's start, then overwritten in that ms, counted as never held (test/sim/history.ts)" },
  { seed: 502501, steps: 60, bug: "a cluster transaction's relocation waited for a map re-read past the block's deadline (lib/util/within.ts)" },
];
