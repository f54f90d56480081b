// The shelter board: every shelter of a municipality with its fill, live over /ws/shelters.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => Kizuna.t(key, params);
  const shelters = new Map();
  let socket = null;
  let backoff = 1;
  let retryTimer = null;

  function setStatus(ok, text) {
    $("connection").className = `status ${ok ? "ok" : "lost"}`;
    $("connection").textContent = text;
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
      item.append(heading, Kizuna.fillBar(shelter.occupancy, shelter.capacity), count);
      box.appendChild(item);
    }
    $("no-shelters").classList.toggle("hidden", shelters.size > 0);
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

  document.addEventListener("DOMContentLoaded", async () => {
    await Kizuna.init();
    document.addEventListener("kizuna:language", render);
    $("pick").addEventListener("submit", (event) => {
      event.preventDefault();
      const code = $("municipality").value.trim();
      if (!code) return;
      history.replaceState(null, "", `?municipality=${encodeURIComponent(code)}`);
      connect(code);
    });
    let code = new URLSearchParams(location.search).get("municipality");
    const token = sessionStorage.getItem("kizuna.token");
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
