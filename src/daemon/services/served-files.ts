/**
 * What serving each file's bytes needs (its relpath, project and sha256), kept in memory
 * for every file in as little room as a lookup by filename allows: one Map entry per file
 * (its filename as the key) and a slot number; the sha256 as 32 bytes in one shared buffer,
 * the project as an index into the list of project names, the relpath only where it is not
 * the filename (a subfolder). At 60,000 files this is about half of what a record object
 * with a hex string per file took (14 MB, the largest part of the daemon's heap).
 */

/** What serving a file needs; made for each lookup. */
export interface ServedFile {
  filename: string;
  relpath: string;
  project: string;
  sha256: string;
  /**
   * The file's number among the catalog's files, while it is one of them: counters kept by it
   * need no lookup by filename (another file may have the number later; its filename tells).
   */
  id?: number;
}

const HASH_BYTES = 32;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

export class ServedFiles {
  private readonly slots = new Map<string, number>();
  /**
   * The filename of each slot, the string the catalog read: a lookup returns it, not the one it
   * was asked with, which is cut from a request's head and would keep the whole head alive in
   * everything that holds on to the filename (kept descriptors, download counts) — promoted to
   * V8's old generation with it, a tenth of what downloads promoted.
   */
  private readonly names: string[] = [];
  /** Relpaths that are not the filename, by slot. */
  private readonly relpaths = new Map<number, string>();
  private hashes = Buffer.alloc(1024 * HASH_BYTES);
  private projectOf = new Uint32Array(1024);
  private readonly projectIds = new Map<string, number>();
  private readonly projectNames: string[] = [];
  /** The rare sha256 that is not 64 lowercase hex digits, kept as it is, by slot. */
  private readonly otherHashes = new Map<number, string>();
  /** Slots given back by removed files. */
  private readonly free: number[] = [];
  private nextSlot = 0;

  get size(): number {
    return this.slots.size;
  }

  get(filename: string): ServedFile | undefined {
    const slot = this.slots.get(filename);
    if (slot === undefined) return undefined;
    const name = this.names[slot] as string;
    return {
      filename: name,
      relpath: this.relpaths.get(slot) ?? name,
      project: this.projectNames[this.projectOf[slot] as number] as string,
      sha256: this.otherHashes.get(slot) ?? this.hashes.toString('hex', slot * HASH_BYTES, (slot + 1) * HASH_BYTES),
      id: slot,
    };
  }

  set(filename: string, relpath: string, project: string, sha256: string): void {
    let slot = this.slots.get(filename);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.nextSlot++;
      this.ensureRoom(slot + 1);
      this.slots.set(filename, slot);
    }
    this.names[slot] = filename;
    if (relpath === filename) this.relpaths.delete(slot);
    else this.relpaths.set(slot, relpath);
    let projectId = this.projectIds.get(project);
    if (projectId === undefined) {
      projectId = this.projectNames.push(project) - 1;
      this.projectIds.set(project, projectId);
    }
    this.projectOf[slot] = projectId;
    if (HEX_SHA256.test(sha256)) {
      this.otherHashes.delete(slot);
      this.hashes.write(sha256, slot * HASH_BYTES, HASH_BYTES, 'hex');
    } else {
      this.otherHashes.set(slot, sha256);
    }
  }

  delete(filename: string): void {
    const slot = this.slots.get(filename);
    if (slot === undefined) return;
    this.slots.delete(filename);
    this.names[slot] = '';
    this.relpaths.delete(slot);
    this.otherHashes.delete(slot);
    this.free.push(slot);
  }

  private ensureRoom(slots: number): void {
    if (slots <= this.projectOf.length) return;
    const capacity = Math.max(slots, this.projectOf.length * 2);
    const hashes = Buffer.alloc(capacity * HASH_BYTES);
    this.hashes.copy(hashes);
    this.hashes = hashes;
    const projects = new Uint32Array(capacity);
    projects.set(this.projectOf);
    this.projectOf = projects;
  }
}
