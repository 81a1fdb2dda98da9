import { ANALYZE_COMPRESSION_COLUMNS, parseAnalyzeCompression, runAnalyzeCompression, type AnalyzeCompressionCommand } from './analyze-compression.js';
import { parseAccountStatement, runAccount, type AccountCommand } from './accounts.js';
import type { CommandContext, CommandResult } from './context.js';
import { parseGrantStatement } from './grants.js';

/**
 * Statements for the admin toolkit that the double handles itself, kept out of rewrite.ts
 * and statements.ts: ANALYZE COMPRESSION (analyze-compression.ts), users, groups and roles
 * (accounts.ts), GRANT / REVOKE / ALTER DEFAULT PRIVILEGES (grants.ts).
 */
export type ExtraCommand = AnalyzeCompressionCommand | AccountCommand;

const KINDS = new Set<string>(['analyzeCompression', 'account']);

/** `words`: the statement's first significant tokens, lower-cased (see rewrite.ts). */
export function classifyExtra(sql: string, words: readonly string[]): ExtraCommand | null {
  if (words[0] === 'analyze' && words[1] === 'compression') return parseAnalyzeCompression(sql);
  return parseAccountStatement(sql, words) ?? parseGrantStatement(sql, words);
}

export function isExtra(cmd: { kind: string }): cmd is ExtraCommand {
  return KINDS.has(cmd.kind);
}

export function runExtra(ctx: CommandContext, cmd: ExtraCommand): Promise<CommandResult> {
  switch (cmd.kind) {
    case 'analyzeCompression':
      return runAnalyzeCompression(ctx, cmd);
    case 'account':
      return runAccount(ctx, cmd);
  }
}

/** The (text) columns a command returns (for Describe), or null when it returns none. */
export function extraColumns(cmd: ExtraCommand): string[] | null {
  return cmd.kind === 'analyzeCompression' ? ANALYZE_COMPRESSION_COLUMNS : null;
}
