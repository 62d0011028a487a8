/**
 * What identifies a binary package whatever its signature: RPMSIGTAG_MD5 ("sigmd5", Koji's payloadhash, the
 * MD5 of the main header and payload) and the sha256 of the bytes after the signature header. Signing a
 * package rewrites only its signature header, so the signed mirror copy and Koji's unsigned one give the same
 * values (docs/protocols/buildroot.md).
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { SIGTAG } from './constants.ts'
import { RpmFormatError } from './errors.ts'
import { hex } from './header.ts'
import { readRpmFile } from './reader.ts'
import type { BuildrootPackage } from '../rules/buildroot.ts'

/** A package's identity as a buildroot manifest records it (src/rules/buildroot.ts), read from the file */
export interface PackageIdentity extends BuildrootPackage {
  /** the MD5 of the same bytes as read, which must equal `sigmd5` */
  contentMd5: string
}

/** Reads a binary package's identity; throws RpmFormatError for a source package or one without RPMSIGTAG_MD5 */
export async function packageIdentity (path: string, options: { signal?: AbortSignal } = {}): Promise<PackageIdentity> {
  const pkg = await readRpmFile(path, options)
  if (pkg.isSource) throw new RpmFormatError(`${pkg.nevra} is a source package, not a buildroot package`)
  const md5 = pkg.signatureHeader.binary(SIGTAG.MD5)
  if (md5 === undefined || md5.length !== 16) throw new RpmFormatError(`${pkg.nevra}: no RPMSIGTAG_MD5 (sigmd5) in the signature header`)
  const sha = createHash('sha256')
  const md = createHash('md5')
  for await (const chunk of createReadStream(path, { start: pkg.headerOffset, signal: options.signal, highWaterMark: 1024 * 1024 })) {
    sha.update(chunk as Buffer)
    md.update(chunk as Buffer)
  }
  return {
    name: pkg.name,
    epoch: pkg.epoch ?? null,
    version: pkg.version,
    release: pkg.release,
    arch: pkg.arch ?? 'noarch',
    sigmd5: hex(md5),
    size: pkg.fileSize,
    sha256: sha.digest('hex'),
    contentMd5: md.digest('hex')
  }
}
