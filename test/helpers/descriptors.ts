/**
 * Whether this process still holds a file open. A descriptor's number, once closed, can be
 * given to another file at once (test files run side by side in one process), so a descriptor
 * is checked against the file it was noted with, and files removed from their folder are
 * found by what /proc says of each descriptor.
 */
import { fstatSync, readdirSync, readlinkSync } from 'node:fs';

const inodes = new Map<number, number>();

/** Notes which file `fd` is open on (call it while it is known to be open); returns `fd`. */
export function noted(fd: number): number {
  inodes.set(fd, fstatSync(fd).ino);
  return fd;
}

/** Whether `fd` is still open on the file {@link noted} saw. */
export function isOpen(fd: number): boolean {
  try {
    return fstatSync(fd).ino === inodes.get(fd);
  } catch {
    return false;
  }
}

/** This process's descriptors whose path contains `text` (Linux: /proc/self/fd). */
export function descriptorsOn(text: string): string[] {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).includes(text);
    } catch {
      return false;
    }
  });
}
