"""What every Redis store of hot counters shares: the marker that vouches for them.

A rebuild from PostgreSQL writes the ``run_id`` of the Redis process it ran on into the store's
``ready`` key; every script compares it with the live ``run_id`` first. A Redis that restarted
empty has no marker; one that restarted from its files, or a replica promoted by a failover, has
a marker naming another process, and its data may be behind PostgreSQL. Either way the scripts
refuse and the caller rebuilds before counting anything."""

from __future__ import annotations

# Lua: the run_id of the Redis process running the script.
RUN_ID = "string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')"

# Lua: true when KEYS[1] (the marker) vouches for the data of this Redis process.
VOUCHED = f"(redis.call('GET', KEYS[1]) == {RUN_ID})"
