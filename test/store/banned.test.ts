import { strict as assert } from 'node:assert'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../src/store/store.ts'

describe('store: banned builders', () => {
  const proof = (n: number): Uint8Array => Uint8Array.of(n)

  it('a ban is seen at once, by isBanned and by the set, after the set was read before it', () => {
    const store = new Store(':memory:')
    assert.equal(store.isBanned('b1'), false)
    assert.equal(store.bannedSet().size, 0)
    assert.equal(store.ban('b1', 'job1', proof(1)), true)
    assert.equal(store.isBanned('b1'), true)
    assert.deepEqual([...store.bannedSet()], ['b1'])
    assert.equal(store.ban('b1', 'job1', proof(1)), false, 'the same proof twice is not a new ban')
    store.ban('b2', 'job2', proof(2))
    assert.deepEqual([...store.bannedSet()].sort(), ['b1', 'b2'])
    store.close()
  })

  it('a ban in a transaction that rolls back is not kept, even if the set was read inside it', () => {
    const store = new Store(':memory:')
    assert.throws(() => store.transaction(() => {
      store.ban('b1', 'job1', proof(1))
      assert.equal(store.isBanned('b1'), true)
      throw new Error('abort')
    }), /abort/)
    assert.equal(store.isBanned('b1'), false)
    assert.equal(store.bannedSet().size, 0)
    store.close()
  })

  it('a reopened store reads the bans it holds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skyline-banned-'))
    const first = new Store(join(dir, 'store.db'))
    first.ban('b1', 'job1', proof(1))
    first.close()
    const again = new Store(join(dir, 'store.db'))
    assert.equal(again.isBanned('b1'), true)
    again.close()
    rmSync(dir, { recursive: true })
  })
})
