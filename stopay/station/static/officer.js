// The officer's screen: the form, saved with the station at every keystroke (a reload keeps it), shown
// live on the victim's screen; submitted once the victim confirmed every transfer.
"use strict";
const form = document.getElementById("entry");
const list = document.getElementById("transfers");
const template = document.getElementById("transfer-template");
const submitButton = document.getElementById("submit");
const newButton = document.getElementById("new");
const formError = document.getElementById("form-error");
const readiness = document.getElementById("readiness");
let current = null;  // the draft as the station last told it
let saving = null;

for (const name of BOOT.fraud_types) form.fraud_type.append(el("option", { value: name, textContent: T("fraud." + name.replace("FRAUD_TYPE_", "")) }));
form.fraud_type.prepend(el("option", { value: "", textContent: "—" }));
const bankList = document.getElementById("bank-list");
for (const code of BOOT.banks) bankList.append(el("option", { value: code, textContent: bankName(code) }));

function addTransfer(values) {
  const node = template.content.firstElementChild.cloneNode(true);
  const payee = node.querySelector(".payee-bank");
  payee.append(el("option", { value: "", textContent: "—" }));
  for (const code of BOOT.banks) payee.append(el("option", { value: code, textContent: `${bankName(code)} (${code})` }));
  for (const input of node.querySelectorAll("[data-name]")) input.value = (values || {})[input.dataset.name] || "";
  node.querySelector(".remove").onclick = () => { if (list.children.length > 1) { node.remove(); renumber(); save(); } };
  list.append(node);
  renumber();
}

function renumber() {
  [...list.children].forEach((node, i) => {
    node.querySelector(".number").textContent = `${T("transfer")} ${i + 1}`;
    for (const input of node.querySelectorAll("[data-name]")) input.name = `transfers[${i}].${input.dataset.name}`;
  });
}

function formValues() {
  const values = { transfers: [] };
  for (const name of ["report_no", "victim.name", "victim.id_number", "victim.phone", "fraud_type", "narrative"]) values[name] = form.elements[name].value;
  for (const node of list.children) {
    const t = {};
    for (const input of node.querySelectorAll("[data-name]")) t[input.dataset.name] = input.value;
    values.transfers.push(t);
  }
  return values;
}

function fill(draft) {
  for (const [name, value] of Object.entries(draft.fields)) if (form.elements[name]) form.elements[name].value = value;
  list.replaceChildren();
  for (const t of draft.transfers) addTransfer(t.fields);
}

function showErrors(violations) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  formError.textContent = "";
  for (const [field, description] of Object.entries(violations || {})) {
    const input = form.elements[field];
    const index = field.match(/^transfers\[(\d+)\]/);
    const target = index ? list.children[Number(index[1])] : null;
    const note = el("span", { class: "field-error", "data-field": field }, description);
    if (input) { input.setAttribute("aria-invalid", "true"); input.closest("label").append(note); }
    else if (target) target.append(note);
    else formError.append(el("span", { class: "field-error", "data-field": field }, `${field}: ${description}`), " ");
  }
}

function showDraft(draft) {
  current = draft;
  [...list.children].forEach((node, i) => {
    const t = draft.transfers[i];
    const mark = node.querySelector(".check");
    mark.textContent = t ? T(t.check) : "";
    mark.className = "check " + (t ? t.check : "");
  });
  const submitted = Boolean(draft.case_id);
  submitButton.disabled = !draft.confirmed || submitted;
  readiness.textContent = submitted ? `${T("submitted")} ${draft.case_id}` : (draft.confirmed ? T("all_confirmed") : T("not_all_confirmed"));
  newButton.hidden = !submitted;
  for (const input of form.querySelectorAll("input, select")) input.disabled = submitted;
}

async function save() {
  if (saving) clearTimeout(saving);
  saving = setTimeout(async () => {
    saving = null;
    const { ok, data } = await post("/api/draft", formValues());
    if (!ok) showErrors(data.violations);
  }, 80);
}

form.addEventListener("input", save);
form.addEventListener("change", save);
document.getElementById("add").onclick = () => { addTransfer({}); save(); };
submitButton.onclick = async () => {
  submitButton.disabled = true;
  const { ok, data } = await post("/api/submit");
  if (ok) { showErrors({}); return; }
  showErrors(data.violations);
  if (data.message) formError.append(data.message);
  submitButton.disabled = !(current && current.confirmed);
};
newButton.onclick = async () => { const { data } = await post("/api/new"); fill(data.draft); showDraft(data.draft); showErrors({}); };

(async () => {
  const response = await fetch("/api/state");
  const state = await response.json();
  fill(state.draft);
  showDraft(state.draft);
  connect({ draft: showDraft, case: (view) => renderCase(document.getElementById("case"), view) });
})();
