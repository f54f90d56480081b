// The officer console: log in, draw an area, write the texts, preview, issue and follow.
"use strict";

(() => {
  const TOKEN = "kizuna.token";
  const DRAFT = "kizuna.draft";
  const $ = (id) => document.getElementById(id);
  const t = (key, params) => Kizuna.t(key, params);

  let map = null;
  let boundary = null;
  let areaLayer = null;
  let me = null;
  let currentAlert = null; // {id, version} once issued
  let pollTimer = null;
  let previewTimer = null;
  let districtLayer = null; // the picked districts, drawn on the map
  let districtShapes = new Map(); // district id -> GeoJSON feature
  let pendingAlertId = null; // a draft or update waiting for a second officer
  let pendingTimer = null;
  let approvalsTimer = null;

  const token = () => sessionStorage.getItem(TOKEN);

  // ---- session ------------------------------------------------------------------------------

  // Every authenticated call goes through here: a 401 keeps the draft and asks for a new login;
  // a network failure is shown until a later call (the 2 s delivery poll retries) gets through.
  async function call(method, path, body) {
    const result = await Kizuna.api(method, path, { body, token: token() });
    setOnline(result.status !== 0);
    if (result.status === 401) {
      saveDraft();
      sessionStorage.removeItem(TOKEN);
      showLogin(true);
    }
    return result;
  }

  let offline = false;
  let probeTimer = null;

  function setOnline(online) {
    const el = $("connection");
    if (online && !offline) return;
    offline = !online;
    el.classList.remove("hidden");
    el.className = `status ${online ? "ok" : "lost"}`;
    el.textContent = t(online ? "console.network.back" : "console.network");
    if (!online && !pollTimer && !probeTimer) {
      // Nothing else is polling (no alert followed yet): keep probing so the banner clears.
      probeTimer = setTimeout(() => {
        probeTimer = null;
        call("GET", "/api/v1/auth/me");
      }, 3000);
    }
  }

  function showLogin(expired) {
    stopPolling();
    // The pending request (pendingAlertId) is kept: the watch resumes after the next login.
    clearInterval(approvalsTimer);
    clearInterval(pendingTimer);
    pendingTimer = null;
    $("login-form").classList.remove("hidden");
    $("alert-form").classList.add("hidden");
    $("logout").classList.add("hidden");
    $("expired").classList.toggle("hidden", !expired);
    $("username").focus();
  }

  async function login(event) {
    event.preventDefault();
    const form = $("login-form");
    const result = await Kizuna.api("POST", "/api/v1/auth/token", {
      form: { username: $("username").value, password: $("password").value },
    });
    if (!result.ok) {
      const error = (result.data && result.data.error) || { message: `HTTP ${result.status}` };
      Kizuna.showError(form, { ...error, field: error.field || "password" });
      return;
    }
    Kizuna.clearErrors(form);
    sessionStorage.setItem(TOKEN, result.data.access_token);
    $("password").value = "";
    await start();
  }

  function logout() {
    sessionStorage.removeItem(TOKEN);
    showLogin(false);
  }

  // ---- the draft ----------------------------------------------------------------------------

  const picked = (box) => [...$(box).querySelectorAll("input:checked")].map((el) => el.value);

  // The drawn shape, the whole municipalities and the districts picked: the API unions them.
  function area() {
    const body = {};
    if (areaLayer instanceof L.Circle) {
      const c = areaLayer.getLatLng();
      body.circles = [{ lon: c.lng, lat: c.lat, radius_km: areaLayer.getRadius() / 1000 }];
    } else if (areaLayer) {
      body.geometry = areaLayer.toGeoJSON().geometry;
    }
    const codes = picked("municipality-choices");
    if (codes.length) body.municipality_codes = codes;
    const ids = picked("district-choices");
    if (ids.length) body.district_ids = ids;
    return Object.keys(body).length ? body : null;
  }

  const needsApproval = () => Boolean(Kizuna.config.two_person_rule) && !$("exercise").checked;

  function labelButtons() {
    const approval = needsApproval();
    $("issue").dataset.i18n = approval ? "console.request" : "console.issue";
    $("update").dataset.i18n = approval ? "console.request.update" : "console.update";
    $("issue").textContent = t($("issue").dataset.i18n);
    $("update").textContent = t($("update").dataset.i18n);
  }

  function info() {
    return KizunaTemplates.LANGUAGES.map(({ tag }) => ({
      language: tag,
      headline: $(`headline-${tag}`).value,
      description: $(`description-${tag}`).value,
      instruction: $(`instruction-${tag}`).value || null,
    })).filter((block) => block.headline || block.description || block.instruction || block.language === "ja");
  }

  function content() {
    const eventKey = $("event-template").value;
    const event = KizunaTemplates.EVENTS[eventKey];
    const level = parseInt($("level").value, 10);
    const hours = parseFloat($("expires-hours").value);
    const expires = Number.isNaN(hours) ? null : new Date(Date.now() + hours * 3600e3).toISOString();
    return {
      event: `${event.name.ja} (${event.name.en.toLowerCase()})`,
      category: event.category,
      hazard: event.hazard,
      evacuation_level: level,
      ...KizunaTemplates.CAP[level],
      status: $("exercise").checked ? "Exercise" : "Actual",
      expires,
      area: area() || {},
      info: info(),
    };
  }

  function saveDraft() {
    if ($("alert-form").classList.contains("hidden") && !areaLayer) return;
    const draft = {
      event: $("event-template").value,
      level: $("level").value,
      hours: $("expires-hours").value,
      exercise: $("exercise").checked,
      area: areaLayer ? (areaLayer instanceof L.Circle
        ? { circle: [areaLayer.getLatLng().lat, areaLayer.getLatLng().lng, areaLayer.getRadius()] }
        : { geojson: areaLayer.toGeoJSON() }) : null,
      texts: Object.fromEntries([...$("texts").querySelectorAll("input, textarea")].map((el) => [el.id, el.value])),
      picks: { codes: picked("municipality-choices"), districts: picked("district-choices") },
      alert: currentAlert,
      pending: pendingAlertId,
    };
    sessionStorage.setItem(DRAFT, JSON.stringify(draft));
  }

  function restoreDraft() {
    let draft = null;
    try {
      draft = JSON.parse(sessionStorage.getItem(DRAFT) || "null");
    } catch (_) {
      draft = null;
    }
    if (!draft) return false;
    $("event-template").value = draft.event;
    $("level").value = draft.level;
    $("expires-hours").value = draft.hours;
    $("exercise").checked = draft.exercise;
    for (const [id, value] of Object.entries(draft.texts || {})) {
      if ($(id)) $(id).value = value;
    }
    if (draft.area && draft.area.circle) {
      const [lat, lng, radius] = draft.area.circle;
      setArea(L.circle([lat, lng], { radius }));
    } else if (draft.area && draft.area.geojson) {
      setArea(L.geoJSON(draft.area.geojson).getLayers()[0]);
    }
    for (const value of [...(draft.picks?.codes || []), ...(draft.picks?.districts || [])]) {
      const box = document.querySelector(`#area-picker input[value="${CSS.escape(value)}"]`);
      if (box) box.checked = true;
    }
    drawDistricts();
    if (draft.alert) showIssued(draft.alert);
    if (draft.pending) watchPending(draft.pending);
    return true;
  }

  // ---- the form -----------------------------------------------------------------------------

  // The API's error beside its field; a field inside the collapsed languages opens them.
  function formError(result) {
    Kizuna.showError($("alert-form"), result.data && result.data.error, $("form-errors"));
    const shown = $("alert-form").querySelector(".field-error");
    const details = shown && shown.closest("details");
    if (details) details.open = true;
  }

  // ja, やさしい日本語 and English stay open; the other ten fold away until needed.
  const ALWAYS_OPEN = 3;

  function buildTexts() {
    const box = $("texts");
    box.innerHTML = "";
    const more = document.createElement("details");
    more.id = "more-languages";
    const summary = document.createElement("summary");
    summary.dataset.i18n = "console.more_languages";
    summary.textContent = t("console.more_languages", { n: KizunaTemplates.LANGUAGES.length - ALWAYS_OPEN });
    more.appendChild(summary);
    KizunaTemplates.LANGUAGES.forEach(({ tag, name }, index) => {
      const set = document.createElement("fieldset");
      set.className = "lang-block";
      set.lang = tag;
      set.dataset.field = `info[${index}]`;
      const legend = document.createElement("legend");
      legend.textContent = `${name} (${tag})`;
      set.appendChild(legend);
      for (const part of ["headline", "description", "instruction"]) {
        const label = document.createElement("label");
        label.htmlFor = `${part}-${tag}`;
        label.dataset.i18n = `console.${part}`;
        label.textContent = t(`console.${part}`);
        const input = document.createElement(part === "headline" ? "input" : "textarea");
        if (part === "headline") input.type = "text";
        input.id = `${part}-${tag}`;
        input.dataset.field = `info[${index}].${part}`;
        set.append(label, input);
      }
      (index < ALWAYS_OPEN ? box : more).appendChild(set);
    });
    box.appendChild(more);
  }

  function fillTexts() {
    const level = parseInt($("level").value, 10);
    for (const { tag } of KizunaTemplates.LANGUAGES) {
      const texts = KizunaTemplates.texts($("event-template").value, level, tag);
      for (const [part, value] of Object.entries(texts)) $(`${part}-${tag}`).value = value;
    }
    saveDraft();
  }

  function buildEvents() {
    const select = $("event-template");
    const lang = Kizuna.lang === "ja" ? "ja" : "en";
    const chosen = select.value;
    select.innerHTML = "";
    for (const [key, event] of Object.entries(KizunaTemplates.EVENTS)) {
      const option = document.createElement("option");
      option.value = key;
      option.textContent = event.name[lang];
      select.appendChild(option);
    }
    if (chosen) select.value = chosen;
  }

  function setArea(layer) {
    if (areaLayer && areaLayer !== layer) map.removeLayer(areaLayer);
    areaLayer = layer;
    if (!map.hasLayer(layer)) layer.addTo(map);
    layer.on("pm:edit", areaChanged);
    areaChanged();
  }

  function areaChanged() {
    const summary = $("area-summary");
    const parts = [];
    if (areaLayer instanceof L.Circle) {
      parts.push(`○ ${(areaLayer.getRadius() / 1000).toFixed(2)} km`);
    } else if (areaLayer) {
      parts.push(`▱ ${areaLayer.getLatLngs()[0].length}`);
    }
    for (const input of $("area-picker").querySelectorAll("input:checked")) {
      parts.push(input.parentElement.textContent.trim());
    }
    summary.textContent = parts.length ? parts.join(" + ") : t("console.area.none");
    if (!parts.length) {
      $("preview").textContent = "—";
      delete $("preview").dataset.recipients;
    }
    saveDraft();
    // Debounced: dragging a vertex should not send a request per pixel.
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 250);
  }

  async function preview() {
    const body = area();
    if (!body || !me) return;
    const result = await call("POST", "/api/v1/alerts/preview", {
      area: body, municipality_code: me.municipality_codes[0] || null,
      status: $("exercise").checked ? "Exercise" : "Actual",
    });
    if (result.ok) {
      $("preview").textContent = t("console.preview.count", { n: result.data.recipients, p: result.data.places });
      $("preview").dataset.recipients = result.data.recipients;
      Kizuna.clearErrors($("alert-form"));
    } else if (result.status !== 401) {
      formError(result);
    }
  }

  async function issue(event) {
    event.preventDefault();
    const form = $("alert-form");
    $("issue").disabled = true;
    try {
      const created = await call("POST", "/api/v1/alerts", content());
      if (!created.ok) {
        if (created.status !== 401) formError(created);
        return;
      }
      if (needsApproval()) {
        await requestApproval(created.data.id, undefined);
        return;
      }
      const issued = await call("POST", `/api/v1/alerts/${created.data.id}/issue`);
      if (!issued.ok) {
        if (issued.status !== 401) formError(issued);
        return;
      }
      Kizuna.clearErrors(form);
      showIssued({ id: issued.data.id, version: issued.data.version });
    } finally {
      $("issue").disabled = false;
    }
  }

  async function update() {
    const form = $("alert-form");
    const { status, ...changes } = content();
    if (!area()) delete changes.area;
    if (needsApproval()) {
      await requestApproval(currentAlert.id, changes);
      return;
    }
    const result = await call("POST", `/api/v1/alerts/${currentAlert.id}/update`, changes);
    if (!result.ok) {
      if (result.status !== 401) formError(result);
      return;
    }
    Kizuna.clearErrors(form);
    showIssued({ id: result.data.id, version: result.data.version });
  }

  async function cancel() {
    const form = $("alert-form");
    const reason = $("cancel-reason").value.trim() || null;
    const result = await call("POST", `/api/v1/alerts/${currentAlert.id}/cancel`, { reason });
    if (!result.ok) {
      if (result.status !== 401) formError(result);
      return;
    }
    $("issued-note").textContent = t("console.cancelled");
    $("cancel").disabled = true;
    $("update").classList.add("hidden");
  }

  function showIssued(alert) {
    currentAlert = alert;
    shownVersion = null;
    saveDraft();
    $("delivery-section").classList.remove("hidden");
    $("issue").classList.add("hidden");
    $("update").classList.remove("hidden");
    $("new-alert").classList.remove("hidden");
    $("cancel").disabled = false;
    $("issued-note").textContent = t("console.issued", { v: alert.version });
    startPolling();
  }

  function newAlert() {
    stopPolling();
    stopPending();
    $("pending-approval").classList.add("hidden");
    for (const input of $("area-picker").querySelectorAll("input:checked")) input.checked = false;
    drawDistricts();
    currentAlert = null;
    sessionStorage.removeItem(DRAFT);
    if (areaLayer) map.removeLayer(areaLayer);
    areaLayer = null;
    areaChanged();
    $("delivery-section").classList.add("hidden");
    $("delivery-rows").replaceChildren();
    $("version-rows").replaceChildren();
    $("issue").classList.remove("hidden");
    $("update").classList.add("hidden");
    $("new-alert").classList.add("hidden");
    fillTexts();
  }

  // ---- two-person approval --------------------------------------------------------------------

  async function requestApproval(alertId, changes) {
    const result = await call("POST", `/api/v1/alerts/${alertId}/approval`, changes ? { changes } : undefined);
    if (!result.ok) {
      if (result.status !== 401) formError(result);
      return;
    }
    Kizuna.clearErrors($("alert-form"));
    watchPending(alertId, result.data);
  }

  function showPending(text, canWithdraw) {
    $("pending-approval").classList.remove("hidden");
    $("pending-text").textContent = text;
    $("withdraw").classList.toggle("hidden", !canWithdraw);
  }

  function watchPending(alertId, approval) {
    pendingAlertId = alertId;
    saveDraft();
    $("issue").disabled = true;
    $("update").disabled = true;
    if (approval) showPending(t(approval.kind === "update" ? "console.approval.pending_update" : "console.approval.pending", { who: approval.requested_by }), true);
    clearInterval(pendingTimer);
    pendingTimer = setInterval(checkPending, 2000);
    checkPending();
  }

  function stopPending() {
    if (!pendingAlertId && !pendingTimer) return;
    clearInterval(pendingTimer);
    pendingTimer = null;
    pendingAlertId = null;
    $("issue").disabled = false;
    $("update").disabled = false;
    saveDraft();
  }

  async function checkPending() {
    if (!pendingAlertId) return;
    const result = await call("GET", `/api/v1/alerts/${pendingAlertId}`);
    if (!result.ok || !result.data.approval) return;
    const { approval } = result.data;
    if (approval.state === "pending") {
      const key = approval.kind === "update" ? "console.approval.pending_update" : "console.approval.pending";
      showPending(t(key, { who: approval.requested_by }), true);
      return;
    }
    stopPending();
    if (approval.state === "approved") {
      $("pending-approval").classList.add("hidden");
      showIssued({ id: result.data.id, version: result.data.current_version });
    } else if (approval.state === "rejected") {
      showPending(t("console.approval.rejected", { who: approval.decided_by, reason: approval.reason }), false);
    } else {
      showPending(t("console.approval.withdrawn"), false);
    }
  }

  async function withdraw() {
    if (!pendingAlertId) return;
    const result = await call("DELETE", `/api/v1/alerts/${pendingAlertId}/approval`);
    if (!result.ok) {
      if (result.status !== 401) formError(result);
      return;
    }
    stopPending();
    showPending(t("console.approval.withdrawn"), false);
  }

  // Colleagues' requests: approve (it goes out at once) or reject with a reason.
  async function loadApprovals() {
    if (!me || !token()) return;
    const result = await call("GET", "/api/v1/approvals?state=pending");
    if (!result.ok) return;
    const items = result.data.map((approval) => {
      const item = document.createElement("li");
      item.dataset.approval = approval.id;
      const text = document.createElement("p");
      const level = approval.evacuation_level ? ` · ${t(`level.${approval.evacuation_level}`)}` : "";
      text.textContent = `${approval.headline}${level} — ${t("console.approval.by", {
        who: approval.requested_by, kind: t(`console.approval.kind.${approval.kind}`) })}`;
      item.appendChild(text);
      const show = document.createElement("button");
      show.type = "button";
      show.className = "secondary show-area";
      show.textContent = t("console.approval.show");
      show.addEventListener("click", () => showRequestedArea(approval));
      item.appendChild(show);
      if (approval.can_approve) {
        const approve = document.createElement("button");
        approve.type = "button";
        approve.className = "approve";
        approve.textContent = t("console.approval.approve");
        approve.addEventListener("click", () => decide(item, approval, "approve"));
        const reasonId = `reason-${approval.id}`;
        const label = document.createElement("label");
        label.htmlFor = reasonId;
        label.textContent = t("console.approval.reason");
        const reason = document.createElement("input");
        reason.type = "text";
        reason.id = reasonId;
        reason.maxLength = 2000;
        reason.dataset.field = "reason";
        const reject = document.createElement("button");
        reject.type = "button";
        reject.className = "secondary reject";
        reject.textContent = t("console.approval.reject");
        reject.addEventListener("click", () => decide(item, approval, "reject"));
        item.append(approve, label, reason, reject);
      } else {
        const own = document.createElement("p");
        own.className = "hint";
        own.textContent = t("console.approval.own");
        item.appendChild(own);
      }
      return item;
    });
    // Keep a half-typed reason: only redraw when the set of requests changed.
    const shown = [...$("approval-list").children].map((el) => el.dataset.approval).join();
    if (shown !== result.data.map((a) => a.id).join()) $("approval-list").replaceChildren(...items);
    $("approvals-section").classList.toggle("hidden", items.length === 0);
  }

  // What the approver is asked to approve: the area drawn on the map and the residents it reaches.
  let reviewLayer = null;

  async function showRequestedArea(approval) {
    const alert = await call("GET", `/api/v1/alerts/${approval.alert_id}`);
    if (!alert.ok) return;
    const requested = (approval.changes && approval.changes.area) || alert.data.content.area;
    const result = await call("POST", "/api/v1/alerts/preview", {
      area: requested, municipality_code: alert.data.municipality_code,
    });
    if (!result.ok) return;
    if (reviewLayer) map.removeLayer(reviewLayer);
    reviewLayer = L.geoJSON(result.data.area, {
      pmIgnore: true, interactive: false, style: { color: "#5b2a86", weight: 3, dashArray: "6 4", fillOpacity: 0.2 },
    }).addTo(map);
    map.fitBounds(reviewLayer.getBounds());
    $("preview").textContent = t("console.preview.count", { n: result.data.recipients, p: result.data.places });
  }

  async function decide(item, approval, action) {
    const body = action === "reject" ? { reason: item.querySelector("input").value } : undefined;
    const result = await call("POST", `/api/v1/alerts/${approval.alert_id}/approval/${action}`, body);
    if (!result.ok) {
      if (result.status !== 401) Kizuna.showError(item, result.data && result.data.error, item);
      return;
    }
    item.remove();
    $("approvals-section").classList.toggle("hidden", $("approval-list").children.length === 0);
    if (action === "approve") {
      follow({ id: result.data.id, current_version: result.data.version, status: approval.status });
    }
  }

  // ---- municipalities and districts -------------------------------------------------------------

  function choice(box, value, text) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = value;
    input.addEventListener("change", () => {
      drawDistricts();
      areaChanged();
    });
    label.append(input, ` ${text}`);
    $(box).appendChild(label);
  }

  async function buildPicker() {
    $("municipality-choices").replaceChildren();
    $("district-choices").replaceChildren();
    districtShapes = new Map();
    for (const code of me.municipality_codes) {
      const found = await Kizuna.api("GET", `/api/v1/municipalities/${code}`);
      const name = found.ok ? found.data.properties.name : code;
      choice("municipality-choices", code, t("console.area.whole", { name }));
      const districts = await Kizuna.api("GET", `/api/v1/municipalities/${code}/districts`);
      if (!districts.ok) continue;
      for (const feature of districts.data.features) {
        districtShapes.set(feature.id, feature);
        choice("district-choices", feature.id, feature.properties.name);
      }
    }
  }

  function drawDistricts() {
    if (districtLayer) map.removeLayer(districtLayer);
    const chosen = picked("district-choices").map((id) => districtShapes.get(id)).filter(Boolean);
    districtLayer = L.geoJSON(chosen, {
      pmIgnore: true, interactive: false, style: { color: "#a4161a", weight: 2, fillOpacity: 0.25 },
    }).addTo(map);
  }

  // ---- the delivery panel -------------------------------------------------------------------

  function startPolling() {
    stopPolling();
    pollDeliveries();
    loadAlerts();
    let ticks = 0;
    pollTimer = setInterval(() => {
      pollDeliveries();
      ticks += 1;
      if (ticks % 5 === 0) loadAlerts();
    }, 2000);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  const COUNTED = ["sent", "delivered", "failed", "pending"];

  async function pollDeliveries() {
    if (!currentAlert) return;
    const result = await call("GET", `/api/v1/alerts/${currentAlert.id}/deliveries`);
    if (!result.ok) return;
    const totals = Object.fromEntries(COUNTED.map((key) => [key, 0]));
    const rows = [];
    for (const [channel, counts] of Object.entries(result.data.channels).sort()) {
      const row = document.createElement("tr");
      row.dataset.channel = channel;
      const name = document.createElement("th");
      name.scope = "row";
      const label = t(`console.channel.${channel}`);
      name.textContent = label.startsWith("console.") ? channel : label;
      row.appendChild(name);
      for (const key of COUNTED) {
        // "sent" counts every message that left us; "delivered" the part the device confirmed.
        const value = counts[key] || 0;
        totals[key] += value;
        const cell = document.createElement("td");
        cell.className = `c-${key}`;
        cell.textContent = value;
        row.appendChild(cell);
      }
      rows.push(row);
    }
    $("delivery-rows").replaceChildren(...rows);
    $("d-recipients").textContent = result.data.recipients;
    for (const key of COUNTED) $(`d-${key}`).textContent = totals[key];
    $("d-acknowledged").textContent = result.data.acknowledged;
    if (result.data.version !== shownVersion) await showVersions();
  }

  let shownVersion = null;

  async function showVersions() {
    const result = await call("GET", `/api/v1/alerts/${currentAlert.id}`);
    if (!result.ok) return;
    const alert = result.data;
    shownVersion = alert.current_version;
    const rows = [...alert.versions].reverse().map((version) => {
      const row = document.createElement("tr");
      const info = (version.content.info || []);
      const chosen = info.find((block) => block.language.startsWith(Kizuna.lang)) || info[0];
      const cells = [
        String(version.version),
        t(`console.msg.${version.msg_type}`),
        new Date(version.sent).toLocaleString(Kizuna.lang),
        version.recipients_targeted == null ? "—" : String(version.recipients_targeted),
        chosen ? chosen.headline : "",
      ];
      cells.forEach((text, index) => {
        const cell = document.createElement(index === 0 ? "th" : "td");
        if (index === 0) cell.scope = "row";
        cell.textContent = text;
        row.appendChild(cell);
      });
      return row;
    });
    $("version-rows").replaceChildren(...rows);
    if (alert.state === "cancelled" || !alert.active) {
      $("issued-note").textContent = t(alert.state === "cancelled" ? "console.cancelled" : "console.expired");
      $("cancel").disabled = true;
      $("update").classList.add("hidden");
    }
  }

  // ---- the municipality's active alerts --------------------------------------------------------

  async function loadAlerts() {
    const result = await call("GET", "/api/v1/alerts?active=true&limit=50");
    if (!result.ok) return;
    const items = result.data.map((alert) => {
      const item = document.createElement("li");
      const info = alert.content.info || [];
      const chosen = info.find((block) => block.language.startsWith(Kizuna.lang)) || info[0];
      const text = document.createElement("span");
      text.textContent = `${chosen ? chosen.headline : alert.content.event} (v${alert.current_version})`;
      if (alert.status !== "Actual") {
        const badge = document.createElement("span");
        badge.className = "badge exercise";
        badge.textContent = alert.status;
        item.append(badge, " ");
      }
      const open = document.createElement("button");
      open.type = "button";
      open.className = "secondary";
      open.textContent = t("console.active.follow");
      open.setAttribute("aria-label", `${t("console.active.follow")}: ${text.textContent}`);
      open.addEventListener("click", () => follow(alert));
      item.append(text, " ", open);
      return item;
    });
    $("alert-list").replaceChildren(...items);
    $("no-alerts").classList.toggle("hidden", items.length > 0);
  }

  // Follow an alert issued earlier (here or by a colleague): its deliveries, versions, cancel.
  function follow(alert) {
    $("exercise").checked = alert.status !== "Actual";
    exerciseChanged();
    showIssued({ id: alert.id, version: alert.current_version });
    $("delivery-section").scrollIntoView();
  }

  // geoman's toolbar links carry their name only in the parent's title; give screen readers one.
  function labelToolbar() {
    document.querySelectorAll(".leaflet-pm-toolbar .leaflet-buttons-control-button").forEach((el) => {
      const title = el.parentElement && el.parentElement.getAttribute("title");
      if (title) el.setAttribute("aria-label", title);
    });
  }

  // ---- start --------------------------------------------------------------------------------

  function exerciseChanged() {
    $("exercise-banner").classList.toggle("hidden", !$("exercise").checked);
    document.body.classList.toggle("exercise", $("exercise").checked);
    labelButtons();
    saveDraft();
    // An exercise reaches only residents who opted in to drills: the count changes with it.
    preview();
  }

  async function start() {
    const result = await call("GET", "/api/v1/auth/me");
    if (!result.ok) return;
    me = result.data;
    $("login-form").classList.add("hidden");
    $("alert-form").classList.remove("hidden");
    $("logout").classList.remove("hidden");
    map.invalidateSize();
    if (me.municipality_codes.length) {
      const found = await Kizuna.api("GET", `/api/v1/municipalities/${me.municipality_codes[0]}`);
      if (found.ok) {
        if (boundary) map.removeLayer(boundary);
        boundary = L.geoJSON(found.data, {
          pmIgnore: true, interactive: false, style: { color: "#0b3d6e", weight: 3, fill: false },
        }).addTo(map);
        map.fitBounds(boundary.getBounds());
      }
    }
    await buildPicker();
    loadAlerts();
    clearInterval(approvalsTimer);
    loadApprovals();
    approvalsTimer = setInterval(loadApprovals, 5000);
    if (!areaLayer && !restoreDraft()) fillTexts();
    if (pendingAlertId && !pendingTimer) watchPending(pendingAlertId);
    exerciseChanged();
    if (areaLayer) areaChanged();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    await Kizuna.init();
    buildEvents();
    buildTexts();
    map = Kizuna.makeMap("map", [36.2, 138.25], 5);
    map.pm.addControls({
      position: "topleft",
      drawMarker: false, drawCircleMarker: false, drawPolyline: false, drawRectangle: true,
      drawPolygon: true, drawCircle: true, drawText: false, editMode: true, dragMode: false,
      cutPolygon: false, rotateMode: false, removalMode: false,
    });
    map.pm.setLang(Kizuna.lang === "ja" ? "ja" : "en");
    labelToolbar();
    map.on("pm:create", (event) => setArea(event.layer));
    $("login-form").addEventListener("submit", login);
    $("alert-form").addEventListener("submit", issue);
    $("alert-form").addEventListener("input", saveDraft);
    $("fill").addEventListener("click", fillTexts);
    $("update").addEventListener("click", update);
    $("cancel").addEventListener("click", cancel);
    $("new-alert").addEventListener("click", newAlert);
    $("logout").addEventListener("click", logout);
    $("withdraw").addEventListener("click", withdraw);
    $("exercise").addEventListener("change", exerciseChanged);
    document.addEventListener("kizuna:language", () => {
      buildEvents();
      map.pm.setLang(Kizuna.lang === "ja" ? "ja" : "en");
      labelToolbar();
      if (currentAlert) $("issued-note").textContent = t("console.issued", { v: currentAlert.version });
      labelButtons();
      if (me) loadApprovals();
      areaChanged();
    });
    if (token()) await start();
    else showLogin(false);
  });
})();
