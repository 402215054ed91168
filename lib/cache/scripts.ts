/**
 * The rebuild lock, in Lua on the key's own node, so each step is atomic
 * there: take it, extend it, write the value only while holding it
 * (fencing), give it up. The lock is part of the entry's header (see
 * record.ts); its expiry is the server's clock (TIME), so clocks of the
 * application servers do not matter to it.
 */
import { Script } from "../commands/script.js";

/** Shared by every script: the server's time in ms, and the header parsed (nil for anything that is not a record). */
const PRELUDE = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function parse(v)
  if not v or string.sub(v, 1, 4) ~= 'SC1|' then return nil end
  local nl = string.find(v, '\\n', 5, true)
  if not nl or nl > 256 then return nil end
  local h, from = {}, 5
  while true do
    local bar = string.find(v, '|', from, true)
    if not bar or bar > nl then
      h[#h + 1] = string.sub(v, from, nl - 1)
      break
    end
    h[#h + 1] = string.sub(v, from, bar - 1)
    from = bar + 1
  end
  if #h ~= 6 then return nil end
  return h, nl
end
local function holds(h) return h[1] ~= 'l' and h[1] ~= 'e' end
local function rewrite(key, h, v, nl, ttl)
  redis.call('SET', key, 'SC1|' .. table.concat(h, '|') .. string.sub(v, nl), 'KEEPTTL')
  if ttl and redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
`;

const script = (name: string, body: string) => new Script(`shardis:cache:${name}`, PRELUDE + body, 1, false, undefined);

/**
 * ARGV: token, lockTtlMs, seen (the expiresAt of the value the caller saw,
 * "" when it saw none). Returns {1} when the caller now holds the lock, or
 * {0, value} when it should not load: someone holds a live lock, or a value
 * the caller has not seen is there (use it).
 */
export const ACQUIRE = script(
  "acquire",
  `
local v = redis.call('GET', KEYS[1])
local h, nl = parse(v)
local t = now()
local ttl = tonumber(ARGV[2])
local lockUntil = string.format('%.0f', t + ttl)
if h and h[5] ~= '' and tonumber(h[6]) > t then return {0, v} end
if h and holds(h) then
  if h[2] ~= ARGV[3] then return {0, v} end
  h[5] = ARGV[1]
  h[6] = lockUntil
  rewrite(KEYS[1], h, v, nl, ttl)
  return {1}
end
redis.call('SET', KEYS[1], 'SC1|l|0|0|0|' .. ARGV[1] .. '|' .. lockUntil .. '\\n', 'PX', ttl)
return {1}
`,
);

/** ARGV: token, record, pxMs. Writes the record only while the token holds a live lock; 1 written, 0 refused. */
export const COMMIT = script(
  "commit",
  `
local v = redis.call('GET', KEYS[1])
local h = parse(v)
if not h or h[5] ~= ARGV[1] or tonumber(h[6]) < now() then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`,
);

/** ARGV: token, lockTtlMs. Pushes a live lock's expiry out; 1 extended, 0 lost. */
export const EXTEND = script(
  "extend",
  `
local v = redis.call('GET', KEYS[1])
local h, nl = parse(v)
local t = now()
if not h or h[5] ~= ARGV[1] or tonumber(h[6]) < t then return 0 end
local ttl = tonumber(ARGV[2])
h[6] = string.format('%.0f', t + ttl)
rewrite(KEYS[1], h, v, nl, ttl)
return 1
`,
);

/**
 * ARGV: token, message, messageTtlMs. Gives the lock up after a load that
 * wrote nothing: a value stays as it was, unlocked; a lock alone is deleted,
 * or, with a message (the loader failed), replaced by a short-lived record
 * of the failure for the callers that waited on this load. 1 released, 0 not held.
 */
export const RELEASE = script(
  "release",
  `
local v = redis.call('GET', KEYS[1])
local h, nl = parse(v)
if not h or h[5] ~= ARGV[1] then return 0 end
if holds(h) then
  h[5] = ''
  h[6] = '0'
  rewrite(KEYS[1], h, v, nl, nil)
elseif ARGV[2] ~= '' then
  redis.call('SET', KEYS[1], 'SC1|e|0|0|0|' .. ARGV[1] .. '|0\\n' .. ARGV[2], 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
`,
);
