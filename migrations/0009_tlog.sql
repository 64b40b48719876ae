-- 0009: the transparency log (issue 5 "Transparency log"; src/tlog/). Nothing personal is ever
-- stored here: an entry holds a stage, an authority, a timestamp and a commitment (a salted hash
-- of the request record); the record and its salt stay with the disclosure request.
--
-- Storage choice: besides the entries and their leaf hashes, every perfect subtree hash of the
-- RFC 6962 tree is kept (tlog_nodes, about 2n rows for n entries; level 0 repeats the leaf
-- hashes). A C2SP tlog-tiles tile at level L is then one range read of tlog_nodes at level 8L,
-- and any root or proof is O(log n) point reads (the ranges RFC 6962 proofs carry are made of
-- at most log n perfect subtrees each). Tiles themselves are not stored: they are slices of
-- this table, so partial tiles of every width come for free.

-- One row: the next index to append. Appenders take its row lock (UPDATE ... RETURNING) in
-- their own transaction, so concurrent appends get consecutive indexes, with no gap when one
-- rolls back (its increment rolls back with it).
CREATE TABLE tlog_state (
  id         boolean PRIMARY KEY DEFAULT true CHECK (id),
  next_index bigint  NOT NULL DEFAULT 0 CHECK (next_index >= 0)
);
INSERT INTO tlog_state DEFAULT VALUES;

-- One row: how many entries the stored tree nodes cover (advanced by the signer, under an
-- advisory lock; a separate row so that signing never waits for an appender's transaction).
CREATE TABLE tlog_tree (
  id   boolean PRIMARY KEY DEFAULT true CHECK (id),
  size bigint  NOT NULL DEFAULT 0 CHECK (size >= 0)
);
INSERT INTO tlog_tree DEFAULT VALUES;

CREATE TABLE tlog_entries (
  idx        bigint      PRIMARY KEY CHECK (idx >= 0),
  -- The canonical JSON of the entry (src/tlog/entry.ts), at most 65,535 bytes (tlog-tiles).
  entry      text        NOT NULL CHECK (octet_length(entry) BETWEEN 1 AND 65535),
  leaf_hash  bytea       NOT NULL CHECK (length(leaf_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tlog_nodes (
  level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
  idx   bigint   NOT NULL CHECK (idx >= 0),
  hash  bytea    NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, idx)
);

-- Signed checkpoints (C2SP tlog-checkpoint notes signed by the log key). A new log key starts a
-- new origin over the same tree (docs/tlog.md "Replacing the log key").
CREATE TABLE tlog_checkpoints (
  origin     text        NOT NULL,
  size       bigint      NOT NULL CHECK (size >= 0),
  root       bytea       NOT NULL CHECK (length(root) = 32),
  text       text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (origin, size)
);

-- Witness cosignatures (C2SP tlog-witness / tlog-cosignature): one signature line per witness
-- per checkpoint, published with it.
CREATE TABLE tlog_cosignatures (
  origin         text        NOT NULL,
  size           bigint      NOT NULL,
  witness        text        NOT NULL,
  signature_line text        NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (origin, size, witness),
  FOREIGN KEY (origin, size) REFERENCES tlog_checkpoints (origin, size)
);

-- Append-only: entries, nodes and checkpoints are never changed or deleted by the hub.
CREATE FUNCTION tlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the transparency log is append-only (%)', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER tlog_entries_append_only BEFORE UPDATE OR DELETE ON tlog_entries FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_nodes_append_only BEFORE UPDATE OR DELETE ON tlog_nodes FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_checkpoints_append_only BEFORE UPDATE OR DELETE ON tlog_checkpoints FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
