import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { SHORT_READ } from '../../src/node/short-reads.ts'

/** A 2-byte big-endian length decoder like Noise's, counting the RangeErrors it makes */
function countingDecoder (): { made: number, lengthDecoder: (data: Uint8ArrayList | Uint8Array) => number } {
  const counts = {
    made: 0,
    lengthDecoder: (data: Uint8ArrayList | Uint8Array): number => {
      if (data.byteLength < 2) {
        counts.made++
        throw new RangeError('Could not decode int16BE')
      }
      return data instanceof Uint8Array ? (data[0] << 8) + data[1] : data.getUint16(0)
    }
  }
  return counts
}

const frame = (body: Uint8Array): Uint8Array => Buffer.concat([Buffer.from([body.byteLength >> 8, body.byteLength & 0xff]), body])

describe('short reads of a length-prefixed decoder', () => {
  it('a read that ends on a frame boundary makes no RangeError; frames split anywhere still arrive whole and in order', () => {
    const counts = countingDecoder()
    const decoder = new LengthPrefixedDecoder({ lengthDecoder: counts.lengthDecoder, encodingLength: () => 2 })
    const bodies = Array.from({ length: 200 }, (_, i) => randomBytes(1 + (i * 37) % 700))
    const out: Buffer[] = []
    // one whole frame per read, as a socket read of a small gossip RPC usually is
    for (const b of bodies.slice(0, 100)) for (const f of decoder.decode(frame(b))) out.push(Buffer.from((f as Uint8ArrayList).subarray()))
    assert.equal(counts.made, 0, `${counts.made} RangeErrors made for 100 reads that each ended on a frame boundary`)
    // the rest one byte at a time, then in uneven pieces: each short read is told with the one shared error
    const rest = Buffer.concat(bodies.slice(100).map(frame))
    let at = 0
    for (const size of [1, 1, 1, 3, 2, 5, 1, 700, 2, 1]) {
      for (const f of decoder.decode(rest.subarray(at, at + size))) out.push(Buffer.from((f as Uint8ArrayList).subarray()))
      at += size
    }
    for (const f of decoder.decode(rest.subarray(at))) out.push(Buffer.from((f as Uint8ArrayList).subarray()))
    assert.deepEqual(out, bodies.map(b => Buffer.from(b)))
    assert.equal(counts.made, 0)
    assert.ok(SHORT_READ instanceof RangeError)
  })

  it('a length the decoder refuses is still an error, and a varint decoder still reads its 1-byte prefixes', () => {
    const tooLong = new LengthPrefixedDecoder({ lengthDecoder: countingDecoder().lengthDecoder, encodingLength: () => 2, maxDataLength: 10 })
    assert.throws(() => [...tooLong.decode(frame(randomBytes(11)))], /Invalid message length/)
    const varint = new LengthPrefixedDecoder()
    const got = [...varint.decode(Buffer.from([3, 1, 2, 3, 1, 9]))].map(f => [...(f as Uint8ArrayList).subarray()])
    assert.deepEqual(got, [[1, 2, 3], [9]])
  })
})
