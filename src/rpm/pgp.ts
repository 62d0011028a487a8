/**
 * Just enough OpenPGP to route an rpm signature: parse one signature packet (V3, V4 or V6) for its
 * version, type, algorithms, creation time and issuer, apply rpm 4.18's own packet checks
 * (rpmio/rpmpgp_internal.c), and verify V3 RSA signatures, which OpenPGP.js 6 silently drops.
 * V4 and V6 signatures are verified with OpenPGP.js (verify.ts).
 */
import { createHash, type Hash } from 'node:crypto'
import { PGP_HASH, PGP_PUBKEY } from './constants.ts'
import { hex } from './header.ts'

/** A signature packet that cannot be parsed, or that rpm 4.18 would refuse to parse. */
export class SignatureFormatError extends Error {
  static name = 'SignatureFormatError'
  override name = 'SignatureFormatError'
}

/** A well-formed packet of a signature version this code does not handle (not V3, V4 or V6). */
export class UnsupportedSignatureError extends SignatureFormatError {
  static name = 'UnsupportedSignatureError'
  override name = 'UnsupportedSignatureError'
}

export const PGPTAG_SIGNATURE = 2
export const SIGTYPE_BINARY = 0x00

export interface SignaturePacket {
  readonly version: number
  readonly sigType: number
  readonly pubkeyAlgo: number
  readonly hashAlgo: number
  /** Creation time (V3: the hashed time; V4/V6: the hashed creation-time subpacket). */
  readonly created: Date | undefined
  /** 16 lowercase hex digits: V3 field, issuer subpacket, or derived from the issuer fingerprint. */
  readonly issuerKeyId: string | undefined
  /** Lowercase hex (40 digits for V4 keys, 64 for V6), from the issuer fingerprint subpacket. */
  readonly issuerFingerprint: string | undefined
  /** The first two bytes of the hash, a quick check. */
  readonly left16: Uint8Array
  /** V3: the five hashed bytes (signature type and creation time) appended to the data. */
  readonly v3Trailer: Uint8Array | undefined
  /** Everything after left16 (V6: after the salt): the algorithm-specific signature. */
  readonly material: Uint8Array
  /**
   * Reasons rpm 4.18 would refuse this packet in a RPMSIGTAG_RSA/DSA/PGP/GPG tag (critical subpackets it
   * does not know, no hashed creation time, no issuer key ID, MPI count mismatch...). Empty when it would not.
   */
  readonly rpm4Lints: readonly string[]
}

/** "V4 RSA/SHA256", as rpm describes a signature. */
export function describeSignature (p: SignaturePacket): string {
  return `V${p.version} ${PGP_PUBKEY[p.pubkeyAlgo] ?? `algorithm ${p.pubkeyAlgo}`}/${PGP_HASH[p.hashAlgo]?.name ?? `hash ${p.hashAlgo}`}`
}

/** Splits off one OpenPGP packet header; returns tag and body. Partial and indeterminate lengths are refused. */
function packetBody (bytes: Uint8Array): { tag: number, body: Uint8Array } {
  if (bytes.byteLength < 2) throw new SignatureFormatError(`packet of ${bytes.byteLength} bytes`)
  const b = bytes[0]
  if ((b & 0x80) === 0) throw new SignatureFormatError(`bad packet header byte 0x${b.toString(16)}`)
  let tag: number
  let length: number
  let pos: number
  if ((b & 0x40) !== 0) {
    tag = b & 0x3f
    const o1 = bytes[1]
    if (o1 < 192) {
      length = o1; pos = 2
    } else if (o1 < 224) {
      if (bytes.byteLength < 3) throw new SignatureFormatError('truncated packet length')
      length = ((o1 - 192) << 8) + bytes[2] + 192; pos = 3
    } else if (o1 === 255) {
      if (bytes.byteLength < 6) throw new SignatureFormatError('truncated packet length')
      length = new DataView(bytes.buffer, bytes.byteOffset + 2, 4).getUint32(0); pos = 6
    } else {
      throw new SignatureFormatError('partial body length in a signature packet')
    }
  } else {
    tag = (b >> 2) & 0x0f
    const lengthType = b & 0x03
    if (lengthType === 3) throw new SignatureFormatError('indeterminate packet length')
    const n = 1 << lengthType
    if (bytes.byteLength < 1 + n) throw new SignatureFormatError('truncated packet length')
    length = 0
    for (let i = 0; i < n; i++) length = length * 256 + bytes[1 + i]
    pos = 1 + n
  }
  if (pos + length !== bytes.byteLength) {
    throw new SignatureFormatError(`packet length ${length} but ${bytes.byteLength - pos} bytes follow the packet header`)
  }
  return { tag, body: bytes.subarray(pos) }
}

/** Number of MPIs in a V3/V4 signature, for the algorithms rpm 4.18 knows. */
const RPM4_SIG_MPIS: Readonly<Record<number, number>> = { 1: 1, 17: 2, 22: 2 }

/** Counts the MPIs in `bytes`; -1 if they do not exactly fill it. */
function countMpis (bytes: Uint8Array): number {
  let pos = 0
  let n = 0
  while (pos < bytes.byteLength) {
    if (bytes.byteLength - pos < 2) return -1
    const bits = (bytes[pos] << 8) | bytes[pos + 1]
    pos += 2 + Math.ceil(bits / 8)
    if (pos > bytes.byteLength) return -1
    n++
  }
  return n
}

/** The first MPI of `bytes` (its value bytes, without the bit count). */
export function firstMpi (bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength < 2) throw new SignatureFormatError('truncated MPI')
  const bits = (bytes[0] << 8) | bytes[1]
  const len = Math.ceil(bits / 8)
  if (2 + len > bytes.byteLength) throw new SignatureFormatError('truncated MPI')
  return bytes.subarray(2, 2 + len)
}

interface Subpackets {
  created?: Date
  issuerKeyId?: string
  issuerFingerprint?: string
}

/** Parses a subpacket area, filling `out`; records rpm 4.18's objections in `lints`. */
function parseSubpackets (area: Uint8Array, hashed: boolean, out: Subpackets, lints: string[]): void {
  let pos = 0
  const where = hashed ? 'hashed' : 'unhashed'
  while (pos < area.byteLength) {
    const o1 = area[pos]
    let len: number
    if (o1 < 192) {
      len = o1; pos += 1
    } else if (o1 < 255) {
      if (pos + 2 > area.byteLength) throw new SignatureFormatError(`${where} subpacket length truncated`)
      len = ((o1 - 192) << 8) + area[pos + 1] + 192; pos += 2
    } else {
      if (pos + 5 > area.byteLength) throw new SignatureFormatError(`${where} subpacket length truncated`)
      len = new DataView(area.buffer, area.byteOffset + pos + 1, 4).getUint32(0); pos += 5
    }
    if (len < 1 || pos + len > area.byteLength) throw new SignatureFormatError(`${where} subpacket of length ${len} runs past its area`)
    const type = area[pos] & 0x7f
    const critical = (area[pos] & 0x80) !== 0
    const body = area.subarray(pos + 1, pos + len)
    pos += len
    let understood = false
    switch (type) {
      case 2: // signature creation time
        if (hashed && body.byteLength === 4) {
          if (out.created !== undefined) lints.push('duplicate creation time subpacket')
          out.created = new Date(new DataView(body.buffer, body.byteOffset, 4).getUint32(0) * 1000)
          understood = true
        }
        break
      case 16: // issuer key ID
        understood = true
        if (body.byteLength === 8 && out.issuerKeyId === undefined) out.issuerKeyId = hex(body)
        break
      case 27: // key flags: rpm knows it (hashed only)
        understood = hashed
        break
      case 33: // issuer fingerprint: version byte + fingerprint
        if (body.byteLength === 21 || body.byteLength === 33) {
          if (out.issuerFingerprint === undefined) out.issuerFingerprint = hex(body.subarray(1))
        }
        break
    }
    if (critical && !understood) lints.push(`critical ${where} subpacket ${type} that rpm 4.18 does not implement`)
  }
}

/** Parses one signature packet (the whole of `bytes`). Throws SignatureFormatError. */
export function parseSignaturePacket (bytes: Uint8Array): SignaturePacket {
  const { tag, body } = packetBody(bytes)
  if (tag !== PGPTAG_SIGNATURE) throw new SignatureFormatError(`packet tag ${tag}, want ${PGPTAG_SIGNATURE} (signature)`)
  if (body.byteLength < 1) throw new SignatureFormatError('empty signature packet')
  const version = body[0]
  const lints: string[] = []
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  if (version === 3) {
    // version, hashed length (5), type, time(4), key ID(8), pubkey algo, hash algo, left16(2), MPIs
    if (body.byteLength < 19 + 2) throw new SignatureFormatError(`V3 signature packet of ${body.byteLength} bytes`)
    if (body[1] !== 5) throw new SignatureFormatError(`V3 signature hashed length ${body[1]}, want 5`)
    const material = body.subarray(19)
    const mpis = countMpis(material)
    const want = RPM4_SIG_MPIS[body[15]]
    if (mpis < 0) throw new SignatureFormatError('V3 signature MPIs do not fill the packet')
    if (want === undefined) lints.push(`public-key algorithm ${body[15]} that rpm 4.18 does not verify`)
    else if (mpis !== want) lints.push(`${mpis} MPIs where ${want} are expected`)
    return {
      version,
      sigType: body[2],
      pubkeyAlgo: body[15],
      hashAlgo: body[16],
      created: new Date(view.getUint32(3) * 1000),
      issuerKeyId: hex(body.subarray(7, 15)),
      issuerFingerprint: undefined,
      left16: body.subarray(17, 19),
      v3Trailer: body.subarray(2, 7),
      material,
      rpm4Lints: lints
    }
  }
  if (version === 4 || version === 6) {
    const lenSize = version === 4 ? 2 : 4
    let pos = 4
    const area = (): Uint8Array => {
      if (pos + lenSize > body.byteLength) throw new SignatureFormatError('truncated subpacket area length')
      const len = lenSize === 2 ? view.getUint16(pos) : view.getUint32(pos)
      pos += lenSize
      if (pos + len > body.byteLength) throw new SignatureFormatError(`subpacket area of ${len} bytes runs past the packet`)
      const a = body.subarray(pos, pos + len)
      pos += len
      return a
    }
    const sub: Subpackets = {}
    parseSubpackets(area(), true, sub, lints)
    const unhashedSub: Subpackets = {}
    parseSubpackets(area(), false, unhashedSub, lints)
    if (pos + 2 > body.byteLength) throw new SignatureFormatError('truncated before the hash check bytes')
    const left16 = body.subarray(pos, pos + 2)
    pos += 2
    if (version === 6) {
      if (pos + 1 > body.byteLength) throw new SignatureFormatError('truncated before the salt')
      const saltLen = body[pos]
      pos += 1 + saltLen
      if (pos > body.byteLength) throw new SignatureFormatError('salt runs past the packet')
    }
    const material = body.subarray(pos)
    if (material.byteLength === 0) throw new SignatureFormatError('no signature material')
    if (sub.created === undefined) lints.push('no hashed signature creation time')
    // rpm takes the issuer key ID from either area, hashed first.
    const issuerKeyIdSub = sub.issuerKeyId ?? unhashedSub.issuerKeyId
    if (issuerKeyIdSub === undefined) lints.push('no issuer key ID subpacket')
    const issuerFingerprint = sub.issuerFingerprint ?? unhashedSub.issuerFingerprint
    let issuerKeyId = issuerKeyIdSub
    if (issuerFingerprint !== undefined) {
      const fromFp = issuerFingerprint.length === 64 ? issuerFingerprint.slice(0, 16) : issuerFingerprint.slice(-16)
      if (issuerKeyId !== undefined && issuerKeyId !== fromFp) {
        throw new SignatureFormatError(`issuer key ID ${issuerKeyId} does not match issuer fingerprint ${issuerFingerprint}`)
      }
      issuerKeyId = fromFp
    }
    if (version === 4) {
      const want = RPM4_SIG_MPIS[body[2]]
      const mpis = countMpis(material)
      if (want === undefined) lints.push(`public-key algorithm ${body[2]} (${PGP_PUBKEY[body[2]] ?? 'unknown'}) that rpm 4.18 does not verify`)
      else if (mpis !== want) lints.push(`${mpis < 0 ? 'malformed' : mpis} MPIs where ${want} are expected`)
    } else {
      lints.push('V6 signature packet, which rpm 4.18 does not parse')
    }
    return {
      version,
      sigType: body[1],
      pubkeyAlgo: body[2],
      hashAlgo: body[3],
      created: sub.created,
      issuerKeyId,
      issuerFingerprint,
      left16,
      v3Trailer: undefined,
      material,
      rpm4Lints: lints
    }
  }
  throw new UnsupportedSignatureError(`signature packet version ${version}`)
}

/** DER DigestInfo prefixes (RFC 8017 9.2 note 1) for EMSA-PKCS1-v1_5. */
const DIGEST_INFO: Readonly<Record<string, string>> = {
  md5: '3020300c06082a864886f70d020505000410',
  sha1: '3021300906052b0e03021a05000414',
  ripemd160: '3021300906052b2403020105000414',
  sha224: '302d300d06096086480165030402040500041c',
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440'
}

function toBigInt (bytes: Uint8Array): bigint {
  return bytes.byteLength === 0 ? 0n : BigInt('0x' + hex(bytes))
}

function modPow (base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n
  base %= mod
  while (exp > 0n) {
    if ((exp & 1n) === 1n) result = (result * base) % mod
    base = (base * base) % mod
    exp >>= 1n
  }
  return result
}

/**
 * RSASSA-PKCS1-v1_5 verification of a precomputed digest (RFC 8017 8.2.2): s^e mod n must equal the
 * encoding 00 01 FF..FF 00 || DigestInfo || digest, byte for byte, at the modulus length.
 */
export function rsaVerifyDigest (hashName: string, digest: Uint8Array, signature: Uint8Array, n: Uint8Array, e: Uint8Array): boolean {
  const prefix = DIGEST_INFO[hashName]
  if (prefix === undefined) return false
  const nn = toBigInt(n)
  const k = Math.ceil(nn.toString(16).length / 2)
  const s = toBigInt(signature)
  if (signature.byteLength > k || s >= nn) return false
  const t = prefix + hex(digest)
  if (k < t.length / 2 + 11) return false
  const expected = '0001' + 'ff'.repeat(k - t.length / 2 - 3) + '00' + t
  const m = modPow(s, toBigInt(e), nn).toString(16).padStart(2 * k, '0')
  return m === expected
}

/**
 * Hash state for a V3 signature: feed it the signed data, then `finish()` appends the five hashed
 * bytes and returns the digest.
 */
export function v3Hasher (p: SignaturePacket): { hash: Hash, finish: () => Uint8Array } {
  const algo = PGP_HASH[p.hashAlgo]
  if (algo === undefined) throw new SignatureFormatError(`unknown hash algorithm ${p.hashAlgo}`)
  const hash = createHash(algo.node)
  return {
    hash,
    finish: () => {
      hash.update(p.v3Trailer as Uint8Array)
      return new Uint8Array(hash.digest())
    }
  }
}
