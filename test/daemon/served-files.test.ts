/** The compact record of what serving each file needs: lookups, changes, removals and reuse. */
import { describe, expect, it } from 'vitest';
import { ServedFiles } from '../../src/daemon/services/served-files.js';

const sha = (n: number) => n.toString(16).padStart(64, '0');

describe('ServedFiles', () => {
  it('answers each file with its relpath, project and sha256 through changes, removals and growth', () => {
    const served = new ServedFiles();
    for (let i = 0; i < 3000; i++) served.set(`demo_${i}-1.0.tar.gz`, i % 7 === 0 ? `sub/demo_${i}-1.0.tar.gz` : `demo_${i}-1.0.tar.gz`, `demo-${i % 10}`, sha(i));
    expect(served.size).toBe(3000);
    expect(served.get('demo_14-1.0.tar.gz')).toEqual({ filename: 'demo_14-1.0.tar.gz', relpath: 'sub/demo_14-1.0.tar.gz', project: 'demo-4', sha256: sha(14) });
    expect(served.get('demo_2999-1.0.tar.gz')).toEqual({ filename: 'demo_2999-1.0.tar.gz', relpath: 'demo_2999-1.0.tar.gz', project: 'demo-9', sha256: sha(2999) });
    expect(served.get('missing-1.0.tar.gz')).toBeUndefined();
    // Replaced in place (moved out of the subfolder, new bytes), removed, and a removed slot reused.
    served.set('demo_14-1.0.tar.gz', 'demo_14-1.0.tar.gz', 'demo-4', sha(99_999));
    expect(served.get('demo_14-1.0.tar.gz')).toEqual({ filename: 'demo_14-1.0.tar.gz', relpath: 'demo_14-1.0.tar.gz', project: 'demo-4', sha256: sha(99_999) });
    served.delete('demo_7-1.0.tar.gz');
    expect(served.get('demo_7-1.0.tar.gz')).toBeUndefined();
    served.set('other-2.0.tar.gz', 'other-2.0.tar.gz', 'other', 'NOT-HEX');
    expect(served.get('other-2.0.tar.gz')).toEqual({ filename: 'other-2.0.tar.gz', relpath: 'other-2.0.tar.gz', project: 'other', sha256: 'NOT-HEX' });
    expect(served.get('demo_8-1.0.tar.gz')?.sha256).toBe(sha(8));
    expect(served.size).toBe(3000);
  });
});
