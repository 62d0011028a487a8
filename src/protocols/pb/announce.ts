import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SignedEnvelope {
  kind: number
  payload: Uint8Array<ArrayBuffer>
  publicKey: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export const SignedEnvelope = (() => {
  let _codec: Codec<SignedEnvelope>

  const codec = (): Codec<SignedEnvelope> => {
    if (_codec == null) {
      _codec = message<SignedEnvelope>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.kind != null && obj.kind !== 0)) {
          w.uint32(8)
          w.uint32(obj.kind)
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.payload)
        }

        if ((obj.publicKey != null && obj.publicKey.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.publicKey)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: 0,
          payload: uint8ArrayAlloc(0),
          publicKey: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
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
              obj.payload = reader.bytes()
              break
            }
            case 3: {
              obj.publicKey = reader.bytes()
              break
            }
            case 4: {
              obj.signature = reader.bytes()
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
                field: `${prefix}.payload`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.publicKey`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.signature`,
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

  interface SignedEnvelopeKindFieldEvent {
    field: '$.kind'
    value: number
  }

  interface SignedEnvelopePayloadFieldEvent {
    field: '$.payload'
    value: Uint8Array<ArrayBuffer>
  }

  interface SignedEnvelopePublicKeyFieldEvent {
    field: '$.publicKey'
    value: Uint8Array<ArrayBuffer>
  }

  interface SignedEnvelopeSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  function encode (obj: Partial<SignedEnvelope>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedEnvelope.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedEnvelope>): SignedEnvelope {
    return decodeMessage(buf, SignedEnvelope.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedEnvelope>): Generator<SignedEnvelopeKindFieldEvent | SignedEnvelopePayloadFieldEvent | SignedEnvelopePublicKeyFieldEvent | SignedEnvelopeSignatureFieldEvent> {
    return streamMessage(buf, SignedEnvelope.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface Announcement {
  nevra: string
  srpmSha256: Uint8Array<ArrayBuffer>
  srpmSize: bigint
  target: string
  replicas: number
  quorum: number
  beacon: Uint8Array<ArrayBuffer>
  issuedAt: bigint
  expiresAt: bigint
  sequence: bigint
  chunkSize: number
  chunkRoot: Uint8Array<ArrayBuffer>
  candidates: Uint8Array<ArrayBuffer>[]
  rules: number
  escalation: number
  stageMs: bigint
  eligibleBuilds: number
  eligibleDays: number
  probationSeats: number
  buildrootSha256: Uint8Array<ArrayBuffer>
  buildrootSize: bigint
  buildrootChunkSize: number
  buildrootChunkRoot: Uint8Array<ArrayBuffer>
  retryOf: Uint8Array<ArrayBuffer>
  attempt: number
  provider?: ProviderHint
}

export const Announcement = (() => {
  let _codec: Codec<Announcement>

  const codec = (): Codec<Announcement> => {
    if (_codec == null) {
      _codec = message<Announcement>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.nevra != null && obj.nevra !== '')) {
          w.uint32(10)
          w.string(obj.nevra)
        }

        if ((obj.srpmSha256 != null && obj.srpmSha256.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.srpmSha256)
        }

        if ((obj.srpmSize != null && obj.srpmSize !== 0n)) {
          w.uint32(24)
          w.uint64(obj.srpmSize)
        }

        if ((obj.target != null && obj.target !== '')) {
          w.uint32(34)
          w.string(obj.target)
        }

        if ((obj.replicas != null && obj.replicas !== 0)) {
          w.uint32(40)
          w.uint32(obj.replicas)
        }

        if ((obj.quorum != null && obj.quorum !== 0)) {
          w.uint32(48)
          w.uint32(obj.quorum)
        }

        if ((obj.beacon != null && obj.beacon.byteLength > 0)) {
          w.uint32(58)
          w.bytes(obj.beacon)
        }

        if ((obj.issuedAt != null && obj.issuedAt !== 0n)) {
          w.uint32(64)
          w.uint64(obj.issuedAt)
        }

        if ((obj.expiresAt != null && obj.expiresAt !== 0n)) {
          w.uint32(72)
          w.uint64(obj.expiresAt)
        }

        if ((obj.sequence != null && obj.sequence !== 0n)) {
          w.uint32(80)
          w.uint64(obj.sequence)
        }

        if ((obj.chunkSize != null && obj.chunkSize !== 0)) {
          w.uint32(88)
          w.uint32(obj.chunkSize)
        }

        if ((obj.chunkRoot != null && obj.chunkRoot.byteLength > 0)) {
          w.uint32(98)
          w.bytes(obj.chunkRoot)
        }

        if (obj.candidates != null && obj.candidates.length > 0) {
          for (const value of obj.candidates) {
            w.uint32(106)
            w.bytes(value)
          }
        }

        if ((obj.rules != null && obj.rules !== 0)) {
          w.uint32(112)
          w.uint32(obj.rules)
        }

        if ((obj.escalation != null && obj.escalation !== 0)) {
          w.uint32(120)
          w.uint32(obj.escalation)
        }

        if ((obj.stageMs != null && obj.stageMs !== 0n)) {
          w.uint32(128)
          w.uint64(obj.stageMs)
        }

        if ((obj.eligibleBuilds != null && obj.eligibleBuilds !== 0)) {
          w.uint32(136)
          w.uint32(obj.eligibleBuilds)
        }

        if ((obj.eligibleDays != null && obj.eligibleDays !== 0)) {
          w.uint32(144)
          w.uint32(obj.eligibleDays)
        }

        if ((obj.probationSeats != null && obj.probationSeats !== 0)) {
          w.uint32(152)
          w.uint32(obj.probationSeats)
        }

        if ((obj.buildrootSha256 != null && obj.buildrootSha256.byteLength > 0)) {
          w.uint32(162)
          w.bytes(obj.buildrootSha256)
        }

        if ((obj.buildrootSize != null && obj.buildrootSize !== 0n)) {
          w.uint32(168)
          w.uint64(obj.buildrootSize)
        }

        if ((obj.buildrootChunkSize != null && obj.buildrootChunkSize !== 0)) {
          w.uint32(176)
          w.uint32(obj.buildrootChunkSize)
        }

        if ((obj.buildrootChunkRoot != null && obj.buildrootChunkRoot.byteLength > 0)) {
          w.uint32(186)
          w.bytes(obj.buildrootChunkRoot)
        }

        if ((obj.retryOf != null && obj.retryOf.byteLength > 0)) {
          w.uint32(194)
          w.bytes(obj.retryOf)
        }

        if ((obj.attempt != null && obj.attempt !== 0)) {
          w.uint32(200)
          w.uint32(obj.attempt)
        }

        if (obj.provider != null) {
          w.uint32(210)
          ProviderHint.codec().encode(obj.provider, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          nevra: '',
          srpmSha256: uint8ArrayAlloc(0),
          srpmSize: 0n,
          target: '',
          replicas: 0,
          quorum: 0,
          beacon: uint8ArrayAlloc(0),
          issuedAt: 0n,
          expiresAt: 0n,
          sequence: 0n,
          chunkSize: 0,
          chunkRoot: uint8ArrayAlloc(0),
          candidates: [],
          rules: 0,
          escalation: 0,
          stageMs: 0n,
          eligibleBuilds: 0,
          eligibleDays: 0,
          probationSeats: 0,
          buildrootSha256: uint8ArrayAlloc(0),
          buildrootSize: 0n,
          buildrootChunkSize: 0,
          buildrootChunkRoot: uint8ArrayAlloc(0),
          retryOf: uint8ArrayAlloc(0),
          attempt: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.nevra = reader.string()
              break
            }
            case 2: {
              obj.srpmSha256 = reader.bytes()
              break
            }
            case 3: {
              obj.srpmSize = reader.uint64()
              break
            }
            case 4: {
              obj.target = reader.string()
              break
            }
            case 5: {
              obj.replicas = reader.uint32()
              break
            }
            case 6: {
              obj.quorum = reader.uint32()
              break
            }
            case 7: {
              obj.beacon = reader.bytes()
              break
            }
            case 8: {
              obj.issuedAt = reader.uint64()
              break
            }
            case 9: {
              obj.expiresAt = reader.uint64()
              break
            }
            case 10: {
              obj.sequence = reader.uint64()
              break
            }
            case 11: {
              obj.chunkSize = reader.uint32()
              break
            }
            case 12: {
              obj.chunkRoot = reader.bytes()
              break
            }
            case 13: {
              if (opts.limits?.candidates != null && obj.candidates.length === opts.limits.candidates) {
                throw new MaxLengthError('Decode error - repeated field "candidates" had too many elements')
              }

              obj.candidates.push(reader.bytes())
              break
            }
            case 14: {
              obj.rules = reader.uint32()
              break
            }
            case 15: {
              obj.escalation = reader.uint32()
              break
            }
            case 16: {
              obj.stageMs = reader.uint64()
              break
            }
            case 17: {
              obj.eligibleBuilds = reader.uint32()
              break
            }
            case 18: {
              obj.eligibleDays = reader.uint32()
              break
            }
            case 19: {
              obj.probationSeats = reader.uint32()
              break
            }
            case 20: {
              obj.buildrootSha256 = reader.bytes()
              break
            }
            case 21: {
              obj.buildrootSize = reader.uint64()
              break
            }
            case 22: {
              obj.buildrootChunkSize = reader.uint32()
              break
            }
            case 23: {
              obj.buildrootChunkRoot = reader.bytes()
              break
            }
            case 24: {
              obj.retryOf = reader.bytes()
              break
            }
            case 25: {
              obj.attempt = reader.uint32()
              break
            }
            case 26: {
              obj.provider = ProviderHint.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.provider
              })
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
        const obj = {
          candidates: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.nevra`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.srpmSha256`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.srpmSize`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.target`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.replicas`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.quorum`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.beacon`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.issuedAt`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.expiresAt`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.sequence`,
                value: reader.uint64()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.chunkSize`,
                value: reader.uint32()
              }
              break
            }
            case 12: {
              yield {
                field: `${prefix}.chunkRoot`,
                value: reader.bytes()
              }
              break
            }
            case 13: {
              if (opts.limits?.candidates != null && obj.candidates === opts.limits.candidates) {
                throw new MaxLengthError('Streaming decode error - repeated field "candidates" had too many elements')
              }

              yield {
                field: `${prefix}.candidates[]`,
                index: obj.candidates,
                value: reader.bytes()
              }

              obj.candidates++

              break
            }
            case 14: {
              yield {
                field: `${prefix}.rules`,
                value: reader.uint32()
              }
              break
            }
            case 15: {
              yield {
                field: `${prefix}.escalation`,
                value: reader.uint32()
              }
              break
            }
            case 16: {
              yield {
                field: `${prefix}.stageMs`,
                value: reader.uint64()
              }
              break
            }
            case 17: {
              yield {
                field: `${prefix}.eligibleBuilds`,
                value: reader.uint32()
              }
              break
            }
            case 18: {
              yield {
                field: `${prefix}.eligibleDays`,
                value: reader.uint32()
              }
              break
            }
            case 19: {
              yield {
                field: `${prefix}.probationSeats`,
                value: reader.uint32()
              }
              break
            }
            case 20: {
              yield {
                field: `${prefix}.buildrootSha256`,
                value: reader.bytes()
              }
              break
            }
            case 21: {
              yield {
                field: `${prefix}.buildrootSize`,
                value: reader.uint64()
              }
              break
            }
            case 22: {
              yield {
                field: `${prefix}.buildrootChunkSize`,
                value: reader.uint32()
              }
              break
            }
            case 23: {
              yield {
                field: `${prefix}.buildrootChunkRoot`,
                value: reader.bytes()
              }
              break
            }
            case 24: {
              yield {
                field: `${prefix}.retryOf`,
                value: reader.bytes()
              }
              break
            }
            case 25: {
              yield {
                field: `${prefix}.attempt`,
                value: reader.uint32()
              }
              break
            }
            case 26: {
              yield * ProviderHint.codec().stream(reader, reader.uint32(), `${prefix}.provider`, {
                limits: opts.limits?.provider
              })

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

  interface AnnouncementNevraFieldEvent {
    field: '$.nevra'
    value: string
  }

  interface AnnouncementSrpmSha256FieldEvent {
    field: '$.srpmSha256'
    value: Uint8Array<ArrayBuffer>
  }

  interface AnnouncementSrpmSizeFieldEvent {
    field: '$.srpmSize'
    value: bigint
  }

  interface AnnouncementTargetFieldEvent {
    field: '$.target'
    value: string
  }

  interface AnnouncementReplicasFieldEvent {
    field: '$.replicas'
    value: number
  }

  interface AnnouncementQuorumFieldEvent {
    field: '$.quorum'
    value: number
  }

  interface AnnouncementBeaconFieldEvent {
    field: '$.beacon'
    value: Uint8Array<ArrayBuffer>
  }

  interface AnnouncementIssuedAtFieldEvent {
    field: '$.issuedAt'
    value: bigint
  }

  interface AnnouncementExpiresAtFieldEvent {
    field: '$.expiresAt'
    value: bigint
  }

  interface AnnouncementSequenceFieldEvent {
    field: '$.sequence'
    value: bigint
  }

  interface AnnouncementChunkSizeFieldEvent {
    field: '$.chunkSize'
    value: number
  }

  interface AnnouncementChunkRootFieldEvent {
    field: '$.chunkRoot'
    value: Uint8Array<ArrayBuffer>
  }

  interface AnnouncementCandidatesFieldEvent {
    field: '$.candidates[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  interface AnnouncementRulesFieldEvent {
    field: '$.rules'
    value: number
  }

  interface AnnouncementEscalationFieldEvent {
    field: '$.escalation'
    value: number
  }

  interface AnnouncementStageMsFieldEvent {
    field: '$.stageMs'
    value: bigint
  }

  interface AnnouncementEligibleBuildsFieldEvent {
    field: '$.eligibleBuilds'
    value: number
  }

  interface AnnouncementEligibleDaysFieldEvent {
    field: '$.eligibleDays'
    value: number
  }

  interface AnnouncementProbationSeatsFieldEvent {
    field: '$.probationSeats'
    value: number
  }

  interface AnnouncementBuildrootSha256FieldEvent {
    field: '$.buildrootSha256'
    value: Uint8Array<ArrayBuffer>
  }

  interface AnnouncementBuildrootSizeFieldEvent {
    field: '$.buildrootSize'
    value: bigint
  }

  interface AnnouncementBuildrootChunkSizeFieldEvent {
    field: '$.buildrootChunkSize'
    value: number
  }

  interface AnnouncementBuildrootChunkRootFieldEvent {
    field: '$.buildrootChunkRoot'
    value: Uint8Array<ArrayBuffer>
  }

  interface AnnouncementRetryOfFieldEvent {
    field: '$.retryOf'
    value: Uint8Array<ArrayBuffer>
  }

  interface AnnouncementAttemptFieldEvent {
    field: '$.attempt'
    value: number
  }

  interface AnnouncementProviderVersionFieldEvent {
    field: '$.provider.version'
    value: number
  }

  interface AnnouncementProviderPeerFieldEvent {
    field: '$.provider.peer'
    value: Uint8Array<ArrayBuffer>
  }

  interface AnnouncementProviderAddrsFieldEvent {
    field: '$.provider.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  function encode (obj: Partial<Announcement>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Announcement.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Announcement>): Announcement {
    return decodeMessage(buf, Announcement.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Announcement>): Generator<AnnouncementNevraFieldEvent | AnnouncementSrpmSha256FieldEvent | AnnouncementSrpmSizeFieldEvent | AnnouncementTargetFieldEvent | AnnouncementReplicasFieldEvent | AnnouncementQuorumFieldEvent | AnnouncementBeaconFieldEvent | AnnouncementIssuedAtFieldEvent | AnnouncementExpiresAtFieldEvent | AnnouncementSequenceFieldEvent | AnnouncementChunkSizeFieldEvent | AnnouncementChunkRootFieldEvent | AnnouncementCandidatesFieldEvent | AnnouncementRulesFieldEvent | AnnouncementEscalationFieldEvent | AnnouncementStageMsFieldEvent | AnnouncementEligibleBuildsFieldEvent | AnnouncementEligibleDaysFieldEvent | AnnouncementProbationSeatsFieldEvent | AnnouncementBuildrootSha256FieldEvent | AnnouncementBuildrootSizeFieldEvent | AnnouncementBuildrootChunkSizeFieldEvent | AnnouncementBuildrootChunkRootFieldEvent | AnnouncementRetryOfFieldEvent | AnnouncementAttemptFieldEvent | AnnouncementProviderVersionFieldEvent | AnnouncementProviderPeerFieldEvent | AnnouncementProviderAddrsFieldEvent> {
    return streamMessage(buf, Announcement.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface ProviderHint {
  version: number
  peer: Uint8Array<ArrayBuffer>
  addrs: Uint8Array<ArrayBuffer>[]
}

export const ProviderHint = (() => {
  let _codec: Codec<ProviderHint>

  const codec = (): Codec<ProviderHint> => {
    if (_codec == null) {
      _codec = message<ProviderHint>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.peer != null && obj.peer.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.peer)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(26)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          peer: uint8ArrayAlloc(0),
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.peer = reader.bytes()
              break
            }
            case 3: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
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
        const obj = {
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.peer`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

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

  interface ProviderHintVersionFieldEvent {
    field: '$.version'
    value: number
  }

  interface ProviderHintPeerFieldEvent {
    field: '$.peer'
    value: Uint8Array<ArrayBuffer>
  }

  interface ProviderHintAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  function encode (obj: Partial<ProviderHint>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ProviderHint.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ProviderHint>): ProviderHint {
    return decodeMessage(buf, ProviderHint.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ProviderHint>): Generator<ProviderHintVersionFieldEvent | ProviderHintPeerFieldEvent | ProviderHintAddrsFieldEvent> {
    return streamMessage(buf, ProviderHint.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface Control {
  action: number
  reason: string
  issuedAt: bigint
  sequence: bigint
}

export const Control = (() => {
  let _codec: Codec<Control>

  const codec = (): Codec<Control> => {
    if (_codec == null) {
      _codec = message<Control>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.action != null && obj.action !== 0)) {
          w.uint32(8)
          w.uint32(obj.action)
        }

        if ((obj.reason != null && obj.reason !== '')) {
          w.uint32(18)
          w.string(obj.reason)
        }

        if ((obj.issuedAt != null && obj.issuedAt !== 0n)) {
          w.uint32(24)
          w.uint64(obj.issuedAt)
        }

        if ((obj.sequence != null && obj.sequence !== 0n)) {
          w.uint32(32)
          w.uint64(obj.sequence)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          action: 0,
          reason: '',
          issuedAt: 0n,
          sequence: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.action = reader.uint32()
              break
            }
            case 2: {
              obj.reason = reader.string()
              break
            }
            case 3: {
              obj.issuedAt = reader.uint64()
              break
            }
            case 4: {
              obj.sequence = reader.uint64()
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
                field: `${prefix}.action`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.issuedAt`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.sequence`,
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

  interface ControlActionFieldEvent {
    field: '$.action'
    value: number
  }

  interface ControlReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  interface ControlIssuedAtFieldEvent {
    field: '$.issuedAt'
    value: bigint
  }

  interface ControlSequenceFieldEvent {
    field: '$.sequence'
    value: bigint
  }

  function encode (obj: Partial<Control>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Control.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Control>): Control {
    return decodeMessage(buf, Control.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Control>): Generator<ControlActionFieldEvent | ControlReasonFieldEvent | ControlIssuedAtFieldEvent | ControlSequenceFieldEvent> {
    return streamMessage(buf, Control.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()
