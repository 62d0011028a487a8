/**
 * Announcer keys and signed envelopes. An announcer key is Ed25519: the private key is a PKCS#8 PEM
 * file (mode 0600), the public key a one-line file `skyline-announcer-ed25519 <base64> [comment]`.
 * A SignedEnvelope carries a payload and an Ed25519 signature over `domain(kind) || payload`: the exact
 * encoded bytes, never a re-encoding.
 *
 * @example
 * ```ts
 * const key = loadAnnouncerKey('announcer.key')
 * const bytes = signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode(a), key)
 * const { payload } = openEnvelope(bytes, trusted, ENVELOPE_KIND.announcement)
 * ```
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { SignedEnvelope } from './pb/announce.ts'
import { GossipValidationError } from './gossip.ts'

export const ENVELOPE_KIND = { announcement: 1, control: 2 } as const
export type EnvelopeKind = typeof ENVELOPE_KIND[keyof typeof ENVELOPE_KIND]

const DOMAINS: Record<number, Uint8Array> = {
  [ENVELOPE_KIND.announcement]: new TextEncoder().encode('skyline/announce/v1\n'),
  [ENVELOPE_KIND.control]: new TextEncoder().encode('skyline/control/v1\n')
}

export const PUBLIC_KEY_PREFIX = 'skyline-announcer-ed25519'

export class KeyFileError extends Error {
  static name = 'KeyFileError'
  override name = 'KeyFileError'
}

/** Why an envelope was refused. `untrusted` and `bad-signature` come from a sender who must lose score. */
export class EnvelopeError extends Error {
  static name = 'EnvelopeError'
  override name = 'EnvelopeError'
  readonly code: 'malformed' | 'untrusted' | 'bad-signature' | 'wrong-kind'
  constructor (code: EnvelopeError['code'], message: string) {
    super(message)
    this.code = code
  }
}

export interface AnnouncerKey {
  privateKey: KeyObject
  publicKey: Uint8Array
}

export function generateAnnouncerKey (): { privatePem: string, publicLine: (comment?: string) => string, publicKey: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const raw = rawPublicKey(publicKey)
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: raw,
    publicLine: (comment?: string) => `${PUBLIC_KEY_PREFIX} ${Buffer.from(raw).toString('base64')}${comment != null ? ` ${comment}` : ''}\n`
  }
}

export function rawPublicKey (key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' })
  if (jwk.crv !== 'Ed25519' || jwk.x == null) throw new KeyFileError('not an Ed25519 key')
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'))
}

export function loadAnnouncerKey (path: string): AnnouncerKey {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err: any) {
    throw new KeyFileError(`cannot read announcer key ${path}: ${err.code ?? err.message}`)
  }
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(text)
  } catch {
    throw new KeyFileError(`${path} is not a PEM private key (make one with 'skyline keys generate --out ${path}')`)
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new KeyFileError(`${path} is a ${privateKey.asymmetricKeyType} key, not Ed25519`)
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) }
}

/** Parses `skyline-announcer-ed25519 <base64> [comment]` into the 32-byte raw key */
export function parsePublicKeyLine (line: string, where: string): Uint8Array {
  const parts = line.trim().split(/\s+/)
  if (parts[0] !== PUBLIC_KEY_PREFIX || parts.length < 2) throw new KeyFileError(`${where}: not an announcer public key (expected '${PUBLIC_KEY_PREFIX} <base64>')`)
  const raw = Buffer.from(parts[1], 'base64')
  if (raw.length !== 32 || raw.toString('base64') !== parts[1]) throw new KeyFileError(`${where}: announcer public key must be 32 bytes of base64`)
  return new Uint8Array(raw)
}

/** Trusted announcers: each entry a path to a .pub file or the public key line itself */
export function loadTrustedAnnouncers (entries: string[]): TrustedKeys {
  const keys = new TrustedKeys()
  for (const entry of entries) {
    if (entry.trim().startsWith(PUBLIC_KEY_PREFIX)) {
      keys.add(parsePublicKeyLine(entry, 'announcer'))
      continue
    }
    let text: string
    try {
      text = readFileSync(entry, 'utf8')
    } catch (err: any) {
      throw new KeyFileError(`cannot read announcer public key ${entry}: ${err.code ?? err.message}`)
    }
    let found = 0
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '' || line.trim().startsWith('#')) return
      keys.add(parsePublicKeyLine(line, `${entry}:${i + 1}`))
      found++
    })
    // a file named as an announcer key that holds none is a mistake (an empty file, /dev/null, the wrong
    // file), not a wish to trust nobody: a node would run refusing every announcement
    if (found === 0) throw new KeyFileError(`${entry}: no announcer public key in it (expected '${PUBLIC_KEY_PREFIX} <base64>')`)
  }
  return keys
}

/** A set of trusted Ed25519 keys with their node:crypto KeyObjects cached */
export class TrustedKeys {
  private readonly keys = new Map<string, KeyObject>()

  add (raw: Uint8Array): void {
    const id = Buffer.from(raw).toString('hex')
    if (this.keys.has(id)) return
    this.keys.set(id, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' }))
  }

  get (raw: Uint8Array): KeyObject | undefined {
    return this.keys.get(Buffer.from(raw).toString('hex'))
  }

  get size (): number {
    return this.keys.size
  }

  ids (): string[] {
    return [...this.keys.keys()]
  }
}

export function signEnvelope (kind: EnvelopeKind, payload: Uint8Array, key: AnnouncerKey): Uint8Array {
  const signature = sign(null, Buffer.concat([DOMAINS[kind], payload]), key.privateKey)
  return SignedEnvelope.encode({ kind, payload: new Uint8Array(payload), publicKey: new Uint8Array(key.publicKey), signature })
}

/** Decodes and checks an envelope: known kind, trusted key, valid signature. Throws EnvelopeError. */
export function openEnvelope (bytes: Uint8Array, trusted: TrustedKeys, expectKind?: EnvelopeKind): { kind: EnvelopeKind, payload: Uint8Array, publicKey: Uint8Array } {
  let env: SignedEnvelope
  try {
    env = SignedEnvelope.decode(bytes, { limits: {} })
  } catch (err: any) {
    throw new EnvelopeError('malformed', `undecodable envelope: ${err.message}`)
  }
  // one encoding per (kind, payload, key, signature), as for attestations: otherwise anyone could re-wrap
  // a valid envelope (an unknown field, a padded varint) into bytes gossipsub has not seen, which every
  // node would verify again and ignore as a duplicate, at no cost to the sender's score
  if (!Buffer.from(SignedEnvelope.encode(env)).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))) {
    throw new EnvelopeError('malformed', 'envelope is not canonically encoded')
  }
  const domain = DOMAINS[env.kind]
  if (domain === undefined) throw new EnvelopeError('malformed', `unknown envelope kind ${env.kind}`)
  if (expectKind !== undefined && env.kind !== expectKind) throw new EnvelopeError('wrong-kind', `envelope kind ${env.kind} on the wrong topic`)
  if (env.publicKey.length !== 32 || env.signature.length !== 64) throw new EnvelopeError('malformed', 'public key or signature has the wrong length')
  const key = trusted.get(env.publicKey)
  if (key === undefined) throw new EnvelopeError('untrusted', `untrusted announcer key ${Buffer.from(env.publicKey).toString('hex').slice(0, 16)}`)
  if (!verify(null, Buffer.concat([domain, env.payload]), key, env.signature)) throw new EnvelopeError('bad-signature', 'bad announcer signature')
  return { kind: env.kind as EnvelopeKind, payload: env.payload, publicKey: env.publicKey }
}

/**
 * openEnvelope for a gossip validator: the envelope checked, then its payload decoded with `decode`;
 * every failure is a GossipValidationError(reject) with the reason as its label.
 */
export function openGossipEnvelope<T> (bytes: Uint8Array, trusted: TrustedKeys, kind: EnvelopeKind, decode: (payload: Uint8Array) => T, what: string): { message: T, payload: Uint8Array, publicKey: Uint8Array } {
  let opened
  try {
    opened = openEnvelope(bytes, trusted, kind)
  } catch (err: any) {
    if (err instanceof EnvelopeError) throw new GossipValidationError('reject', err.code, err.message)
    throw err
  }
  try {
    return { message: decode(opened.payload), payload: opened.payload, publicKey: opened.publicKey }
  } catch (err: any) {
    throw new GossipValidationError('reject', 'malformed', `undecodable ${what}: ${err.message}`)
  }
}
