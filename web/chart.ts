/**
 * A small live line chart on a canvas: the mid price of one asset with its bid/ask band.
 * Prices stay bigint; only their offsets from the window's low become pixels.
 */
export interface ChartPoint {
  ts: number;
  bid: bigint;
  ask: bigint;
}

export class PriceChart {
  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly label: (units: bigint) => string,
  ) {}

  draw(points: readonly ChartPoint[]): void {
    const ratio = globalThis.devicePixelRatio || 1;
    const width = this.canvas.clientWidth || 600;
    const height = this.canvas.clientHeight || 260;
    this.canvas.width = width * ratio;
    this.canvas.height = height * ratio;
    const g = this.canvas.getContext("2d");
    if (g === null) return;
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    g.font = "12px system-ui, sans-serif";
    g.fillStyle = "#8a93a3";
    if (points.length < 2) {
      g.fillText("waiting for prices…", 12, 20);
      return;
    }
    let low = points[0]!.bid;
    let high = points[0]!.ask;
    for (const p of points) {
      if (p.bid < low) low = p.bid;
      if (p.ask > high) high = p.ask;
    }
    if (high === low) high = low + 1n;
    const left = 8;
    const right = width - 90;
    const top = 10;
    const bottom = height - 22;
    const span = Number(high - low);
    const y = (units: bigint) => bottom - (Number(units - low) / span) * (bottom - top);
    const t0 = points[0]!.ts;
    const t1 = Math.max(points.at(-1)!.ts, t0 + 1);
    const x = (ts: number) => left + ((ts - t0) / (t1 - t0)) * (right - left);

    g.fillStyle = "rgba(76, 141, 255, 0.15)";
    g.beginPath();
    points.forEach((p, i) => (i === 0 ? g.moveTo(x(p.ts), y(p.ask)) : g.lineTo(x(p.ts), y(p.ask))));
    for (let i = points.length - 1; i >= 0; i--) g.lineTo(x(points[i]!.ts), y(points[i]!.bid));
    g.closePath();
    g.fill();

    g.strokeStyle = "#4c8dff";
    g.lineWidth = 1.5;
    g.beginPath();
    points.forEach((p, i) => {
      const mid = (p.bid + p.ask) / 2n;
      if (i === 0) g.moveTo(x(p.ts), y(mid));
      else g.lineTo(x(p.ts), y(mid));
    });
    g.stroke();

    g.fillStyle = "#8a93a3";
    g.fillText(this.label(high), right + 8, top + 10);
    g.fillText(this.label(low), right + 8, bottom);
    const last = points.at(-1)!;
    const lastMid = (last.bid + last.ask) / 2n;
    g.fillStyle = "#d9dee7";
    g.fillText(
      this.label(lastMid),
      right + 8,
      Math.min(bottom - 14, Math.max(top + 24, y(lastMid) + 4)),
    );
    g.fillStyle = "#8a93a3";
    g.fillText(new Date(t0).toLocaleTimeString(), left, height - 6);
    const end = new Date(t1).toLocaleTimeString();
    g.fillText(end, right - g.measureText(end).width, height - 6);
  }
}
