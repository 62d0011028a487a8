/**
 * The field rules of a signed attestation or commitment (docs/protocols/consensus.md, "Messages"), and
 * builders' public keys: what src/protocols/attestation.ts checks every payload with. Throws
 * GossipValidationError (REJECT) for anything every node would refuse.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import type { Attestation, KeyValue } from './pb/attestation.ts'
import { GossipValidationError } from './gossip.ts'
import { MAX_CHUNK_SIZE, MAX_CHUNKS, MIN_CHUNK_SIZE } from './blob-limits.ts'
import { buildHash } from '../rules/build-hash.ts'
import { NONCE_BYTES } from '../rules/commitment.ts'
import { isValidContributor } from '../rules/contributor.ts'
import { isSafeFileName } from '../rules/file-name.ts'
import { MAX_DIFFERING_FIELDS, MAX_OFFICIAL_DIFFERENCES, REPRODUCES, claimProblem, type OfficialClaim, type Reproduces } from '../rules/official.ts'
import {
  MAX_BUILD_DURATION_MS, MAX_ATTESTED_FILES, MAX_ENVIRONMENT_BYTES, MAX_ENVIRONMENT_ENTRIES, MAX_ENVIRONMENT_KEY_LENGTH,
  MAX_ENVIRONMENT_VALUE_LENGTH, MAX_FILE_SIZE, PUBLIC_KEY_CACHE_SIZE
} from '../rules/constants.ts'

/** Wire codes of `Attestation.status` (0: a commitment, which claims no status yet) */
export const ATTESTATION_STATUS = { ok: 1, failed: 2 } as const
export type AttestationStatus = keyof typeof ATTESTATION_STATUS

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

export const defaultCache = new BuilderKeyCache()

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

export function bad (reason: string, message: string): never {
  throw new GossipValidationError('reject', reason, message)
}

export function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function fromHex (value: string | Uint8Array, what: string): Uint8Array<ArrayBuffer> {
  if (typeof value !== 'string') return new Uint8Array(value)
  if (!/^[0-9a-f]{64}$/.test(value)) bad('malformed', `${what} must be 64 lowercase hex characters`)
  return new Uint8Array(Buffer.from(value, 'hex'))
}

/**
 * Every field of a decoded payload; returns its kind and the files in their checked form. A commitment
 * (`commitment` set, 32 bytes) carries only job, builder and time besides it; an attestation carries a
 * status, its hash and files, and, as a rules-v2 reveal, a 32-byte nonce.
 */
export function checkFields (a: Attestation): { kind: 'attestation' | 'commitment', files: AttestationFile[], official: OfficialClaim } {
  if (a.job.length !== 32) bad('malformed', 'job must be 32 bytes')
  if (a.builder.length !== ED25519_PEER_ID_LENGTH || !ED25519_PEER_ID_PREFIX.every((b, i) => a.builder[i] === b)) bad('malformed', 'builder is not an Ed25519 peer ID')
  if (a.time <= 0n || a.time > BigInt(Number.MAX_SAFE_INTEGER)) bad('malformed', 'time out of bounds')
  if (a.commitment.length > 0) {
    if (a.commitment.length !== 32) bad('malformed', 'commitment must be 32 bytes')
    if (a.status !== 0 || a.buildHash.length > 0 || a.files.length > 0 || a.environment.length > 0 || a.contributor !== '' || a.durationMs !== 0n || a.nonce.length > 0 ||
      a.official !== 0 || a.officialDifferences.length > 0) {
      bad('malformed', 'a commitment carries only job, builder, time and the commitment')
    }
    return { kind: 'commitment', files: [], official: UNKNOWN }
  }
  if (a.nonce.length !== 0 && a.nonce.length !== NONCE_BYTES) bad('malformed', `nonce must be ${NONCE_BYTES} bytes`)
  checkEnvironment(a.environment)
  if (!isValidContributor(a.contributor)) bad('malformed', 'contributor must be at most 64 printable characters')
  if (a.durationMs > BigInt(MAX_BUILD_DURATION_MS)) bad('malformed', 'build duration out of bounds')
  const files = checkFiles(a.files)
  const official = checkOfficial(a)
  if (a.status === ATTESTATION_STATUS.failed) {
    if (a.buildHash.length !== 0) bad('malformed', 'a failed build has no build hash')
    if (files.length !== 0) bad('malformed', 'a failed build has no files')
    if (official.reproduces !== 'unknown') bad('malformed', 'a failed build claims nothing about the official build')
  } else if (a.status === ATTESTATION_STATUS.ok) {
    if (files.length === 0) bad('malformed', 'a successful build lists its files')
    if (a.buildHash.length !== 32) bad('malformed', 'build hash must be 32 bytes')
    if (buildHash(files) !== hex(a.buildHash)) bad('malformed', 'build hash does not match the files')
  } else {
    bad('malformed', `unknown status ${a.status}`)
  }
  return { kind: 'attestation', files, official }
}

const UNKNOWN: OfficialClaim = { reproduces: 'unknown', differences: [] }
const REPRODUCES_BY_CODE = new Map(Object.entries(REPRODUCES).map(([k, v]) => [v as number, k as Reproduces]))

/** Decode limits of fields 14 (attestation v3): at most MAX_OFFICIAL_DIFFERENCES entries of at most MAX_DIFFERING_FIELDS fields */
export const OFFICIAL_DECODE_LIMITS = { officialDifferences: MAX_OFFICIAL_DIFFERENCES, officialDifferences$: { fields: MAX_DIFFERING_FIELDS } }

/** Fields 13–14 (attestation v3): a known code, and differences by the rules of src/rules/official.ts */
export function checkOfficial (a: Pick<Attestation, 'official' | 'officialDifferences'>): OfficialClaim {
  const reproduces = REPRODUCES_BY_CODE.get(a.official)
  if (reproduces === undefined) bad('malformed', `unknown official comparison code ${a.official}`)
  const claim: OfficialClaim = { reproduces, differences: a.officialDifferences.map(d => ({ name: d.name, fields: [...d.fields] })) }
  const problem = claimProblem(claim)
  if (problem !== undefined) bad('malformed', `official comparison: ${problem}`)
  return claim
}

export function checkFiles (files: ReadonlyArray<{ name: string, size: bigint, sha256: Uint8Array, chunkSize: number, chunkRoot: Uint8Array }>): AttestationFile[] {
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
