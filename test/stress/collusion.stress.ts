/**
 * Stress (long run): colluders against rules v2, with real node processes (lib/collusion-case.ts). Seven
 * honest rpmbuild nodes and three colluders with ground IDs (one silent, one copying, one dissenting by
 * turns) on two SRPMs announced one after the other, panel P = 4, E = 3, T = 5: a job blocks when all three
 * colluders hold seats and the copier sits in stage 1 (≈ 0.17 of first attempts), and `skyline seed
 * --verdicts` then announces it again. The run fails only if one SRPM blocks three times in a row with no
 * colluder ejected in between (≈ 0.5% of runs). Whether a colluder ends ejected here depends on the draw
 * (the CI variant, collusion.test.ts, makes it certain); each one that dissented in a resolved escalation
 * must be. Then a third SRPM whose first attempt surely blocks: once it is announced, honest seats are
 * paused (SIGSTOP) until it blocks at its deadline, and the seeder must announce it again. About 8 minutes
 * on 2 cores, 1–3 more per blocked attempt of the first two.
 */
import { describeCollusion } from './lib/collusion-case.ts'

describeCollusion({
  title: 'stress (long): colluders with ground IDs that copy, dissent on every job and stay silent by turns (rules v2, two SRPMs, re-announcement)',
  honest: 7,
  colluders: 3,
  panel: { panel: 4, escalation: 3, threshold: 5, stageSeconds: 40, validitySeconds: 150 },
  jobs: 2,
  together: false,
  expectEjection: false,
  silencedRetry: { validitySeconds: 120 },
  timeoutMs: 1_800_000
})
