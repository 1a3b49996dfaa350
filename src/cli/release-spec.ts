/** `<project>[==<version>]` arguments of remove, yank and unyank. */
import { UsageError } from './errors.js';

export interface ReleaseSpec {
  project: string;
  version?: string;
}

/** Splits `name==1.0` (or just `name`); `versionRequired` refuses a bare name. What is not a spec is a usage error. */
export function parseReleaseSpec(spec: string, versionRequired: boolean): ReleaseSpec {
  const at = spec.indexOf('==');
  const project = (at === -1 ? spec : spec.slice(0, at)).trim();
  const version = at === -1 ? undefined : spec.slice(at + 2).trim();
  if (!project || /[=<>!~\s]/.test(project) || version === '' || (version !== undefined && /[=<>!~\s,]/.test(version))) {
    throw new UsageError(`'${spec}' is not <project>==<version>.`, 'Example: mypkg==1.2.0');
  }
  if (versionRequired && version === undefined) {
    throw new UsageError(`Say which release: ${project}==<version>.`, `\`pyrepo info ${project}\` lists its versions.`);
  }
  return version === undefined ? { project } : { project, version };
}
