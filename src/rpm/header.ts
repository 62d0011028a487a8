/**
 * The rpm header structure (used twice in a package: the signature header and the main header):
 *
 *   magic (8) | index count il (4) | data size dl (4) | il index entries of 16 bytes | dl bytes of data
 *
 * Every entry is checked the way rpm 4.18 checks it (lib/header.c hdrblobInit, hdrblobVerifyRegion,
 * hdrblobVerifyInfo, regionSwab) before anything is read through it, and every size is capped before
 * any allocation. Failures are RpmFormatError messages that name the header, the entry and the numbers.
 */
import {
  ENTRY_SIZE, HEADER_ARRAY_MAX, HEADER_DATA_MAX, HEADER_MAGIC, HEADER_MAX_BYTES, HEADER_PREAMBLE,
  HEADER_TAGS_MAX, RPM_TYPE, SIG_DATA_MAX, SIG_TAGS_MAX, TAG_HEADERIMAGE, TAG_HEADERIMMUTABLE,
  TAG_HEADERSIGNATURES, TAG_I18NTABLE, TYPE_ALIGN, TYPE_SIZE
} from './constants.ts'
import { RpmFormatError } from './errors.ts'
import { RPM418_TAG_TYPES, tagTypeAllowed } from './tagtypes.ts'

export type HeaderKind = 'signature' | 'main'

/** One index entry, validated: its data lies at `offset .. offset + length` of the data area. */
export interface HeaderEntry {
  /** Position in the index (0-based). */
  readonly index: number
  readonly tag: number
  readonly type: number
  /** Offset into the data area. */
  readonly offset: number
  readonly count: number
  /** Bytes of data, computed from type and count (strings: up to and including the last NUL). */
  readonly length: number
}

/** The immutable region: the first `entries` index entries and the first `dataLength` data bytes. */
export interface HeaderRegion {
  readonly tag: number
  readonly entries: number
  readonly dataLength: number
}

const decoder = new TextDecoder('utf-8')

function label (kind: HeaderKind): string {
  return kind === 'signature' ? 'signature header' : 'main header'
}

function alignUp (n: number, align: number): number {
  return Math.ceil(n / align) * align
}

function typeName (type: number): string {
  return Object.entries(RPM_TYPE).find(([, v]) => v === type)?.[0] ?? String(type)
}

/**
 * Reads the 16-byte preamble (magic, il, dl) and returns the header's total size in bytes, after
 * checking the magic and rpm's caps on il and dl. Callers use it to bound a read before allocating.
 */
export function headerSize (preamble: Uint8Array, kind: HeaderKind, fileOffset: number): { il: number, dl: number, size: number } {
  const where = `${label(kind)} at byte ${fileOffset}`
  if (preamble.byteLength < HEADER_PREAMBLE) {
    throw new RpmFormatError(`${where}: truncated: need ${HEADER_PREAMBLE} bytes, have ${preamble.byteLength}`)
  }
  for (let i = 0; i < HEADER_MAGIC.length; i++) {
    if (preamble[i] !== HEADER_MAGIC[i]) {
      throw new RpmFormatError(`${where}: bad magic ${hex(preamble.subarray(0, 8))} (want ${hex(HEADER_MAGIC)})`)
    }
  }
  const view = new DataView(preamble.buffer, preamble.byteOffset, HEADER_PREAMBLE)
  const il = view.getUint32(8)
  const dl = view.getUint32(12)
  const ilMax = kind === 'signature' ? SIG_TAGS_MAX : HEADER_TAGS_MAX
  const dlMax = kind === 'signature' ? SIG_DATA_MAX : HEADER_DATA_MAX
  if (il < 1 || il > ilMax) {
    throw new RpmFormatError(`${where}: index count ${il} out of range 1..${ilMax}`)
  }
  if (dl < 1 || dl > dlMax) {
    throw new RpmFormatError(`${where}: data size ${dl} out of range 1..${dlMax}`)
  }
  const size = HEADER_PREAMBLE + il * ENTRY_SIZE + dl
  if (size >= HEADER_MAX_BYTES) {
    throw new RpmFormatError(`${where}: header size ${size} over the ${HEADER_MAX_BYTES}-byte limit`)
  }
  return { il, dl, size }
}

/**
 * A parsed, validated header. `bytes` is the header exactly as it is in the file, from its magic to the
 * end of its data: for the main header of a package, exactly what header-only signatures and digests cover.
 */
export class RpmHeader {
  readonly kind: HeaderKind
  readonly bytes: Uint8Array
  readonly fileOffset: number
  readonly entries: readonly HeaderEntry[]
  readonly region: HeaderRegion | undefined
  readonly #data: Uint8Array
  readonly #view: DataView
  readonly #byTag: Map<number, HeaderEntry>

  constructor (kind: HeaderKind, bytes: Uint8Array, fileOffset: number, dataStart: number, entries: HeaderEntry[], region: HeaderRegion | undefined) {
    this.kind = kind
    this.bytes = bytes
    this.fileOffset = fileOffset
    this.entries = entries
    this.region = region
    this.#data = bytes.subarray(dataStart)
    this.#view = new DataView(this.#data.buffer, this.#data.byteOffset, this.#data.byteLength)
    this.#byTag = new Map(entries.map(e => [e.tag, e]))
  }

  /** Header size in bytes (magic to end of data). */
  get size (): number {
    return this.bytes.byteLength
  }

  has (tag: number): boolean {
    return this.#byTag.has(tag)
  }

  entry (tag: number): HeaderEntry | undefined {
    return this.#byTag.get(tag)
  }

  #where (e: HeaderEntry): string {
    return `${label(this.kind)}: tag ${e.tag}`
  }

  #expect (e: HeaderEntry, types: number[]): void {
    if (!types.includes(e.type)) {
      throw new RpmFormatError(`${this.#where(e)}: type ${typeName(e.type)} where ${types.map(typeName).join(' or ')} is expected`)
    }
  }

  /** Raw data bytes of an entry (a view into `bytes`). */
  raw (tag: number): Uint8Array | undefined {
    const e = this.#byTag.get(tag)
    return e === undefined ? undefined : this.#data.subarray(e.offset, e.offset + e.length)
  }

  /** A BIN entry's bytes. */
  binary (tag: number): Uint8Array | undefined {
    const e = this.#byTag.get(tag)
    if (e === undefined) return undefined
    this.#expect(e, [RPM_TYPE.BIN])
    return this.#data.subarray(e.offset, e.offset + e.count)
  }

  /** The strings of a STRING, STRING_ARRAY or I18NSTRING entry. */
  strings (tag: number): string[] | undefined {
    const e = this.#byTag.get(tag)
    if (e === undefined) return undefined
    this.#expect(e, [RPM_TYPE.STRING, RPM_TYPE.STRING_ARRAY, RPM_TYPE.I18NSTRING])
    const out: string[] = []
    let pos = e.offset
    for (let i = 0; i < e.count; i++) {
      const end = this.#data.indexOf(0, pos)
      out.push(decoder.decode(this.#data.subarray(pos, end)))
      pos = end + 1
    }
    return out
  }

  /** A single string: a STRING entry, or the first string of an I18NSTRING (the C locale). */
  string (tag: number): string | undefined {
    const e = this.#byTag.get(tag)
    if (e === undefined) return undefined
    this.#expect(e, [RPM_TYPE.STRING, RPM_TYPE.I18NSTRING])
    return this.strings(tag)?.[0]
  }

  /** The values of an integer entry (INT8, INT16, INT32, or INT64 when every value is a safe integer). */
  numbers (tag: number): number[] | undefined {
    const e = this.#byTag.get(tag)
    if (e === undefined) return undefined
    this.#expect(e, [RPM_TYPE.CHAR, RPM_TYPE.INT8, RPM_TYPE.INT16, RPM_TYPE.INT32, RPM_TYPE.INT64])
    const out: number[] = []
    for (let i = 0; i < e.count; i++) {
      switch (e.type) {
        case RPM_TYPE.CHAR:
        case RPM_TYPE.INT8: out.push(this.#view.getUint8(e.offset + i)); break
        case RPM_TYPE.INT16: out.push(this.#view.getUint16(e.offset + 2 * i)); break
        case RPM_TYPE.INT32: out.push(this.#view.getUint32(e.offset + 4 * i)); break
        default: {
          const v = this.#view.getBigUint64(e.offset + 8 * i)
          if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
            throw new RpmFormatError(`${this.#where(e)}: value ${v} too large`)
          }
          out.push(Number(v))
        }
      }
    }
    return out
  }

  /** A single integer (an integer entry of count 1). */
  number (tag: number): number | undefined {
    const values = this.numbers(tag)
    if (values === undefined) return undefined
    if (values.length !== 1) {
      throw new RpmFormatError(`${label(this.kind)}: tag ${tag}: count ${values.length} where 1 is expected`)
    }
    return values[0]
  }
}

/**
 * Parses and validates the header that starts at `at` in `buf`. `fileOffset` is where that is in the
 * file (for messages). The returned header's `bytes` is a view into `buf`; nothing is copied.
 */
export function parseHeader (buf: Uint8Array, at: number, kind: HeaderKind, fileOffset: number = at): RpmHeader {
  const name = label(kind)
  const where = `${name} at byte ${fileOffset}`
  if (at < 0 || at + HEADER_PREAMBLE > buf.byteLength) {
    throw new RpmFormatError(`${where}: truncated: need ${HEADER_PREAMBLE} bytes, have ${Math.max(0, buf.byteLength - at)}`)
  }
  const { il, dl, size } = headerSize(buf.subarray(at, at + HEADER_PREAMBLE), kind, fileOffset)
  if (at + size > buf.byteLength) {
    throw new RpmFormatError(`${where}: truncated: ${il} index entries and ${dl} data bytes need ${size} bytes, have ${buf.byteLength - at}`)
  }
  const bytes = buf.subarray(at, at + size)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dataStart = HEADER_PREAMBLE + il * ENTRY_SIZE
  const data = bytes.subarray(dataStart)

  const readEntry = (i: number): { tag: number, type: number, offset: number, count: number } => {
    const p = HEADER_PREAMBLE + i * ENTRY_SIZE
    // rpm reads tag and offset as signed 32-bit numbers: a tag of 0xffffffff is -1, below 100, refused.
    return { tag: view.getInt32(p), type: view.getUint32(p + 4), offset: view.getInt32(p + 8), count: view.getUint32(p + 12) }
  }

  // The region: the first entry names a region tag and points at a 16-byte trailer in the data area
  // whose (negated) offset gives the number of index entries the region spans.
  const regionTag = kind === 'signature' ? TAG_HEADERSIGNATURES : TAG_HEADERIMMUTABLE
  let region: HeaderRegion | undefined
  const first = readEntry(0)
  if (first.tag === regionTag) {
    if (first.type !== RPM_TYPE.BIN || first.count !== ENTRY_SIZE) {
      throw new RpmFormatError(`${name}: region tag ${first.tag}: type ${first.type} count ${first.count}, want BIN of ${ENTRY_SIZE}`)
    }
    if (first.offset < 0 || first.offset + ENTRY_SIZE > dl) {
      throw new RpmFormatError(`${name}: region tag ${first.tag}: trailer offset ${first.offset} beyond data size ${dl}`)
    }
    const tv = new DataView(data.buffer, data.byteOffset + first.offset, ENTRY_SIZE)
    let trailerTag = tv.getUint32(0)
    const trailerType = tv.getUint32(4)
    const trailerOffset = -tv.getInt32(8)
    const trailerCount = tv.getUint32(12)
    // Some old packages carry HEADERIMAGE in the signature region trailer; rpm accepts that.
    if (kind === 'signature' && trailerTag === TAG_HEADERIMAGE) trailerTag = TAG_HEADERSIGNATURES
    if (trailerTag !== regionTag || trailerType !== RPM_TYPE.BIN || trailerCount !== ENTRY_SIZE) {
      throw new RpmFormatError(`${name}: region trailer: tag ${trailerTag} type ${trailerType} count ${trailerCount}, want tag ${regionTag} BIN of ${ENTRY_SIZE}`)
    }
    const ril = trailerOffset / ENTRY_SIZE
    const rdl = first.offset + ENTRY_SIZE
    if (!Number.isInteger(ril) || ril < 1 || ril > il) {
      throw new RpmFormatError(`${name}: region trailer: offset ${-trailerOffset} gives ${ril} region entries, want 1..${il}`)
    }
    if (kind === 'main' && (ril !== il || rdl !== dl)) {
      throw new RpmFormatError(`${name}: region covers ${ril} of ${il} entries and ${rdl} of ${dl} data bytes; a package header must be one region`)
    }
    region = { tag: regionTag, entries: ril, dataLength: rdl }
  }

  // Every other entry: rpm's checks, plus "the entries tile the data area" (regionSwab's rdlen == dl),
  // which also rules out overlaps and gaps. Region entries come first, then the trailer, then any
  // entries appended after the region (signature headers of old packages only).
  const entries: HeaderEntry[] = []
  let expected = 0
  const start = region === undefined ? 0 : 1
  for (let i = start; i < il; i++) {
    if (region !== undefined && i === region.entries) {
      if (expected !== region.dataLength - ENTRY_SIZE) {
        throw new RpmFormatError(`${name}: region trailer at offset ${region.dataLength - ENTRY_SIZE}, but the region's data ends at ${expected}`)
      }
      expected = region.dataLength
    }
    const { tag, type, offset, count } = readEntry(i)
    const at = `${name}: index entry ${i} (tag ${tag})`
    if (tag < TAG_I18NTABLE) throw new RpmFormatError(`${at}: tag number below ${TAG_I18NTABLE}`)
    if (type < RPM_TYPE.CHAR || type > RPM_TYPE.I18NSTRING) throw new RpmFormatError(`${at}: bad type ${type}`)
    if (count < 1 || count > dl) throw new RpmFormatError(`${at}: count ${count} out of range 1..${dl}`)
    if (type !== RPM_TYPE.BIN && count > HEADER_ARRAY_MAX) throw new RpmFormatError(`${at}: count ${count} over ${HEADER_ARRAY_MAX}`)
    if (offset < 0 || offset > dl) throw new RpmFormatError(`${at}: offset ${offset} beyond data size ${dl}`)
    if (kind === 'main' && !tagTypeAllowed(tag, type)) {
      throw new RpmFormatError(`${at}: type ${typeName(type)}, rpm 4.18 wants ${typeName(RPM418_TAG_TYPES.get(tag) as number)}`)
    }
    if (offset % TYPE_ALIGN[type] !== 0) throw new RpmFormatError(`${at}: offset ${offset} not aligned for ${typeName(type)}`)
    if (offset !== alignUp(expected, TYPE_ALIGN[type])) {
      throw new RpmFormatError(`${at}: offset ${offset}, but the previous entry's data ends at ${expected} (overlap or gap)`)
    }
    const limit = region !== undefined && i < region.entries ? region.dataLength - ENTRY_SIZE : dl
    let length: number
    if (TYPE_SIZE[type] > 0) {
      length = TYPE_SIZE[type] * count
      if (offset + length > limit) throw new RpmFormatError(`${at}: ${count} × ${typeName(type)} at offset ${offset} runs past byte ${limit} of the data`)
    } else {
      if (type === RPM_TYPE.STRING && count !== 1) throw new RpmFormatError(`${at}: STRING with count ${count}`)
      let pos = offset
      for (let n = 0; n < count; n++) {
        const nul = data.subarray(0, limit).indexOf(0, pos)
        if (nul < 0) throw new RpmFormatError(`${at}: string ${n + 1} of ${count} at offset ${pos} has no terminating NUL before byte ${limit}`)
        pos = nul + 1
      }
      length = pos - offset
    }
    expected = offset + length
    entries.push({ index: i, tag, type, offset, count, length })
  }
  if (region !== undefined && region.entries === il) {
    if (expected !== region.dataLength - ENTRY_SIZE) {
      throw new RpmFormatError(`${name}: region trailer at offset ${region.dataLength - ENTRY_SIZE}, but the region's data ends at ${expected}`)
    }
    expected = region.dataLength
  }
  if (expected !== dl) {
    throw new RpmFormatError(`${name}: entries cover ${expected} of ${dl} data bytes`)
  }
  const seen = new Set<number>()
  for (const e of entries) {
    if (seen.has(e.tag)) throw new RpmFormatError(`${name}: index entry ${e.index}: duplicate tag ${e.tag}`)
    seen.add(e.tag)
  }
  return new RpmHeader(kind, bytes, fileOffset, dataStart, entries, region)
}

export function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
