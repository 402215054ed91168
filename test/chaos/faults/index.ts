/** The faults each topology draws from, by weight. */
import type { TopologyKind } from "../topology.js";
import { acl } from "./acl.js";
import { clientKill, proxy } from "./connections.js";
import { clusterFailover, reshard, sentinelFailover } from "./failover.js";
import { debugSleep, kill, stop } from "./process.js";
import type { FaultMaker } from "./types.js";

export type { FaultContext, FaultPlan } from "./types.js";

const COMMON: Array<[number, FaultMaker]> = [[3, kill], [3, stop], [3, clientKill], [2, debugSleep], [2, acl]];

export const FAULTS: Record<TopologyKind, Array<[number, FaultMaker]>> = {
  plain: [...COMMON, [5, proxy]],
  sentinel: [...COMMON, [2, sentinelFailover]],
  cluster: [...COMMON, [3, reshard], [1, clusterFailover]],
};
