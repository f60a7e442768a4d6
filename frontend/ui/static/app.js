// The dashboard's shell: one page at a time, chosen by the URL's fragment (#pools, #traffic, …).
import { Unauthorized } from "./util.js";
import * as pools from "./pools.js";
import * as traffic from "./traffic.js";
import * as requests from "./requests.js";
import * as sessions from "./sessions.js";
import * as config from "./config.js";

const PAGES = { pools, traffic, requests, sessions, config };
let current = null;

export function showFailure(error) {
  const node = document.getElementById("failure");
  if (error instanceof Unauthorized) return;
  if (error) {
    node.textContent = String(error.message || error);
    node.hidden = false;
  } else {
    node.hidden = true;
    node.textContent = "";
  }
}

export function markUpdated() {
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
}

function route() {
  const name = (window.location.hash || "#pools").slice(1).split("?")[0];
  const page = PAGES[name] ? name : "pools";
  if (current) current.unmount();
  showFailure(null);
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.page === page);
  const container = document.getElementById("page");
  container.replaceChildren();
  container.dataset.page = page;
  delete container.dataset.ready;
  current = PAGES[page].mount(container, { showFailure, markUpdated });
}

window.addEventListener("hashchange", route);
route();
