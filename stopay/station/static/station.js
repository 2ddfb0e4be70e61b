// Shared by both screens: the texts, bank names, the live connection and the case panel.
"use strict";
const BOOT = JSON.parse(document.getElementById("boot").textContent);
const T = (key, vars) => {
  let text = BOOT.texts[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) text = text.replace(`{${k}}`, v);
  return text;
};
const bankName = (code) => BOOT.bank_names[code] || code;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) node.append(child);
  return node;
}

// Server-sent events: the latest draft and case first, then each change; EventSource reconnects itself.
function connect(handlers) {
  const link = document.getElementById("link");
  const source = new EventSource("/events");
  source.onopen = () => { link.textContent = ""; document.body.dataset.live = "yes"; };
  source.onerror = () => { link.textContent = T("connection_lost"); document.body.dataset.live = "no"; };
  for (const [kind, handler] of Object.entries(handlers)) {
    source.addEventListener(kind, (event) => handler(JSON.parse(event.data)));
  }
  return source;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  return { ok: response.ok, data: await response.json() };
}

// The case as it happens: totals, each level, the banks reached, each stop and freeze, the exits.
function renderCase(section, view) {
  if (!view) { section.hidden = true; return; }
  section.hidden = false;
  const totals = el("dl", { class: "totals" },
    el("dt", {}, T("reported")), el("dd", { "data-total": "reported" }, view.reported),
    el("dt", {}, T("held")), el("dd", { "data-total": "held", class: "held" }, view.held),
    el("dt", {}, T("exited")), el("dd", { "data-total": "exited" }, view.exited));
  const levels = el("table", { class: "levels" },
    el("thead", {}, el("tr", {}, ...["level", "traced", "held", "exited"].map((k) => el("th", {}, k === "level" ? "" : T(k))))),
    el("tbody", {}, ...view.levels.map((lv) => el("tr", { "data-level": lv.level },
      el("th", {}, T("level", { n: lv.level })), el("td", {}, lv.traced), el("td", { class: "held" }, lv.held), el("td", {}, lv.exited)))));
  const orders = el("table", { class: "orders" },
    el("thead", {}, el("tr", {}, ...["level", "bank", "account", "kind", "status", "held"].map((k) => el("th", {}, k === "level" ? "" : T(k))))),
    el("tbody", {}, ...view.orders.map((o) => el("tr", { "data-bank": o.bank_code, "data-kind": o.kind, "data-status": o.status },
      el("td", {}, T("level", { n: o.level })), el("td", {}, bankName(o.bank_code)), el("td", { class: "account" }, o.account),
      el("td", {}, T("kind." + o.kind)), el("td", { class: "status " + o.status }, T("status." + o.status)),
      el("td", { class: "held" }, o.held)))));
  const banks = el("ul", { class: "banks" }, ...view.banks.map((b) =>
    el("li", { "data-bank": b.bank_code }, el("span", {}, bankName(b.bank_code)), " ", el("strong", { class: "held" }, b.held))));
  const exits = el("ul", { class: "exits" }, ...view.exits.map((e) =>
    el("li", { "data-exit": e.kind }, `${T("level", { n: e.level })} · ${bankName(e.bank_code)} · ${T("exit." + e.kind)} `, el("strong", {}, e.amount))));
  section.replaceChildren(
    el("h2", {}, T("case_progress"), " ", el("small", { class: "case-id" }, view.case_id)),
    el("p", { class: "progress" }, view.settled ? T("settled") : T("in_progress")),
    ...(view.review === "awaiting"
      ? [el("p", { class: "review", "data-review": "awaiting" }, T("awaiting_review", { n: view.awaiting_orders, amount: view.awaiting }))]
      : []),
    totals, levels,
    el("h3", {}, T("banks_reached")), banks,
    orders,
    ...(view.exits.length ? [el("h3", {}, T("exit")), exits] : []));
}
