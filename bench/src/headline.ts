import type { RunsSummary, Spread } from './aggregate';
import { findSummary } from './report';
import { fixed, markdownTable } from './table';

/** The connection count of the headline: the server is saturated, so its CPU per request sets its throughput. */
export const HEADLINE_CONNECTIONS = 64;

/** One figure of the headline: the median of the full runs and its min–max over them. */
export interface HeadlineFigure {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

/** What one variant of the headline costs, against the plain handler and the plain handler with a hop. */
export interface HeadlineVariant {
  id: string;
  label: string;
  /** Server CPU per request, µs. */
  serverCpuUs: HeadlineFigure;
  /** Server CPU the SDK adds per request over plain (no-op) of the same round, µs and % of plain's. */
  addedCpuUs: HeadlineFigure;
  addedCpuPct: HeadlineFigure;
  /** req/s ÷ plain's of the same round. */
  ratioToPlain: HeadlineFigure;
  /** req/s ÷ plain-hop's of the same round. */
  ratioToPlainHop: HeadlineFigure;
}

/** The headline of one bench command: every figure the median of its full runs, with the spread. */
export interface Headline {
  connections: number;
  runs: number;
  roundsPerRun: number;
  variants: HeadlineVariant[];
}

/** The variants of the headline, in the order they are printed: both baselines, then the SDK's. */
const VARIANTS = ['plain', 'plain-hop', 'redis-fresh', 'redis-replay', 'memory-fresh'] as const;

function figure(summary: RunsSummary, field: keyof RunsSummary['spread']): HeadlineFigure {
  const spread: Spread = summary.spread[field];
  return { median: summary[field], min: spread.min, max: spread.max, runs: spread.runs };
}

/** Reads the headline out of the combined summaries; undefined when plain did not run at 64 connections. */
export function readHeadline(summaries: RunsSummary[], roundsPerRun: number): Headline | undefined {
  const plain = findSummary(summaries, 'plain', HEADLINE_CONNECTIONS) as RunsSummary | undefined;
  if (!plain) return undefined;
  const variants = VARIANTS.flatMap((id) => {
    const summary = findSummary(summaries, id, HEADLINE_CONNECTIONS) as RunsSummary | undefined;
    if (!summary) return [];
    return [
      {
        id,
        label: summary.scenario.label,
        serverCpuUs: figure(summary, 'serverCpuUsPerRequest'),
        addedCpuUs: figure(summary, 'addedServerCpuUs'),
        addedCpuPct: figure(summary, 'addedServerCpuPct'),
        ratioToPlain: figure(summary, 'ratioToBaseline'),
        ratioToPlainHop: figure(summary, 'ratioToPlainHop'),
      },
    ];
  });
  return { connections: HEADLINE_CONNECTIONS, runs: plain.runs, roundsPerRun, variants };
}

/** `median [min–max]` of a figure. */
export function withSpread(value: HeadlineFigure, decimals: number, sign = false): string {
  const show = (x: number) => (sign && x >= 0 ? `+${fixed(x, decimals)}` : fixed(x, decimals));
  // One run has no spread to show.
  return value.runs.length > 1 ? `${show(value.median)} [${show(value.min)}–${show(value.max)}]` : show(value.median);
}

/** The headline as a table: one row per variant, each cell the median of the runs and its min–max. */
export function headlineTable(headline: Headline): string {
  return markdownTable(
    [
      'variant (own process each)',
      'server CPU µs/req',
      'added vs plain µs',
      'added % of plain',
      '× plain-hop req/s',
      '× plain req/s',
    ],
    headline.variants.map((variant) => [
      variant.label,
      withSpread(variant.serverCpuUs, 0),
      variant.id === 'plain' ? '—' : withSpread(variant.addedCpuUs, 0, true),
      variant.id === 'plain' ? '—' : withSpread(variant.addedCpuPct, 0, true),
      variant.id === 'plain-hop' ? '—' : withSpread(variant.ratioToPlainHop, 2),
      variant.id === 'plain' ? '—' : withSpread(variant.ratioToPlain, 2),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r'],
  );
}
