/**
 * Defaults and hard limits of the consensus core: attestation validation, the tally, reputation and the
 * throttle. Limits are protocol rules (every node must apply the same ones); defaults can be overridden
 * through the `init` objects of the classes that use them.
 */

/** The signature domain of an attestation: Ed25519 over `ATTESTATION_DOMAIN || payload` */
export const ATTESTATION_DOMAIN = 'skyline/attestation/v1\n'

/**
 * The largest SignedAttestation / ConsensusMessage accepted from anywhere (gossip or sync)
 * @default 64 KiB, the consensus topic's bound
 */
export const MAX_ATTESTATION_BYTES = 64 * 1024

/** @default 1000 output files per attestation */
export const MAX_ATTESTED_FILES = 1000

/** @default 255 characters per file name */
export const MAX_FILE_NAME_LENGTH = 255

/** @default 64 GiB per output file */
export const MAX_FILE_SIZE = 64 * 1024 * 1024 * 1024

/** @default 32 environment entries */
export const MAX_ENVIRONMENT_ENTRIES = 32

/** @default 64 characters per environment key */
export const MAX_ENVIRONMENT_KEY_LENGTH = 64

/** @default 1024 characters per environment value */
export const MAX_ENVIRONMENT_VALUE_LENGTH = 1024

/** @default 8 KiB of environment keys and values together (UTF-8 bytes) */
export const MAX_ENVIRONMENT_BYTES = 8 * 1024

/**
 * Attestations made further than this in the future are refused (`not-yet-valid`)
 * @default 5 minutes
 */
export const ATTESTATION_MAX_CLOCK_SKEW_MS = 5 * 60 * 1000

/**
 * Builders whose Ed25519 public key (a node:crypto KeyObject) is kept, least recently used evicted
 * @default 4096
 */
export const PUBLIC_KEY_CACHE_SIZE = 4096

/**
 * Half-life of reputation counts (agreements and dissents)
 * @default 7 days
 */
export const REPUTATION_HALF_LIFE_MS = 7 * 24 * 60 * 60 * 1000

/**
 * A builder is flagged while its decayed dissent count is at least this: two dissents within one
 * half-life of each other reach it (1 + 2^-(Δt/halfLife) >= 1.5 exactly when Δt <= halfLife)
 * @default 1.5
 */
export const REPUTATION_FLAG_THRESHOLD = 1.5

/**
 * Application score of a flagged builder per (decayed) dissent; the score is `-this * dissent`
 * @default 10
 */
export const REPUTATION_FLAGGED_SCORE_PER_DISSENT = 10

/**
 * A builder is ejected from later panels (a seeder lists it in no candidate list) while its decayed dissent
 * count is at least this: a dissent on the losing side of a resolved escalation (or of a v1 dispute)
 * ejects it for one half-life (7 days), two for two half-lives
 * @default 0.5
 */
export const REPUTATION_EJECT_THRESHOLD = 0.5

/**
 * Entries whose decayed agree and dissent counts both fall below this are dropped by `prune`
 * @default 0.01
 */
export const REPUTATION_PRUNE_BELOW = 0.01

/**
 * At most this many builders are tracked; `prune` drops the weakest beyond it
 * @default 100 000
 */
export const REPUTATION_MAX_BUILDERS = 100_000

/** @default 1 hour of final verdicts in the throttle's window */
export const THROTTLE_WINDOW_MS = 60 * 60 * 1000

/** @default the last 100 final verdicts at most in the throttle's window */
export const THROTTLE_MAX_VERDICTS = 100

/**
 * The mesh throttles when the share of disputed verdicts in the window is strictly above this
 * @default 0.2
 */
export const THROTTLE_DISPUTED_SHARE = 0.2

/** @default 5 final verdicts in the window before the throttle can engage */
export const THROTTLE_MIN_SAMPLE = 5

/** @default 64 characters: a contributor name in an attestation (config `contributor`) */
export const MAX_CONTRIBUTOR_LENGTH = 64
/** @default 7 days: the longest build duration an attestation may claim (ms) */
export const MAX_BUILD_DURATION_MS = 7 * 24 * 3600 * 1000
