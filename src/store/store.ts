/**
 * The node's durable store: SQLite (node:sqlite) in the data directory, WAL mode. With synchronous=NORMAL
 * a committed transaction survives a crash or kill -9 of the process (the WAL is in the OS's hands);
 * only a power loss can drop the last commits, and those are announcements and attestations that peers
 * hold too (the sync protocol brings them back). FULL would fsync on every gossip message, on the event
 * loop. Schema migrations are numbered and run in one
 * transaction each.
 */
import { createHash } from 'node:crypto'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { MIGRATIONS } from './schema.ts'
import { addTraffic, trafficSince, type TrafficRow } from './traffic.ts'
import {
  rowToAnnouncement, rowToAttestation, rowToCommitment, rowToJob, rowToVerdict,
  type AttestationRow, type BuildRecord, type CommitmentRow, type ControlRow, type JobRow, type JobState, type StoredAnnouncement, type SyncCursorRows, type SyncItems, type VerdictRow
} from './rows.ts'

export * from './rows.ts'
export { utcDay, type TrafficRow } from './traffic.ts'

export class Store {
  readonly db: DatabaseSync

  constructor (path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    this.db = new DatabaseSync(path)
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000')
    this.migrate()
  }

  private readonly statements = new Map<string, StatementSync>()
  /**
   * the banned builders and the ids of their ban proofs (the sha256 of each proof's bytes, what a sync
   * offer names a proof by), read once (bans) and dropped on every write that may change them
   */
  private banned: { builders: Set<string>, proofIds: string[] } | undefined

  /** A prepared statement, prepared once per store */
  private sql (text: string): StatementSync {
    let st = this.statements.get(text)
    if (st === undefined) {
      st = this.db.prepare(text)
      this.statements.set(text, st)
    }
    return st
  }

  private migrate (): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)')
    const row = this.sql('SELECT version FROM schema_version').get() as { version: number } | undefined
    let version = row?.version ?? 0
    if (row === undefined) this.sql('INSERT INTO schema_version (version) VALUES (0)').run()
    if (version > MIGRATIONS.length) throw new Error(`store schema version ${version} is newer than this skyline (${MIGRATIONS.length})`)
    for (; version < MIGRATIONS.length; version++) {
      this.transaction(() => {
        this.db.exec(MIGRATIONS[version])
        this.sql('UPDATE schema_version SET version = ?').run(version + 1)
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
      this.banned = undefined
      throw err
    }
  }

  hasAnnouncement (id: string): boolean {
    return this.sql('SELECT 1 FROM announcements WHERE id = ?').get(id) !== undefined
  }

  /** The id of the announcement this announcer already sent with this sequence number, if any */
  announcementBySequence (announcer: string, sequence: bigint): string | undefined {
    return (this.sql('SELECT id FROM announcements WHERE announcer = ? AND sequence = ?').get(announcer, sequence) as { id: string } | undefined)?.id
  }

  /** Records an announcement; false if one with this id was already there */
  addAnnouncement (a: StoredAnnouncement): boolean {
    const r = this.sql(`INSERT INTO announcements (id, job, announcer, sequence, nevra, srpm_sha256, issued_at, expires_at, received_at, envelope)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(a.id, a.job, a.announcer, a.sequence, a.nevra, a.srpmSha256, a.issuedAt, a.expiresAt, a.receivedAt, a.envelope)
    return r.changes > 0
  }

  listAnnouncements (): StoredAnnouncement[] {
    return (this.sql('SELECT * FROM announcements ORDER BY received_at, id').all() as any[]).map(rowToAnnouncement)
  }

  announcement (id: string): StoredAnnouncement | undefined {
    const row = this.sql('SELECT * FROM announcements WHERE id = ?').get(id)
    return row === undefined ? undefined : rowToAnnouncement(row)
  }

  /** Queues a job once; false when it was known already */
  addJob (job: string, announcement: string, now = Date.now()): boolean {
    return this.sql('INSERT OR IGNORE INTO jobs (job, announcement, state, created_at, updated_at) VALUES (?, ?, \'queued\', ?, ?)')
      .run(job, announcement, now, now).changes > 0
  }

  job (job: string): JobRow | undefined {
    const r = this.sql('SELECT * FROM jobs WHERE job = ?').get(job)
    return r === undefined ? undefined : rowToJob(r)
  }

  jobs (states?: JobState[]): JobRow[] {
    const rows = states === undefined
      ? this.sql('SELECT * FROM jobs ORDER BY created_at, job').all()
      : this.sql(`SELECT * FROM jobs WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY created_at, job`).all(...states)
    return rows.map(rowToJob)
  }

  setJobState (job: string, state: JobState, error?: string, now = Date.now()): void {
    this.sql('UPDATE jobs SET state = ?, error = ?, updated_at = ?, attempts = attempts + (CASE WHEN ? = \'fetching\' THEN 1 ELSE 0 END) WHERE job = ?')
      .run(state, error ?? null, now, state, job)
  }

  /**
   * After a crash or kill -9: jobs caught mid-way (fetching, building) go back to the queue, or fail
   * once they have used up their attempts. Returns what was done, for the log.
   */
  recoverJobs (maxAttempts: number, now = Date.now()): { requeued: string[], failed: string[] } {
    return this.transaction(() => {
      const stuck = this.jobs(['fetching', 'building'])
      const requeued: string[] = []
      const failed: string[] = []
      for (const j of stuck) {
        if (j.attempts >= maxAttempts) {
          this.setJobState(j.job, 'failed', `interrupted ${j.attempts} times`, now)
          failed.push(j.job)
        } else {
          this.setJobState(j.job, 'queued', `interrupted while ${j.state}; redone`, now)
          requeued.push(j.job)
        }
      }
      return { requeued, failed }
    })
  }

  /** Records a finished build and its job's final state in one transaction; `reason` for a failed one */
  recordBuild (b: BuildRecord, reason = 'build failed'): void {
    this.transaction(() => {
      this.sql(`INSERT OR REPLACE INTO builds (job, status, build_hash, files, environment, duration_ms, log_excerpt, finished_at, official)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(b.job, b.status, b.buildHash ?? null, JSON.stringify(b.files), JSON.stringify(b.environment), b.durationMs, b.logExcerpt ?? null, b.finishedAt,
        b.official === undefined ? null : JSON.stringify(b.official))
      this.setJobState(b.job, b.status === 'ok' ? 'built' : 'failed', b.status === 'ok' ? undefined : reason, b.finishedAt)
    })
  }

  build (job: string): BuildRecord | undefined {
    const r = this.sql('SELECT * FROM builds WHERE job = ?').get(job) as any
    if (r === undefined) return undefined
    return {
      job: r.job,
      status: r.status,
      buildHash: r.build_hash ?? undefined,
      files: JSON.parse(r.files),
      environment: JSON.parse(r.environment),
      durationMs: Number(r.duration_ms),
      logExcerpt: r.log_excerpt ?? undefined,
      finishedAt: Number(r.finished_at),
      ...(r.official !== null ? { official: JSON.parse(r.official) } : {})
    }
  }

  /** Records a control message; false when it was known already */
  addControl (c: ControlRow): boolean {
    return this.sql(`INSERT OR IGNORE INTO control (id, action, reason, issued_at, sequence, announcer, received_at, envelope)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(c.id, c.action, c.reason, c.issuedAt, c.sequence, c.announcer, c.receivedAt, c.envelope).changes > 0
  }

  hasControl (id: string): boolean {
    return this.sql('SELECT 1 FROM control WHERE id = ?').get(id) !== undefined
  }

  /** The control message in force: the latest by issue time, then sequence, then id */
  latestControl (): ControlRow | undefined {
    const r = this.sql('SELECT * FROM control ORDER BY issued_at DESC, sequence DESC, id DESC LIMIT 1').get() as any
    if (r === undefined) return undefined
    return { id: r.id, action: r.action, reason: r.reason, issuedAt: Number(r.issued_at), sequence: BigInt(r.sequence), announcer: r.announcer, receivedAt: Number(r.received_at), envelope: new Uint8Array(r.envelope) }
  }

  /** Records an attestation; false when this builder already has one for this job */
  addAttestation (a: AttestationRow): boolean {
    return this.sql(`INSERT OR IGNORE INTO attestations (id, job, builder, status, build_hash, time, received_at, envelope, contributor, duration_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(a.id, a.job, a.builder, a.status, a.buildHash ?? null, a.time, a.receivedAt, a.envelope, a.contributor, a.durationMs).changes > 0
  }

  attestation (job: string, builder: string): AttestationRow | undefined {
    const r = this.sql('SELECT * FROM attestations WHERE job = ? AND builder = ?').get(job, builder)
    return r === undefined ? undefined : rowToAttestation(r)
  }

  attestations (job?: string): AttestationRow[] {
    const rows = job === undefined
      ? this.sql('SELECT * FROM attestations ORDER BY received_at, id').all()
      : this.sql('SELECT * FROM attestations WHERE job = ? ORDER BY builder').all(job)
    return rows.map(rowToAttestation)
  }

  /** Records a rules-v2 commitment; false when this builder already has one for this job */
  addCommitment (c: CommitmentRow): boolean {
    return this.sql('INSERT OR IGNORE INTO commitments (id, job, builder, commitment, time, received_at, envelope, nonce) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(c.id, c.job, c.builder, c.commitment, c.time, c.receivedAt, c.envelope, c.nonce ?? null).changes > 0
  }

  commitment (job: string, builder: string): CommitmentRow | undefined {
    const r = this.sql('SELECT * FROM commitments WHERE job = ? AND builder = ?').get(job, builder)
    return r === undefined ? undefined : rowToCommitment(r)
  }

  /** A job's commitments, by builder */
  commitments (job: string): CommitmentRow[] {
    return this.sql('SELECT * FROM commitments WHERE job = ? ORDER BY builder').all(job).map(rowToCommitment)
  }

  /** This node's own commitments (those with a nonce) */
  ownCommitments (): CommitmentRow[] {
    return this.sql('SELECT * FROM commitments WHERE nonce IS NOT NULL').all().map(rowToCommitment)
  }

  hasCommitment (id: string): boolean {
    return this.sql('SELECT 1 FROM commitments WHERE id = ?').get(id) !== undefined
  }

  /**
   * What a sync answer carries: per kind, the rows stored after `after` (rowids; these tables are only
   * ever appended to, so rowids only grow), oldest first, at most `limit` of each kind, with the cursor
   * that follows them: the last row sent when the limit cut the list, else the newest row there is, so an
   * asker that sends it back gets only what is stored later. Of those, only items whose own time is at or
   * after `since` (Unix ms): the asker says it holds the older ones. A cursor beyond the newest row
   * (a store that was replaced) counts as no cursor for that kind: everything is sent again. Expired
   * announcements are never sent. Runs without yielding, so nothing stored meanwhile falls between the
   * list and the cursor.
   */
  syncItems (since: number, limit: number, after?: SyncCursorRows): SyncItems {
    const page = (table: string, column: string, time: string, from: number | undefined, extra = '', params: number[] = []): { rows: Uint8Array[], ids: string[], last: number } => {
      const newest = Number((this.sql(`SELECT max(rowid) AS m FROM ${table}`).get() as { m: number | null }).m ?? 0)
      const start = from !== undefined && from <= newest ? from : undefined
      const id = table === 'banned' ? "''" : 'id'
      const rows = this.sql(`SELECT rowid AS r, ${id} AS i, ${column} AS e FROM ${table} WHERE rowid > ? AND ${time} >= ?${extra} ORDER BY rowid LIMIT ?`)
        .all(start ?? 0, since, ...params, limit) as Array<{ r: number, i: string, e: Uint8Array }>
      const last = rows.length >= limit ? Number(rows[rows.length - 1].r) : newest
      // a proof has no id column: it is stored byte for byte, and its id is the sha256 of those bytes
      return { rows: rows.map(r => new Uint8Array(r.e)), ids: rows.map(r => r.i !== '' ? r.i : proofId(r.e)), last }
    }
    const a = page('announcements', 'envelope', 'received_at', after?.announcements, ' AND expires_at > ?', [Date.now()])
    const t = page('attestations', 'envelope', 'time', after?.attestations)
    const c = page('control', 'envelope', 'issued_at', after?.controls)
    const p = page('banned', 'proof', 'banned_at', after?.proofs)
    const m = page('commitments', 'envelope', 'time', after?.commitments)
    return {
      commitments: m.rows,
      announcements: a.rows,
      attestations: t.rows,
      controls: c.rows,
      proofs: p.rows,
      ids: { commitments: m.ids, announcements: a.ids, attestations: t.ids, controls: c.ids, proofs: p.ids },
      cursor: { announcements: a.last, attestations: t.last, controls: c.last, proofs: p.last, commitments: m.last }
    }
  }

  /**
   * Whether the store holds an item of this sync kind whose id (hex sha256 of its signed payload; of a
   * proof, of its bytes) begins with `prefix` (hex): what an asker checks an offer by (sync.md, "Ids
   * before items")
   */
  holdsIdPrefix (kind: keyof SyncItems['ids'], prefix: string): boolean {
    // bans are few (one per equivocating builder): their proof ids are kept with the banned set, not indexed
    if (kind === 'proofs') return this.bans().proofIds.some(id => id.startsWith(prefix))
    const table = { announcements: 'announcements', controls: 'control', attestations: 'attestations', commitments: 'commitments' }[kind]
    return this.sql(`SELECT 1 FROM ${table} WHERE id >= ? AND id <= ? LIMIT 1`).get(prefix, prefix + 'g') !== undefined
  }

  /** Whether an attestation with this id (hex sha256 of its signed payload) is stored */
  hasAttestation (id: string): boolean {
    return this.sql('SELECT 1 FROM attestations WHERE id = ?').get(id) !== undefined
  }

  /** Whether this exact equivocation proof is stored */
  hasProof (proof: Uint8Array): boolean {
    return this.sql('SELECT 1 FROM banned WHERE proof = ?').get(proof) !== undefined
  }

  setVerdict (v: Omit<VerdictRow, 'reputationApplied'>): void {
    this.sql(`INSERT INTO verdicts (job, verdict, hash, final, detail, updated_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (job) DO UPDATE SET verdict = excluded.verdict, hash = excluded.hash, final = excluded.final, detail = excluded.detail, updated_at = excluded.updated_at`)
      .run(v.job, v.verdict, v.hash ?? null, v.final ? 1 : 0, v.detail, v.updatedAt)
  }

  verdict (job: string): VerdictRow | undefined {
    const r = this.sql('SELECT * FROM verdicts WHERE job = ?').get(job)
    return r === undefined ? undefined : rowToVerdict(r)
  }

  verdicts (): VerdictRow[] {
    return this.sql('SELECT * FROM verdicts ORDER BY updated_at, job').all().map(rowToVerdict)
  }

  markReputationApplied (job: string): void {
    this.sql('UPDATE verdicts SET reputation_applied = 1 WHERE job = ?').run(job)
  }

  /** Jobs announced but without a final verdict, with their deadlines */
  openJobs (): Array<{ job: string, expiresAt: number }> {
    return this.sql(`SELECT a.job AS job, max(a.expires_at) AS expires_at FROM announcements a LEFT JOIN verdicts v ON v.job = a.job
      WHERE v.final IS NULL OR v.final = 0 GROUP BY a.job`).all().map((r: any) => ({ job: r.job, expiresAt: Number(r.expires_at) }))
  }

  announcementForJob (job: string): StoredAnnouncement | undefined {
    const row = this.sql('SELECT * FROM announcements WHERE job = ? ORDER BY received_at LIMIT 1').get(job)
    return row === undefined ? undefined : rowToAnnouncement(row)
  }

  ban (builder: string, job: string, proof: Uint8Array, at = Date.now()): boolean {
    this.banned = undefined
    return this.sql('INSERT OR IGNORE INTO banned (builder, job, proof, banned_at) VALUES (?, ?, ?, ?)').run(builder, job, proof, at).changes > 0
  }

  isBanned (builder: string): boolean {
    return this.bannedSet().has(builder)
  }

  /**
   * The builders banned for equivocation. Every attestation, commitment and reveal asks (the seats leave
   * them out), and bans are rare: the set is read once and kept until `ban` (or a rolled-back
   * transaction) may have changed the table.
   */
  bannedSet (): ReadonlySet<string> {
    return this.bans().builders
  }

  private bans (): { builders: Set<string>, proofIds: string[] } {
    if (this.banned === undefined) {
      const rows = this.sql('SELECT builder, proof FROM banned').all() as Array<{ builder: string, proof: Uint8Array }>
      this.banned = { builders: new Set(rows.map(r => r.builder)), proofIds: rows.map(r => proofId(r.proof)) }
    }
    return this.banned
  }

  saveReputation (rows: Array<{ builder: string, agree: number, dissent: number, updatedAt: number }>): void {
    this.transaction(() => {
      for (const r of rows) {
        this.sql(`INSERT INTO reputation (builder, agree, dissent, updated_at) VALUES (?, ?, ?, ?)
          ON CONFLICT (builder) DO UPDATE SET agree = excluded.agree, dissent = excluded.dissent, updated_at = excluded.updated_at`).run(r.builder, r.agree, r.dissent, r.updatedAt)
      }
    })
  }

  reputationRows (): Array<{ builder: string, agree: number, dissent: number, updatedAt: number }> {
    return this.sql('SELECT * FROM reputation').all().map((r: any) => ({ builder: r.builder, agree: Number(r.agree), dissent: Number(r.dissent), updatedAt: Number(r.updated_at) }))
  }

  /**
   * What the stats tracker reads: every attestation's claim, contributor and duration (not the
   * envelopes), and every verdict's detail.
   */
  statsInput (): { attestations: Array<{ job: string, builder: string, status: 'ok' | 'failed', time: number, contributor: string, durationMs: number }>, verdicts: Array<{ job: string, final: boolean, detail: string }> } {
    return {
      attestations: this.sql('SELECT job, builder, status, time, contributor, duration_ms FROM attestations').all()
        .map((r: any) => ({ job: r.job, builder: r.builder, status: r.status, time: Number(r.time), contributor: r.contributor, durationMs: Number(r.duration_ms) })),
      verdicts: this.sql('SELECT job, final, detail FROM verdicts').all().map((r: any) => ({ job: r.job, final: r.final === 1, detail: r.detail }))
    }
  }

  /** Jobs whose announcement row predates the issued_at column (0): the eligibility service fills it in */
  jobsWithoutIssuedAt (): string[] {
    return this.sql('SELECT DISTINCT job FROM announcements WHERE issued_at = 0').all().map((r: any) => r.job)
  }

  /** The jobs of the newest announcements by issue time */
  newestJobs (limit: number): string[] {
    return this.sql('SELECT job FROM announcements ORDER BY issued_at DESC, id LIMIT ?').all(limit).map((r: any) => r.job)
  }

  setIssuedAt (job: string, issuedAt: number): void {
    this.sql('UPDATE announcements SET issued_at = ? WHERE job = ? AND issued_at = 0').run(issuedAt, job)
  }

  /**
   * What eligibility is judged from (src/rules/eligibility.ts): the final agreed and disputed verdicts, each
   * with its job's issue time (the earliest announcement of the job), all of them or one job's.
   */
  buildHistory (job?: string): Array<{ job: string, issuedAt: number, detail: string }> {
    const query = `SELECT v.job AS job, v.detail AS detail, min(a.issued_at) AS issued_at FROM verdicts v JOIN announcements a ON a.job = v.job
      WHERE v.final = 1 AND v.verdict IN ('agreed', 'disputed') AND a.issued_at > 0`
    const rows = job === undefined ? this.sql(`${query} GROUP BY v.job`).all() : this.sql(`${query} AND v.job = ? GROUP BY v.job`).all(job)
    return rows.map((r: any) => ({ job: r.job, issuedAt: Number(r.issued_at), detail: r.detail }))
  }

  /** Adds bytes to the traffic log (per UTC day and protocol) */
  addTraffic (rows: readonly TrafficRow[]): void {
    if (rows.length > 0) this.transaction(() => { addTraffic(this.db, rows) })
  }

  /** The traffic log from `since` (YYYY-MM-DD) on */
  traffic (since: string): TrafficRow[] {
    return trafficSince(this.db, since)
  }

  integrityCheck (): string {
    return (this.sql('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check
  }

  close (): void {
    if (this.db.isOpen) this.db.close()
  }
}

/** The id of an equivocation proof in a sync offer: the hex sha256 of its bytes */
function proofId (proof: Uint8Array): string {
  return createHash('sha256').update(proof).digest('hex')
}
