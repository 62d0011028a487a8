/** The rows of the node's store, as the rest of the node sees them, and their conversion from SQLite rows. */
import type { CheckedAnnouncement } from '../protocols/announce.ts'
import type { OfficialClaim } from '../rules/official.ts'

export interface AttestationRow {
  id: string
  job: string
  builder: string
  status: 'ok' | 'failed'
  buildHash: string | undefined
  time: number
  receivedAt: number
  envelope: Uint8Array
  /** the builder's contributor name ('' when not set) */
  contributor: string
  /** the claimed build duration, ms */
  durationMs: number
}

export interface VerdictRow {
  job: string
  verdict: string
  hash: string | undefined
  final: boolean
  detail: string
  reputationApplied: boolean
  updatedAt: number
}

export interface ControlRow {
  id: string
  action: 'halt' | 'resume'
  reason: string
  issuedAt: number
  sequence: bigint
  announcer: string
  receivedAt: number
  envelope: Uint8Array
}

export type JobState = 'queued' | 'fetching' | 'building' | 'built' | 'failed' | 'refused'

export interface JobRow {
  job: string
  announcement: string
  state: JobState
  attempts: number
  error: string | undefined
  createdAt: number
  updatedAt: number
}

export interface BuildRecord {
  job: string
  status: 'ok' | 'failed'
  buildHash: string | undefined
  /** chunkSize and chunkRoot: the output's blob reference in this node's store, attested with it */
  files: Array<{ name: string, size: number, sha256: string, chunkSize?: number, chunkRoot?: string }>
  environment: Record<string, string>
  durationMs: number
  logExcerpt: string | undefined
  finishedAt: number
  /** how the outputs compare with the official build the job's manifest lists (attested with them); absent when it lists none */
  official?: OfficialClaim
}

/** Where a sync answer stopped, per kind: rowids of the answering node's store (src/services/sync.ts) */
export interface SyncCursorRows {
  announcements: number
  controls: number
  attestations: number
  proofs: number
  commitments: number
}

/** What a sync answer carries (Store.syncItems): per kind, the stored bytes and their ids, in the same order */
export interface SyncItems {
  announcements: Uint8Array[]
  attestations: Uint8Array[]
  controls: Uint8Array[]
  proofs: Uint8Array[]
  commitments: Uint8Array[]
  /** per kind, the hex id of each item above (sha256 of its signed payload; of a proof, of its bytes) */
  ids: { announcements: string[], attestations: string[], controls: string[], proofs: string[], commitments: string[] }
  cursor: SyncCursorRows
}

/** A rules-v2 commitment as stored; `nonce` only on this node's own */
export interface CommitmentRow {
  id: string
  job: string
  builder: string
  commitment: string
  time: number
  receivedAt: number
  envelope: Uint8Array
  nonce?: string
}

export interface StoredAnnouncement {
  id: string
  job: string
  announcer: string
  sequence: bigint
  nevra: string
  srpmSha256: string
  /** the announcer's signed issue time, Unix ms (0: a row stored before it was kept) */
  issuedAt: number
  expiresAt: number
  receivedAt: number
  envelope: Uint8Array
}

/** The row of a checked announcement, received now */
export function announcementRow (checked: CheckedAnnouncement, receivedAt = Date.now()): StoredAnnouncement {
  const a = checked.announcement
  return {
    id: checked.id,
    job: checked.job,
    announcer: checked.announcer,
    sequence: a.sequence,
    nevra: a.nevra,
    srpmSha256: Buffer.from(a.srpmSha256).toString('hex'),
    issuedAt: Number(a.issuedAt),
    expiresAt: Number(a.expiresAt),
    receivedAt,
    envelope: checked.envelope
  }
}

export function rowToCommitment (r: any): CommitmentRow {
  return { id: r.id, job: r.job, builder: r.builder, commitment: r.commitment, time: Number(r.time), receivedAt: Number(r.received_at), envelope: new Uint8Array(r.envelope), ...(r.nonce !== null ? { nonce: r.nonce } : {}) }
}

export function rowToAttestation (r: any): AttestationRow {
  return { id: r.id, job: r.job, builder: r.builder, status: r.status, buildHash: r.build_hash ?? undefined, time: Number(r.time), receivedAt: Number(r.received_at), envelope: new Uint8Array(r.envelope), contributor: r.contributor, durationMs: Number(r.duration_ms) }
}

export function rowToVerdict (r: any): VerdictRow {
  return { job: r.job, verdict: r.verdict, hash: r.hash ?? undefined, final: r.final === 1, detail: r.detail, reputationApplied: r.reputation_applied === 1, updatedAt: Number(r.updated_at) }
}

export function rowToJob (r: any): JobRow {
  return { job: r.job, announcement: r.announcement, state: r.state, attempts: Number(r.attempts), error: r.error ?? undefined, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) }
}

export function rowToAnnouncement (r: any): StoredAnnouncement {
  return {
    id: r.id,
    job: r.job,
    announcer: r.announcer,
    sequence: BigInt(r.sequence),
    nevra: r.nevra,
    srpmSha256: r.srpm_sha256,
    issuedAt: Number(r.issued_at ?? 0),
    expiresAt: Number(r.expires_at),
    receivedAt: Number(r.received_at),
    envelope: new Uint8Array(r.envelope)
  }
}
