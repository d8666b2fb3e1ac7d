// Allocation helpers for large tables.
import { native } from './native';

/**
 * Asks the OS to back `array`'s memory with transparent huge pages (Linux; a no-op
 * elsewhere). Random row reads from a table larger than the TLB reach (a few MiB with
 * 4 KiB pages) then miss the TLB far less often. Pages already written are converted only
 * later, by the kernel's background collapsing, so call it before filling the array, or
 * use {@link allocFloat32}. Returns the number of bytes advised.
 */
export function adviseHugePages(array: ArrayBufferView): number {
  return native().adviseHugePages(array);
}

/** A zero-filled Float32Array of `length` elements, advised for huge pages before first use. */
export function allocFloat32(length: number): Float32Array {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`length must be a non-negative safe integer, got ${String(length)}`);
  }
  const array = new Float32Array(length);
  if (length * 4 >= 4 << 20) native().adviseHugePages(array);
  return array;
}
