import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import { AnnouncementService } from '../../src/services/announcements.ts'
import { Store } from '../../src/store/store.ts'
import { TrustedKeys } from '../../src/protocols/signing.ts'
import type { AnnouncementInit } from '../../src/protocols/announce.ts'
import { randomPeerId, testAnnouncer, testAnnouncement } from '../helpers/announce.ts'

describe('announcement service: re-announcements against what the node knows', () => {
  const announcer = testAnnouncer()
  const other = testAnnouncer()
  const trusted = new TrustedKeys()
  trusted.add(announcer.key.publicKey)
  trusted.add(other.key.publicKey)
  const panel = { panel: 4, escalation: 2, threshold: 5 }
  const srpm = { nevra: 'hello-1.0-1.fc41.src', srpmSha256: createHash('sha256').update('hello').digest(), srpmSize: 1024, candidates: Array.from({ length: 8 }, randomPeerId) as PeerId[], panel }
  let store: Store
  let service: AnnouncementService
  const logged: string[] = []

  beforeEach(() => {
    store = new Store(':memory:')
    const log = Object.assign((f: string, ...args: any[]) => { logged.push([f, ...args].join(' ')) }, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log }) as any
    service = new AnnouncementService({ store, trusted: () => trusted, log })
  })
  afterEach(() => { store.close() })

  const announce = (over: Partial<AnnouncementInit> = {}, by = announcer): ReturnType<AnnouncementService['add']> => service.add(testAnnouncement(by, { ...srpm, ...over }))
  const ended = (job: string, verdict: string, final = true): void => { store.setVerdict({ job, verdict, hash: undefined, final, detail: '{}', updatedAt: Date.now() }) }
  const refused = (over: Partial<AnnouncementInit>, reason: string, by = announcer): void => {
    assert.throws(() => announce(over, by), (err: any) => err.name === 'GossipValidationError' && err.action === 'ignore' && err.reason === reason)
  }

  it('takes a retry of a job that ended blocked, or whose verdict it does not hold yet, and refuses one of a job that ended otherwise (logged, with the reason)', () => {
    const blocked = announce()
    ended(blocked.job, 'blocked')
    const second = announce({ retry: { of: blocked.job, attempt: 2 } })
    assert.deepEqual(second.retry, { of: blocked.job, attempt: 2 })
    // still pending here: the seeder may have tallied first
    assert.equal(announce({ retry: { of: second.job, attempt: 3 } }).retry?.attempt, 3)
    const agreed = announce()
    ended(agreed.job, 'agreed')
    refused({ retry: { of: agreed.job, attempt: 2 } }, 'retry-not-blocked')
    assert.ok(logged.some(l => l.includes('refused re-announcement') && l.includes('not blocked')), logged.join('\n'))
    // unknown predecessor (a node that joined later): taken
    assert.ok(announce({ retry: { of: createHash('sha256').update('nobody').digest('hex'), attempt: 2 } }).retry !== undefined)
  })

  it('refuses a retry that names another SRPM, another announcer, other rules, or not the attempt before', () => {
    const blocked = announce()
    ended(blocked.job, 'blocked')
    refused({ retry: { of: blocked.job, attempt: 3 } }, 'retry-mismatch')
    refused({ retry: { of: blocked.job, attempt: 2 }, srpmSha256: createHash('sha256').update('other').digest() }, 'retry-mismatch')
    refused({ retry: { of: blocked.job, attempt: 2 } }, 'retry-mismatch', other)
    // a retry cannot loosen the panel or the eligibility policy of the job it retries
    refused({ retry: { of: blocked.job, attempt: 2 }, panel: { panel: 3, escalation: 2, threshold: 4 } }, 'retry-mismatch')
    refused({ retry: { of: blocked.job, attempt: 2 }, policy: { builds: 2, days: 0, probation: 1 } }, 'retry-mismatch')
    assert.equal(announce({ retry: { of: blocked.job, attempt: 2 } }).retry?.attempt, 2)
  })
})
