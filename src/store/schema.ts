/** The store's schema: numbered migrations, each run once in its own transaction (src/store/store.ts). */
export const MIGRATIONS: string[] = [
  `CREATE TABLE announcements (
     id TEXT PRIMARY KEY,            -- hex sha256 of the signed payload
     job TEXT NOT NULL,              -- hex job key
     announcer TEXT NOT NULL,        -- hex Ed25519 public key
     sequence INTEGER NOT NULL,
     nevra TEXT NOT NULL,
     srpm_sha256 TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     received_at INTEGER NOT NULL,
     envelope BLOB NOT NULL,         -- the exact gossiped bytes
     UNIQUE (announcer, sequence)
   )`,
  'CREATE INDEX announcements_job ON announcements (job)',
  `CREATE TABLE jobs (
     job TEXT PRIMARY KEY,           -- hex job key
     announcement TEXT NOT NULL REFERENCES announcements (id),
     state TEXT NOT NULL CHECK (state IN ('queued', 'fetching', 'building', 'built', 'failed', 'refused')),
     attempts INTEGER NOT NULL DEFAULT 0,
     error TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   )`,
  'CREATE INDEX jobs_state ON jobs (state)',
  `CREATE TABLE builds (
     job TEXT PRIMARY KEY REFERENCES jobs (job),
     status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
     build_hash TEXT,
     files TEXT NOT NULL,            -- JSON [{name, size, sha256}]
     environment TEXT NOT NULL,      -- JSON {builder, rpmVersion, target, ...}
     duration_ms INTEGER NOT NULL,
     log_excerpt TEXT,
     finished_at INTEGER NOT NULL
   )`,
  `CREATE TABLE control (
     id TEXT PRIMARY KEY,            -- hex sha256 of the signed payload
     action TEXT NOT NULL CHECK (action IN ('halt', 'resume')),
     reason TEXT NOT NULL,
     issued_at INTEGER NOT NULL,
     sequence INTEGER NOT NULL,
     announcer TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     envelope BLOB NOT NULL
   )`,
  `CREATE TABLE attestations (
     id TEXT PRIMARY KEY,            -- hex sha256 of the signed payload
     job TEXT NOT NULL,
     builder TEXT NOT NULL,          -- peer ID
     status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
     build_hash TEXT,
     time INTEGER NOT NULL,          -- the builder's own time, Unix ms
     received_at INTEGER NOT NULL,
     envelope BLOB NOT NULL,         -- the exact SignedAttestation bytes
     UNIQUE (job, builder)           -- one claim per builder per job; a second is an equivocation
   )`,
  `CREATE TABLE verdicts (
     job TEXT PRIMARY KEY,
     verdict TEXT NOT NULL,
     hash TEXT,
     final INTEGER NOT NULL,
     detail TEXT NOT NULL,           -- JSON of the whole tally
     reputation_applied INTEGER NOT NULL DEFAULT 0,
     updated_at INTEGER NOT NULL
   )`,
  `CREATE TABLE banned (
     builder TEXT PRIMARY KEY,
     job TEXT NOT NULL,
     proof BLOB NOT NULL,            -- the EquivocationProof bytes
     banned_at INTEGER NOT NULL
   )`,
  `CREATE TABLE reputation (
     builder TEXT PRIMARY KEY,
     agree REAL NOT NULL,
     dissent REAL NOT NULL,
     updated_at INTEGER NOT NULL
   )`,
  // the stats tracker: who runs each builder and how long its build took, from the signed attestation
  'ALTER TABLE attestations ADD COLUMN contributor TEXT NOT NULL DEFAULT \'\'',
  'ALTER TABLE attestations ADD COLUMN duration_ms INTEGER NOT NULL DEFAULT 0',
  // rules v2 commit-reveal: a seat's signed commitment before it reveals (docs/protocols/consensus.md)
  `CREATE TABLE commitments (
     id TEXT PRIMARY KEY,            -- hex sha256 of the signed payload
     job TEXT NOT NULL,
     builder TEXT NOT NULL,          -- peer ID
     commitment TEXT NOT NULL,       -- hex commitment value
     time INTEGER NOT NULL,          -- the builder's own time, Unix ms
     received_at INTEGER NOT NULL,
     envelope BLOB NOT NULL,         -- the exact SignedAttestation bytes
     nonce TEXT,                     -- this node's own commitments only: the hex nonce it reveals with
     UNIQUE (job, builder)           -- one commitment per builder per job; a second is an equivocation
   )`,
  // attestation v3: a build's comparison with the official build, JSON {reproduces, differences} (NULL: none)
  'ALTER TABLE builds ADD COLUMN official TEXT',
  // rules v2 eligibility: the announcer's signed issue time of each job, the time of its build events
  // (0 for rows stored before: filled in from the envelope at start, src/services/eligibility.ts)
  'ALTER TABLE announcements ADD COLUMN issued_at INTEGER NOT NULL DEFAULT 0',
  // the volunteer's bandwidth: bytes per UTC day and protocol, from libp2p's own counters (src/services/traffic.ts)
  `CREATE TABLE traffic (
     day TEXT NOT NULL,              -- UTC date, YYYY-MM-DD
     protocol TEXT NOT NULL,         -- a libp2p protocol ID, or 'global': every byte through the node's connections
     sent INTEGER NOT NULL DEFAULT 0,
     received INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (day, protocol)
   )`
]
