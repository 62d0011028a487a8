/** Chunk bitfields: bit i is chunk i, most significant bit of byte 0 first (as BitTorrent). */

export function bitfieldBytes (chunks: number): number {
  return Math.ceil(chunks / 8)
}

export function hasBit (bf: Uint8Array, i: number): boolean {
  return ((bf[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0
}

export function setBit (bf: Uint8Array, i: number): void {
  bf[i >> 3] |= (0x80 >> (i & 7))
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => { let n = 0; for (let x = b; x !== 0; x >>= 1) n += x & 1; return n })

/** Number of bits set among the first `chunks` */
export function countBits (bf: Uint8Array, chunks: number): number {
  let n = 0
  const whole = chunks >> 3
  for (let i = 0; i < whole; i++) n += POPCOUNT[bf[i] ?? 0]
  for (let i = whole * 8; i < chunks; i++) if (hasBit(bf, i)) n++
  return n
}

/** A bitfield received from a peer is valid if it has the right length and no bits set past the last chunk */
export function validBitfield (bf: Uint8Array, chunks: number): boolean {
  if (bf.byteLength !== bitfieldBytes(chunks)) return false
  for (let i = chunks; i < bf.byteLength * 8; i++) if (hasBit(bf, i)) return false
  return true
}
