/**
 * Parsing `--kebab-case value` options for commands that accept any training argument or model setting:
 * returns the flags it knows, plus everything else as a key → string map, keeping the user's spelling for errors.
 */
/** A mistake in how the command was called: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ParsedOptions {
  flags: Set<string>;
  values: Map<string, string>;
}

export function parseOptions(argv: string[], booleanFlags: readonly string[]): ParsedOptions {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}' (options are --name value)`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (booleanFlags.includes(name)) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      flags.add(name);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    if (values.has(name)) throw new UsageError(`--${name} given twice`);
    values.set(name, value);
  }
  return { flags, values };
}
