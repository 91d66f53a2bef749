// Vectron console: a plain-JS client of the gateway's REST API (no framework, no CDN).
// The session token and the console's API key live in sessionStorage (this tab only).
"use strict";
(() => {
  const $ = (sel) => document.querySelector(sel);
  const store = window.sessionStorage;
  const S = { token: "vectron.token", email: "vectron.email", key: "vectron.key", keyId: "vectron.key_id", own: "vectron.key_own" };
  const VIEWS = ["collections", "points", "search", "keys", "cluster"];
  let clusterTimer = null;
  let pages = [];  // scroll offsets of the pages seen so far (for "Previous page")
  let nextOffset = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "onclick") node.addEventListener("click", v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  const json = (v) => el("pre", {}, JSON.stringify(v, null, 2));

  function say(message, isError) {
    const box = $("#status");
    box.textContent = message || "";
    box.className = isError ? "error" : "";
    box.setAttribute("role", isError ? "alert" : "status");
  }

  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(`${status} ${e.code || "error"}: ${e.message || "request failed"}`);
      this.status = status;
      this.code = e.code;
    }
  }

  // auth: "session" (user routes), "key" (data routes) or null
  async function api(method, path, body, auth) {
    const headers = {};
    const cred = auth === "session" ? store.getItem(S.token) : auth === "key" ? store.getItem(S.key) : null;
    if (cred) headers["Authorization"] = `Bearer ${cred}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: { message: text } }; }
    if (!resp.ok) {
      if (resp.status === 401 && auth === "session") { signedOut("Your session ended: sign in again."); }
      throw new ApiError(resp.status, data);
    }
    return data;
  }
  const enc = encodeURIComponent;
  const guard = (fn) => async (ev) => {
    if (ev && ev.preventDefault) ev.preventDefault();
    try { await fn(ev); } catch (err) { say(err.message, true); }
  };
  function parseJson(text, what) {
    if (!text.trim()) return undefined;
    try { return JSON.parse(text); } catch (err) { throw new Error(`${what} is not valid JSON: ${err.message}`); }
  }
  // digits are an integer id (up to 15 digits: JavaScript numbers are exact only below 2**53)
  const pointId = (raw) => (/^\d+$/.test(raw) && raw.length <= 15 ? Number(raw) : raw);

  // ---- session ----------------------------------------------------------------------------
  async function signIn(email, password) {
    const login = await api("POST", "/v1/users/login", { email, password }, null);
    store.setItem(S.token, login.token);
    store.setItem(S.email, login.user.email);
    if (!store.getItem(S.key)) {
      const created = await api("POST", "/v1/keys", { name: `console ${new Date().toISOString()}`, scope: "read-write" }, "session");
      store.setItem(S.key, created.key);
      store.setItem(S.keyId, created.api_key.id);
      store.setItem(S.own, "1");
    }
  }

  function signedOut(message) {
    for (const k of Object.values(S)) store.removeItem(k);
    location.hash = "";
    render();
    say(message || "");
  }

  async function signOut() {
    if (store.getItem(S.own) && store.getItem(S.keyId)) {
      try { await api("DELETE", `/v1/keys/${enc(store.getItem(S.keyId))}`, undefined, "session"); } catch (_) { /* the key may be gone */ }
    }
    signedOut("Signed out.");
  }

  // ---- views ------------------------------------------------------------------------------
  function currentView() {
    const v = location.hash.replace("#", "");
    return VIEWS.includes(v) ? v : "collections";
  }

  function render(focus) {
    const signedIn = !!store.getItem(S.token);
    $("#nav").hidden = !signedIn;
    $("#who").hidden = !signedIn;
    $("#who-email").textContent = store.getItem(S.email) || "";
    const view = signedIn ? currentView() : "signin";
    for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== `view-${view}`;
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.getAttribute("href") === `#${view}`) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    clearInterval(clusterTimer);
    clusterTimer = null;
    if (focus) { const h = $(`#h-${view}`); if (h) h.focus(); }
    if (!signedIn) return;
    const load = { collections: loadCollections, points: fillSelects, search: fillSelects, keys: loadKeys, cluster: loadCluster }[view];
    guard(load)();
    if (view === "cluster") setClusterTimer();
  }

  async function collections() {
    return (await api("GET", "/v1/collections", undefined, "key")).collections;
  }

  async function fillSelects() {
    const names = (await collections()).map((c) => c.name);
    for (const sel of document.querySelectorAll(".collection-select")) {
      const keep = sel.value;
      sel.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
      if (names.includes(keep)) sel.value = keep;
    }
  }

  async function loadCollections() {
    const list = await collections();
    const details = await Promise.all(list.map((c) =>
      api("GET", `/v1/collections/${enc(c.name)}`, undefined, "key").then((r) => r.collection, () => c)));
    const rows = details.map((c) => el("tr", {},
      el("th", { scope: "row" }, c.name),
      el("td", { "data-points": c.name }, c.points_count ?? "?"),
      el("td", {}, c.dimension), el("td", {}, c.distance), el("td", {}, c.shards), el("td", {}, c.replication_factor),
      el("td", {},
        el("button", { type: "button", onclick: () => showCollection(c) }, `Details of ${c.name}`), " ",
        el("button", { type: "button", "aria-label": `Browse points of ${c.name}`, onclick: guard(() => browse(c.name)) }, "Browse points"), " ",
        el("button", { type: "button", "aria-label": `Delete ${c.name}`, onclick: guard(() => dropCollection(c.name)) }, "Delete"))));
    $("#collections-table tbody").replaceChildren(...rows);
    if (!rows.length) $("#collections-table tbody").append(el("tr", {}, el("td", { colspan: 7 }, "No collections yet.")));
    say(`${list.length} collection(s).`);
  }

  function showCollection(c) {
    const box = $("#collection-detail");
    const shards = (c.shard_status || []).map((s) => el("tr", {},
      el("td", {}, s.shard_id), el("td", {}, s.status), el("td", {}, s.leader || "none"),
      el("td", {}, s.replicas.map((r) => `${r.worker_id} (${r.grpc_address})`).join(", ")), el("td", {}, s.points_count ?? "?")));
    const indexes = c.payload_indexes ?? c.payload_schema ?? c.indexes;
    const h = el("h3", { tabindex: "-1" }, `Collection ${c.name}`);
    box.replaceChildren(h,
      el("p", {}, `HNSW: ${JSON.stringify(c.hnsw)}; created ${c.created_at}`),
      el("table", {}, el("caption", {}, "Shards and replicas"),
        el("thead", {}, el("tr", {}, ...["Shard", "Status", "Leader", "Replicas", "Points"].map((t) => el("th", { scope: "col" }, t)))),
        el("tbody", {}, ...shards)),
      indexes === undefined ? el("p", {}, "Payload indexes: not reported by this server.") : el("div", {}, el("h4", {}, "Payload indexes"), json(indexes)),
      el("details", {}, el("summary", {}, "Raw JSON"), json(c)));
    h.focus();
  }

  async function dropCollection(name) {
    if (!window.confirm(`Delete collection ${name} and all its points?`)) return;
    await api("DELETE", `/v1/collections/${enc(name)}`, undefined, "key");
    say(`Deleted collection ${name}.`);
    await loadCollections();
  }

  async function createCollection() {
    const body = { dimension: Number($("#cc-dimension").value), distance: $("#cc-distance").value };
    if ($("#cc-shards").value) body.shards = Number($("#cc-shards").value);
    if ($("#cc-rf").value) body.replication_factor = Number($("#cc-rf").value);
    const name = $("#cc-name").value.trim();
    await api("PUT", `/v1/collections/${enc(name)}`, body, "key");
    $("#create-collection-form").reset();
    await loadCollections();
    say(`Created collection ${name}.`);
  }

  // ---- points -----------------------------------------------------------------------------
  async function browse(name) {
    location.hash = "#points";
    await fillSelects();
    $("#points-collection").value = name;
    await loadPage(null, true);
  }

  async function loadPage(offset, first) {
    const name = $("#points-collection").value;
    if (!name) throw new Error("Choose a collection first.");
    const body = { limit: Number($("#points-limit").value) || 20, with_vector: $("#points-vectors").checked, with_payload: true };
    const filter = parseJson($("#points-filter").value, "The filter");
    if (filter !== undefined) body.filter = filter;
    if (offset !== null) body.offset = offset;
    const page = await api("POST", `/v1/collections/${enc(name)}/points/scroll`, body, "key");
    if (first) pages = [];
    pages.push(offset);
    nextOffset = page.next_offset ?? null;
    const rows = page.points.map((p) => el("tr", {},
      el("th", { scope: "row" }, String(p.id)),
      el("td", {}, json(p.payload ?? null)),
      el("td", {}, p.vector ? el("pre", {}, JSON.stringify(p.vector.slice(0, 8)) + (p.vector.length > 8 ? ` … (${p.vector.length})` : "")) : ""),
      el("td", {}, el("button", { type: "button", onclick: guard(() => searchLike(name, p.id)) }, `Search like ${p.id}`))));
    $("#points-table tbody").replaceChildren(...rows);
    $("#points-prev").disabled = pages.length < 2;
    $("#points-next").disabled = nextOffset === null;
    $("#points-info").textContent = `Page ${pages.length} of ${name}: ${page.points.length} point(s)${nextOffset === null ? ", last page" : ""}.`;
  }

  async function searchLike(name, id) {
    location.hash = "#search";
    await fillSelects();
    $("#search-collection").value = name;
    $("#search-id").value = String(id);
    $("#search-vector").value = "";
    await runSearch();
  }

  // ---- search -----------------------------------------------------------------------------
  async function runSearch() {
    const name = $("#search-collection").value;
    if (!name) throw new Error("Choose a collection first.");
    let vector = parseJson($("#search-vector").value, "The vector");
    const rawId = $("#search-id").value.trim();
    if (vector === undefined) {
      if (!rawId) throw new Error("Give a point ID or a vector.");
      const got = await api("POST", `/v1/collections/${enc(name)}/points/get`, { ids: [pointId(rawId)], with_vector: true, with_payload: false }, "key");
      if (!got.points.length) throw new Error(`No point with ID ${rawId} in ${name}.`);
      vector = got.points[0].vector;
    }
    const body = { vector, top_k: Number($("#search-topk").value) || 10, with_payload: true };
    const filter = parseJson($("#search-filter").value, "The filter");
    if (filter !== undefined) body.filter = filter;
    const res = await api("POST", `/v1/collections/${enc(name)}/points/search`, body, "key");
    const rows = res.results.map((h, i) => el("tr", {},
      el("td", {}, i + 1), el("th", { scope: "row" }, String(h.id)), el("td", { class: "score" }, h.score.toFixed(6)), el("td", {}, json(h.payload ?? null))));
    $("#search-table tbody").replaceChildren(...rows);
    $("#search-info").textContent = `${res.results.length} result(s)${res.partial ? ` (partial: shards ${res.failed_shards.join(", ")} did not answer)` : ""}.`;
    say("");
  }

  // ---- keys -------------------------------------------------------------------------------
  async function loadKeys() {
    const { api_keys: keys } = await api("GET", "/v1/keys", undefined, "session");
    const mine = store.getItem(S.keyId);
    const rows = keys.map((k) => el("tr", {},
      el("th", { scope: "row" }, k.name + (k.id === mine ? " (this console)" : "")), el("td", {}, el("code", {}, k.prefix)),
      el("td", {}, k.plan), el("td", {}, k.scope), el("td", {}, k.created_at),
      el("td", {}, k.revoked ? `revoked ${k.revoked_at || ""}` : "active"),
      el("td", {}, k.revoked ? "" : el("button", { type: "button", onclick: guard(() => revokeKey(k)) }, `Revoke ${k.name}`))));
    $("#keys-table tbody").replaceChildren(...rows);
    $("#console-key-info").textContent = store.getItem(S.own) ? "This console uses the key it created at sign-in." : "This console uses a key you gave it.";
  }

  async function revokeKey(k) {
    if (!window.confirm(`Revoke key ${k.name}? Programs using it stop working.`)) return;
    await api("DELETE", `/v1/keys/${enc(k.id)}`, undefined, "session");
    if (k.id === store.getItem(S.keyId)) { store.removeItem(S.key); store.removeItem(S.keyId); store.removeItem(S.own); }
    say(`Revoked key ${k.name}.`);
    await loadKeys();
  }

  async function createKey() {
    const body = { name: $("#ck-name").value.trim(), scope: $("#ck-scope").value };
    const created = await api("POST", "/v1/keys", body, "session");
    $("#new-key-value").textContent = created.key;
    $("#new-key").hidden = false;
    $("#create-key-form").reset();
    $("#new-key-copy").focus();
    await loadKeys();
  }

  // ---- cluster ----------------------------------------------------------------------------
  function setClusterTimer() {
    clearInterval(clusterTimer);
    clusterTimer = $("#cluster-auto").checked ? setInterval(guard(loadCluster), 5000) : null;
  }

  async function loadCluster() {
    const ready = await fetch("/readyz").then((r) => r.json()).catch(() => ({ status: "unreachable", checks: {} }));
    const cluster = await api("GET", "/dashboard/api/cluster", undefined, "session");
    $("#cluster-checks").replaceChildren(
      el("li", {}, `Gateway: ${ready.status}`),
      ...Object.entries(cluster.checks).map(([k, ok]) => el("li", { class: ok ? "live" : "dead" }, `${k}: ${ok ? "ok" : "failing"}`)));
    $("#workers-table tbody").replaceChildren(...cluster.workers.map((w) => el("tr", {},
      el("th", { scope: "row" }, w.worker_id), el("td", { class: w.live ? "live" : "dead" }, w.live ? "live" : "dead"),
      el("td", {}, w.grpc_address), el("td", {}, w.raft_host), el("td", {}, w.raft_ports), el("td", {}, w.capacity || "unlimited"),
      el("td", {}, w.last_heartbeat || "never"))));
    const routing = [];
    for (const c of await collections()) {
      const info = await api("GET", `/v1/collections/${enc(c.name)}`, undefined, "key").then((r) => r.collection, () => null);
      for (const s of (info && info.shard_status) || []) {
        routing.push(el("tr", {}, el("th", { scope: "row" }, c.name), el("td", {}, s.shard_id), el("td", {}, s.status),
          el("td", {}, s.leader || "none"), el("td", {}, s.replicas.map((r) => r.worker_id).join(", ")), el("td", {}, s.points_count ?? "?")));
      }
    }
    $("#routing-table tbody").replaceChildren(...routing);
    $("#cluster-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  // ---- wiring -----------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("#signin-form").addEventListener("submit", guard(async () => {
      say("Signing in…");
      await signIn($("#signin-email").value, $("#signin-password").value);
      $("#signin-form").reset();
      say("Signed in.");
      render(true);
    }));
    $("#register").addEventListener("click", guard(async () => {
      if (!$("#signin-form").reportValidity()) return;
      await api("POST", "/v1/users/register", { email: $("#signin-email").value, password: $("#signin-password").value }, null);
      await signIn($("#signin-email").value, $("#signin-password").value);
      say("Account created; signed in.");
      render(true);
    }));
    $("#signout").addEventListener("click", guard(signOut));
    $("#collections-refresh").addEventListener("click", guard(loadCollections));
    $("#create-collection-form").addEventListener("submit", guard(createCollection));
    $("#points-form").addEventListener("submit", guard(() => loadPage(null, true)));
    $("#points-next").addEventListener("click", guard(() => loadPage(nextOffset, false)));
    $("#points-prev").addEventListener("click", guard(() => { pages.pop(); const prev = pages.pop(); return loadPage(prev ?? null, false); }));
    $("#search-form").addEventListener("submit", guard(runSearch));
    $("#create-key-form").addEventListener("submit", guard(createKey));
    $("#new-key-copy").addEventListener("click", guard(() => navigator.clipboard.writeText($("#new-key-value").textContent).then(() => say("Copied."))));
    $("#new-key-hide").addEventListener("click", () => { $("#new-key").hidden = true; $("#new-key-value").textContent = ""; });
    $("#use-key-form").addEventListener("submit", guard(async () => {
      const key = $("#use-key").value.trim();
      if (!key) throw new Error("Paste an API key first.");
      store.setItem(S.key, key); store.removeItem(S.keyId); store.removeItem(S.own);
      $("#use-key").value = "";
      await collections();  // checks the key
      say("Using the key you gave.");
      await loadKeys();
    }));
    $("#cluster-refresh").addEventListener("click", guard(loadCluster));
    $("#cluster-auto").addEventListener("change", setClusterTimer);
    window.addEventListener("hashchange", () => { say(""); render(true); });
    render(false);
  });
})();
