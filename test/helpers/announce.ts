import { randomBytes, createHash } from 'node:crypto'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { generateAnnouncerKey, rawPublicKey, type AnnouncerKey } from '../../src/protocols/signing.ts'
import { createAnnouncement, RULES_V2, type AnnouncementInit, type CheckedAnnouncement } from '../../src/protocols/announce.ts'
import type { SkylineNode } from '../../src/node/index.ts'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { jobKey } from '../../src/rules/job.ts'

export interface TestAnnouncer { key: AnnouncerKey, line: string }

export function testAnnouncer (): TestAnnouncer {
  const g = generateAnnouncerKey()
  const privateKey = createPrivateKey(g.privatePem)
  return { key: { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) }, line: g.publicLine().trim() }
}

/** A syntactically valid Ed25519 peer ID of nobody (random key bytes) */
export function randomPeerId (): PeerId {
  return peerIdFromMultihash(Digest.decode(Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...randomBytes(32)])))
}

/** A valid announcement of a made-up SRPM, listing made-up candidates unless given; `over` replaces any field */
export function testAnnouncement (announcer: TestAnnouncer, over: Partial<AnnouncementInit> = {}): Uint8Array {
  const n = randomBytes(4).toString('hex')
  return createAnnouncement({
    candidates: Array.from({ length: 2 * (over.replicas ?? 5) }, randomPeerId),
    nevra: `pkg${n}-1.0-1.fc41.src`,
    srpmSha256: createHash('sha256').update(n).digest(),
    srpmSize: 1024,
    target: 'fedora-41-x86_64',
    chunkSize: 256 * 1024,
    chunkRoot: randomBytes(32),
    ...over
  }, announcer.key)
}

/**
 * Stores an SRPM in a node's blob store (provided in the DHT) and announces it from that node, naming the
 * node as its provider and listing the candidates the node finds in the mesh (or `candidates`); returns the
 * checked announcement
 */
export async function seedSrpm (node: SkylineNode, announcer: TestAnnouncer, srpm: { path: string, nevra: string }, opts: { replicas: number, quorum: number, beacon?: Uint8Array, target?: string, candidates?: PeerId[], panel?: AnnouncementInit['panel'], policy?: AnnouncementInit['policy'], buildroot?: Uint8Array, retry?: AnnouncementInit['retry'] }): Promise<CheckedAnnouncement> {
  const m = await node.libp2p.services.blobs.add(srpm.path)
  const beacon = opts.beacon ?? randomBytes(32)
  const target = opts.target ?? 'fedora-41-x86_64'
  const br = opts.buildroot === undefined ? undefined : await node.libp2p.services.blobs.add(opts.buildroot)
  const buildroot = br === undefined ? undefined : { sha256: Buffer.from(br.sha256, 'hex'), size: br.size, chunkSize: br.chunkSize, chunkRoot: Buffer.from(br.root, 'hex') }
  const seats = opts.panel !== undefined ? opts.panel.panel + opts.panel.escalation : opts.replicas
  const candidates = opts.candidates ?? await node.findCandidates(jobKey(Buffer.from(m.sha256, 'hex'), target, beacon, buildroot?.sha256), seats, opts.panel !== undefined ? { rules: RULES_V2, beacon, policy: opts.policy } : {})
  return node.announce(createAnnouncement({
    candidates,
    nevra: srpm.nevra,
    srpmSha256: Buffer.from(m.sha256, 'hex'),
    srpmSize: m.size,
    target,
    replicas: opts.replicas,
    quorum: opts.quorum,
    panel: opts.panel,
    policy: opts.policy,
    chunkSize: m.chunkSize,
    chunkRoot: Buffer.from(m.root, 'hex'),
    beacon,
    buildroot,
    retry: opts.retry,
    provider: { peer: node.libp2p.peerId, addrs: node.libp2p.getMultiaddrs() }
  }, announcer.key))
}
