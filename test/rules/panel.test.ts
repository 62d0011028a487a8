import assert from 'node:assert/strict'
import fc from 'fast-check'
import { panelProblem, panelTally, type PanelInput, type PanelVerdict } from '../../src/rules/panel.ts'
import type { TallyAttestation } from '../../src/rules/tally.ts'
import { shuffle } from './helpers.ts'

const H = 'a'.repeat(64)
const X = 'b'.repeat(64)
/** P = 4 stage-1 seats, E = 3 escalation seats, T = 5 */
const SEATS = ['s0', 's1', 's2', 's3', 'e0', 'e1', 'e2']
const STAGE1 = SEATS.slice(0, 4)
const ok = (builder: string, buildHash = H): TallyAttestation => ({ builder, status: 'ok', buildHash })
const failed = (builder: string): TallyAttestation => ({ builder, status: 'failed' })
function run (attestations: TallyAttestation[], over: Partial<PanelInput> = {}): PanelVerdict {
  return panelTally({ panel: 4, escalation: 3, threshold: 5, seats: SEATS, attestations, stageDeadlinePassed: false, deadlinePassed: false, ...over })
}

describe('panel tally (rules v2)', () => {
  it('stage 1: agreed(H) when all P seats reveal H, final, the escalation seats not called', () => {
    const v = run(STAGE1.map(s => ok(s)))
    assert.equal(v.verdict, 'agreed')
    assert.equal(v.hash, H)
    assert.equal(v.final, true)
    assert.equal(v.escalated, false)
    assert.deepEqual(v.seats, STAGE1)
    assert.deepEqual(v.agreeing, [...STAGE1].sort())
  })

  it('stage 1 with P - 1 agreeing and one seat silent: pending, until the stage deadline escalates it', () => {
    const three = STAGE1.slice(0, 3).map(s => ok(s))
    assert.equal(run(three).verdict, 'pending')
    assert.equal(run(three).escalated, false)
    const late = run(three, { stageDeadlinePassed: true })
    assert.equal(late.escalated, true)
    assert.equal(late.verdict, 'pending')
    assert.deepEqual(late.seats, SEATS)
    const resolved = run([...three, ok('e0'), ok('e1')], { stageDeadlinePassed: true })
    assert.equal(resolved.verdict, 'agreed')
    assert.deepEqual(resolved.missing, ['e2', 's3'])
    // the escalation seats committed after stage 1's hashes were public: counted, never credited
    assert.deepEqual(resolved.credited, ['s0', 's1', 's2'])
    assert.deepEqual(run(STAGE1.map(s => ok(s))).credited, [...STAGE1].sort())
  })

  it('one dissent escalates; T seats of H then agree, the dissenter named on the losing side', () => {
    const atts = [ok('s0'), ok('s1'), ok('s2'), ok('s3', X)]
    const v = run(atts)
    assert.equal(v.verdict, 'pending')
    assert.equal(v.escalated, true)
    const done = run([...atts, ok('e0'), ok('e1')])
    assert.equal(done.verdict, 'agreed')
    assert.equal(done.hash, H)
    assert.deepEqual(done.dissenters, ['s3'])
    assert.equal(done.final, true)
  })

  it('seats, not replies: silent honest seats can block a job, never forge it', () => {
    // three colluders on X in stage 1 and all three escalation seats: 6 ≥ T only if they hold 5 seats
    const v = run([ok('s0', X), ok('s1', X), ok('s2', X), ok('s3')], { deadlinePassed: true })
    assert.equal(v.verdict, 'blocked')
    assert.equal(v.final, true)
    const forged = run([ok('s0', X), ok('s1', X), ok('s2', X), ok('s3'), ok('e0', X), ok('e1', X)])
    assert.equal(forged.verdict, 'agreed', 'five seats of seven on X is T: the threshold is the only defence, as specified')
    assert.equal(forged.hash, X)
  })

  it('blocked as soon as no hash and no failure can reach T', () => {
    const v = run([ok('s0', X), ok('s1', X), ok('s2'), ok('s3'), ok('e0'), ok('e1', X)])
    assert.equal(v.verdict, 'blocked')
    assert.equal(v.final, true)
  })

  it('failed when all P fail in stage 1; a failure beside hashes escalates', () => {
    assert.equal(run(STAGE1.map(failed)).verdict, 'failed')
    const mixed = run([ok('s0'), ok('s1'), ok('s2'), failed('s3')])
    assert.equal(mixed.escalated, true)
    assert.equal(run([ok('s0'), ok('s1'), ok('s2'), failed('s3'), ok('e0'), ok('e1')]).verdict, 'agreed')
  })

  it('an equivocating stage-1 seat escalates and never counts', () => {
    const v = run([ok('s0'), ok('s1'), ok('s2'), ok('s3'), ok('s3', X)])
    assert.equal(v.escalated, true)
    assert.deepEqual(v.equivocators, ['s3'])
    assert.deepEqual(v.counts, { [H]: 3 })
  })

  it('escalation seats do not count before escalation; non-seats never', () => {
    const v = run([ok('e0', X), ok('e1', X), ok('e2', X), ok('outsider', X), ok('s0'), ok('s1'), ok('s2'), ok('s3')])
    assert.equal(v.verdict, 'agreed')
    assert.equal(v.hash, H)
    assert.deepEqual(v.counts, { [H]: 4 })
  })

  it('the same verdict, even as JSON, for any order of the attestations', () => {
    const claim = fc.record({ seat: fc.constantFrom(...SEATS), kind: fc.constantFrom('H', 'X', 'F') })
    fc.assert(fc.property(fc.array(claim, { maxLength: 12 }), fc.boolean(), fc.boolean(), (cs, stage, deadline) => {
      const atts = cs.map(c => c.kind === 'F' ? failed(c.seat) : ok(c.seat, c.kind === 'H' ? H : X))
      const a = run(atts, { stageDeadlinePassed: stage, deadlinePassed: deadline })
      const b = run(shuffle(atts, cs.length), { stageDeadlinePassed: stage, deadlinePassed: deadline })
      assert.equal(JSON.stringify(a), JSON.stringify(b))
    }), { seed: 3, numRuns: 300 })
  })

  it('refuses parameters that could let two hashes decide or stage 1 be outvoted', () => {
    assert.equal(panelProblem({ panel: 10, escalation: 5, threshold: 12 }), undefined)
    assert.match(panelProblem({ panel: 10, escalation: 5, threshold: 10 }) ?? '', /above the panel/)
    assert.match(panelProblem({ panel: 3, escalation: 5, threshold: 4 }) ?? '', /majority/)
    assert.match(panelProblem({ panel: 40, escalation: 30, threshold: 50 }) ?? '', /64/)
  })
})

describe('salted per-job positions (rules v2 ranking)', () => {
  it('ranks by sha256(domain ‖ peer ‖ beacon) XOR the job point; a new beacon is a new draw; kad keys ground next to the job do not help', async () => {
    const { generateKeyPair } = await import('@libp2p/crypto/keys')
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const { randomBytes } = await import('node:crypto')
    const { rankBySaltedPosition, saltedPosition } = await import('../../src/rules/position.ts')
    const { jobSeats, assignBuilders } = await import('../../src/rules/assignment.ts')
    const { jobKadId } = await import('../../src/rules/job-point.ts')
    const { xorDistance, compareDistance, sha256 } = await import('../../src/rules/distance.ts')
    const pool = await Promise.all(Array.from({ length: 30 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
    const key = randomBytes(32)
    const beacon = randomBytes(32)
    const ranked = rankBySaltedPosition(key, beacon, [...pool, ...pool].reverse())
    assert.equal(ranked.length, 30)
    const d = (p: typeof pool[0]): Uint8Array => xorDistance(jobKadId(key), saltedPosition(p, beacon))
    for (let i = 1; i < ranked.length; i++) assert.ok(compareDistance(d(ranked[i - 1]), d(ranked[i])) < 0)
    assert.deepEqual(saltedPosition(pool[0], beacon), sha256(new TextEncoder().encode('skyline/position/v1'), pool[0].toMultihash().bytes, beacon))
    assert.notDeepEqual(rankBySaltedPosition(key, randomBytes(32), pool).map(String), ranked.map(String))
    // the five Kademlia-closest peers (what a grinder buys) hold, under salted ranking, no more than chance
    let held = 0
    for (let j = 0; j < 200; j++) {
      const k = randomBytes(32)
      const kadClosest = new Set(assignBuilders(k, pool, 5).map(String))
      held += jobSeats({ jobKey: k, beacon: randomBytes(32), salted: true }, pool, 5).filter(p => kadClosest.has(p.toString())).length
    }
    // expected 200 * 5 * 5/30 ≈ 167 (sd ≈ 12); under Kademlia ranking it is 1000
    assert.ok(held > 100 && held < 240, `kad-closest peers held ${held} salted seats`)
  })
})
