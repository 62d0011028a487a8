/**
 * Contributor names: what a volunteer calls themself in config `contributor`, signed into each of their
 * node's attestations so the stats tracker can group nodes by who runs them. Names come from the
 * network and are shown on dashboards, so they are checked strictly.
 */
import { MAX_CONTRIBUTOR_LENGTH } from './constants.ts'

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/
/** bidirectional overrides and invisible marks, which can make one name look like another */
const BIDI_RE = /[\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/

/** Empty (not set), or 1..64 characters with no control or bidi characters and no leading or trailing space */
export function isValidContributor (name: string): boolean {
  return name === '' || (name.length <= MAX_CONTRIBUTOR_LENGTH && !CONTROL_RE.test(name) && !BIDI_RE.test(name) && name.trim() === name)
}
