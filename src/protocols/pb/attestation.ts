import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface AttestedFile {
  name: string
  size: bigint
  sha256: Uint8Array<ArrayBuffer>
  chunkSize: number
  chunkRoot: Uint8Array<ArrayBuffer>
}

export const AttestedFile = (() => {
  let _codec: Codec<AttestedFile>

  const codec = (): Codec<AttestedFile> => {
    if (_codec == null) {
      _codec = message<AttestedFile>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(16)
          w.uint64(obj.size)
        }

        if ((obj.sha256 != null && obj.sha256.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.sha256)
        }

        if ((obj.chunkSize != null && obj.chunkSize !== 0)) {
          w.uint32(32)
          w.uint32(obj.chunkSize)
        }

        if ((obj.chunkRoot != null && obj.chunkRoot.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.chunkRoot)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          size: 0n,
          sha256: uint8ArrayAlloc(0),
          chunkSize: 0,
          chunkRoot: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.size = reader.uint64()
              break
            }
            case 3: {
              obj.sha256 = reader.bytes()
              break
            }
            case 4: {
              obj.chunkSize = reader.uint32()
              break
            }
            case 5: {
              obj.chunkRoot = reader.bytes()
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
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.sha256`,
                value: reader.bytes()
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
                field: `${prefix}.chunkRoot`,
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

  interface AttestedFileNameFieldEvent {
    field: '$.name'
    value: string
  }

  interface AttestedFileSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  interface AttestedFileSha256FieldEvent {
    field: '$.sha256'
    value: Uint8Array<ArrayBuffer>
  }

  interface AttestedFileChunkSizeFieldEvent {
    field: '$.chunkSize'
    value: number
  }

  interface AttestedFileChunkRootFieldEvent {
    field: '$.chunkRoot'
    value: Uint8Array<ArrayBuffer>
  }

  function encode (obj: Partial<AttestedFile>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AttestedFile.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AttestedFile>): AttestedFile {
    return decodeMessage(buf, AttestedFile.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AttestedFile>): Generator<AttestedFileNameFieldEvent | AttestedFileSizeFieldEvent | AttestedFileSha256FieldEvent | AttestedFileChunkSizeFieldEvent | AttestedFileChunkRootFieldEvent> {
    return streamMessage(buf, AttestedFile.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface KeyValue {
  key: string
  value: string
}

export const KeyValue = (() => {
  let _codec: Codec<KeyValue>

  const codec = (): Codec<KeyValue> => {
    if (_codec == null) {
      _codec = message<KeyValue>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.key != null && obj.key !== '')) {
          w.uint32(10)
          w.string(obj.key)
        }

        if ((obj.value != null && obj.value !== '')) {
          w.uint32(18)
          w.string(obj.value)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          key: '',
          value: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.key = reader.string()
              break
            }
            case 2: {
              obj.value = reader.string()
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
                field: `${prefix}.key`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.value`,
                value: reader.string()
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

  interface KeyValueKeyFieldEvent {
    field: '$.key'
    value: string
  }

  interface KeyValueValueFieldEvent {
    field: '$.value'
    value: string
  }

  function encode (obj: Partial<KeyValue>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, KeyValue.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<KeyValue>): KeyValue {
    return decodeMessage(buf, KeyValue.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<KeyValue>): Generator<KeyValueKeyFieldEvent | KeyValueValueFieldEvent> {
    return streamMessage(buf, KeyValue.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface OfficialDifference {
  name: string
  fields: string[]
}

export const OfficialDifference = (() => {
  let _codec: Codec<OfficialDifference>

  const codec = (): Codec<OfficialDifference> => {
    if (_codec == null) {
      _codec = message<OfficialDifference>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if (obj.fields != null && obj.fields.length > 0) {
          for (const value of obj.fields) {
            w.uint32(18)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          fields: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.fields != null && obj.fields.length === opts.limits.fields) {
                throw new MaxLengthError('Decode error - repeated field "fields" had too many elements')
              }

              obj.fields.push(reader.string())
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
          fields: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              if (opts.limits?.fields != null && obj.fields === opts.limits.fields) {
                throw new MaxLengthError('Streaming decode error - repeated field "fields" had too many elements')
              }

              yield {
                field: `${prefix}.fields[]`,
                index: obj.fields,
                value: reader.string()
              }

              obj.fields++

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

  interface OfficialDifferenceNameFieldEvent {
    field: '$.name'
    value: string
  }

  interface OfficialDifferenceFieldsFieldEvent {
    field: '$.fields[]'
    index: number
    value: string
  }

  function encode (obj: Partial<OfficialDifference>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, OfficialDifference.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OfficialDifference>): OfficialDifference {
    return decodeMessage(buf, OfficialDifference.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OfficialDifference>): Generator<OfficialDifferenceNameFieldEvent | OfficialDifferenceFieldsFieldEvent> {
    return streamMessage(buf, OfficialDifference.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface Attestation {
  job: Uint8Array<ArrayBuffer>
  builder: Uint8Array<ArrayBuffer>
  status: number
  buildHash: Uint8Array<ArrayBuffer>
  files: AttestedFile[]
  environment: KeyValue[]
  time: bigint
  contributor: string
  durationMs: bigint
  commitment: Uint8Array<ArrayBuffer>
  nonce: Uint8Array<ArrayBuffer>
  official: number
  officialDifferences: OfficialDifference[]
}

export const Attestation = (() => {
  let _codec: Codec<Attestation>

  const codec = (): Codec<Attestation> => {
    if (_codec == null) {
      _codec = message<Attestation>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.job != null && obj.job.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.job)
        }

        if ((obj.builder != null && obj.builder.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.builder)
        }

        if ((obj.status != null && obj.status !== 0)) {
          w.uint32(24)
          w.uint32(obj.status)
        }

        if ((obj.buildHash != null && obj.buildHash.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.buildHash)
        }

        if (obj.files != null && obj.files.length > 0) {
          for (const value of obj.files) {
            w.uint32(42)
            AttestedFile.codec().encode(value, w)
          }
        }

        if (obj.environment != null && obj.environment.length > 0) {
          for (const value of obj.environment) {
            w.uint32(50)
            KeyValue.codec().encode(value, w)
          }
        }

        if ((obj.time != null && obj.time !== 0n)) {
          w.uint32(56)
          w.uint64(obj.time)
        }

        if ((obj.contributor != null && obj.contributor !== '')) {
          w.uint32(66)
          w.string(obj.contributor)
        }

        if ((obj.durationMs != null && obj.durationMs !== 0n)) {
          w.uint32(72)
          w.uint64(obj.durationMs)
        }

        if ((obj.commitment != null && obj.commitment.byteLength > 0)) {
          w.uint32(82)
          w.bytes(obj.commitment)
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(90)
          w.bytes(obj.nonce)
        }

        if ((obj.official != null && obj.official !== 0)) {
          w.uint32(104)
          w.uint32(obj.official)
        }

        if (obj.officialDifferences != null && obj.officialDifferences.length > 0) {
          for (const value of obj.officialDifferences) {
            w.uint32(114)
            OfficialDifference.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          job: uint8ArrayAlloc(0),
          builder: uint8ArrayAlloc(0),
          status: 0,
          buildHash: uint8ArrayAlloc(0),
          files: [],
          environment: [],
          time: 0n,
          contributor: '',
          durationMs: 0n,
          commitment: uint8ArrayAlloc(0),
          nonce: uint8ArrayAlloc(0),
          official: 0,
          officialDifferences: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.job = reader.bytes()
              break
            }
            case 2: {
              obj.builder = reader.bytes()
              break
            }
            case 3: {
              obj.status = reader.uint32()
              break
            }
            case 4: {
              obj.buildHash = reader.bytes()
              break
            }
            case 5: {
              if (opts.limits?.files != null && obj.files.length === opts.limits.files) {
                throw new MaxLengthError('Decode error - repeated field "files" had too many elements')
              }

              obj.files.push(AttestedFile.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.files$
              }))
              break
            }
            case 6: {
              if (opts.limits?.environment != null && obj.environment.length === opts.limits.environment) {
                throw new MaxLengthError('Decode error - repeated field "environment" had too many elements')
              }

              obj.environment.push(KeyValue.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.environment$
              }))
              break
            }
            case 7: {
              obj.time = reader.uint64()
              break
            }
            case 8: {
              obj.contributor = reader.string()
              break
            }
            case 9: {
              obj.durationMs = reader.uint64()
              break
            }
            case 10: {
              obj.commitment = reader.bytes()
              break
            }
            case 11: {
              obj.nonce = reader.bytes()
              break
            }
            case 13: {
              obj.official = reader.uint32()
              break
            }
            case 14: {
              if (opts.limits?.officialDifferences != null && obj.officialDifferences.length === opts.limits.officialDifferences) {
                throw new MaxLengthError('Decode error - repeated field "officialDifferences" had too many elements')
              }

              obj.officialDifferences.push(OfficialDifference.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.officialDifferences$
              }))
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
          files: 0,
          environment: 0,
          officialDifferences: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.job`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.builder`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.status`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.buildHash`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              if (opts.limits?.files != null && obj.files === opts.limits.files) {
                throw new MaxLengthError('Streaming decode error - repeated field "files" had too many elements')
              }

              for (const evt of AttestedFile.codec().stream(reader, reader.uint32(), `${prefix}.files[]`, {
                limits: opts.limits?.files$
              })) {
                yield {
                  ...evt,
                  index: obj.files
                }
              }

              obj.files++

              break
            }
            case 6: {
              if (opts.limits?.environment != null && obj.environment === opts.limits.environment) {
                throw new MaxLengthError('Streaming decode error - repeated field "environment" had too many elements')
              }

              for (const evt of KeyValue.codec().stream(reader, reader.uint32(), `${prefix}.environment[]`, {
                limits: opts.limits?.environment$
              })) {
                yield {
                  ...evt,
                  index: obj.environment
                }
              }

              obj.environment++

              break
            }
            case 7: {
              yield {
                field: `${prefix}.time`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.contributor`,
                value: reader.string()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.durationMs`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.commitment`,
                value: reader.bytes()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.bytes()
              }
              break
            }
            case 13: {
              yield {
                field: `${prefix}.official`,
                value: reader.uint32()
              }
              break
            }
            case 14: {
              if (opts.limits?.officialDifferences != null && obj.officialDifferences === opts.limits.officialDifferences) {
                throw new MaxLengthError('Streaming decode error - repeated field "officialDifferences" had too many elements')
              }

              for (const evt of OfficialDifference.codec().stream(reader, reader.uint32(), `${prefix}.officialDifferences[]`, {
                limits: opts.limits?.officialDifferences$
              })) {
                yield {
                  ...evt,
                  index: obj.officialDifferences
                }
              }

              obj.officialDifferences++

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

  interface AttestationJobFieldEvent {
    field: '$.job'
    value: Uint8Array<ArrayBuffer>
  }

  interface AttestationBuilderFieldEvent {
    field: '$.builder'
    value: Uint8Array<ArrayBuffer>
  }

  interface AttestationStatusFieldEvent {
    field: '$.status'
    value: number
  }

  interface AttestationBuildHashFieldEvent {
    field: '$.buildHash'
    value: Uint8Array<ArrayBuffer>
  }

  interface AttestationFilesNameFieldEvent {
    field: '$.files[].name'
    value: string
    index: number
  }

  interface AttestationFilesSizeFieldEvent {
    field: '$.files[].size'
    value: bigint
    index: number
  }

  interface AttestationFilesSha256FieldEvent {
    field: '$.files[].sha256'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  interface AttestationFilesChunkSizeFieldEvent {
    field: '$.files[].chunkSize'
    value: number
    index: number
  }

  interface AttestationFilesChunkRootFieldEvent {
    field: '$.files[].chunkRoot'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  interface AttestationEnvironmentKeyFieldEvent {
    field: '$.environment[].key'
    value: string
    index: number
  }

  interface AttestationEnvironmentValueFieldEvent {
    field: '$.environment[].value'
    value: string
    index: number
  }

  interface AttestationTimeFieldEvent {
    field: '$.time'
    value: bigint
  }

  interface AttestationContributorFieldEvent {
    field: '$.contributor'
    value: string
  }

  interface AttestationDurationMsFieldEvent {
    field: '$.durationMs'
    value: bigint
  }

  interface AttestationCommitmentFieldEvent {
    field: '$.commitment'
    value: Uint8Array<ArrayBuffer>
  }

  interface AttestationNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  interface AttestationOfficialFieldEvent {
    field: '$.official'
    value: number
  }

  interface AttestationOfficialDifferencesNameFieldEvent {
    field: '$.officialDifferences[].name'
    value: string
    index: number
  }

  interface AttestationOfficialDifferencesFieldsFieldEvent {
    field: '$.officialDifferences[].fields[]'
    index: number
    value: string
  }

  function encode (obj: Partial<Attestation>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Attestation.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Attestation>): Attestation {
    return decodeMessage(buf, Attestation.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Attestation>): Generator<AttestationJobFieldEvent | AttestationBuilderFieldEvent | AttestationStatusFieldEvent | AttestationBuildHashFieldEvent | AttestationFilesNameFieldEvent | AttestationFilesSizeFieldEvent | AttestationFilesSha256FieldEvent | AttestationFilesChunkSizeFieldEvent | AttestationFilesChunkRootFieldEvent | AttestationEnvironmentKeyFieldEvent | AttestationEnvironmentValueFieldEvent | AttestationTimeFieldEvent | AttestationContributorFieldEvent | AttestationDurationMsFieldEvent | AttestationCommitmentFieldEvent | AttestationNonceFieldEvent | AttestationOfficialFieldEvent | AttestationOfficialDifferencesNameFieldEvent | AttestationOfficialDifferencesFieldsFieldEvent> {
    return streamMessage(buf, Attestation.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface SignedAttestation {
  payload: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export const SignedAttestation = (() => {
  let _codec: Codec<SignedAttestation>

  const codec = (): Codec<SignedAttestation> => {
    if (_codec == null) {
      _codec = message<SignedAttestation>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.payload)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          payload: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.payload = reader.bytes()
              break
            }
            case 2: {
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
                field: `${prefix}.payload`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
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

  interface SignedAttestationPayloadFieldEvent {
    field: '$.payload'
    value: Uint8Array<ArrayBuffer>
  }

  interface SignedAttestationSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  function encode (obj: Partial<SignedAttestation>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedAttestation.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedAttestation>): SignedAttestation {
    return decodeMessage(buf, SignedAttestation.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedAttestation>): Generator<SignedAttestationPayloadFieldEvent | SignedAttestationSignatureFieldEvent> {
    return streamMessage(buf, SignedAttestation.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface EquivocationProof {
  attestations: Uint8Array<ArrayBuffer>[]
}

export const EquivocationProof = (() => {
  let _codec: Codec<EquivocationProof>

  const codec = (): Codec<EquivocationProof> => {
    if (_codec == null) {
      _codec = message<EquivocationProof>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.attestations != null && obj.attestations.length > 0) {
          for (const value of obj.attestations) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          attestations: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.attestations != null && obj.attestations.length === opts.limits.attestations) {
                throw new MaxLengthError('Decode error - repeated field "attestations" had too many elements')
              }

              obj.attestations.push(reader.bytes())
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
          attestations: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.attestations != null && obj.attestations === opts.limits.attestations) {
                throw new MaxLengthError('Streaming decode error - repeated field "attestations" had too many elements')
              }

              yield {
                field: `${prefix}.attestations[]`,
                index: obj.attestations,
                value: reader.bytes()
              }

              obj.attestations++

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

  interface EquivocationProofAttestationsFieldEvent {
    field: '$.attestations[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  function encode (obj: Partial<EquivocationProof>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, EquivocationProof.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EquivocationProof>): EquivocationProof {
    return decodeMessage(buf, EquivocationProof.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EquivocationProof>): Generator<EquivocationProofAttestationsFieldEvent> {
    return streamMessage(buf, EquivocationProof.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()

export interface ConsensusMessage {
  attestation: Uint8Array<ArrayBuffer>
  equivocation: Uint8Array<ArrayBuffer>
  commitment: Uint8Array<ArrayBuffer>
}

export const ConsensusMessage = (() => {
  let _codec: Codec<ConsensusMessage>

  const codec = (): Codec<ConsensusMessage> => {
    if (_codec == null) {
      _codec = message<ConsensusMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.attestation != null && obj.attestation.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.attestation)
        }

        if ((obj.equivocation != null && obj.equivocation.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.equivocation)
        }

        if ((obj.commitment != null && obj.commitment.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.commitment)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          attestation: uint8ArrayAlloc(0),
          equivocation: uint8ArrayAlloc(0),
          commitment: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.attestation = reader.bytes()
              break
            }
            case 2: {
              obj.equivocation = reader.bytes()
              break
            }
            case 3: {
              obj.commitment = reader.bytes()
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
                field: `${prefix}.attestation`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.equivocation`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.commitment`,
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

  interface ConsensusMessageAttestationFieldEvent {
    field: '$.attestation'
    value: Uint8Array<ArrayBuffer>
  }

  interface ConsensusMessageEquivocationFieldEvent {
    field: '$.equivocation'
    value: Uint8Array<ArrayBuffer>
  }

  interface ConsensusMessageCommitmentFieldEvent {
    field: '$.commitment'
    value: Uint8Array<ArrayBuffer>
  }

  function encode (obj: Partial<ConsensusMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ConsensusMessage.codec())
  }

  function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ConsensusMessage>): ConsensusMessage {
    return decodeMessage(buf, ConsensusMessage.codec(), opts)
  }

  function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ConsensusMessage>): Generator<ConsensusMessageAttestationFieldEvent | ConsensusMessageEquivocationFieldEvent | ConsensusMessageCommitmentFieldEvent> {
    return streamMessage(buf, ConsensusMessage.codec(), opts)
  }
  return { codec, encode, decode, stream }
})()
