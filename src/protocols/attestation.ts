/**
 * Build attestations: what a builder signs with its own libp2p Ed25519 peer key and gossips on
 * /skyline/2/consensus, and how every node checks one before gossipsub forwards it or the tally counts it.
 * The builder's public key is not carried separately: an Ed25519 peer ID embeds it, so the `builder`
 * field is at once the claimed identity and the key that must have signed. Also rules-v2 commitments (a
 * seat binds itself to its claim before anyone reveals), equivocation proofs (two signed, conflicting
 * claims by one builder for one job, or a reveal that does not match its commitment) and the
 * ConsensusMessage wrapper of the topic. Field rules: attestation-fields.ts. See docs/protocols/consensus.md.
 *
 * @example
 * ```ts
 * const bytes = createAttestation({ job, status: 'ok', files, environment }, privateKey) // the node's libp2p key
 * const msg = encodeConsensusMessage({ attestation: bytes })
 * const checked = checkConsensusMessage(msg, Date.now()) // throws GossipValidationError
 * ```
 */
import { createHash, createPrivateKey, sign, verify, type KeyObject } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Attestation, AttestedFile, ConsensusMessage, EquivocationProof, KeyValue, OfficialDifference, SignedAttestation } from './pb/attestation.ts'
import {
  ATTESTATION_STATUS, BuilderKeyCache, OFFICIAL_DECODE_LIMITS, bad, checkFields, checkFiles, checkOfficial, defaultCache, fromHex, hex,
  type AttestationFile, type AttestationStatus
} from './attestation-fields.ts'
import { REPRODUCES, type OfficialClaim } from '../rules/official.ts'
import { buildHash } from '../rules/build-hash.ts'
import { commitmentValue } from '../rules/commitment.ts'
import { isValidContributor } from '../rules/contributor.ts'
import { ATTESTATION_DOMAIN, ATTESTATION_MAX_CLOCK_SKEW_MS, MAX_ATTESTATION_BYTES, MAX_ATTESTED_FILES, MAX_ENVIRONMENT_ENTRIES } from '../rules/constants.ts'

export { Attestation, AttestedFile, ConsensusMessage, EquivocationProof, KeyValue, OfficialDifference, SignedAttestation }
export { ATTESTATION_STATUS, BuilderKeyCache, isValidContributor, type AttestationFile, type AttestationStatus }

const DOMAIN = Buffer.from(ATTESTATION_DOMAIN, 'utf8')

export interface AttestationInit {
  /** the job key, 32 bytes or 64 hex characters */
  job: Uint8Array | string
  status: AttestationStatus
  /**
   * the output RPMs (required for 'ok', must be empty for 'failed'); sha256 and chunkRoot as hex or 32
   * bytes; chunkSize and chunkRoot (the file's blob reference in this builder's store) both or neither
   */
  files?: ReadonlyArray<{ name: string, size: number | bigint, sha256: string | Uint8Array, chunkSize?: number, chunkRoot?: string | Uint8Array }>
  /** builder kind, rpm version, target, binary payload...: a record (undefined values skipped) or pairs */
  environment?: Readonly<Record<string, string | undefined>> | ReadonlyArray<{ key: string, value: string }>
  /** Unix ms, Date.now() by default */
  time?: number
  /** who runs the builder (config `contributor`), for the stats tracker; at most 64 printable characters */
  contributor?: string
  /** how long the build ran, ms */
  durationMs?: number
  /** rules v2: the nonce of this builder's commitment (32 bytes or 64 hex characters); makes it a reveal */
  nonce?: Uint8Array | string
  /** attestation v3: how the outputs compare with the official build (src/rules/official.ts); unknown when absent */
  official?: OfficialClaim
}

export interface CheckedAttestation {
  /** hex sha256 of the signed payload: the attestation's identity */
  id: string
  /** hex job key */
  job: string
  /** the builder's peer ID (base58btc string), whose key signed */
  builder: string
  status: AttestationStatus
  /** hex build hash, for 'ok' only */
  buildHash?: string
  /** in the order the builder listed them (createAttestation sorts them by name) */
  files: AttestationFile[]
  /** in the order the builder listed them; keys are unique */
  environment: Array<{ key: string, value: string }>
  /** Unix ms */
  time: number
  /** the operator's contributor name, '' when not set */
  contributor: string
  /** the claimed build duration, ms */
  durationMs: number
  /** rules v2: the hex nonce of the builder's commitment; absent in an attestation that reveals nothing */
  nonce?: string
  /** attestation v3: the builder's comparison with the official build; absent when unknown */
  official?: OfficialClaim
  /** the exact signed bytes (an encoded Attestation) */
  payload: Uint8Array
  signature: Uint8Array
  /** the encoded SignedAttestation, as received: what to store, sync and put into equivocation proofs */
  envelope: Uint8Array
}

/** A rules-v2 commitment, checked: a seat's binding to its claim before anyone reveals (consensus.md) */
export interface CheckedCommitment {
  /** hex sha256 of the signed payload */
  id: string
  job: string
  builder: string
  /** hex commitment value */
  commitment: string
  /** the builder's signed time, Unix ms */
  time: number
  payload: Uint8Array
  signature: Uint8Array
  /** the encoded SignedAttestation, as received */
  envelope: Uint8Array
}

export interface CheckedEquivocation {
  /** the equivocating builder's peer ID */
  builder: string
  /** hex job key */
  job: string
  /** the two conflicting attestations or commitments, sorted by id */
  attestations: [CheckedAttestation | CheckedCommitment, CheckedAttestation | CheckedCommitment]
  /** the encoded EquivocationProof */
  proof: Uint8Array
}

export type CheckedConsensusMessage =
  | { type: 'attestation', attestation: CheckedAttestation }
  | { type: 'equivocation', equivocation: CheckedEquivocation }
  | { type: 'commitment', commitment: CheckedCommitment }

export interface CheckAttestationOptions {
  /** where builders' public keys are cached; a process-wide cache by default */
  cache?: BuilderKeyCache
}

const signingKeys = new WeakMap<PrivateKey, KeyObject>()

/** The node:crypto form of a libp2p Ed25519 private key (its `raw` is seed || public key), cached per key */
function signingKey (privateKey: PrivateKey): KeyObject {
  const cached = signingKeys.get(privateKey)
  if (cached !== undefined) return cached
  if (privateKey.type !== 'Ed25519') throw new TypeError(`attestations are signed with an Ed25519 peer key, not ${privateKey.type}`)
  const raw = privateKey.raw
  if (raw.length !== 64) throw new TypeError(`an Ed25519 private key has 64 raw bytes, not ${raw.length}`)
  const key = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(raw.subarray(0, 32)).toString('base64url'), x: Buffer.from(raw.subarray(32)).toString('base64url') },
    format: 'jwk'
  })
  signingKeys.set(privateKey, key)
  return key
}

/** Checks the fields of a payload, encodes and signs it: the SignedAttestation bytes */
function signPayload (a: Attestation, privateKey: PrivateKey): Uint8Array<ArrayBuffer> {
  const key = signingKey(privateKey)
  checkFields(a)
  const payload = Attestation.encode(a)
  const signature = sign(null, Buffer.concat([DOMAIN, payload]), key)
  return SignedAttestation.encode({ payload, signature: new Uint8Array(signature) })
}

function emptyPayload (job: Uint8Array | string, privateKey: PrivateKey, time: number | undefined): Attestation {
  return {
    job: fromHex(job, 'job'),
    builder: new Uint8Array(peerIdFromPrivateKey(privateKey).toMultihash().bytes),
    status: 0,
    buildHash: new Uint8Array(0),
    files: [],
    environment: [],
    time: BigInt(time ?? Date.now()),
    contributor: '',
    durationMs: 0n,
    commitment: new Uint8Array(0),
    nonce: new Uint8Array(0),
    official: 0,
    officialDifferences: []
  }
}

/**
 * Builds, checks and signs an attestation with the node's own peer key; returns the SignedAttestation
 * bytes. Files are sorted by name; the build hash is computed from them. Throws GossipValidationError
 * ('malformed') for fields every node would refuse, TypeError for a key that is not Ed25519.
 */
export function createAttestation (init: AttestationInit, privateKey: PrivateKey): Uint8Array<ArrayBuffer> {
  const files = (init.files ?? []).map(f => ({
    name: f.name,
    size: BigInt(f.size),
    sha256: fromHex(f.sha256, `sha256 of ${f.name}`),
    chunkSize: f.chunkSize ?? 0,
    chunkRoot: f.chunkRoot === undefined ? new Uint8Array(0) : fromHex(f.chunkRoot, `chunk root of ${f.name}`)
  }))
  files.sort((a, b) => Buffer.compare(Buffer.from(a.name, 'utf8'), Buffer.from(b.name, 'utf8')))
  const environment = Array.isArray(init.environment)
    ? init.environment.map(({ key, value }) => ({ key, value }))
    : Object.entries(init.environment ?? {}).filter((e): e is [string, string] => e[1] !== undefined).map(([key, value]) => ({ key, value }))
  const a: Attestation = {
    ...emptyPayload(init.job, privateKey, init.time),
    status: ATTESTATION_STATUS[init.status] ?? 0,
    files,
    environment,
    contributor: init.contributor ?? '',
    durationMs: BigInt(Math.max(0, Math.round(init.durationMs ?? 0))),
    nonce: init.nonce === undefined ? new Uint8Array(0) : fromHex(init.nonce, 'nonce'),
    official: REPRODUCES[init.official?.reproduces ?? 'unknown'],
    officialDifferences: (init.official?.differences ?? []).map(d => ({ name: d.name, fields: [...d.fields] }))
  }
  if (init.status === 'ok' && files.length > 0) {
    a.buildHash = fromHex(buildHash(checkFiles(files)), 'build hash')
  }
  return signPayload(a, privateKey)
}

/**
 * Signs a rules-v2 commitment to a claim (a build hash, hex, or undefined for a failed build) with a
 * 32-byte nonce the builder keeps until it reveals; returns the SignedAttestation bytes.
 */
export function createCommitment (init: { job: Uint8Array | string, buildHash: string | undefined, nonce: Uint8Array, time?: number }, privateKey: PrivateKey): Uint8Array<ArrayBuffer> {
  const a = emptyPayload(init.job, privateKey, init.time)
  a.commitment = commitmentValue(a.job, a.builder, init.buildHash === undefined ? undefined : fromHex(init.buildHash, 'build hash'), init.nonce)
  return signPayload(a, privateKey)
}

/** Size, encoding, fields and signature of a SignedAttestation (an attestation or a commitment) */
function openSigned (envelope: Uint8Array, now: number, opts: CheckAttestationOptions): { a: Attestation, kind: 'attestation' | 'commitment', files: AttestationFile[], official: OfficialClaim, peerId: string, signed: SignedAttestation } {
  if (envelope.byteLength > MAX_ATTESTATION_BYTES) bad('oversized', `attestation of ${envelope.byteLength} bytes > ${MAX_ATTESTATION_BYTES}`)
  let signed: SignedAttestation
  try {
    signed = SignedAttestation.decode(envelope)
  } catch (err: any) {
    bad('malformed', `undecodable signed attestation: ${err.message}`)
  }
  if (signed.signature.length !== 64) bad('malformed', 'signature must be 64 bytes')
  if (signed.payload.length === 0) bad('malformed', 'empty payload')
  // one encoding per (payload, signature): no padding, unknown fields or repeated fields in the envelope
  if (!Buffer.from(SignedAttestation.encode(signed)).equals(envelope)) bad('malformed', 'signed attestation is not canonically encoded')

  let a: Attestation
  try {
    a = Attestation.decode(signed.payload, { limits: { files: MAX_ATTESTED_FILES, environment: MAX_ENVIRONMENT_ENTRIES, ...OFFICIAL_DECODE_LIMITS } })
  } catch (err: any) {
    bad('malformed', `undecodable attestation: ${err.message}`)
  }
  const { kind, files, official } = checkFields(a)
  const { peerId, key } = (opts.cache ?? defaultCache).get(a.builder)
  if (!verify(null, Buffer.concat([DOMAIN, signed.payload]), key, signed.signature)) bad('bad-signature', `bad attestation signature for builder ${peerId}`)
  const time = Number(a.time)
  if (time > now + ATTESTATION_MAX_CLOCK_SKEW_MS) bad('not-yet-valid', `attestation made ${time - now} ms in the future`)
  return { a, kind, files, official, peerId, signed }
}

/**
 * Checks a SignedAttestation from its bytes alone: size, encoding, every field, the build hash, the
 * builder's signature, the time. Throws GossipValidationError (REJECT) with reason 'oversized',
 * 'malformed' (a commitment included), 'bad-signature' or 'not-yet-valid'. Whether the builder is assigned
 * to the job, and duplicates and equivocations, are the caller's checks (against the announcement and its store).
 */
export function checkAttestation (envelope: Uint8Array, now: number, opts: CheckAttestationOptions = {}): CheckedAttestation {
  const item = checkSignedItem(envelope, now, opts)
  if ('commitment' in item) bad('malformed', 'a commitment where an attestation was expected')
  return item
}

/** Checks a rules-v2 commitment from its bytes alone, as checkAttestation does an attestation */
export function checkCommitment (envelope: Uint8Array, now: number, opts: CheckAttestationOptions = {}): CheckedCommitment {
  const item = checkSignedItem(envelope, now, opts)
  if (!('commitment' in item)) bad('malformed', 'an attestation where a commitment was expected')
  return item
}

function checkSignedItem (envelope: Uint8Array, now: number, opts: CheckAttestationOptions): CheckedAttestation | CheckedCommitment {
  const { a, kind, files, official, peerId, signed } = openSigned(envelope, now, opts)
  const common = { id: createHash('sha256').update(signed.payload).digest('hex'), job: hex(a.job), builder: peerId, time: Number(a.time), payload: signed.payload, signature: signed.signature, envelope }
  if (kind === 'commitment') return { ...common, commitment: hex(a.commitment) }
  const status: AttestationStatus = a.status === ATTESTATION_STATUS.ok ? 'ok' : 'failed'
  return {
    ...common,
    status,
    ...(status === 'ok' ? { buildHash: hex(a.buildHash) } : {}),
    files,
    environment: a.environment.map(({ key, value }) => ({ key, value })),
    contributor: a.contributor,
    durationMs: Number(a.durationMs),
    ...(a.nonce.length > 0 ? { nonce: hex(a.nonce) } : {}),
    ...(official.reproduces !== 'unknown' ? { official } : {})
  }
}

/**
 * The official-build claim (fields 13–14) of a stored attestation, an envelope checked when it was
 * received: decoded again and fields 13–14 checked, without the signature, the files or the build hash
 * (every tally of a job asks this of each agreeing attestation); unknown for one that no longer decodes
 */
export function officialClaimOf (envelope: Uint8Array): OfficialClaim {
  try {
    const a = Attestation.decode(SignedAttestation.decode(envelope).payload, { limits: { files: MAX_ATTESTED_FILES, environment: MAX_ENVIRONMENT_ENTRIES, ...OFFICIAL_DECODE_LIMITS } })
    return checkOfficial(a)
  } catch {
    return { reproduces: 'unknown', differences: [] }
  }
}

/**
 * Whether two checked attestations make conflicting claims: same builder, same job, and a different
 * status or build hash. Two payloads with the same claim (a re-attestation after a restart, with a new
 * time or environment) are duplicates, not an equivocation.
 */
export function attestationsConflict (
  a: Pick<CheckedAttestation, 'builder' | 'job' | 'status' | 'buildHash'>,
  b: Pick<CheckedAttestation, 'builder' | 'job' | 'status' | 'buildHash'>
): boolean {
  return a.builder === b.builder && a.job === b.job && (a.status !== b.status || a.buildHash !== b.buildHash)
}

/** Whether a reveal (an attestation with a nonce) opens this commitment: same builder and job, and the hash of its claim and nonce equals it */
export function revealMatches (c: Pick<CheckedCommitment, 'builder' | 'job' | 'commitment' | 'payload'>, r: Pick<CheckedAttestation, 'builder' | 'job' | 'buildHash' | 'nonce'>): boolean {
  if (c.builder !== r.builder || c.job !== r.job || r.nonce === undefined) return false
  const builder = Attestation.decode(c.payload).builder
  const value = commitmentValue(Buffer.from(r.job, 'hex'), builder, r.buildHash === undefined ? undefined : Buffer.from(r.buildHash, 'hex'), Buffer.from(r.nonce, 'hex'))
  return hex(value) === c.commitment
}

/**
 * Whether two signed items by one builder for one job conflict: two attestations with different claims,
 * two commitments with different values, or a reveal (an attestation with a nonce) that does not open a
 * commitment. An attestation without a nonce reveals nothing and conflicts with no commitment.
 */
export function itemsConflict (a: CheckedAttestation | CheckedCommitment, b: CheckedAttestation | CheckedCommitment): boolean {
  if (a.builder !== b.builder || a.job !== b.job) return false
  if ('commitment' in a && 'commitment' in b) return a.commitment !== b.commitment
  if (!('commitment' in a) && !('commitment' in b)) return attestationsConflict(a, b)
  const [c, r] = ('commitment' in a ? [a, b] : [b, a]) as [CheckedCommitment, CheckedAttestation]
  return r.nonce !== undefined && !revealMatches(c, r)
}

/** An EquivocationProof of two SignedAttestation envelopes (in a canonical order); check them first */
export function createEquivocationProof (a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const pair = [new Uint8Array(a), new Uint8Array(b)].sort((x, y) => Buffer.compare(x, y))
  return EquivocationProof.encode({ attestations: pair })
}

/**
 * Checks an EquivocationProof: exactly two signed items (attestations or commitments), each valid
 * (signature and fields; their time is not held against the proof), by the same builder for the same
 * job, conflicting (itemsConflict). Throws GossipValidationError with reason 'oversized', 'malformed',
 * 'bad-signature' (of an inner item) or 'not-equivocation'.
 */
export function checkEquivocation (proof: Uint8Array, opts: CheckAttestationOptions = {}): CheckedEquivocation {
  if (proof.byteLength > MAX_ATTESTATION_BYTES) bad('oversized', `equivocation proof of ${proof.byteLength} bytes > ${MAX_ATTESTATION_BYTES}`)
  let p: EquivocationProof
  try {
    p = EquivocationProof.decode(proof, { limits: { attestations: 2 } })
  } catch (err: any) {
    bad('malformed', `undecodable equivocation proof: ${err.message}`)
  }
  if (p.attestations.length !== 2) bad('malformed', `an equivocation proof carries two attestations, not ${p.attestations.length}`)
  if (!Buffer.from(EquivocationProof.encode(p)).equals(proof)) bad('malformed', 'equivocation proof is not canonically encoded')
  const [a, b] = p.attestations.map(bytes => checkSignedItem(bytes, Number.POSITIVE_INFINITY, opts)).sort((x, y) => x.id < y.id ? -1 : x.id > y.id ? 1 : 0)
  if (a.builder !== b.builder) bad('not-equivocation', 'attestations by different builders')
  if (a.job !== b.job) bad('not-equivocation', 'attestations for different jobs')
  if (!itemsConflict(a, b)) bad('not-equivocation', 'the attestations make the same claim')
  return { builder: a.builder, job: a.job, attestations: [a, b], proof }
}

/** Wraps an attestation envelope, an equivocation proof or a commitment for the consensus topic */
export function encodeConsensusMessage (msg: { attestation: Uint8Array } | { equivocation: Uint8Array } | { commitment: Uint8Array }): Uint8Array<ArrayBuffer> {
  const [field, bytes] = Object.entries(msg)[0] as ['attestation' | 'equivocation' | 'commitment', Uint8Array]
  if (bytes.length === 0) throw new TypeError(`empty ${field}`)
  return ConsensusMessage.encode({ attestation: new Uint8Array(0), equivocation: new Uint8Array(0), commitment: new Uint8Array(0), [field]: new Uint8Array(bytes) })
}

/**
 * The validator of /skyline/2/consensus: decodes the wrapper (exactly one field set) and checks what it
 * carries. Throws GossipValidationError as checkAttestation, checkCommitment and checkEquivocation do.
 */
export function checkConsensusMessage (bytes: Uint8Array, now: number, opts: CheckAttestationOptions = {}): CheckedConsensusMessage {
  if (bytes.byteLength > MAX_ATTESTATION_BYTES) bad('oversized', `consensus message of ${bytes.byteLength} bytes > ${MAX_ATTESTATION_BYTES}`)
  let m: ConsensusMessage
  try {
    m = ConsensusMessage.decode(bytes)
  } catch (err: any) {
    bad('malformed', `undecodable consensus message: ${err.message}`)
  }
  // one encoding per message: a re-wrapped copy (padding, unknown fields) would get a new gossip id
  if (!Buffer.from(ConsensusMessage.encode(m)).equals(bytes)) bad('malformed', 'consensus message is not canonically encoded')
  const set = [m.attestation, m.equivocation, m.commitment].filter(f => f.length > 0).length
  if (set !== 1) bad('malformed', 'a consensus message carries exactly one of attestation, equivocation and commitment')
  if (m.commitment.length > 0) return { type: 'commitment', commitment: checkCommitment(m.commitment, now, opts) }
  return m.attestation.length > 0
    ? { type: 'attestation', attestation: checkAttestation(m.attestation, now, opts) }
    : { type: 'equivocation', equivocation: checkEquivocation(m.equivocation, opts) }
}
