/**
 * yargs' own messages ("Not enough non-option arguments: got 0, need at least 1") as
 * plain sentences that say what is missing or wrong and show how the command is typed.
 * Every one is a usage error (exit 64).
 */
import { UsageError } from './errors.js';

/** The words of the command line that are not flags (the command, subcommand, positionals). */
function positionals(args: readonly string[]): string[] {
  return args.filter((a) => !a.startsWith('-'));
}

/** `info` for `pyrepo info <project>`, `owner add` for `pyrepo owner add <project> <user>`. */
function commandName(usage: string): string {
  return usage
    .replace(/^pyrepo\s*/, '')
    .split(/\s+/)
    .filter((w) => w && !/^[<[]/.test(w))
    .join(' ');
}

/** The `<...>` arguments a usage line requires, without their brackets. */
function requiredArguments(usage: string): string[] {
  return [...usage.matchAll(/<([^>]+)>/g)].map((m) => (m[1] as string).replace(/\.\.$/, ''));
}

function flag(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name}`;
}

/**
 * The usage error for one of yargs' messages; `usage` is the failing command's usage line
 * (`pyrepo info <project>`) when yargs got as far as a command.
 */
export function usageError(message: string, args: readonly string[], commandUsage?: string): UsageError {
  // The top level's usage (`pyrepo <command> [options]`) names no command.
  const usage = commandUsage && !commandUsage.includes('<command>') ? commandUsage.split('\n')[0] : undefined;
  const command = usage ? commandName(usage) : '';
  const help = usage ? `Usage: ${usage}  (\`pyrepo ${command} --help\` shows the options and examples)` : 'Run `pyrepo --help` for the commands.';

  const missing = /^Not enough non-option arguments: got (\d+), need at least (\d+)/.exec(message);
  if (missing && usage) {
    const wanted = requiredArguments(usage).slice(Number(missing[1]));
    const names = wanted.map((w) => `<${w}>`);
    const list = names.length <= 1 ? (names[0] ?? 'more arguments') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
    return new UsageError(`\`pyrepo ${command}\` needs ${list}.`, help);
  }

  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (unknown) {
    // yargs names an unknown --some-flag twice, also as someFlag: once is enough.
    const all = (unknown[1] as string).split(', ');
    const words = all.filter((w) => !/[A-Z]/.test(w) || !all.includes(w.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)));
    const first = positionals(args)[0];
    if (!usage && first !== undefined && words.includes(first)) {
      return new UsageError(`There is no command '${first}'.`, 'Run `pyrepo --help` for the commands.');
    }
    const flags = words.filter((w) => args.some((a) => a === flag(w) || a.startsWith(`${flag(w)}=`) || a === `--no-${w}`));
    const extra = words.filter((w) => !flags.includes(w));
    const where = command ? `\`pyrepo ${command}\`` : 'pyrepo';
    const sentences = [
      ...(flags.length > 0 ? [`${where} has no ${flags.length === 1 ? 'option' : 'options'} ${flags.map((f) => flag(f)).join(', ')}.`] : []),
      ...(extra.length > 0 ? [`${where} does not take the ${extra.length === 1 ? 'argument' : 'arguments'} ${extra.map((w) => `'${w}'`).join(', ')}.`] : []),
    ];
    return new UsageError(sentences.join(' '), help);
  }

  const didYouMean = /^Did you mean (.+)\?$/.exec(message);
  if (didYouMean) {
    const typed = positionals(args)[0] ?? '';
    return new UsageError(`There is no command '${typed}'. Did you mean \`pyrepo ${didYouMean[1]}\`?`, 'Run `pyrepo --help` for the commands.');
  }

  const noValue = /^Not enough arguments following: (.+)$/.exec(message);
  if (noValue) return new UsageError(`${flag(noValue[1] as string)} needs a value.`, help);

  const choices = /^Invalid values:\s+Argument: ([^,]+), Given: (.+), Choices: (.+)$/s.exec(message);
  if (choices) {
    const options = (choices[3] as string).split(', ').map((c) => c.replace(/^"|"$/g, ''));
    const given = (choices[2] as string).replace(/^"|"$/g, '');
    return new UsageError(`${flag(choices[1] as string)} takes ${options.slice(0, -1).join(', ')} or ${options[options.length - 1]}; not '${given}'.`, help);
  }

  const exclusive = /^Arguments (\S+) and (\S+) are mutually exclusive$/.exec(message);
  if (exclusive) return new UsageError(`${flag(exclusive[1] as string)} and ${flag(exclusive[2] as string)} cannot be used together.`, help);

  const required = /^Missing required arguments?: (.+)$/.exec(message);
  if (required) return new UsageError(`${(required[1] as string).split(', ').map(flag).join(', ')} must be given.`, help);

  return new UsageError(message.trim() || 'The command line cannot be read.', help);
}
