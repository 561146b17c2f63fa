import type { LedgerEntry } from '@tally/core';
import { type ReactNode, useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** The balance after each entry, over time: a step line, as a balance only changes at entries. */
export function BalanceChart({ entries }: { entries: readonly LedgerEntry[] }): ReactNode {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data: uPlot.AlignedData = [
    entries.map((e) => Date.parse(e.at) / 1000),
    entries.map((e) => Number(e.balance)),
  ];

  // One chart per mount (StrictMode mounts twice: the first is destroyed).
  useEffect(() => {
    if (box.current === null) return;
    plot.current = new uPlot(
      {
        width: Math.max(320, box.current.clientWidth),
        height: 220,
        scales: {
          x: { time: true },
          y: { range: (_u, min, max) => [Math.min(0, min), Math.max(10, max * 1.1)] },
        },
        axes: [{}, { label: 'credits' }],
        series: [
          {},
          {
            label: 'balance',
            stroke: '#2563eb',
            width: 2,
            fill: 'rgba(37, 99, 235, 0.08)',
            paths: uPlot.paths.stepped?.({ align: 1 }),
          },
        ],
        legend: { show: false },
      },
      [[], []],
      box.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return <div ref={box} data-testid="chart" className="chart" />;
}
