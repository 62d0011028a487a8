import assert from 'node:assert/strict'
import fc from 'fast-check'
import { tally, type TallyAttestation, type TallyInput, type Verdict } from '../../src/rules/tally.ts'
import { shuffle } from './helpers.ts'

const H = 'a'.repeat(64)
const P = 'b'.repeat(64)
const Q = 'c'.repeat(64)
/** five assigned builders, deliberately not in sorted order */
const ASSIGNED = ['peer-e', 'peer-b', 'peer-d', 'peer-a', 'peer-c']
const [e, b, d, a, c] = ASSIGNED

function ok (builder: string, buildHash: string): TallyAttestation {
  return { builder, status: 'ok', buildHash }
}
function failed (builder: string): TallyAttestation {
  return { builder, status: 'failed' }
}
function run (attestations: TallyAttestation[], over: Partial<TallyInput> = {}): Verdict {
  return tally({ replicas: 5, quorum: 3, assigned: ASSIGNED, attestations, deadlinePassed: false, ...over })
}
const sorted = (xs: string[]): string[] => [...xs].sort()

describe('consensus: tally', () => {
  describe('verdict rules', () => {
    it('agreed(H): q attestations carry H and nobody attested another hash; final once all have spoken', () => {
      const v = run([ok(a, H), ok(b, H), ok(c, H)])
      assert.equal(v.verdict, 'agreed')
      assert.equal(v.hash, H)
      assert.deepEqual(v.agreeing, sorted([a, b, c]))
      assert.deepEqual(v.dissenters, [])
      assert.deepEqual(v.missing, sorted([d, e]))
      assert.deepEqual(v.counts, { [H]: 3 })
      assert.equal(v.final, false)
      const all = run([ok(a, H), ok(b, H), ok(c, H), ok(d, H), ok(e, H)])
      assert.equal(all.verdict, 'agreed')
      assert.equal(all.final, true)
      assert.equal(run([ok(a, H), ok(b, H), ok(c, H)], { deadlinePassed: true }).final, true)
    })

    it('two are not a quorum: pending', () => {
      const v = run([ok(a, H), ok(b, H)])
      assert.equal(v.verdict, 'pending')
      assert.equal(v.hash, undefined)
      assert.equal(v.final, false)
      assert.deepEqual(v.agreeing, [])
    })

    it('failed builds are not dissent: agreed(H) with the failures listed apart', () => {
      const v = run([ok(a, H), ok(b, H), ok(c, H), failed(d), failed(e)])
      assert.equal(v.verdict, 'agreed')
      assert.deepEqual(v.dissenters, [])
      assert.deepEqual(v.failedBuilders, sorted([d, e]))
      assert.equal(v.final, true)
    })

    it('one poisoner of five: disputed(H), naming the poisoner', () => {
      const v = run([ok(a, H), ok(b, H), ok(c, H), ok(d, P), ok(e, H)])
      assert.equal(v.verdict, 'disputed')
      assert.equal(v.hash, H)
      assert.deepEqual(v.agreeing, sorted([a, b, c, e]))
      assert.deepEqual(v.dissenters, [d])
      assert.deepEqual(v.counts, { [H]: 4, [P]: 1 })
      assert.equal(v.final, true)
    })

    it('agreed turns into disputed when a late builder attests another hash', () => {
      const early = run([ok(a, H), ok(b, H), ok(c, H)])
      assert.equal(early.verdict, 'agreed')
      assert.equal(early.final, false)
      const late = run([ok(a, H), ok(b, H), ok(c, H), ok(d, P)])
      assert.equal(late.verdict, 'disputed')
      assert.deepEqual(late.dissenters, [d])
      assert.equal(late.final, false)
    })

    it('three of five colluding on a poisoned P against two honest H: disputed(P), both sides named, never agreed', () => {
      const colluders = [a, c, e]
      const honest = [b, d]
      const all = [...colluders.map(p => ok(p, P)), ...honest.map(p => ok(p, H))]
      const v = run(all)
      assert.equal(v.verdict, 'disputed')
      assert.equal(v.hash, P)
      assert.deepEqual(v.agreeing, sorted(colluders))
      assert.deepEqual(v.dissenters, sorted(honest))
      assert.equal(v.final, true)
      // every subset, in every order: once an honest builder has spoken the verdict is never agreed; and
      // agreed(P) from the colluders alone is never final (it waits for the others or the deadline)
      for (let mask = 0; mask < 32; mask++) {
        const subset = all.filter((_, i) => (mask & (1 << i)) !== 0)
        for (let seed = 0; seed < 20; seed++) {
          const s = run(shuffle(subset, seed))
          const honestSpoke = subset.some(x => honest.includes(x.builder))
          if (honestSpoke) assert.notEqual(s.verdict, 'agreed', JSON.stringify(subset))
          if (s.verdict === 'agreed') assert.equal(s.final, false)
        }
      }
      // the deadline passing with only the colluders heard makes agreed(P) final: that is what the rules say
      // (q of r is enough when the rest stay silent); the honest side must attest before the deadline
      assert.equal(run(all.slice(0, 3), { deadlinePassed: true }).verdict, 'agreed')
    })

    it('failed: at least q assigned peers reported a failed build', () => {
      const v = run([failed(a), failed(b), failed(c)])
      assert.equal(v.verdict, 'failed')
      assert.deepEqual(v.failedBuilders, sorted([a, b, c]))
      assert.deepEqual(v.agreeing, [])
      assert.equal(v.hash, undefined)
      assert.equal(v.final, false)
      assert.equal(run([failed(a), failed(b), failed(c), ok(d, H), ok(e, H)]).final, true)
      assert.equal(run([failed(a), failed(b), ok(d, H), ok(e, H)]).verdict, 'pending')
    })

    it('no-consensus: the deadline passed and no hash reached q', () => {
      const v = run([ok(a, H), ok(b, H), ok(c, P), ok(d, P)], { deadlinePassed: true })
      assert.equal(v.verdict, 'no-consensus')
      assert.equal(v.final, true)
      assert.deepEqual(v.counts, { [H]: 2, [P]: 2 })
      assert.deepEqual(v.missing, [e])
      assert.equal(run([], { deadlinePassed: true }).verdict, 'no-consensus')
      assert.equal(run([ok(a, H), ok(b, H), ok(c, P), ok(d, P)]).verdict, 'pending')
    })

    it('no-consensus early, once neither a hash nor the failures can reach q', () => {
      const v = run([ok(a, H), ok(b, H), ok(c, P), ok(d, P), failed(e)])
      assert.equal(v.verdict, 'no-consensus')
      assert.equal(v.final, true)
      const five = run([ok(a, H), ok(b, P), ok(c, Q), failed(d), ok(e, H)])
      assert.equal(five.verdict, 'no-consensus')
      // H at 2 with one peer missing could still reach 3
      assert.equal(run([ok(a, H), ok(b, H), ok(c, P), failed(d)]).verdict, 'pending')
      // three distinct hashes and two missing: a hash at 1 + 2 missing could still reach 3
      assert.equal(run([ok(a, H), ok(b, P), ok(c, Q)]).verdict, 'pending')
      // fewer assigned peers than q: decided at once
      const small = tally({ replicas: 5, quorum: 3, assigned: [a, b], attestations: [], deadlinePassed: false })
      assert.equal(small.verdict, 'no-consensus')
      assert.equal(small.final, true)
    })

    it('only assigned peers count', () => {
      const outsiders = ['x-1', 'x-2', 'x-3', 'x-4'].map(p => ok(p, P))
      const v = run([...outsiders, ok(a, H), ok(b, H)])
      assert.equal(v.verdict, 'pending')
      assert.deepEqual(v.counts, { [H]: 2 })
      assert.ok(!v.dissenters.some(p => p.startsWith('x-')))
    })

    it('equivocators are excluded entirely and named; a repeated identical claim is counted once', () => {
      const v = run([ok(a, H), ok(b, H), ok(c, H), ok(c, P), ok(d, H), ok(d, H)])
      assert.deepEqual(v.equivocators, [c])
      assert.deepEqual(v.counts, { [H]: 3 })
      assert.equal(v.verdict, 'agreed')
      assert.deepEqual(v.agreeing, sorted([a, b, d]))
      assert.ok(!v.dissenters.includes(c) && !v.agreeing.includes(c) && !v.missing.includes(c))
      // an equivocation can break a quorum
      const broken = run([ok(a, H), ok(b, H), ok(c, H), failed(c)])
      assert.equal(broken.verdict, 'pending')
      assert.deepEqual(broken.equivocators, [c])
      assert.deepEqual(broken.failedBuilders, [])
      // the equivocation of a dissenter removes the dispute
      assert.equal(run([ok(a, H), ok(b, H), ok(c, H), ok(d, P), ok(d, Q), ok(e, H)]).verdict, 'agreed')
    })

    it('refuses parameters that would let two hashes both reach quorum, and bad input', () => {
      assert.throws(() => tally({ replicas: 4, quorum: 2, assigned: [], attestations: [], deadlinePassed: false }), { name: 'TallyError' })
      assert.throws(() => tally({ replicas: 5, quorum: 6, assigned: [], attestations: [], deadlinePassed: false }), { name: 'TallyError' })
      assert.throws(() => tally({ replicas: 0, quorum: 0, assigned: [], attestations: [], deadlinePassed: false }), { name: 'TallyError' })
      assert.throws(() => tally({ replicas: 2, quorum: 2, assigned: [a, b, c], attestations: [], deadlinePassed: false }), { name: 'TallyError' })
      assert.throws(() => run([{ builder: a, status: 'ok' }]), { name: 'TallyError' })
      assert.equal(tally({ replicas: 1, quorum: 1, assigned: [a], attestations: [ok(a, H)], deadlinePassed: false }).verdict, 'agreed')
    })
  })

  describe('determinism', () => {
    const peers = [...ASSIGNED, 'x-1', 'x-2']
    const attestation = fc.record({
      builder: fc.constantFrom(...peers),
      kind: fc.constantFrom('H', 'P', 'Q', 'failed')
    }).map(({ builder, kind }): TallyAttestation => kind === 'failed' ? failed(builder) : ok(builder, { H, P, Q }[kind] as string))

    it('the same verdict, byte for byte, for any order of the input (fast-check, fixed seed)', () => {
      fc.assert(fc.property(
        fc.array(attestation, { maxLength: 12 }),
        fc.boolean(),
        fc.integer(),
        fc.integer(),
        (attestations, deadlinePassed, seed1, seed2) => {
          const one = tally({ replicas: 5, quorum: 3, assigned: shuffle(ASSIGNED, seed1), attestations, deadlinePassed })
          const two = tally({ replicas: 5, quorum: 3, assigned: shuffle(ASSIGNED, seed2), attestations: shuffle(attestations, seed2), deadlinePassed })
          assert.deepEqual(two, one)
          assert.equal(JSON.stringify(two), JSON.stringify(one))
        }
      ), { seed: 0x5ca1ab1e, numRuns: 2000 })
    })

    it('invariants over every combination of five builders (missing, H, P, Q or failed)', () => {
      const kinds = ['missing', 'H', 'P', 'Q', 'failed'] as const
      let seen = 0
      for (let n = 0; n < 5 ** 5; n++) {
        const atts: TallyAttestation[] = []
        let m = n
        for (const p of ASSIGNED) {
          const k = kinds[m % 5]
          m = Math.floor(m / 5)
          if (k === 'failed') atts.push(failed(p))
          else if (k !== 'missing') atts.push(ok(p, { H, P, Q }[k]))
        }
        for (const deadlinePassed of [false, true]) {
          const v = run(atts, { deadlinePassed })
          // every assigned builder is in exactly one of: agreeing, dissenters, failed, missing, or an ok
          // attestation not at quorum
          const named = [...v.agreeing, ...v.dissenters, ...v.failedBuilders, ...v.missing]
          assert.equal(new Set(named).size, named.length)
          const okCount = Object.values(v.counts).reduce((s, x) => s + x, 0)
          assert.equal(okCount + v.failedBuilders.length + v.missing.length, 5)
          if (v.verdict === 'agreed') assert.ok(v.counts[v.hash as string] >= 3 && Object.keys(v.counts).length === 1)
          if (v.verdict === 'disputed') assert.ok(v.counts[v.hash as string] >= 3 && v.dissenters.length > 0)
          if (v.verdict === 'agreed' || v.verdict === 'disputed') assert.equal(v.agreeing.length, v.counts[v.hash as string])
          if (v.verdict === 'failed') assert.ok(v.failedBuilders.length >= 3)
          if (v.verdict === 'pending') assert.ok(!v.final && !deadlinePassed)
          if (deadlinePassed) assert.notEqual(v.verdict, 'pending')
          if (v.missing.length === 0) assert.equal(v.final, true)
          seen++
        }
      }
      assert.equal(seen, 2 * 5 ** 5)
    })
  })
})
