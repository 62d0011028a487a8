import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { trustBootstrapPeers } from '../../src/services/redial.ts'
import { SCORE_THRESHOLDS } from '../../src/node/libp2p.ts'
import { randomPeerId } from '../helpers/announce.ts'

describe('peer exchange from a node\'s own bootstrap peers', () => {
  const boot = randomPeerId().toString()
  const other = randomPeerId().toString()
  const list = [multiaddr(`/ip4/127.0.0.1/tcp/7770/p2p/${boot}`)]

  it('lifts only the bootstrap peers to the score at which gossipsub takes their peer exchange', () => {
    const score = trustBootstrapPeers(list, SCORE_THRESHOLDS.acceptPXThreshold)
    assert.ok(score(boot) >= SCORE_THRESHOLDS.acceptPXThreshold)
    assert.equal(score(other), 0)
    // with no bootstrap list (the first node), no one
    assert.equal(trustBootstrapPeers([], 10)(boot), 0)
  })

  it('adds to the node\'s own score, and gives a penalised bootstrap peer nothing', () => {
    const own = new Map([[boot, 3]])
    assert.equal(trustBootstrapPeers(list, 10, p => own.get(p) ?? 0)(boot), 13)
    own.set(boot, -20)
    assert.equal(trustBootstrapPeers(list, 10, p => own.get(p) ?? 0)(boot), -20)
  })
})
