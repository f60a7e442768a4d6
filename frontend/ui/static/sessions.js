// Sessions and projects: the totals per session and per project over a window (/analytics?by=…), sortable.
import { el, format, getJSON, select, sortableTable } from "./util.js";

const WINDOWS = [["86400", "last 24 hours"], ["604800", "last 7 days"], ["2592000", "last 30 days"], ["3600", "last hour"]];
const GROUPS = [["session", "Sessions"], ["project", "Projects"]];

function columns(key) {
  return [
    { key, label: key, render: (row) => row[key] || "(none)" },
    { key: "requests", label: "requests", number: true, render: (row) => format.integer(row.requests) },
    { key: "input_tokens", label: "input tokens", number: true, render: (row) => format.integer(row.input_tokens) },
    { key: "output_tokens", label: "output tokens", number: true, render: (row) => format.integer(row.output_tokens) },
    { key: "cache_read_tokens", label: "cache reads", number: true, render: (row) => format.integer(row.cache_read_tokens) },
    { key: "cost_usd", label: "cost", number: true, render: (row) => format.usd(row.cost_usd) },
    { key: "errors", label: "errors", number: true, render: (row) => format.integer(row.errors) },
  ];
}

export function mount(container, shell) {
  const state = { window: "86400", sort: { session: { key: "cost_usd", descending: true }, project: { key: "cost_usd", descending: true } } };
  const reports = {};
  let stopped = false;
  const sections = Object.fromEntries(GROUPS.map(([key]) => [key, el("div", { id: `totals-${key}` })]));
  container.append(el("h1", { text: "Sessions and projects" }),
    el("div", { class: "controls" }, select("window", "window", WINDOWS, state.window, (value) => { state.window = value; refresh(); })),
    ...GROUPS.map(([key, title]) => el("section", { class: "card" }, el("h2", { text: title }), sections[key])));

  function render(key) {
    const rows = reports[key];
    if (rows === undefined) {
      sections[key].replaceChildren(el("p", { class: "muted", text: `This dario does not attribute requests to a ${key} yet.` }));
      return;
    }
    if (!rows.length) {
      sections[key].replaceChildren(el("p", { class: "muted", text: "No request in this window." }));
      return;
    }
    const sort = state.sort[key];
    sections[key].replaceChildren(sortableTable(columns(key), rows, sort, (column) => {
      state.sort[key] = { key: column, descending: sort.key === column ? !sort.descending : true };
      render(key);
    }, { table: { data: { group: key } }, row: (row) => ({ data: { key: row[key] || "" } }) }));
  }

  async function refresh() {
    try {
      const answers = await Promise.all(GROUPS.map(([key]) => getJSON(`/analytics?window=${state.window}&by=${key}`)));
      if (stopped) return;
      GROUPS.forEach(([key], index) => { reports[key] = answers[index][`by_${key}`]; render(key); });
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
