// Shared helpers of the dashboard's pages. Every value reaches the page as text (textContent), never as HTML.

export function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "class") node.className = value;
    else if (name === "data") for (const [key, entry] of Object.entries(value)) node.dataset[key] = String(entry);
    else if (name === "on") for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class Unauthorized extends Error {}

export async function getJSON(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (response.status === 401) {
    window.location.assign("/ui/login");
    throw new Unauthorized("the dashboard needs the key");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error && body.error.message ? body.error.message : `${path}: HTTP ${response.status}`;
    throw new Error(message);
  }
  return body;
}

export const format = {
  integer: (value) => (value === null || value === undefined ? "–" : Number(value).toLocaleString("en-US")),
  usd: (value) => (value === null || value === undefined ? "–" : "$" + Number(value).toFixed(6)),
  ms: (value) => (value === null || value === undefined ? "–" : Number(value).toFixed(1) + " ms"),
  percent: (value) => (Number(value) * 100).toFixed(1) + "%",
  time: (seconds) => (seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + "Z" : "–"),
  duration: (seconds) => {
    if (seconds === null || seconds === undefined) return "–";
    const value = Math.max(0, seconds);
    if (value < 120) return `${Math.round(value)} s`;
    if (value < 7200) return `${Math.round(value / 60)} min`;
    if (value < 172800) return `${(value / 3600).toFixed(1)} h`;
    return `${(value / 86400).toFixed(1)} d`;
  },
};

// A table whose columns sort on a click: columns are [{key, label, number, render(row) -> text or Node}].
export function sortableTable(columns, rows, state, onSort, attributes = {}) {
  const sorted = [...rows];
  if (state.key) {
    const column = columns.find((entry) => entry.key === state.key);
    const value = column && column.sortValue ? column.sortValue : (row) => row[state.key];
    sorted.sort((left, right) => {
      const a = value(left), b = value(right);
      const order = typeof a === "number" && typeof b === "number" ? a - b : String(a ?? "").localeCompare(String(b ?? ""));
      return state.descending ? -order : order;
    });
  }
  const head = el("tr", {}, columns.map((column) => el("th", {
    text: column.label,
    class: ["sortable", column.number ? "number" : "", state.key === column.key ? (state.descending ? "sorted-desc" : "sorted-asc") : ""].join(" ").trim(),
    data: { key: column.key },
    on: { click: () => onSort(column.key) },
  })));
  const body = sorted.map((row) => el("tr", attributes.row ? attributes.row(row) : {}, columns.map((column) => {
    const shown = column.render ? column.render(row) : row[column.key];
    return el("td", { class: column.number ? "number" : "text", data: { field: column.key } }, shown ?? "–");
  })));
  return el("table", attributes.table || {}, el("thead", {}, head), el("tbody", {}, body));
}

export function stat(label, value, field) {
  return el("div", { class: "stat" }, el("div", { class: "label", text: label }),
    el("div", { class: "value", text: value, data: { field } }));
}

export function select(name, label, choices, chosen, onChange) {
  const node = el("select", { name, id: `choose-${name}`, on: { change: (event) => onChange(event.target.value) } },
    choices.map(([value, text]) => el("option", { value, text, selected: value === chosen ? "selected" : false })));
  return el("label", { for: `choose-${name}` }, label, node);
}
