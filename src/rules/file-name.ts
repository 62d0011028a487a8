/** Which output file names an attestation may carry (docs/protocols/consensus.md, "Attestation"). */
import { MAX_FILE_NAME_LENGTH } from './constants.ts'

const FILE_NAME_RE = /^[A-Za-z0-9_+~^][A-Za-z0-9._+~^-]*\.rpm$/

/** A base name rpm could have written: no path, no '..', no control or shell characters, ends '.rpm' */
export function isSafeFileName (name: string): boolean {
  return name.length <= MAX_FILE_NAME_LENGTH && FILE_NAME_RE.test(name) && !name.includes('..')
}
