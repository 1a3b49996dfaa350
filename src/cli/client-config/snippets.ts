/**
 * What configure tells the user to paste into a project: poetry's `[[tool.poetry.source]]`
 * in the form the installed poetry reads, and pipenv's `[[source]]`.
 */

/** Whether a poetry version is before 1.5, which has no `priority` for sources (`secondary = true` / `default = true` instead). */
export function poetryBeforePriorities(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map((n) => Number.parseInt(n, 10));
  return major < 1 || (major === 1 && minor < 5);
}

/**
 * poetry's source table for the index. poetry before 1.5 (Debian 12 ships 1.3) knows only
 * `secondary = true` and `default = true` and refuses `priority`; 1.5 brought `priority`,
 * where "default" turned PyPI off until 1.8 deprecated it for "primary". `version`
 * undefined (poetry not found): both forms, labelled.
 */
export function poetrySourceSnippet(indexUrl: string, name: string, primary: boolean, version?: string): string {
  const table = (line: string) => `[[tool.poetry.source]]\nname = "${name}"\nurl = "${indexUrl}"\n${line}`;
  const old = table(primary ? 'default = true' : 'secondary = true');
  const modern = (v: string) => {
    const [major = 0, minor = 0] = v.split('.').map((n) => Number.parseInt(n, 10));
    const primaryWord = major > 1 || minor >= 8 ? 'primary' : 'default';
    return table(`priority = "${primary ? primaryWord : 'supplemental'}"`);
  };
  if (version !== undefined) return poetryBeforePriorities(version) ? old : modern(version);
  return `# poetry 1.5 and later:\n${modern('1.8')}\n# poetry before 1.5:\n${old}`;
}

/**
 * pipenv's source table. pipenv passes the URL to pip as given; a `${VAR}` in it is
 * expanded from the environment, which is how pipenv's documentation puts credentials in
 * a Pipfile without writing them there.
 */
export function pipfileSourceSnippet(indexUrl: string, name: string, credentialVariable?: string): string {
  let url = indexUrl;
  if (credentialVariable) {
    const u = new URL(indexUrl);
    url = `${u.protocol}//__token__:\${${credentialVariable}}@${u.host}${u.pathname}`;
  }
  return `[[source]]\nurl = "${url}"\nverify_ssl = ${indexUrl.startsWith('https:')}\nname = "${name}"`;
}
