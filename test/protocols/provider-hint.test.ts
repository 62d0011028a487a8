import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { Announcement, SignedEnvelope } from '../../src/protocols/pb/announce.ts'
import { checkAnnouncement } from '../../src/protocols/announce.ts'
import { ENVELOPE_KIND, signEnvelope, TrustedKeys } from '../../src/protocols/signing.ts'
import { MAX_PROVIDER_ADDRS, PROVIDER_HINT_VERSION } from '../../src/protocols/provider-hint.ts'
import { randomPeerId, testAnnouncer, testAnnouncement } from '../helpers/announce.ts'

const announcer = testAnnouncer()
const trusted = new TrustedKeys()
trusted.add(announcer.key.publicKey)

/** The announcement re-signed with its field 26 replaced */
function withHint (hint: Announcement['provider']): Uint8Array {
  const a = Announcement.decode(SignedEnvelope.decode(testAnnouncement(announcer)).payload)
  return signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode({ ...a, provider: hint }), announcer.key)
}

describe('announcements: the provider hint (field 26)', () => {
  const peer = randomPeerId()

  it('names the seeder and its addresses, public first, without /p2p, at most four; a fetch source on every node', () => {
    const addrs = ['/ip4/127.0.0.1/tcp/7770', '/ip4/1.2.3.4/tcp/7770', `/ip4/10.0.0.1/tcp/7770/p2p/${peer}`, '/ip4/127.0.0.1/tcp/7770', '/ip6/::1/tcp/7770', '/ip4/172.16.0.1/tcp/1'].map(a => multiaddr(a))
    const c = checkAnnouncement(testAnnouncement(announcer, { provider: { peer, addrs } }), trusted, Date.now())
    assert.ok(c.source?.peer.equals(peer))
    assert.deepEqual(c.source?.addrs.map(String), ['/ip4/1.2.3.4/tcp/7770', '/ip4/127.0.0.1/tcp/7770', '/ip4/10.0.0.1/tcp/7770', '/ip6/::1/tcp/7770'])
    assert.equal(c.announcement.provider?.version, PROVIDER_HINT_VERSION)
  })

  it('is optional: without it an announcement has no source (the DHT alone)', () => {
    assert.equal(checkAnnouncement(testAnnouncement(announcer), trusted, Date.now()).source, undefined)
  })

  it('a hint of another version is left out; the announcement stands', () => {
    const c = checkAnnouncement(withHint({ version: 2, peer: new Uint8Array(3), addrs: [new Uint8Array(200)] }), trusted, Date.now())
    assert.equal(c.source, undefined)
  })

  it('a version-1 hint out of bounds or malformed is refused: REJECT malformed', () => {
    const good = peer.toMultihash().bytes
    const addr = multiaddr('/ip4/1.2.3.4/tcp/7770').bytes
    const cases: Array<[string, Announcement['provider']]> = [
      ['not a peer ID', { version: 1, peer: new Uint8Array(38), addrs: [] }],
      ['no peer', { version: 1, peer: new Uint8Array(0), addrs: [] }],
      ['too many addresses', { version: 1, peer: good, addrs: Array.from({ length: MAX_PROVIDER_ADDRS + 1 }, () => addr) }],
      ['an address over 64 bytes', { version: 1, peer: good, addrs: [new Uint8Array(65)] }],
      ['an address that is no multiaddr', { version: 1, peer: good, addrs: [Uint8Array.from([0xff, 0xff, 0xff, 0x0f])] }]
    ]
    for (const [what, hint] of cases) {
      assert.throws(() => checkAnnouncement(withHint(hint), trusted, Date.now()), (err: any) => err.name === 'GossipValidationError' && err.reason === 'malformed' && err.action === 'reject', what)
    }
  })
})
