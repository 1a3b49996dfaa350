/**
 * Who may use an index: its users (htpasswd lines: names and password hashes) and its access
 * rules (roles, API tokens), as one document. A data folder keeps it in two files; a shared
 * index keeps it in one PostgreSQL row (pg-catalog.ts). The same parsing and checks read both.
 */
import { readFileSync } from 'node:fs';
import { accessFiles, readAccessFile, writeAccessFile, type AccessFile } from '../../shared/access-file.js';
import { writeFileAtomic } from '../../shared/atomic-file.js';
import { parseHtpasswd } from '../../shared/htpasswd.js';

export interface IdentityDocument {
  /** The htpasswd file's text. */
  htpasswd: string;
  access: AccessFile;
}

/** The users and access of a data folder (empty when it has none). */
export function readLocalIdentity(dataDir: string): IdentityDocument {
  const files = accessFiles(dataDir);
  let htpasswd = '';
  try {
    htpasswd = readFileSync(files.htpasswd, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return { htpasswd, access: readAccessFile(files.access) };
}

/** Writes the users and access of a data folder (each file atomically, readable by its owner only). */
export function writeLocalIdentity(dataDir: string, doc: IdentityDocument): void {
  const files = accessFiles(dataDir);
  writeFileAtomic(files.htpasswd, doc.htpasswd, { mode: 0o600 });
  writeAccessFile(files.access, doc.access);
}

/** The user names of a document, sorted. */
export function identityUsers(doc: IdentityDocument): string[] {
  return parseHtpasswd(doc.htpasswd)
    .entries.map((e) => e.user)
    .sort();
}
