// Config: the backends (never a key), the routing rules with their fallbacks, the aliases, the prices in force.
import { el, getJSON } from "./util.js";

function table(id, labels, rows) {
  if (!rows.length) return el("p", { class: "muted", text: "none", id });
  return el("table", { id }, el("thead", {}, el("tr", {}, labels.map((label) => el("th", { text: label })))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((cell) => el("td", { class: "text", text: cell ?? "–" }))))));
}

export function mount(container, shell) {
  let stopped = false;
  container.append(el("h1", { text: "Config" }));
  getJSON("/config").then((config) => {
    if (stopped) return;
    const aliases = Object.entries(config.aliases).sort(([a], [b]) => a.localeCompare(b));
    container.append(
      el("section", { class: "card" }, el("h2", { text: "Backends" }),
        table("config-backends", ["backend", "kind", "base URL", "credentials"], config.backends.map((backend) => [
          backend.name, backend.kind, backend.base_url,
          backend.credentials.map((credential) => `${credential.name} (${credential.state})`).join(", ")]))),
      el("section", { class: "card" }, el("h2", { text: "Routes (first match wins)" }),
        el("p", { class: "muted", text: `default backend: ${config.default_backend || "none (the built-in rules decide)"}` }),
        table("config-rules", ["line", "match", "backend", "model", "fallbacks"], config.rules.map((rule) => [
          String(rule.line), rule.match, rule.backend, rule.model || "(as requested)", rule.fallbacks.join(", ")]))),
      el("section", { class: "card" }, el("h2", { text: "Aliases" }),
        table("config-aliases", ["alias", "model"], aliases)),
      el("section", { class: "card" }, el("h2", { text: "Prices (USD per million tokens)" }),
        table("config-prices", ["models", "source", "input", "output", "cache read", "cache write"], config.prices.map((price) => [
          price.pattern, price.source, String(price.input), String(price.output), String(price.cache_read), String(price.cache_write)]))));
    container.dataset.ready = "true";
    shell.markUpdated();
  }).catch((error) => shell.showFailure(error));
  return { unmount() { stopped = true; } };
}
