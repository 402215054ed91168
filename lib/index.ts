export { ShardedClient } from "./ShardedClient.js";
export type { ShardisEvents, NodeEvent } from "./ShardedClient.js";
export { ShardHandle } from "./ShardHandle.js";
export { keySlot, SLOT_COUNT } from "./sharding/keySlot.js";
export type { TopologySnapshot, ShardView } from "./topology/Topology.js";
export type {
  ShardedClientOptions,
  ShardConfig,
  ShardingOptions,
  SlotShardingOptions,
  KetamaShardingOptions,
  SlotRange,
  RedisConnectionOptions,
  AddressInput,
  Address,
} from "./config/types.js";
export { DEFAULTS } from "./config/defaults.js";
export * from "./errors.js";
