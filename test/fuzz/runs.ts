/**
 * How long the fuzz tests run, and with which seed. In CI (no environment) every property runs its own
 * small, fixed number of cases with a fixed seed, so the whole of test/fuzz/ stays under a minute and a
 * failure is repeatable. The stress script sets `SKYLINE_FUZZ_RUNS` (e.g. 20000) for a long run; each
 * property then runs that many cases, divided by its cost (live network and process cases are dear).
 * `SKYLINE_FUZZ_SEED` explores another seed; the seed is printed with every failure.
 *
 * @example
 * ```ts
 * await check(fc.asyncProperty(fc.uint8Array(), async bytes => { ... }), { runs: 200 })
 * ```
 */
import fc from 'fast-check'

const DEFAULT_SEED = 20251123

function envInt (name: string): number | undefined {
  const text = process.env[name]
  if (text === undefined || text.trim() === '') return undefined
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer (got '${text}')`)
  return n
}

/** The seed of every property: SKYLINE_FUZZ_SEED, or a fixed default */
export const FUZZ_SEED: number = envInt('SKYLINE_FUZZ_SEED') ?? DEFAULT_SEED

/** SKYLINE_FUZZ_RUNS when set (a stress run), else undefined (CI) */
export const FUZZ_RUNS: number | undefined = (() => {
  const n = envInt('SKYLINE_FUZZ_RUNS')
  if (n !== undefined && n < 1) throw new Error('SKYLINE_FUZZ_RUNS must be positive')
  return n
})()

/** Whether this is a long (stress) run */
export const STRESS = FUZZ_RUNS !== undefined

/**
 * Cases for one property: `ci` in CI; under SKYLINE_FUZZ_RUNS, that number divided by `cost` (1 for
 * pure functions; e.g. 20 for cases over a live libp2p stream, 200 for spawned processes), never fewer
 * than `ci`.
 */
export function runs (ci: number, cost = 1): number {
  if (FUZZ_RUNS === undefined) return ci
  return Math.max(ci, Math.ceil(FUZZ_RUNS / cost))
}

/** A mocha timeout for a test of `ci` cases, scaled for a stress run with the same cost */
export function timeoutFor (ciMs: number, ci: number, cost = 1): number {
  return Math.ceil(ciMs * runs(ci, cost) / ci) + 10_000
}

/** fast-check parameters with the shared seed */
export function params (ci: number, cost = 1): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: runs(ci, cost) }
}

function seedNote (err: unknown): never {
  if (err instanceof Error) {
    err.message = `${err.message}\n(fuzz seed ${FUZZ_SEED}: rerun with SKYLINE_FUZZ_SEED=${FUZZ_SEED}${FUZZ_RUNS !== undefined ? ` SKYLINE_FUZZ_RUNS=${FUZZ_RUNS}` : ''})`
  }
  throw err
}

/** fc.assert with the shared seed and run count; the seed is named in the failure */
export function check<Ts> (property: fc.IProperty<Ts>, opts: { runs: number, cost?: number }): void {
  try {
    fc.assert(property, params(opts.runs, opts.cost) as fc.Parameters<Ts>)
  } catch (err) {
    seedNote(err)
  }
}

/** The async form of check */
export async function checkAsync<Ts> (property: fc.IAsyncProperty<Ts>, opts: { runs: number, cost?: number }): Promise<void> {
  try {
    await fc.assert(property, params(opts.runs, opts.cost) as fc.Parameters<Ts>)
  } catch (err) {
    seedNote(err)
  }
}
