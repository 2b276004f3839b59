"""The two kinds of mimi database file and their tables.

A provider server keeps one file (hub, follower and KeyPackage tables; each
store reads and writes only its own), a client device another. Sequences are
the hub's per-room event numbers: 1 is a room's first event, 0 means "none";
``hub_rooms.sequence`` is the last one logged, so a log that lost rows is found out.
Bump a `version` with every change and add the migration beside it.
"""

from __future__ import annotations

from mimi.storage._base import Schema

# The answers a hub gave in a room's current epoch, by SHA-256 of the message answered
# (`HubStore.index_answers`); those of its latest messages it holds in memory.
HUB_ANSWERS = """CREATE TABLE hub_answers (
        room_id TEXT NOT NULL,
        key BLOB NOT NULL,
        answer BLOB NOT NULL,
        PRIMARY KEY (room_id, key)
    ) STRICT, WITHOUT ROWID"""
# The last sequence logged, and up to where the answers are indexed (or of a past epoch).
HUB_LOG_END = "sequence INTEGER NOT NULL DEFAULT 0 CHECK (sequence >= 0)"
HUB_INDEXED = "indexed_upto INTEGER NOT NULL DEFAULT 0 CHECK (indexed_upto >= 0)"
# Each follower's place in a hub's log of a room (`HubStore.save_cursors`).
HUB_CURSORS = """CREATE TABLE hub_cursors (
        room_id TEXT NOT NULL,
        destination TEXT NOT NULL,
        acknowledged INTEGER NOT NULL CHECK (acknowledged >= 0),
        pending INTEGER NOT NULL CHECK (pending >= 0),
        last INTEGER NOT NULL CHECK (last >= acknowledged),
        PRIMARY KEY (room_id, destination)
    ) STRICT, WITHOUT ROWID"""
# The follower logic's state, a row per room, per subscribed client of a room, per
# buffered batch and per Welcome route, and the local clients' hosts: a /notify writes
# the rows of its room, not the whole state (`FollowerStore.save_logic_state`).
FOLLOWER_LOGIC_ROWS = """
    CREATE TABLE follower_logic_rooms (
        room_id TEXT PRIMARY KEY,
        delivered_upto INTEGER NOT NULL CHECK (delivered_upto >= 0),
        common INTEGER NOT NULL CHECK (common >= 0)
    ) STRICT;
    CREATE TABLE follower_members (
        room_id TEXT NOT NULL,
        client TEXT NOT NULL,
        since INTEGER NOT NULL CHECK (since >= 0),
        behind INTEGER CHECK (behind >= 0),
        PRIMARY KEY (room_id, client)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE follower_waiting (
        room_id TEXT NOT NULL,
        previous INTEGER NOT NULL CHECK (previous >= 0),
        batch BLOB NOT NULL,
        PRIMARY KEY (room_id, previous)
    ) STRICT;
    CREATE TABLE follower_routes (
        ref BLOB PRIMARY KEY,
        client TEXT NOT NULL
    ) STRICT;
    CREATE TABLE follower_hosts (
        client TEXT PRIMARY KEY,
        host TEXT NOT NULL
    ) STRICT;
"""
# Each event a follower stores once, with who got it (`FollowerStore.receive`): NULL when
# every client receiving the room's events did, else JSON ["only", clients] or ["skip",
# clients]; and, while it waits beyond a gap, its recipients (JSON).
FOLLOWER_AUDIENCE = "audience TEXT"
FOLLOWER_PENDING = "pending TEXT"
# A client's inbox of a room: the room's events after `opened`, up to `closed` if it left
# (a row each time it was added).
FOLLOWER_CURSORS = """CREATE TABLE follower_cursors (
        room_id TEXT NOT NULL,
        client TEXT NOT NULL,
        opened INTEGER NOT NULL CHECK (opened >= 0),
        closed INTEGER CHECK (closed >= opened),
        PRIMARY KEY (room_id, client, opened)
    ) STRICT, WITHOUT ROWID"""
_FOLLOWER_RECIPIENTS = """(SELECT json_group_array(i.client) FROM follower_inbox AS i
            WHERE i.room_id = follower_events.room_id AND i.sequence = follower_events.sequence)"""
_FOLLOWER_UPTO = "(SELECT r.delivered_upto FROM follower_rooms AS r WHERE r.room_id = follower_events.room_id)"

# KeyPackages each requesting user claimed of each target user, and when (ms): the
# `/keyMaterial` claim limit's window survives a restart (`KeyPackageStore.record_claim`).
KEY_PACKAGE_CLAIMS = """CREATE TABLE key_package_claims (
        requester TEXT NOT NULL,
        target TEXT NOT NULL,
        at INTEGER NOT NULL,
        count INTEGER NOT NULL CHECK (count > 0)
    ) STRICT;
    CREATE INDEX key_package_claims_at ON key_package_claims (at)"""

SERVER = Schema(
    name="server",
    application_id=0x4D494D53,  # "MIMS"
    version=6,
    ddl=f"""
    CREATE TABLE hub_rooms (
        room_id TEXT PRIMARY KEY,
        state BLOB NOT NULL,
        {HUB_LOG_END},
        {HUB_INDEXED}
    ) STRICT;
    CREATE TABLE hub_events (
        room_id TEXT NOT NULL,
        sequence INTEGER NOT NULL CHECK (sequence > 0),
        accepted_timestamp INTEGER NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (room_id, sequence)
    ) STRICT;
    {HUB_ANSWERS};
    {HUB_CURSORS};
    CREATE TABLE hub_secrets (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;

    CREATE TABLE follower_rooms (
        room_id TEXT PRIMARY KEY,
        start INTEGER NOT NULL CHECK (start >= 0),
        delivered_upto INTEGER NOT NULL CHECK (delivered_upto >= start)
    ) STRICT;
    CREATE TABLE follower_events (
        room_id TEXT NOT NULL,
        sequence INTEGER NOT NULL CHECK (sequence > 0),
        body BLOB NOT NULL,
        {FOLLOWER_AUDIENCE},
        {FOLLOWER_PENDING},
        PRIMARY KEY (room_id, sequence)
    ) STRICT;
    CREATE TABLE follower_logic (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state BLOB NOT NULL
    ) STRICT;
    {FOLLOWER_LOGIC_ROWS}
    {FOLLOWER_CURSORS};

    CREATE TABLE key_packages (
        ref BLOB PRIMARY KEY,
        client TEXT NOT NULL,
        key_package BLOB NOT NULL,
        last_resort INTEGER NOT NULL CHECK (last_resort IN (0, 1)),
        claimed INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1))
    ) STRICT;
    CREATE INDEX key_packages_unclaimed ON key_packages (client, last_resort) WHERE claimed = 0;
    {KEY_PACKAGE_CLAIMS};
    """,
    migrations={
        # 2: a hub keeps its Welcome routes and destinations in the room state (`HubRoom.export`);
        # the tables written for them were never used.
        2: "DROP TABLE hub_key_packages; DROP TABLE hub_followers;",
        # 3: each follower's cursor in a hub's log; a hub finds a room logged before without
        # cursors and starts its followers at the log's start, once.
        3: HUB_CURSORS,
        # 4: each room records how far its log goes (a lost tail is found) and how far
        # its answers are indexed; a hub keeps the answers of each room's epoch (replays
        # are answered from them, not sequenced again). Answers given before this version
        # are not kept: the log counts as indexed.
        4: f"""
        ALTER TABLE hub_rooms ADD COLUMN {HUB_LOG_END};
        ALTER TABLE hub_rooms ADD COLUMN {HUB_INDEXED};
        UPDATE hub_rooms SET sequence = (
            SELECT coalesce(max(e.sequence), 0) FROM hub_events AS e WHERE e.room_id = hub_rooms.room_id);
        UPDATE hub_rooms SET indexed_upto = sequence;
        {HUB_ANSWERS};
        """,
        # 5: the claims of the /keyMaterial limit's window are durable (a restart forgot them).
        5: KEY_PACKAGE_CLAIMS,
        # 6: the follower logic's state in rows (was one record, rewritten whole by every
        # /notify); a provider finds the record of before and writes its rows, once.
        # Inboxes: a cursor per client and room, not a row per client and event; each
        # event delivered names its recipients, each client's inbox closes at its last
        # event (a provider opens those of its subscribed clients again, once).
        6: f"""
        {FOLLOWER_LOGIC_ROWS}
        ALTER TABLE follower_events ADD COLUMN {FOLLOWER_AUDIENCE};
        ALTER TABLE follower_events ADD COLUMN {FOLLOWER_PENDING};
        UPDATE follower_events SET audience = '["only",' || {_FOLLOWER_RECIPIENTS} || ']'
            WHERE sequence <= {_FOLLOWER_UPTO};
        UPDATE follower_events SET pending = {_FOLLOWER_RECIPIENTS} WHERE sequence > {_FOLLOWER_UPTO};
        {FOLLOWER_CURSORS};
        INSERT INTO follower_cursors (room_id, client, opened, closed)
            SELECT i.room_id, i.client, min(i.sequence) - 1, max(i.sequence) FROM follower_inbox AS i
            JOIN follower_rooms AS r USING (room_id) WHERE i.sequence <= r.delivered_upto GROUP BY i.room_id, i.client;
        DROP TABLE follower_inbox;
        """,
    },
)

_CLIENT_SENT = """
    CREATE TABLE client_sent (
        message_id BLOB PRIMARY KEY,
        room_id TEXT NOT NULL,
        content BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        attempts INTEGER NOT NULL CHECK (attempts > 0),
        answered INTEGER NOT NULL CHECK (answered IN (0, 1))
    ) STRICT;
"""

CLIENT = Schema(
    name="client",
    application_id=0x4D494D43,  # "MIMC"
    version=2,
    ddl="""
    CREATE TABLE client_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state BLOB NOT NULL
    ) STRICT;
    CREATE TABLE client_history (
        room_id TEXT NOT NULL,
        sequence INTEGER NOT NULL CHECK (sequence > 0),
        accepted_timestamp INTEGER NOT NULL,
        sender TEXT NOT NULL,
        content BLOB NOT NULL,
        PRIMARY KEY (room_id, sequence)
    ) STRICT;
    """ + _CLIENT_SENT,
    # 2: what a device sent and has not yet seen fanned back, saved before it leaves.
    migrations={2: _CLIENT_SENT},
)
