/**
 * One header signature of an RPM: the keys that may have made it, and its cryptographic check (V3 packets
 * with node:crypto, V4 and V6 with OpenPGP.js). The policy over all of them is verify.ts.
 */
import type { Hash } from 'node:crypto'
import * as openpgp from 'openpgp'
import { OPENPGPJS_SIGNING_ALGOS, PGP_HASH, PGP_PUBKEY, SIGTAG } from './constants.ts'
import { hex } from './header.ts'
import type { Keyring } from './keyring.ts'
import {
  describeSignature, firstMpi, parseSignaturePacket, rsaVerifyDigest, SIGTYPE_BINARY, SignatureFormatError,
  UnsupportedSignatureError, v3Hasher, type SignaturePacket
} from './pgp.ts'
import type { DeclaredSignature } from './reader.ts'

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

export const LEGACY_TAGS = new Set<number>([SIGTAG.DSA, SIGTAG.RSA, SIGTAG.PGP, SIGTAG.GPG])

export interface Candidate {
  key: openpgp.PublicKey
  signing: openpgp.PublicKey | openpgp.Subkey
}

export type Resolved = { status: 'nokey' | 'untrusted', message: string } | { candidates: Candidate[] }

/**
 * The keys that may have made `p`: keys of the keyring holding a (sub)key with its issuer key ID (and
 * fingerprint, when the signature names one) that OpenPGP.js accepts as a signing key now and at the
 * signature's creation time: bound by a valid binding signature with a valid back-signature, not
 * revoked, not expired, capable of signing, strong enough for the config.
 */
export async function resolveSigner (p: SignaturePacket, keyring: Keyring, now: Date, config: openpgp.Config): Promise<Resolved> {
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

export function signerOf (c: Candidate): { keyId: string, fingerprint: string } {
  return { keyId: c.signing.getKeyID().toHex(), fingerprint: c.key.getFingerprint() }
}

/** V3 RSA: the digest (already computed over data || trailer) against each candidate's RSA key. */
export function verifyV3 (p: SignaturePacket, digest: Uint8Array, candidates: Candidate[]): { status: SignatureStatus, message?: string, signer?: Candidate } {
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

export async function drain (data: unknown): Promise<void> {
  if (data instanceof ReadableStream) {
    const reader = data.getReader()
    while (!(await reader.read()).done) { /* hashing happens as it is read */ }
  }
}

/** V4/V6 with OpenPGP.js, against each candidate in turn (key IDs may collide). */
export async function verifyWithOpenPGP (packet: Uint8Array, candidates: Candidate[], message: () => Promise<openpgp.Message<any>>, now: Date, config: openpgp.Config): Promise<{ status: SignatureStatus, message?: string, signer?: Candidate }> {
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

export interface Prepared {
  decl: DeclaredSignature
  packet?: SignaturePacket
  description: string
  /** Set when the outcome is known without cryptography. */
  done?: { status: SignatureStatus, message: string }
  candidates?: Candidate[]
  /** V3 header+payload: hash fed during the payload pass. */
  v3?: { hash: Hash, finish: () => Uint8Array }
}

export async function prepare (decl: DeclaredSignature, keyring: Keyring, now: Date, config: openpgp.Config): Promise<Prepared> {
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

export function signatureCheck (s: Prepared, status: SignatureStatus, message?: string, signer?: Candidate): SignatureCheck {
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

export function sigLabel (s: SignatureCheck): string {
  return `tag ${s.tag}${s.tag === SIGTAG.OPENPGP ? `[${s.index}]` : ''}, ${s.description}`
}
