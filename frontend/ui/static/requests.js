// Requests: the latest recorded requests (/analytics/requests), filterable and paged; no body, no secret.
import { el, format, getJSON } from "./util.js";

const PAGE = 50;
const FILTERS = [["backend", "backend"], ["model", "model"], ["status", "status"], ["client", "client"],
  ["session", "session"], ["project", "project"]];

const COLUMNS = [
  ["time", (row) => format.time(row.started_at)],
  ["client", (row) => row.client || ""],
  ["session", (row) => row.session || ""],
  ["project", (row) => row.project || ""],
  ["model", (row) => (row.served_model && row.served_model !== row.model ? `${row.model} → ${row.served_model}` : row.model)],
  ["backend", (row) => row.backend],
  ["credential", (row) => row.credential],
  ["status", (row) => row.status],
  ["latency", (row) => format.ms(row.latency_ms)],
  ["TTFB", (row) => (row.ttfb_ms ? format.ms(row.ttfb_ms) : "–")],
  ["tokens in / out", (row) => `${format.integer(row.input_tokens)} / ${format.integer(row.output_tokens)}`],
  ["cost", (row) => format.usd(row.cost_usd)],
  ["failover / fallback", (row) => [row.failover, row.fallback_from ? `fallback from ${row.fallback_from}` : ""].filter(Boolean).join("; ")],
];

export function mount(container, shell) {
  const filters = {};
  let offset = 0;
  let stopped = false;
  const inputs = FILTERS.map(([name, label]) => {
    const input = el("input", { name, id: `filter-${name}`, type: name === "status" ? "number" : "text", autocomplete: "off" });
    return [name, input, el("label", { for: `filter-${name}` }, label, input)];
  });
  const form = el("form", { class: "controls", id: "request-filters", on: { submit: (event) => {
    event.preventDefault();
    for (const [name, input] of inputs) filters[name] = input.value.trim();
    offset = 0;
    refresh();
  } } }, inputs.map(([, , label]) => label), el("button", { type: "submit", text: "Filter" }));
  const table = el("div", { id: "request-table" });
  const previous = el("button", { type: "button", text: "← newer", id: "page-newer", on: { click: () => { offset = Math.max(0, offset - PAGE); refresh(); } } });
  const next = el("button", { type: "button", text: "older →", id: "page-older", on: { click: () => { offset += PAGE; refresh(); } } });
  const position = el("span", { id: "page-position", class: "muted" });
  container.append(el("h1", { text: "Requests" }), form, el("div", { class: "card" }, table,
    el("div", { class: "pager" }, previous, position, next)));

  async function refresh() {
    const query = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
    try {
      const page = await getJSON(`/analytics/requests?${query}`);
      if (stopped) return;
      const rows = page.requests.map((row) => el("tr", { data: { requestId: row.request_id, status: row.status } },
        COLUMNS.map(([label, render]) => el("td", { class: "text", text: render(row), data: { field: label } }))));
      table.replaceChildren(rows.length
        ? el("table", {}, el("thead", {}, el("tr", {}, COLUMNS.map(([label]) => el("th", { text: label })))), el("tbody", {}, rows))
        : el("p", { class: "muted", text: "No request matches." }));
      position.textContent = page.total ? `${offset + 1}–${offset + page.requests.length} of ${format.integer(page.total)}` : "0 of 0";
      previous.disabled = offset === 0;
      next.disabled = offset + page.requests.length >= page.total;
      container.dataset.ready = "true";
      shell.showFailure(null);
      shell.markUpdated();
    } catch (error) {
      shell.showFailure(error);
    }
  }
  refresh();
  return { unmount() { stopped = true; } };
}
