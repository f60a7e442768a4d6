// Traffic and spend: the window's totals (/analytics) and, over time (/analytics/timeline), requests, tokens and
// cost stacked by a key, errors by status, latency and time-to-first-byte percentiles. Charts are uPlot's.
import { el, format, getJSON, select, stat } from "./util.js";

const WINDOWS = [["3600", "last hour"], ["86400", "last 24 hours"], ["604800", "last 7 days"]];
const KEYS = [["backend", "backend"], ["model", "model"], ["client", "client"], ["project", "project"]];
const COLOURS = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#db2777", "#ca8a04", "#4b5563", "#94a3b8"];
const REFRESH_MS = 15000;

function chartWidth(node) {
  return Math.max(320, Math.floor(node.getBoundingClientRect().width) - 24);
}

// Stacked areas: each part is drawn as the running sum up to it, the largest sum first so the smaller ones
// paint over it; the legend shows each part's own value.
function stackedChart(node, title, starts, parts, pick, formatValue, whole = false) {
  const raw = parts.map((part) => pick(part));
  const sums = [];
  raw.forEach((values, index) => sums.push(values.map((value, slot) => value + (index ? sums[index - 1][slot] : 0))));
  const order = raw.map((_, index) => index).reverse();
  const series = [{}].concat(order.map((index) => ({
    label: parts[index].key || "(none)",
    stroke: COLOURS[index % COLOURS.length],
    fill: COLOURS[index % COLOURS.length] + "55",
    value: (chart, value, seriesIndex, slot) => (slot === null || slot === undefined ? "–" : formatValue(raw[index][slot])),
  })));
  const data = [starts].concat(order.map((index) => sums[index]));
  return chart(node, title, series, data, formatValue, whole);
}

function lineChart(node, title, starts, lines, formatValue, whole = false) {
  const series = [{}].concat(lines.map((line, index) => ({
    label: line.label, stroke: COLOURS[index % COLOURS.length], width: 2, spanGaps: false, points: { size: 4 },
    value: (chart, value) => (value === null || value === undefined ? "–" : formatValue(value)),
  })));
  return chart(node, title, series, [starts].concat(lines.map((line) => line.values)), formatValue, whole);
}

const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];

function chart(node, title, series, data, formatValue, whole = false) {
  const axis = { values: (plot, ticks) => ticks.map((tick) => formatValue(tick)), size: 70 };
  if (whole) axis.incrs = WHOLE_STEPS; // counts: no tick between two whole numbers
  const options = {
    title, width: chartWidth(node), height: 220, series,
    axes: [{}, axis],
    scales: { x: { time: true } },
    cursor: { drag: { x: false, y: false } },
  };
  // eslint-disable-next-line no-undef
  return new uPlot(options, data, node);
}

function totals(window) {
  return el("div", { class: "grid", id: "traffic-totals" },
    stat("requests", format.integer(window.requests), "requests"),
    stat("errors", format.integer(window.errors), "errors"),
    stat("input tokens", format.integer(window.input_tokens), "input_tokens"),
    stat("output tokens", format.integer(window.output_tokens), "output_tokens"),
    stat("cost", format.usd(window.cost_usd), "cost_usd"),
    stat("latency p50", format.ms(window.latency_p50_ms), "latency_p50_ms"),
    stat("latency p95", format.ms(window.latency_p95_ms), "latency_p95_ms"),
    stat("TTFB p50", format.ms(window.ttfb_p50_ms), "ttfb_p50_ms"));
}

// The page's choices can be linked: #traffic?window=86400&by=model.
function linked() {
  const query = new URLSearchParams(window.location.hash.split("?")[1] || "");
  const chosen = (name, choices, fallback) => (choices.some(([value]) => value === query.get(name)) ? query.get(name) : fallback);
  return { window: chosen("window", WINDOWS, "3600"), by: chosen("by", KEYS, "backend") };
}

export function mount(container, shell) {
  const state = linked();
  let plots = [];
  let stopped = false;
  const controls = el("div", { class: "controls" },
    select("window", "window", WINDOWS, state.window, (value) => { state.window = value; refresh(); }),
    select("by", "stacked by", KEYS, state.by, (value) => { state.by = value; refresh(); }));
  const summary = el("div", { id: "traffic-summary" });
  const charts = el("div", { class: "charts", id: "traffic-charts" });
  container.append(el("h1", { text: "Traffic and spend" }), controls, summary, charts);

  async function refresh() {
    try {
      const [report, timeline] = await Promise.all([
        getJSON(`/analytics?window=${state.window}`),
        getJSON(`/analytics/timeline?window=${state.window}&by=${encodeURIComponent(state.by)}`),
      ]);
      if (stopped) return;
      summary.replaceChildren(totals(report.window));
      plots.forEach((plot) => plot.destroy());
      plots = [];
      charts.replaceChildren();
      const box = (id) => {
        const node = el("div", { class: "card chart", id });
        charts.append(node);
        return node;
      };
      const starts = timeline.starts;
      const parts = timeline.series;
      const counted = (value) => format.integer(Math.round(value));
      plots.push(stackedChart(box("chart-requests"), `requests by ${timeline.by}`, starts, parts, (part) => part.requests, counted, true));
      plots.push(stackedChart(box("chart-tokens"), `tokens (input + output) by ${timeline.by}`, starts, parts,
        (part) => part.input_tokens.map((value, slot) => value + part.output_tokens[slot]), counted, true));
      plots.push(stackedChart(box("chart-cost"), `cost (USD) by ${timeline.by}`, starts, parts, (part) => part.cost_usd,
        (value) => "$" + Number(value).toFixed(4)));
      plots.push(lineChart(box("chart-errors"), "errors by status", starts,
        timeline.errors.map((entry) => ({ label: String(entry.status), values: entry.requests })), counted, true));
      plots.push(lineChart(box("chart-latency"), "latency and time to first byte (ms)", starts, [
        { label: "latency p50", values: timeline.latency_p50_ms },
        { label: "latency p95", values: timeline.latency_p95_ms },
        { label: "TTFB p50", values: timeline.ttfb_p50_ms },
        { label: "TTFB p95", values: timeline.ttfb_p95_ms },
      ], (value) => Math.round(value) + " ms"));
      container.dataset.shown = `${timeline.window_seconds}/${timeline.by}`; // what the charts now show
      container.dataset.ready = "true";
      shell.showFailure(null);
      shell.markUpdated();
    } catch (error) {
      shell.showFailure(error);
    }
  }
  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return { unmount() { stopped = true; clearInterval(timer); plots.forEach((plot) => plot.destroy()); } };
}
