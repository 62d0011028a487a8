/**
 * The node's durable store: SQLite (node:sqlite) in the data directory, WAL mode, synchronous=FULL so a
 * crash or kill -9 loses nothing that was acknowledged. Schema migrations are numbered and run in one
 * transaction each.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

const MIGRATIONS: string[] = [
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
  'CREATE INDEX announcements_job ON announcements (job)'
]

export interface StoredAnnouncement {
  id: string
  job: string
  announcer: string
  sequence: bigint
  nevra: string
  srpmSha256: string
  expiresAt: number
  receivedAt: number
  envelope: Uint8Array
}

export class Store {
  readonly db: DatabaseSync
  private readonly stmts: {
    getAnnouncement: StatementSync
    getBySequence: StatementSync
    insertAnnouncement: StatementSync
    listAnnouncements: StatementSync
  }

  constructor (path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    this.db = new DatabaseSync(path)
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000')
    this.migrate()
    this.stmts = {
      getAnnouncement: this.db.prepare('SELECT * FROM announcements WHERE id = ?'),
      getBySequence: this.db.prepare('SELECT id FROM announcements WHERE announcer = ? AND sequence = ?'),
      insertAnnouncement: this.db.prepare(`INSERT INTO announcements (id, job, announcer, sequence, nevra, srpm_sha256, expires_at, received_at, envelope)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      listAnnouncements: this.db.prepare('SELECT * FROM announcements ORDER BY received_at, id')
    }
  }

  private migrate (): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)')
    const row = this.db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined
    let version = row?.version ?? 0
    if (row === undefined) this.db.prepare('INSERT INTO schema_version (version) VALUES (0)').run()
    if (version > MIGRATIONS.length) throw new Error(`store schema version ${version} is newer than this skyline (${MIGRATIONS.length})`)
    for (; version < MIGRATIONS.length; version++) {
      this.transaction(() => {
        this.db.exec(MIGRATIONS[version])
        this.db.prepare('UPDATE schema_version SET version = ?').run(version + 1)
      })
    }
  }

  transaction<T> (fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const result = fn()
      this.db.exec('COMMIT')
      return result
    } catch (err) {
      this.db.exec('ROLLBACK')
      throw err
    }
  }

  hasAnnouncement (id: string): boolean {
    return this.stmts.getAnnouncement.get(id) !== undefined
  }

  /** The id of the announcement this announcer already sent with this sequence number, if any */
  announcementBySequence (announcer: string, sequence: bigint): string | undefined {
    return (this.stmts.getBySequence.get(announcer, sequence) as { id: string } | undefined)?.id
  }

  /** Records an announcement; false if one with this id was already there */
  addAnnouncement (a: StoredAnnouncement): boolean {
    const r = this.stmts.insertAnnouncement.run(a.id, a.job, a.announcer, a.sequence, a.nevra, a.srpmSha256, a.expiresAt, a.receivedAt, a.envelope)
    return r.changes > 0
  }

  listAnnouncements (): StoredAnnouncement[] {
    return (this.stmts.listAnnouncements.all() as any[]).map(rowToAnnouncement)
  }

  integrityCheck (): string {
    return (this.db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check
  }

  close (): void {
    if (this.db.isOpen) this.db.close()
  }
}

function rowToAnnouncement (r: any): StoredAnnouncement {
  return {
    id: r.id,
    job: r.job,
    announcer: r.announcer,
    sequence: BigInt(r.sequence),
    nevra: r.nevra,
    srpmSha256: r.srpm_sha256,
    expiresAt: Number(r.expires_at),
    receivedAt: Number(r.received_at),
    envelope: new Uint8Array(r.envelope)
  }
}
