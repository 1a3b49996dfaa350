/** The three-way merge that keeps the shared mode's users and tokens: edits made on two machines at once both survive. */
import { describe, expect, it } from 'vitest';
import { mergeIdentity } from '../../src/daemon/services/shared-identity.js';
import type { IdentityDocument } from '../../src/daemon/stores/identity-document.js';
import type { TokenRecord } from '../../src/shared/access-file.js';

const token = (id: string, user = 'ann'): TokenRecord => ({ id, user, sha256: id.padEnd(64, '0').slice(0, 64).replace(/[^0-9a-f]/g, 'a'), readOnly: false, created: '2026-01-01T00:00:00.000Z' });
const doc = (users: Record<string, string>, roles: Record<string, 'admin' | 'uploader' | 'reader'>, tokens: TokenRecord[]): IdentityDocument => ({
  htpasswd: Object.entries(users).map(([u, h]) => `${u}:${h}\n`).join(''),
  access: { version: 1, roles, tokens },
});

describe('mergeIdentity', () => {
  const base = doc({ admin: 'h-admin', ann: 'h-ann' }, { ann: 'uploader' }, [token('aaaaaaa1')]);

  it('keeps tokens made on two machines at once, and a revocation made on one', () => {
    const here = doc({ admin: 'h-admin', ann: 'h-ann' }, { ann: 'uploader' }, [token('bbbbbbb2')]); // revoked a1, made b2
    const there = doc({ admin: 'h-admin', ann: 'h-ann' }, { ann: 'uploader' }, [token('aaaaaaa1'), token('ccccccc3')]); // made c3
    const merged = mergeIdentity(base, here, there);
    expect(merged.access.tokens.map((t) => t.id).sort()).toEqual(['bbbbbbb2', 'ccccccc3']);
  });

  it('adds and removes users and roles by what changed here, keeping the others’ changes', () => {
    const here = doc({ admin: 'h-admin', bob: 'h-bob' }, { bob: 'reader' }, [token('aaaaaaa1')]); // ann and her role removed, bob added
    const there = doc({ admin: 'h-admin-2', ann: 'h-ann', cy: 'h-cy' }, { ann: 'uploader', cy: 'admin' }, [token('aaaaaaa1')]); // admin's password changed, cy added
    const merged = mergeIdentity(base, here, there);
    expect(merged.htpasswd.split('\n').filter(Boolean).sort()).toEqual(['admin:h-admin-2', 'bob:h-bob', 'cy:h-cy']);
    expect(merged.access.roles).toEqual({ bob: 'reader', cy: 'admin' });
  });

  it('changes nothing when nothing changed here', () => {
    const there = doc({ admin: 'x', dee: 'h-dee' }, { dee: 'uploader' }, []);
    expect(mergeIdentity(base, base, there)).toEqual(there);
  });
});
