// The account console: sign-in, usage, audit, profile and quotas over the 7.9 API.
// User data goes into the page as text only (textContent, attribute values), never as HTML.
import * as api from "./api.js";
import { stackedColumns } from "./chart.js";
import { PROCESS_TYPES, SERVICES, STATUSES } from "./enums.js"; // made from the API's schemas
import { lang, number, setLang, t, translatePage } from "./i18n.js";

const VIEWS = ["usage", "audit", "profile", "quotas"];
const PAGE = 20;
const DAY = 86400000;

const $ = (id) => document.getElementById(id);
const state = { user: null, usage: null, audit: { offset: 0, sort: "time", direction: "DESC" } };
// Each load takes a ticket: an answer that arrives after a newer request was sent is dropped.
const tickets = { usage: 0, audit: 0 };

function element(name, text, attributes = {}) {
  const made = document.createElement(name);
  if (text !== undefined && text !== null) made.textContent = String(text);
  for (const [key, value] of Object.entries(attributes)) made.setAttribute(key, value);
  return made;
}

function row(cells, numeric = []) {
  const tr = document.createElement("tr");
  cells.forEach((cell, index) => {
    const td = cell instanceof Node ? element("td") : element("td", cell);
    if (cell instanceof Node) td.append(cell);
    if (numeric.includes(index)) td.className = "num";
    tr.append(td);
  });
  return tr;
}

function say(id, text) {
  $(id).textContent = text || "";
}

function failure(error) {
  if (error.status === 0) return t("error.network");
  return t("error.server", { status: error.status, message: error.message });
}

// ------------------------------------------------------------------ dates

function iso(date) {
  return date.toISOString().slice(0, 10);
}

function addDays(text, days) {
  return iso(new Date(Date.parse(`${text}T00:00:00Z`) + days * DAY));
}

function offsetHours() {
  return state.user ? state.user.timezone || 0 : 0;
}

function zoneName(hours = offsetHours()) {
  return hours === 0 ? "UTC" : `UTC${hours > 0 ? "+" : "-"}${Math.abs(hours)}`;
}

// Today in the user's timezone: the statistics' days are the user's local days.
function localToday() {
  return iso(new Date(Date.now() + offsetHours() * 3600000));
}

function localTime(text) {
  const moment = new Date(Date.parse(text) + offsetHours() * 3600000);
  return moment.toISOString().slice(0, 19).replace("T", " ");
}

function offsetSuffix() {
  const hours = offsetHours();
  return `${hours < 0 ? "-" : "+"}${String(Math.abs(hours)).padStart(2, "0")}:00`;
}

function periodFor(choice) {
  const today = localToday();
  const firstOfMonth = `${today.slice(0, 8)}01`;
  if (choice === "last_month") {
    const lastDay = addDays(firstOfMonth, -1);
    return { from: `${lastDay.slice(0, 8)}01`, to: lastDay };
  }
  if (choice === "last_90") return { from: addDays(today, -89), to: today };
  if (choice === "custom") return { from: $("usage-from").value, to: $("usage-to").value };
  return { from: firstOfMonth, to: today };
}

// ------------------------------------------------------------------ session and views

function signedIn() {
  return Boolean(api.token());
}

function showView(name) {
  const target = signedIn() ? (VIEWS.includes(name) ? name : "usage") : "signin";
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${target}`;
  $("nav").hidden = !signedIn();
  $("signout").hidden = !signedIn();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === target) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  return target;
}

async function route() {
  const target = showView(location.hash.slice(1));
  if (target === "signin") {
    $("signin-username").focus();
    return;
  }
  try {
    if (!state.user) await loadUser();
    if (target === "usage") await loadUsage();
    if (target === "audit") await loadAudit();
    if (target === "profile") renderProfile();
    if (target === "quotas") await loadQuotas();
  } catch (error) {
    if (error.status !== 401) say("notice", failure(error));
  }
}

async function loadUser() {
  state.user = await api.getJson("/account/info");
  $("who").textContent = `${state.user.username} · ${state.user.company_key}`;
}

function toSignIn(message) {
  state.user = null;
  state.usage = null;
  $("who").textContent = "";
  // Nothing of the last user stays in the page, not even in hidden views.
  for (const body of document.querySelectorAll("tbody")) body.replaceChildren();
  $("usage-days").tHead.replaceChildren();
  for (const id of ["usage-chart", "usage-legend", "profile-facts", "profile-attributes"]) $(id).replaceChildren();
  for (const input of document.querySelectorAll("#view-profile input, #view-audit input")) input.value = "";
  for (const message of document.querySelectorAll(".view .error, .view .caption, #audit-counters")) message.textContent = "";
  state.audit = { offset: 0, sort: "time", direction: "DESC" };
  say("notice", "");
  say("signin-message", message);
  showView("signin");
  $("signin-username").focus();
}

api.whenExpired(() => toSignIn(t("signin.expired")));

async function submitSignIn(event) {
  event.preventDefault();
  const username = $("signin-username").value.trim();
  const password = $("signin-password").value;
  if (!username || !password) {
    say("signin-message", t("signin.required"));
    return;
  }
  $("signin-submit").disabled = true;
  try {
    await api.signIn(username, password);
    $("signin-password").value = "";
    say("signin-message", "");
    if (VIEWS.includes(location.hash.slice(1))) await route();
    else location.hash = "#usage"; // the hashchange routes
  } catch (error) {
    if (error.status === 429) {
      const seconds = Number(error.headers.get("Retry-After")) || 60;
      const until = new Date(Date.now() + seconds * 1000);
      const time = until.toLocaleTimeString(lang() === "ru" ? "ru-RU" : "en-GB", { hour: "2-digit", minute: "2-digit" });
      say("signin-message", t("signin.locked", { time, minutes: Math.ceil(seconds / 60) }));
    } else if (error.status === 401) {
      say("signin-message", t("signin.wrong"));
    } else {
      say("signin-message", failure(error));
    }
  } finally {
    $("signin-submit").disabled = false;
  }
}

function signOut() {
  api.forgetToken();
  location.hash = "";
  toSignIn(t("signin.signed_out"));
}

// ------------------------------------------------------------------ usage

async function loadUsage() {
  const choice = $("usage-period").value;
  $("usage-custom").hidden = choice !== "custom";
  const period = periodFor(choice);
  if (choice === "custom" && (!period.from || !period.to || period.from > period.to)) {
    say("usage-message", t("usage.bad_period"));
    return;
  }
  say("usage-message", "");
  const ticket = ++tickets.usage;
  const body = await api.getJson("/account/statistics", period);
  if (ticket !== tickets.usage) return;
  state.usage = { period, body };
  renderUsage();
}

function renderUsage() {
  if (!state.usage) return;
  const { period, body } = state.usage;
  const byDay = new Map();
  const kinds = new Map();
  const services = new Set();
  let points = 0;
  for (const day of body.dates) {
    const values = {};
    for (const service of day.services) {
      services.add(service.service);
      for (const process of service.processes) {
        values[service.service] = (values[service.service] || 0) + process.points_per_day;
        const key = `${service.service}\u0000${process.process_type}`;
        const sums = kinds.get(key) || [0, 0, 0, 0];
        sums[0] += process.unique_points_per_day;
        sums[1] += process.points_per_day;
        sums[2] += process.elements_per_day;
        sums[3] += process.processes_per_day;
        kinds.set(key, sums);
        points += process.points_per_day;
      }
    }
    byDay.set(day.date, values);
  }
  const days = [];
  for (let date = period.from; date <= period.to; date = addDays(date, 1)) {
    days.push({ date, values: byDay.get(date) || {} });
  }
  // Services with points only: ACCOUNT's own actions (sign-ins, reports) have none.
  const order = [...services].sort().filter((service) => days.some((day) => day.values[service]));
  const caption = t("usage.caption", { from: period.from, to: period.to, days: days.length, zone: zoneName(), points: number(points) });
  say("usage-caption", caption);
  const label = t("usage.chart", { from: period.from, to: period.to });
  $("usage-chart").replaceChildren(stackedColumns(days, order, label));
  const legend = order.map((service, index) => {
    const item = element("span", null, { class: "legend-item" });
    item.append(element("span", null, { class: `swatch s${index % 8}`, "aria-hidden": "true" }), element("span", service));
    return item;
  });
  $("usage-legend").replaceChildren(...(legend.length ? legend : [element("span", t("usage.empty"))]));

  const totals = [0, 0, 0, 0];
  const kindRows = [...kinds.entries()].sort().map(([key, sums]) => {
    const [service, processType] = key.split("\u0000");
    sums.forEach((value, index) => {
      totals[index] += value;
    });
    return row([service, processType, ...sums.map(number)], [2, 3, 4, 5]);
  });
  const totalRow = row([t("usage.total"), "", ...totals.map(number)], [2, 3, 4, 5]);
  totalRow.className = "total";
  $("usage-totals").tBodies[0].replaceChildren(...kindRows, totalRow);

  const head = row([t("col.date"), ...order, t("usage.total")]);
  head.replaceChildren(...[...head.children].map((cell) => element("th", cell.textContent, { scope: "col" })));
  $("usage-days").tHead.replaceChildren(head);
  const dayRows = days.map((day) => {
    const values = order.map((service) => day.values[service] || 0);
    const numeric = values.map((_, index) => index + 1);
    return row([day.date, ...values.map(number), number(values.reduce((a, b) => a + b, 0))], [...numeric, values.length + 1]);
  });
  $("usage-days").tBodies[0].replaceChildren(...dayRows);
}

async function downloadReport() {
  const period = state.usage ? state.usage.period : periodFor($("usage-period").value);
  try {
    await api.download("/account/report", period, "report.xlsx");
  } catch (error) {
    if (error.status !== 401) say("usage-message", failure(error));
  }
}

// ------------------------------------------------------------------ audit

function fillSelect(id, values) {
  const select = $(id);
  for (const value of values) select.append(element("option", value, { value }));
}

function auditFilters() {
  const filters = {
    from: $("audit-from").value ? `${$("audit-from").value}:00${offsetSuffix()}` : "",
    to: $("audit-to").value ? `${$("audit-to").value}:00${offsetSuffix()}` : "",
    service: $("audit-service").value,
    process_type: $("audit-process-type").value,
    status: $("audit-status").value,
    operation: $("audit-operation").value.trim(),
  };
  return filters;
}

async function loadAudit() {
  if (!$("audit-from").value) {
    $("audit-from").value = `${addDays(localToday(), -6)}T00:00`;
  }
  const { offset, sort, direction } = state.audit;
  const ticket = ++tickets.audit;
  let body;
  try {
    body = await api.getJson("/account/audit", {
      ...auditFilters(),
      offset,
      limit: PAGE,
      sort_field: sort,
      sort_direction: direction,
    });
  } catch (error) {
    if (error.status !== 401) say("audit-message", error.status === 400 ? error.message : failure(error));
    return;
  }
  if (ticket !== tickets.audit) return;
  say("audit-message", "");
  renderAudit(body);
}

function fileButton(action, flow) {
  const label = t(flow === "INPUT" ? "audit.input" : "audit.output");
  const button = element("button", label, {
    type: "button",
    class: "link",
    "aria-label": t("audit.download", { flow: label, code: action.process_code }),
    "data-flow": flow,
  });
  button.addEventListener("click", async () => {
    try {
      await api.download(`/account/data/${encodeURIComponent(action.process_code)}`, { data_flow_type: flow }, "data.bin");
    } catch (error) {
      if (error.status !== 401) say("audit-message", failure(error));
    }
  });
  return button;
}

function requestsRow(action, id) {
  const table = element("table", null, { class: "grid inner" });
  const head = document.createElement("tr");
  for (const key of ["col.time", "col.operation", "col.request_code", "col.pod"]) head.append(element("th", t(key), { scope: "col" }));
  table.append(element("thead"));
  table.tHead.append(head);
  const body = element("tbody");
  for (const request of action.requests) {
    body.append(row([localTime(request.time), request.operation, request.request_code, request.pod]));
  }
  table.append(body);
  const tr = element("tr", null, { id, class: "details" });
  const td = element("td", null, { colspan: "8" });
  td.append(table);
  tr.append(td);
  return tr;
}

function renderAudit(body) {
  const rows = [];
  body.actions.forEach((action, index) => {
    const detailsId = `audit-details-${index}`;
    const toggle = element("button", "▸", {
      type: "button",
      class: "toggle",
      "aria-expanded": "false",
      "aria-controls": detailsId,
      "aria-label": t("audit.expand", { code: action.process_code }),
    });
    const files = element("span");
    if (action.input_file_exists) files.append(fileButton(action, "INPUT"));
    if (action.output_file_exists) files.append(fileButton(action, "OUTPUT"));
    const points = action.statistics.request_points_count;
    const tr = row(
      [
        toggle,
        localTime(action.time),
        action.service,
        action.process_type,
        action.statistics.calculation_info.status,
        action.process_code,
        points === null || points === undefined ? "" : number(points),
        files,
      ],
      [6],
    );
    tr.className = "action";
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      toggle.textContent = open ? "▸" : "▾";
      if (open) $(detailsId)?.remove();
      else tr.after(requestsRow(action, detailsId));
    });
    rows.push(tr);
  });
  if (!rows.length) {
    const empty = row([t("audit.none")]);
    empty.firstChild.setAttribute("colspan", "8");
    rows.push(empty);
  }
  $("audit-table").tBodies[0].replaceChildren(...rows);
  const { offset } = state.audit;
  const filtered = body.counters.filter.total;
  say(
    "audit-counters",
    t("audit.counters", {
      first: filtered ? number(offset + 1) : 0,
      last: number(offset + body.actions.length),
      filtered: number(filtered),
      overall: number(body.counters.overall.total),
    }),
  );
  $("audit-prev").disabled = offset === 0;
  $("audit-next").disabled = offset + body.actions.length >= filtered;
  for (const th of document.querySelectorAll("#audit-table th[data-sort]")) {
    if (th.dataset.sort === state.audit.sort) th.setAttribute("aria-sort", state.audit.direction === "ASC" ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  }
}

function sortBy(field) {
  const audit = state.audit;
  audit.direction = audit.sort === field && audit.direction === "ASC" ? "DESC" : "ASC";
  audit.sort = field;
  audit.offset = 0;
  loadAudit();
}

// ------------------------------------------------------------------ profile

const PROFILE_FIELDS = ["specification", "email", "phone"];

function attributeRow(attribute, index) {
  const wrapper = element("div", null, { class: "attribute" });
  const keyId = `attribute-key-${index}`;
  const valueId = `attribute-value-${index}`;
  const key = element("input", null, { id: keyId, class: "attribute-key" });
  key.value = attribute.key;
  const value = element("input", null, { id: valueId, class: "attribute-value" });
  value.value = attribute.value;
  const remove = element("button", t("profile.remove"), {
    type: "button",
    "aria-label": t("profile.remove_label", { n: index + 1 }),
  });
  remove.addEventListener("click", () => wrapper.remove());
  wrapper.append(
    element("label", `${t("profile.key")} ${index + 1}`, { for: keyId }),
    key,
    element("label", `${t("profile.value")} ${index + 1}`, { for: valueId }),
    value,
    remove,
  );
  return wrapper;
}

function renderProfile() {
  const user = state.user;
  if (!user) return;
  const facts = [
    ["profile.username", user.username],
    ["profile.company", user.company_key],
    ["profile.roles", (user.roles || []).join(", ")],
    ["profile.timezone", zoneName(user.timezone || 0)],
    ["profile.created", user.creation_date ? localTime(user.creation_date) : ""],
    ["profile.edited", user.edit_date ? localTime(user.edit_date) : ""],
  ];
  $("profile-facts").replaceChildren(...facts.flatMap(([key, value]) => [element("dt", t(key)), element("dd", value)]));
  for (const name of PROFILE_FIELDS) {
    $(`profile-${name}`).value = user[name] || "";
    say(`profile-${name}-error`, "");
  }
  say("profile-attributes-error", "");
  $("profile-attributes").replaceChildren(...(user.attributes || []).map(attributeRow));
}

// "Invalid request: email: Not a valid email address.; phone: ..." -> {email: "...", phone: "..."}
function messagesByField(message) {
  const found = {};
  const text = message.replace(/^Invalid request:\s*/, "");
  for (const part of text.split("; ")) {
    const colon = part.indexOf(": ");
    if (colon < 0) continue;
    const field = part.slice(0, colon).split(".")[0];
    found[field] = found[field] ? `${found[field]} ${part.slice(colon + 2)}` : part.slice(colon + 2);
  }
  return found;
}

async function saveProfile(event) {
  event.preventDefault();
  const body = {};
  for (const name of PROFILE_FIELDS) {
    const value = $(`profile-${name}`).value.trim();
    body[name] = value === "" ? null : value;
    say(`profile-${name}-error`, "");
  }
  say("profile-attributes-error", "");
  body.attributes = [...document.querySelectorAll("#profile-attributes .attribute")]
    .map((item) => ({ key: item.querySelector(".attribute-key").value, value: item.querySelector(".attribute-value").value }))
    .filter((attribute) => attribute.key !== "" || attribute.value !== "");
  try {
    state.user = await api.putJson("/account/info", body);
    renderProfile();
    say("profile-message", t("profile.saved"));
  } catch (error) {
    if (error.status === 400) {
      const byField = messagesByField(error.message);
      for (const [field, text] of Object.entries(byField)) {
        if ($(`profile-${field}-error`)) say(`profile-${field}-error`, text);
      }
      const known = Object.keys(byField).some((field) => $(`profile-${field}-error`));
      say("profile-message", known ? t("profile.invalid") : error.message);
      const first = PROFILE_FIELDS.find((field) => byField[field]);
      if (first) $(`profile-${first}`).focus();
    } else if (error.status !== 401) {
      say("profile-message", failure(error));
    }
  }
}

async function savePassword(event) {
  event.preventDefault();
  say("password-current-error", "");
  say("password-new-error", "");
  say("password-message", "");
  if ($("password-new").value !== $("password-repeat").value) {
    say("password-message", t("password.mismatch"));
    return;
  }
  try {
    await api.changePassword($("password-current").value, $("password-new").value);
    for (const id of ["password-current", "password-new", "password-repeat"]) $(id).value = "";
    say("password-message", t("password.changed"));
  } catch (error) {
    if (error.status === 403) say("password-current-error", error.message);
    else if (error.status === 400) {
      const byField = messagesByField(error.message);
      say("password-new-error", byField.new_password || "");
      say("password-current-error", byField.current_password || "");
      if (!byField.new_password && !byField.current_password) say("password-message", error.message);
    } else if (error.status !== 401) say("password-message", failure(error));
  }
}

// ------------------------------------------------------------------ quotas

async function loadQuotas() {
  let body;
  let usage;
  try {
    [body, usage] = await Promise.all([api.getJson("/account/quota"), api.getJson("/account/quota/usage")]);
  } catch (error) {
    if (error.status === 404) {
      $("quotas-table").tBodies[0].replaceChildren();
      say("quotas-message", t("quotas.none"));
      return;
    }
    throw error;
  }
  say("quotas-message", t("quotas.note", { day: usage.day, zone: zoneName(usage.timezone) }));
  // Today's use by service and process type (the caller's local day).
  const today = new Map();
  for (const service of usage.services) {
    for (const process of service.processes) today.set(`${service.service}/${process.process_type}`, process);
  }
  const rows = [];
  for (const service of body.base.services) {
    for (const quota of service.processes) {
      const used = today.get(`${service.service}/${quota.process_type}`);
      rows.push(
        row(
          [
            service.service,
            quota.process_type,
            number(quota.points_per_request),
            number(quota.points_per_day),
            number(quota.max_concurrent_execution),
            used ? `${number(used.points_used)} / ${number(used.points_per_day)}` : "–",
            used ? number(used.points_reserved) : "–",
            used ? `${number(used.active_reservations)} / ${number(used.max_concurrent_execution)}` : "–",
          ],
          [2, 3, 4, 5, 6, 7],
        ),
      );
    }
  }
  $("quotas-table").tBodies[0].replaceChildren(...rows);
}

// ------------------------------------------------------------------ wiring

function applyLanguage(value) {
  setLang(value);
  $("lang").value = lang();
  translatePage();
  if (state.usage) renderUsage();
  if (state.user && !$("view-profile").hidden) renderProfile();
  if (!$("view-audit").hidden && signedIn()) loadAudit();
  if (!$("view-quotas").hidden && signedIn()) loadQuotas();
}

function start() {
  fillSelect("audit-service", SERVICES);
  fillSelect("audit-process-type", PROCESS_TYPES);
  fillSelect("audit-status", STATUSES);
  applyLanguage(lang());
  $("lang").addEventListener("change", () => applyLanguage($("lang").value));
  $("signin-form").addEventListener("submit", submitSignIn);
  $("signout").addEventListener("click", signOut);
  $("usage-period").addEventListener("change", () => {
    $("usage-custom").hidden = $("usage-period").value !== "custom";
    if ($("usage-period").value === "custom" && state.usage) {
      $("usage-from").value = $("usage-from").value || state.usage.period.from;
      $("usage-to").value = $("usage-to").value || state.usage.period.to;
    }
    loadUsage().catch((error) => error.status !== 401 && say("usage-message", failure(error)));
  });
  $("usage-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadUsage().catch((error) => error.status !== 401 && say("usage-message", failure(error)));
  });
  $("usage-report").addEventListener("click", downloadReport);
  $("audit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.audit.offset = 0;
    loadAudit();
  });
  for (const th of document.querySelectorAll("#audit-table th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => sortBy(th.dataset.sort));
  }
  $("audit-prev").addEventListener("click", () => {
    state.audit.offset = Math.max(0, state.audit.offset - PAGE);
    loadAudit();
  });
  $("audit-next").addEventListener("click", () => {
    state.audit.offset += PAGE;
    loadAudit();
  });
  $("profile-form").addEventListener("submit", saveProfile);
  $("profile-add-attribute").addEventListener("click", () => {
    const count = document.querySelectorAll("#profile-attributes .attribute").length;
    const added = attributeRow({ key: "", value: "" }, count);
    $("profile-attributes").append(added);
    added.querySelector("input").focus();
  });
  $("password-form").addEventListener("submit", savePassword);
  window.addEventListener("hashchange", route);
  route();
}

start();
