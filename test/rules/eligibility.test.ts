import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DAY_MS, eligible, policyProblem, splitSeats, standing, verdictEvents, type BuildEvent } from '../../src/rules/eligibility.ts'
import { panelTally } from '../../src/rules/panel.ts'

const T0 = 1_800_000_000_000
const agreed = (builder: string, issuedAt: number, job = `j${issuedAt}`): BuildEvent => ({ builder, job, issuedAt, outcome: 'agreed' })
const lost = (builder: string, issuedAt: number, job = `l${issuedAt}`): BuildEvent => ({ builder, job, issuedAt, outcome: 'lost' })

const eventArb = fc.record({
  builder: fc.constantFrom('a', 'b'),
  job: fc.string({ minLength: 1, maxLength: 4 }),
  issuedAt: fc.integer({ min: T0 - 40 * DAY_MS, max: T0 + DAY_MS }),
  outcome: fc.constantFrom('agreed' as const, 'lost' as const)
})

describe('eligibility (rules v2): K agreed builds over D days, fixed before the announcement', () => {
  it('K = 0: everyone is eligible, with or without a record', () => {
    fc.assert(fc.property(fc.array(eventArb), fc.integer({ min: 0, max: 30 }), (history, days) => {
      assert.equal(eligible('a', history, 0, days, T0), true)
      assert.equal(eligible('nobody', history, 0, days, T0), true)
    }))
  })

  it('K agreed builds in jobs issued before the announcement make a builder eligible; later jobs and other builders\' builds do not count', () => {
    const history = [agreed('a', T0 - 3000), agreed('a', T0 - 2000), agreed('a', T0), agreed('a', T0 + 5), agreed('b', T0 - 1000)]
    assert.equal(eligible('a', history, 2, 0, T0), true)
    assert.equal(eligible('a', history, 3, 0, T0), false, 'a job issued at the announcement\'s own time counts only for later ones')
    assert.equal(eligible('a', history, 3, 0, T0 + 1), true)
    assert.equal(eligible('b', history, 2, 0, T0), false)
    assert.deepEqual(standing('a', history, 3, 0, T0), { eligible: false, counted: 2, needed: 3, firstAgreedAt: T0 - 3000, lostAt: null })
  })

  it('D days: the first agreed build must be issued at least D days before', () => {
    const history = [agreed('a', T0 - 2 * DAY_MS), agreed('a', T0 - 1000)]
    assert.equal(eligible('a', history, 2, 2, T0), true)
    assert.equal(eligible('a', history, 2, 2, T0 - 1), false)
    assert.equal(eligible('a', history, 2, 3, T0), false)
  })

  it('a lost build ejects: only agreed builds issued after it count, the age of the record stays', () => {
    const history = [agreed('a', T0 - 10 * DAY_MS), agreed('a', T0 - 9 * DAY_MS), lost('a', T0 - 5 * DAY_MS), agreed('a', T0 - 4 * DAY_MS)]
    assert.equal(eligible('a', history, 2, 7, T0), false)
    assert.equal(standing('a', history, 2, 7, T0).counted, 1)
    assert.equal(standing('a', history, 2, 7, T0).lostAt, T0 - 5 * DAY_MS)
    assert.equal(eligible('a', [...history, agreed('a', T0 - DAY_MS)], 2, 7, T0), true, 'K more agreed builds after the ejection: eligible again')
    assert.equal(eligible('a', history, 2, 4, T0 - 5 * DAY_MS), true, 'before its loss it was eligible')
  })

  it('properties: order-independent, monotone in K and D, never eligible on builds issued at or after the announcement', () => {
    fc.assert(fc.property(fc.array(eventArb, { maxLength: 30 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 30 }), (history, k, d) => {
      const e = eligible('a', history, k, d, T0)
      assert.equal(eligible('a', [...history].reverse(), k, d, T0), e)
      if (!e) {
        assert.equal(eligible('a', history, k + 1, d, T0), false)
        assert.equal(eligible('a', history, k, d + 1, T0), false)
      }
      const before = history.filter(x => x.issuedAt < T0)
      assert.equal(eligible('a', before, k, d, T0), e, 'events of jobs issued at or after issuedAt change nothing')
      const s = standing('a', history, k, d, T0)
      assert.ok(s.counted <= before.filter(x => x.builder === 'a' && x.outcome === 'agreed').length)
      if (e) assert.ok(s.counted >= k)
    }))
  })

  it('splitSeats: the first seatCount eligible are seats, the first `probation` non-eligible are probation seats, ranking kept', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 99 }), { maxLength: 40 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 4 }), (ranked, seatCount, probation) => {
      const isEligible = (p: number): boolean => p % 3 !== 0
      const r = splitSeats(ranked, isEligible, seatCount, probation)
      assert.deepEqual(r.seats, ranked.filter(isEligible).slice(0, seatCount))
      assert.deepEqual(r.probation, ranked.filter(p => !isEligible(p)).slice(0, probation))
      assert.deepEqual(splitSeats(ranked, () => true, seatCount, probation), { seats: ranked.slice(0, seatCount), probation: [] })
    }))
  })

  it('policy bounds: K 0..1000, D 0..365, probation 0..16 and within 64 seats, D and probation only with K > 0', () => {
    assert.equal(policyProblem({ builds: 0, days: 0, probation: 0 }, 15), undefined)
    assert.equal(policyProblem({ builds: 3, days: 7, probation: 2 }, 15), undefined)
    assert.match(policyProblem({ builds: 1001, days: 0, probation: 0 }, 15)!, /eligible builds/)
    assert.match(policyProblem({ builds: 1, days: 366, probation: 0 }, 15)!, /eligible days/)
    assert.match(policyProblem({ builds: 1, days: 0, probation: 17 }, 15)!, /probation/)
    assert.match(policyProblem({ builds: 1, days: 0, probation: 2 }, 63)!, /exceed 64/)
    assert.match(policyProblem({ builds: 0, days: 1, probation: 0 }, 15)!, /K > 0/)
    assert.match(policyProblem({ builds: 0, days: 0, probation: 1 }, 15)!, /K > 0/)
  })

  it('verdict events: credited stage-1 seats and matching probation seats agreed; dissenters and probation seats of another hash lost; escalation seats and failures nothing', () => {
    const H = 'a'.repeat(64)
    const X = 'b'.repeat(64)
    const v = panelTally({
      panel: 2,
      escalation: 2,
      threshold: 3,
      seats: ['s0', 's1', 'e0', 'e1'],
      probation: ['p0', 'p1', 'p2'],
      attestations: [
        { builder: 's0', status: 'ok', buildHash: H }, { builder: 's1', status: 'ok', buildHash: X },
        { builder: 'e0', status: 'ok', buildHash: H }, { builder: 'e1', status: 'ok', buildHash: H },
        { builder: 'p0', status: 'ok', buildHash: H }, { builder: 'p1', status: 'ok', buildHash: X }, { builder: 'p2', status: 'failed' }
      ],
      stageDeadlinePassed: false,
      deadlinePassed: false
    })
    assert.equal(v.verdict, 'agreed')
    assert.deepEqual(v.agreeing, ['e0', 'e1', 's0'], 'probation seats never count toward the verdict')
    assert.deepEqual(v.probation, ['p0', 'p1', 'p2'])
    assert.deepEqual(v.probationAgreeing, ['p0'])
    assert.deepEqual(v.probationDissenters, ['p1'])
    const events = verdictEvents('j', T0, v)
    assert.deepEqual(events.filter(e => e.outcome === 'agreed').map(e => e.builder).sort(), ['p0', 's0'])
    assert.deepEqual(events.filter(e => e.outcome === 'lost').map(e => e.builder).sort(), ['p1', 's1'])
    assert.ok(events.every(e => e.issuedAt === T0 && e.job === 'j'))
    assert.deepEqual(verdictEvents('j', T0, { verdict: 'blocked', agreeing: [], dissenters: ['x'] }), [])
  })

  it('probation seats alone never make a verdict, and without probation seats the tally\'s JSON is unchanged', () => {
    const base = { panel: 2, escalation: 2, threshold: 3, seats: ['s0', 's1', 'e0', 'e1'], stageDeadlinePassed: false, deadlinePassed: false }
    const only = panelTally({ ...base, probation: ['p0', 'p1'], attestations: [{ builder: 'p0', status: 'ok', buildHash: 'a'.repeat(64) }, { builder: 'p1', status: 'ok', buildHash: 'a'.repeat(64) }] })
    assert.equal(only.verdict, 'pending')
    assert.deepEqual(only.probation, ['p0', 'p1'])
    assert.equal(only.probationAgreeing, undefined)
    const plain = panelTally({ ...base, attestations: [] })
    assert.deepEqual(Object.keys(plain).filter(k => k.startsWith('probation')), [])
  })
})
