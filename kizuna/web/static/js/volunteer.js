// The volunteer's phone: profile, nearby requests (rounded place, no contact), claim, start, done.
"use strict";

(() => {
  const TOKEN = "kizuna.token";
  const MINE = "kizuna.aid.mine"; // ids of the requests this volunteer took, kept across reloads
  const POLL_MS = 15000;
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => Kizuna.t(key, params);
  let nearby = [];
  const mine = new Map(); // id -> request as last read (exact place and contact once claimed)
  let timer = null; // the next poll (or retry after a lost connection)
  let backoff = 1;
  let stopped = true;
  let started = false; // the profile and my requests are loaded; polling needs only the list
  let connection = { ok: false, key: "status.connecting", params: {} };

  const token = () => sessionStorage.getItem(TOKEN);

  async function call(method, path, options = {}) {
    const result = await Kizuna.api(method, path, { ...options, token: token() });
    if (result.status === 401) {
      sessionStorage.removeItem(TOKEN);
      showLogin(true);
    } else if (result.status === 0) {
      lost(); // no answer at all: the network (or the server) is gone
    }
    return result;
  }

  function showLogin(expired) {
    stopped = true;
    clearTimeout(timer);
    $("login-form").classList.remove("hidden");
    $("work").classList.add("hidden");
    $("logout").classList.add("hidden");
    $("expired").classList.toggle("hidden", !expired);
  }

  function login(event) {
    return Kizuna.logIn(event, start);
  }

  async function saveProfile(event) {
    event.preventDefault();
    const form = $("profile");
    Kizuna.clearErrors(form);
    $("profile-saved").classList.add("hidden");
    const body = {
      skills: $("skills").value.split(",").map((s) => s.trim()).filter(Boolean),
      radius_m: Number($("radius").value),
      lon: $("home-lon").value === "" ? null : Number($("home-lon").value),
      lat: $("home-lat").value === "" ? null : Number($("home-lat").value),
    };
    const result = await call("PUT", "/api/v1/aid/volunteers/me", { body });
    if (result.status === 401) return;
    if (!result.ok) {
      Kizuna.showError(form, result.data.error);
      return;
    }
    $("profile-saved").classList.remove("hidden");
    await loadNearby();
  }

  function useHere() {
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition((position) => {
      $("home-lon").value = position.coords.longitude.toFixed(5);
      $("home-lat").value = position.coords.latitude.toFixed(5);
    });
  }

  function line(text, className) {
    const p = document.createElement("p");
    p.textContent = text;
    if (className) p.className = className;
    return p;
  }

  function button(label, className, handler) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = className;
    b.textContent = label;
    b.addEventListener("click", handler);
    return b;
  }

  function card(request, className) {
    const item = document.createElement("div");
    item.className = `board-item ${className}`;
    item.dataset.request = request.id;
    const head = document.createElement("h3");
    head.textContent = `${request.kind}: ${request.description}`;
    item.appendChild(head);
    const facts = [t("volunteer.people", { n: request.people })];
    if (request.distance_m != null) {
      facts.push(t("volunteer.distance", { km: (request.distance_m / 1000).toFixed(1) }));
    }
    if (request.special_care) facts.push(t("volunteer.special_care"));
    item.appendChild(line(facts.join(" · ")));
    const place = t("volunteer.place", { lat: request.lat.toFixed(5), lon: request.lon.toFixed(5) });
    item.appendChild(line(request.exact ? place : `${place} (${t("volunteer.approximate")})`, "place"));
    if (request.contact) item.appendChild(line(t("volunteer.contact", { contact: request.contact }), "contact"));
    return item;
  }

  function render() {
    const list = $("nearby");
    list.replaceChildren();
    for (const request of nearby.filter((r) => !mine.has(r.id))) {
      const item = card(request, "aid-request");
      item.appendChild(button(t("volunteer.claim"), "big", () => step(item, request.id, "claim")));
      list.appendChild(item);
    }
    $("no-requests").classList.toggle("hidden", list.children.length > 0);
    const taken = $("mine");
    taken.replaceChildren();
    for (const request of mine.values()) {
      const item = card(request, "aid-mine");
      const state = line(t("volunteer.state", { state: request.state }), "aid-state");
      state.setAttribute("role", "status");
      item.appendChild(state);
      const row = document.createElement("div");
      row.className = "row";
      if (request.state === "claimed") {
        row.append(
          button(t("volunteer.start"), "big", () => step(item, request.id, "start")),
          button(t("volunteer.release"), "secondary", () => step(item, request.id, "release")),
        );
      } else if (request.state === "in_progress") {
        row.append(button(t("volunteer.complete"), "big", () => step(item, request.id, "complete")));
      }
      item.appendChild(row);
      taken.appendChild(item);
    }
  }

  function remember() {
    localStorage.setItem(MINE, JSON.stringify([...mine.keys()]));
  }

  async function step(item, id, action) {
    Kizuna.clearErrors(item);
    const result = await call("POST", `/api/v1/aid/requests/${id}/${action}`);
    if (result.status === 401) return;
    if (!result.ok) {
      Kizuna.showError(item, result.data.error);
      return;
    }
    if (result.data.claimed_by_me) mine.set(id, result.data);
    else mine.delete(id);
    remember();
    await loadNearby();
  }

  function setConnection(ok, key, params = {}) {
    connection = { ok, key, params };
    const el = $("connection");
    el.className = `status ${ok ? "ok" : "lost"}`;
    el.textContent = t(key, params);
  }

  // Volunteers have no live feed of new requests: poll gently while all is well, and retry
  // sooner (1 s, 2 s, 4 s … 30 s) while the server cannot be reached.
  function poll(ms) {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(loadNearby, ms);
  }

  // Show the lost connection; returns in how many ms to try again.
  function connectionRetryMs() {
    if (!navigator.onLine) {
      setConnection(false, "status.offline");
      return 30000; // the "online" event tries again at once; this is only a fallback
    }
    setConnection(false, "status.lost", { s: backoff });
    const ms = backoff * 1000;
    backoff = Math.min(backoff * 2, 30);
    return ms;
  }

  function lost() {
    if (stopped || !started) return; // before the start, start() retries itself
    poll(connectionRetryMs());
  }

  async function loadNearby() {
    const result = await call("GET", "/api/v1/aid/requests/nearby");
    if (result.status === 401 || result.status === 0) return;
    if (result.ok) nearby = result.data;
    else if (result.status === 404) nearby = []; // no profile yet
    backoff = 1;
    setConnection(true, "status.updated", { time: new Date().toLocaleTimeString(Kizuna.lang) });
    render();
    poll(POLL_MS);
  }

  function showWork() {
    $("login-form").classList.add("hidden");
    $("work").classList.remove("hidden");
    $("logout").classList.remove("hidden");
  }

  async function start() {
    stopped = false;
    started = false;
    const profile = await call("GET", "/api/v1/aid/volunteers/me");
    if (profile.status === 401) return;
    if (profile.status === 0) {
      // Logged in, but the server cannot be reached: show the page as lost and start again.
      showWork();
      clearTimeout(timer);
      timer = setTimeout(start, connectionRetryMs());
      return;
    }
    if (profile.status === 403) {
      showLogin(false);
      Kizuna.showError($("login-form"), profile.data.error);
      return;
    }
    started = true;
    showWork();
    if (profile.ok) {
      $("skills").value = profile.data.skills.join(", ");
      $("radius").value = String(profile.data.radius_m);
      $("home-lon").value = String(profile.data.lon);
      $("home-lat").value = String(profile.data.lat);
    }
    mine.clear();
    for (const id of JSON.parse(localStorage.getItem(MINE) || "[]")) {
      const result = await call("GET", `/api/v1/aid/requests/${id}`);
      if (result.ok && result.data.claimed_by_me) mine.set(id, result.data);
    }
    remember();
    await loadNearby();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    await Kizuna.init();
    $("login-form").addEventListener("submit", login);
    $("profile").addEventListener("submit", saveProfile);
    $("here").addEventListener("click", useHere);
    $("refresh").addEventListener("click", loadNearby);
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN);
      showLogin(false);
    });
    window.addEventListener("offline", () => {
      if (stopped) return;
      clearTimeout(timer);
      timer = setTimeout(started ? loadNearby : start, connectionRetryMs());
    });
    window.addEventListener("online", () => {
      if (stopped) return;
      backoff = 1;
      clearTimeout(timer);
      if (started) loadNearby();
      else start();
    });
    document.addEventListener("kizuna:language", () => {
      render();
      setConnection(connection.ok, connection.key, connection.params);
    });
    if (token()) await start();
    else showLogin(false);
  });
})();
