/**
 * The catalog's tables in PostgreSQL: those of the embedded catalog (catalog.ts), plus the
 * `changes` table that numbers every change. Its serial is what daemons sharing the
 * database compare: NOTIFY carries only that number (a payload has no replay and is limited to
 * 8,000 bytes), and a daemon that missed some reads the rows after its last serial.
 *
 * Made or upgraded under an advisory lock, so that daemons started together do not race.
 */
export const PG_SCHEMA_VERSION = 1;

/** The channel NOTIFY uses; the payload is the new serial. */
export const CHANGES_CHANNEL = 'pyrepo_changes';

/** The advisory lock key taken while the schema is made (any constant both sides agree on). */
export const SCHEMA_LOCK_KEY = 0x7079_7265; // "pyre"

/**
 * The `changes` row of an edit to the users and access document, which is not a project's:
 * project names are normalized (letters, digits, hyphens), so this one cannot be taken.
 */
export const IDENTITY_CHANGE = ':identity';

export const PG_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
  name TEXT PRIMARY KEY,
  display_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
  filename TEXT PRIMARY KEY,
  relpath TEXT NOT NULL UNIQUE,
  project TEXT NOT NULL REFERENCES projects (name),
  version TEXT NOT NULL,
  release_key TEXT NOT NULL,
  packagetype TEXT NOT NULL,
  python_version TEXT NOT NULL,
  size BIGINT NOT NULL,
  mtime_ms BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  md5 TEXT NOT NULL,
  blake2b_256 TEXT NOT NULL,
  requires_python TEXT,
  metadata_sha256 TEXT,
  upload_time TEXT NOT NULL,
  source TEXT,
  uploaded_by TEXT,
  uploaded_from TEXT
);
CREATE INDEX IF NOT EXISTS files_by_project ON files (project);
CREATE TABLE IF NOT EXISTS core_metadata (
  filename TEXT PRIMARY KEY REFERENCES files (filename) ON DELETE CASCADE,
  bytes BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
  project TEXT NOT NULL,
  release_key TEXT NOT NULL,
  yanked BOOLEAN NOT NULL DEFAULT FALSE,
  yanked_reason TEXT,
  yanked_by TEXT,
  yanked_from TEXT,
  PRIMARY KEY (project, release_key)
);
CREATE TABLE IF NOT EXISTS owners (
  project TEXT NOT NULL,
  "user" TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('owner', 'maintainer')),
  PRIMARY KEY (project, "user")
);
-- The first uploader's claim on a project nobody owns. Two daemons may each see no owner at
-- once (each statement reads its own snapshot): the unique index lets only one claim in,
-- the other waits for it and then does nothing. Added in place to a catalog made before it
-- (looked up first: ALTER TABLE would lock the table at every start even when there is nothing to do).
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'owners' AND column_name = 'claimed') THEN
    ALTER TABLE owners ADD COLUMN claimed BOOLEAN NOT NULL DEFAULT false;
    CREATE UNIQUE INDEX owners_one_claim ON owners (project) WHERE claimed;
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS downloads (
  filename TEXT NOT NULL REFERENCES files (filename) ON DELETE CASCADE,
  day TEXT NOT NULL,
  installer TEXT NOT NULL,
  ci BOOLEAN NOT NULL,
  count BIGINT NOT NULL,
  PRIMARY KEY (filename, day, installer, ci)
);
CREATE INDEX IF NOT EXISTS downloads_by_day ON downloads (day);
CREATE TABLE IF NOT EXISTS activity (
  id BIGSERIAL PRIMARY KEY,
  time TEXT NOT NULL,
  action TEXT NOT NULL,
  project TEXT NOT NULL,
  version TEXT,
  filename TEXT,
  "user" TEXT,
  address TEXT,
  reason TEXT
);
CREATE INDEX IF NOT EXISTS activity_by_project ON activity (project, id);
-- Users (htpasswd lines) and access (roles, API tokens) as the files of a data folder hold
-- them, in one row: edits are rare and whole, and the same parsing and checks apply.
CREATE TABLE IF NOT EXISTS identity (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  htpasswd TEXT NOT NULL,
  access JSONB NOT NULL,
  version BIGINT NOT NULL
);
-- Each daemon's heartbeat: \`status\` lists the daemons seen lately.
CREATE TABLE IF NOT EXISTS daemons (
  instance TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  version TEXT NOT NULL,
  started_at TIMESTAMPTZ NOT NULL,
  seen_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
  serial BIGSERIAL PRIMARY KEY,
  project TEXT NOT NULL,
  at TIMESTAMPTZ NOT NULL DEFAULT now()
);
`;
