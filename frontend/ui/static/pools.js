// Pools: each backend's credentials with their headroom, status, in-flight and windows, the queue, the forecast.
// Live: /accounts and /status every second, the forecast (/analytics) every ten.
import { el, format, getJSON } from "./util.js";

const LIVE_MS = 1000;
const FORECAST_MS = 10000;

function bar(fraction) {
  const fill = el("div", { class: "fill" + (fraction <= 0 ? " empty" : fraction < 0.2 ? " low" : "") });
  fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  return el("div", { class: "bar" }, fill);
}

// What a credential is: the login state credential_service holds comes first, then the pool's view.
function statusOf(account, credential) {
  if (credential && credential.state && credential.state !== "ok" && credential.state !== "pending") return credential.state;
  return account ? account.status : "ok";
}

function windows(account, now) {
  if (!account || !account.windows.length) return el("span", { class: "muted", text: "no limits reported yet" });
  return account.windows.map((window) => el("div", { class: "window", data: { window: window.name } },
    el("span", { class: "name", text: window.name }),
    bar(window.limit > 0 ? window.remaining / window.limit : 1),
    el("span", { text: `${format.integer(window.remaining)} / ${format.integer(window.limit)}`, data: { field: "remaining" } }),
    el("span", { class: "muted", text: window.reset_at ? `resets in ${format.duration(window.reset_at - now)}` : "" })));
}

function credentialRow(backend, name, account, credential, now) {
  const status = statusOf(account, credential);
  const until = account && account.cooldown_until ? `until ${format.time(account.cooldown_until)}` : "";
  return el("tr", { data: { credential: name, status } },
    el("td", { class: "text", text: name, data: { field: "credential" } }),
    el("td", {}, el("span", { class: `badge status-${status}`, text: status, data: { field: "status" } }),
      el("div", { class: "muted", text: until })),
    el("td", { class: "number", text: account ? account.in_flight : 0, data: { field: "in_flight" } }),
    el("td", { class: "number", text: account ? format.integer(account.chosen) : 0, data: { field: "chosen" } }),
    el("td", { class: "number", text: account && account.last_status ? account.last_status : "–", data: { field: "last_status" } }),
    el("td", {}, el("div", { class: "window" }, bar(account ? account.headroom : 1),
      el("span", { text: format.percent(account ? account.headroom : 1), data: { field: "headroom" } }))),
    el("td", {}, windows(account, now)));
}

function forecastTable(entries, now) {
  if (!entries.length) return el("p", { class: "muted", text: "No rate-limit windows reported yet: nothing to forecast." });
  return el("table", { class: "forecast" },
    el("thead", {}, el("tr", {}, ["window", "remaining / limit", "burn per minute", "runs out in", "before reset"]
      .map((label) => el("th", { text: label })))),
    el("tbody", {}, entries.map((entry) => el("tr", { data: { window: entry.window } },
      el("td", { text: entry.window }),
      el("td", { text: `${format.integer(entry.remaining)} / ${format.integer(entry.limit)}` }),
      el("td", { text: (entry.burn_per_second * 60).toFixed(1) }),
      el("td", { text: entry.seconds_left === null ? "not in use" : format.duration(entry.seconds_left), data: { field: "seconds_left" } }),
      el("td", { text: entry.seconds_left === null ? "–" : entry.before_reset ? "yes" : "no" })))));
}

function render(container, accounts, status, forecast) {
  const now = Date.now() / 1000;
  const byBackend = new Map();
  const slot = (backend) => {
    if (!byBackend.has(backend)) byBackend.set(backend, new Map());
    return byBackend.get(backend);
  };
  for (const credential of status.credentials) slot(credential.backend).set(credential.name, { credential });
  for (const account of accounts.accounts) {
    const entries = slot(account.backend);
    entries.set(account.credential, { ...(entries.get(account.credential) || {}), account });
  }
  const cards = [...byBackend.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([backend, entries]) =>
    el("article", { class: "card backend", data: { backend } },
      el("h2", { text: backend }),
      el("table", { class: "credentials" },
        el("thead", {}, el("tr", {}, ["credential", "status", "in flight", "chosen", "last status", "headroom", "windows"]
          .map((label) => el("th", { text: label })))),
        el("tbody", {}, [...entries.entries()].sort(([a], [b]) => a.localeCompare(b))
          .map(([name, { account, credential }]) => credentialRow(backend, name, account, credential, now)))),
      el("h3", { text: "Exhaustion forecast" }),
      forecastTable((forecast || []).filter((entry) => entry.backend === backend), now)));
  container.replaceChildren(
    el("h1", { text: "Pools" }),
    el("div", { class: "grid" },
      el("div", { class: "stat" }, el("div", { class: "label", text: "queue depth" }),
        el("div", { class: "value", text: accounts.queue_depth, data: { field: "queue_depth" } })),
      el("div", { class: "stat" }, el("div", { class: "label", text: "credentials" }),
        el("div", { class: "value", text: [...byBackend.values()].reduce((sum, entries) => sum + entries.size, 0), data: { field: "credential_count" } })),
      el("div", { class: "stat" }, el("div", { class: "label", text: "in flight" }),
        el("div", { class: "value", text: accounts.accounts.reduce((sum, account) => sum + account.in_flight, 0), data: { field: "in_flight_total" } }))),
    ...(cards.length ? cards : [el("p", { class: "muted", text: "No backend yet: add one with `dario backend add`." })]));
}

export function mount(container, shell) {
  let forecast = null;
  let stopped = false;
  let timers = [];
  const body = el("div", { id: "pools" });
  container.append(body);

  async function refreshForecast() {
    try {
      forecast = (await getJSON("/analytics?window=3600")).forecast;
    } catch (error) {
      shell.showFailure(error);
    }
  }
  async function refresh() {
    try {
      const [accounts, status] = await Promise.all([getJSON("/accounts"), getJSON("/status")]);
      if (stopped) return;
      render(body, accounts, status, forecast);
      container.dataset.ready = "true";
      shell.showFailure(null);
      shell.markUpdated();
    } catch (error) {
      shell.showFailure(error);
    }
  }
  refresh(); // the pool at once; the forecast (a report over the last hour) follows
  refreshForecast().then(refresh);
  timers.push(setInterval(refresh, LIVE_MS));
  timers.push(setInterval(refreshForecast, FORECAST_MS));
  return { unmount() { stopped = true; timers.forEach(clearInterval); timers = []; } };
}
