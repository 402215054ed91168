/**
 * The Lua a migration runs on the nodes. A moving key's tombstone
 * (`shardis:tomb:<key>`, on the same node, with a short TTL) holds the token
 * of the last invalidation there: a fallback copy observes it before reading
 * the old owner and lands only if it is unchanged, so a copy of a value read
 * before a write can never land after that write's invalidation.
 */
import { Script } from "../commands/script.js";

export const TOMB_PREFIX = "shardis:tomb:";

/** The current server time in ms, in Lua. */
const NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/**
 * KEYS: keys to invalidate. ARGV: token, tombstone TTL (ms). Deletes each
 * key and sets its tombstone to the token.
 */
export const INVALIDATE = new Script(
  "shardis:migration:invalidate",
  `for _, key in ipairs(KEYS) do
  redis.call('DEL', key)
  redis.call('SET', '${TOMB_PREFIX}' .. key, ARGV[1], 'PX', ARGV[2])
end
return #KEYS`,
  undefined,
  false,
  undefined,
);

/** KEYS[1]: the key on its new owner. Returns { exists, tombstone or "", server time in ms }. */
export const OBSERVE = new Script(
  "shardis:migration:observe",
  `${NOW_MS}
return { redis.call('EXISTS', KEYS[1]), redis.call('GET', '${TOMB_PREFIX}' .. KEYS[1]) or '', now }`,
  1,
  true,
  undefined,
);

/** KEYS[1]: the key on its old owner. Returns { DUMP payload or nil, PTTL }. */
export const DUMP = new Script(
  "shardis:migration:dump",
  `local payload = redis.call('DUMP', KEYS[1])
if not payload then return { false, -2 } end
return { payload, redis.call('PTTL', KEYS[1]) }`,
  1,
  true,
  undefined,
);

/** KEYS[1]: the key on its old owner. Returns the SHA1 of its DUMP (its value, whatever its type), or nil when it is gone. */
export const DIGEST = new Script(
  "shardis:migration:digest",
  `local payload = redis.call('DUMP', KEYS[1])
if not payload then return false end
return redis.sha1hex(payload)`,
  1,
  true,
  undefined,
);

/**
 * KEYS[1]: the key on its old owner. ARGV[1]: the digest DIGEST returned.
 * Deletes the key only if its value is still the one digested (the retire
 * pass checked that its new owner holds it in between). Returns 1 deleted,
 * 0 changed since (kept), -1 gone.
 */
export const RETIRE = new Script(
  "shardis:migration:retire",
  `local payload = redis.call('DUMP', KEYS[1])
if not payload then return -1 end
if redis.sha1hex(payload) ~= ARGV[1] then return 0 end
return redis.call('UNLINK', KEYS[1])`,
  1,
  false,
  undefined,
);

/**
 * KEYS[1]: the key on its new owner. ARGV: the tombstone observed, the
 * server time observed (ms), the copy window (ms), the PTTL read on the old
 * owner (-1: none), the DUMP payload. Restores the key only when it is still
 * absent, its tombstone unchanged and the window not past; the expiry is the
 * observed time plus the PTTL (the old owner was read after it: never
 * later than the original's). Returns 1 copied, 0 already there, -1 too
 * late, -2 invalidated since, -3 expired.
 */
export const COPY = new Script(
  "shardis:migration:copy",
  `${NOW_MS}
local seen = tonumber(ARGV[2])
if now - seen > tonumber(ARGV[3]) then return -1 end
local tomb = redis.call('GET', '${TOMB_PREFIX}' .. KEYS[1]) or ''
if tomb ~= ARGV[1] then return -2 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local pttl = tonumber(ARGV[4])
if pttl >= 0 then
  local at = seen + pttl
  if at <= now then return -3 end
  redis.call('RESTORE', KEYS[1], at, ARGV[5], 'ABSTTL')
else
  redis.call('RESTORE', KEYS[1], 0, ARGV[5])
end
return 1`,
  1,
  false,
  undefined,
);
