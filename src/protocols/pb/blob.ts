import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface BlobRequest {
  type: number
  sha256: Uint8Array<ArrayBuffer>
  index: number
}

export const BlobRequest = (() => {
  let _codec: Codec<BlobRequest>

  const codec = (): Codec<BlobRequest> => {
    if (_codec == null) {
      _codec = message<BlobRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.type != null && obj.type !== 0)) {
          w.uint32(8)
          w.uint32(obj.type)
        }

        if ((obj.sha256 != null && obj.sha256.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.sha256)
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(24)
          w.uint32(obj.index)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          type: 0,
          sha256: uint8ArrayAlloc(0),
          index: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.type = reader.uint32()
              break
            }
            case 2: {
              obj.sha256 = reader.bytes()
              break
            }
            case 3: {
              obj.index = reader.uint32()
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
                field: `${prefix}.type`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.sha256`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.index`,
                value: reader.uint32()
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

  interface BlobRequestTypeFieldEvent {
    field: '$.type'
    value: number
  }

  interface BlobRequestSha256FieldEvent {
    field: '$.sha256'
    value: Uint8Array<ArrayBuffer>
  }

  interface BlobRequestIndexFieldEvent {
    field: '$.index'
    value: number
  }

  function encode (obj: Partial<BlobRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BlobRequest.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BlobRequest>): BlobRequest {
    return decodeMessage(buf, BlobRequest.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BlobRequest>): Generator<BlobRequestTypeFieldEvent | BlobRequestSha256FieldEvent | BlobRequestIndexFieldEvent> {
    return streamMessage(buf, BlobRequest.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface BlobResponse {
  status: number
  type: number
  size: bigint
  chunkSize: number
  chunkHashes: Uint8Array<ArrayBuffer>
  bitfield: Uint8Array<ArrayBuffer>
  index: number
  data: Uint8Array<ArrayBuffer>
}

export const BlobResponse = (() => {
  let _codec: Codec<BlobResponse>

  const codec = (): Codec<BlobResponse> => {
    if (_codec == null) {
      _codec = message<BlobResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.status != null && obj.status !== 0)) {
          w.uint32(8)
          w.uint32(obj.status)
        }

        if ((obj.type != null && obj.type !== 0)) {
          w.uint32(16)
          w.uint32(obj.type)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(24)
          w.uint64(obj.size)
        }

        if ((obj.chunkSize != null && obj.chunkSize !== 0)) {
          w.uint32(32)
          w.uint32(obj.chunkSize)
        }

        if ((obj.chunkHashes != null && obj.chunkHashes.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.chunkHashes)
        }

        if ((obj.bitfield != null && obj.bitfield.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.bitfield)
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(56)
          w.uint32(obj.index)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: 0,
          type: 0,
          size: 0n,
          chunkSize: 0,
          chunkHashes: uint8ArrayAlloc(0),
          bitfield: uint8ArrayAlloc(0),
          index: 0,
          data: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = reader.uint32()
              break
            }
            case 2: {
              obj.type = reader.uint32()
              break
            }
            case 3: {
              obj.size = reader.uint64()
              break
            }
            case 4: {
              obj.chunkSize = reader.uint32()
              break
            }
            case 5: {
              obj.chunkHashes = reader.bytes()
              break
            }
            case 6: {
              obj.bitfield = reader.bytes()
              break
            }
            case 7: {
              obj.index = reader.uint32()
              break
            }
            case 8: {
              obj.data = reader.bytes()
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
                field: `${prefix}.status`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.type`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.chunkSize`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.chunkHashes`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.bitfield`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.index`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.data`,
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

  interface BlobResponseStatusFieldEvent {
    field: '$.status'
    value: number
  }

  interface BlobResponseTypeFieldEvent {
    field: '$.type'
    value: number
  }

  interface BlobResponseSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  interface BlobResponseChunkSizeFieldEvent {
    field: '$.chunkSize'
    value: number
  }

  interface BlobResponseChunkHashesFieldEvent {
    field: '$.chunkHashes'
    value: Uint8Array<ArrayBuffer>
  }

  interface BlobResponseBitfieldFieldEvent {
    field: '$.bitfield'
    value: Uint8Array<ArrayBuffer>
  }

  interface BlobResponseIndexFieldEvent {
    field: '$.index'
    value: number
  }

  interface BlobResponseDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  function encode (obj: Partial<BlobResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BlobResponse.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BlobResponse>): BlobResponse {
    return decodeMessage(buf, BlobResponse.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BlobResponse>): Generator<BlobResponseStatusFieldEvent | BlobResponseTypeFieldEvent | BlobResponseSizeFieldEvent | BlobResponseChunkSizeFieldEvent | BlobResponseChunkHashesFieldEvent | BlobResponseBitfieldFieldEvent | BlobResponseIndexFieldEvent | BlobResponseDataFieldEvent> {
    return streamMessage(buf, BlobResponse.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()
