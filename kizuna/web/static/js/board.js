// The shelter board: every shelter of a municipality on a map and in a list, with its fill,
// status, Wi-Fi and needs, live over /ws/shelters; officers import shelter files here.
"use strict";

(() => {
  const TOKEN = "kizuna.token";
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => Kizuna.t(key, params);
  const shelters = new Map();
  const COLORS = { open: "#1f7a35", full: "#a4161a", closed: "#555555" };
  let socket = null;
  let backoff = 1;
  let retryTimer = null;
  let map = null;
  let markers = null;
  let fitted = false;

  function setStatus(ok, text) {
    $("connection").className = `status ${ok ? "ok" : "lost"}`;
    $("connection").textContent = text;
  }

  function needsText(needs) {
    const listed = Object.entries(needs || {}).map(([name, n]) => `${name} ${n}`);
    return `${t("shelter.needs")}: ${listed.join(", ") || t("shelter.needs.none")}`;
  }

  function render() {
    const box = $("board");
    box.innerHTML = "";
    const sorted = [...shelters.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const shelter of sorted) {
      const item = document.createElement("article");
      item.className = "board-item";
      item.dataset.shelterId = shelter.id;
      item.dataset.status = shelter.status;
      const heading = document.createElement("h3");
      const name = document.createElement("span");
      name.textContent = shelter.name;
      const status = document.createElement("span");
      status.className = `badge ${shelter.status}`;
      status.textContent = t(`shelter.status.${shelter.status}`);
      heading.append(name, status);
      const count = document.createElement("p");
      count.className = "hint";
      count.textContent = `${shelter.occupancy} / ${shelter.capacity == null ? "?" : shelter.capacity}`;
      const wifiState = (shelter.wifi && shelter.wifi.status) || "unknown";
      const wifi = document.createElement("p");
      wifi.className = "wifi";
      wifi.dataset.wifi = wifiState;
      wifi.textContent = `${t("shelter.wifi")}: ${t(`wifi.${wifiState}`)}` +
        (shelter.wifi && shelter.wifi.ssid ? ` (${shelter.wifi.ssid})` : "");
      const needs = document.createElement("p");
      needs.className = "needs";
      needs.textContent = needsText(shelter.needs);
      item.append(heading, Kizuna.fillBar(shelter.occupancy, shelter.capacity), count, wifi, needs);
      box.appendChild(item);
    }
    $("no-shelters").classList.toggle("hidden", shelters.size > 0);
    renderMap(sorted);
  }

  // One circle per shelter, coloured by status; the list beside it carries the same facts as text.
  function renderMap(sorted) {
    if (!map) return;
    markers.clearLayers();
    for (const shelter of sorted) {
      const marker = L.circleMarker([shelter.lat, shelter.lon], {
        radius: 9,
        color: "#222",
        weight: 1,
        fillOpacity: 0.9,
        fillColor: COLORS[shelter.status] || COLORS.closed,
      });
      marker.bindTooltip(`${shelter.name}: ${t(`shelter.status.${shelter.status}`)}, ` +
        `${shelter.occupancy} / ${shelter.capacity == null ? "?" : shelter.capacity}`);
      markers.addLayer(marker);
    }
    if (!fitted && sorted.length) {
      map.fitBounds(L.latLngBounds(sorted.map((s) => [s.lat, s.lon])).pad(0.2), { maxZoom: 15 });
      fitted = true;
    }
  }

  function connect(code) {
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
    clearTimeout(retryTimer);
    setStatus(false, t("status.connecting"));
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/shelters?municipality=${encodeURIComponent(code)}`);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "snapshot") {
        backoff = 1;
        setStatus(true, t("status.connected"));
        shelters.clear();
        for (const shelter of message.shelters) shelters.set(shelter.id, shelter);
      } else if (message.type === "shelter") {
        shelters.set(message.shelter.id, { ...(shelters.get(message.shelter.id) || {}), ...message.shelter });
      }
      render();
    };
    socket.onclose = () => {
      const wait = backoff;
      backoff = Math.min(backoff * 2, 30);
      setStatus(false, t("status.lost", { s: wait }));
      retryTimer = setTimeout(() => connect(code), wait * 1000);
    };
  }

  // --- import of a shelter file (officers) -----------------------------------------------------

  function showImport() {
    const loggedIn = Boolean(sessionStorage.getItem(TOKEN));
    $("login-form").classList.toggle("hidden", loggedIn);
    $("import-form").classList.toggle("hidden", !loggedIn);
  }

  function problemList(title, problems) {
    const box = document.createElement("div");
    const heading = document.createElement("h3");
    heading.textContent = title;
    const list = document.createElement("ul");
    list.className = "import-problems";
    for (const problem of problems) {
      const li = document.createElement("li");
      li.dataset.line = String(problem.line);
      li.textContent = t("board.import.line", { line: problem.line, reason: problem.reason });
      list.appendChild(li);
    }
    box.append(heading, list);
    return box;
  }

  async function importFile(event) {
    event.preventDefault();
    const form = $("import-form");
    const result = $("import-result");
    Kizuna.clearErrors(form);
    result.replaceChildren();
    const file = $("import-file").files[0];
    if (!file) {
      Kizuna.showError(form, { field: "file", message: t("board.import.no_file") });
      return;
    }
    const query = new URLSearchParams({ filename: file.name });
    const code = $("municipality").value.trim();
    if (code) query.set("municipality", code);
    let response;
    try {
      // The raw file as the body: the API accepts it as well as a multipart part.
      response = await fetch(`/api/v1/shelters/import?${query}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN)}` },
        body: file,
      });
    } catch (_) {
      Kizuna.showError(form, { field: "file", message: t("shelter.not_saved") });
      return;
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN);
      showImport();
      $("expired").classList.remove("hidden");
      return;
    }
    if (!response.ok) {
      const error = (data && data.error) || { message: `HTTP ${response.status}` };
      Kizuna.showError(form, { ...error, field: error.field || "file" });
      return;
    }
    // Imports announce no live events: a fresh snapshot brings the new shelters in.
    if (code) connect(code);
    const summary = document.createElement("p");
    summary.textContent = t("board.import.result", data);
    result.appendChild(summary);
    if (data.errors.length) result.appendChild(problemList(t("board.import.errors"), data.errors));
    if (data.warnings.length) {
      result.appendChild(problemList(t("board.import.warnings"), data.warnings));
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    await Kizuna.init();
    map = Kizuna.makeMap("board-map", [36.5, 137.0], 5);
    markers = L.layerGroup().addTo(map);
    document.addEventListener("kizuna:language", render);
    $("login-form").addEventListener("submit", (event) => Kizuna.logIn(event, async () => {
      $("expired").classList.add("hidden");
      showImport();
    }));
    $("import-form").addEventListener("submit", importFile);
    showImport();
    $("pick").addEventListener("submit", (event) => {
      event.preventDefault();
      const code = $("municipality").value.trim();
      if (!code) return;
      history.replaceState(null, "", `?municipality=${encodeURIComponent(code)}`);
      fitted = false;
      connect(code);
    });
    let code = new URLSearchParams(location.search).get("municipality");
    const token = sessionStorage.getItem(TOKEN);
    if (!code && token) {
      const me = await Kizuna.api("GET", "/api/v1/auth/me", { token });
      if (me.ok && me.data.municipality_codes.length) code = me.data.municipality_codes[0];
    }
    render();
    if (code) {
      $("municipality").value = code;
      connect(code);
    }
  });
})();
