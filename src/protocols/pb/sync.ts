import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SyncRequest {
  since: bigint
  cursor: Uint8Array<ArrayBuffer>
  ids: boolean
}

export const SyncRequest = (() => {
  let _codec: Codec<SyncRequest>

  const codec = (): Codec<SyncRequest> => {
    if (_codec == null) {
      _codec = message<SyncRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.since != null && obj.since !== 0n)) {
          w.uint32(8)
          w.uint64(obj.since)
        }

        if ((obj.cursor != null && obj.cursor.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.cursor)
        }

        if ((obj.ids != null && obj.ids !== false)) {
          w.uint32(24)
          w.bool(obj.ids)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          since: 0n,
          cursor: uint8ArrayAlloc(0),
          ids: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.since = reader.uint64()
              break
            }
            case 2: {
              obj.cursor = reader.bytes()
              break
            }
            case 3: {
              obj.ids = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.since`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.cursor`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.ids`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  interface SyncRequestSinceFieldEvent {
    field: '$.since'
    value: bigint
  }

  interface SyncRequestCursorFieldEvent {
    field: '$.cursor'
    value: Uint8Array<ArrayBuffer>
  }

  interface SyncRequestIdsFieldEvent {
    field: '$.ids'
    value: boolean
  }

  function encode (obj: Partial<SyncRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncRequest.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncRequest>): SyncRequest {
    return decodeMessage(buf, SyncRequest.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncRequest>): Generator<SyncRequestSinceFieldEvent | SyncRequestCursorFieldEvent | SyncRequestIdsFieldEvent> {
    return streamMessage(buf, SyncRequest.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface SyncItem {
  kind: number
  envelope: Uint8Array<ArrayBuffer>
  cursor: Uint8Array<ArrayBuffer>
  ids: Uint8Array<ArrayBuffer>
  offered: boolean
}

export const SyncItem = (() => {
  let _codec: Codec<SyncItem>

  const codec = (): Codec<SyncItem> => {
    if (_codec == null) {
      _codec = message<SyncItem>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.kind != null && obj.kind !== 0)) {
          w.uint32(8)
          w.uint32(obj.kind)
        }

        if ((obj.envelope != null && obj.envelope.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.envelope)
        }

        if ((obj.cursor != null && obj.cursor.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.cursor)
        }

        if ((obj.ids != null && obj.ids.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.ids)
        }

        if ((obj.offered != null && obj.offered !== false)) {
          w.uint32(40)
          w.bool(obj.offered)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: 0,
          envelope: uint8ArrayAlloc(0),
          cursor: uint8ArrayAlloc(0),
          ids: uint8ArrayAlloc(0),
          offered: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = reader.uint32()
              break
            }
            case 2: {
              obj.envelope = reader.bytes()
              break
            }
            case 3: {
              obj.cursor = reader.bytes()
              break
            }
            case 4: {
              obj.ids = reader.bytes()
              break
            }
            case 5: {
              obj.offered = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.kind`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.envelope`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.cursor`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.ids`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.offered`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  interface SyncItemKindFieldEvent {
    field: '$.kind'
    value: number
  }

  interface SyncItemEnvelopeFieldEvent {
    field: '$.envelope'
    value: Uint8Array<ArrayBuffer>
  }

  interface SyncItemCursorFieldEvent {
    field: '$.cursor'
    value: Uint8Array<ArrayBuffer>
  }

  interface SyncItemIdsFieldEvent {
    field: '$.ids'
    value: Uint8Array<ArrayBuffer>
  }

  interface SyncItemOfferedFieldEvent {
    field: '$.offered'
    value: boolean
  }

  function encode (obj: Partial<SyncItem>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncItem.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncItem>): SyncItem {
    return decodeMessage(buf, SyncItem.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncItem>): Generator<SyncItemKindFieldEvent | SyncItemEnvelopeFieldEvent | SyncItemCursorFieldEvent | SyncItemIdsFieldEvent | SyncItemOfferedFieldEvent> {
    return streamMessage(buf, SyncItem.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface SyncWant {
  want: Uint8Array<ArrayBuffer>
}

export const SyncWant = (() => {
  let _codec: Codec<SyncWant>

  const codec = (): Codec<SyncWant> => {
    if (_codec == null) {
      _codec = message<SyncWant>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.want != null && obj.want.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.want)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          want: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.want = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.want`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  interface SyncWantWantFieldEvent {
    field: '$.want'
    value: Uint8Array<ArrayBuffer>
  }

  function encode (obj: Partial<SyncWant>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncWant.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncWant>): SyncWant {
    return decodeMessage(buf, SyncWant.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncWant>): Generator<SyncWantWantFieldEvent> {
    return streamMessage(buf, SyncWant.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface SyncCursor {
  announcements: bigint
  controls: bigint
  attestations: bigint
  proofs: bigint
  commitments: bigint
}

export const SyncCursor = (() => {
  let _codec: Codec<SyncCursor>

  const codec = (): Codec<SyncCursor> => {
    if (_codec == null) {
      _codec = message<SyncCursor>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.announcements != null && obj.announcements !== 0n)) {
          w.uint32(8)
          w.uint64(obj.announcements)
        }

        if ((obj.controls != null && obj.controls !== 0n)) {
          w.uint32(16)
          w.uint64(obj.controls)
        }

        if ((obj.attestations != null && obj.attestations !== 0n)) {
          w.uint32(24)
          w.uint64(obj.attestations)
        }

        if ((obj.proofs != null && obj.proofs !== 0n)) {
          w.uint32(32)
          w.uint64(obj.proofs)
        }

        if ((obj.commitments != null && obj.commitments !== 0n)) {
          w.uint32(40)
          w.uint64(obj.commitments)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          announcements: 0n,
          controls: 0n,
          attestations: 0n,
          proofs: 0n,
          commitments: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.announcements = reader.uint64()
              break
            }
            case 2: {
              obj.controls = reader.uint64()
              break
            }
            case 3: {
              obj.attestations = reader.uint64()
              break
            }
            case 4: {
              obj.proofs = reader.uint64()
              break
            }
            case 5: {
              obj.commitments = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.announcements`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.controls`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.attestations`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.proofs`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.commitments`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  interface SyncCursorAnnouncementsFieldEvent {
    field: '$.announcements'
    value: bigint
  }

  interface SyncCursorControlsFieldEvent {
    field: '$.controls'
    value: bigint
  }

  interface SyncCursorAttestationsFieldEvent {
    field: '$.attestations'
    value: bigint
  }

  interface SyncCursorProofsFieldEvent {
    field: '$.proofs'
    value: bigint
  }

  interface SyncCursorCommitmentsFieldEvent {
    field: '$.commitments'
    value: bigint
  }

  function encode (obj: Partial<SyncCursor>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncCursor.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncCursor>): SyncCursor {
    return decodeMessage(buf, SyncCursor.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncCursor>): Generator<SyncCursorAnnouncementsFieldEvent | SyncCursorControlsFieldEvent | SyncCursorAttestationsFieldEvent | SyncCursorProofsFieldEvent | SyncCursorCommitmentsFieldEvent> {
    return streamMessage(buf, SyncCursor.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()
