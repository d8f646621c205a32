/**
 * Parsing `--kebab-case value` options for commands that accept any training argument or model setting:
 * returns the flags it knows, plus everything else as a key → string map, keeping the user's spelling for errors.
 */
export interface ParsedOptions {
  flags: Set<string>;
  values: Map<string, string>;
}

export function parseOptions(argv: string[], booleanFlags: readonly string[]): ParsedOptions {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}' (options are --name value)`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (booleanFlags.includes(name)) {
      if (inline !== undefined) throw new Error(`--${name} takes no value`);
      flags.add(name);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new Error(`--${name} needs a value`);
    if (values.has(name)) throw new Error(`--${name} given twice`);
    values.set(name, value);
  }
  return { flags, values };
}
