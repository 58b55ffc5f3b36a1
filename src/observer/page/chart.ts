// Rates over time (dead letters, restarts, journal appends per second) with uPlot.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const KEEP = 300;

export class RateChart {
  private readonly xs: number[] = [];
  private readonly ys: number[][];
  private plot: uPlot | null = null;

  constructor(
    private readonly labels: readonly string[],
    private readonly colors: readonly string[],
  ) {
    this.ys = labels.map(() => []);
  }

  mount(el: HTMLElement): void {
    if (this.plot !== null) {
      el.appendChild(this.plot.root);
      return;
    }
    this.plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth || 640),
        height: 200,
        series: [{}, ...this.labels.map((label, i) => ({ label, stroke: this.colors[i] ?? '#333', width: 1.5 }))],
        axes: [{}, { size: 50 }],
        scales: { x: { time: true } },
      },
      [this.xs, ...this.ys],
      el,
    );
  }

  push(t: number, values: readonly number[]): void {
    this.xs.push(t / 1000);
    values.forEach((v, i) => this.ys[i]?.push(v));
    if (this.xs.length > KEEP) {
      this.xs.shift();
      for (const y of this.ys) y.shift();
    }
    this.plot?.setData([this.xs, ...this.ys]);
  }
}
