/**
 * A length-prefixed decoder told "not enough bytes yet" without a new Error each time.
 *
 * Why: @libp2p/utils' `LengthPrefixedDecoder` (7.4.1), which Noise (@chainsafe/libp2p-noise 17) runs on
 * every read of every encrypted connection, loops until its length decoder throws a RangeError, and that
 * is how it learns that the buffer holds no further whole length prefix. A read usually ends on a frame
 * boundary, so nearly every read of a socket ends with Noise's `uint16BEDecode` building a RangeError, and
 * with it a stack trace, for an empty buffer: 3.8 µs a read against 0.5 µs with this, about 1% of a gossip
 * message's CPU (docs/bench.md, "20-byte gossip message ids, and Noise's short reads").
 *
 * What this does: the first time a decoder instance decodes, its length decoder is wrapped so that a buffer
 * shorter than the shortest length prefix (`encodingLength(0)`: 2 bytes for Noise, 1 for a varint) throws
 * one RangeError made once, here, instead of calling the length decoder. The decoder catches it exactly as
 * it caught the one it was sent before and waits for more bytes; every other case goes to the length
 * decoder as before. Nothing changes on the wire.
 *
 * @libp2p/utils has no setting for it and the decoder is made inside Noise's stream, so `decode` is wrapped
 * once, when this module is loaded (src/node/libp2p.ts imports it), as yamux-window.ts wraps js-yamux;
 * test/node/short-reads.test.ts checks it.
 */
import { LengthPrefixedDecoder } from '@libp2p/utils'

/** What the wrapper reads and sets of a decoder (fields of LengthPrefixedDecoder 7.4.1) */
interface DecoderState {
  buffer: { byteLength: number }
  lengthDecoder: (data: { byteLength: number }) => number
  encodingLength: (length: number) => number
  decode: (buf: Uint8Array) => Generator<unknown>
  skylineShortReads?: true
}

/** The one RangeError a decoder is told "not enough bytes yet" with; its stack trace is this module's */
export const SHORT_READ = new RangeError('not enough bytes for a length prefix yet')

const proto = LengthPrefixedDecoder.prototype as unknown as DecoderState
if (proto.skylineShortReads !== true) {
  const decode = proto.decode
  proto.decode = function (this: DecoderState, buf: Uint8Array) {
    if (!Object.hasOwn(this, 'skylineShortReads')) {
      const lengthDecoder = this.lengthDecoder
      const shortest = this.encodingLength(0)
      this.lengthDecoder = data => {
        if (data.byteLength < shortest) throw SHORT_READ
        return lengthDecoder(data)
      }
      this.skylineShortReads = true
    }
    return decode.call(this, buf)
  }
  proto.skylineShortReads = true
}
