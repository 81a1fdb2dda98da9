/**
 * Finds record boundaries in a CSV byte stream as PostgreSQL writes it (quote `"`, quotes
 * doubled inside quoted fields, records end with \n outside quotes). Stateful across
 * chunks; O(n) over the bytes, no copies.
 */
const QUOTE = 0x22;
const NEWLINE = 0x0a;

export class CsvRecordCounter {
  private inQuotes = false;

  /**
   * Scans `chunk` from `start`; returns the offset just past the `want`-th record end, or
   * -1 if the chunk ends first. `found` reports how many record ends were passed.
   */
  scan(chunk: Uint8Array, start: number, want: number): { end: number; found: number } {
    let found = 0;
    let inQuotes = this.inQuotes;
    for (let i = start; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === QUOTE) inQuotes = !inQuotes;
      else if (b === NEWLINE && !inQuotes) {
        found++;
        if (found === want) {
          this.inQuotes = inQuotes;
          return { end: i + 1, found };
        }
      }
    }
    this.inQuotes = inQuotes;
    return { end: -1, found };
  }
}
