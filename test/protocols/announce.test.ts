import assert from 'node:assert/strict'
import { writeFileSync, rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { SignedEnvelope, Announcement } from '../../src/protocols/pb/announce.ts'
import { checkAnnouncement, createAnnouncement } from '../../src/protocols/announce.ts'
import { loadTrustedAnnouncers, signEnvelope, ENVELOPE_KIND, TrustedKeys, loadAnnouncerKey } from '../../src/protocols/signing.ts'
import type { PeerId } from '@libp2p/interface'
import { jobKey } from '../../src/rules/job.ts'
import { jobKadId } from '../../src/rules/assignment.ts'
import { peerKadId, xorDistance } from '../../src/rules/distance.ts'
import { randomPeerId, testAnnouncer, testAnnouncement } from '../helpers/announce.ts'
import { tempDir } from '../helpers/mesh.ts'
import { runCli } from '../helpers/cli.ts'

const announcer = testAnnouncer()
const trusted = new TrustedKeys()
trusted.add(announcer.key.publicKey)

function rejects (bytes: Uint8Array, reason: string, action = 'reject', now = Date.now()): void {
  assert.throws(() => checkAnnouncement(bytes, trusted, now), (err: any) => {
    assert.equal(err.name, 'GossipValidationError')
    assert.equal(err.reason, reason, err.message)
    assert.equal(err.action, action)
    return true
  })
}

describe('announcements', () => {
  it('a valid announcement checks out, with its job key from docs/protocols/announce.md', () => {
    const bytes = testAnnouncement(announcer, { replicas: 5, quorum: 3 })
    const c = checkAnnouncement(bytes, trusted, Date.now())
    assert.equal(c.announcement.replicas, 5)
    assert.equal(c.announcer, Buffer.from(announcer.key.publicKey).toString('hex'))
    assert.deepEqual(c.jobKey, jobKey(c.announcement.srpmSha256, c.announcement.target, c.announcement.beacon))
    assert.match(c.id, /^[0-9a-f]{64}$/)
  })

  it('a buildroot manifest is part of the job key; its four fields come together, bounded', () => {
    const beacon = new Uint8Array(32).fill(7)
    const buildroot = { sha256: new Uint8Array(32).fill(1), size: 1000, chunkSize: 256 * 1024, chunkRoot: new Uint8Array(32).fill(2) }
    const srpmSha256 = new Uint8Array(32).fill(9)
    const plain = checkAnnouncement(testAnnouncement(announcer, { beacon, srpmSha256 }), trusted, Date.now())
    const withRoot = checkAnnouncement(testAnnouncement(announcer, { beacon, srpmSha256, buildroot }), trusted, Date.now())
    assert.notEqual(withRoot.job, plain.job)
    assert.deepEqual(withRoot.jobKey, jobKey(plain.announcement.srpmSha256, plain.announcement.target, beacon, buildroot.sha256))
    const other = checkAnnouncement(testAnnouncement(announcer, { beacon, srpmSha256, buildroot: { ...buildroot, sha256: new Uint8Array(32).fill(3) } }), trusted, Date.now())
    assert.notEqual(other.job, withRoot.job)
    const env = SignedEnvelope.decode(testAnnouncement(announcer, { beacon, buildroot }))
    const a = Announcement.decode(env.payload)
    for (const bad of [{ buildrootChunkRoot: new Uint8Array(0) }, { buildrootSize: 5n * 1024n * 1024n }, { buildrootSha256: new Uint8Array(31) }]) {
      rejects(signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode({ ...a, ...bad }), announcer.key), 'malformed')
    }
  })

  it('signatures cover the exact payload bytes: any flipped byte is refused', () => {
    const bytes = testAnnouncement(announcer)
    const env = SignedEnvelope.decode(bytes)
    for (let i = 0; i < env.payload.length; i += 7) {
      const payload = new Uint8Array(env.payload)
      payload[i] ^= 0x01
      const forged = SignedEnvelope.encode({ ...env, payload })
      assert.throws(() => checkAnnouncement(forged, trusted, Date.now()), (err: any) => err.action === 'reject')
    }
    const sig = new Uint8Array(env.signature)
    sig[10] ^= 0x80
    rejects(SignedEnvelope.encode({ ...env, signature: sig }), 'bad-signature')
  })

  it('refuses untrusted keys, control envelopes on the announce topic, and garbage', () => {
    rejects(testAnnouncement(testAnnouncer()), 'untrusted')
    const env = SignedEnvelope.decode(testAnnouncement(announcer))
    rejects(signEnvelope(ENVELOPE_KIND.control, env.payload, announcer.key), 'wrong-kind')
    rejects(new Uint8Array([0xff, 0xff, 0xff]), 'malformed')
  })

  it('refuses expired (ignores just-expired), not-yet-valid and malformed fields', () => {
    const now = Date.now()
    rejects(testAnnouncement(announcer, { now: now - 3 * 86400_000, validityMs: 86400_000 }), 'expired')
    rejects(testAnnouncement(announcer, { now: now - 86400_000 - 1000, validityMs: 86400_000 }), 'expired', 'ignore')
    rejects(testAnnouncement(announcer, { now: now + 3600_000 }), 'not-yet-valid')
    // a signer that skips createAnnouncement's own checks
    const sign = (over: Partial<Announcement>): Uint8Array => {
      const a = Announcement.decode(SignedEnvelope.decode(testAnnouncement(announcer)).payload)
      return signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode({ ...a, ...over }), announcer.key)
    }
    rejects(sign({ quorum: 2, replicas: 5 }), 'malformed')
    rejects(sign({ replicas: 0, quorum: 0 }), 'malformed')
    rejects(sign({ nevra: 'rm -rf /' }), 'malformed')
    rejects(sign({ srpmSha256: new Uint8Array(31) }), 'malformed')
    rejects(sign({ srpmSize: 0n }), 'malformed')
    rejects(sign({ beacon: new Uint8Array(8) }), 'malformed')
    rejects(sign({ expiresAt: BigInt(now + 30 * 86400_000) }), 'malformed')
  })

  it('candidates: q to 64 distinct Ed25519 peer IDs; the builders are the r listed closest to the job key', () => {
    const sign = (over: Partial<Announcement>): Uint8Array => {
      const a = Announcement.decode(SignedEnvelope.decode(testAnnouncement(announcer)).payload)
      return signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode({ ...a, ...over }), announcer.key)
    }
    const ids = Array.from({ length: 65 }, randomPeerId)
    const mh = (p: PeerId): Uint8Array<ArrayBuffer> => new Uint8Array(p.toMultihash().bytes)
    const bytes = (n: number): Array<Uint8Array<ArrayBuffer>> => ids.slice(0, n).map(mh)
    rejects(sign({ candidates: [] }), 'malformed')
    rejects(sign({ candidates: bytes(2) }), 'malformed') // fewer than q = 3: no verdict possible
    rejects(sign({ candidates: [...bytes(3), bytes(1)[0]] }), 'malformed') // listed twice
    rejects(sign({ candidates: [...bytes(3), new Uint8Array(38)] }), 'malformed') // not an Ed25519 multihash
    rejects(sign({ candidates: [...bytes(3), mh(ids[3]).slice(0, 37)] }), 'malformed')
    rejects(sign({ candidates: bytes(65) }), 'malformed')
    const three = checkAnnouncement(sign({ candidates: bytes(3) }), trusted, Date.now())
    assert.deepEqual(three.builders.map(String).sort(), ids.slice(0, 3).map(String).sort(), 'with r = 5 and three candidates, all three build')
    const all = checkAnnouncement(sign({ candidates: bytes(64) }), trusted, Date.now())
    assert.equal(all.candidates.length, 64)
    const d = (p: { toMultihash: () => { bytes: Uint8Array } }): string => Buffer.from(xorDistance(jobKadId(all.jobKey), peerKadId(p as any))).toString('hex')
    const ranked = [...all.candidates].sort((a, b) => d(a) < d(b) ? -1 : 1)
    assert.deepEqual(all.builders.map(String), ranked.slice(0, 5).map(String))
    assert.throws(() => testAnnouncement(announcer, { candidates: ids.slice(0, 2) }), /fewer than the quorum/)
  })

  it('createAnnouncement refuses to sign bad fields', () => {
    assert.throws(() => testAnnouncement(announcer, { quorum: 1, replicas: 4 }), /quorum/)
  })

  it('trusted announcer keys load from .pub files and inline lines; bad ones are one clear error', () => {
    const dir = tempDir()
    try {
      const other = testAnnouncer()
      writeFileSync(join(dir, 'a.pub'), `# the release team\n${announcer.line}\n`)
      const keys = loadTrustedAnnouncers([join(dir, 'a.pub'), other.line])
      assert.equal(keys.size, 2)
      writeFileSync(join(dir, 'bad.pub'), 'skyline-announcer-ed25519 AAAA\n')
      assert.throws(() => loadTrustedAnnouncers([join(dir, 'bad.pub')]), /bad\.pub:1: announcer public key must be 32 bytes/)
      assert.throws(() => loadTrustedAnnouncers([join(dir, 'missing.pub')]), /cannot read announcer public key/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('skyline keys generate writes a 0600 private key and a .pub that sign and verify', async () => {
    const dir = tempDir()
    try {
      const out = join(dir, 'announcer.key')
      const r = await runCli(['keys', 'generate', '--out', out])
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^skyline-announcer-ed25519 [A-Za-z0-9+/]{43}=\n$/)
      const key = loadAnnouncerKey(out)
      const bytes = createAnnouncement({ nevra: 'a-1-1.src', srpmSha256: new Uint8Array(32), srpmSize: 1, target: 't', chunkSize: 65536, chunkRoot: new Uint8Array(32), candidates: Array.from({ length: 5 }, randomPeerId) }, key)
      assert.ok(checkAnnouncement(bytes, loadTrustedAnnouncers([`${out}.pub`]), Date.now()))
      const again = await runCli(['keys', 'generate', '--out', out])
      assert.equal(again.code, 2)
      assert.match(again.stderr, /exists; pass --force/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('announcements: rules v2 (salted positions, panels)', () => {
  const panel = { panel: 10, escalation: 5, threshold: 12 }
  const candidates = (): PeerId[] => Array.from({ length: 30 }, randomPeerId)

  it('carries the rules, the panel and the stage deadline; seats are the P+E best by salted position', async () => {
    const { rankBySaltedPosition } = await import('../../src/rules/position.ts')
    const { RULES_V2 } = await import('../../src/protocols/announce.ts')
    const list = candidates()
    const c = checkAnnouncement(testAnnouncement(announcer, { candidates: list, panel }), trusted, Date.now())
    assert.equal(c.announcement.rules, RULES_V2)
    assert.deepEqual([c.announcement.replicas, c.announcement.escalation, c.announcement.quorum], [10, 5, 12])
    assert.equal(c.panel?.threshold, 12)
    assert.deepEqual(c.builders.map(String), rankBySaltedPosition(c.jobKey, c.announcement.beacon, list).slice(0, 15).map(String))
  })

  it('refuses unknown rules loudly, bad panels, too few candidates; a v1 verifier refuses v2 (T > P fails q <= r)', () => {
    const now = Date.now()
    const v2 = Announcement.decode(SignedEnvelope.decode(testAnnouncement(announcer, { candidates: candidates(), panel })).payload)
    const resign = (a: Announcement): Uint8Array => signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode(a), announcer.key)
    rejects(resign({ ...v2, rules: 3 }), 'unsupported-rules', 'reject', now)
    rejects(resign({ ...v2, quorum: 10 }), 'malformed', 'reject', now)
    rejects(resign({ ...v2, candidates: v2.candidates.slice(0, 14) }), 'malformed', 'reject', now)
    rejects(resign({ ...v2, stageMs: 0n }), 'malformed', 'reject', now)
    rejects(resign({ ...v2, rules: 0, stageMs: 0n, escalation: 0 }), 'malformed', 'reject', now)
  })

  it('the eligibility policy (fields 17-19): v2 only, bounded; K = 0 seats every candidate; K > 0 seats the eligible ones and the best non-eligible on probation', async () => {
    const { announcementSeating } = await import('../../src/protocols/announce.ts')
    const { rankBySaltedPosition } = await import('../../src/rules/position.ts')
    const now = Date.now()
    const list = candidates()
    const signed = testAnnouncement(announcer, { candidates: list, panel, policy: { builds: 3, days: 7, probation: 2 } })
    const c = checkAnnouncement(signed, trusted, now)
    assert.deepEqual(c.panel?.policy, { builds: 3, days: 7, probation: 2 })
    const ranked = rankBySaltedPosition(c.jobKey, c.announcement.beacon, list).map(String)
    const eligible = new Set(ranked.filter((_, i) => i % 2 === 1))
    const seating = announcementSeating(c, new Set(), p => eligible.has(p))
    assert.deepEqual(seating.seats.map(String), ranked.filter(p => eligible.has(p)).slice(0, 15))
    assert.deepEqual(seating.probation.map(String), [ranked[0], ranked[2]])
    const plain = checkAnnouncement(testAnnouncement(announcer, { candidates: list, panel }), trusted, now)
    assert.deepEqual(plain.panel?.policy, { builds: 0, days: 0, probation: 0 })
    assert.deepEqual(announcementSeating(plain, new Set(), () => false), { seats: plain.builders, probation: [] }, 'K = 0: every listed candidate is eligible')
    const v2 = Announcement.decode(SignedEnvelope.decode(signed).payload)
    const resign = (a: Announcement): Uint8Array => signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode(a), announcer.key)
    rejects(resign({ ...v2, eligibleBuilds: 1001 }), 'malformed', 'reject', now)
    rejects(resign({ ...v2, eligibleDays: 366 }), 'malformed', 'reject', now)
    rejects(resign({ ...v2, probationSeats: 17 }), 'malformed', 'reject', now)
    rejects(resign({ ...v2, eligibleBuilds: 0 }), 'malformed', 'reject', now)
    const v1 = Announcement.decode(SignedEnvelope.decode(testAnnouncement(announcer)).payload)
    rejects(resign({ ...v1, eligibleBuilds: 1 }), 'malformed', 'reject', now)
  })
})

describe('announcements: re-announcement of a blocked job (fields 24 and 25)', () => {
  const panel = { panel: 4, escalation: 2, threshold: 5 }
  const candidates = (): PeerId[] => Array.from({ length: 8 }, randomPeerId)
  const resign = (a: Announcement): Uint8Array => signEnvelope(ENVELOPE_KIND.announcement, Announcement.encode(a), announcer.key)

  it('a retry names the 32-byte job key it retries and its attempt (2 or 3); a first announcement has neither', () => {
    const first = checkAnnouncement(testAnnouncement(announcer, { candidates: candidates(), panel }), trusted, Date.now())
    assert.equal(first.retry, undefined)
    assert.equal(first.announcement.attempt, 0)
    const retry = checkAnnouncement(testAnnouncement(announcer, { candidates: candidates(), panel, retry: { of: first.job, attempt: 2 } }), trusted, Date.now())
    assert.deepEqual(retry.retry, { of: first.job, attempt: 2 })
    assert.notEqual(retry.job, first.job)
  })

  it('refuses a retry link out of bounds: attempt 1 or 4, a short job key, a link on a rules-v1 job, an attempt with no link', () => {
    const now = Date.now()
    const job = randomBytes(32)
    const v2 = Announcement.decode(SignedEnvelope.decode(testAnnouncement(announcer, { candidates: candidates(), panel, retry: { of: job, attempt: 3 } })).payload)
    rejects(resign({ ...v2, attempt: 4 }), 'malformed', 'reject', now)
    rejects(resign({ ...v2, attempt: 1 }), 'malformed', 'reject', now)
    rejects(resign({ ...v2, attempt: 0 }), 'malformed', 'reject', now)
    rejects(resign({ ...v2, retryOf: job.subarray(0, 31) }), 'malformed', 'reject', now)
    rejects(resign({ ...v2, retryOf: new Uint8Array() }), 'malformed', 'reject', now)
    const v1 = Announcement.decode(SignedEnvelope.decode(testAnnouncement(announcer, {})).payload)
    rejects(resign({ ...v1, retryOf: job, attempt: 2 }), 'malformed', 'reject', now)
    assert.throws(() => testAnnouncement(announcer, { candidates: candidates(), panel, retry: { of: job, attempt: 4 } }), /attempt 4/)
  })
})
