/**
 * Copy-paste commands for the tools, with this server's real address: one source for the
 * landing page and the project pages, so that both say the same thing.
 */

/** `--trusted-host` for pip, needed for plain HTTP beyond loopback only (pip trusts loopback and HTTPS). */
function trustedHost(baseUrl: string): string {
  const host = new URL(baseUrl).hostname;
  const loopback = host === 'localhost' || host.startsWith('127.') || host === '[::1]';
  return !loopback && baseUrl.startsWith('http:') ? ` --trusted-host ${host}` : '';
}

/**
 * Install commands for `spec` (a project, pinned or not, or a placeholder), labelled by tool.
 * With `publish`, each tool's upload commands too. The page cannot know the visitor's poetry:
 * `--priority` came with 1.5, and older ones (Debian 12 ships 1.3) refuse it, so both forms
 * are shown, labelled.
 */
export function installCommands(baseUrl: string, spec: string, opts: { publish?: boolean } = {}): [string, string][] {
  const simple = `${baseUrl}/simple/`;
  const upload = `${baseUrl}/legacy/`;
  const trusted = trustedHost(baseUrl);
  const poetryNext = opts.publish ? `poetry config repositories.pyrepo ${upload}\npoetry publish -r pyrepo` : `poetry add --source pyrepo ${spec}`;
  return [
    ['pip', `pip install --index-url ${simple}${trusted} ${spec}`],
    ['pip (keep PyPI too)', `pip install --extra-index-url ${simple}${trusted} ${spec}`],
    ['uv', `uv pip install --index-url ${simple} ${spec}\nuv add --index pyrepo=${simple} ${spec}`],
    ...(opts.publish ? ([['twine', `twine upload --repository-url ${upload} dist/*`]] as [string, string][]) : []),
    ['poetry 1.5 and later', `poetry source add --priority=supplemental pyrepo ${simple}\n${poetryNext}`],
    ['poetry before 1.5', `poetry source add --secondary pyrepo ${simple}\n${poetryNext}`],
    ['pdm', `pdm config pypi.pyrepo.url ${simple}\n${opts.publish ? `pdm config repository.pyrepo.url ${upload}\npdm publish -r pyrepo` : `pdm add ${spec}`}`],
  ];
}
