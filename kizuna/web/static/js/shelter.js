// The shelter manager's desk: big check-in / check-out buttons, open and close, Wi-Fi and needs.
// Taps survive a bad connection: each is queued with its own Idempotency-Key and re-sent with the
// same key until the server answers, so nothing is lost and nothing is counted twice.
"use strict";

(() => {
  const TOKEN = "kizuna.token";
  const QUEUE = "kizuna.shelter.queue";
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => Kizuna.t(key, params);
  let managed = [];
  let current = null; // the shelter as last read from the API
  let sending = false;
  let backoff = 1;
  let retryTimer = null;
  let connectionLost = false;

  const token = () => sessionStorage.getItem(TOKEN);

  async function call(method, path, options = {}) {
    const result = await Kizuna.api(method, path, { ...options, token: token() });
    if (result.status === 401) {
      // The queue stays in localStorage: it is sent once the manager logs in again.
      sessionStorage.removeItem(TOKEN);
      showLogin(true);
    } else if (result.status === 0 || result.status >= 500) {
      connection(false);
    } else {
      connection(true);
    }
    return result;
  }

  function connection(ok) {
    const box = $("connection");
    if (ok && !connectionLost) return;
    connectionLost = !ok;
    box.classList.remove("hidden");
    box.className = `status ${ok ? "ok" : "lost"}`;
    box.textContent = ok ? t("shelter.connection.restored") : t("shelter.connection.lost");
  }

  // --- the queue of taps not yet confirmed by the server --------------------------------------

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // Plain http on a LAN is not a secure context: build a v4-style UUID from random bytes.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return [...bytes].map((b, i) => ([4, 6, 8, 10].includes(i) ? "-" : "") +
      b.toString(16).padStart(2, "0")).join("");
  }

  function loadQueue() {
    try {
      const items = JSON.parse(localStorage.getItem(QUEUE) || "[]");
      return Array.isArray(items) ? items : [];
    } catch (_) {
      return [];
    }
  }

  function saveQueue(items) {
    localStorage.setItem(QUEUE, JSON.stringify(items));
  }

  function pendingFor(shelterId) {
    return loadQueue().filter((item) => item.shelter_id === shelterId);
  }

  function showPending() {
    const all = loadQueue();
    $("pending").classList.toggle("hidden", all.length === 0);
    $("pending").textContent = t("shelter.pending", { n: all.length });
    const net = current ? pendingFor(current.id).reduce((sum, item) => sum + item.delta, 0) : 0;
    const mark = $("pending-mark");
    mark.classList.toggle("hidden", net === 0);
    mark.textContent = t("shelter.pending.mark", { n: `${net > 0 ? "+" : ""}${net}` });
    if (current) {
      $("checkout").disabled = current.occupancy + net <= 0;
    }
  }

  function tap(delta) {
    Kizuna.clearErrors($("desk-section"));
    const items = loadQueue();
    items.push({ key: newKey(), shelter_id: current.id, delta, at: new Date().toISOString() });
    saveQueue(items);
    showPending();
    backoff = 1;
    send();
  }

  function retryLater() {
    clearTimeout(retryTimer);
    const wait = backoff;
    backoff = Math.min(backoff * 2, 30);
    retryTimer = setTimeout(send, wait * 1000);
  }

  // Send queued taps oldest first; each keeps its key, so a repeat is answered, not counted.
  async function send() {
    if (sending || !token()) return;
    sending = true;
    clearTimeout(retryTimer);
    try {
      for (;;) {
        const item = loadQueue()[0];
        if (!item) break;
        const result = await call("POST", `/api/v1/shelters/${item.shelter_id}/occupancy`, {
          body: { delta: item.delta },
          headers: { "Idempotency-Key": item.key },
        });
        if (result.status === 401) break;
        if (result.status === 0 || result.status >= 500) {
          retryLater();
          break;
        }
        // Answered (done or refused for good): it leaves the queue either way.
        saveQueue(loadQueue().filter((queued) => queued.key !== item.key));
        backoff = 1;
        if (result.ok) {
          if (current && result.data.id === current.id) show(result.data);
        } else {
          const error = (result.data && result.data.error) || { message: `HTTP ${result.status}` };
          Kizuna.showError($("desk-section"), { ...error, field: "delta" });
          if (current && item.shelter_id === current.id) refresh();
        }
        showPending();
      }
    } finally {
      sending = false;
      showPending();
    }
  }

  // --- showing the shelter ---------------------------------------------------------------------

  function showLogin(expired) {
    $("login-form").classList.remove("hidden");
    $("desk").classList.add("hidden");
    $("logout").classList.add("hidden");
    $("expired").classList.toggle("hidden", !expired);
  }

  function login(event) {
    return Kizuna.logIn(event, start);
  }

  function show(shelter, { editors = false } = {}) {
    // Answers may arrive out of order (a slow reload after a change): never go back in time.
    if (current && shelter.id === current.id && shelter.revision < current.revision) return;
    current = shelter;
    managed = managed.map((s) => (s.id === shelter.id ? shelter : s));
    $("shelter-name").textContent = shelter.name;
    $("shelter-status").className = `badge ${shelter.status}`;
    $("shelter-status").textContent = t(`shelter.status.${shelter.status}`);
    $("occupancy").textContent = `${shelter.occupancy} / ${shelter.capacity == null ? "?" : shelter.capacity}`;
    $("fill-bar").replaceChildren(Kizuna.fillBar(shelter.occupancy, shelter.capacity));
    $("open").disabled = shelter.status !== "closed";
    $("close").disabled = shelter.status === "closed";
    $("checkin").disabled = shelter.status !== "open";
    // The editors are refilled only when asked: a check-in must not wipe a half-typed change.
    if (editors) fillEditors(shelter);
    showPending();
  }

  function fillEditors(shelter) {
    $("wifi-status").value = shelter.wifi.status;
    $("wifi-ssid").value = shelter.wifi.ssid || "";
    $("needs-list").replaceChildren();
    for (const [item, count] of Object.entries(shelter.needs || {})) addNeed(item, count);
    showNeedsEmpty();
  }

  let needRows = 0;
  function addNeed(item = "", count = 1) {
    needRows += 1;
    const row = document.createElement("li");
    const itemId = `need-item-${needRows}`;
    const countId = `need-count-${needRows}`;
    const itemLabel = document.createElement("label");
    itemLabel.htmlFor = itemId;
    itemLabel.className = "sr-only";
    itemLabel.textContent = t("shelter.needs.item");
    const itemInput = document.createElement("input");
    itemInput.type = "text";
    itemInput.id = itemId;
    itemInput.className = "need-item";
    itemInput.maxLength = 40;
    itemInput.value = item;
    itemInput.placeholder = t("shelter.needs.item");
    const countLabel = document.createElement("label");
    countLabel.htmlFor = countId;
    countLabel.className = "sr-only";
    countLabel.textContent = t("shelter.needs.count");
    const countInput = document.createElement("input");
    countInput.type = "number";
    countInput.id = countId;
    countInput.className = "need-count";
    countInput.min = "0";
    countInput.inputMode = "numeric";
    countInput.value = String(count);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary";
    remove.textContent = t("shelter.needs.remove");
    remove.setAttribute("aria-label", `${t("shelter.needs.remove")} ${item}`.trim());
    remove.addEventListener("click", () => {
      row.remove();
      showNeedsEmpty();
    });
    row.append(itemLabel, itemInput, countLabel, countInput, remove);
    $("needs-list").appendChild(row);
    showNeedsEmpty();
    return itemInput;
  }

  function showNeedsEmpty() {
    $("needs-empty").classList.toggle("hidden", $("needs-list").children.length > 0);
  }

  function readNeeds() {
    const needs = {};
    for (const row of $("needs-list").children) {
      const item = row.querySelector(".need-item").value.trim();
      const raw = row.querySelector(".need-count").value.trim();
      if (!item && !raw) continue;
      // Sent as typed (a number when it is one): the API says what is wrong, beside the list.
      needs[item] = /^-?\d+$/.test(raw) ? Number(raw) : raw;
    }
    return needs;
  }

  function describe(shelter) {
    const needs = Object.entries(shelter.needs || {}).map(([item, n]) => `${item} ${n}`).join(", ");
    return `${t(`shelter.status.${shelter.status}`)}, ` +
      `${shelter.occupancy} / ${shelter.capacity == null ? "?" : shelter.capacity}; ` +
      `Wi-Fi: ${t(`wifi.${shelter.wifi.status}`)}${shelter.wifi.ssid ? ` (${shelter.wifi.ssid})` : ""}; ` +
      `${t("shelter.needs")}: ${needs || t("shelter.needs.none")}`;
  }

  // One PATCH for any part of the state. If-Match names the revision this page shows: a change
  // made meanwhile is shown and not overwritten.
  async function patch(body, root) {
    Kizuna.clearErrors(root);
    const result = await call("PATCH", `/api/v1/shelters/${current.id}`, {
      body,
      headers: { "If-Match": `"${current.revision}"` },
    });
    if (result.ok) {
      show(result.data, { editors: root !== $("status-section") });
      return true;
    }
    if (result.status === 412) {
      const now = result.data.current;
      Kizuna.showError(root, { field: "If-Match", message: `${t("shelter.conflict")} ${describe(now)}` });
      show(now, { editors: true });
    } else if (result.status === 0 || result.status >= 500) {
      Kizuna.showError(root, { field: "If-Match", message: t("shelter.not_saved") });
    } else if (result.status !== 401) {
      const error = (result.data && result.data.error) || { message: `HTTP ${result.status}` };
      Kizuna.showError(root, { ...error, field: error.field || "If-Match" });
    }
    return false;
  }

  function setStatus(status) {
    return patch({ status }, $("status-section"));
  }

  function saveWifi(event) {
    event.preventDefault();
    const ssid = $("wifi-ssid").value.trim();
    return patch({ wifi: { status: $("wifi-status").value, ssid: ssid || null } }, $("wifi-form"));
  }

  function saveNeeds(event) {
    event.preventDefault();
    return patch({ needs: readNeeds() }, $("needs-form"));
  }

  async function refresh() {
    const result = await call("GET", `/api/v1/shelters/${current.id}`);
    if (result.ok) show(result.data, { editors: true });
  }

  async function start() {
    const result = await call("GET", "/api/v1/shelters/me/managed");
    if (!result.ok) return;
    managed = result.data;
    $("login-form").classList.add("hidden");
    $("desk").classList.remove("hidden");
    $("logout").classList.remove("hidden");
    const pick = $("shelter-pick");
    pick.innerHTML = "";
    for (const shelter of managed) {
      const option = document.createElement("option");
      option.value = shelter.id;
      option.textContent = shelter.name;
      pick.appendChild(option);
    }
    $("no-shelters").classList.toggle("hidden", managed.length > 0);
    if (managed.length) show(managed[0], { editors: true });
    send();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    await Kizuna.init();
    $("login-form").addEventListener("submit", login);
    $("shelter-pick").addEventListener("change", () => {
      show(managed.find((s) => s.id === $("shelter-pick").value), { editors: true });
      refresh();
    });
    $("checkin").addEventListener("click", () => tap(1));
    $("checkout").addEventListener("click", () => tap(-1));
    $("open").addEventListener("click", () => setStatus("open"));
    $("close").addEventListener("click", () => setStatus("closed"));
    $("refresh").addEventListener("click", refresh);
    $("wifi-form").addEventListener("submit", saveWifi);
    $("needs-form").addEventListener("submit", saveNeeds);
    $("add-need").addEventListener("click", () => addNeed("", 1).focus());
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN);
      showLogin(false);
    });
    window.addEventListener("online", () => {
      backoff = 1;
      send();
    });
    window.addEventListener("offline", () => connection(false));
    document.addEventListener("kizuna:language", () => current && show(current));
    if (token()) await start();
    else showLogin(false);
  });
})();
