// The daily points as columns stacked by service, drawn as SVG: one bar group per day.
import { number } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 960;
const HEIGHT = 320;
const MARGIN = { left: 64, right: 12, top: 12, bottom: 44 };

function node(name, attributes = {}, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

// days: [{date: "YYYY-MM-DD", values: {SERVICE: points}}] (every day, zero days included);
// services: the series in stacking order. Returns the <svg> element.
export function stackedColumns(days, services, label) {
  const svg = node("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label, class: "columns" });
  svg.append(node("title", {}, label));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const totals = days.map((day) => services.reduce((sum, service) => sum + (day.values[service] || 0), 0));
  const top = niceMax(Math.max(0, ...totals));
  const y = (value) => MARGIN.top + plotHeight - (value / top) * plotHeight;

  const grid = node("g", { class: "grid-lines" });
  for (let tick = 0; tick <= 4; tick += 1) {
    const value = (top * tick) / 4;
    grid.append(node("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value) }));
    grid.append(node("text", { x: MARGIN.left - 6, y: y(value) + 4, class: "y-label" }, number(value)));
  }
  svg.append(grid);

  const slot = plotWidth / Math.max(1, days.length);
  const barWidth = Math.max(1, slot * 0.75);
  const labelEvery = Math.max(1, Math.ceil(days.length / 12));
  const bars = node("g", { class: "bars" });
  days.forEach((day, index) => {
    const x = MARGIN.left + index * slot + (slot - barWidth) / 2;
    const group = node("g", { class: "bar", "data-day": day.date, "data-total": totals[index] });
    const parts = services.filter((service) => day.values[service]).map((service) => `${service} ${number(day.values[service])}`);
    group.append(node("title", {}, `${day.date}: ${number(totals[index])}${parts.length ? ` (${parts.join(", ")})` : ""}`));
    let base = 0;
    services.forEach((service, position) => {
      const value = day.values[service] || 0;
      if (!value) return;
      group.append(
        node("rect", { x, y: y(base + value), width: barWidth, height: y(base) - y(base + value), class: `s${position % 8}` }),
      );
      base += value;
    });
    bars.append(group);
    if (index % labelEvery === 0) {
      svg.append(node("text", { x: x + barWidth / 2, y: HEIGHT - MARGIN.bottom + 16, class: "x-label" }, day.date.slice(5)));
    }
  });
  svg.append(bars);
  svg.append(node("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(0), y2: y(0), class: "axis" }));
  svg.append(node("line", { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: y(0), class: "axis" }));
  return svg;
}
