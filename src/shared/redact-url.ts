/**
 * A URL as it may be shown in messages and logs: its password, if it has one, replaced by
 * `***` (PostgreSQL URLs may carry one, though PGPASSWORD or ~/.pgpass is the better place).
 * Text that does not parse as a URL is redacted by its `scheme://user:password@` shape.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}
