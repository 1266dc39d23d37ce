/**
 * The Lua scripts behind every multi-key step. Each runs atomically on the Redis node that
 * owns the deployment's hash tag, so no instance of a fleet ever sees a half-done rotation,
 * eviction or prune. Scripts only touch keys passed in KEYS (Redis Cluster requirement), and
 * all of those keys share the deployment's hash tag (see keys.ts).
 */
import { createHash } from 'node:crypto';

/**
 * The part of a node-redis client (`createClient()` or `createCluster()`) the scripts need.
 * Declared structurally so that any node-redis 4/5 client, with or without modules, fits.
 */
export interface RedisScriptingClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** A script sent by SHA1, and by source only when the server does not know it yet. */
export class LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha1: string;

  constructor(name: string, body: string) {
    this.name = name;
    this.source = COMMON + body;
    this.sha1 = createHash('sha1').update(this.source).digest('hex');
  }

  async run(client: RedisScriptingClient, keys: string[], args: string[]): Promise<unknown> {
    const options = { keys, arguments: args };
    try {
      return await client.evalSha(this.sha1, options);
    } catch (error) {
      // A restarted server (or a fresh cluster node) has an empty script cache.
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return await client.eval(this.source, options);
      }
      throw error;
    }
  }
}

/** The prefix of every error a script raises on purpose (as opposed to a Redis failure). */
export const SCRIPT_ERROR_PREFIX = 'FIXATION_GUARD';

// Helpers shared by every script. Lua 5.1 as embedded in Redis; `cjson` is built in.
const COMMON = String.raw`
local function is_tombstone(v)
  if not v then return false end
  -- Cheap test first: only a record that mentions the marker is decoded.
  if not string.find(v, '"fixationGuardTombstone"', 1, true) then return false end
  local ok, rec = pcall(cjson.decode, v)
  return ok and type(rec) == 'table' and type(rec['fixationGuardTombstone']) == 'table'
end

-- Combines two TTLs in ms: the longer wins, and -1 (never expires) beats everything.
local function longer(a, b)
  if a == -1 or b == -1 then return -1 end
  if b > a then return b end
  return a
end

-- Makes an index key live at least as long as ttl ms (-1: as long as a member that never
-- expires). Only ever lengthens: members this script did not look at keep their cover.
local function cover(key, ttl)
  local cur = redis.call('PTTL', key)
  if cur == -2 then return end
  if ttl == -1 then
    redis.call('PERSIST', key)
  elseif ttl > 0 and (cur == -1 or cur < ttl) then
    redis.call('PEXPIRE', key, ttl)
  end
end

-- Both keys of a principal's index (sorted set and hash) live as long as each other.
local function cover_index(idx, meta, ttl)
  cover(idx, ttl)
  cover(meta, ttl)
end

-- An index entry: "createdAt:lastSeenAt:admittedAtMicros:state:metaJSON", state 'r' while a
-- login reserved it and has not confirmed it (never evicted by another login), 'p' while its
-- session record has never been seen, 'l' (live) after.
local function parse_entry(v)
  if not v then return nil end
  return string.match(v, '^(%-?[%d.]+):(%-?[%d.]+):(%d+):([plr]):(.*)$')
end

local function format_entry(c, l, a, s, m)
  return c .. ':' .. l .. ':' .. a .. ':' .. s .. ':' .. m
end

-- Records that the entry's session exists, and lastSeenAt when given (never backwards). A
-- reservation stays one until its login confirms it.
local function mark_live(meta, sid, last_seen)
  local c, l, a, s, m = parse_entry(redis.call('HGET', meta, sid))
  if not c then return end
  local changed = false
  if last_seen and tonumber(last_seen) > tonumber(l) then
    l = last_seen
    changed = true
  end
  if s == 'p' then
    s = 'l'
    changed = true
  end
  -- Nothing new (a login's pruning looks at every member): no write.
  if changed then redis.call('HSET', meta, sid, format_entry(c, l, a, s, m)) end
end

-- When sid is listed in the index (idx, meta: absent when the session has no principal),
-- records that its session exists (and last_seen, when given) and covers the index for ttl ms.
local function cover_listed(idx, meta, sid, ttl, last_seen)
  if meta and redis.call('ZSCORE', idx, sid) then
    mark_live(meta, sid, last_seen)
    cover_index(idx, meta, ttl)
  end
end

-- Writes value under key only when key holds nothing (a session or a tombstone), living ttl ms
-- (-1: never expires, as the record it replaces; else at least 1 ms: each caller clamps it first,
-- as it uses the clamped ttl again). Returns whether it wrote: one SET NX, where an EXISTS first
-- would be a second call.
local function set_new(key, value, ttl)
  if ttl == -1 then return redis.call('SET', key, value, 'NX') ~= false end
  return redis.call('SET', key, value, 'PX', ttl, 'NX') ~= false
end

local function now_micros()
  local t = redis.call('TIME')
  return t[1] .. string.format('%06d', tonumber(t[2]))
end

local function fail(reason)
  return redis.error_reply('${SCRIPT_ERROR_PREFIX} ' .. reason)
end
`;

/**
 * KEYS: session, [index, meta]. ARGV: value, ttlMs (0 = delete), sessionId.
 * Refuses to write over a tombstone: a late save of a rotated id cannot bring it back.
 */
export const GUARDED_SET = new LuaScript(
  'guardedSet',
  String.raw`
if is_tombstone(redis.call('GET', KEYS[1])) then return 'tombstoned' end
local ttl = tonumber(ARGV[2])
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 'written'
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
cover_listed(KEYS[2], KEYS[3], ARGV[3], ttl)
return 'written'
`,
);

/**
 * KEYS: session, [index, meta]. ARGV: the value read, the new value, ttlMs, sessionId.
 * Writes the new value only while the key still holds the value read (compare and set), living
 * ttlMs, and covers the index as `guardedSet` does. Returns 1 when it wrote, 0 otherwise.
 */
export const SET_IF_UNCHANGED = new LuaScript(
  'setIfUnchanged',
  String.raw`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[3])
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
cover_listed(KEYS[2], KEYS[3], ARGV[4], ttl)
return 1
`,
);

/** KEYS: session, [index, meta]. ARGV: ttlMs, sessionId. Never lengthens a tombstone. */
export const TOUCH = new LuaScript(
  'touch',
  String.raw`
local v = redis.call('GET', KEYS[1])
if not v or is_tombstone(v) then return 0 end
local ttl = tonumber(ARGV[1])
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('PEXPIRE', KEYS[1], ttl)
if KEYS[3] and redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  cover_index(KEYS[2], KEYS[3], ttl)
end
return 1
`,
);

/**
 * KEYS: session. ARGV: tombstone JSON, ttlMs, ifExists ('1' = write nothing for a missing key).
 * Returns the tombstone it replaced (a revocation follows its successor), or false.
 */
export const TOMBSTONE = new LuaScript(
  'tombstone',
  String.raw`
local v = redis.call('GET', KEYS[1])
if not v and ARGV[3] == '1' then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if is_tombstone(v) then return v end
return false
`,
);

/**
 * KEYS: old session, new session, [index, meta].
 * ARGV: new value, tombstone JSON, tombstone ttlMs, oldId, newId, lastSeenAt, new ttlMs.
 * The new record lives as its own cookie says (as a set would write it, not with the old
 * record's remaining TTL: its expiry is then the one the guard reads); the old id becomes a tombstone; the
 * principal's index entry (when there is one) moves to the new id keeping createdAt, or, when
 * the new id was admitted beforehand (a login), is marked live and covered by the new TTL.
 */
export const RENAME = new LuaScript(
  'rename',
  String.raw`
local old = redis.call('GET', KEYS[1])
if not old then return fail('old_missing') end
if is_tombstone(old) then return fail('old_dead') end
local ttl = tonumber(ARGV[7])
if ttl < 1 and ttl ~= -1 then ttl = 1 end
if not set_new(KEYS[2], ARGV[1], ttl) then return fail('new_exists') end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if KEYS[4] then
  local score = redis.call('ZSCORE', KEYS[3], ARGV[4])
  if score then
    local c, l, a, _, m = parse_entry(redis.call('HGET', KEYS[4], ARGV[4]))
    if not c then c, l, a, m = score, ARGV[6], now_micros(), '{}' end
    if tonumber(ARGV[6]) > tonumber(l) then l = ARGV[6] end
    redis.call('ZREM', KEYS[3], ARGV[4])
    redis.call('HDEL', KEYS[4], ARGV[4])
    redis.call('ZADD', KEYS[3], score, ARGV[5])
    redis.call('HSET', KEYS[4], ARGV[5], format_entry(c, l, a, 'l', m))
    cover_index(KEYS[3], KEYS[4], ttl)
  else
    -- A login admits the new id first, then rotates into it: its record now exists.
    cover_listed(KEYS[3], KEYS[4], ARGV[5], ttl, ARGV[6])
  end
end
return 'ok'
`,
);

/**
 * The first half of a move across slots (Redis Cluster, `spread` layout: a login moves an
 * anonymous session into its principal's slot). KEYS: new session, [index, meta].
 * ARGV: value, ttlMs, newId, lastSeenAt. Writes the new record — refusing when the id exists
 * (or holds a tombstone) — and marks its reserved index entry as having a record.
 */
export const MOVE_IN = new LuaScript(
  'moveIn',
  String.raw`
local ttl = tonumber(ARGV[2])
if ttl < 1 then ttl = 1 end
if not set_new(KEYS[1], ARGV[1], ttl) then return fail('new_exists') end
cover_listed(KEYS[2], KEYS[3], ARGV[3], ttl, ARGV[4])
return 'ok'
`,
);

/**
 * The second half of a move across slots. KEYS: old session. ARGV: tombstone JSON, ttlMs.
 * Tombstones the old id only while it holds a live record: an id ended (or moved by another
 * request) meanwhile refuses, and the caller ends the new record it wrote.
 */
export const MOVE_OUT = new LuaScript(
  'moveOut',
  String.raw`
local old = redis.call('GET', KEYS[1])
if not old then return fail('old_missing') end
if is_tombstone(old) then return fail('old_dead') end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'ok'
`,
);

/** KEYS: index. Read-only: the members the next script will look at. */
export const INDEX_MEMBERS = new LuaScript(
  'indexMembers',
  String.raw`
return redis.call('ZRANGE', KEYS[1], 0, -1)
`,
);

const PRUNE = String.raw`
-- Whether the member sid of the index (KEYS[1], meta KEYS[2]) is dead — its session key
-- expired or was tombstoned; a member whose session was never seen is kept for grace_ms after
-- its admission (another instance may be between admit and save) — and removes it then.
-- Returns the member's remaining TTL (0 for a dead one), and true when that is what is left of
-- its grace (no record yet: the grace its admission covered the index for may be longer).
local function prune_one(key, sid, grace_ms, now)
  local v = redis.call('GET', key)
  local ttl = 0
  local dead = false
  local by_grace = false
  if v then
    if is_tombstone(v) then
      dead = true
    else
      ttl = redis.call('PTTL', key)
      mark_live(KEYS[2], sid)
    end
  else
    local _, _, admitted, state = parse_entry(redis.call('HGET', KEYS[2], sid))
    local left = grace_ms - (tonumber(now) - tonumber(admitted or '0')) / 1000
    if (state ~= 'p' and state ~= 'r') or left <= 0 then
      dead = true
    else
      ttl = math.ceil(left)
      by_grace = true
    end
  end
  if dead then
    redis.call('ZREM', KEYS[1], sid)
    redis.call('HDEL', KEYS[2], sid)
  end
  return ttl, by_grace
end

-- Evicts, under evictOldest, the oldest live entries beyond max (never keep): oldest
-- createdAt first, then order of admission. Pending entries (logins in flight) are never
-- evicted by another login. Appends the ids to reply; tombstone (a JSON, living
-- tombstone_ttl ms) is written under each one's session key built from session_prefix when
-- given (the caller ends them otherwise).
local function evict_oldest(max, keep, reply, session_prefix, tombstone, tombstone_ttl)
  -- Only an index holding more members than the limit can hold more live ones: no scan below it.
  if redis.call('ZCARD', KEYS[1]) <= max then return end
  local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local live = {}
  for j = 1, #all, 2 do
    local _, _, a, st = parse_entry(redis.call('HGET', KEYS[2], all[j]))
    if st == 'l' then
      table.insert(live, { id = all[j], c = tonumber(all[j + 1]), a = tonumber(a or '0') })
    end
  end
  table.sort(live, function(x, y)
    if x.c ~= y.c then return x.c < y.c end
    if x.a ~= y.a then return x.a < y.a end
    return x.id < y.id
  end)
  local excess = #live - max
  for _, e in ipairs(live) do
    if excess <= 0 then break end
    if e.id ~= keep then
      table.insert(reply, e.id)
      if session_prefix then
        redis.call('SET', session_prefix .. e.id, tombstone, 'PX', tombstone_ttl)
        redis.call('ZREM', KEYS[1], e.id)
        redis.call('HDEL', KEYS[2], e.id)
      end
      excess = excess - 1
    end
  end
end

-- Prunes the members given as KEYS[first..] / ARGV[firstArg..] (session keys / ids).
-- Returns the longest remaining TTL among the live members looked at.
local function prune(first_key, first_arg, grace_ms, now)
  local ttl = 0
  local i = 0
  while KEYS[first_key + i] do
    local sid = ARGV[first_arg + i]
    if redis.call('ZSCORE', KEYS[1], sid) then
      ttl = longer(ttl, prune_one(KEYS[first_key + i], sid, grace_ms, now))
    end
    i = i + 1
  end
  return ttl
end
`;

/**
 * KEYS: index, meta, session of the new entry, sessions of the current members.
 * ARGV: sessionId, createdAt, lastSeenAt, metaJSON, max (0 = no limit), onLimit, graceMs,
 * phase ('reserve' | 'confirm' | 'admit' = both at once), replacing id ('' = none), member ids
 * (aligned with KEYS[4..]).
 * reserve: adds a pending entry; under rejectLogin refuses at the limit (pending entries
 * count, `replacing` does not). confirm: marks the entry live and, under evictOldest, names
 * the oldest live entries beyond the limit (still listed: the caller tombstones, then
 * removes them). Returns {admitted (0|1), evicted ids…}.
 */
export const INDEX_ADMIT = new LuaScript(
  'indexAdmit',
  PRUNE +
    String.raw`
local now = now_micros()
local grace = tonumber(ARGV[7])
local phase = ARGV[8]
local replacing = ARGV[9]
local ttl = prune(4, 10, grace, now)
local sid = ARGV[1]
local max = tonumber(ARGV[5])
local listed = redis.call('ZSCORE', KEYS[1], sid)
if phase == 'confirm' then
  -- Evicted or revoked while in flight: the login is not brought back.
  if not listed then return {0} end
  if is_tombstone(redis.call('GET', KEYS[3])) then
    redis.call('ZREM', KEYS[1], sid)
    redis.call('HDEL', KEYS[2], sid)
    return {0}
  end
end
local own = redis.call('PTTL', KEYS[3])
local state = 'l'
if own == -2 then
  own = math.max(grace, 1)
  state = 'p'
end
if phase == 'reserve' then state = 'r' end
ttl = longer(ttl, own)
if phase == 'reserve' and not listed and max > 0 and ARGV[6] == 'rejectLogin' then
  local count = redis.call('ZCARD', KEYS[1])
  if replacing ~= '' and redis.call('ZSCORE', KEYS[1], replacing) then count = count - 1 end
  if count >= max then return {0} end
end
if listed then
  local c, l, a, s, m = parse_entry(redis.call('HGET', KEYS[2], sid))
  if c then
    if tonumber(ARGV[3]) > tonumber(l) then l = ARGV[3] end
    if phase ~= 'reserve' and state == 'l' then s = 'l' end
    if phase == 'reserve' and s == 'p' then s = 'r' end
    redis.call('HSET', KEYS[2], sid, format_entry(c, l, a, s, m))
  else
    redis.call('HSET', KEYS[2], sid, format_entry(listed, ARGV[3], now, state, ARGV[4]))
  end
else
  redis.call('ZADD', KEYS[1], ARGV[2], sid)
  redis.call('HSET', KEYS[2], sid, format_entry(ARGV[2], ARGV[3], now, state, ARGV[4]))
end
cover_index(KEYS[1], KEYS[2], ttl)
local reply = {1}
if phase ~= 'reserve' and max > 0 and ARGV[6] == 'evictOldest' then
  evict_oldest(max, sid, reply)
end
return reply
`,
);

/**
 * A whole login in one round trip (one Redis, `deployment` layout: the members' session keys
 * are built here from the prefix, which only a single node — or one slot — allows).
 * KEYS: index, meta, old session, new session, the new id's evictions note.
 * ARGV: 1 new value, 2 rotated-tombstone JSON (naming the new id), 3 tombstone ttlMs, 4 oldId,
 * 5 newId, 6 createdAt, 7 lastSeenAt, 8 metaJSON, 9 max (0 = no limit), 10 onLimit, 11 graceMs,
 * 12 replacing id ('' = none), 13 evicted-tombstone JSON, 14 session key prefix, 15 old stored
 * ('1' | '0'), 16 new ttlMs.
 * In order, all or nothing: the old id must hold a live record (else old_missing / old_dead;
 * an id never stored is not looked at); expired and tombstoned members are pruned; under
 * rejectLogin a login at the limit (replacing does not count) changes nothing and returns {0};
 * the new record is written (living as its cookie says, ARGV 16) unless the new id exists
 * (new_exists: nothing else is written; the pruning is kept, it changes no session); the old
 * id becomes a tombstone, the index entry is added live (a replaced entry's createdAt and meta
 * carry over); under evictOldest the oldest live entries beyond the limit are tombstoned and
 * removed, and named in the evictions note (space-separated, living as their tombstones) for a
 * caller whose reply is lost (`loginEvictions`). Returns {1, evicted ids…}.
 * Every call counts: the script holds Redis while it runs, and the requests queued behind it
 * wait (the new id's check is its SET NX; the index's expiry is set, not compared, as every
 * member was looked at — unless one is a login in flight elsewhere).
 */
export const LOGIN = new LuaScript(
  'login',
  PRUNE +
    String.raw`
local old_stored = ARGV[15] == '1'
local ttl = tonumber(ARGV[16])
if old_stored then
  local old = redis.call('GET', KEYS[3])
  if not old then return fail('old_missing') end
  if is_tombstone(old) then return fail('old_dead') end
end
local now = now_micros()
local grace = tonumber(ARGV[11])
local max = tonumber(ARGV[9])
local prefix = ARGV[14]
-- The members left after the pruning, with their remaining TTLs (the index lives as long as the
-- longest of those still listed at the end).
local member_ttls = {}
local in_flight = false
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local member_ttl, by_grace = prune_one(prefix .. id, id, grace, now)
  if member_ttl ~= 0 then member_ttls[id] = member_ttl end
  if by_grace then in_flight = true end
end
local replacing = ARGV[12]
local replaced = nil
if replacing ~= '' then replaced = redis.call('ZSCORE', KEYS[1], replacing) end
if max > 0 and ARGV[10] == 'rejectLogin' then
  local count = redis.call('ZCARD', KEYS[1])
  if replaced then count = count - 1 end
  if count >= max then return {0} end
end
if ttl < 1 and ttl ~= -1 then ttl = 1 end
if not set_new(KEYS[4], ARGV[1], ttl) then return fail('new_exists') end
if old_stored then redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3]) end
local c, l, a, m = ARGV[6], ARGV[7], now, ARGV[8]
if replaced then
  local rc, rl, ra, _, rm = parse_entry(redis.call('HGET', KEYS[2], replacing))
  if rc then
    c, a, m = rc, ra, rm
    if tonumber(rl) > tonumber(l) then l = rl end
  end
  redis.call('ZREM', KEYS[1], replacing)
  redis.call('HDEL', KEYS[2], replacing)
end
redis.call('ZADD', KEYS[1], c, ARGV[5])
redis.call('HSET', KEYS[2], ARGV[5], format_entry(c, l, a, 'l', m))
local reply = {1}
if max > 0 and ARGV[10] == 'evictOldest' then
  evict_oldest(max, ARGV[5], reply, prefix, ARGV[13], ARGV[3])
  if #reply > 1 then redis.call('SET', KEYS[5], table.concat(reply, ' ', 2), 'PX', ARGV[3]) end
end
-- Every member was looked at above: the index lives exactly as long as its longest member still
-- listed (not the replaced entry, not the evicted ones), unless a login in flight elsewhere
-- reserved a place (its admission covered the index for the grace of the index that admitted
-- it, which may be longer than this store's): then the expiry only lengthens.
if replaced then member_ttls[replacing] = nil end
for j = 2, #reply do member_ttls[reply[j]] = nil end
local index_ttl = ttl
for _, member_ttl in pairs(member_ttls) do index_ttl = longer(index_ttl, member_ttl) end
if in_flight then
  cover_index(KEYS[1], KEYS[2], index_ttl)
elseif index_ttl == -1 then
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('PEXPIRE', KEYS[1], index_ttl)
  redis.call('PEXPIRE', KEYS[2], index_ttl)
end
return reply
`,
);

/**
 * KEYS: index, meta, sessions of the current members. ARGV: tombstone JSON, ttlMs, member ids.
 * Ends a principal's every session in one step: tombstones each member's session key and
 * deletes the index. Returns {'retry'} when the members changed since the caller read them
 * (the keys it passed would miss one), else 'ok': the members given are the ids ended (the
 * caller has them; a thousand ids are not sent back).
 */
export const INDEX_END_ALL = new LuaScript(
  'indexEndAll',
  String.raw`
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local given = {}
local n = 0
for i = 3, #ARGV do
  given[ARGV[i]] = true
  n = n + 1
end
if #members ~= n then return {'retry'} end
for _, id in ipairs(members) do
  if not given[id] then return {'retry'} end
end
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
redis.call('DEL', KEYS[1], KEYS[2])
return 'ok'
`,
);

/**
 * KEYS: index, meta, sessions of the current members. ARGV: graceMs, member ids.
 * Prunes, then returns {id, entry, id, entry, …} of what is left.
 */
export const INDEX_LIST = new LuaScript(
  'indexList',
  PRUNE +
    String.raw`
local ttl = prune(3, 2, tonumber(ARGV[1]), now_micros())
cover_index(KEYS[1], KEYS[2], ttl)
local reply = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local v = redis.call('HGET', KEYS[2], id)
  if v then
    table.insert(reply, id)
    table.insert(reply, v)
  end
end
return reply
`,
);

/** KEYS: index, meta. ARGV: sessionId. */
export const INDEX_REMOVE = new LuaScript(
  'indexRemove',
  String.raw`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 'ok'
`,
);

/**
 * KEYS: index, meta, new session. ARGV: oldId, newId, lastSeenAt.
 * Idempotent with the store's rename (which already moved the entry): an entry that was
 * evicted or removed meanwhile is not brought back.
 */
export const INDEX_RENAME = new LuaScript(
  'indexRename',
  String.raw`
local from = ARGV[1]
local score = redis.call('ZSCORE', KEYS[1], from)
if not score then
  from = ARGV[2]
  score = redis.call('ZSCORE', KEYS[1], from)
  if not score then return 0 end
end
local c, l, a, s, m = parse_entry(redis.call('HGET', KEYS[2], from))
if not c then c, l, a, s, m = score, ARGV[3], now_micros(), 'p', '{}' end
if tonumber(ARGV[3]) > tonumber(l) then l = ARGV[3] end
local ttl = redis.call('PTTL', KEYS[3])
if ttl ~= -2 then s = 'l' end
redis.call('ZREM', KEYS[1], from)
redis.call('HDEL', KEYS[2], from)
redis.call('ZADD', KEYS[1], score, ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], format_entry(c, l, a, s, m))
if ttl ~= -2 then cover_index(KEYS[1], KEYS[2], ttl) end
return 1
`,
);

/** KEYS: index, meta, session. ARGV: sessionId, lastSeenAt. Never re-adds a removed entry. */
export const INDEX_TOUCH = new LuaScript(
  'indexTouch',
  String.raw`
local c, l, a, s, m = parse_entry(redis.call('HGET', KEYS[2], ARGV[1]))
if not c or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if tonumber(ARGV[2]) > tonumber(l) then l = ARGV[2] end
local ttl = redis.call('PTTL', KEYS[3])
if ttl ~= -2 then s = 'l' end
redis.call('HSET', KEYS[2], ARGV[1], format_entry(c, l, a, s, m))
if ttl ~= -2 then cover_index(KEYS[1], KEYS[2], ttl) end
return 1
`,
);

/** KEYS: index, meta. Returns every id the index held and deletes both keys. */
export const INDEX_REMOVE_ALL = new LuaScript(
  'indexRemoveAll',
  String.raw`
local seen = {}
local ids = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  seen[id] = true
  table.insert(ids, id)
end
for _, id in ipairs(redis.call('HKEYS', KEYS[2])) do
  if not seen[id] then table.insert(ids, id) end
end
redis.call('DEL', KEYS[1], KEYS[2])
return ids
`,
);
