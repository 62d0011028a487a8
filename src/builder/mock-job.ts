/**
 * Prepares a mock build of a job with a buildroot manifest in its work directory: the repository of exactly
 * the manifest's packages (`<workDir>/repo`, mock-buildroot.ts) and either the generated config
 * (`<workDir>/mock.cfg`) or, with mock 5.7+ and a bootstrap image configured, mock's lockfile
 * (`<workDir>/buildroot_lock.json`) (mock-config.ts). The files are the node's; mock reads them.
 */
import { createHash } from 'node:crypto'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { REPRODUCIBLE_DEFINES } from './constants.ts'
import { BuildrootUnavailableError } from './errors.ts'
import { makeJobRepository } from './mock-buildroot.ts'
import { bootstrapImagePath, mockConfigText, mockLockfile, targetArchOf } from './mock-config.ts'
import type { BuildrootInput, MockHermeticInit } from './types.ts'

/** The environment's `mockConfig` of a build from a generated config, the same on every builder */
export const GENERATED_CONFIG_NAME = 'skyline-buildroot'
/** The environment's `mockConfig` of a hermetic build: mock's own config of that name */
export const HERMETIC_CONFIG_NAME = 'hermetic-build'

export interface MockJobSettings {
  /** createrepo_c; without it a job with a manifest is declined */
  createrepo?: string
  binaryPayload: string
  /** Set only where mock has --hermetic-build */
  hermetic?: MockHermeticInit
}

export interface MockJob {
  /** What mockArgs takes for the chroot */
  chroot: { config: string } | { hermetic: { lockfile: string, repo: string } }
  targetArch: string
  /** GENERATED_CONFIG_NAME or HERMETIC_CONFIG_NAME */
  mockConfig: string
  repoDir: string
}

/** `config_opts['root']` of a job: one per manifest and work directory, so two builds never share a chroot */
export function mockRootName (manifestSha256: string, workDir: string): string {
  return `skyline-${createHash('sha256').update(`${manifestSha256}\0${resolve(workDir)}`).digest('hex').slice(0, 16)}`
}

/** The rpm the chroot will run: the manifest's `rpm` package; a manifest whose tools.rpm says otherwise is declined */
function checkRpm (buildroot: BuildrootInput): void {
  const wanted = buildroot.manifest.tools.rpm
  const rpm = buildroot.manifest.packages.find(p => p.name === 'rpm')
  if (wanted !== undefined && rpm !== undefined && rpm.version !== wanted) {
    throw new BuildrootUnavailableError(`buildroot mismatch: the manifest's rpm is ${wanted}, its rpm package is ${rpm.version}`)
  }
}

/** Links the bootstrap image into the repository where a hermetic build looks for it (bootstrapImagePath) */
async function linkBootstrapImage (repoDir: string, hermetic: MockHermeticInit): Promise<void> {
  const at = join(repoDir, bootstrapImagePath(hermetic.bootstrap))
  await mkdir(dirname(at), { recursive: true })
  await symlink(resolve(hermetic.imageDir), at)
}

/** Makes the repository and the config (or lockfile) of a job; throws BuildrootUnavailableError */
export async function prepareMockJob (settings: MockJobSettings, workDir: string, buildroot: BuildrootInput, signal?: AbortSignal): Promise<MockJob> {
  if (settings.createrepo === undefined) throw new BuildrootUnavailableError('buildroot cannot be materialised: createrepo_c not found (dnf install createrepo_c)')
  checkRpm(buildroot)
  const repoDir = resolve(workDir, 'repo')
  const targetArch = targetArchOf(buildroot.manifest)
  const baseMacros = [...REPRODUCIBLE_DEFINES, ['_binary_payload', settings.binaryPayload] as const]
  const common = { manifest: buildroot.manifest, repoDir, targetArch, baseMacros }
  // generated before the repository is made: a manifest mock cannot take is declined without copying anything
  const text = settings.hermetic === undefined
    ? mockConfigText({ ...common, root: mockRootName(buildroot.sha256, workDir) })
    : `${JSON.stringify(mockLockfile({ ...common, bootstrap: settings.hermetic.bootstrap }), null, 2)}\n`
  await makeJobRepository(settings.createrepo, buildroot, repoDir, signal)
  if (settings.hermetic === undefined) {
    const config = resolve(workDir, 'mock.cfg')
    await writeFile(config, text, { mode: 0o644, flag: 'wx' })
    return { chroot: { config }, targetArch, mockConfig: GENERATED_CONFIG_NAME, repoDir }
  }
  await linkBootstrapImage(repoDir, settings.hermetic)
  const lockfile = resolve(workDir, 'buildroot_lock.json')
  await writeFile(lockfile, text, { mode: 0o644, flag: 'wx' })
  return { chroot: { hermetic: { lockfile, repo: repoDir } }, targetArch, mockConfig: HERMETIC_CONFIG_NAME, repoDir }
}
