/**
 * A fix for protons-runtime (7.1.2, and 8.0.1 still): its writer encodes a uint64 in [2^31, 2^32)
 * wrongly. `LongBits` keeps the low word as a signed int32, so `writeVarint64` writes one byte (0) and
 * skips the other four of the five it reserved, which keep whatever the pooled buffer held before: the
 * message is corrupt (the value decodes as 0, or the decoder fails further on) and carries four bytes of
 * stale process memory. Skyline's uint64 fields hit it with a 2 GiB SRPM (announcement `srpm_size`, blob
 * manifest `size`) and with any output RPM of 2 to 4 GiB (attestation file `size`): such an attestation
 * was signed over corrupt bytes and refused by every node, the builder's own included.
 *
 * A varint does not depend on the declared width, so such values are written as the uint32 varint,
 * which protons encodes correctly; every other value goes through protons' own uint64. Imported by every
 * module that encodes Skyline messages (gossip.ts, blob/wire.ts, blob/store.ts, src/services/sync-wire.ts), so the
 * generated pb/*.ts files stay as `npm run generate` writes them. test/fuzz/pb.test.ts checks it.
 */
import { writer } from 'protons-runtime'

const TWO_31 = 0x80000000n
const TWO_32 = 0x100000000n

interface Uint64Writer { uint64: (value: bigint) => unknown, uint32: (value: number) => unknown, skylineUint64Fixed?: true }

const proto = Object.getPrototypeOf(writer()) as Uint64Writer
if (proto.skylineUint64Fixed !== true) {
  const original = proto.uint64
  proto.uint64 = function (this: Uint64Writer, value: bigint) {
    if (typeof value === 'bigint' && value >= TWO_31 && value < TWO_32) return this.uint32(Number(value))
    return original.call(this, value)
  }
  proto.skylineUint64Fixed = true
}

/** Whether the fix is in place (for tests) */
export function protonsUint64Fixed (): boolean {
  return (Object.getPrototypeOf(writer()) as Uint64Writer).skylineUint64Fixed === true
}
