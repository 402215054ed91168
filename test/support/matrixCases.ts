/**
 * The ioredis compatibility matrix: calls that cover what ioredis's own
 * functional tests cover (reply shapes of every command family, Buffer
 * variants, transformers, callbacks, pipelines and transactions, Command
 * objects, scans, scripts and functions, options, keyless administration),
 * each run on a real ioredis client and on a ShardedClient from an empty
 * database, their outcomes compared. Every key carries the hash tag {t}, so
 * the same cases run on a three-shard client too.
 */
import { Command } from "ioredis";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;
/** Makes another client of the same kind (ioredis, or the shim) with ioredis options; closed by the matrix. */
export type Make = (options?: Record<string, unknown>) => Loose;
export type Case = readonly [name: string, run: (r: Loose, make: Make) => Promise<unknown>];

const cb = (run: (done: (error: Error | null, value?: unknown) => void) => void): Promise<unknown> =>
  new Promise((resolve) => run((error, value) => resolve(error ? { callbackError: error.message } : { callback: value })));
const sorted = <T>(values: T[]): T[] => [...values].sort();

export const CASES: Case[] = [
  // Strings
  ["set/get", async (r) => [await r.set("{t}a", "1"), await r.get("{t}a"), await r.get("{t}none")]],
  ["set EX/NX/GET options", async (r) => [await r.set("{t}a", "1", "EX", 100), await r.ttl("{t}a"), await r.set("{t}a", "2", "NX"), await r.set("{t}a", "3", "GET")]],
  ["setnx/setex/psetex", async (r) => [await r.setnx("{t}a", "1"), await r.setnx("{t}a", "2"), await r.setex("{t}b", 10, "x"), await r.psetex("{t}c", 10000, "y"), (await r.pttl("{t}c")) > 0]],
  ["mset/mget/msetnx", async (r) => [await r.mset("{t}a", "1", "{t}b", "2"), await r.mget("{t}a", "{t}b", "{t}c"), await r.msetnx("{t}a", "9", "{t}d", "4"), await r.mset({ "{t}x": "1", "{t}y": "2" }), await r.mget(["{t}x", "{t}y"])]],
  ["incr family", async (r) => [await r.incr("{t}n"), await r.incrby("{t}n", 5), await r.decr("{t}n"), await r.decrby("{t}n", 2), await r.incrbyfloat("{t}n", 1.5)]],
  ["append/strlen/getrange/setrange", async (r) => [await r.append("{t}s", "hello"), await r.strlen("{t}s"), await r.getrange("{t}s", 1, 3), await r.setrange("{t}s", 0, "J"), await r.get("{t}s")]],
  ["getdel/getex/getset", async (r) => [await r.set("{t}a", "1"), await r.getset("{t}a", "2"), await r.getex("{t}a", "EX", 50), await r.ttl("{t}a"), await r.getdel("{t}a"), await r.exists("{t}a")]],
  ["lcs", async (r) => [await r.mset("{t}a", "ohmytext", "{t}b", "mynewtext"), await r.lcs("{t}a", "{t}b"), await r.lcs("{t}a", "{t}b", "LEN")]],
  ["getBuffer/setBuffer binary", async (r) => [await r.set("{t}b", Buffer.from([0, 255, 1])), await r.getBuffer("{t}b"), await r.getBuffer("{t}none")]],
  ["wrong type error", async (r) => [await r.lpush("{t}l", "x"), await r.get("{t}l")]],
  ["wrong arity error", async (r) => r.call("get", "{t}a", "{t}b")],
  // Hashes
  ["hset object/hgetall object", async (r) => [await r.hset("{t}h", { a: "1", b: "2" }), await r.hgetall("{t}h"), await r.hgetall("{t}none")]],
  ["hset Map/hmset/hmget", async (r) => [await r.hset("{t}h", new Map([["a", "1"]])), await r.hmset("{t}h", "b", "2", "c", "3"), await r.hmget("{t}h", "a", "c", "z")]],
  ["hincrby/hincrbyfloat/hsetnx/hexists", async (r) => [await r.hincrby("{t}h", "n", 2), await r.hincrbyfloat("{t}h", "f", 0.5), await r.hsetnx("{t}h", "n", "9"), await r.hexists("{t}h", "n"), await r.hexists("{t}h", "z")]],
  ["hkeys/hvals/hlen/hdel/hstrlen", async (r) => [await r.hset("{t}h", "a", "xx", "b", "y"), sorted(await r.hkeys("{t}h")), sorted(await r.hvals("{t}h")), await r.hlen("{t}h"), await r.hstrlen("{t}h", "a"), await r.hdel("{t}h", "a", "z")]],
  ["hgetallBuffer", async (r) => [await r.hset("{t}h", "a", Buffer.from([1, 2])), await r.hgetallBuffer("{t}h")]],
  ["hrandfield/hscan", async (r) => [await r.hset("{t}h", "only", "1"), await r.hrandfield("{t}h"), await r.hrandfield("{t}h", 1, "WITHVALUES"), await r.hscan("{t}h", 0)]],
  // Lists
  ["lpush/rpush/lrange", async (r) => [await r.lpush("{t}l", "a", "b"), await r.rpush("{t}l", "c"), await r.lrange("{t}l", 0, -1), await r.lrangeBuffer("{t}l", 0, 0)]],
  ["lpop/rpop count", async (r) => [await r.rpush("{t}l", "1", "2", "3", "4"), await r.lpop("{t}l"), await r.lpop("{t}l", 2), await r.rpop("{t}l"), await r.rpop("{t}l")]],
  ["lindex/linsert/llen/lrem/lset/ltrim", async (r) => [await r.rpush("{t}l", "a", "b", "a"), await r.lindex("{t}l", 1), await r.linsert("{t}l", "BEFORE", "b", "x"), await r.llen("{t}l"), await r.lrem("{t}l", 0, "a"), await r.lset("{t}l", 0, "z"), await r.ltrim("{t}l", 0, 0), await r.lrange("{t}l", 0, -1)]],
  ["lpos/lmove/rpoplpush/lmpop", async (r) => [await r.rpush("{t}l", "a", "b", "c", "b"), await r.lpos("{t}l", "b"), await r.lpos("{t}l", "b", "COUNT", 0), await r.lmove("{t}l", "{t}m", "LEFT", "RIGHT"), await r.rpoplpush("{t}l", "{t}m"), await r.lmpop(2, "{t}none", "{t}l", "LEFT", "COUNT", 2), await r.lrange("{t}m", 0, -1)]],
  ["blpop/brpop/blmove", async (r) => [await r.rpush("{t}l", "a", "b"), await r.blpop("{t}l", 1), await r.brpop("{t}none", "{t}l", 1), await r.brpop("{t}none", 0.01), await r.blmove("{t}none", "{t}m", "LEFT", "LEFT", 0.01)]],
  ["bzpopmin/bzmpop/blmpop", async (r) => [await r.zadd("{t}z", 1, "a", 2, "b"), await r.bzpopmin("{t}z", 1), await r.bzmpop(1, 1, "{t}z", "MAX"), await r.blmpop(0.01, 1, "{t}none", "LEFT")]],
  // Sets
  ["sadd/smembers/sismember/smismember/scard", async (r) => [await r.sadd("{t}s", "a", "b", "a"), sorted(await r.smembers("{t}s")), await r.sismember("{t}s", "a"), await r.smismember("{t}s", "a", "z"), await r.scard("{t}s")]],
  ["sinter/sunion/sdiff/stores/sintercard", async (r) => [await r.sadd("{t}a", 1, 2, 3), await r.sadd("{t}b", 2, 3, 4), sorted(await r.sinter("{t}a", "{t}b")), sorted(await r.sunion("{t}a", "{t}b")), await r.sdiff("{t}a", "{t}b"), await r.sinterstore("{t}c", "{t}a", "{t}b"), await r.sunionstore("{t}d", "{t}a", "{t}b"), await r.sdiffstore("{t}e", "{t}a", "{t}b"), await r.sintercard(2, "{t}a", "{t}b")]],
  ["srem/smove/spop/srandmember", async (r) => [await r.sadd("{t}s", "a", "b"), await r.srem("{t}s", "a", "z"), await r.smove("{t}s", "{t}d", "b"), await r.spop("{t}d"), await r.spop("{t}none", 2), await r.srandmember("{t}none")]],
  ["sscan", async (r) => [await r.sadd("{t}s", "a"), await r.sscan("{t}s", 0, "MATCH", "*")]],
  // Sorted sets
  ["zadd/zrange/WITHSCORES", async (r) => [await r.zadd("{t}z", 1, "a", 2.5, "b"), await r.zrange("{t}z", 0, -1), await r.zrange("{t}z", 0, -1, "WITHSCORES"), await r.zrevrange("{t}z", 0, 0, "WITHSCORES")]],
  ["zadd options (NX, INCR, CH)", async (r) => [await r.zadd("{t}z", 1, "a"), await r.zadd("{t}z", "NX", 5, "a"), await r.zadd("{t}z", "INCR", 2, "a"), await r.zadd("{t}z", "CH", 9, "a", 1, "b")]],
  ["zscore/zincrby/zmscore/zrank/zrevrank/zcard/zcount", async (r) => [await r.zadd("{t}z", 1, "a", 2, "b"), await r.zscore("{t}z", "a"), await r.zincrby("{t}z", 1.5, "a"), await r.zmscore("{t}z", "a", "z"), await r.zrank("{t}z", "b"), await r.zrevrank("{t}z", "b"), await r.zcard("{t}z"), await r.zcount("{t}z", "-inf", "(2.5")]],
  ["zrangebyscore/BYSCORE LIMIT/zrevrangebyscore", async (r) => [await r.zadd("{t}z", 1, "a", 2, "b", 3, "c"), await r.zrangebyscore("{t}z", 1, 2, "WITHSCORES"), await r.zrange("{t}z", 1, 3, "BYSCORE", "LIMIT", 1, 1), await r.zrevrangebyscore("{t}z", "+inf", 2)]],
  ["zrem/zpopmin/zpopmax/zremrangebyrank/zremrangebyscore", async (r) => [await r.zadd("{t}z", 1, "a", 2, "b", 3, "c", 4, "d"), await r.zrem("{t}z", "a"), await r.zpopmin("{t}z"), await r.zpopmax("{t}z", 1), await r.zremrangebyrank("{t}z", 0, 0), await r.zremrangebyscore("{t}z", 0, 10)]],
  ["zunionstore/zinterstore/zunion/zinter/zdiff", async (r) => [await r.zadd("{t}a", 1, "x", 2, "y"), await r.zadd("{t}b", 3, "y"), await r.zunionstore("{t}c", 2, "{t}a", "{t}b"), await r.zinterstore("{t}d", 2, "{t}a", "{t}b", "WEIGHTS", 1, 2), await r.zunion(2, "{t}a", "{t}b", "WITHSCORES"), await r.zinter(2, "{t}a", "{t}b"), await r.zdiff(2, "{t}a", "{t}b")]],
  ["zlexcount/zrangebylex/zrandmember/zscan", async (r) => [await r.zadd("{t}z", 0, "a", 0, "b", 0, "c"), await r.zlexcount("{t}z", "[a", "[b"), await r.zrangebylex("{t}z", "-", "+", "LIMIT", 0, 2), await r.zrandmember("{t}none"), await r.zscan("{t}z", 0)]],
  ["zrangestore/zmpop", async (r) => [await r.zadd("{t}z", 1, "a", 2, "b"), await r.zrangestore("{t}d", "{t}z", 0, 0), await r.zmpop(1, "{t}z", "MIN", "COUNT", 5)]],
  // Streams
  ["xadd/xrange/xrevrange/xlen", async (r) => [await r.xadd("{t}x", "1-1", "f", "v"), await r.xadd("{t}x", "2-1", "g", "w"), await r.xrange("{t}x", "-", "+"), await r.xrevrange("{t}x", "+", "-", "COUNT", 1), await r.xlen("{t}x")]],
  ["xread/xreadBuffer", async (r) => [await r.xadd("{t}x", "1-1", "f", "v"), await r.xread("COUNT", 5, "STREAMS", "{t}x", "0"), await r.xread("BLOCK", 10, "STREAMS", "{t}x", "$")]],
  ["xgroup/xreadgroup/xack/xpending", async (r) => [await r.xadd("{t}x", "1-1", "f", "v"), await r.xgroup("CREATE", "{t}x", "g", "0"), await r.xreadgroup("GROUP", "g", "c", "COUNT", 1, "STREAMS", "{t}x", ">"), (await r.xpending("{t}x", "g"))[0], await r.xack("{t}x", "g", "1-1")]],
  ["xdel/xtrim/xautoclaim", async (r) => [await r.xadd("{t}x", "1-1", "f", "v"), await r.xadd("{t}x", "2-1", "f", "v"), await r.xdel("{t}x", "1-1"), await r.xtrim("{t}x", "MAXLEN", 0), await r.xgroup("CREATE", "{t}x", "g", "0"), await r.xautoclaim("{t}x", "g", "c", 0, "0")]],
  // Geo
  ["geoadd/geopos/geodist/geohash", async (r) => [await r.geoadd("{t}g", 13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"), await r.geopos("{t}g", "Palermo", "none"), await r.geodist("{t}g", "Palermo", "Catania", "km"), await r.geohash("{t}g", "Palermo")]],
  ["geosearch/georadius", async (r) => [await r.geoadd("{t}g", 13.361389, 38.115556, "Palermo"), await r.geosearch("{t}g", "FROMLONLAT", 15, 37, "BYRADIUS", 200, "km", "ASC", "WITHDIST"), await r.georadius("{t}g", 15, 37, 200, "km", "WITHCOORD")]],
  // Bitmaps, HyperLogLog
  ["setbit/getbit/bitcount/bitpos/bitop", async (r) => [await r.setbit("{t}b", 7, 1), await r.getbit("{t}b", 7), await r.bitcount("{t}b"), await r.bitpos("{t}b", 1), await r.set("{t}c", "a"), await r.bitop("AND", "{t}d", "{t}b", "{t}c"), await r.get("{t}d")]],
  ["bitfield/bitfield_ro", async (r) => [await r.bitfield("{t}b", "SET", "u8", 0, 255, "GET", "u4", 0, "INCRBY", "u8", 0, 1), await r.bitfield_ro("{t}b", "GET", "u8", 0)]],
  ["pfadd/pfcount/pfmerge", async (r) => [await r.pfadd("{t}h", "a", "b"), await r.pfadd("{t}i", "c"), await r.pfcount("{t}h", "{t}i"), await r.pfmerge("{t}j", "{t}h", "{t}i"), await r.pfcount("{t}j")]],
  // Keys
  ["exists/del/unlink/touch", async (r) => [await r.mset("{t}a", 1, "{t}b", 2, "{t}c", 3), await r.exists("{t}a", "{t}b", "{t}z"), await r.del("{t}a", "{t}z"), await r.unlink("{t}b"), await r.touch("{t}c", "{t}z")]],
  ["expire/ttl/pttl/persist/expiretime/type", async (r) => [await r.set("{t}a", 1), await r.expire("{t}a", 100), await r.ttl("{t}a"), await r.persist("{t}a"), await r.ttl("{t}a"), await r.expiretime("{t}a"), await r.type("{t}a"), await r.type("{t}none")]],
  ["rename/renamenx/copy/object encoding", async (r) => [await r.set("{t}a", 1), await r.rename("{t}a", "{t}b"), await r.renamenx("{t}b", "{t}c"), await r.copy("{t}c", "{t}d"), await r.object("ENCODING", "{t}d")]],
  ["dumpBuffer/restore", async (r) => [await r.set("{t}a", "v"), await r.restore("{t}b", 0, await r.dumpBuffer("{t}a")), await r.get("{t}b")]],
  ["sort", async (r) => [await r.rpush("{t}l", 3, 1, 2), await r.sort("{t}l"), await r.sort("{t}l", "DESC", "LIMIT", 0, 2), await r.sort_ro("{t}l", "ALPHA")]],
  // Scripting and functions
  ["eval/evalsha/script load/script exists", async (r) => {
    const sha = await r.script("LOAD", "return {KEYS[1], ARGV[1]}");
    return [await r.eval("return {KEYS[1], ARGV[1], 3}", 1, "{t}k", "v"), await r.evalsha(sha, 1, "{t}k", "w"), await r.script("EXISTS", sha, "0000000000000000000000000000000000000000"), await r.eval_ro("return redis.call('GET', KEYS[1])", 1, "{t}k")];
  }],
  ["eval error", async (r) => r.eval("return redis.call('nosuch')", 1, "{t}k")],
  ["defineCommand with keys, Buffer variant, in pipeline", async (r) => {
    r.defineCommand("echoKeys", { numberOfKeys: 2, lua: "return {KEYS[1], KEYS[2], ARGV[1]}" });
    return [await r.echoKeys("{t}a", "{t}b", "c"), await r.echoKeysBuffer("{t}a", "{t}b", "c"), await r.pipeline().echoKeys("{t}a", "{t}b", "p").exec()];
  }],
  ["defineCommand numberOfKeys from the call", async (r) => {
    r.defineCommand("dynamicKeys", { lua: "return #KEYS .. ':' .. #ARGV" });
    return r.dynamicKeys(2, "{t}a", "{t}b", "x");
  }],
  ["function load/fcall/fcall_ro", async (r) => {
    const lib = "#!lua name=matrix\nredis.register_function{function_name='mget2', callback=function(keys) return redis.call('MGET', keys[1], keys[2]) end, flags={'no-writes'}}";
    const loaded = await r.function("LOAD", "REPLACE", lib);
    await r.mset("{t}a", "1", "{t}b", "2");
    const out = [loaded, await r.fcall("mget2", 2, "{t}a", "{t}b"), await r.fcall_ro("mget2", 2, "{t}a", "{t}b")];
    await r.function("DELETE", "matrix");
    return out;
  }],
  // Transformers and Command objects
  ["call/callBuffer", async (r) => [await r.call("set", "{t}a", "v"), await r.call("GET", ["{t}a"]), await r.callBuffer("get", "{t}a")]],
  ["sendCommand(Command)", async (r) => {
    const command = new Command("set", ["{t}a", "v"], { replyEncoding: "utf8" });
    const sent = await r.sendCommand(command);
    return [sent, await command.promise];
  }],
  ["hgetall via sendCommand is an object", async (r) => [await r.hset("{t}h", "a", "1"), await r.sendCommand(new Command("hgetall", ["{t}h"], { replyEncoding: "utf8" }))]],
  // Callbacks
  ["node-style callbacks: result and error", async (r) => [await cb((d) => r.set("{t}a", "1", d)), await cb((d) => r.get("{t}a", d)), await cb((d) => r.lpush("{t}a", "x", d))]],
  ["callback on call() and mget()", async (r) => [await cb((d) => r.call("set", "{t}a", "1", d)), await cb((d) => r.mget("{t}a", "{t}b", d))]],
  // Pipelines and transactions
  ["pipeline result shape and errors", async (r) => {
    const out = await r.pipeline().set("{t}a", "1").incr("{t}a").lpush("{t}a", "x").get("{t}a").exec();
    return out.map(([e, v]: [Error | null, unknown]) => [e && e.message, v]);
  }],
  ["pipeline array form and exec(callback)", async (r) => [await r.pipeline([["set", "{t}a", "1"], ["get", "{t}a"]]).exec(), await cb((d) => r.pipeline().get("{t}a").exec(d))]],
  ["pipeline length before exec", async (r) => r.pipeline().get("{t}a").get("{t}b").length],
  ["multi result shape", async (r) => [await r.multi().set("{t}a", "1").incr("{t}a").get("{t}a").exec(), await r.multi([["get", "{t}a"]]).exec()]],
  ["multi runtime error in results", async (r) => {
    const out = await r.multi().set("{t}a", "x").incr("{t}a").get("{t}a").exec();
    return out.map(([e, v]: [Error | null, unknown]) => [e && e.message, v]);
  }],
  ["multi EXECABORT", async (r) => r.multi().set("{t}a", "1").call("incr").exec().catch((e: Error) => ({ message: e.message, previous: (e as unknown as { previousErrors?: Error[] }).previousErrors?.map((p) => p.message) }))],
  ["pipeline().multi() inline transaction", async (r) => r.pipeline().set("{t}a", "1").multi().incr("{t}a").exec().get("{t}a").exec()],
  ["watch/unwatch on the client", async (r) => [await r.watch("{t}a"), await r.unwatch()]],
  // Scans
  ["scan loop", async (r) => {
    await r.mset("{t}a", 1, "{t}b", 2, "{t}c", 3);
    const seen: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", "{t}*", "COUNT", 10);
      cursor = next;
      seen.push(...keys);
    } while (cursor !== "0");
    return sorted(seen);
  }],
  ["scanStream/hscanStream/zscanStream", async (r) => {
    await r.mset("{t}a", 1, "{t}b", 2);
    await r.hset("{t}h", "f", "v");
    await r.zadd("{t}z", 1, "m");
    const collect = async (stream: AsyncIterable<string[]>) => { const all: string[] = []; for await (const chunk of stream) all.push(...chunk); return all; };
    return [sorted(await collect(r.scanStream({ match: "{t}*" }))), await collect(r.hscanStream("{t}h")), await collect(r.zscanStream("{t}z"))];
  }],
  // Keyless administration (the server's whole database)
  ["flushdb/dbsize/keys/randomkey", async (r) => [await r.set("{t}a", 1), await r.dbsize(), await r.keys("*"), await r.randomkey(), await r.flushdb(), await r.dbsize()]],
  ["ping/echo", async (r) => [await r.ping(), await r.ping("hi"), await r.echo("hello")]],
  ["info has redis_version", async (r) => (await r.info("server")).includes("redis_version:")],
  ["time/lastsave shapes", async (r) => [(await r.time()).length, typeof (await r.lastsave())]],
  ["config get", async (r) => r.config("GET", "maxmemory-policy")],
  ["client setname/getname", async (r) => [await r.client("SETNAME", "matrix"), await r.client("GETNAME")]],
  ["command count is a number", async (r) => typeof (await r.command("COUNT"))],
  ["select", async (r) => r.select(1)],
  ["swapdb/move", async (r) => [await r.set("{t}a", 1), await r.move("{t}a", 1)]],
  ["unknown command", async (r) => r.call("nosuchcommand", "x")],
  ["monitor", async (r) => { const m = await r.monitor(); await m.disconnect(); return "monitoring"; }],
  // Pub/sub through the same client
  ["publish/pubsub numsub", async (r) => [await r.publish("{t}ch", "x"), await r.pubsub("NUMSUB", "{t}ch"), await r.spublish("{t}ch", "x")]],
  ["subscribe callback and message event", async (_r, make) => {
    const sub = make();
    const got = new Promise((resolve) => sub.on("message", (channel: string, message: string) => resolve([channel, message])));
    const subscribed = await cb((d) => sub.subscribe("{t}news", d));
    const pub = make();
    await pub.publish("{t}news", "hi");
    return [subscribed, await got];
  }],
  // Options, lifecycle
  ["lazyConnect: status wait, then ready", async (_r, make) => { const c = make({ lazyConnect: true }); const before = c.status; await c.connect(); return [before, c.status]; }],
  ["connectionName", async (_r, make) => { const c = make({ connectionName: "named" }); return c.client("GETNAME"); }],
  ["db option", async (_r, make) => { const c = make({ db: 2 }); await c.set("{t}a", "in-2"); return [await c.get("{t}a"), c.options.db]; }],
  ["keyPrefix option", async (_r, make) => { const c = make({ keyPrefix: "{t}p:" }); await c.set("a", "1"); const d = make(); return d.get("{t}p:a"); }],
  ["keyPrefix: every key of every command, not replies", async (_r, make) => {
    const c = make({ keyPrefix: "{t}p:" });
    const d = make();
    await c.mset("a", "1", "b", "2");
    return [await c.mget("a", "b"), await c.exists("a", "b"), await c.rename("a", "a2"), await d.mget("{t}p:a2", "{t}p:b"), await c.lpush("l", "x"), await c.rpoplpush("l", "l2"),
      await d.lrange("{t}p:l2", 0, -1), await c.zadd("z", 1, "m"), await c.zunionstore("zz", 1, "z"), await d.zrange("{t}p:zz", 0, -1), await c.blpop("l2", 1), await c.getBuffer(Buffer.from("b")), c.options.keyPrefix];
  }],
  ["keyPrefix: SCAN MATCH pattern as given", async (_r, make) => {
    const c = make({ keyPrefix: "{t}p:" });
    await c.mset("a", "1", "b", "2");
    await c.hset("h", "f", "v");
    const found: string[] = [];
    let cursor = "0";
    for (let i = 0; i < 100; i++) {
      const [next, keys] = await c.scan(cursor, "MATCH", "{t}p:*", "COUNT", 100);
      found.push(...keys);
      cursor = next;
      if (cursor === "0") break;
    }
    return [sorted(found), await c.hscan("h", 0)];
  }],
  ["keyPrefix: pipeline, multi and inline transaction", async (_r, make) => {
    const c = make({ keyPrefix: "{t}p:" });
    const d = make();
    const p = await c.pipeline().set("a", "1").incr("n").get("a").exec();
    const m = await c.multi().set("b", "2").incr("n").exec();
    const i = await c.pipeline().multi().incr("n").exec().get("n").exec();
    return [p, m, i, await d.mget("{t}p:a", "{t}p:b", "{t}p:n")];
  }],
  ["keyPrefix: defineCommand KEYS and eval", async (_r, make) => {
    const c = make({ keyPrefix: "{t}p:" });
    const d = make();
    c.defineCommand("kp", { numberOfKeys: 1, lua: "redis.call('set', KEYS[1], ARGV[1]); return KEYS[1]" });
    c.defineCommand("kpn", { lua: "return KEYS" });
    return [await c.kp("a", "v"), await c.eval("return KEYS[1]", 1, "b"), await c.kpn(2, "x", "y"), await c.pipeline().kp("c", "w").exec(), await c.multi().kp("e", "u").exec(), await d.mget("{t}p:a", "{t}p:c", "{t}p:e")];
  }],
  ["keyPrefix: a hash tag after the prefix, duplicate, sendCommand as given", async (_r, make) => {
    const c = make({ keyPrefix: "p:" });
    const d = make();
    await c.mset("{t}a", "1", "{t}b", "2");
    await c.duplicate().set("{t}c", "3");
    await c.sendCommand(new Command("set", ["{t}raw", "4"]));
    return [await c.rename("{t}a", "{t}a2"), await d.mget("p:{t}a2", "p:{t}b", "p:{t}c", "{t}raw"), await c.call("get", "{t}b")];
  }],
  ["keyPrefix: sharded pub/sub meets on the prefixed channel, smessage names it; subscribe and publish as given", async (_r, make) => {
    const sub = make({ keyPrefix: "{t}p:" });
    const pub = make({ keyPrefix: "{t}p:" });
    const sharded = new Promise((resolve) => sub.on("smessage", (channel: string, message: string) => resolve([channel, message])));
    const plain = new Promise((resolve) => sub.on("message", (channel: string, message: string) => resolve([channel, message])));
    // The counts are left out: SSUBSCRIBE's and SUBSCRIBE's replies count differently (one connection's, or the client's).
    await sub.ssubscribe("ch");
    await sub.subscribe("{t}news");
    const published = [await pub.spublish("ch", "s-hi"), await pub.publish("{t}news", "hi")];
    const got = [await sharded, await plain];
    await sub.sunsubscribe("ch");
    return [published, got, await pub.spublish("ch", "gone")];
  }],
  ["replyMapping resp3: sorted sets (scores as numbers)", async (_r, make) => {
    const c = make({ replyMapping: "resp3" });
    return [await c.zadd("{t}z", 1.5, "a", 2, "b"), await c.zscore("{t}z", "a"), await c.zincrby("{t}z", 1, "a"), await c.zmscore("{t}z", "a", "none"), await c.zrange("{t}z", 0, -1, "WITHSCORES"),
      await c.zrangebyscore("{t}z", "-inf", "+inf", "WITHSCORES"), await c.zrandmember("{t}z", 1, "WITHSCORES").then((x: unknown[]) => x.length), await c.zpopmin("{t}z"), await c.zscoreBuffer("{t}z", "b")];
  }],
  ["replyMapping resp3: hashes and sets", async (_r, make) => {
    const c = make({ replyMapping: "resp3" });
    await c.hset("{t}h", "f", "1", "g", "2");
    await c.sadd("{t}s", "a");
    return [await c.hgetall("{t}h"), await c.hgetallBuffer("{t}h"), await c.hrandfield("{t}h", -1, "WITHVALUES").then((x: unknown[]) => x.length), await c.smembers("{t}s"), await c.hgetall("{t}none"), await c.incrbyfloat("{t}f", 1.5), await c.hscan("{t}h", 0)];
  }],
  ["replyMapping resp3: streams", async (_r, make) => {
    const c = make({ replyMapping: "resp3" });
    await c.xadd("{t}x", "1-1", "f", "v");
    await c.xgroup("CREATE", "{t}x", "g", "0");
    return [await c.xread("COUNT", 5, "STREAMS", "{t}x", "0"), await c.xreadgroup("GROUP", "g", "c", "COUNT", 1, "STREAMS", "{t}x", ">"), await c.xrange("{t}x", "-", "+"), await c.xread("BLOCK", 10, "STREAMS", "{t}x", "$")];
  }],
  ["replyMapping resp3: pipeline, multi, split and broadcast replies", async (_r, make) => {
    const c = make({ replyMapping: "resp3" });
    await c.hset("{t}h", "f", "1");
    await c.zadd("{t}z", 2.5, "a");
    return [await c.pipeline().zscore("{t}z", "a").hgetall("{t}h").exec(), await c.multi().zscore("{t}z", "a").hgetall("{t}h").exec(), await c.mget("{t}h2", "{t}z2"),
      await c.pubsub("NUMSUB", "{t}ch"), await c.script("EXISTS", "0000000000000000000000000000000000000000"), await c.eval("return {1, 'x'}", 1, "{t}k"), await c.zscore("{t}z", "a", () => undefined)];
  }],
  ["replyMapping resp3 needs protocol 3", async (_r, make) => { try { make({ replyMapping: "resp3", protocol: 2 }); return "made"; } catch (e) { return /protocol 3/.test((e as Error).message); } }],
  ["stringNumbers", async (_r, make) => { const c = make({ stringNumbers: true }); return [await c.incrbyfloat("{t}f", 1.5), await c.incr("{t}n")]; }],
  ["duplicate", async (r) => { const d = r.duplicate(); const out = [await d.set("{t}a", "1"), await r.get("{t}a")]; await d.quit(); return out; }],
  ["options.host/port/keyPrefix/maxRetriesPerRequest types", async (r) => [typeof r.options.host, typeof r.options.port, typeof r.options.keyPrefix]],
  ["status ready, quit then Connection is closed.", async (_r, make) => { const c = make(); await c.ping(); const ready = c.status; await c.quit(); return [ready, await c.get("{t}a").catch((e: Error) => e.message)]; }],
  ["quit(callback)", async (_r, make) => { const c = make(); await c.ping(); return cb((d) => c.quit(d)); }],
  ["events of disconnect(true): close, reconnecting with its delay, connect, ready", async (_r, make) => {
    const c = make();
    await c.ping();
    const events: string[] = [];
    for (const e of ["connect", "ready", "close", "reconnecting", "end"]) c.on(e, (arg: unknown) => events.push(e === "reconnecting" ? `${e}:${typeof arg}` : e));
    const ready = new Promise((resolve) => c.once("ready", resolve));
    c.disconnect(true);
    await ready;
    return events;
  }],
  ["connect() when connected rejects", async (r) => r.connect().then(() => "resolved", (e: Error) => e.message)],
  ["instanceof Redis-like: getBuiltinCommands", async (r) => r.getBuiltinCommands().includes("get")],
];
