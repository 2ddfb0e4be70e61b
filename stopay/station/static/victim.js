// The victim's screen: each transfer as the officer keys it in, to confirm or flag; then the case.
"use strict";
const draftSection = document.getElementById("draft");
const caseSection = document.getElementById("case");

function renderDraft(draft) {
  const f = draft.fields;
  if (draft.case_id) {  // submitted: the case below shows the accounts, masked
    draftSection.replaceChildren(el("p", { class: "who" }, `${T("report_no")}: ${f.report_no || ""} · ${T("submitted")} ${draft.case_id}`));
    draftSection.dataset.version = draft.version;
    return;
  }
  const cards = draft.transfers.map((t, index) => {
    const v = t.fields;
    const row = (key, value) => el("div", { class: "row" }, el("span", { class: "label" }, T(key)), el("span", { class: "value", "data-field": key }, value));
    const card = el("article", { class: "transfer " + t.check, "data-index": index, "data-rev": t.rev },
      el("h2", {}, `${T("transfer")} ${index + 1}`),
      row("payer.bank_code", bankName(v["payer.bank_code"])),
      row("payer.number", v["payer.number"]),
      row("payee.bank_code", bankName(v["payee.bank_code"])),
      row("payee.number", v["payee.number"]),
      row("payee.holder_name", v["payee.holder_name"]),
      row("amount_minor", t.yuan || v["amount_minor"]),
      row("transferred_at", v["transferred_at"].replace("T", " ")),
      row("txn_id", v["txn_id"]),
      el("p", { class: "check-state" }, t.check === "waiting" ? T("victim_waiting") : T(t.check)));
    {
      const confirm = el("button", { class: "confirm", type: "button" }, T("confirm"));
      const flag = el("button", { class: "flag", type: "button" }, T("flag"));
      confirm.onclick = () => post("/api/check", { index, rev: t.rev, check: "confirmed" });
      flag.onclick = () => post("/api/check", { index, rev: t.rev, check: "flagged" });
      card.append(el("p", { class: "buttons" }, confirm, flag));
    }
    return card;
  });
  const head = el("p", { class: "who" }, `${T("report_no")}: ${f.report_no || ""} · ${T("victim.name")}: ${f["victim.name"] || ""}`);
  draftSection.replaceChildren(head, ...cards);
  draftSection.dataset.version = draft.version;
}

connect({ draft: renderDraft, case: (view) => renderCase(caseSection, view) });
