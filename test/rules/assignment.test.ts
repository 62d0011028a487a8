import assert from 'node:assert/strict'
import fc from 'fast-check'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { assignBuilders, candidateBytes, candidateCount, jobBuilders, jobKadId, parseCandidates } from '../../src/rules/assignment.ts'
import { peerKadId, xorDistance, compareDistance } from '../../src/rules/distance.ts'

async function peers (n: number): Promise<PeerId[]> {
  return Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
}

describe('assignment: the r closest peers to a job', () => {
  let pool: PeerId[]
  before(async () => { pool = await peers(40) })

  it('returns exactly r peers, closest first, and every unchosen peer is farther', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 12 }), (key, r) => {
      const chosen = assignBuilders(key, pool, r)
      assert.equal(chosen.length, r)
      const target = jobKadId(key)
      const d = (p: PeerId): Uint8Array => xorDistance(target, peerKadId(p))
      for (let i = 1; i < chosen.length; i++) assert.ok(compareDistance(d(chosen[i - 1]), d(chosen[i])) < 0)
      const worst = d(chosen[chosen.length - 1])
      for (const p of pool) {
        if (!chosen.some(c => c.equals(p))) assert.ok(compareDistance(d(p), worst) > 0)
      }
    }), { seed: 42, numRuns: 200 })
  })

  it('is deterministic and independent of peer order and duplicates', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(fc.nat({ max: 39 }), { minLength: 1, maxLength: 80 }), (key, picks) => {
      const list = picks.map(i => pool[i])
      const distinct = [...new Map(list.map(p => [p.toString(), p])).values()]
      const a = assignBuilders(key, list, 5).map(String)
      const b = assignBuilders(key, [...distinct].reverse(), 5).map(String)
      assert.deepEqual(a, b)
      assert.equal(new Set(a).size, a.length)
      assert.equal(a.length, Math.min(5, distinct.length))
    }), { seed: 7, numRuns: 200 })
  })

  it('has no ties: distinct peers are at distinct distances', () => {
    const key = new Uint8Array(32).fill(9)
    const target = jobKadId(key)
    const ds = new Set(pool.map(p => Buffer.from(xorDistance(target, peerKadId(p))).toString('hex')))
    assert.equal(ds.size, pool.length)
  })

  it('different jobs spread over different peers', () => {
    const counts = new Map<string, number>()
    for (let i = 0; i < 200; i++) {
      const key = new Uint8Array(32)
      key[0] = i; key[1] = i >> 8
      for (const p of assignBuilders(key, pool, 3)) counts.set(p.toString(), (counts.get(p.toString()) ?? 0) + 1)
    }
    // 600 assignments over 40 peers: every peer is used, none takes a large share
    assert.ok(counts.size >= 35, `only ${counts.size} peers used`)
    assert.ok(Math.max(...counts.values()) < 60)
  })

  it('jobBuilders: the r closest candidates, a banned one replaced by the next; peers not listed never count', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 8 }), fc.nat({ max: 7 }), (key, r, ban) => {
      const candidates = assignBuilders(key, pool, 2 * r)
      const builders = jobBuilders(key, candidates, r)
      assert.deepEqual(builders.map(String), candidates.slice(0, r).map(String))
      // a closer peer that is not a candidate changes nothing
      const outsider = assignBuilders(key, pool, 40).find(p => !candidates.some(c => c.equals(p)))
      if (outsider !== undefined) assert.deepEqual(jobBuilders(key, [...candidates], r).map(String), builders.map(String))
      const banned = builders[ban % builders.length].toString()
      const after = jobBuilders(key, candidates, r, new Set([banned])).map(String)
      assert.ok(!after.includes(banned))
      assert.deepEqual(after, candidates.map(String).filter(p => p !== banned).slice(0, r))
    }), { seed: 11, numRuns: 100 })
  })

  it('parseCandidates takes Ed25519 peer ID multihashes only, each once, at most 64', () => {
    const ids = pool.slice(0, 5)
    const parsed = parseCandidates(ids.map(candidateBytes))
    assert.deepEqual(parsed.map(String), ids.map(String))
    assert.throws(() => parseCandidates([candidateBytes(ids[0]), candidateBytes(ids[0])]), { name: 'AssignmentError', message: /listed twice/ })
    assert.throws(() => parseCandidates([new Uint8Array(34)]), { name: 'AssignmentError', message: /not an Ed25519 peer ID/ })
    assert.throws(() => parseCandidates(Array.from({ length: 65 }, () => candidateBytes(ids[0]))), { name: 'AssignmentError', message: /at most 64/ })
    assert.equal(candidateCount(5), 10)
    assert.equal(candidateCount(64), 64)
  })

  it('refuses r < 1', () => {
    assert.throws(() => assignBuilders(new Uint8Array(32), pool, 0), { name: 'AssignmentError' })
  })
})
