/**
 * Mutations of valid encodings for the fuzz tests: byte-level (bit flips, truncations, extensions,
 * insertions, deletions, overwrites) and protobuf field-level (a field dropped, repeated, reordered, its
 * value replaced by an edge value, its length prefix lied about, an unknown field added, a varint padded),
 * and a check that an error is one of the named errors a caller expects.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'

/** Unsigned LEB128 (protobuf varint, libp2p length prefix) */
export function varint (n: number | bigint): Uint8Array {
  let v = BigInt(n)
  if (v < 0n) v = BigInt.asUintN(64, v)
  const out: number[] = []
  do {
    const b = Number(v & 0x7fn)
    v >>= 7n
    out.push(v > 0n ? b | 0x80 : b)
  } while (v > 0n)
  return Uint8Array.from(out)
}

/** A varint with `extra` redundant continuation bytes: the same value, not canonically encoded */
export function paddedVarint (n: number | bigint, extra: number): Uint8Array {
  const v = [...varint(n)]
  if (extra <= 0) return Uint8Array.from(v)
  v[v.length - 1] |= 0x80
  for (let i = 1; i < extra; i++) v.push(0x80)
  v.push(0x00)
  return Uint8Array.from(v)
}

export function concat (...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

/** One top-level field of a protobuf message, as bytes */
export interface PbField {
  num: number
  wireType: number
  /** the whole field: tag and value */
  raw: Uint8Array
  /** the value: for a varint its number, for length-delimited its content */
  varint?: bigint
  content?: Uint8Array
}

function readVarint (buf: Uint8Array, pos: number): [bigint, number] | undefined {
  let v = 0n
  for (let i = 0; i < 10; i++) {
    if (pos + i >= buf.length) return undefined
    const b = buf[pos + i]
    v |= BigInt(b & 0x7f) << BigInt(7 * i)
    if ((b & 0x80) === 0) return [v, pos + i + 1]
  }
  return undefined
}

/** The top-level fields of a message, or undefined when it does not parse as protobuf */
export function parseFields (buf: Uint8Array): PbField[] | undefined {
  const out: PbField[] = []
  let pos = 0
  while (pos < buf.length) {
    const start = pos
    const tag = readVarint(buf, pos)
    if (tag === undefined) return undefined
    pos = tag[1]
    const num = Number(tag[0] >> 3n)
    const wireType = Number(tag[0] & 7n)
    if (num === 0) return undefined
    if (wireType === 0) {
      const v = readVarint(buf, pos)
      if (v === undefined) return undefined
      pos = v[1]
      out.push({ num, wireType, raw: buf.slice(start, pos), varint: v[0] })
    } else if (wireType === 2) {
      const len = readVarint(buf, pos)
      if (len === undefined || len[1] + Number(len[0]) > buf.length) return undefined
      const content = buf.slice(len[1], len[1] + Number(len[0]))
      pos = len[1] + Number(len[0])
      out.push({ num, wireType, raw: buf.slice(start, pos), content })
    } else if (wireType === 1 || wireType === 5) {
      pos += wireType === 1 ? 8 : 4
      if (pos > buf.length) return undefined
      out.push({ num, wireType, raw: buf.slice(start, pos) })
    } else {
      return undefined
    }
  }
  return out
}

export function tag (num: number, wireType: number): Uint8Array {
  return varint((BigInt(num) << 3n) | BigInt(wireType))
}

export function varintField (num: number, value: number | bigint): Uint8Array {
  return concat(tag(num, 0), varint(value))
}

export function bytesField (num: number, content: Uint8Array): Uint8Array {
  return concat(tag(num, 2), varint(content.length), content)
}

/** Varints at the edges: zero, one, the 31/32/53/63/64-bit boundaries */
export const EDGE_VARINTS: bigint[] = [0n, 1n, 2n, 3n, 4n, 5n, 127n, 128n, 255n, 256n, 16383n, 16384n, 65535n, 65536n,
  2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n]

export const edgeVarint = fc.oneof(fc.constantFrom(...EDGE_VARINTS), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 1000n }))

/** Lengths at the edges of what Skyline's fields allow */
const edgeLength = fc.oneof(fc.constantFrom(0, 1, 31, 32, 33, 38, 63, 64, 65, 255, 256, 257, 513), fc.nat(600))

export const edgeBytes = fc.oneof(
  edgeLength.chain(n => fc.uint8Array({ minLength: n, maxLength: n })),
  fc.uint8Array({ maxLength: 80 }),
  fc.string({ maxLength: 80 }).map(s => new Uint8Array(Buffer.from(s, 'utf8'))),
  fc.constantFrom(new Uint8Array([0xff, 0xfe]), new Uint8Array([0xc0, 0x80]), new Uint8Array([0xed, 0xa0, 0x80]), new Uint8Array(Buffer.from('a\u0000b')))
)

export type FieldMutation =
  | { kind: 'drop', at: number }
  | { kind: 'duplicate', at: number }
  | { kind: 'swap', at: number, with: number }
  | { kind: 'varint', at: number, value: bigint }
  | { kind: 'content', at: number, content: Uint8Array }
  | { kind: 'inner', at: number, inner: FieldMutation }
  | { kind: 'lie-length', at: number, delta: number }
  | { kind: 'wire-type', at: number, wireType: number }
  | { kind: 'pad-tag', at: number, extra: number }
  | { kind: 'unknown', num: number, value: Uint8Array, wireType: number }

/** A field-level mutation, to be applied to whatever message it meets (indexes are taken modulo the field count) */
export const fieldMutation: fc.Arbitrary<FieldMutation> = fc.letrec<{ m: FieldMutation }>(tie => ({
  m: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
    fc.record({ kind: fc.constant('varint' as const), at: fc.nat(), value: edgeVarint }),
    fc.record({ kind: fc.constant('content' as const), at: fc.nat(), content: edgeBytes }),
    fc.record({ kind: fc.constant('inner' as const), at: fc.nat(), inner: tie('m') }),
    fc.record({ kind: fc.constant('lie-length' as const), at: fc.nat(), delta: fc.oneof(fc.integer({ min: -40, max: 40 }), fc.constantFrom(1 << 20, 2 ** 31, 2 ** 32 - 1)) }),
    fc.record({ kind: fc.constant('wire-type' as const), at: fc.nat(), wireType: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('pad-tag' as const), at: fc.nat(), extra: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ kind: fc.constant('unknown' as const), num: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(536870911, 19000)), value: fc.uint8Array({ maxLength: 12 }), wireType: fc.constantFrom(0, 1, 2, 5) })
  )
})).m

/** Applies a field-level mutation; a message that does not parse is returned as it is */
export function applyFieldMutation (buf: Uint8Array, m: FieldMutation): Uint8Array {
  const fields = parseFields(buf)
  if (fields === undefined) return buf
  if (m.kind === 'unknown') {
    const value = m.wireType === 0 ? varint(BigInt('0x' + (Buffer.from(m.value).toString('hex') || '0')) & (2n ** 64n - 1n)) : m.wireType === 2 ? concat(varint(m.value.length), m.value) : m.wireType === 1 ? concat(m.value, new Uint8Array(8)).subarray(0, 8) : concat(m.value, new Uint8Array(4)).subarray(0, 4)
    return concat(buf, tag(m.num, m.wireType), value)
  }
  if (fields.length === 0) return buf
  const i = m.at % fields.length
  const f = fields[i]
  const parts = fields.map(x => x.raw)
  switch (m.kind) {
    case 'drop': parts.splice(i, 1); break
    case 'duplicate': parts.splice(i, 0, f.raw); break
    case 'swap': { const j = m.with % fields.length; [parts[i], parts[j]] = [parts[j], parts[i]]; break }
    case 'varint': parts[i] = f.wireType === 0 ? varintField(f.num, m.value) : concat(tag(f.num, 0), varint(m.value)); break
    case 'content': parts[i] = bytesField(f.num, m.content); break
    case 'inner': if (f.content !== undefined) parts[i] = bytesField(f.num, applyFieldMutation(f.content, m.inner)); break
    case 'lie-length': if (f.content !== undefined) parts[i] = concat(tag(f.num, 2), varint(Math.max(0, f.content.length + m.delta)), f.content); break
    case 'wire-type': parts[i] = concat(tag(f.num, m.wireType), f.raw.subarray(tag(f.num, f.wireType).length)); break
    case 'pad-tag': parts[i] = concat(paddedVarint((BigInt(f.num) << 3n) | BigInt(f.wireType), m.extra), f.raw.subarray(tag(f.num, f.wireType).length)); break
  }
  return concat(...parts)
}

export type ByteMutation =
  | { kind: 'flip', bits: Array<[number, number]> }
  | { kind: 'truncate', at: number }
  | { kind: 'extend', tail: Uint8Array }
  | { kind: 'insert', at: number, bytes: Uint8Array }
  | { kind: 'delete', at: number, count: number }
  | { kind: 'overwrite', at: number, bytes: Uint8Array }

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), bits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), tail: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) })
)

export function applyByteMutation (buf: Uint8Array, m: ByteMutation): Uint8Array {
  const n = buf.length
  switch (m.kind) {
    case 'flip': {
      const out = buf.slice()
      if (n > 0) for (const [at, bit] of m.bits) out[at % n] ^= 1 << bit
      return out
    }
    case 'truncate': return buf.slice(0, n === 0 ? 0 : m.at % n)
    case 'extend': return concat(buf, m.tail)
    case 'insert': { const at = m.at % (n + 1); return concat(buf.subarray(0, at), m.bytes, buf.subarray(at)) }
    case 'delete': { const at = n === 0 ? 0 : m.at % n; return concat(buf.subarray(0, at), buf.subarray(at + m.count)) }
    case 'overwrite': {
      const out = buf.slice()
      const at = n === 0 ? 0 : m.at % n
      out.set(m.bytes.subarray(0, Math.max(0, n - at)), at)
      return out
    }
  }
}

/** Mutants of `valid`: one to three byte- or field-level mutations */
export function mutants (valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const one = fc.oneof(
    byteMutation.map(m => (b: Uint8Array) => applyByteMutation(b, m)),
    fieldMutation.map(m => (b: Uint8Array) => applyFieldMutation(b, m))
  )
  return fc.array(one, { minLength: 1, maxLength: 3 }).map(fs => fs.reduce((b, f) => f(b), valid))
}

/** Arbitrary bytes, biased toward what looks like protobuf */
export const garbage: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  fc.array(fc.oneof(
    fc.tuple(fc.integer({ min: 1, max: 16 }), edgeVarint).map(([n, v]) => varintField(n, v)),
    fc.tuple(fc.integer({ min: 1, max: 16 }), edgeBytes).map(([n, c]) => bytesField(n, c)),
    fc.uint8Array({ minLength: 1, maxLength: 4 })
  ), { maxLength: 12 }).map(parts => concat(...parts))
)

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

/** Asserts `err` is one of the named errors expected here (never a TypeError, RangeError or bare Error) */
export function assertNamed (err: unknown, names: readonly string[], what: string): asserts err is Error & Record<string, any> {
  if (!(err instanceof Error) || !names.includes(err.name)) {
    const e = err as any
    assert.fail(`${what}: expected one of ${names.join(', ')}, got ${e?.name ?? typeof err}: ${e?.message ?? String(err)}\n${e?.stack ?? ''}`)
  }
}

/** Runs `fn` and asserts it returned within `ms` */
export function timed<T> (what: string, ms: number, fn: () => T): T {
  const start = performance.now()
  try {
    return fn()
  } finally {
    const took = performance.now() - start
    assert.ok(took < ms, `${what} took ${took.toFixed(0)} ms (budget ${ms} ms)`)
  }
}
