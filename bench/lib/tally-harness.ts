/**
 * The node's own consensus code without a network, for benchmarks and simulations: a real
 * VerdictService (src/services/verdicts.ts) with a real SQLite Store in a temporary directory, a trusted
 * announcer key made for the run, and libp2p stubbed as a fixed view of the mesh: connected to `builders`,
 * each known to advertise the builder protocol, no routing table, nothing sent anywhere. Announcements go
 * through `announce` (checked, recorded and handed to the service, as the node's announce validator does);
 * attestations through `consensus.validate`, as gossipsub calls it.
 *
 * @example
 * ```ts
 * const h = await tallyHarness(builderPeerIds)
 * const a = h.announce(createAnnouncement({ ... }, h.key))
 * await h.consensus.validate({ topic: 'consensus', data, propagationSource: p, from: p })
 * h.close()
 * ```
 */
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { logger } from '@libp2p/logger'
import type { PeerId } from '@libp2p/interface'
import { BUILDER_PROTOCOL } from '../../src/services/candidates.ts'
import { VerdictService, type VerdictServiceComponents } from '../../src/services/verdicts.ts'
import { AnnouncementService } from '../../src/services/announcements.ts'
import { Store } from '../../src/store/store.ts'
import { PeerPenalties } from '../../src/services/penalties.ts'
import type { CheckedAnnouncement } from '../../src/protocols/announce.ts'
import { generateAnnouncerKey, loadTrustedAnnouncers, rawPublicKey, type AnnouncerKey } from '../../src/protocols/signing.ts'

export interface TallyHarness {
  consensus: VerdictService
  store: Store
  /** the run's announcer key, trusted by the service */
  key: AnnouncerKey
  dbPath: string
  /** checks, records and hands over an announcement envelope */
  announce: (envelope: Uint8Array) => CheckedAnnouncement
  close: () => void
}

export async function tallyHarness (builders: PeerId[]): Promise<TallyHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'skyline-bench-tally-'))
  const dbPath = join(dir, 'skyline.db')
  const store = new Store(dbPath)
  const g = generateAnnouncerKey()
  const privateKey = createPrivateKey(g.privatePem)
  const key = { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) }
  const trusted = loadTrustedAnnouncers([g.publicLine('bench').trim()])
  const self = await generateKeyPair('Ed25519')
  const libp2p = {
    peerId: peerIdFromPrivateKey(self),
    getPeers: () => builders,
    services: { dht: {} },
    peerStore: { get: async () => ({ protocols: [BUILDER_PROTOCOL] }) }
  }
  const announcements = new AnnouncementService({ store, trusted: () => trusted, log: logger('skyline:bench:announce') })
  const consensus = new VerdictService({
    libp2p: libp2p as unknown as VerdictServiceComponents['libp2p'],
    store,
    jobs: {} as unknown as VerdictServiceComponents['jobs'],
    penalties: new PeerPenalties(),
    privateKey: self,
    announcements,
    selfEligible: false,
    publish: async () => {},
    log: logger('skyline:bench:tally')
  })
  consensus.start()
  return {
    consensus,
    store,
    key,
    dbPath,
    announce: envelope => {
      const checked = announcements.add(envelope)
      consensus.onAnnouncement(checked)
      return checked
    },
    close: () => {
      consensus.stop()
      store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
