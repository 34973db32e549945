// ECharts, imported piece by piece (line charts, a tooltip, grid, time axis) to keep the bundle small.
import { LineChart, PieChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";
import type { Series } from "../charts";

echarts.use([LineChart, PieChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer]);

export function EChart({ option, height = 240, testId }: { option: echarts.EChartsCoreOption; height?: number; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    if (!ref.current) return;
    chart.current = echarts.init(ref.current);
    const resize = () => chart.current?.resize();
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      chart.current?.dispose();
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption(option, { notMerge: false, lazyUpdate: true });
  }, [option]);
  return <div ref={ref} style={{ height, width: "100%" }} data-testid={testId} />;
}

/** A time-series line chart; `data-points` tells tests (and curious users) how many points it holds. */
export function TimeChart({ series, name, unit, height, testId }: { series: Series; name: string; unit: string; height?: number; testId?: string }) {
  const option = {
    animation: false,
    grid: { left: 48, right: 16, top: 24, bottom: 32 },
    tooltip: { trigger: "axis" },
    xAxis: { type: "time" },
    yAxis: { type: "value", name: unit, min: 0 },
    series: [{ name, type: "line", showSymbol: false, data: series }],
  };
  return (
    <div data-testid={testId} data-points={series.length}>
      <EChart option={option} height={height} />
    </div>
  );
}

export function Sparkline({ series }: { series: Series }) {
  const option = {
    animation: false,
    grid: { left: 0, right: 0, top: 2, bottom: 2 },
    xAxis: { type: "time", show: false },
    yAxis: { type: "value", show: false, min: 0 },
    series: [{ type: "line", showSymbol: false, data: series, lineStyle: { width: 1 }, areaStyle: { opacity: 0.15 } }],
  };
  return <EChart option={option} height={32} />;
}
