/**
 * Core metadata (METADATA / PKG-INFO): RFC 822 headers as Python's `email.parser`
 * reads them with the compat32 policy, plus the description in the body.
 */
import { DistContentError } from './errors.js';

/** The fields pyrepo reads from core metadata. Multi-use fields are arrays. */
export interface CoreMetadata {
  metadataVersion: string;
  name: string;
  version: string;
  summary: string | null;
  description: string | null;
  descriptionContentType: string | null;
  keywords: string | null;
  homePage: string | null;
  downloadUrl: string | null;
  author: string | null;
  authorEmail: string | null;
  maintainer: string | null;
  maintainerEmail: string | null;
  license: string | null;
  licenseExpression: string | null;
  licenseFiles: string[];
  classifiers: string[];
  platforms: string[];
  requiresPython: string | null;
  requiresDist: string[];
  providesExtra: string[];
  projectUrls: Record<string, string>;
  dynamic: string[];
}

/** Parsed headers (lowercased keys, in order, repeated keys kept) and the body. */
export interface RawMetadata {
  headers: Map<string, string[]>;
  body: string;
}

/** Splits metadata text into headers and body the way `email.parser` (compat32) does. */
export function parseRawMetadata(text: string): RawMetadata {
  const headers = new Map<string, string[]>();
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  let current: { key: string; value: string } | null = null;
  const flush = () => {
    if (!current) return;
    const list = headers.get(current.key) ?? [];
    list.push(current.value.trim());
    headers.set(current.key, list);
    current = null;
  };
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') {
      i++;
      break;
    }
    if ((line.startsWith(' ') || line.startsWith('\t')) && current) {
      (current as { value: string }).value += `\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      // email.parser treats a non-header line as the start of the body (a "defect").
      break;
    }
    flush();
    current = { key: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) };
  }
  flush();
  return { headers, body: lines.slice(i).join('\n') };
}

/** Undo the `        |` continuation convention older tools used for Description. */
function unfoldDescription(value: string): string {
  const lines = value.split('\n');
  return [lines[0] ?? '', ...lines.slice(1).map((l) => l.replace(/^ {7,8}\|/, ''))].join('\n');
}

/** Decodes metadata bytes: UTF-8 as the spec says, Latin-1 for legacy files that are not. */
export function decodeMetadata(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('latin1').decode(bytes);
  }
}

/** Parses and checks core metadata; throws DistContentError naming what is missing. */
export function parseCoreMetadata(text: string, where = 'the metadata'): CoreMetadata {
  const { headers, body } = parseRawMetadata(text);
  const one = (key: string): string | null => {
    const v = headers.get(key)?.[0];
    return v === undefined || v === '' || v === 'UNKNOWN' ? null : v;
  };
  const many = (key: string): string[] =>
    (headers.get(key) ?? []).filter((v) => v !== '' && v !== 'UNKNOWN');
  const metadataVersion = one('metadata-version');
  const name = one('name');
  const version = one('version');
  const missing = [
    !metadataVersion && 'Metadata-Version',
    !name && 'Name',
    !version && 'Version',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new DistContentError(`${where} has no ${missing.join(', ')} field.`);
  }
  const major = Number.parseInt((metadataVersion as string).split('.')[0] ?? '', 10);
  if (!Number.isFinite(major) || major > 2) {
    throw new DistContentError(
      `${where} has Metadata-Version ${metadataVersion}; pyrepo reads metadata versions 1.0 to 2.x.`,
    );
  }
  const projectUrls: Record<string, string> = {};
  for (const entry of many('project-url')) {
    const comma = entry.indexOf(',');
    if (comma > 0) projectUrls[entry.slice(0, comma).trim()] = entry.slice(comma + 1).trim();
  }
  const headerDescription = one('description');
  const trimmedBody = body.replace(/\n+$/, '');
  return {
    metadataVersion: metadataVersion as string,
    name: name as string,
    version: version as string,
    summary: one('summary'),
    description: trimmedBody !== '' ? body : headerDescription ? unfoldDescription(headerDescription) : null,
    descriptionContentType: one('description-content-type'),
    keywords: one('keywords'),
    homePage: one('home-page'),
    downloadUrl: one('download-url'),
    author: one('author'),
    authorEmail: one('author-email'),
    maintainer: one('maintainer'),
    maintainerEmail: one('maintainer-email'),
    license: one('license'),
    licenseExpression: one('license-expression'),
    licenseFiles: many('license-file'),
    classifiers: many('classifier'),
    platforms: many('platform'),
    requiresPython: one('requires-python'),
    requiresDist: many('requires-dist'),
    providesExtra: many('provides-extra'),
    projectUrls,
    dynamic: many('dynamic'),
  };
}
