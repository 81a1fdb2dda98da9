import { ANALYZE_COMPRESSION_FIELDS, parseAnalyzeCompression, runAnalyzeCompression, type AnalyzeCompressionCommand } from './analyze-compression.js';
import type { CommandContext, CommandResult } from './context.js';
import type { FieldDesc } from './protocol.js';

/**
 * Statements for the admin toolkit that the double handles itself, kept out of rewrite.ts
 * and statements.ts: ANALYZE COMPRESSION (analyze-compression.ts).
 */
export type ExtraCommand = AnalyzeCompressionCommand;

const KINDS = new Set<string>(['analyzeCompression']);

/** `words`: the statement's first significant tokens, lower-cased (see rewrite.ts). */
export function classifyExtra(sql: string, words: readonly string[]): ExtraCommand | null {
  if (words[0] === 'analyze' && words[1] === 'compression') return parseAnalyzeCompression(sql);
  return null;
}

export function isExtra(cmd: { kind: string }): cmd is ExtraCommand {
  return KINDS.has(cmd.kind);
}

export function runExtra(ctx: CommandContext, cmd: ExtraCommand): Promise<CommandResult> {
  switch (cmd.kind) {
    case 'analyzeCompression':
      return runAnalyzeCompression(ctx, cmd);
  }
}

/** The columns a command returns (for Describe), or null when it returns none. */
export function extraFields(cmd: ExtraCommand): FieldDesc[] | null {
  return cmd.kind === 'analyzeCompression' ? ANALYZE_COMPRESSION_FIELDS : null;
}
