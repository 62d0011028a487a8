/**
 * Signature and digest verification of an RPM package, and Skyline's acceptance policy
 * (docs/rpm-verification.md):
 *
 * - accepted only if at least one header signature (RPMSIGTAG_RSA 268, DSA 267, OPENPGP 278) verifies
 *   against a key of the keyring that is valid now and was valid when it signed, AND every digest present
 *   matches (header SHA256/SHA1/SHA3-256, payload SHA256/SHA512/SHA3-256, MD5), AND the payload is
 *   covered by a digest in the signed header (or by a verified header+payload signature);
 * - a signature that fails cryptographically, or is malformed, rejects the package wherever it is;
 * - in the rpm 4 tags (267, 268, 1002, 1005), which rpm 4.18 verifies, any signature that is not OK
 *   (unknown key, invalid key, an algorithm rpm 4.18 cannot verify) rejects the package, so nothing is
 *   accepted here that rpm 4.18 rejects; in RPMSIGTAG_OPENPGP (278), which rpm 4.18 ignores, signatures by
 *   unknown keys or in algorithms OpenPGP.js cannot verify are skipped.
 *
 * V3 signature packets (Fedora's signing service makes them) are verified here with node:crypto, since
 * OpenPGP.js 6 drops them; V4 and V6 ones with OpenPGP.js. Payload digests and header+payload signatures
 * are computed by streaming the payload.
 */
import { createHash, type Hash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import * as openpgp from 'openpgp'
import { RpmFormatError } from './errors.ts'
import type { Keyring } from './keyring.ts'
import { v3Hasher, type SignaturePacket } from './pgp.ts'
import {
  prepare, sigLabel, signatureCheck, verifyV3, verifyWithOpenPGP,
  type Candidate, type Prepared, type SignatureCheck, type SignatureStatus
} from './signatures.ts'
import { fileChunks, readRpm, readRpmFile, type DeclaredDigest, type DigestName, type RpmPackage } from './reader.ts'

export type DigestStatus = 'ok' | 'bad' | 'skipped'

export interface DigestCheck {
  readonly name: DigestName
  readonly tag: number
  readonly index: number
  readonly expected: string
  readonly actual?: string
  readonly status: DigestStatus
  readonly message?: string
}

export interface VerifyResult {
  readonly verdict: 'accepted' | 'rejected'
  /** Why it was rejected; one line. */
  readonly reason?: string
  readonly nevra?: string
  readonly isSource?: boolean
  /** Key ID (16 hex digits) of the (sub)key whose header signature was accepted. */
  readonly keyId?: string
  /** Fingerprint of that key's primary key. */
  readonly fingerprint?: string
  readonly signatures: readonly SignatureCheck[]
  readonly digests: readonly DigestCheck[]
  /** The parsed package, unless it was malformed. */
  readonly package?: RpmPackage
}

export interface VerifyOptions {
  /** The time keys must be valid at, and no signature may be created after. Default: now. */
  now?: Date
  signal?: AbortSignal
  /** OpenPGP.js settings (its defaults refuse DSA keys, RSA under 2047 bits, MD5/RIPEMD-160/SHA-1 signatures). */
  config?: openpgp.PartialConfig
}

export type { SignatureCheck, SignatureStatus } from './signatures.ts'

/** The payload bytes (payloadOffset to the end of the file), as a fresh iterable each time. */
export type PayloadSource = () => AsyncIterable<Uint8Array>

const DIGEST_LABEL: Readonly<Record<DigestName, string>> = {
  'header-sha256': 'header SHA256',
  'header-sha1': 'header SHA1',
  'header-sha3-256': 'header SHA3-256',
  md5: 'MD5',
  'payload-sha256': 'payload SHA256',
  'payload-sha512': 'payload SHA512',
  'payload-sha3-256': 'payload SHA3-256',
  'payload-sha256-alt': 'payload SHA256 ALT',
  'payload-sha512-alt': 'payload SHA512 ALT',
  'payload-sha3-256-alt': 'payload SHA3-256 ALT'
}

export function digestLabel (d: { name: DigestName, tag: number }): string {
  return `${DIGEST_LABEL[d.name]} digest (tag ${d.tag})`
}

/** The policy: one line saying why, or undefined when the package is accepted. */
function decide (sigs: SignatureCheck[], digests: DigestCheck[], sizeProblems: string[]): string | undefined {
  const badDigests = digests.filter(d => d.status === 'bad')
  if (badDigests.length > 0) {
    return 'digest mismatch: ' + badDigests.map(d => `${digestLabel(d)}: ${d.message ?? `expected ${d.expected}, got ${d.actual ?? '?'}`}`).join('; ')
  }
  if (sizeProblems.length > 0) return `size mismatch: ${sizeProblems.join('; ')}`
  const fatal = sigs.filter(s => s.fatal)
  const first = (status: SignatureStatus): SignatureCheck | undefined => fatal.find(s => s.status === status)
  const bad = first('bad')
  if (bad !== undefined) return `bad signature (${sigLabel(bad)}${bad.keyId === undefined ? '' : `, key ${bad.keyId}`}): ${bad.message ?? 'does not verify'}`
  for (const status of ['nokey', 'untrusted'] as const) {
    const s = first(status)
    if (s !== undefined) return `untrusted key ${s.keyId ?? '(none named)'} (${sigLabel(s)}): ${s.message ?? ''}`
  }
  const unsupported = first('unsupported')
  if (unsupported !== undefined) return `unsupported signature (${sigLabel(unsupported)}): ${unsupported.message ?? ''}`
  const headerSigs = sigs.filter(s => s.range === 'header')
  if (!headerSigs.some(s => s.status === 'ok')) {
    if (sigs.length === 0) return 'no signature'
    if (headerSigs.length === 0) return 'no header signature (only header+payload signatures)'
    const s = headerSigs.find(s => s.status === 'nokey' || s.status === 'untrusted')
    if (s !== undefined) return `untrusted key ${s.keyId ?? '(none named)'} (${sigLabel(s)}): ${s.message ?? ''}`
    const u = headerSigs[0]
    return `unsupported signature (${sigLabel(u)}): ${u.message ?? ''}`
  }
  const payloadCovered = digests.some(d => d.status === 'ok' && (d.name === 'payload-sha256' || d.name === 'payload-sha512' || d.name === 'payload-sha3-256')) ||
    sigs.some(s => s.range === 'header+payload' && s.status === 'ok')
  if (!payloadCovered) return 'payload not covered by the signature: no payload digest in the signed header'
  return undefined
}

/**
 * Verifies a parsed package whose payload `payload()` streams. Signatures in the signature header are
 * checked against `keyring`; returns the verdict with every check made.
 */
export async function verifyPackage (pkg: RpmPackage, payload: PayloadSource, keyring: Keyring, options: VerifyOptions = {}): Promise<VerifyResult> {
  const now = options.now ?? new Date()
  const config: openpgp.Config = { ...openpgp.config, ...options.config }
  const headerBytes = pkg.header.bytes

  // Digests (computed below) are compared case-insensitively: both sides are lowercase hex.
  const check = (d: DeclaredDigest, actual: string | undefined, problem?: { status: DigestStatus, message: string }): DigestCheck => ({
    name: d.name,
    tag: d.tag,
    index: d.index,
    expected: d.expected,
    ...(actual === undefined ? {} : { actual }),
    status: problem?.status ?? (actual === d.expected ? 'ok' : 'bad'),
    ...(problem === undefined ? {} : { message: problem.message })
  })

  // Signatures: parse, look up keys, check what needs no data.
  const prepared: Prepared[] = []
  for (const decl of pkg.signatures) {
    options.signal?.throwIfAborted()
    prepared.push(await prepare(decl, keyring, now, config))
  }

  // One pass over the payload for MD5 (header+payload), payload digests and V3 header+payload signatures.
  const payloadHashes = new Map<string, Hash>()
  for (const d of pkg.digests) {
    if (d.range === 'payload' && !payloadHashes.has(d.algorithm)) payloadHashes.set(d.algorithm, createHash(d.algorithm))
  }
  const md5 = pkg.digests.some(d => d.name === 'md5') ? createHash('md5').update(headerBytes) : undefined
  const v3 = prepared.filter(s => s.v3 !== undefined).map(s => s.v3 as { hash: Hash })
  for (const h of v3) h.hash.update(headerBytes)
  let payloadLength = 0
  for await (const chunk of payload()) {
    options.signal?.throwIfAborted()
    payloadLength += chunk.byteLength
    md5?.update(chunk)
    for (const h of payloadHashes.values()) h.update(chunk)
    for (const h of v3) h.hash.update(chunk)
  }
  const payloadDigestValues = new Map([...payloadHashes].map(([algo, h]) => [algo, h.digest('hex')]))
  const md5Value = md5?.digest('hex')

  const digests: DigestCheck[] = pkg.digests.map(d => {
    switch (d.range) {
      case 'header':
        return pkg.signedRegion === undefined
          ? check(d, undefined, { status: 'bad', message: 'the main header has no immutable region' })
          : check(d, createHash(d.algorithm).update(pkg.signedRegion).digest('hex'))
      case 'header+payload': return check(d, md5Value)
      case 'payload': return check(d, payloadDigestValues.get(d.algorithm))
      default: return check(d, undefined, { status: 'skipped', message: 'digest of the uncompressed payload: not checked' })
    }
  })

  const sizeProblems: string[] = []
  const headerPayload = headerBytes.byteLength + payloadLength
  if (pkg.headerPayloadSize !== undefined && pkg.headerPayloadSize !== headerPayload) {
    sizeProblems.push(`signature header says header+payload is ${pkg.headerPayloadSize} bytes, file has ${headerPayload}`)
  }
  if (pkg.payloadSize !== undefined && pkg.payloadSize !== payloadLength) {
    sizeProblems.push(`main header says the payload is ${pkg.payloadSize} bytes, file has ${payloadLength}`)
  }

  // Cryptography.
  const sigs: SignatureCheck[] = []
  for (const s of prepared) {
    options.signal?.throwIfAborted()
    if (s.done !== undefined) {
      sigs.push(signatureCheck(s, s.done.status, s.done.message))
      continue
    }
    const p = s.packet as SignaturePacket
    const candidates = s.candidates as Candidate[]
    let outcome: { status: SignatureStatus, message?: string, signer?: Candidate }
    if (p.version === 3) {
      if (s.decl.range === 'header') {
        if (pkg.signedRegion === undefined) {
          outcome = { status: 'bad', message: 'the main header has no immutable region to sign' }
        } else {
          const h = v3Hasher(p)
          h.hash.update(pkg.signedRegion)
          outcome = verifyV3(p, h.finish(), candidates)
        }
      } else {
        outcome = verifyV3(p, (s.v3 as { finish: () => Uint8Array }).finish(), candidates)
      }
    } else if (s.decl.range === 'header') {
      const region = pkg.signedRegion
      outcome = region === undefined
        ? { status: 'bad', message: 'the main header has no immutable region to sign' }
        : await verifyWithOpenPGP(s.decl.packet, candidates, async () => openpgp.createMessage({ binary: region }), now, config)
    } else {
      const stream = (): ReadableStream<Uint8Array> => ReadableStream.from((async function * () {
        yield headerBytes
        yield* payload()
      })())
      outcome = await verifyWithOpenPGP(s.decl.packet, candidates, async () => openpgp.createMessage({ binary: stream() }), now, config)
    }
    sigs.push(signatureCheck(s, outcome.status, outcome.message, outcome.signer))
  }

  const reason = decide(sigs, digests, sizeProblems)
  const accepted = sigs.find(s => s.range === 'header' && s.status === 'ok')
  return {
    verdict: reason === undefined ? 'accepted' : 'rejected',
    ...(reason === undefined ? {} : { reason }),
    nevra: pkg.nevra,
    isSource: pkg.isSource,
    ...(reason === undefined && accepted?.signer !== undefined ? { keyId: accepted.signer.keyId, fingerprint: accepted.signer.fingerprint } : {}),
    signatures: sigs,
    digests,
    package: pkg
  }
}

function malformed (err: RpmFormatError): VerifyResult {
  return { verdict: 'rejected', reason: `malformed: ${err.message}`, signatures: [], digests: [] }
}

/** Verifies a package held in memory. Malformed input is a rejection, not an exception. */
export async function verifyRpm (bytes: Uint8Array, keyring: Keyring, options: VerifyOptions = {}): Promise<VerifyResult> {
  let pkg: RpmPackage
  try {
    pkg = readRpm(bytes)
  } catch (err) {
    if (err instanceof RpmFormatError) return malformed(err)
    throw err
  }
  const payload = bytes.subarray(pkg.payloadOffset)
  return verifyPackage(pkg, async function * () { yield payload }, keyring, options)
}

/**
 * Verifies a package file, reading its headers and streaming its payload, so a large package is never
 * held in memory. Malformed content is a rejection; a file that cannot be opened or read throws (the
 * caller reports it as unreadable).
 */
export async function verifyRpmFile (file: string | FileHandle, keyring: Keyring, options: VerifyOptions = {}): Promise<VerifyResult> {
  const fh = typeof file === 'string' ? await open(file, 'r') : file
  try {
    let pkg: RpmPackage
    try {
      pkg = await readRpmFile(fh, options)
    } catch (err) {
      if (err instanceof RpmFormatError) return malformed(err)
      throw err
    }
    try {
      return await verifyPackage(pkg, () => fileChunks(fh, pkg.payloadOffset, pkg.fileSize, options), keyring, options)
    } catch (err) {
      // The file changed size while it was read.
      if (err instanceof RpmFormatError) return malformed(err)
      throw err
    }
  } finally {
    if (typeof file === 'string') await fh.close()
  }
}
