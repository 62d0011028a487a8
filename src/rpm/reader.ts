/**
 * Reads an RPM package: lead, signature header (padded to 8 bytes), main header, payload offset.
 * v3/v4 and v6 packages share this layout; v6 (RPMTAG_RPMFORMAT = 6) drops the size, MD5 and
 * header+payload signature tags from the signature header and carries OpenPGP signatures in
 * RPMSIGTAG_OPENPGP (278) and payload digests in the main header.
 *
 * Two entry points: `readRpm(bytes)` for a package in memory, `readRpmFile(path | FileHandle)` that reads
 * only the lead and the two headers (each size checked against rpm's caps and the file size before the
 * read) and leaves the payload on disk, to be streamed with `fileChunks`.
 */
import { open, type FileHandle } from 'node:fs/promises'
import {
  HEADER_PREAMBLE, LEAD_MAGIC, LEAD_SIGTYPE_HEADERSIG, LEAD_SIZE, RPM_TYPE, SIGTAG, TAG
} from './constants.ts'
import { RpmFormatError } from './errors.ts'
import { headerSize, hex, parseHeader, type RpmHeader } from './header.ts'

export interface RpmLead {
  readonly major: number
  readonly minor: number
  /** 0 binary, 1 source. Not signed: `RpmPackage.isSource` is what to trust. */
  readonly type: number
  readonly archnum: number
  readonly name: string
  readonly osnum: number
  readonly signatureType: number
}

/** What a signature or digest covers. */
export type Range = 'header' | 'header+payload' | 'payload' | 'uncompressed-payload'

/** A signature tag's value (one element for the string array RPMSIGTAG_OPENPGP). */
export interface DeclaredSignature {
  readonly tag: number
  /** Element index within the tag (only RPMSIGTAG_OPENPGP has more than one). */
  readonly index: number
  readonly range: 'header' | 'header+payload'
  /** The OpenPGP signature packet (base64-decoded for tag 278). */
  readonly packet: Uint8Array
}

export type DigestName =
  'header-sha256' | 'header-sha1' | 'header-sha3-256' | 'md5' |
  'payload-sha256' | 'payload-sha512' | 'payload-sha3-256' |
  'payload-sha256-alt' | 'payload-sha512-alt' | 'payload-sha3-256-alt'

export interface DeclaredDigest {
  readonly name: DigestName
  readonly tag: number
  /** Element index within a string array tag. */
  readonly index: number
  /** node:crypto hash name. */
  readonly algorithm: string
  readonly range: Range
  /** Lowercase hex. */
  readonly expected: string
}

export interface RpmPackage {
  readonly lead: RpmLead
  readonly signatureHeader: RpmHeader
  readonly header: RpmHeader
  /** File offset of the main header's magic. */
  readonly headerOffset: number
  /** File offset of the first payload byte (end of the main header). */
  readonly payloadOffset: number
  /** Size of the whole file. */
  readonly fileSize: number
  /** Package format: 4 for v3/v4 packages, 6 when RPMTAG_RPMFORMAT says 6. */
  readonly format: number
  readonly name: string
  readonly epoch: number | undefined
  readonly version: string
  readonly release: string
  /** RPMTAG_ARCH as in the header (for a source package: the arch it was built on). */
  readonly arch: string | undefined
  /** name-[epoch:]version-release.arch, with arch `src` for source packages. */
  readonly nevra: string
  /** A source package: no RPMTAG_SOURCERPM in the (signed) main header, which is how rpm tells. */
  readonly isSource: boolean
  /**
   * The main header from its magic to its end, when it is one immutable region (every v4 and v6
   * package): exactly the bytes RPMSIGTAG_RSA/DSA/OPENPGP and the header digests cover. Undefined
   * for legacy v3 headers without a region, which no header-only signature can cover.
   */
  readonly signedRegion: Uint8Array | undefined
  readonly signatures: readonly DeclaredSignature[]
  readonly digests: readonly DeclaredDigest[]
  /** RPMSIGTAG_SIZE / LONGSIZE: header + payload bytes. */
  readonly headerPayloadSize: number | undefined
  /** RPMTAG_PAYLOADSIZE: compressed payload bytes (signed, in the main header). */
  readonly payloadSize: number | undefined
}

const latin1 = new TextDecoder('latin1')

/** Most signatures RPMSIGTAG_OPENPGP may carry: each costs a public-key operation to check. */
export const MAX_OPENPGP_SIGNATURES = 32

export function parseLead (bytes: Uint8Array): RpmLead {
  if (bytes.byteLength < LEAD_SIZE) {
    throw new RpmFormatError(`lead: truncated: need ${LEAD_SIZE} bytes, have ${bytes.byteLength}`)
  }
  for (let i = 0; i < LEAD_MAGIC.length; i++) {
    if (bytes[i] !== LEAD_MAGIC[i]) throw new RpmFormatError(`lead: bad magic ${hex(bytes.subarray(0, 4))}: not an RPM package`)
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, LEAD_SIZE)
  const major = bytes[4]
  if (major < 3 || major > 4) throw new RpmFormatError(`lead: unsupported RPM package version ${major}.${bytes[5]}`)
  const signatureType = view.getUint16(78)
  if (signatureType !== LEAD_SIGTYPE_HEADERSIG) {
    throw new RpmFormatError(`lead: signature type ${signatureType}, want ${LEAD_SIGTYPE_HEADERSIG} (header-style signatures)`)
  }
  const nameBytes = bytes.subarray(10, 76)
  const nul = nameBytes.indexOf(0)
  return {
    major,
    minor: bytes[5],
    type: view.getUint16(6),
    archnum: view.getUint16(8),
    name: latin1.decode(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)),
    osnum: view.getUint16(76),
    signatureType
  }
}

/** Bytes of zero padding after a signature header of `size` bytes. */
export function signaturePadding (size: number): number {
  return (8 - (size % 8)) % 8
}

const HEX = /^[0-9a-fA-F]+$/

function hexDigest (h: RpmHeader, tag: number, value: string, hexLength: number): string {
  if (value.length !== hexLength || !HEX.test(value)) {
    throw new RpmFormatError(`${h.kind === 'signature' ? 'signature header' : 'main header'}: tag ${tag}: digest ${JSON.stringify(value.slice(0, 80))} is not ${hexLength} hex digits`)
  }
  return value.toLowerCase()
}

function declaredDigests (sig: RpmHeader, main: RpmHeader): DeclaredDigest[] {
  const out: DeclaredDigest[] = []
  const headerDigest = (name: DigestName, tag: number, algorithm: string, hexLength: number): void => {
    const e = sig.entry(tag)
    if (e === undefined) return
    if (e.type !== RPM_TYPE.STRING) throw new RpmFormatError(`signature header: tag ${tag}: type ${e.type}, want STRING`)
    out.push({ name, tag, index: 0, algorithm, range: 'header', expected: hexDigest(sig, tag, sig.string(tag) ?? '', hexLength) })
  }
  headerDigest('header-sha256', SIGTAG.SHA256, 'sha256', 64)
  headerDigest('header-sha1', SIGTAG.SHA1, 'sha1', 40)
  headerDigest('header-sha3-256', SIGTAG.SHA3_256, 'sha3-256', 64)

  const md5 = sig.entry(SIGTAG.MD5)
  if (md5 !== undefined) {
    if (md5.type !== RPM_TYPE.BIN || md5.count !== 16) {
      throw new RpmFormatError(`signature header: tag ${SIGTAG.MD5} (MD5): type ${md5.type} count ${md5.count}, want BIN of 16`)
    }
    out.push({ name: 'md5', tag: SIGTAG.MD5, index: 0, algorithm: 'md5', range: 'header+payload', expected: hex(sig.binary(SIGTAG.MD5) as Uint8Array) })
  }

  const algo = main.number(TAG.PAYLOADSHA256ALGO)
  if (algo !== undefined && algo !== 8) {
    throw new RpmFormatError(`main header: tag ${TAG.PAYLOADSHA256ALGO}: payload digest algorithm ${algo} is not SHA256 (8)`)
  }
  const payloadDigest = (name: DigestName, tag: number, algorithm: string, hexLength: number, range: Range, types: number[]): void => {
    const e = main.entry(tag)
    if (e === undefined) return
    if (!types.includes(e.type)) throw new RpmFormatError(`main header: tag ${tag}: type ${e.type}, want ${types.join(' or ')}`)
    const values = main.strings(tag) as string[]
    values.forEach((value, index) => {
      out.push({ name, tag, index, algorithm, range, expected: hexDigest(main, tag, value, hexLength) })
    })
  }
  // Types as rpm's verifier wants them (lib/rpmvs.c rpmvfytags): arrays in rpm 4, single strings for
  // the digests rpm 6 added.
  const ARRAY = [RPM_TYPE.STRING_ARRAY]
  const STRING = [RPM_TYPE.STRING]
  payloadDigest('payload-sha256', TAG.PAYLOADSHA256, 'sha256', 64, 'payload', ARRAY)
  payloadDigest('payload-sha512', TAG.PAYLOADSHA512, 'sha512', 128, 'payload', STRING)
  payloadDigest('payload-sha3-256', TAG.PAYLOADSHA3_256, 'sha3-256', 64, 'payload', STRING)
  payloadDigest('payload-sha256-alt', TAG.PAYLOADSHA256ALT, 'sha256', 64, 'uncompressed-payload', ARRAY)
  payloadDigest('payload-sha512-alt', TAG.PAYLOADSHA512ALT, 'sha512', 128, 'uncompressed-payload', STRING)
  payloadDigest('payload-sha3-256-alt', TAG.PAYLOADSHA3_256ALT, 'sha3-256', 64, 'uncompressed-payload', STRING)
  return out
}

function declaredSignatures (sig: RpmHeader): DeclaredSignature[] {
  const out: DeclaredSignature[] = []
  for (const [tag, range] of [[SIGTAG.RSA, 'header'], [SIGTAG.DSA, 'header'], [SIGTAG.PGP, 'header+payload'], [SIGTAG.GPG, 'header+payload']] as const) {
    const e = sig.entry(tag)
    if (e === undefined) continue
    if (e.type !== RPM_TYPE.BIN) throw new RpmFormatError(`signature header: tag ${tag}: type ${e.type}, want BIN`)
    out.push({ tag, index: 0, range, packet: sig.binary(tag) as Uint8Array })
  }
  const pgp = sig.entry(SIGTAG.OPENPGP)
  if (pgp !== undefined) {
    if (pgp.type !== RPM_TYPE.STRING_ARRAY) throw new RpmFormatError(`signature header: tag ${SIGTAG.OPENPGP}: type ${pgp.type}, want STRING_ARRAY`)
    const values = sig.strings(SIGTAG.OPENPGP) as string[]
    if (values.length > MAX_OPENPGP_SIGNATURES) {
      throw new RpmFormatError(`signature header: tag ${SIGTAG.OPENPGP}: ${values.length} signatures, more than ${MAX_OPENPGP_SIGNATURES}`)
    }
    values.forEach((value, index) => {
      const trimmed = value.trim()
      if (trimmed.length === 0 || trimmed.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
        throw new RpmFormatError(`signature header: tag ${SIGTAG.OPENPGP} element ${index}: not base64`)
      }
      out.push({ tag: SIGTAG.OPENPGP, index, range: 'header', packet: new Uint8Array(Buffer.from(trimmed, 'base64')) })
    })
  }
  return out
}

/** Builds the package description from the parsed parts; every tag it reads is type-checked. */
function describe (lead: RpmLead, sig: RpmHeader, main: RpmHeader, headerOffset: number, fileSize: number): RpmPackage {
  const format = main.number(TAG.RPMFORMAT) ?? 4
  if (format !== 4 && format !== 6) throw new RpmFormatError(`main header: tag ${TAG.RPMFORMAT}: unknown package format ${format}`)
  const required = (tag: number, what: string): string => {
    const v = main.string(tag)
    if (v === undefined || v === '') throw new RpmFormatError(`main header: no ${what} (tag ${tag})`)
    return v
  }
  const name = required(TAG.NAME, 'NAME')
  const version = required(TAG.VERSION, 'VERSION')
  const release = required(TAG.RELEASE, 'RELEASE')
  const epoch = main.number(TAG.EPOCH)
  const arch = main.string(TAG.ARCH)
  const isSource = !main.has(TAG.SOURCERPM)
  const nevra = `${name}-${epoch === undefined ? '' : `${epoch}:`}${version}-${release}.${isSource ? 'src' : (arch ?? 'noarch')}`
  const payloadOffset = headerOffset + main.size
  if (payloadOffset > fileSize) throw new RpmFormatError(`main header: ends at byte ${payloadOffset}, past the end of the file (${fileSize} bytes)`)

  let headerPayloadSize: number | undefined
  for (const tag of [SIGTAG.SIZE, SIGTAG.LONGSIZE]) {
    const e = sig.entry(tag)
    if (e === undefined) continue
    if (e.type !== (tag === SIGTAG.SIZE ? RPM_TYPE.INT32 : RPM_TYPE.INT64) || e.count !== 1) {
      throw new RpmFormatError(`signature header: tag ${tag}: type ${e.type} count ${e.count}, want one ${tag === SIGTAG.SIZE ? 'INT32' : 'INT64'}`)
    }
    const v = sig.number(tag) as number
    if (headerPayloadSize !== undefined && headerPayloadSize !== v) {
      throw new RpmFormatError(`signature header: SIZE ${headerPayloadSize} and LONGSIZE ${v} disagree`)
    }
    headerPayloadSize = v
  }
  const ps = main.entry(TAG.PAYLOADSIZE)
  if (ps !== undefined && (ps.type !== RPM_TYPE.INT64 || ps.count !== 1)) {
    throw new RpmFormatError(`main header: tag ${TAG.PAYLOADSIZE}: type ${ps.type} count ${ps.count}, want one INT64`)
  }
  return {
    lead,
    signatureHeader: sig,
    header: main,
    headerOffset,
    payloadOffset,
    fileSize,
    format,
    name,
    epoch,
    version,
    release,
    arch,
    nevra,
    isSource,
    signedRegion: main.region === undefined ? undefined : main.bytes,
    signatures: declaredSignatures(sig),
    digests: declaredDigests(sig, main),
    headerPayloadSize,
    payloadSize: main.number(TAG.PAYLOADSIZE)
  }
}

/**
 * Parses a whole package held in memory. Throws RpmFormatError (only) on malformed input. The payload
 * is `bytes.subarray(pkg.payloadOffset)`; header views share memory with `bytes`.
 */
export function readRpm (bytes: Uint8Array): RpmPackage {
  const lead = parseLead(bytes)
  const sig = parseHeader(bytes, LEAD_SIZE, 'signature')
  const pad = signaturePadding(sig.size)
  const headerOffset = LEAD_SIZE + sig.size + pad
  if (headerOffset > bytes.byteLength) {
    throw new RpmFormatError(`signature header: ${pad} padding bytes after it run past the end of the file (${bytes.byteLength} bytes)`)
  }
  const main = parseHeader(bytes, headerOffset, 'main')
  return describe(lead, sig, main, headerOffset, bytes.byteLength)
}

/** Reads exactly `length` bytes at `position`, or throws RpmFormatError naming `what`. */
async function readExactly (fh: FileHandle, position: number, length: number, what: string): Promise<Uint8Array> {
  const buf = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done)
    if (bytesRead === 0) throw new RpmFormatError(`${what}: truncated: need ${length} bytes at byte ${position}, file ends at ${position + done}`)
    done += bytesRead
  }
  return buf
}

export interface ReadOptions {
  signal?: AbortSignal
}

/**
 * Reads the lead and both headers of a package file, leaving the payload unread. Every declared size
 * is checked against rpm's caps and against the file's size before a buffer is allocated for it.
 */
export async function readRpmFile (file: string | FileHandle, options: ReadOptions = {}): Promise<RpmPackage> {
  const fh = typeof file === 'string' ? await open(file, 'r') : file
  try {
    const { size: fileSize } = await fh.stat()
    options.signal?.throwIfAborted()
    if (fileSize < LEAD_SIZE) throw new RpmFormatError(`lead: truncated: need ${LEAD_SIZE} bytes, file has ${fileSize}`)
    const lead = parseLead(await readExactly(fh, 0, LEAD_SIZE, 'lead'))

    const readHeader = async (at: number, kind: 'signature' | 'main'): Promise<RpmHeader> => {
      const what = kind === 'signature' ? 'signature header' : 'main header'
      if (at + HEADER_PREAMBLE > fileSize) throw new RpmFormatError(`${what} at byte ${at}: truncated: need ${HEADER_PREAMBLE} bytes, file has ${Math.max(0, fileSize - at)}`)
      const preamble = await readExactly(fh, at, HEADER_PREAMBLE, what)
      const { il, dl, size } = headerSize(preamble, kind, at)
      if (at + size > fileSize) {
        throw new RpmFormatError(`${what} at byte ${at}: truncated: ${il} index entries and ${dl} data bytes need ${size} bytes, file has ${fileSize - at}`)
      }
      options.signal?.throwIfAborted()
      return parseHeader(await readExactly(fh, at, size, what), 0, kind, at)
    }
    const sig = await readHeader(LEAD_SIZE, 'signature')
    const headerOffset = LEAD_SIZE + sig.size + signaturePadding(sig.size)
    if (headerOffset > fileSize) {
      throw new RpmFormatError(`signature header: padding after it runs past the end of the file (${fileSize} bytes)`)
    }
    const main = await readHeader(headerOffset, 'main')
    return describe(lead, sig, main, headerOffset, fileSize)
  } finally {
    if (typeof file === 'string') await fh.close()
  }
}

/** Streams `start .. end` of a file in fresh chunks of at most `chunkSize` bytes. */
export async function * fileChunks (fh: FileHandle, start: number, end: number, options: ReadOptions & { chunkSize?: number } = {}): AsyncGenerator<Uint8Array> {
  const chunkSize = options.chunkSize ?? 1024 * 1024
  let position = start
  while (position < end) {
    options.signal?.throwIfAborted()
    const length = Math.min(chunkSize, end - position)
    const buf = new Uint8Array(length)
    const { bytesRead } = await fh.read(buf, 0, length, position)
    if (bytesRead === 0) throw new RpmFormatError(`payload: file ended at byte ${position}, expected ${end} bytes`)
    position += bytesRead
    yield buf.subarray(0, bytesRead)
  }
}
