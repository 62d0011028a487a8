/**
 * The parts of `skyline demo`: the host tools it needs, the signed demo SRPM, its buildroot (made-up
 * packages, their mirror and manifest), a local mesh of node processes, the seeder process, the verdict
 * follower and the package cache report. Product code may use them (the demo command,
 * scripts); tests use them too, never the other way round.
 *
 * @example
 * ```ts
 * const { srpmPath, keyPath } = await makeDemoSrpm(join(work, 'srpm'))
 * const mesh = new DemoMesh({ dir: work, skyline, builder: 'rpmbuild', keyring: keyPath, announcer })
 * await mesh.start(4)
 * ```
 */
export { DEMO_TOOLS, findTools, whichTool } from './tools.ts'
export { DEMO_KEY_UID, DEMO_SPEC, DemoSrpmError, makeDemoSrpm, type DemoSrpm, type MakeDemoSrpmOptions } from './srpm.ts'
export { DemoMesh, DemoMeshError, alive, sleep, type DemoMeshInit, type DemoNode } from './mesh.ts'
export { replicasFor, startSeed, type SeedProcess } from './seed.ts'
export { followJob, tallyLine, verdictKey, type FollowOptions, type FollowResult, type NodeVerdict } from './verdict.ts'
export { DemoBuildrootError, makeDemoBuildroot, serveDemoMirror, type DemoBuildroot, type DemoMirror } from './buildroot.ts'
export { bytes, cacheReport, samples, type CacheJob, type CacheSample } from './cache.ts'
