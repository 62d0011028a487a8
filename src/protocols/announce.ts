/**
 * Announcements: what a seeder signs and gossips on /skyline/2/announce, and how every node checks one
 * before gossipsub forwards it: trusted announcer key, valid signature, sane fields, inside its
 * validity window, not seen before. See docs/protocols/announce.md.
 *
 * @example
 * ```ts
 * const bytes = createAnnouncement({ nevra, srpmSha256, srpmSize, target: 'fedora-41-x86_64', chunkSize, chunkRoot }, key)
 * const checked = checkAnnouncement(bytes, trusted, Date.now()) // throws GossipValidationError
 * ```
 */
import { hash, randomBytes } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { Announcement, SignedEnvelope } from './pb/announce.ts'
import { ENVELOPE_KIND, openGossipEnvelope, signEnvelope, type AnnouncerKey, type TrustedKeys } from './signing.ts'
import { GossipValidationError } from './gossip.ts'
import { jobKey } from '../rules/job.ts'
import { AssignmentError, candidateBytes, jobSeats, MAX_CANDIDATES, parseCandidates } from '../rules/assignment.ts'
import { panelProblem, type PanelParams } from '../rules/panel.ts'
import { policyProblem, splitSeats, type EligibilityPolicy } from '../rules/eligibility.ts'
import { MAX_CHUNK_SIZE, MAX_CHUNKS, MIN_CHUNK_SIZE } from './blob-limits.ts'
import { MAX_MANIFEST_BYTES } from '../rules/buildroot.ts'
import { parseProviderHint, providerHint, type Provider } from './provider-hint.ts'

export { Announcement }

/** @default 5 builders per job */
export const DEFAULT_REPLICAS = 5
/** @default 3 matching attestations for a verdict */
export const DEFAULT_QUORUM = 3
/** The `rules` field: v1 (Kademlia ranking, r/q tally) or v2 (salted positions, panels with escalation) */
export const RULES_V1 = 0
export const RULES_V2 = 2
/** @default rules v2: 10 stage-1 seats, all of which must agree */
export const DEFAULT_PANEL = 10
/** @default rules v2: 5 more seats on dissent or silence */
export const DEFAULT_ESCALATION = 5
/** @default rules v2: 12 of the 15 seats decide an escalated job */
export const DEFAULT_THRESHOLD = 12
/** @default rules v2: stage 1 ends 6 hours after the announcement (silent stage-1 seats then escalate) */
export const DEFAULT_STAGE_MS = 6 * 60 * 60 * 1000
/** @default 24 hours */
export const DEFAULT_VALIDITY_MS = 24 * 60 * 60 * 1000
export const MAX_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000
/** announcements issued this far in the future are refused (clock skew allowance) */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
/** a message that expired less than this long ago is ignored rather than rejected: its forwarder may simply be slow */
export const EXPIRY_GRACE_MS = 60 * 1000
export const MAX_REPLICAS = 64
export const MAX_SRPM_SIZE = 2 * 1024 * 1024 * 1024
/** rules v2: a blocked job is announced again at most twice, so attempts run 1..3 (docs/protocols/announce.md, "Re-announcement") */
export const MAX_ATTEMPTS = 3
const NEVRA_RE = /^[A-Za-z0-9._+~^-]+-(\d+:)?[A-Za-z0-9._+~^]+-[A-Za-z0-9._+~^]+\.src$/
const TARGET_RE = /^[A-Za-z0-9._+-]{1,64}$/

export interface AnnouncementInit {
  nevra: string
  srpmSha256: Uint8Array
  srpmSize: number | bigint
  target: string
  replicas?: number
  quorum?: number
  chunkSize: number
  chunkRoot: Uint8Array
  validityMs?: number
  now?: number
  sequence?: bigint
  beacon?: Uint8Array
  /**
   * rules v2 (docs/protocols/consensus.md, "Panel tally"): P stage-1 seats, E escalation seats, threshold T
   * and the stage-1 deadline (ms after issue); replicas and quorum are then ignored. Without it, rules v1.
   */
  panel?: PanelParams & { stageMs?: number }
  /** rules v2: the eligibility policy (fields 17–19; docs/protocols/assignment.md, "The eligible set"); absent: K = 0 */
  policy?: EligibilityPolicy
  /**
   * the eligible builders near the job key, from the seeder's DHT lookup (findCandidates); at least
   * `quorum`, at most MAX_CANDIDATES. Compute the job key with the same `beacon` first.
   */
  candidates: PeerId[]
  /** the job's buildroot manifest, stored as a blob (docs/protocols/buildroot.md); part of the job key */
  buildroot?: BuildrootRef
  /** rules v2: a re-announcement of a blocked job (fields 24 and 25) */
  retry?: RetryLink
  /** the peer serving the SRPM from now on, the seeder's node, and its addresses (field 26, the provider hint) */
  provider?: { peer: PeerId, addrs: Multiaddr[] }
}

/** A re-announcement's link to the blocked job it retries */
export interface RetryLink {
  /** the blocked job's key: 32 bytes, or its hex */
  of: Uint8Array | string
  /** 2..MAX_ATTEMPTS */
  attempt: number
}

/** A buildroot manifest by content address, and its chunking for the blob protocol */
export interface BuildrootRef {
  sha256: Uint8Array
  size: number | bigint
  chunkSize: number
  chunkRoot: Uint8Array
}

let lastSequence = 0n

/** A sequence number unique per announcer in practice: microseconds since the epoch, strictly increasing in this process */
export function nextSequence (now = Date.now()): bigint {
  const candidate = BigInt(now) * 1000n
  lastSequence = candidate > lastSequence ? candidate : lastSequence + 1n
  return lastSequence
}

/** Builds, checks and signs an announcement; returns the envelope bytes to gossip */
export function createAnnouncement (init: AnnouncementInit, key: AnnouncerKey): Uint8Array {
  const now = init.now ?? Date.now()
  const a: Announcement = {
    nevra: init.nevra,
    srpmSha256: new Uint8Array(init.srpmSha256),
    srpmSize: BigInt(init.srpmSize),
    target: init.target,
    replicas: init.panel?.panel ?? init.replicas ?? DEFAULT_REPLICAS,
    quorum: init.panel?.threshold ?? init.quorum ?? DEFAULT_QUORUM,
    rules: init.panel !== undefined ? RULES_V2 : RULES_V1,
    escalation: init.panel?.escalation ?? 0,
    stageMs: init.panel !== undefined ? BigInt(init.panel.stageMs ?? DEFAULT_STAGE_MS) : 0n,
    eligibleBuilds: init.policy?.builds ?? 0,
    eligibleDays: init.policy?.days ?? 0,
    probationSeats: init.policy?.probation ?? 0,
    beacon: new Uint8Array(init.beacon ?? randomBytes(32)),
    issuedAt: BigInt(now),
    expiresAt: BigInt(now + (init.validityMs ?? DEFAULT_VALIDITY_MS)),
    sequence: init.sequence ?? nextSequence(now),
    chunkSize: init.chunkSize,
    chunkRoot: new Uint8Array(init.chunkRoot),
    candidates: init.candidates.map(p => new Uint8Array(candidateBytes(p))),
    buildrootSha256: new Uint8Array(init.buildroot?.sha256 ?? []),
    buildrootSize: BigInt(init.buildroot?.size ?? 0),
    buildrootChunkSize: init.buildroot?.chunkSize ?? 0,
    buildrootChunkRoot: new Uint8Array(init.buildroot?.chunkRoot ?? []),
    retryOf: init.retry === undefined ? new Uint8Array() : typeof init.retry.of === 'string' ? new Uint8Array(Buffer.from(init.retry.of, 'hex')) : new Uint8Array(init.retry.of),
    attempt: init.retry?.attempt ?? 0,
    ...(init.provider !== undefined ? { provider: providerHint(init.provider.peer, init.provider.addrs) } : {})
  }
  checkFields(a, now)
  parseProviderHint(a.provider)
  return signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode(a), key)
}

export interface CheckedAnnouncement {
  /** hex sha256 of the signed payload: the announcement's identity */
  id: string
  /** hex job key */
  job: string
  jobKey: Uint8Array
  /** hex Ed25519 public key of the announcer */
  announcer: string
  announcement: Announcement
  envelope: Uint8Array
  /** the provider hint (field 26): the peer serving the SRPM (the seeder's node), the first source of a fetch */
  source?: Provider
  /** the listed candidates, parsed */
  candidates: PeerId[]
  /**
   * the job's seats with no bans, best-ranked first: v1 the r closest candidates, v2 the P+E first by salted
   * position, every candidate counted as eligible (with a policy K > 0 a node's own seats come from its log:
   * VerdictService.seating); ranked when first read
   */
  readonly builders: PeerId[]
  /** rules v2's panel and eligibility policy, undefined for v1 */
  panel?: PanelParams & { stageDeadline: number, policy: EligibilityPolicy }
  /** a re-announcement: the hex job key of the blocked job it retries, and its attempt (2..MAX_ATTEMPTS) */
  retry?: { of: string, attempt: number }
}

/** An announcement's attempt: 1 for a first announcement, 2..MAX_ATTEMPTS for a retry */
export function attemptOf (a: Pick<Announcement, 'attempt'>): number {
  return a.attempt === 0 ? 1 : a.attempt
}

/**
 * The retry link of an announcement the store holds (checked when it came), read back without checking
 * its signature again; undefined for a first announcement or bytes that do not decode.
 */
export function storedRetryLink (envelope: Uint8Array): { of: string, attempt: number } | undefined {
  try {
    const a = Announcement.decode(SignedEnvelope.decode(envelope).payload, { limits: { candidates: MAX_CANDIDATES } })
    return a.retryOf.length === 32 ? { of: Buffer.from(a.retryOf).toString('hex'), attempt: a.attempt } : undefined
  } catch {
    return undefined
  }
}

/** How many seats a job has: v1 r, v2 P+E */
export function seatCount (a: Announcement): number {
  return a.rules === RULES_V2 ? a.replicas + a.escalation : a.replicas
}

/** A job's seats (banned builders left out), best-ranked first, by the announcement's rules */
export function announcementSeats (a: Pick<CheckedAnnouncement, 'announcement' | 'jobKey' | 'candidates'>, banned?: ReadonlySet<string>, isEligible?: (peer: string) => boolean): PeerId[] {
  return announcementSeating(a, banned, isEligible).seats
}

/**
 * A job's seats and probation seats (docs/protocols/assignment.md, "The eligible set"): the candidates
 * ranked by the announcement's rules, banned builders left out; the first P+E that `isEligible` accepts
 * are the seats, the first `probation_seats` it refuses are the probation seats. Without `isEligible`, or
 * with K = 0, every candidate is eligible (no probation).
 */
export function announcementSeating (a: Pick<CheckedAnnouncement, 'announcement' | 'jobKey' | 'candidates'>, banned?: ReadonlySet<string>, isEligible?: (peer: string) => boolean): { seats: PeerId[], probation: PeerId[] } {
  const { announcement: n } = a
  const ranked = rankedCandidates(a).filter(p => banned?.has(p.toString()) !== true)
  if (n.rules !== RULES_V2 || n.eligibleBuilds === 0 || isEligible === undefined) return { seats: ranked.slice(0, seatCount(n)), probation: [] }
  return splitSeats(ranked, p => isEligible(p.toString()), seatCount(n), n.probationSeats)
}

/** Each checked announcement's candidates in rank order, computed once: the seats are asked for on every attestation */
const rankings = new WeakMap<object, PeerId[]>()

/**
 * All of a job's candidates, best-ranked first, by the announcement's rules. A candidate's rank depends only
 * on its own position and the job, so leaving banned builders out of this list afterwards gives the same
 * order as ranking without them.
 */
function rankedCandidates (a: Pick<CheckedAnnouncement, 'announcement' | 'jobKey' | 'candidates'>): PeerId[] {
  let ranked = rankings.get(a)
  if (ranked === undefined) {
    const job = { jobKey: a.jobKey, beacon: a.announcement.beacon, salted: a.announcement.rules === RULES_V2 }
    ranked = a.candidates.length === 0 ? [] : jobSeats(job, a.candidates, a.candidates.length)
    rankings.set(a, ranked)
  }
  return ranked
}

/**
 * Everything that can be checked from the bytes alone: envelope, trust, signature, fields, time.
 * Throws GossipValidationError (REJECT, or IGNORE for a message that has only just expired).
 * Replays (seen before) are the caller's check, against its store.
 */
export function checkAnnouncement (envelope: Uint8Array, trusted: TrustedKeys, now: number): CheckedAnnouncement {
  const opened = openGossipEnvelope(envelope, trusted, ENVELOPE_KIND.announcement, p => Announcement.decode(p, { limits: { candidates: MAX_CANDIDATES } }), 'announcement')
  const a = opened.message
  const candidates = checkFields(a, now)
  const key = jobKey(a.srpmSha256, a.target, a.beacon, a.buildrootSha256)
  return {
    candidates,
    // ranked when first asked for, once per checked announcement (rankedCandidates): a node that builds
    // ranks them for its seats anyway, and one that does not never needs them
    get builders () { return announcementSeats(this) },
    ...(a.rules === RULES_V2 ? { panel: { panel: a.replicas, escalation: a.escalation, threshold: a.quorum, stageDeadline: Number(a.issuedAt + a.stageMs), policy: { builds: a.eligibleBuilds, days: a.eligibleDays, probation: a.probationSeats } } } : {}),
    ...(a.retryOf.length > 0 ? { retry: { of: Buffer.from(a.retryOf).toString('hex'), attempt: a.attempt } } : {}),
    id: hash('sha256', opened.payload, 'hex'),
    job: Buffer.from(key).toString('hex'),
    jobKey: key,
    announcer: Buffer.from(opened.publicKey).toString('hex'),
    announcement: a,
    envelope,
    source: parseProviderHint(a.provider)
  }
}

function bad (reason: string, message: string): never {
  throw new GossipValidationError('reject', reason, message)
}

/** The rules version and its parameters: v1 r/q, v2 the panel (T > P, so v1 verifiers refuse v2 as malformed) */
function checkRules (a: Announcement): void {
  if (a.rules === RULES_V1) {
    if (a.escalation !== 0 || a.stageMs !== 0n) bad('malformed', 'escalation and stage deadline are rules v2 fields')
    if (a.eligibleBuilds !== 0 || a.eligibleDays !== 0 || a.probationSeats !== 0) bad('malformed', 'the eligibility policy is a rules v2 field')
    if (a.quorum < 1 || a.quorum > a.replicas || 2 * a.quorum <= a.replicas) bad('malformed', `quorum ${a.quorum} must be a majority of replicas ${a.replicas}`)
    return
  }
  if (a.rules !== RULES_V2) bad('unsupported-rules', `assignment rules ${a.rules} unknown (this node knows ${RULES_V1} and ${RULES_V2})`)
  const problem = panelProblem({ panel: a.replicas, escalation: a.escalation, threshold: a.quorum }) ??
    policyProblem({ builds: a.eligibleBuilds, days: a.eligibleDays, probation: a.probationSeats }, seatCount(a))
  if (problem !== undefined) bad('malformed', problem)
}

/** The buildroot fields: all four set (sha256 and root 32 bytes, size 1 byte to MAX_MANIFEST_BYTES, chunking fetchable), or none */
function checkBuildroot (a: Announcement): void {
  const set = [a.buildrootSha256.length > 0, a.buildrootSize > 0n, a.buildrootChunkSize > 0, a.buildrootChunkRoot.length > 0]
  if (set.every(s => !s)) return
  if (!set.every(s => s)) bad('malformed', 'buildroot: sha256, size, chunk size and chunk root are set together or not at all')
  if (a.buildrootSha256.length !== 32) bad('malformed', 'buildroot sha256 must be 32 bytes')
  if (a.buildrootSize > BigInt(MAX_MANIFEST_BYTES)) bad('malformed', `buildroot manifest of ${a.buildrootSize} bytes, over ${MAX_MANIFEST_BYTES}`)
  if (a.buildrootChunkSize < MIN_CHUNK_SIZE || a.buildrootChunkSize > MAX_CHUNK_SIZE) bad('malformed', `buildroot chunk size ${a.buildrootChunkSize} out of bounds`)
  if (a.buildrootChunkRoot.length !== 32) bad('malformed', 'buildroot chunk root must be 32 bytes')
}

/**
 * The re-announcement fields: a first announcement has neither (attempt 0; 1 is refused, so one
 * announcement has one encoding); a retry (rules v2 only) names the 32-byte key of the job it retries and
 * its attempt, 2..MAX_ATTEMPTS. Whether the retried job was blocked is the node's check (announcements.ts).
 */
function checkRetry (a: Announcement): void {
  if (a.attempt === 0 && a.retryOf.length === 0) return
  if (a.rules !== RULES_V2) bad('malformed', 'a re-announcement (retry_of, attempt) is a rules v2 field')
  if (a.retryOf.length !== 32) bad('malformed', 'retry_of must be the 32-byte job key of the retried job')
  if (a.attempt < 2 || a.attempt > MAX_ATTEMPTS) bad('malformed', `attempt ${a.attempt} out of 2..${MAX_ATTEMPTS} for a re-announcement`)
}

/** The buildroot manifest an announcement names, as a blob reference (hex), or undefined */
export function buildrootRef (a: Announcement): { sha256: string, size: number, chunkSize: number, root: string } | undefined {
  if (a.buildrootSha256.length === 0) return undefined
  return { sha256: Buffer.from(a.buildrootSha256).toString('hex'), size: Number(a.buildrootSize), chunkSize: a.buildrootChunkSize, root: Buffer.from(a.buildrootChunkRoot).toString('hex') }
}

/** Checks every field; returns the parsed candidates */
export function checkFields (a: Announcement, now: number): PeerId[] {
  if (a.nevra.length > 256 || !NEVRA_RE.test(a.nevra)) bad('malformed', `bad NEVRA '${a.nevra.slice(0, 80)}'`)
  if (!TARGET_RE.test(a.target)) bad('malformed', `bad target '${a.target.slice(0, 80)}'`)
  if (a.srpmSha256.length !== 32) bad('malformed', 'SRPM sha256 must be 32 bytes')
  if (a.srpmSize <= 0n || a.srpmSize > BigInt(MAX_SRPM_SIZE)) bad('malformed', `SRPM size ${a.srpmSize} out of bounds`)
  if (a.replicas < 1 || a.replicas > MAX_REPLICAS) bad('malformed', `replicas ${a.replicas} out of 1..${MAX_REPLICAS}`)
  checkRules(a)
  if (a.beacon.length !== 32) bad('malformed', 'beacon must be 32 bytes')
  if (a.chunkSize < MIN_CHUNK_SIZE || a.chunkSize > MAX_CHUNK_SIZE) bad('malformed', `chunk size ${a.chunkSize} out of bounds`)
  // the blob protocol fetches at most MAX_CHUNKS chunks: an SRPM cut finer could never be fetched
  if (Math.ceil(Number(a.srpmSize) / a.chunkSize) > MAX_CHUNKS) bad('malformed', `more than ${MAX_CHUNKS} chunks of ${a.chunkSize} bytes`)
  if (a.chunkRoot.length !== 32) bad('malformed', 'chunk root must be 32 bytes')
  if (a.sequence === 0n) bad('malformed', 'sequence must be set')
  checkBuildroot(a)
  checkRetry(a)
  let candidates: PeerId[]
  try {
    candidates = parseCandidates(a.candidates)
  } catch (err: any) {
    if (err instanceof AssignmentError) bad('malformed', err.message)
    throw err
  }
  // fewer candidates than q could never agree; v2 needs every seat filled (stage 1 is unanimous)
  if (a.rules === RULES_V2 && candidates.length < seatCount(a)) bad('malformed', `${candidates.length} candidate builders, fewer than the ${seatCount(a)} seats of the panel`)
  if (candidates.length < a.quorum && a.rules === RULES_V1) bad('malformed', `${candidates.length} candidate builders, fewer than the quorum ${a.quorum}`)
  const issued = Number(a.issuedAt)
  const expires = Number(a.expiresAt)
  if (expires <= issued || expires - issued > MAX_VALIDITY_MS) bad('malformed', 'validity window out of bounds')
  if (a.rules === RULES_V2 && (a.stageMs < 1n || a.stageMs >= a.expiresAt - a.issuedAt)) bad('malformed', `stage deadline ${a.stageMs} ms must fall inside the validity window`)
  if (issued > now + MAX_CLOCK_SKEW_MS) bad('not-yet-valid', `issued ${issued - now} ms in the future`)
  if (expires <= now) {
    if (now - expires < EXPIRY_GRACE_MS) throw new GossipValidationError('ignore', 'expired', 'expired moments ago')
    bad('expired', `expired ${Math.round((now - expires) / 1000)} s ago`)
  }
  return candidates
}
