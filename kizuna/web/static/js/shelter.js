// The shelter manager's desk: big check-in / check-out buttons, open and close.
"use strict";

(() => {
  const TOKEN = "kizuna.token";
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => Kizuna.t(key, params);
  let managed = [];
  let current = null; // the shelter as last read from the API

  const token = () => sessionStorage.getItem(TOKEN);

  async function call(method, path, options = {}) {
    const result = await Kizuna.api(method, path, { ...options, token: token() });
    if (result.status === 401) {
      sessionStorage.removeItem(TOKEN);
      showLogin(true);
    }
    return result;
  }

  function showLogin(expired) {
    $("login-form").classList.remove("hidden");
    $("desk").classList.add("hidden");
    $("logout").classList.add("hidden");
    $("expired").classList.toggle("hidden", !expired);
  }

  function login(event) {
    return Kizuna.logIn(event, start);
  }

  function show(shelter) {
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
    $("checkout").disabled = shelter.occupancy <= 0;
  }

  async function occupancy(delta) {
    Kizuna.clearErrors($("desk"));
    const result = await call("POST", `/api/v1/shelters/${current.id}/occupancy`, { body: { delta } });
    if (result.ok) {
      show(result.data);
    } else if (result.status !== 401) {
      Kizuna.showError($("desk"), { ...result.data.error, field: "delta" });
      refresh();
    }
  }

  async function setStatus(status) {
    Kizuna.clearErrors($("desk"));
    // If-Match names the revision this page shows: a change made meanwhile is not overwritten.
    const result = await call("PATCH", `/api/v1/shelters/${current.id}`, {
      body: { status },
      headers: { "If-Match": `"${current.revision}"` },
    });
    if (result.ok) {
      show(result.data);
    } else if (result.status === 412) {
      const now = result.data.current;
      const message = `${t("shelter.conflict")} ${t(`shelter.status.${now.status}`)}, ` +
        `${now.occupancy} / ${now.capacity == null ? "?" : now.capacity}`;
      Kizuna.showError($("desk"), { field: "If-Match", message });
      show(now);
    } else if (result.status !== 401) {
      Kizuna.showError($("desk"), { ...result.data.error, field: "If-Match" });
    }
  }

  async function refresh() {
    const result = await call("GET", `/api/v1/shelters/${current.id}`);
    if (result.ok) show(result.data);
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
    if (managed.length) show(managed[0]);
  }

  document.addEventListener("DOMContentLoaded", async () => {
    await Kizuna.init();
    $("login-form").addEventListener("submit", login);
    $("shelter-pick").addEventListener("change", () => {
      show(managed.find((s) => s.id === $("shelter-pick").value));
      refresh();
    });
    $("checkin").addEventListener("click", () => occupancy(1));
    $("checkout").addEventListener("click", () => occupancy(-1));
    $("open").addEventListener("click", () => setStatus("open"));
    $("close").addEventListener("click", () => setStatus("closed"));
    $("refresh").addEventListener("click", refresh);
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN);
      showLogin(false);
    });
    document.addEventListener("kizuna:language", () => current && show(current));
    if (token()) await start();
    else showLogin(false);
  });
})();
