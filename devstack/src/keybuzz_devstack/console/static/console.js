// KeyBuzz development console. The page talks only to the console (same origin):
// /api/console/… for its own reads, /api/<service>/… proxied with a JWT minted server-side.
// Every value from the services is put in the page with textContent, never as HTML.
"use strict";

const REFRESH_MS = 2500;
const TENANT_KEY = "keybuzz-console-tenant";
const REASONS = {
  access_denied: "the seller cancelled on {name}'s consent page",
  browser_not_bound: "this browser did not start the connection (open the console at 127.0.0.1, cookies on)",
  browser_mismatch: "the connection was started from another browser",
  state_expired: "the authorization link expired; connect again",
  state_already_used: "this authorization link was already used",
  invalid_state: "the authorization link is unknown",
  seller_already_connected: "this {name} seller is connected to another tenant",
  authorization_code_rejected: "{name} refused the authorization code; connect again",
  amazon_unavailable: "{name} (the sandbox) did not answer; retry",
  vault_unavailable: "Vault was unavailable: nothing was connected; retry",
  app_credentials_missing: "the {name} app credentials are not in Vault",
};

const state = {
  tenant: localStorage.getItem(TENANT_KEY) || "",
  tenants: [],
  catalogue: null,
  country: "FR",
  sellerId: null,
  inbound: null,
  jobId: null,
  orderPages: 1,
  openTicket: null,
  refreshing: false,
  shown: {},
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function definitions(pairs) {
  return el("dl", {}, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function when(text) {
  return text ? new Date(text).toLocaleString() : "—";
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (state.tenant) headers["X-Tenant-Id"] = state.tenant;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-KeyBuzz-Console"] = "1";  // the console refuses changes without it
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (failure) {
    throw new ApiError(0, `the console did not answer (${failure.message}); is it running?`);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const message = (data && (data.message || data.detail)) || text || response.statusText;
    throw new ApiError(response.status, `${response.status}: ${message}`);
  }
  return data;
}

function showError(id, failure) {
  const node = $(id);
  if (!failure) { node.hidden = true; node.textContent = ""; return; }
  node.hidden = false;
  node.textContent = failure.message || String(failure);
}

// Rebuild a panel only when its data changed: keeps keyboard focus and screen readers calm.
function render(key, data, draw) {
  const json = JSON.stringify(data);
  if (state.shown[key] === json) return;
  state.shown[key] = json;
  draw(data);
}

// --- the callback's outcome --------------------------------------------------------

function showOutcome() {
  const query = new URLSearchParams(location.search);
  const status = query.get("status");
  if (!status) return;
  // The callback lands on …/<marketplace>; its name comes from the catalogue once loaded.
  const code = location.pathname.split("/").pop();
  const known = (state.catalogue || []).find((m) => m.marketplace === code);
  const name = known ? known.displayName : code;
  const box = $("outcome");
  box.hidden = false;
  if (status === "connected") {
    box.className = "ok";
    box.textContent = `${name} connected: the backfill of the seller's orders starts now.`;
  } else {
    const reason = query.get("reason") || "unknown";
    const why = REASONS[reason] ? REASONS[reason].replaceAll("{name}", name) : "see the oauth service's log";
    box.className = "failed";
    box.setAttribute("role", "alert");
    box.textContent = `${name} connection failed (${reason}): ${why}.`;
  }
}

// --- tenant ------------------------------------------------------------------------

async function loadTenants() {
  const select = $("tenant");
  try {
    const { tenants } = await api("/api/console/tenants");
    state.tenants = tenants;
    select.replaceChildren(el("option", { value: "" }, "— pick a tenant —"),
      ...tenants.map((t) => el("option", { value: t.id }, `${t.id} — ${t.name} (${t.plan}, ${t.status}, ${t.country || "no country"})`)));
    if (tenants.some((t) => t.id === state.tenant)) select.value = state.tenant;
    else state.tenant = "";
    showError("tenant-error", null);
  } catch (failure) {
    select.replaceChildren(el("option", { value: "" }, "tenants unavailable"));
    showError("tenant-error", failure);
  }
  pickTenant(select.value);
}

function pickTenant(tenant) {
  state.tenant = tenant;
  localStorage.setItem(TENANT_KEY, tenant);
  const chosen = state.tenants.find((t) => t.id === tenant);
  state.country = (chosen && chosen.country) || "FR";
  Object.assign(state, { sellerId: null, inbound: null, jobId: null, orderPages: 1, openTicket: null, shown: {} });
  for (const id of ["tenant-details", "backfill-details", "order-detail", "ticket-detail"]) $(id).replaceChildren();
  for (const m of state.catalogue || []) $(`${m.marketplace}-details`).replaceChildren();
  $("orders").tBodies[0].replaceChildren();
  $("tickets").replaceChildren();
  for (const id of ["orders-summary", "tickets-summary"]) $(id).textContent = tenant ? "Loading…" : "No tenant picked.";
  refresh();
}

async function refreshTenant() {
  const data = await api(`/api/tenant-sync/v1/tenants/status/${encodeURIComponent(state.tenant)}`);
  const addresses = data.inboundAddresses || [];
  const ready = addresses.filter((a) => a.receiving);
  state.inbound = ready.find((a) => a.country === state.country) || ready[0] || null;
  render("tenant", data, () => {
    $("tenant-details").replaceChildren(definitions([
      ["Marketplace copy", data.marketplace.exists ? `yes (${data.marketplace.status})` : "not synced yet"],
      ["In sync with the product", data.inSync ? "yes" : "no"],
      // An address is given out only once the poller's MX takes its mail (receiving).
      ["Inbound addresses", addresses.length ? el("ul", {}, addresses.map((a) => a.receiving
        ? el("li", {}, `${a.email} `, el("span", { class: "badge" }, a.status))
        : el("li", {}, `${a.marketplace} ${a.country}: being set up (the mail server does not take its mail yet) `, el("span", { class: "badge" }, a.status)))) : "none: sync the tenant to create one"],
    ]));
  });
}

// --- marketplace connections: built from oauth's catalogue --------------------------
// GET /api/oauth/v1/marketplaces says what a tenant can connect, how (a redirect to the
// marketplace's consent page, or a form of the connector's declared fields) and its
// limits: this page names no marketplace.

const LINKED = ["CONNECTED", "REAUTH_REQUIRED", "ERROR"];

async function refreshConnections() {
  if (!state.catalogue) {
    const { marketplaces } = await api("/api/oauth/v1/marketplaces");
    state.catalogue = marketplaces;
    drawConnections(marketplaces);
    fillMarketplaceFilter(marketplaces);
    showOutcome();
  }
  // Its own alert: a refresh that succeeds must not wipe what the seller's last action was told.
  await Promise.all(state.catalogue.map((m) => run(`${m.marketplace}-status-error`, () => refreshConnection(m))));
}

function drawConnections(marketplaces) {
  $("connections").replaceChildren(...marketplaces.map((m) => {
    const code = m.marketplace;
    const actions = m.connectionKind === "credentials"
      ? credentialForm(m)
      : el("p", {}, button(`${code}-connect`, `Connect ${m.displayName}`, code, () => startRedirect(m)), " ",
        button(`${code}-disconnect`, "Disconnect", code, () => disconnect(m)));
    return el("article", { class: "connection", id: `${code}-connection`, "aria-labelledby": `${code}-title` },
      el("h3", { id: `${code}-title` }, `${m.displayName} connection`),
      el("p", {}, "Status: ", el("strong", { id: `${code}-status` }, "—")),
      el("div", { id: `${code}-details` }),
      ...(m.inboundAddressSetup
        ? [el("p", { class: "inbound", id: `${code}-inbound` }, "Buyers' e-mails: ", m.inboundAddressSetup)]
        : []),
      actions,
      el("p", { class: "error", id: `${code}-error`, role: "alert", hidden: "" }),
      el("p", { class: "error", id: `${code}-status-error`, role: "alert", hidden: "" }));
  }));
}

function button(id, label, code, action) {
  const node = el("button", { type: "button", id }, label);
  node.addEventListener("click", async () => {
    node.disabled = true;
    await run(`${code}-error`, action);
    node.disabled = false;
    await refresh();
  });
  return node;
}

// One input per declared field: its label, a hidden input for a secret, its length.
function credentialForm(m) {
  const code = m.marketplace;
  const inputs = m.fields.map((f) => {
    const attrs = { id: `${code}-field-${f.name}`, name: f.name, type: "text", required: "", maxlength: String(f.maxLength), spellcheck: "false" };
    if (f.secret) Object.assign(attrs, { type: "password", autocomplete: "new-password" });
    if (f.format) attrs.title = f.format;
    return el("p", {}, el("label", { for: attrs.id }, f.label), " ", el("input", attrs),
      f.format ? el("small", {}, ` ${f.format}`) : null);
  });
  const submit = el("button", { type: "submit", id: `${code}-connect` }, `Connect ${m.displayName}`);
  const form = el("form", { id: `${code}-form`, autocomplete: "off" }, inputs,
    el("p", {}, submit, " ", button(`${code}-disconnect`, "Disconnect", code, () => disconnect(m))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    await run(`${code}-error`, () => connectWithForm(m, form));
    submit.disabled = false;
    await refresh();
  });
  return form;
}

async function refreshConnection(m) {
  const code = m.marketplace;
  const data = await api(`/api/oauth/v1/marketplaces/${code}/status`);
  if (m.connectionKind === "redirect" && data.status === "CONNECTED") state.sellerId = data.sellerId;
  $(`${code}-status`).textContent = data.status;
  $(`${code}-disconnect`).disabled = !LINKED.includes(data.status);
  render(`connection-${code}`, data, () => {
    $(`${code}-details`).replaceChildren(definitions([
      ["Account", data.sellerId || data.shopId],
      ["Marketplaces", (data.marketplaces || []).map((s) => `${s.code} (${s.id})`).join(", ")],
      ["Connected at", data.connectedAt && when(data.connectedAt)],
      ["Credentials in Vault", data.credentialsVerified === null || data.credentialsVerified === undefined ? null : data.credentialsVerified ? "verified" : "missing"],
      ["Last error", data.lastError],
    ]));
  });
}

async function startRedirect(m) {
  const { authUrl } = await api(`/api/oauth/v1/marketplaces/${m.marketplace}/oauth/start`, { method: "POST", body: { marketplace: state.country } });
  location.assign(authUrl); // the marketplace's consent page (the sandbox); it sends the seller back here
}

async function connectWithForm(m, form) {
  const body = {};
  for (const f of m.fields) {
    const value = form.elements[f.name].value;
    body[f.name] = f.secret ? value : value.trim();
  }
  const connected = await api(`/api/oauth/v1/marketplaces/${m.marketplace}/connection`, { method: "POST", body });
  for (const f of m.fields.filter((f) => f.secret)) form.elements[f.name].value = ""; // Vault only: the page does not keep it
  const box = $("outcome");
  box.hidden = false;
  box.className = "ok";
  box.removeAttribute("role");
  box.textContent = `${connected.marketplaceType} shop ${connected.shopId} connected.`;
}

async function disconnect(m) {
  if (!confirm(`Disconnect ${m.displayName} from ${state.tenant}? Its credentials are deleted from Vault.`)) return;
  await api(`/api/oauth/v1/marketplaces/${m.marketplace}/connection`, { method: "DELETE" });
}

// The tickets' filter: one option per marketplace of the catalogue (rows say it in upper case).
function fillMarketplaceFilter(marketplaces) {
  const select = $("ticket-marketplace");
  select.replaceChildren(el("option", { value: "" }, "all"),
    ...marketplaces.map((m) => el("option", { value: m.marketplace.toUpperCase() }, m.displayName)));
}

// --- backfill ----------------------------------------------------------------------

async function refreshBackfill() {
  if (!state.jobId || state.shownJobDone) {
    const { jobs } = await api("/api/orders/v1/orders/backfill?limit=1");
    const jobId = jobs.length ? jobs[0].jobId : null;
    if (jobId !== state.jobId) state.shownJobDone = false;
    state.jobId = jobId;
  }
  if (!state.jobId) {
    $("backfill-status").textContent = "no backfill yet";
    return;
  }
  const job = await api(`/api/orders/v1/orders/backfill/${encodeURIComponent(state.jobId)}`);
  state.shownJobDone = job.status !== "RUNNING";
  $("backfill-status").textContent = job.status;
  const bar = $("backfill-progress");
  bar.value = job.status === "COMPLETED" ? 1 : job.progress;
  bar.textContent = `${Math.round(bar.value * 100)} %`;
  render("backfill", job, () => {
    $("backfill-details").replaceChildren(definitions([
      ["Orders fetched", `${job.orders} (${job.created} new, ${job.updated} updated, ${job.unchanged} unchanged, ${job.cancelled} cancelled)`],
      ["Pages", job.pages],
      ["Errors", job.errors],
      ["Rate-limit waits", job.rateLimitWaits],
      ["Window", `last ${job.days} days, from ${when(job.createdAfter)}`],
      ["Started", `${when(job.startedAt)} (${job.trigger})`],
      ["Finished", job.finishedAt && when(job.finishedAt)],
      ["Time left", job.status === "RUNNING" && job.etaSeconds !== null ? `about ${Math.ceil(job.etaSeconds)} s` : null],
      ["Last error", job.lastError],
      ["Reason", job.reason],
    ]));
  });
}

async function startBackfill() {
  const job = await api("/api/orders/v1/orders/backfill", { method: "POST", body: { days: 90 } });
  state.jobId = job.jobId;
  state.shownJobDone = false;
}

// --- orders ------------------------------------------------------------------------

async function refreshOrders() {
  const orders = [];
  let cursor = null;
  for (let page = 0; page < state.orderPages; page += 1) {
    const query = new URLSearchParams({ limit: "25" });
    if (cursor) query.set("cursor", cursor);
    const data = await api(`/api/orders/v1/orders?${query}`);
    orders.push(...data.orders);
    cursor = data.nextCursor;
    if (!cursor) break;
  }
  $("more-orders").hidden = !cursor;
  render("orders", orders, () => {
    $("orders-summary").textContent = orders.length
      ? `${orders.length}${cursor ? "+" : ""} orders, newest first.`
      : "No orders yet: connect a marketplace, the backfill imports them.";
    $("orders").tBodies[0].replaceChildren(...orders.map((o) => el("tr", {},
      el("td", {}, el("button", { type: "button", class: "link", onclick: () => run("orders-error", () => showOrder(o.externalOrderId)) }, o.externalOrderId)),
      el("td", {}, when(o.orderDate)),
      el("td", {}, o.orderStatus, o.deliveryStatus ? ` / ${o.deliveryStatus}` : ""),
      el("td", {}, o.totalAmount ? `${o.totalAmount} ${o.currency || ""}` : "—"),
      el("td", {}, o.customerName || "—"))));
  });
}

async function showOrder(orderId) {
  const order = await api(`/api/orders/v1/orders/${encodeURIComponent(orderId)}`);
  $("order-detail").replaceChildren(
    el("h3", {}, `Order ${order.externalOrderId}`),
    definitions([
      ["Status", `${order.orderStatus} (Amazon: ${order.amazonStatus || "—"})`],
      ["Ordered", when(order.orderDate)],
      ["Customer", [order.customerName, order.customerEmail].filter(Boolean).join(" — ")],
      ["Total", order.totalAmount && `${order.totalAmount} ${order.currency || ""}`],
      ["Carrier", [order.carrier, order.trackingCode].filter(Boolean).join(" ")],
    ]),
    el("ul", {}, (order.items || []).map((i) => el("li", {}, `${i.quantity} × ${i.title || i.sku || i.asin} `, i.unitPrice ? `(${i.unitPrice} ${i.currency || ""})` : ""))));
}

// --- tickets -----------------------------------------------------------------------

const TICKET_ORDER = {
  lastMessageAt: "latest activity first",
  respondBy: "soonest deadline first (tickets waiting for an answer)",
};

async function refreshTickets() {
  const sort = $("ticket-sort").value;
  const query = new URLSearchParams({ limit: "50", sort });
  const chosen = ticketFilters();
  for (const [name, select] of chosen) query.set(name, select.value);
  const data = await api(`/api/poller/v1/tickets?${query}`);
  const tickets = data.items;
  const where = chosen.map(([name, select]) => ` ${FILTER_WORDS[name]} ${select.selectedOptions[0].textContent}`).join(",");
  render("tickets", { sort, where, tickets }, () => {
    $("tickets-summary").textContent = tickets.length
      ? `${plural(tickets.length, "ticket")}${where}, ${TICKET_ORDER[sort]}.`
      : chosen.length
        ? `No tickets${where}.`
        : "No tickets yet: buyer messages relayed to the inbound address become tickets.";
    $("tickets").replaceChildren(...tickets.map((t) => el("li", {},
      el("span", { class: "badge marketplace" }, marketplaceName(t.marketplace)), " ",
      el("button", { type: "button", class: "link", onclick: () => { state.openTicket = t.id; run("tickets-error", refreshOpenTicket); } }, t.subject),
      ` — ${t.orderId ? `order ${t.orderId}, ` : ""}${plural(t.messageCount, "message")}, `,
      el("span", { class: "badge" }, t.status), ` last ${when(t.lastMessageAt)} `, deadline(t), " ", topics(t))));
  });
  await refreshOpenTicket();
}

// The list's filters (the tickets API's ?marketplace=, ?topic=, ?language=), those chosen.
const FILTER_WORDS = { marketplace: "on", topic: "about", language: "in" };

function ticketFilters() {
  return Object.keys(FILTER_WORDS).map((name) => [name, $(`ticket-${name}`)]).filter(([, select]) => select.value);
}

// The topic and language filters: the taxonomy's topics, the languages we serve and `und`.
const LANGUAGES = ["fr", "de", "es", "it", "en", "pl", "nl", "pt", "und"];

function fillTopicFilters() {
  $("ticket-topic").replaceChildren(el("option", { value: "" }, "all"),
    ...Object.entries(TOPIC_NAMES).map(([value, name]) => el("option", { value }, name)));
  $("ticket-language").replaceChildren(el("option", { value: "" }, "all"),
    ...LANGUAGES.map((value) => el("option", { value }, value === "und" ? "undetermined" : value)));
}

// A marketplace value as the filter names it (the catalogue's display name).
function marketplaceName(value) {
  const option = [...$("ticket-marketplace").options].find((o) => o.value === value);
  return option ? option.textContent : value;
}

// What the ticket is about and in which language (docs/CONTRACTS.md, "Ticket topics"), each
// with where it came from: the marketplace's word, or read from the buyer's words.
const TOPIC_NAMES = {
  WHERE_IS_MY_ORDER: "where is my order",
  RETURN_OR_REFUND: "return or refund",
  DAMAGED_OR_WRONG_ITEM: "damaged or wrong item",
  CANCELLATION: "cancellation",
  INVOICE_REQUEST: "invoice request",
  PRODUCT_QUESTION: "product question",
  ORDER_CHANGE: "order change",
  OTHER: "other",
};

function topicText(ticket) {
  if (!ticket.topic) return null;
  return `${TOPIC_NAMES[ticket.topic] || ticket.topic} (${ticket.topicSource === "marketplace" ? "the marketplace's" : "read from the buyer's words"})`;
}

function languageText(ticket) {
  if (!ticket.language) return null;
  const sure = ticket.languageConfidence === null || ticket.languageConfidence === undefined ? "" : `, ${Math.round(ticket.languageConfidence * 100)} % sure`;
  const name = ticket.language === "und" ? "undetermined" : ticket.language;
  return `${name} (${ticket.languageSource === "marketplace" ? "the marketplace's" : `detected${sure}`})`;
}

function topics(ticket) {
  if (!ticket.topic && !ticket.language) return null;
  return el("span", { class: "topics" },
    ticket.topic ? el("span", { class: "badge topic", title: topicText(ticket) }, TOPIC_NAMES[ticket.topic] || ticket.topic) : null, " ",
    ticket.language ? el("span", { class: "badge language", title: languageText(ticket) }, ticket.language) : null);
}

// The marketplace's response deadline: the state, and the time while it waits for the seller.
function deadline(ticket) {
  const response = ticket.responseState;
  if (!response) return null;
  const by = ticket.respondBy ? ` · answer by ${when(ticket.respondBy)}` : "";
  return el("span", { class: `deadline ${response.toLowerCase()}` }, el("span", { class: "badge" }, response), by);
}

async function markNoResponseNeeded(ticketId) {
  await api(`/api/poller/v1/tickets/${encodeURIComponent(ticketId)}/no-response-needed`, { method: "POST" });
  state.shown = {};
  await refreshTickets();
}

// Replies are delivered by another part of the system: show their delivery status when present.
function deliveryOf(message) {
  return message.deliveryStatus || message.delivery_status || (message.direction === "outbound" ? message.status : null);
}

// How long a buyer's mail took from our MX to the ticket (null: it came another way).
function arrivalLag(message) {
  const lag = message.arrivalLagSeconds;
  if (lag === null || lag === undefined) return null;
  const text = lag < 10 ? lag.toFixed(2) : lag.toFixed(0);
  return el("span", { class: "lag", title: `accepted by the MX at ${when(message.acceptedAt)}` }, ` · arrived ${text} s after the MX accepted it`);
}

async function refreshOpenTicket() {
  if (!state.openTicket) return;
  const ticket = await api(`/api/poller/v1/tickets/${encodeURIComponent(state.openTicket)}`);
  render("ticket", ticket, () => {
    $("ticket-detail").replaceChildren(
      el("h3", {}, ticket.subject),
      definitions([["Buyer", [ticket.buyerName, ticket.buyerEmail].filter(Boolean).join(" — ")], ["Order", ticket.orderId], ["Status", ticket.status], ["Topic", topicText(ticket)], ["Language", languageText(ticket)]]),
      el("p", { class: "response" }, "Response: ", deadline(ticket),
        ["AWAITING_REPLY", "OVERDUE"].includes(ticket.responseState)
          ? el("button", { type: "button", id: "no-response-needed", onclick: () => run("tickets-error", () => markNoResponseNeeded(ticket.id)) }, "No response needed")
          : null),
      ticket.marketplaceMark ? el("p", { class: "mark" }, ticket.marketplaceMark.note, " ",
        ticket.marketplaceMark.url ? el("a", { href: ticket.marketplaceMark.url, target: "_blank", rel: "noopener" }, "Open in Seller Central") : null) : null,
      ...(ticket.messages || []).map((m) => {
        const direction = (m.direction || "").toLowerCase();
        return el("article", { class: `message ${direction}` },
          el("p", {}, el("strong", {}, `${direction || "message"} `), el("span", { class: "badge" }, deliveryOf(m) || (direction === "inbound" ? "received" : "—")), ` ${when(m.sentAt || m.receivedAt)}`, arrivalLag(m)),
          el("pre", {}, m.body),
          (m.attachments || []).length ? el("p", {}, `Attachments: ${m.attachments.map((a) => a.filename).join(", ")}`) : null);
      }));
  });
}

async function sendBuyerMessage() {
  if (!state.sellerId || !state.inbound) throw new Error("connect the sandbox's seller (a consent marketplace) and sync the tenant (inbound address) first");
  const sent = await api("/api/console/buyer-messages", { method: "POST", body: { sellingPartnerId: state.sellerId, to: state.inbound.email, count: 1 } });
  $("tickets-summary").textContent = `The sandbox relayed ${plural(sent.sent.length, "buyer message")}; they show here once the poller has read the mailbox.`;
}

// --- wiring ------------------------------------------------------------------------

async function run(errorId, action) {
  try {
    await action();
    showError(errorId, null);
  } catch (failure) {
    showError(errorId, failure);
  }
}

async function refresh() {
  const picked = Boolean(state.tenant);
  for (const id of ["sync-tenant", "start-backfill", "poll-now"]) $(id).disabled = !picked;
  for (const m of state.catalogue || []) $(`${m.marketplace}-connect`).disabled = !picked;
  if (!picked || state.refreshing) return;
  state.refreshing = true;
  try {
    await Promise.all([
      run("tenant-error", refreshTenant),
      run("connections-error", refreshConnections),
      run("backfill-error", refreshBackfill),
      run("orders-error", refreshOrders),
      run("tickets-error", refreshTickets),
    ]);
    $("send-buyer-message").disabled = !(state.sellerId && state.inbound);
  } finally {
    state.refreshing = false;
  }
}

function onClick(id, errorId, action) {
  $(id).addEventListener("click", async () => {
    $(id).disabled = true;
    await run(errorId, action);
    $(id).disabled = false;
    await refresh();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  showOutcome();
  $("tenant").addEventListener("change", (event) => pickTenant(event.target.value));
  onClick("sync-tenant", "tenant-error", () => api("/api/tenant-sync/v1/tenants/sync", { method: "POST", body: { tenantId: state.tenant, createInboundAddress: true, country: state.country } }));
  onClick("start-backfill", "backfill-error", startBackfill);
  onClick("more-orders", "orders-error", async () => { state.orderPages += 1; });
  onClick("send-buyer-message", "tickets-error", sendBuyerMessage);
  onClick("poll-now", "tickets-error", () => api("/api/poller/v1/poller/poll", { method: "POST" }));
  $("ticket-sort").addEventListener("change", () => run("tickets-error", refreshTickets));
  fillTopicFilters();
  for (const name of Object.keys(FILTER_WORDS)) {
    $(`ticket-${name}`).addEventListener("change", () => run("tickets-error", refreshTickets));
  }
  loadTenants();
  setInterval(refresh, REFRESH_MS);
});
