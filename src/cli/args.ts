import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './errors.ts'

/**
 * Strict argument parsing shared by every subcommand: unknown flags and missing values become a
 * UsageError (exit 2) with one clear line instead of Node's stack trace.
 */
export function parse<T extends NonNullable<ParseArgsConfig['options']>> (argv: string[], options: T, allowPositionals = false): ReturnType<typeof parseArgs<{ args: string[], options: T, allowPositionals: boolean, strict: true }>> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true }) as any
  } catch (err: any) {
    throw new UsageError(String(err.message ?? err).split('\n')[0])
  }
}
