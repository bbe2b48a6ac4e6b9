"""The Lua scripts behind ``slowpath/queue_redis.py``, one per multi-key state change.

Each script runs atomically inside Redis, so no interleaving of two clients can hand an item to
two moderators or decide it twice. Lease times come from the Redis server clock
(``redis.call('TIME')``), never from a client, so machines with skewed clocks agree on when a
lease ends. Item, author and done keys are derived in the script from the key prefix (ARGV[1])
and the post id; on Redis Cluster use a hash-tagged prefix such as ``{modgate}:`` so every key
lives in one slot. Error replies start with ``MODGATE_`` and are mapped to Python errors by the
queue. Numbers written by the scripts are fixed-point strings (``%.6f``), trust ``%.17g``.
"""

from __future__ import annotations

from modgate.keys import DOMAIN_KEEP_S, STRIKES_KEEP_S

# Shared helpers, prepended to the scripts that need them.
_HELPERS = (
    f"""
local STRIKES_KEEP_S = {STRIKES_KEEP_S}
local DOMAIN_KEEP_S = {DOMAIN_KEEP_S}
"""
    + """
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function fmt(x)
  return string.format('%.6f', x)
end

local function to_waiting(item, post_id, waiting)
  redis.call('ZADD', waiting, redis.call('HGET', item, 'sort_key'), post_id)
  redis.call('HSET', item, 'status', 'waiting', 'claimed_by', '', 'lease_expires_at', '0')
end

local function bump_author(key, action)
  local field
  if action == 'remove' or action == 'reduce' then
    field = 'prior_violations'
  elseif action == 'approve' then
    field = 'approved'
  else
    return
  end
  redis.call('HINCRBY', key, 'prior_violations', 0)
  redis.call('HINCRBY', key, 'approved', 0)
  redis.call('HINCRBY', key, field, 1)
  local reviews = redis.call('HINCRBY', key, 'reviews', 1)
  local approved = tonumber(redis.call('HGET', key, 'approved'))
  redis.call('HSET', key, 'trust', string.format('%.17g', (1 + approved) / (2 + reviews)))
end

-- A removal counted against its author (modgate/keys.py): written once per post and category.
local function add_strike(key, member, now)
  redis.call('ZADD', key, 'NX', now, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - STRIKES_KEEP_S)
  redis.call('EXPIRE', key, STRIKES_KEEP_S)
end

-- Domain reputation: a spam removal or an approval counted for every host the post linked to.
local function count_domains(prefix, hosts, field)
  for host in string.gmatch(hosts or '', '%S+') do
    local key = prefix .. 'domain:' .. host
    redis.call('HINCRBY', key, field, 1)
    redis.call('EXPIRE', key, DOMAIN_KEEP_S)
  end
end
"""
)

# KEYS: item, done, main waiting. ARGV: prefix, post_id, sort_key, retention_s, n_images,
# then n_images (sha256, bytes) pairs, then field, value, ... Image bytes are stored once per
# content under {prefix}img:{sha256}, their expiry pushed to retention_s from now.
# Returns 1 when added, 0 when the post was enqueued or decided before (nothing changed).
ENQUEUE = """
local prefix, post_id, retention = ARGV[1], ARGV[2], tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
local n_images = tonumber(ARGV[5])
for i = 0, n_images - 1 do
  local key = prefix .. 'img:' .. ARGV[6 + 2 * i]
  redis.call('SET', key, ARGV[7 + 2 * i], 'NX')
  redis.call('EXPIRE', key, retention)
end
redis.call('HSET', KEYS[1], unpack(ARGV, 6 + 2 * n_images))
redis.call('SET', KEYS[2], 'queued')
redis.call('ZADD', KEYS[3], ARGV[3], post_id)
return 1
"""

# KEYS: waiting, leased (of one queue). ARGV: prefix, moderator_id, lease_s.
# Reclaims expired leases, then leases the top item. Returns its HGETALL, or nil when empty.
CLAIM = (
    _HELPERS
    + """
local prefix, moderator = ARGV[1], ARGV[2]
local now = now_s()
for _, post_id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', fmt(now))) do
  redis.call('ZREM', KEYS[2], post_id)
  local item = prefix .. 'item:' .. post_id
  if redis.call('EXISTS', item) == 1 then
    to_waiting(item, post_id, KEYS[1])
  end
end
local top = redis.call('ZPOPMAX', KEYS[1])
if #top == 0 then
  return false
end
local post_id = top[1]
local item = prefix .. 'item:' .. post_id
local expiry = fmt(now + tonumber(ARGV[3]))
redis.call('ZADD', KEYS[2], expiry, post_id)
redis.call('HSET', item, 'status', 'leased', 'claimed_by', moderator, 'lease_expires_at', expiry)
redis.call('HINCRBY', item, 'claims', 1)
return redis.call('HGETALL', item)
"""
)

# ARGV: prefix, post_id, moderator_id, action, note, retention_s, then (topic, key, value) per
# outbox record. A final decision starts the item's and the done mark's retention clock.
# A removal with an author and a top category adds a ``moderator`` strike against the author;
# a removal for spam (or an approval) counts against (for) every host the post linked to.
# Returns {author_id, decided_at}.
DECIDE = (
    _HELPERS
    + """
local prefix, post_id, moderator, action = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local item = prefix .. 'item:' .. post_id
local h = redis.call('HMGET', item, 'status', 'claimed_by', 'lease_expires_at', 'queue',
                     'author_id', 'top_category', 'link_hosts')
if not h[1] then
  return redis.error_reply('MODGATE_NOT_FOUND')
end
if h[1] == 'decided' then
  return redis.error_reply('MODGATE_DECIDED')
end
if h[1] ~= 'leased' or h[2] ~= moderator then
  return redis.error_reply('MODGATE_NOT_HOLDER')
end
-- A lease past its expiry still counts while nobody reclaimed the item (a claim moves
-- expired items back to waiting first, and then the holder check above fails).
local now = now_s()
redis.call('ZREM', prefix .. h[4] .. ':leased', post_id)
if action == 'escalate' then
  to_waiting(item, post_id, prefix .. 'senior:waiting')
  redis.call('HSET', item, 'queue', 'senior', 'escalated_by', moderator)
else
  redis.call('HSET', item, 'status', 'decided', 'claimed_by', '', 'lease_expires_at', '0',
             'action', action, 'decided_by', moderator, 'decided_at', fmt(now), 'note', ARGV[5])
  redis.call('SET', prefix .. 'done:' .. post_id, action, 'EX', ARGV[6])
  redis.call('EXPIRE', item, ARGV[6])
  if h[5] ~= '' then
    bump_author(prefix .. 'author:' .. h[5], action)
    if action == 'remove' and h[6] and h[6] ~= '' then
      add_strike(prefix .. 'strikes:' .. h[5], post_id .. '|' .. h[6] .. '|moderator', now)
    end
  end
  if action == 'remove' and h[6] == 'spam' then
    count_domains(prefix, h[7], 'removed')
  elseif action == 'approve' then
    count_domains(prefix, h[7], 'approved')
  end
end
for i = 7, #ARGV, 3 do
  redis.call('XADD', prefix .. 'outbox', '*', 'topic', ARGV[i], 'key', ARGV[i + 1],
             'value', ARGV[i + 2])
end
return {h[5], fmt(now)}
"""
)

# ARGV: prefix, post_id, moderator_id. Puts a leased item back to waiting (holder only).
RELEASE = (
    _HELPERS
    + """
local prefix, post_id = ARGV[1], ARGV[2]
local item = prefix .. 'item:' .. post_id
local h = redis.call('HMGET', item, 'status', 'claimed_by', 'queue')
if not h[1] then
  return redis.error_reply('MODGATE_NOT_FOUND')
end
if h[1] ~= 'leased' or h[2] ~= ARGV[3] then
  return redis.error_reply('MODGATE_NOT_HOLDER')
end
redis.call('ZREM', prefix .. h[3] .. ':leased', post_id)
to_waiting(item, post_id, prefix .. h[3] .. ':waiting')
return 1
"""
)

# ARGV: prefix, post_id, moderator_id, lease_s. Extends a lease its holder still has (also one
# past its expiry that no claim has reclaimed yet). Returns the new expiry.
RENEW = (
    _HELPERS
    + """
local prefix, post_id = ARGV[1], ARGV[2]
local item = prefix .. 'item:' .. post_id
local h = redis.call('HMGET', item, 'status', 'claimed_by', 'queue')
if not h[1] then
  return redis.error_reply('MODGATE_NOT_FOUND')
end
if h[1] == 'decided' then
  return redis.error_reply('MODGATE_DECIDED')
end
if h[1] ~= 'leased' or h[2] ~= ARGV[3] then
  return redis.error_reply('MODGATE_NOT_HOLDER')
end
local expiry = fmt(now_s() + tonumber(ARGV[4]))
redis.call('ZADD', prefix .. h[3] .. ':leased', expiry, post_id)
redis.call('HSET', item, 'lease_expires_at', expiry)
return expiry
"""
)

# KEYS: done, author (or the done key again when there is no author), strikes (or the done key
# again). ARGV: outcome, author action ('' for none), retention_s (how long the done mark is
# kept), strike member ('' for none). Marks a post finalized outside the queue and counts the
# outcome (and a strike) against its author in one step, once: a retry after a lost reply
# finds the done mark and changes nothing. Returns 1 when marked now, 0 when already done.
FINALIZE = (
    _HELPERS
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
if ARGV[2] ~= '' then
  bump_author(KEYS[2], ARGV[2])
end
if ARGV[4] and ARGV[4] ~= '' then
  add_strike(KEYS[3], ARGV[4], now_s())
end
return 1
"""
)
