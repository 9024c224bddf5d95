/**
 * Placing the set-associative tables (dedupe, call KPIs) so that a bucket is one cache line.
 *
 * A bucket of the dedupe table is 64 bytes, the size of a cache line, so that a lookup costs one
 * miss. But JavaScript cannot choose where a typed array's memory starts: Node takes a large
 * ArrayBuffer or SharedArrayBuffer from calloc, and glibc serves a large block from its own
 * mmap, 16 bytes past a page boundary (after the block's header). A table at offset 0 of such a
 * buffer has every bucket straddle two lines: two misses a lookup, and a batch's prefetch of a
 * bucket's first word loads only half of it. Measured on the batched in-process bench: a table
 * starting 48 bytes in is 6% faster.
 *
 * The offset is a bet on that allocator, not a guarantee (another libc, or a block from the heap,
 * lands elsewhere), so nothing depends on it for being right: a misplaced table is only slower,
 * and DedupeWindow.touch loads both ends of a bucket, which covers both lines either way.
 */
export const CACHE_LINE_BYTES = 64;
/** Where a large block starts relative to a cache line under glibc's malloc. */
const LIKELY_BLOCK_OFFSET = 16;
/** Bytes to skip at the start of a large buffer so that what follows starts a cache line. */
export const LINE_ALIGNING_OFFSET = CACHE_LINE_BYTES - LIKELY_BLOCK_OFFSET;

/** `words` zeroed uint32s, starting (most likely) at a cache line. */
export function lineAlignedUint32Array(words: number): Uint32Array {
  return new Uint32Array(new ArrayBuffer(LINE_ALIGNING_OFFSET + words * 4), LINE_ALIGNING_OFFSET, words);
}
