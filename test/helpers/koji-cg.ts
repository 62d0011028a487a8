/**
 * Checks Koji content-generator metadata against test/fixtures/koji/cg-metadata.schema.json (the documented
 * format, with ajv) and against the cross-field rules kojihub's CG_Importer enforces that a JSON Schema
 * cannot state: buildroot ids unique and each used by an output, every output naming a buildroot,
 * buildroot tool names unique (buildroot_tools_info's primary key).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Ajv from 'ajv'

export const KOJI_FIXTURES = join(import.meta.dirname, '../fixtures/koji')

const schema = JSON.parse(readFileSync(join(KOJI_FIXTURES, 'cg-metadata.schema.json'), 'utf8'))
const validate = new Ajv({ allErrors: true }).compile(schema)

/** Every problem with `metadata` (empty when Koji's documented format and its importer's checks accept it) */
export function cgMetadataProblems (metadata: unknown): string[] {
  const problems: string[] = []
  if (validate(metadata) !== true) {
    for (const e of validate.errors ?? []) problems.push(`${e.dataPath === '' ? '(top)' : e.dataPath} ${e.message ?? ''}${e.params !== undefined ? ` ${JSON.stringify(e.params)}` : ''}`)
    return problems
  }
  const m = metadata as { buildroots: Array<{ id: unknown, tools: Array<{ name: string }> }>, output: Array<{ buildroot_id: unknown, filename: string }> }
  const ids = m.buildroots.map(b => b.id)
  const used = new Set(m.output.map(o => o.buildroot_id))
  for (const id of ids) {
    if (!used.has(id)) problems.push(`buildroot ${String(id)} is not used in output`)
    if (ids.filter(x => x === id).length > 1) problems.push(`duplicate buildroot id ${String(id)}`)
  }
  for (const o of m.output) if (!ids.includes(o.buildroot_id)) problems.push(`output ${o.filename}: no buildroot ${String(o.buildroot_id)}`)
  for (const b of m.buildroots) {
    const names = b.tools.map(t => t.name)
    if (new Set(names).size !== names.length) problems.push(`buildroot ${String(b.id)}: a tool named twice (${names.join(', ')})`)
  }
  return problems
}
