/** Many signed SRPMs made with one throwaway key (builds on test/helpers/srpm.ts) */
import { execFile } from 'node:child_process'
import { mkdir, readFile, writeFile, readdir, copyFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { makeSignedSrpm, TEST_KEY_UID, type SrpmFixture } from './srpm.ts'

const exec = promisify(execFile)
const JOB_SPEC = resolve(import.meta.dirname, '../fixtures/mesh/skyline-job.spec')

/** n different signed SRPMs (skyline-job-<i>), all signed by the same key; paths in dir/srpms */
export async function makeSignedSrpms (dir: string, n: number): Promise<{ keyPath: string, srpms: Array<{ path: string, nevra: string }> }> {
  const first: SrpmFixture = await makeSignedSrpm(join(dir, 'first'), { spec: JOB_SPEC, substitutions: { N: '0' } })
  const out = join(dir, 'srpms')
  await mkdir(out, { recursive: true })
  const env = { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', TZ: 'UTC', GNUPGHOME: first.gnupgHome }
  const srpms = [{ path: join(out, first.srpmPath.split('/').pop()!), nevra: first.nevra }]
  await copyFile(first.srpmPath, srpms[0].path)
  const template = await readFile(JOB_SPEC, 'utf8')
  const topdir = join(dir, 'many')
  await mkdir(join(topdir, 'SPECS'), { recursive: true })
  const specs: string[] = []
  for (let i = 1; i < n; i++) {
    const spec = join(topdir, 'SPECS', `skyline-job-${i}.spec`)
    await writeFile(spec, template.replaceAll('@N@', String(i)))
    specs.push(spec)
  }
  for (const spec of specs) await exec('rpmbuild', ['-bs', '--define', `_topdir ${topdir}`, spec], { env })
  const built = n > 1 ? (await readdir(join(topdir, 'SRPMS'))).map(f => join(topdir, 'SRPMS', f)) : []
  if (built.length > 0) {
    await exec('rpmsign', ['--addsign', '--define', '__gpg /usr/bin/gpg', '--define', `_gpg_name ${TEST_KEY_UID}`, '--define', `_gpg_path ${first.gnupgHome}`, ...built], { env })
  }
  await exec('gpgconf', ['--kill', 'all'], { env }).catch(() => {})
  for (const path of built.sort()) {
    const name = path.split('/').pop()!
    srpms.push({ path, nevra: name.replace(/\.rpm$/, '').replace(/\.src$/, '.src') })
  }
  return { keyPath: first.keyPath, srpms }
}
