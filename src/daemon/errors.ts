/**
 * Every error the daemon answers with, coded like fastify's FST_ERR_*. The root error
 * handler (app.ts) sends the message as the HTTP reason phrase and as the body, which
 * is where twine, poetry, pdm and uv look for it; 5xx messages are masked.
 */
import createError from '@fastify/error';

export const BadRequest = createError('PYREPO_BAD_REQUEST', '%s', 400);
export const InvalidUpload = createError('PYREPO_INVALID_UPLOAD', '%s', 400);
export const InvalidFilename = createError('PYREPO_INVALID_FILENAME', '%s', 400);
export const InvalidDistribution = createError('PYREPO_INVALID_DISTRIBUTION', '%s', 400);
export const DigestMismatch = createError(
  'PYREPO_DIGEST_MISMATCH',
  'The %s digest supplied does not match a digest calculated from the uploaded file.',
  400,
);
export const MetadataMismatch = createError('PYREPO_METADATA_MISMATCH', '%s', 400);
export const FileExists = createError(
  'PYREPO_FILE_EXISTS',
  "File already exists ('%s', with sha256 hash '%s'): a file with that name and different content is already on this index. Upload a new version instead.",
  409,
);
export const UploadTooLarge = createError(
  'PYREPO_UPLOAD_TOO_LARGE',
  'File too large: this index accepts uploads of at most %s (the max-upload-size setting).',
  413,
);
export const NotMultipart = createError(
  'PYREPO_NOT_MULTIPART',
  'Uploads are sent as multipart/form-data (as twine, poetry, flit, pdm and uv send them); this request came with %s.',
  415,
);
export const UploadCutOff = createError(
  'PYREPO_UPLOAD_CUT_OFF',
  'The multipart body ended %s: the upload was cut off (by the client or a proxy); nothing was stored.',
  400,
);
export const UploadStalled = createError(
  'PYREPO_UPLOAD_STALLED',
  'The upload stopped arriving: no data for %s s before the body was complete; nothing was stored. Try again.',
  408,
);
export const UnsupportedAction = createError('PYREPO_UNSUPPORTED_ACTION', '%s', 400);
export const Gone = createError('PYREPO_GONE', '%s', 410);
export const NotFound = createError('PYREPO_NOT_FOUND', '%s', 404);
/** Sent with `WWW-Authenticate: Basic`: pip asks for (or looks up) credentials only after a 401. */
export const Unauthorized = createError('PYREPO_UNAUTHORIZED', '%s', 401);
export const Forbidden = createError('PYREPO_FORBIDDEN', '%s', 403);
/** An upstream name the allow or deny list refuses (the reason says which). */
export const UpstreamRefused = createError('PYREPO_UPSTREAM_REFUSED', '%s', 403);
export const TooManyAttempts = createError('PYREPO_TOO_MANY_ATTEMPTS', 'Too many failed logins; try again in %s s.', 429);
export const NotAcceptable = createError('PYREPO_NOT_ACCEPTABLE', '%s', 406);
/**
 * The shared catalog (PostgreSQL) cannot be reached: reads go on from this daemon's copy,
 * changes wait. Sent with Retry-After; its message is shown, unlike other 5xx.
 */
export const CatalogUnavailable = createError(
  'PYREPO_CATALOG_UNAVAILABLE',
  'The shared catalog cannot be reached right now, so nothing was changed; downloads and pages still work. Try again in a few seconds.',
  503,
);
/** How long a client should wait before retrying a change the shared catalog could not take (seconds). */
export const CATALOG_RETRY_AFTER_S = 5;

/** A settings problem found while building the app (a TLS file that cannot be read, a shared catalog that cannot be used). */
export class AppSettingsError extends Error {
  override readonly name = 'AppSettingsError';
}
