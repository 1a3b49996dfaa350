/** Schemas of what commands print with `--json`, so scripts (and tests) can rely on them. */
import { Type, type Static } from '@sinclair/typebox';

/** `pyrepo status --json`. */
export const StatusOutputSchema = Type.Object({
  running: Type.Boolean(),
  /** The daemon's process answers but /-/health did not. */
  responding: Type.Boolean(),
  pid: Type.Optional(Type.Integer()),
  url: Type.Optional(Type.String({ description: 'Simple index URL (pip --index-url)' })),
  uploadUrl: Type.Optional(Type.String({ description: 'Upload URL (twine --repository-url)' })),
  version: Type.Optional(Type.String()),
  startedAt: Type.Optional(Type.String()),
  uptimeSeconds: Type.Optional(Type.Number()),
  projects: Type.Optional(Type.Integer()),
  files: Type.Optional(Type.Integer()),
  indexing: Type.Optional(Type.Boolean()),
  problems: Type.Array(Type.String()),
  dataDir: Type.String(),
  packagesDir: Type.String(),
  logFile: Type.String(),
  /** pid of a daemon that had died without cleaning up; its state file was removed. */
  stalePid: Type.Optional(Type.Integer()),
});
export type StatusOutput = Static<typeof StatusOutputSchema>;

/** `pyrepo doctor --json`. */
export const DoctorOutputSchema = Type.Object({
  checks: Type.Array(
    Type.Object({
      check: Type.String(),
      verdict: Type.Union([Type.Literal('ok'), Type.Literal('warn'), Type.Literal('fail'), Type.Literal('info')]),
      detail: Type.String(),
      fix: Type.Optional(Type.String()),
    }),
  ),
});
export type DoctorOutput = Static<typeof DoctorOutputSchema>;
