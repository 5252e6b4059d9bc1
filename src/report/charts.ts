// The report's figures as Vega-Lite specs, rendered to SVG strings in Node by vega's headless View, so that
// the page shows them without a script or a network.
import { View, parse } from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface Axis {
  title: string;
  log?: boolean;
  /** Fractions shown as percentages, on [0, 1]. */
  percent?: boolean;
  /** Counts (epochs, steps): whole-number ticks. */
  integer?: boolean;
}

/** One point of a line chart: `series` picks the colour, `style` (optional) the dash pattern. */
export interface Point {
  x: number;
  y: number;
  series: string;
  style?: string;
}

export interface LineChartOptions {
  x: Axis;
  y: Axis;
  /** Legend titles of `series` and, where points have one, `style`. */
  series: string;
  style?: string;
}

/** Series up to this long mark every point; longer ones (200 epochs, thousands of steps) are lines only. */
const MAX_MARKED_POINTS = 40;

function axis({ title, log, percent, integer }: Axis, field: string): Record<string, unknown> {
  const scale = log ? { type: 'log' } : percent ? { domain: [0, 1] } : { zero: false };
  const format = percent ? { format: '%' } : integer ? { format: 'd', tickMinStep: 1 } : {};
  return { field, type: 'quantitative', title, scale, axis: format };
}

const LEGEND = { orient: 'bottom', direction: 'vertical', labelLimit: 480 };

/** y against x, one line per series (points sorted by x). */
export function lineChart(points: Point[], options: LineChartOptions): TopLevelSpec {
  const lengths = new Map<string, number>();
  for (const { series, style } of points) {
    const key = `${series}\0${style}`;
    lengths.set(key, (lengths.get(key) ?? 0) + 1);
  }
  return {
    width: 420,
    height: 240,
    background: 'white',
    data: { values: points },
    mark: { type: 'line', point: Math.max(...lengths.values()) <= MAX_MARKED_POINTS, strokeWidth: 1.5 },
    encoding: {
      x: axis(options.x, 'x'),
      y: axis(options.y, 'y'),
      color: { field: 'series', type: 'nominal', title: options.series, legend: LEGEND },
      ...(options.style === undefined ? {} : { strokeDash: { field: 'style', type: 'nominal', title: options.style, legend: LEGEND } }),
    },
  } as TopLevelSpec;
}

/** A square matrix of correlations as a heatmap on the fixed scale [-1, 1], so that heatmaps compare. */
export function heatmap(matrix: number[][]): TopLevelSpec {
  const cells = matrix.flatMap((row, i) => row.map((value, j) => ({ i, j, value })));
  // Whole pixels per cell: fractional ones leave hairline seams between cells.
  const step = Math.max(4, Math.floor(256 / matrix.length));
  return {
    width: { step },
    height: { step },
    background: 'white',
    data: { values: cells },
    mark: 'rect',
    encoding: {
      x: { field: 'j', type: 'ordinal', axis: null },
      y: { field: 'i', type: 'ordinal', axis: null },
      color: { field: 'value', type: 'quantitative', title: 'correlation', scale: { domain: [-1, 1], scheme: 'redblue', reverse: true } },
    },
    config: { view: { stroke: null } },
  } as TopLevelSpec;
}

/**
 * The matrix averaged over blocks of `block` x `block` entries, the smallest block that leaves at most
 * `maxSize` rows: thousands of channels (ResNet-50) would draw millions of cells.
 */
export function blockAverage(matrix: number[][], maxSize: number): { matrix: number[][]; block: number } {
  const block = Math.ceil(matrix.length / maxSize);
  if (block <= 1) return { matrix, block: 1 };
  const size = Math.ceil(matrix.length / block);
  const averaged = Array.from({ length: size }, (_, bi) =>
    Array.from({ length: size }, (_, bj) => {
      let sum = 0;
      let count = 0;
      for (let i = bi * block; i < Math.min((bi + 1) * block, matrix.length); i++) {
        for (let j = bj * block; j < Math.min((bj + 1) * block, matrix.length); j++) {
          sum += matrix[i]![j]!;
          count += 1;
        }
      }
      return sum / count;
    }),
  );
  return { matrix: averaged, block };
}
