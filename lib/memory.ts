// Allocation helpers for large tables.
import { native } from './native';

const CACHE_LINE = 64;

/**
 * Asks the OS to back `array`'s memory with transparent huge pages (Linux; a no-op
 * elsewhere). Random row reads from a table larger than the TLB's reach (a few MiB with
 * 4 KiB pages) then miss the TLB far less often. Pages already written are converted only
 * later, by the kernel's background collapsing, so call it before filling the array, or
 * use {@link allocFloat32}. Returns the number of bytes advised.
 */
export function adviseHugePages(array: ArrayBufferView): number {
  return native().adviseHugePages(array);
}

/**
 * A zero-filled Float32Array of `length` elements for a table: it starts on a 64-byte cache
 * line (so a 128-byte row spans two lines, not three) and, from 4 MiB up, is advised for
 * huge pages before first use. It is a view into a slightly larger ArrayBuffer.
 */
export function allocFloat32(length: number): Float32Array {
  return allocTableArray(Float32Array, length);
}

type TableArrayConstructor<T> = { new (length: number): T; readonly BYTES_PER_ELEMENT: number };

/**
 * {@link allocFloat32} for any element type: what quantizeTable and pruneTable store their
 * tables in, so that a compressed table gets the same alignment and huge pages as an f32 one.
 */
export function allocTableArray<T extends Float32Array | Uint16Array | Uint8Array>(
  ctor: TableArrayConstructor<T>,
  length: number,
): T {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`length must be a non-negative safe integer, got ${String(length)}`);
  }
  const size = ctor.BYTES_PER_ELEMENT;
  const slack = CACHE_LINE / size;
  const backing = new ctor(length + slack);
  const offset = native().cacheLineOffset(backing);
  const skip = offset === 0 ? 0 : (CACHE_LINE - offset) / size;
  return adviseFresh(backing.subarray(skip, skip + length) as T);
}

// Large arrays (4 MiB and up, the addon's rule for its own outputs too, csrc/binding/args.cc)
// are advised for huge pages before anything writes them. For a fresh output that first
// touch is the page faults: a gather of 1 M rows x 128 into a fresh array took 167 ms with
// 4 KiB pages, 73 ms advised, 20 ms into a reused `out` (AVX-512 VM, 2026-11-27); pass `out`
// to skip it altogether.
/** `array`, just made and not yet written, advised for huge pages when it is large. */
export function adviseFresh<T extends ArrayBufferView>(array: T): T {
  native().adviseFresh(array);
  return array;
}
