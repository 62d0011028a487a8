import { randomBytes, createHash } from 'node:crypto'
import { createPrivateKey, createPublicKey } from 'node:crypto'
import { generateAnnouncerKey, rawPublicKey, type AnnouncerKey } from '../../src/protocols/signing.ts'
import { createAnnouncement, type AnnouncementInit } from '../../src/protocols/announce.ts'

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
