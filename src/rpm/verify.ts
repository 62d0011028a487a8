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
import { OPENPGPJS_SIGNING_ALGOS, PGP_HASH, PGP_PUBKEY, SIGTAG } from './constants.ts'
import { RpmFormatError } from './errors.ts'
import { hex } from './header.ts'
import type { Keyring } from './keyring.ts'
import {
  describeSignature, firstMpi, parseSignaturePacket, rsaVerifyDigest, SIGTYPE_BINARY, SignatureFormatError,
  UnsupportedSignatureError, v3Hasher, type SignaturePacket
} from './pgp.ts'
import { fileChunks, readRpm, readRpmFile, type DeclaredDigest, type DeclaredSignature, type DigestName, type RpmPackage } from './reader.ts'

export type SignatureStatus = 'ok' | 'bad' | 'nokey' | 'untrusted' | 'unsupported'

export interface SignatureCheck {
  readonly tag: number
  readonly index: number
  readonly range: 'header' | 'header+payload'
  /** "V4 RSA/SHA256", or "unparseable". */
  readonly description: string
  /** Issuer key ID from the signature, 16 hex digits. */
  readonly keyId?: string
  /** The (sub)key that verified it and its primary key's fingerprint, when status is ok. */
  readonly signer?: { readonly keyId: string, readonly fingerprint: string }
  readonly status: SignatureStatus
  readonly message?: string
  /** This check alone rejects the package. */
  readonly fatal: boolean
}

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

const LEGACY_TAGS = new Set<number>([SIGTAG.DSA, SIGTAG.RSA, SIGTAG.PGP, SIGTAG.GPG])

interface Candidate {
  key: openpgp.PublicKey
  signing: openpgp.PublicKey | openpgp.Subkey
}

type Resolved = { status: 'nokey' | 'untrusted', message: string } | { candidates: Candidate[] }

/**
 * The keys that may have made `p`: keys of the keyring holding a (sub)key with its issuer key ID (and
 * fingerprint, when the signature names one) that OpenPGP.js accepts as a signing key now and at the
 * signature's creation time: bound by a valid binding signature with a valid back-signature, not
 * revoked, not expired, capable of signing, strong enough for the config.
 */
async function resolveSigner (p: SignaturePacket, keyring: Keyring, now: Date, config: openpgp.Config): Promise<Resolved> {
  const id = p.issuerKeyId
  if (id === undefined) return { status: 'nokey', message: 'the signature names no issuer' }
  const keys = keyring.lookup(id)
  if (keys.length === 0) return { status: 'nokey', message: `no key ${id} in the keyring` }
  const candidates: Candidate[] = []
  const problems: string[] = []
  for (const key of keys) {
    const matches = key.getKeys().filter(k => k.getKeyID().toHex() === id)
    for (const m of matches) {
      if (p.issuerFingerprint !== undefined && m.getFingerprint() !== p.issuerFingerprint) {
        problems.push(`key ${m.getFingerprint()} has key ID ${id} but the signature names fingerprint ${p.issuerFingerprint}`)
        continue
      }
      try {
        const signing = await key.getSigningKey(m.getKeyID(), now, undefined, config)
        if (signing.getFingerprint() !== m.getFingerprint()) throw new Error(`${id} is not a valid signing key`)
        if (p.created !== undefined) {
          if (signing.getCreationTime() > p.created) throw new Error('the key is newer than the signature')
          await key.getSigningKey(m.getKeyID(), p.created, undefined, config)
        }
        candidates.push({ key, signing })
      } catch (err: any) {
        problems.push(`key ${key.getFingerprint()}: ${err?.message ?? err}`)
      }
    }
  }
  if (candidates.length === 0) {
    const noMatch = problems.every(m => m.includes('but the signature names fingerprint'))
    return { status: noMatch ? 'nokey' : 'untrusted', message: problems.join('; ') }
  }
  return { candidates }
}

function signerOf (c: Candidate): { keyId: string, fingerprint: string } {
  return { keyId: c.signing.getKeyID().toHex(), fingerprint: c.key.getFingerprint() }
}

/** V3 RSA: the digest (already computed over data || trailer) against each candidate's RSA key. */
function verifyV3 (p: SignaturePacket, digest: Uint8Array, candidates: Candidate[]): { status: SignatureStatus, message?: string, signer?: Candidate } {
  if (digest[0] !== p.left16[0] || digest[1] !== p.left16[1]) {
    return { status: 'bad', message: `hash check bytes ${hex(p.left16)} do not match the digest ${hex(digest.subarray(0, 2))}` }
  }
  const hashName = PGP_HASH[p.hashAlgo].node
  const sig = firstMpi(p.material)
  for (const c of candidates) {
    const kp = c.signing.keyPacket
    const params = kp.publicParams as { n?: Uint8Array, e?: Uint8Array }
    if (params.n === undefined || params.e === undefined) continue
    if (rsaVerifyDigest(hashName, digest, sig, params.n, params.e)) return { status: 'ok', signer: c }
  }
  return { status: 'bad', message: 'RSA signature does not verify' }
}

async function drain (data: unknown): Promise<void> {
  if (data instanceof ReadableStream) {
    const reader = data.getReader()
    while (!(await reader.read()).done) { /* hashing happens as it is read */ }
  }
}

/** V4/V6 with OpenPGP.js, against each candidate in turn (key IDs may collide). */
async function verifyWithOpenPGP (packet: Uint8Array, candidates: Candidate[], message: () => Promise<openpgp.Message<any>>, now: Date, config: openpgp.Config): Promise<{ status: SignatureStatus, message?: string, signer?: Candidate }> {
  let signature: openpgp.Signature
  try {
    signature = await openpgp.readSignature({ binarySignature: packet, config })
  } catch (err: any) {
    return { status: 'unsupported', message: `OpenPGP.js cannot read it: ${err?.message ?? err}` }
  }
  if (signature.packets.length !== 1) return { status: 'unsupported', message: 'OpenPGP.js cannot read it (unsupported algorithm)' }
  const errors: string[] = []
  for (const c of candidates) {
    try {
      const result = await openpgp.verify({ message: await message(), signature, verificationKeys: [c.key], date: now, config, format: 'binary' })
      await drain(result.data)
      if (result.signatures.length !== 1) throw new Error('no verifiable signature')
      await result.signatures[0].verified
      return { status: 'ok', signer: c }
    } catch (err: any) {
      errors.push(err?.message ?? String(err))
    }
  }
  return { status: 'bad', message: errors.join('; ') }
}

interface Prepared {
  decl: DeclaredSignature
  packet?: SignaturePacket
  description: string
  /** Set when the outcome is known without cryptography. */
  done?: { status: SignatureStatus, message: string }
  candidates?: Candidate[]
  /** V3 header+payload: hash fed during the payload pass. */
  v3?: { hash: Hash, finish: () => Uint8Array }
}

async function prepare (decl: DeclaredSignature, keyring: Keyring, now: Date, config: openpgp.Config): Promise<Prepared> {
  const legacy = LEGACY_TAGS.has(decl.tag)
  let p: SignaturePacket
  try {
    p = parseSignaturePacket(decl.packet)
  } catch (err: any) {
    const unsupported = err instanceof UnsupportedSignatureError
    if (!(err instanceof SignatureFormatError)) throw err
    return { decl, description: 'unparseable', done: { status: unsupported ? 'unsupported' : 'bad', message: `invalid OpenPGP signature: ${err.message}` } }
  }
  const prepared: Prepared = { decl, packet: p, description: describeSignature(p) }
  const finish = (status: SignatureStatus, message: string): Prepared => ({ ...prepared, done: { status, message } })
  if (p.sigType !== SIGTYPE_BINARY) return finish('bad', `signature type 0x${p.sigType.toString(16).padStart(2, '0')}, want 0x00 (binary document)`)
  if (legacy && p.rpm4Lints.length > 0) return finish('unsupported', `rpm 4.18 cannot verify it: ${p.rpm4Lints.join('; ')}`)
  if (!legacy && p.version === 3) return finish('unsupported', 'V3 signature in RPMSIGTAG_OPENPGP')
  const hash = PGP_HASH[p.hashAlgo]
  if (hash === undefined) return finish('unsupported', `unknown hash algorithm ${p.hashAlgo}`)
  if (config.rejectHashAlgorithms.has(p.hashAlgo) || config.rejectMessageHashAlgorithms.has(p.hashAlgo)) {
    return finish('unsupported', `${hash.name} signatures are refused`)
  }
  if (p.version === 3 && p.pubkeyAlgo !== 1) return finish('unsupported', 'only RSA V3 signatures are supported')
  if (!OPENPGPJS_SIGNING_ALGOS.has(p.pubkeyAlgo)) return finish('unsupported', `public-key algorithm ${p.pubkeyAlgo} (${PGP_PUBKEY[p.pubkeyAlgo] ?? 'unknown'}) is not supported`)
  if (p.created !== undefined && p.created.getTime() > now.getTime()) return finish('bad', `signature created in the future (${p.created.toISOString()})`)
  const resolved = await resolveSigner(p, keyring, now, config)
  if ('status' in resolved) return finish(resolved.status, resolved.message)
  prepared.candidates = resolved.candidates
  if (p.version === 3 && decl.range === 'header+payload') prepared.v3 = v3Hasher(p)
  return prepared
}

function signatureCheck (s: Prepared, status: SignatureStatus, message?: string, signer?: Candidate): SignatureCheck {
  const legacy = LEGACY_TAGS.has(s.decl.tag)
  return {
    tag: s.decl.tag,
    index: s.decl.index,
    range: s.decl.range,
    description: s.description,
    ...(s.packet?.issuerKeyId === undefined ? {} : { keyId: s.packet.issuerKeyId }),
    ...(signer === undefined ? {} : { signer: signerOf(signer) }),
    status,
    ...(message === undefined ? {} : { message }),
    fatal: status === 'bad' || (legacy && status !== 'ok')
  }
}

function sigLabel (s: SignatureCheck): string {
  return `tag ${s.tag}${s.tag === SIGTAG.OPENPGP ? `[${s.index}]` : ''}, ${s.description}`
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
