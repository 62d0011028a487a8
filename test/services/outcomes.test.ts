import assert from 'node:assert/strict'
import { Outcomes, type FinalVerdict } from '../../src/services/outcomes.ts'
import { Store } from '../../src/store/store.ts'

describe('outcomes: reputation from final verdicts', () => {
  const verdict = (agreeing: string[], dissenters: string[]): FinalVerdict => ({
    job: 'a'.repeat(64), nevra: 'hello-1.0-1.fc41.src', verdict: 'agreed', hash: 'b'.repeat(64), agreeing, dissenters, failedBuilders: [], equivocators: [], missing: [], counts: {}, final: true
  })

  it('a dissenter named after the verdict was final (its reveal came after T agreeing seats) is recorded and ejected, once, on every node whatever the order', () => {
    const now = Date.now()
    const agreeing = ['a1', 'a2', 'a3', 'a4', 'a5']
    // one node: the dissent came first
    const first = new Outcomes({ store: new Store(':memory:'), self: 'me', log: () => {}, onAlert: () => {} })
    first.finalise(verdict(agreeing, ['x']), undefined, now)
    // another: agreed by five first, the dissent named later
    const late = new Outcomes({ store: new Store(':memory:'), self: 'me', log: () => {}, onAlert: () => {} })
    late.finalise(verdict(agreeing, []), undefined, now)
    late.finalise(verdict(agreeing, ['x']), { agreeing, dissenters: [] }, now)
    late.finalise(verdict(agreeing, ['x']), { agreeing, dissenters: ['x'] }, now)
    for (const o of [first, late]) {
      assert.deepEqual(o.reputation.ejected(now), ['x'])
      assert.equal(o.reputation.get('x', now).dissent, 1)
      assert.equal(o.reputation.get('a1', now).agree, 1)
    }
  })
})
