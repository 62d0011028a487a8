/**
 * What the verdict service (verdicts.ts) emits and what it is built from: its events and its components.
 */
import type { Logger, PrivateKey } from '@libp2p/interface'
import type { SkylineLibp2p } from './components.ts'
import type { Store } from '../store/store.ts'
import type { JobRunner } from './jobs.ts'
import type { PeerPenalties } from './penalties.ts'
import type { CheckedAttestation } from '../protocols/attestation.ts'
import type { AnnouncementService } from './announcements.ts'
import type { Verdict } from '../rules/tally.ts'
import type { OfficialVerdict } from '../rules/official.ts'

export interface VerdictEvent extends Verdict {
  job: string
  nevra: string
  replicas: number
  quorum: number
  /** rules v2: whether the escalation seats were called */
  escalated?: boolean
  /** rules v2: the seats that build now */
  seats?: string[]
  /** agreed or disputed: how the agreed outputs compare with the official build, as the agreeing builders claim (consensus.md) */
  official?: OfficialVerdict
  /** a re-announcement: the job it retries (hex job key) and its attempt, 2..3 */
  retryOf?: string
  attempt?: number
}

export interface VerdictServiceEvents {
  attestation: CustomEvent<CheckedAttestation>
  verdict: CustomEvent<VerdictEvent>
  equivocation: CustomEvent<{ builder: string, job: string }>
  alert: CustomEvent<{ kind: 'dissent' | 'flagged' | 'throttle', message: string }>
  /** an attestation of a job this node holds no announcement of: it may have missed it (sync asks) */
  gap: CustomEvent<{ job: string }>
}

export interface VerdictServiceComponents {
  libp2p: SkylineLibp2p
  store: Store
  jobs: JobRunner
  penalties: PeerPenalties
  privateKey: PrivateKey
  /** the checked announcements (one cache for the node) */
  announcements: Pick<AnnouncementService, 'get'>
  selfEligible: boolean
  /** the operator's contributor name, signed into this node's attestations ('' for none) */
  contributor?: string
  publish: (data: Uint8Array) => Promise<void>
  log: Logger
}
