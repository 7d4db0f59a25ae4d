// Quiver's live dashboard: polls GET ../v2/admin/dashboard every second and redraws.
// Every value from the server is put in the DOM as text (textContent, attributes), never as markup:
// model names and failure reasons come from files and users.
// With authentication on, the user enters an API key: it is kept in this tab's sessionStorage and sent only as
// "Authorization: Bearer" on the page's own fetches, never in a URL, never logged.
"use strict";

(() => {
  const API = "../v2/admin/dashboard";
  const AUDIT_API = "../v2/admin/audit?recent=20";
  const AUDIT_POLL_MS = 2000;
  const POLL_MS = 1000;
  const TIMEOUT_MS = 5000;
  const HISTORY = 120; // points kept per chart: two minutes at one poll a second
  const MIN_SPAN = 30; // points a chart's width stands for while it has fewer
  const KEY_ITEM = "quiver.apiKey";
  // What an Authorization header can carry: API keys (qk_<hex>_<base64url>) and JWTs are made of these.
  const KEY_SHAPE = /^[A-Za-z0-9._~+\/=-]+$/;

  const totalHistory = [];
  const versionHistory = new Map(); // "model\nversion" -> requests per second, oldest first

  const $ = (id) => document.getElementById(id);

  // Builds an element; children are nodes or strings (strings become text nodes, never HTML).
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  const countFormat = new Intl.NumberFormat("en-US");

  function count(n) {
    return n === null || n === undefined ? "—" : countFormat.format(n);
  }

  function rate(x) {
    if (x === null || x === undefined) return "—";
    if (x === 0) return "0";
    return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  }

  function ms(x) {
    if (x === null || x === undefined) return "—";
    if (x < 1) return (x * 1000).toFixed(0) + " µs";
    if (x < 10) return x.toFixed(2) + " ms";
    if (x < 100) return x.toFixed(1) + " ms";
    if (x < 1000) return x.toFixed(0) + " ms";
    return (x / 1000).toFixed(2) + " s";
  }

  function bytes(n) {
    if (n === null || n === undefined) return "—";
    const mib = n / (1024 * 1024);
    return mib >= 1024 ? (mib / 1024).toFixed(2) + " GiB" : mib >= 100 ? mib.toFixed(0) + " MiB" : mib.toFixed(1) + " MiB";
  }

  function percent(fraction) {
    return fraction === null || fraction === undefined ? "—" : (fraction * 100).toFixed(1) + " %";
  }

  function push(history, value) {
    history.push(value);
    if (history.length > HISTORY) history.shift();
  }

  // A line of the last values on a canvas, scaled to its own maximum; drawn for the device's pixel ratio.
  function drawLine(canvas, values) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 120;
    const height = canvas.clientHeight || 26;
    canvas.dataset.points = String(values.length);
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    // Unknown values before the first rate (the first poll) are left out; the line fills the width from 30 points on.
    const first = values.findIndex((v) => v !== null && v !== undefined);
    const points = first < 0 ? [] : values.slice(first).map((v) => v ?? 0);
    if (points.length < 2) return;
    const max = Math.max(...points, 1e-9);
    const step = width / (Math.max(points.length, MIN_SPAN) - 1);
    const x0 = width - (points.length - 1) * step;
    const y = (v) => height - 2 - (v / max) * (height - 4);
    const color = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#1f4e79";
    g.beginPath();
    points.forEach((v, i) => (i === 0 ? g.moveTo(x0, y(v)) : g.lineTo(x0 + i * step, y(v))));
    g.strokeStyle = color;
    g.lineWidth = 1.5;
    g.stroke();
    g.lineTo(x0 + (points.length - 1) * step, height);
    g.lineTo(x0, height);
    g.closePath();
    g.globalAlpha = 0.12;
    g.fillStyle = color;
    g.fill();
  }

  // A numeric cell whose raw value is kept in data-value, so tests and scripts read numbers, not formatting.
  function numberCell(field, value, text, sub, title) {
    return el("td", { className: "num", "data-field": field, "data-value": value ?? "", title },
      text, sub ? el("span", { className: "sub" }, sub) : null);
  }

  function latencyCell(field, live, all) {
    if (live !== null && live !== undefined) return numberCell(field, live, ms(live));
    if (all !== null && all !== undefined) {
      return el("td", { className: "num", "data-field": field, "data-value": "", title: "no request in the last window; over all requests" },
        el("span", { className: "stale" }, ms(all)), el("span", { className: "sub" }, "all time"));
    }
    return numberCell(field, null, "—");
  }

  function batchCell(batch) {
    if (!batch) return numberCell("batch", null, "—");
    const sizes = batch.sizes.map((s) => s.size + "×" + count(s.executions)).join(" · ");
    const mean = batch.mean ?? batch.mean_all;
    return numberCell("batch", batch.mean, mean === null ? "—" : mean.toFixed(1), sizes || null,
      "executions by batch size: " + (sizes || "none yet"));
  }

  function cacheCell(cache) {
    if (!cache) return el("td", { className: "num", "data-field": "cache", "data-value": "" }, el("span", { className: "badge off" }, "off"));
    const lookups = cache.hits + cache.misses;
    return numberCell("cache", cache.hit_rate, percent(cache.hit_rate), count(cache.hits) + " / " + count(lookups));
  }

  function driftCell(drift) {
    if (!drift) return el("td", { "data-field": "drift", "data-value": "" }, el("span", { className: "badge off" }, "off"));
    const worst = drift.features.find((f) => f.state !== "ok");
    return el("td", { "data-field": "drift", "data-value": drift.state },
      el("span", { className: "badge " + drift.state }, drift.state),
      worst ? el("span", { className: "sub" }, worst.feature + " PSI " + worst.psi.toFixed(2)) : null);
  }

  function versionRow(model, v) {
    const key = model.name + "\n" + v.version;
    const history = versionHistory.get(key) || [];
    const loaded = v.state === "ready";
    const spark = el("canvas", { className: "spark", "aria-hidden": "true" });
    const state = el("td", { "data-field": "state", "data-value": v.state },
      el("span", { className: "badge " + v.state }, v.state),
      v.reason ? el("div", { className: "reason", "data-field": "reason" }, v.reason) : null);
    const row = el("tr", { "data-model": model.name, "data-version": v.version },
      el("td", { className: "name", "data-field": "model" }, model.name),
      el("td", { "data-field": "version" }, v.version, el("br"), ...v.aliases.map((a) => el("span", { className: "alias" }, a))),
      state,
      loaded ? numberCell("rps", v.requests_per_second, rate(v.requests_per_second)) : el("td"),
      loaded ? numberCell("success", v.success, count(v.success)) : el("td"),
      loaded ? numberCell("failure", v.failure, count(v.failure), v.failures_per_second ? rate(v.failures_per_second) + "/s" : null) : el("td"),
      loaded ? latencyCell("p50", v.latency_ms.p50, v.latency_ms.p50_all) : el("td"),
      loaded ? latencyCell("p99", v.latency_ms.p99, v.latency_ms.p99_all) : el("td"),
      loaded ? numberCell("queue", v.queue_depth, count(v.queue_depth)) : el("td"),
      loaded ? batchCell(v.batch) : el("td"),
      loaded ? cacheCell(v.cache) : el("td"),
      loaded ? driftCell(v.drift) : el("td"),
      el("td", null, loaded ? spark : null));
    return { row, draw: () => loaded && drawLine(spark, history) };
  }

  function driftCard(model, v) {
    const d = v.drift;
    const rows = d.features.map((f) => el("tr", { "data-feature": f.feature },
      el("td", null, f.feature),
      el("td", { className: "num" }, f.psi.toFixed(3)),
      el("td", { className: "num" }, f.ks.toFixed(3)),
      el("td", null, el("span", { className: "badge " + f.state }, f.state))));
    return el("div", { className: "card", "data-model": model.name, "data-version": v.version },
      el("h3", null, model.name + " v" + v.version + " ", el("span", { className: "badge " + d.state }, d.state)),
      el("p", { className: "small muted" },
        d.baseline + " baseline of " + count(d.baseline_rows) + " rows · " + count(d.window_rows) + " rows in the live window"),
      rows.length === 0
        ? el("p", { className: "small muted" }, "No feature seen yet.")
        : el("table", null,
          el("thead", null, el("tr", null, el("th", null, "Feature"), el("th", { className: "num" }, "PSI"),
            el("th", { className: "num" }, "KS"), el("th", null, "State"))),
          el("tbody", null, ...rows)));
  }

  function fraction(x, digits) {
    return x === null || x === undefined ? "—" : x.toFixed(digits);
  }

  function stepRow(side, window) {
    if (!window) return null;
    return el("tr", { "data-side": side },
      el("td", null, side),
      el("td", { className: "num" }, count(window.requests)),
      el("td", { className: "num" }, count(window.failures)),
      el("td", { className: "num" }, ms(window.p99_ms)));
  }

  function rolloutCard(r) {
    const steps = el("div", { className: "steps" }, ...r.steps.map((weight, i) =>
      el("span", { className: "step" + (i + 1 < r.step ? " done" : i + 1 === r.step ? " current" : "") }, weight + " %")));
    return el("div", { className: "card", "data-rollout": r.model },
      el("h3", null, r.model + " rollout ", el("span", { className: "badge " + r.state, "data-field": "state" }, r.state.replace("_", " "))),
      el("p", { className: "small" }, "version " + r.baseline + " → " + r.candidate + " · step " + r.step + " of " + r.steps.length +
        ": " + r.candidate_weight + " % of requests to the candidate"),
      steps,
      r.candidate_step
        ? el("table", null,
          el("thead", null, el("tr", null, el("th", null, "This step"), el("th", { className: "num" }, "Requests"),
            el("th", { className: "num" }, "Failed"), el("th", { className: "num" }, "p99"))),
          el("tbody", null, stepRow("baseline", r.baseline_step), stepRow("candidate", r.candidate_step)))
        : null,
      el("p", { className: "small muted" }, "Rolls back above " + (r.max_error_rate * 100).toFixed(1) +
        " % errors or a p99 over " + r.max_p99_latency_ratio + "× the baseline's."),
      r.last_event
        ? el("p", { className: "small muted", "data-field": "last-event" },
          new Date(r.last_event.at).toLocaleTimeString() + " " + r.last_event.action + ": " + r.last_event.reason)
        : null);
  }

  // The ready versions by "model\nversion" and "model\nalias", so a variant shows the live figures of what it serves.
  const serving = new Map();

  function servingCell(field, variant, pick, format) {
    const version = serving.get(variant.model + "\n" + (variant.version || "production"));
    const value = version ? pick(version) : null;
    return el("td", { className: "num", "data-field": field, "data-value": value === null || value === undefined ? "" : value },
      value === null || value === undefined ? "—" : format(value));
  }

  function endpointCard(e) {
    const routed = e.variants.reduce((sum, v) => sum + v.routed, 0);
    const readouts = new Map((e.experiment ? e.experiment.variants : []).map((v) => [v.name, v]));
    const rows = e.variants.map((v) => {
      const readout = readouts.get(v.name);
      return el("tr", { "data-variant": v.name },
        el("td", null, v.name),
        el("td", null, v.model + (v.version ? " v" + v.version : "")),
        el("td", { className: "num" }, v.weight + " %"),
        el("td", { className: "num", "data-field": "routed", "data-value": v.routed },
          count(v.routed), el("span", { className: "sub" }, routed > 0 ? percent(v.routed / routed) : "")),
        servingCell("rps", v, (s) => s.requests_per_second, rate),
        servingCell("p99", v, (s) => s.latency_ms.p99, ms),
        e.experiment
          ? el("td", { className: "num" }, readout ? count(readout.outcomes) : "—")
          : null,
        e.experiment
          ? el("td", { className: "num" }, readout && readout.mean !== null ? fraction(readout.mean, 3) : "—",
            readout && readout.ci_low !== null
              ? el("span", { className: "sub" }, fraction(readout.ci_low, 3) + " … " + fraction(readout.ci_high, 3))
              : null)
          : null);
    });
    const x = e.experiment;
    return el("div", { className: "card", "data-endpoint": e.name },
      el("h3", null, e.name + " ", el("span", { className: "badge " + (x ? "experiment" : "split") }, x ? "A/B test" : "split")),
      el("table", null,
        el("thead", null, el("tr", null, el("th", null, "Variant"), el("th", null, "Serves"), el("th", { className: "num" }, "Weight"),
          el("th", { className: "num" }, "Routed"),
          el("th", { className: "num", title: "requests per second and p99 of the version this variant serves, over the last window" }, "Req/s"),
          el("th", { className: "num", title: "requests per second and p99 of the version this variant serves, over the last window" }, "p99"),
          x ? el("th", { className: "num" }, "Outcomes") : null,
          x ? el("th", { className: "num", title: "mean outcome with its 95% interval" }, "Mean") : null)),
        el("tbody", null, ...rows)),
      x ? el("p", { className: "small" },
        el("span", { className: "badge " + x.decision, "data-field": "decision" }, x.decision.replace("_", " ")),
        " " + x.reason) : null,
      ...(x ? x.comparisons.map((c) => el("p", { className: "small muted" },
        c.variant + " vs " + c.against + ": difference " + fraction(c.difference, 4) + ", p = " + fraction(c.p_value, 4) +
        " (always-valid p = " + fraction(c.sequential_p_value, 4) + ")")) : []),
      e.shadow
        ? el("p", { className: "small muted", "data-field": "shadow" },
          "Shadow " + e.shadow.model + (e.shadow.version ? " v" + e.shadow.version : "") + " gets " + e.shadow.percent + " %: " +
          count(e.shadow.compared) + " compared, " + percent(e.shadow.agreement_rate) + " agree, mean |difference| " +
          fraction(e.shadow.mean_absolute_difference, 4) + ", " + count(e.shadow.failed) + " failed, " + count(e.shadow.dropped) + " dropped")
        : null);
  }

  function render(data) {
    const totals = data.totals;
    $("server-version").textContent = "v" + data.server.version + " · up " + uptime(data.server.uptime_seconds);
    $("total-rps").textContent = rate(totals.requests_per_second);
    $("total-success").textContent = count(totals.success);
    $("total-failure").textContent = count(totals.failure);
    $("total-failure-rate").textContent = totals.failures_per_second ? rate(totals.failures_per_second) + " / s now" : "none in the last window";
    $("total-models").textContent = count(totals.models);
    $("total-versions").textContent = count(totals.versions_ready) + " versions ready · " + count(totals.versions_failed) + " failed";
    $("total-queue").textContent = count(totals.queue_depth);
    $("process-memory").textContent = bytes(data.process.resident_memory_bytes);
    $("process-heap").textContent = bytes(data.process.managed_heap_bytes) + " managed heap";
    $("process-cpu").textContent = data.process.cpu_percent === null ? "—" : data.process.cpu_percent.toFixed(1) + " %";
    $("process-threads").textContent = "of " + data.process.cores + " cores · " + data.process.threads + " threads";
    $("window-note").textContent = "Req/s, p50, p99 and batch cover the last " + data.server.window_seconds +
      " s; counts are since each version loaded.";

    push(totalHistory, totals.requests_per_second);
    const seen = new Set();
    const rows = [];
    const driftCards = [];
    serving.clear();
    for (const model of data.models) {
      for (const v of model.versions) {
        const key = model.name + "\n" + v.version;
        seen.add(key);
        if (v.state === "ready") {
          serving.set(key, v);
          for (const alias of v.aliases) serving.set(model.name + "\n" + alias, v);
        }
        if (!versionHistory.has(key)) versionHistory.set(key, []);
        push(versionHistory.get(key), v.requests_per_second);
        rows.push(versionRow(model, v));
        if (v.drift) driftCards.push(driftCard(model, v));
      }
    }
    for (const key of [...versionHistory.keys()]) {
      if (!seen.has(key)) versionHistory.delete(key);
    }

    $("empty").hidden = data.models.length > 0;
    $("models-wrap").hidden = data.models.length === 0;
    $("model-rows").replaceChildren(...rows.map((r) => r.row));
    rows.forEach((r) => r.draw());
    const trafficCards = [...data.rollouts.map(rolloutCard), ...data.endpoints.map(endpointCard)];
    $("traffic-cards").replaceChildren(...trafficCards);
    $("rollouts-error").hidden = !data.rollouts_error;
    $("rollouts-error").textContent = data.rollouts_error || "";
    $("traffic-section").hidden = trafficCards.length === 0 && !data.rollouts_error;
    $("drift-section").hidden = driftCards.length === 0;
    $("drift-cards").replaceChildren(...driftCards);
    drawLine($("rps-chart"), totalHistory);
  }

  function uptime(seconds) {
    const s = Math.floor(seconds);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  function setStatus(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_ITEM);
    } catch (e) {
      return null; // storage disabled: the page still works on a server without authentication
    }
  }

  function requestHeaders() {
    const headers = { Accept: "application/json" };
    const key = storedKey();
    if (key) headers.Authorization = "Bearer " + key;
    return headers;
  }

  // The server's own {"error": "..."} text, which names the key (never its secret) and the role it lacks.
  async function errorText(response) {
    try {
      const body = await response.json();
      return typeof body.error === "string" ? body.error : "";
    } catch (e) {
      return "";
    }
  }

  function showKeyForm(message) {
    $("auth-message").textContent = message;
    $("auth").hidden = false;
    $("auth-forget").hidden = storedKey() === null;
  }

  function hideKeyForm() {
    $("auth").hidden = true;
    $("auth-forget").hidden = storedKey() === null;
  }

  // A refused key is forgotten, so a reload asks again instead of sending it on.
  async function refused(response) {
    const hadKey = storedKey() !== null;
    const reason = await errorText(response);
    try {
      sessionStorage.removeItem(KEY_ITEM);
    } catch (e) {
      // nothing stored
    }
    if (response.status === 401 && !hadKey) {
      setStatus("auth", "API key needed");
      showKeyForm("This server requires authentication. Enter an API key with the viewer role " +
        "(create one with: quiver keys create --name dashboard --role viewer).");
    } else if (response.status === 401) {
      setStatus("auth", "key refused");
      showKeyForm("The server refused the key: " + (reason || "HTTP 401") + " Enter another.");
    } else {
      setStatus("auth", "key lacks a role");
      showKeyForm("This key may not read the dashboard: " + (reason || "HTTP 403") +
        " Enter a key with the viewer role.");
    }
  }

  // Polls stop on 401 or 403, so a tab left open without a good key does not fill the server's audit log with
  // refusals every second; a new key starts them again.
  let polling = false;
  let pollingAudit = false;

  async function poll() {
    polling = true;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(API, { cache: "no-store", signal: controller.signal, headers: requestHeaders() });
      if (response.status === 401 || response.status === 403) {
        await refused(response);
        polling = false;
        return;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
      hideKeyForm();
      setStatus("live", "live · " + new Date().toLocaleTimeString());
    } catch (e) {
      setStatus("down", "server unreachable (" + (e.name === "AbortError" ? "timed out" : e.message) + ") · retrying");
    } finally {
      clearTimeout(timer);
    }
    setTimeout(poll, POLL_MS);
  }

  function startPolls() {
    if (!polling) poll();
    if (!pollingAudit) pollAudit();
  }

  function useKey(event) {
    event.preventDefault();
    const input = $("auth-key");
    const key = input.value.trim();
    if (!KEY_SHAPE.test(key)) {
      showKeyForm(key === "" ? "Enter an API key." : "That is not an API key: a key is qk_ followed by letters, digits, '_' and '-'.");
      return;
    }
    input.value = "";
    try {
      sessionStorage.setItem(KEY_ITEM, key);
    } catch (e) {
      showKeyForm("This browser does not allow session storage for this page, so the key cannot be kept.");
      return;
    }
    $("auth-message").textContent = "Checking the key…";
    startPolls();
  }

  function forgetKey() {
    try {
      sessionStorage.removeItem(KEY_ITEM);
    } catch (e) {
      // nothing stored
    }
    $("auth-forget").hidden = true;
    // The next poll without a key gets 401 on a server with authentication, and asks for one.
    startPolls();
  }

  // The newest audit entries, newest first, with the server's last verdict on the chain.
  function renderAudit(data) {
    const chain = $("audit-chain");
    const valid = data.chain ? data.chain.valid : null;
    chain.dataset.state = valid === true ? "valid" : valid === false ? "invalid" : "unknown";
    chain.textContent = valid === true ? "chain intact" : valid === false ? "chain BROKEN" : "chain not verified yet";
    chain.title = (data.chain && data.chain.message) || "";
    const rows = data.entries.map((e) => el("tr", { "data-sequence": e.sequence },
      el("td", { className: "num", "data-field": "sequence", "data-value": e.sequence }, String(e.sequence)),
      el("td", { "data-field": "time" }, new Date(e.time).toLocaleString()),
      el("td", { "data-field": "actor", "data-value": e.actor }, e.actor + (e.tenant ? " (" + e.tenant + ")" : "")),
      el("td", { "data-field": "action", "data-value": e.action }, e.action),
      el("td", { "data-field": "resource", "data-value": e.resource }, e.resource),
      el("td", { "data-field": "outcome", "data-value": e.outcome, className: "outcome-" + e.outcome, title: e.details || "" }, e.outcome),
      el("td", { "data-field": "source" }, e.source || "—")));
    $("audit-rows").replaceChildren(...rows);
    $("audit-empty").hidden = rows.length > 0;
    $("audit-wrap").hidden = rows.length === 0;
    $("audit-error").hidden = true;
  }

  async function pollAudit() {
    pollingAudit = true;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(AUDIT_API, { cache: "no-store", signal: controller.signal, headers: requestHeaders() });
      if (response.status === 401 || response.status === 403) {
        // Not asked again until the key changes: each refusal is an audit event of its own.
        $("audit-error").textContent = response.status === 401
          ? "The audit log needs an API key with the admin role."
          : "This key does not have the admin role, which the audit log needs.";
        $("audit-error").hidden = false;
        $("audit-wrap").hidden = true;
        pollingAudit = false;
        return;
      }
      if (response.ok) renderAudit(await response.json());
    } catch (e) {
      // The main poll reports an unreachable server.
    } finally {
      clearTimeout(timer);
    }
    setTimeout(pollAudit, AUDIT_POLL_MS);
  }

  $("auth-form").addEventListener("submit", useKey);
  $("auth-forget").addEventListener("click", forgetKey);
  $("auth-forget").hidden = storedKey() === null;
  startPolls();
})();
