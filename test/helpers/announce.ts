import { randomBytes, createHash } from 'node:crypto'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { generateAnnouncerKey, rawPublicKey, type AnnouncerKey } from '../../src/protocols/signing.ts'
import { createAnnouncement, type AnnouncementInit, type CheckedAnnouncement } from '../../src/protocols/announce.ts'
import type { SkylineNode } from '../../src/node/index.ts'

export interface TestAnnouncer { key: AnnouncerKey, line: string }

export function testAnnouncer (): TestAnnouncer {
  const g = generateAnnouncerKey()
  const privateKey = createPrivateKey(g.privatePem)
  return { key: { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) }, line: g.publicLine().trim() }
}

/** A valid announcement of a made-up SRPM; `over` replaces any field */
export function testAnnouncement (announcer: TestAnnouncer, over: Partial<AnnouncementInit> = {}): Uint8Array {
  const n = randomBytes(4).toString('hex')
  return createAnnouncement({
    nevra: `pkg${n}-1.0-1.fc41.src`,
    srpmSha256: createHash('sha256').update(n).digest(),
    srpmSize: 1024,
    target: 'fedora-41-x86_64',
    chunkSize: 256 * 1024,
    chunkRoot: randomBytes(32),
    ...over
  }, announcer.key)
}

/** Stores an SRPM in a node's blob store and announces it from that node; returns the checked announcement */
export async function seedSrpm (node: SkylineNode, announcer: TestAnnouncer, srpm: { path: string, nevra: string }, opts: { replicas: number, quorum: number, beacon?: Uint8Array, target?: string }): Promise<CheckedAnnouncement> {
  const m = await node.libp2p.services.blobs.add(srpm.path)
  return node.announce(createAnnouncement({
    nevra: srpm.nevra,
    srpmSha256: Buffer.from(m.sha256, 'hex'),
    srpmSize: m.size,
    target: opts.target ?? 'fedora-41-x86_64',
    replicas: opts.replicas,
    quorum: opts.quorum,
    chunkSize: m.chunkSize,
    chunkRoot: Buffer.from(m.root, 'hex'),
    beacon: opts.beacon
  }, announcer.key))
}
