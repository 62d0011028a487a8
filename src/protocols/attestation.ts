/**
 * Build attestations: what a builder signs with its own libp2p Ed25519 peer key and gossips on
 * /skyline/1/consensus, and how every node checks one before gossipsub forwards it or the tally counts it.
 * The builder's public key is not carried separately: an Ed25519 peer ID embeds it, so the `builder`
 * field is at once the claimed identity and the key that must have signed. Also equivocation proofs
 * (two signed, conflicting claims by one builder for one job) and the ConsensusMessage wrapper of the
 * topic. See docs/protocols/consensus.md.
 *
 * @example
 * ```ts
 * const bytes = createAttestation({ job, status: 'ok', files, environment }, privateKey) // the node's libp2p key
 * const msg = encodeConsensusMessage({ attestation: bytes })
 * const checked = checkConsensusMessage(msg, Date.now()) // throws GossipValidationError
 * ```
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { Attestation, AttestedFile, ConsensusMessage, EquivocationProof, KeyValue, SignedAttestation } from './pb/attestation.ts'
import { GossipValidationError } from './gossip.ts'
import { MAX_CHUNK_SIZE, MAX_CHUNKS, MIN_CHUNK_SIZE } from './blob-limits.ts'
import { buildHash } from '../rules/build-hash.ts'
import { isValidContributor } from '../rules/contributor.ts'
import { isSafeFileName } from '../rules/file-name.ts'
import {
  ATTESTATION_DOMAIN, ATTESTATION_MAX_CLOCK_SKEW_MS, MAX_BUILD_DURATION_MS, MAX_ATTESTATION_BYTES, MAX_ATTESTED_FILES, MAX_ENVIRONMENT_BYTES,
  MAX_ENVIRONMENT_ENTRIES, MAX_ENVIRONMENT_KEY_LENGTH, MAX_ENVIRONMENT_VALUE_LENGTH, MAX_FILE_SIZE,
  PUBLIC_KEY_CACHE_SIZE
} from '../rules/constants.ts'

export { Attestation, AttestedFile, ConsensusMessage, EquivocationProof, KeyValue, SignedAttestation }
export { isValidContributor }

/** Wire codes of `Attestation.status` */
export const ATTESTATION_STATUS = { ok: 1, failed: 2 } as const
export type AttestationStatus = keyof typeof ATTESTATION_STATUS

const DOMAIN = Buffer.from(ATTESTATION_DOMAIN, 'utf8')
/** identity multihash (0x00), 36 bytes, protobuf PublicKey { Type = Ed25519 (0x08 0x01), Data = 32 bytes (0x12 0x20) } */
const ED25519_PEER_ID_PREFIX = Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20)
const ED25519_PEER_ID_LENGTH = ED25519_PEER_ID_PREFIX.length + 32
/** what rpm writes into file names: name-version-release.arch.rpm */
const ENV_KEY_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/

/**
 * One output file as attested: lowercase hex sha256, size in bytes (the shape of BuildFile); since file
 * entry v2 also the chunk size and hex chunk root under which the builder serves it (both or neither).
 */
export interface AttestationFile {
  name: string
  size: number
  sha256: string
  chunkSize?: number
  chunkRoot?: string
}

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
  /** the exact signed bytes (an encoded Attestation) */
  payload: Uint8Array
  signature: Uint8Array
  /** the encoded SignedAttestation, as received: what to store, sync and put into equivocation proofs */
  envelope: Uint8Array
}

export interface CheckedEquivocation {
  /** the equivocating builder's peer ID */
  builder: string
  /** hex job key */
  job: string
  /** the two conflicting attestations, sorted by id */
  attestations: [CheckedAttestation, CheckedAttestation]
  /** the encoded EquivocationProof */
  proof: Uint8Array
}

export type CheckedConsensusMessage =
  | { type: 'attestation', attestation: CheckedAttestation }
  | { type: 'equivocation', equivocation: CheckedEquivocation }

export interface CheckAttestationOptions {
  /** where builders' public keys are cached; a process-wide cache by default */
  cache?: BuilderKeyCache
}

/**
 * Builders' node:crypto public keys, by the bytes of their peer ID, least recently used evicted. Building
 * a KeyObject costs more than verifying a signature with it, so a busy node keeps one per active builder.
 */
export class BuilderKeyCache {
  private readonly entries = new Map<string, { peerId: string, key: KeyObject }>()
  readonly maxSize: number

  constructor (maxSize: number = PUBLIC_KEY_CACHE_SIZE) {
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new RangeError(`cache size must be a positive integer (got ${maxSize})`)
    this.maxSize = maxSize
  }

  /** The builder's peer ID string and public key; throws GossipValidationError('malformed') for anything but a canonical Ed25519 peer ID */
  get (builder: Uint8Array): { peerId: string, key: KeyObject } {
    const id = Buffer.from(builder.buffer, builder.byteOffset, builder.byteLength).toString('hex')
    const hit = this.entries.get(id)
    if (hit !== undefined) {
      // most recently used goes last
      this.entries.delete(id)
      this.entries.set(id, hit)
      return hit
    }
    const entry = parseBuilder(builder)
    this.entries.set(id, entry)
    if (this.entries.size > this.maxSize) this.entries.delete(this.entries.keys().next().value as string)
    return entry
  }

  has (builder: Uint8Array | string): boolean {
    const id = typeof builder === 'string' ? builder : Buffer.from(builder).toString('hex')
    return this.entries.has(id)
  }

  get size (): number {
    return this.entries.size
  }

  clear (): void {
    this.entries.clear()
  }
}

const defaultCache = new BuilderKeyCache()

function parseBuilder (builder: Uint8Array): { peerId: string, key: KeyObject } {
  if (builder.length !== ED25519_PEER_ID_LENGTH || !ED25519_PEER_ID_PREFIX.every((b, i) => builder[i] === b)) {
    bad('malformed', 'builder is not an Ed25519 peer ID')
  }
  let peerId
  try {
    peerId = peerIdFromString(uint8ArrayToString(builder, 'base58btc'))
  } catch (err: any) {
    bad('malformed', `builder is not a peer ID: ${err.message}`)
  }
  if (peerId.type !== 'Ed25519' || peerId.publicKey == null) bad('malformed', 'builder is not an Ed25519 peer ID')
  const raw = peerId.publicKey.raw
  if (!Buffer.from(peerId.toMultihash().bytes).equals(builder)) bad('malformed', 'builder peer ID is not canonical')
  let key: KeyObject
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' })
  } catch (err: any) {
    bad('malformed', `builder public key unusable: ${err.message}`)
  }
  return { peerId: peerId.toString(), key }
}

function bad (reason: string, message: string): never {
  throw new GossipValidationError('reject', reason, message)
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

function fromHex (value: string | Uint8Array, what: string): Uint8Array<ArrayBuffer> {
  if (typeof value !== 'string') return new Uint8Array(value)
  if (!/^[0-9a-f]{64}$/.test(value)) bad('malformed', `${what} must be 64 lowercase hex characters`)
  return new Uint8Array(Buffer.from(value, 'hex'))
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

/**
 * Builds, checks and signs an attestation with the node's own peer key; returns the SignedAttestation
 * bytes. Files are sorted by name; the build hash is computed from them. Throws GossipValidationError
 * ('malformed') for fields every node would refuse, TypeError for a key that is not Ed25519.
 */
export function createAttestation (init: AttestationInit, privateKey: PrivateKey): Uint8Array<ArrayBuffer> {
  const key = signingKey(privateKey)
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
    job: fromHex(init.job, 'job'),
    builder: new Uint8Array(peerIdFromPrivateKey(privateKey).toMultihash().bytes),
    status: ATTESTATION_STATUS[init.status] ?? 0,
    buildHash: new Uint8Array(0),
    files,
    environment,
    time: BigInt(init.time ?? Date.now()),
    contributor: init.contributor ?? '',
    durationMs: BigInt(Math.max(0, Math.round(init.durationMs ?? 0)))
  }
  if (init.status === 'ok' && files.length > 0) {
    a.buildHash = fromHex(buildHash(checkFiles(files)), 'build hash')
  }
  checkFields(a)
  const payload = Attestation.encode(a)
  const signature = sign(null, Buffer.concat([DOMAIN, payload]), key)
  return SignedAttestation.encode({ payload, signature: new Uint8Array(signature) })
}

/**
 * Checks a SignedAttestation from its bytes alone: size, encoding, every field, the build hash, the
 * builder's signature, the time. Throws GossipValidationError (REJECT) with reason 'oversized',
 * 'malformed', 'bad-signature' or 'not-yet-valid'. Whether the builder is assigned to the job, and
 * duplicates and equivocations, are the caller's checks (against the announcement and its store).
 */
export function checkAttestation (envelope: Uint8Array, now: number, opts: CheckAttestationOptions = {}): CheckedAttestation {
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
    a = Attestation.decode(signed.payload, { limits: { files: MAX_ATTESTED_FILES, environment: MAX_ENVIRONMENT_ENTRIES } })
  } catch (err: any) {
    bad('malformed', `undecodable attestation: ${err.message}`)
  }
  const files = checkFields(a)
  const { peerId, key } = (opts.cache ?? defaultCache).get(a.builder)
  if (!verify(null, Buffer.concat([DOMAIN, signed.payload]), key, signed.signature)) bad('bad-signature', `bad attestation signature for builder ${peerId}`)
  const time = Number(a.time)
  if (time > now + ATTESTATION_MAX_CLOCK_SKEW_MS) bad('not-yet-valid', `attestation made ${time - now} ms in the future`)

  const status: AttestationStatus = a.status === ATTESTATION_STATUS.ok ? 'ok' : 'failed'
  return {
    id: createHash('sha256').update(signed.payload).digest('hex'),
    job: hex(a.job),
    builder: peerId,
    status,
    ...(status === 'ok' ? { buildHash: hex(a.buildHash) } : {}),
    files,
    environment: a.environment.map(({ key, value }) => ({ key, value })),
    time,
    contributor: a.contributor,
    durationMs: Number(a.durationMs),
    payload: signed.payload,
    signature: signed.signature,
    envelope
  }
}

/** Every field of a decoded attestation; returns the files in their checked form */
function checkFields (a: Attestation): AttestationFile[] {
  if (a.job.length !== 32) bad('malformed', 'job must be 32 bytes')
  if (a.builder.length !== ED25519_PEER_ID_LENGTH || !ED25519_PEER_ID_PREFIX.every((b, i) => a.builder[i] === b)) bad('malformed', 'builder is not an Ed25519 peer ID')
  if (a.time <= 0n || a.time > BigInt(Number.MAX_SAFE_INTEGER)) bad('malformed', 'time out of bounds')
  checkEnvironment(a.environment)
  if (!isValidContributor(a.contributor)) bad('malformed', 'contributor must be at most 64 printable characters')
  if (a.durationMs > BigInt(MAX_BUILD_DURATION_MS)) bad('malformed', 'build duration out of bounds')
  const files = checkFiles(a.files)
  if (a.status === ATTESTATION_STATUS.failed) {
    if (a.buildHash.length !== 0) bad('malformed', 'a failed build has no build hash')
    if (files.length !== 0) bad('malformed', 'a failed build has no files')
  } else if (a.status === ATTESTATION_STATUS.ok) {
    if (files.length === 0) bad('malformed', 'a successful build lists its files')
    if (a.buildHash.length !== 32) bad('malformed', 'build hash must be 32 bytes')
    if (buildHash(files) !== hex(a.buildHash)) bad('malformed', 'build hash does not match the files')
  } else {
    bad('malformed', `unknown status ${a.status}`)
  }
  return files
}

function checkFiles (files: ReadonlyArray<{ name: string, size: bigint, sha256: Uint8Array, chunkSize: number, chunkRoot: Uint8Array }>): AttestationFile[] {
  if (files.length > MAX_ATTESTED_FILES) bad('malformed', `${files.length} files > ${MAX_ATTESTED_FILES}`)
  const names = new Set<string>()
  return files.map(f => {
    if (!isSafeFileName(f.name)) bad('malformed', `unsafe file name ${JSON.stringify(f.name.slice(0, 80))}`)
    if (names.has(f.name)) bad('malformed', `file ${f.name} listed twice`)
    names.add(f.name)
    if (f.size <= 0n || f.size > BigInt(MAX_FILE_SIZE)) bad('malformed', `size of ${f.name} out of bounds`)
    if (f.sha256.length !== 32) bad('malformed', `sha256 of ${f.name} must be 32 bytes`)
    const file: AttestationFile = { name: f.name, size: Number(f.size), sha256: hex(f.sha256) }
    if (f.chunkSize === 0 && f.chunkRoot.length === 0) return file
    checkChunking(f.name, file.size, f.chunkSize, f.chunkRoot)
    return { ...file, chunkSize: f.chunkSize, chunkRoot: hex(f.chunkRoot) }
  })
}

/** A v2 file entry's chunk size and chunk root: both set, within the blob protocol's limits */
function checkChunking (name: string, size: number, chunkSize: number, chunkRoot: Uint8Array): void {
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) bad('malformed', `chunk size of ${name} must be ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE} bytes`)
  if (Math.ceil(size / chunkSize) > MAX_CHUNKS) bad('malformed', `${name} has more than ${MAX_CHUNKS} chunks of ${chunkSize} bytes`)
  if (chunkRoot.length !== 32) bad('malformed', `chunk root of ${name} must be 32 bytes`)
}

function checkEnvironment (environment: readonly KeyValue[]): void {
  if (environment.length > MAX_ENVIRONMENT_ENTRIES) bad('malformed', `${environment.length} environment entries > ${MAX_ENVIRONMENT_ENTRIES}`)
  const keys = new Set<string>()
  let bytes = 0
  for (const { key, value } of environment) {
    if (key.length === 0 || key.length > MAX_ENVIRONMENT_KEY_LENGTH || !ENV_KEY_RE.test(key)) bad('malformed', `bad environment key ${JSON.stringify(key.slice(0, 80))}`)
    if (keys.has(key)) bad('malformed', `environment key ${key} given twice`)
    keys.add(key)
    if (value.length > MAX_ENVIRONMENT_VALUE_LENGTH || CONTROL_RE.test(value)) bad('malformed', `bad environment value for ${key}`)
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value)
  }
  if (bytes > MAX_ENVIRONMENT_BYTES) bad('malformed', `environment of ${bytes} bytes > ${MAX_ENVIRONMENT_BYTES}`)
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

/** An EquivocationProof of two SignedAttestation envelopes (in a canonical order); check them first */
export function createEquivocationProof (a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const pair = [new Uint8Array(a), new Uint8Array(b)].sort((x, y) => Buffer.compare(x, y))
  return EquivocationProof.encode({ attestations: pair })
}

/**
 * Checks an EquivocationProof: exactly two attestations, each valid (signature and fields; their time is
 * not held against the proof), by the same builder for the same job, making conflicting claims.
 * Throws GossipValidationError with reason 'oversized', 'malformed', 'bad-signature' (of an inner
 * attestation) or 'not-equivocation'.
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
  const [a, b] = p.attestations.map(bytes => checkAttestation(bytes, Number.POSITIVE_INFINITY, opts)).sort((x, y) => x.id < y.id ? -1 : x.id > y.id ? 1 : 0)
  if (a.builder !== b.builder) bad('not-equivocation', 'attestations by different builders')
  if (a.job !== b.job) bad('not-equivocation', 'attestations for different jobs')
  if (!attestationsConflict(a, b)) bad('not-equivocation', 'the attestations make the same claim')
  return { builder: a.builder, job: a.job, attestations: [a, b], proof }
}

/** Wraps an attestation envelope or an equivocation proof for the consensus topic */
export function encodeConsensusMessage (msg: { attestation: Uint8Array } | { equivocation: Uint8Array }): Uint8Array<ArrayBuffer> {
  if ('attestation' in msg) {
    if (msg.attestation.length === 0) throw new TypeError('empty attestation')
    return ConsensusMessage.encode({ attestation: new Uint8Array(msg.attestation) })
  }
  if (msg.equivocation.length === 0) throw new TypeError('empty equivocation proof')
  return ConsensusMessage.encode({ equivocation: new Uint8Array(msg.equivocation) })
}

/**
 * The validator of /skyline/1/consensus: decodes the wrapper (exactly one field set) and checks what it
 * carries. Throws GossipValidationError as checkAttestation and checkEquivocation do.
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
  const hasAttestation = m.attestation.length > 0
  const hasEquivocation = m.equivocation.length > 0
  if (hasAttestation === hasEquivocation) bad('malformed', 'a consensus message carries exactly one of attestation and equivocation')
  return hasAttestation
    ? { type: 'attestation', attestation: checkAttestation(m.attestation, now, opts) }
    : { type: 'equivocation', equivocation: checkEquivocation(m.equivocation, opts) }
}
