export { ShardedClient } from "./client/ShardedClient.js";
export type { ShardisEvents, NodeEvent } from "./client/ShardedClient.js";
export { ShardHandle } from "./client/ShardHandle.js";
export { CallScope } from "./client/CallScope.js";
export type { CallSettings } from "./config/callOptions.js";
export type { BreakerState } from "./resilience/breaker.js";
export type { ShardedPipeline, PipelineOptions } from "./pipeline/Pipeline.js";
export type { ShardedTransaction, PipelineResult } from "./pipeline/Transaction.js";
export type { DedicatedConnection } from "./client/DedicatedConnection.js";
export type { MessageHandler, PatternHandler, SubscriptionState } from "./pubsub/PubSub.js";
export type { ScanStreamOptions } from "./scan/scanStream.js";
export type { ScriptDefinition } from "./commands/script.js";
export type { ConnectionTarget } from "./client/ShardedClient.js";
export { keySlot, SLOT_COUNT } from "./sharding/keySlot.js";
export { Cache, type Loader, type LoaderContext, type ManyLoader, type CacheGetOptions, type CacheSetOptions } from "./cache/Cache.js";
export type { CacheOptions, CacheSerializer } from "./config/cache.js";
export type { CacheKey } from "./cache/store.js";
export type { TopologySnapshot, ShardView, NodeView } from "./topology/Topology.js";
export type { IoredisSentinelOptions } from "./config/ioredisSentinelTypes.js";
export type {
  ShardedClientOptions,
  ShardConfig,
  ClusterOptions,
  ShardingOptions,
  SlotShardingOptions,
  KetamaShardingOptions,
  SlotRange,
  RedisConnectionOptions,
  Credentials,
  CredentialsProvider,
  PoolOptions,
  BreakerOptions,
  RetryOptions,
  FallbackFunction,
  AddressInput,
  Address,
  ReadPolicy,
  WriteConcern,
  NatMap,
  SentinelConnectionOptions,
  MetricsOptions,
  MetricsRegistry,
  TracingOptions,
  HotKeyOptions,
  NearCacheOptions,
  MigrationOptions,
  ReconfigureOptions,
} from "./config/types.js";
export type { MigrationStatus } from "./migration/Migrator.js";
export type { CopyAllOptions, CopyAllProgress, CopyAllResult, MigrationControl } from "./migration/copier.js";
export type { Phase as MigrationPhase } from "./migration/clock.js";
export type { HotKey, ShardLoad } from "./hotkeys/HotKeys.js";
export type { NearCacheStats, NearCacheShardStats } from "./metrics/nearCacheStats.js";
export type { ShardisStats, ShardStats, NodeStats, CommandStats, LatencyStats, CacheStats } from "./metrics/stats.js";
export type { Outcome } from "./metrics/meters.js";
export { CALL_CHANNEL, COMMAND_CHANNEL, type CallTrace, type CommandTrace, type TraceEvent, type CacheOutcome } from "./metrics/tracing.js";
export { DEFAULTS } from "./config/defaults.js";
export * from "./errors.js";
