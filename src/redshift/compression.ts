/**
 * The staging files' compression, as both ends see it: the extract writes it
 * (src/extract/compress.ts), Redshift's COPY reads it (this option).
 */
export type Compression = { format: 'zstd'; level: number } | { format: 'gzip'; level: number; windowBits?: number };

/** The Redshift COPY option that reads the format. */
export const copyCompressionOption = (c: Compression): 'ZSTD' | 'GZIP' => (c.format === 'zstd' ? 'ZSTD' : 'GZIP');
