/**
 * The build hash (docs/protocols/consensus.md, "Build hash"): `sha256` over the lines `"<sha256 of file>  <file name>\n"`,
 * sorted, of the binary RPMs a build produced. The line is the one `sha256sum` prints, so
 * `sha256sum *.rpm | LC_ALL=C sort | sha256sum` gives the same hash.
 */
import { createHash } from 'node:crypto'

/** What the build hash covers of one file */
export interface HashedFile {
  /** base name */
  name: string
  /** lowercase hex sha256 of the file's bytes */
  sha256: string
}

/** One line of the build hash input */
export function buildHashLine (file: HashedFile): string {
  if (!/^[0-9a-f]{64}$/.test(file.sha256)) throw new TypeError(`not a sha256: ${file.sha256}`)
  if (file.name.length === 0 || /[/\n\r]/.test(file.name)) throw new TypeError(`not a file name: ${JSON.stringify(file.name)}`)
  return `${file.sha256}  ${file.name}\n`
}

/**
 * The build hash of a set of files. Lines are sorted by their UTF-8 bytes (what `LC_ALL=C sort` does),
 * so the order the files were found in does not matter.
 */
export function buildHash (files: readonly HashedFile[]): string {
  const lines = files.map(f => Buffer.from(buildHashLine(f), 'utf8')).sort(Buffer.compare)
  const hash = createHash('sha256')
  for (const line of lines) hash.update(line)
  return hash.digest('hex')
}
