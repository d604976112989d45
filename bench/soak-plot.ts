/**
 * The soak's PNG: three panels over time (throughput, latency, memory), drawn with
 * Vega-Lite, rendered headless to SVG by Vega and rasterised by resvg with the Noto Sans
 * JP font vendored in assets/fonts/ (no system fonts are assumed).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Field } from 'vega-lite/build/src/channeldef';
import type { LayerSpec, UnitSpec } from 'vega-lite/build/src/spec';

export interface PlotSample {
  t: number;
  phase: 'load' | 'drain';
  opsPerSec: number;
  acceptedPerSec: number;
  confirmP50Ms: number | null;
  confirmP99Ms: number | null;
  writeP99Ms: number | null;
  rssMB: number;
  heapUsedMB: number | null;
}

/** The vendored font (assets/fonts/ at the repo root, found from bench/ and dist/bench/ alike). */
function fontFile(): string {
  let root = __dirname;
  while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  return join(root, 'assets', 'fonts', 'NotoSansJP_400Regular.ttf');
}

type Row = { t: number; series: string; value: number };

function panel(title: string, yTitle: string, rows: Row[], drainFrom: number | undefined, tMax: number, order: string[]): LayerSpec<Field> {
  const layers: Array<UnitSpec<Field>> = [];
  if (drainFrom !== undefined) {
    layers.push({
      data: { values: [{ from: drainFrom, to: tMax, label: 'drain' }] },
      mark: { type: 'rect', color: '#eeeeee' },
      encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } },
    });
  }
  layers.push({
    data: { values: rows },
    mark: { type: 'line', point: { size: 18 }, strokeWidth: 2 },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'time since load start (s)', scale: { domain: [0, tMax], nice: false } },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: order },
        legend: { orient: 'top', direction: 'horizontal', labelFontSize: 12, labelLimit: 400, symbolStrokeWidth: 3 },
      },
    },
  });
  return { title: { text: title, anchor: 'start', fontSize: 14 }, width: 760, height: 170, layer: layers };
}

/** Renders the three-panel chart of `samples` to PNG bytes. */
async function renderSoakPlot(samples: PlotSample[], title: string, subtitle: string[]): Promise<Buffer> {
  const drain = samples.find((s) => s.phase === 'drain');
  const drainFrom = drain ? Math.max(0, (samples[samples.indexOf(drain) - 1] ?? drain).t) : undefined;
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const rows = (pick: (s: PlotSample) => Record<string, number | null>) =>
    samples.flatMap((s) =>
      Object.entries(pick(s))
        .filter((e): e is [string, number] => e[1] !== null && Number.isFinite(e[1]))
        .map(([series, value]) => ({ t: s.t, series, value })),
    );
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle, fontSize: 18, subtitleFontSize: 12, anchor: 'start' },
    // No background rect, so resvg's bounding box below is the ink only.
    background: 'transparent',
    padding: 16,
    config: { font: 'Noto Sans JP', axis: { labelFontSize: 11, titleFontSize: 12 }, view: { stroke: '#cccccc' } },
    // Each panel has its own series, so its own colours and legend.
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    vconcat: [
      panel(
        'Throughput',
        'transactions / s',
        rows((s) => ({ 'confirmed/s (ops/s)': s.opsPerSec, 'accepted/s': s.acceptedPerSec })),
        drainFrom,
        tMax,
        ['confirmed/s (ops/s)', 'accepted/s'],
      ),
      panel(
        'Latency (per interval)',
        'ms',
        rows((s) => ({
          'accepted→confirmed p99': s.confirmP99Ms,
          'accepted→confirmed p50': s.confirmP50Ms,
          'write request p99': s.writeP99Ms,
        })),
        drainFrom,
        tMax,
        ['accepted→confirmed p99', 'accepted→confirmed p50', 'write request p99'],
      ),
      panel(
        'API process memory',
        'MB',
        rows((s) => ({ 'RSS (VmRSS)': s.rssMB, 'V8 heap used': s.heapUsedMB })),
        drainFrom,
        tMax,
        ['RSS (VmRSS)', 'V8 heap used'],
      ),
    ],
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const resvg = new Resvg(svg, {
    font: { fontFiles: [fontFile()], loadSystemFonts: false, defaultFontFamily: 'Noto Sans JP' },
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
  });
  // Without a canvas Vega over-estimates text widths and leaves a wide empty margin: crop
  // to what was really drawn, plus a margin; resvg fills the background white.
  const box = resvg.getBBox();
  if (box) {
    const margin = 24;
    box.x -= margin;
    box.y -= margin;
    box.width += 2 * margin;
    box.height += 2 * margin;
    resvg.cropByBBox(box);
  }
  const png = resvg.render().asPng();
  return Buffer.from(png);
}

/** The fields of bench/results/soak.json the plot needs. */
export interface PlottedResult {
  startedAt: string;
  settings: { minutes: number; concurrency: number; maxPending: number; anvil: string; blockTimeSeconds: number; lanes: string[] };
  totals: {
    opsPerSecLoad: number | null;
    errorRate: number | null;
    confirmLatencyMs: { p99: number };
    rssMB: { start: number; end: number };
  };
  samples: PlotSample[];
}

export function renderSoakResult(r: PlottedResult): Promise<Buffer> {
  const s = r.settings;
  const t = r.totals;
  return renderSoakPlot(
    r.samples,
    `kagi soak: ${s.minutes} min, ${s.lanes.length} token/operator lanes, ${s.concurrency} requests in flight, backlog ≤ ${s.maxPending}`,
    [
      `${r.startedAt.slice(0, 16)}Z · sustained ${t.opsPerSecLoad} ops/s · error rate ${((t.errorRate ?? 0) * 100).toFixed(2)} % · p99 accepted→confirmed ${t.confirmLatencyMs.p99} ms · API RSS ${t.rssMB.start} → ${t.rssMB.end} MB`,
      `Anvil ${s.anvil}${s.anvil === 'automine' ? '' : ` (${s.blockTimeSeconds} s blocks)`} · local keyring, data-key cache off · load generator, API, PostgreSQL and Anvil share 2 cores · shaded: drain`,
    ],
  );
}
