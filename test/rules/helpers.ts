import { createHash, randomBytes } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Attestation, SignedAttestation } from '../../src/protocols/pb/attestation.ts'
import { ATTESTATION_DOMAIN } from '../../src/rules/constants.ts'
import { buildHash } from '../../src/rules/build-hash.ts'

export interface TestBuilder { key: PrivateKey, id: string, builder: Uint8Array<ArrayBuffer> }

export async function testBuilder (): Promise<TestBuilder> {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key)
  return { key, id: peerId.toString(), builder: new Uint8Array(peerId.toMultihash().bytes) }
}

export function sha256Hex (data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

export function testFiles (tag = 'a'): Array<{ name: string, size: number, sha256: string }> {
  return [
    { name: 'hello-1.0-1.fc41.x86_64.rpm', size: 12345, sha256: sha256Hex(`main-${tag}`) },
    { name: 'hello-debuginfo-1.0-1.fc41.x86_64.rpm', size: 999, sha256: sha256Hex(`debuginfo-${tag}`) }
  ]
}

export const testEnvironment = { builder: 'rpmbuild', rpmVersion: '4.18.2', target: 'x86_64-redhat-linux-gnu', binaryPayload: 'w19.zstdio' }

export function randomJob (): Uint8Array<ArrayBuffer> {
  return new Uint8Array(randomBytes(32))
}

/** A well-formed Attestation for `b`, any field replaced by `over` (not checked: for crafting bad ones) */
export function rawAttestation (b: TestBuilder, over: Partial<Attestation> = {}): Attestation {
  const files = testFiles().map(f => ({ name: f.name, size: BigInt(f.size), sha256: new Uint8Array(Buffer.from(f.sha256, 'hex')), chunkSize: 0, chunkRoot: new Uint8Array(0) }))
  return {
    job: randomJob(),
    builder: b.builder,
    status: 1,
    buildHash: new Uint8Array(Buffer.from(buildHash(testFiles()), 'hex')),
    files,
    environment: Object.entries(testEnvironment).map(([key, value]) => ({ key, value })),
    time: BigInt(Date.now()),
    contributor: '',
    durationMs: 1000n,
    commitment: new Uint8Array(0),
    nonce: new Uint8Array(0),
    official: 0,
    officialDifferences: [],
    ...over
  }
}

/** Signs any payload the way a builder does, through libp2p's own signing (interop check) */
export async function signRaw (payload: Uint8Array, key: PrivateKey): Promise<Uint8Array> {
  const signature = await key.sign(Buffer.concat([Buffer.from(ATTESTATION_DOMAIN), payload]))
  return SignedAttestation.encode({ payload: new Uint8Array(payload), signature: new Uint8Array(signature) })
}

export async function signAttestation (a: Attestation, key: PrivateKey): Promise<Uint8Array> {
  return signRaw(Attestation.encode(a), key)
}

/** A small deterministic PRNG (mulberry32) */
export function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function shuffle<T> (items: readonly T[], seed: number): T[] {
  const out = [...items]
  const rnd = prng(seed)
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}
