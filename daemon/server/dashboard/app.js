// tollgate dashboard: polls the read-only JSON API every 2 s and redraws.
// Plain DOM code, no framework. Every piece of server data is written with
// textContent or attributes, never parsed as HTML.
"use strict";

(function () {
  const API = "api/token-usage";
  const POLL_MS = 2000;
  const HISTORY_MONTHS = 6;
  const DAILY_DAYS = 31;
  const ALERT_LIMIT = 20;
  // PROTOCOL.md defaults; replaced by thresholds found in the data.
  const DEFAULT_THRESHOLDS = { warning: 0.8, critical: 0.95, emergency: 0.98 };
  const PROVIDER_COLORS = { anthropic: "#d97757", openai: "#10a37f" };
  const PALETTE = ["#4e79a7", "#f28e2b", "#76b7b2", "#e15759", "#59a14f", "#b07aa1"];
  const SVG_NS = "http://www.w3.org/2000/svg";

  const state = { selected: agentFromHash(), thresholds: Object.assign({}, DEFAULT_THRESHOLDS) };

  // ---- small helpers

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children || []) if (c) node.appendChild(c);
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function replace(id, ...children) {
    const node = document.getElementById(id);
    node.replaceChildren(...children.filter(Boolean));
    return node;
  }

  // "81.2%"; "n/a" when no limit makes a percentage meaningless.
  function pct(p) {
    return typeof p === "number" && isFinite(p) ? p.toFixed(1) + "%" : "n/a";
  }

  function num(n) {
    return typeof n === "number" ? n.toLocaleString("en-US") : "—";
  }

  function color(provider, index) {
    return PROVIDER_COLORS[provider] || PALETTE[index % PALETTE.length];
  }

  function levelBadge(level, id) {
    const attrs = { class: "level level-" + (level || "unknown"), text: level || "unknown" };
    if (id) attrs.id = id;
    return el("strong", attrs);
  }

  function agentFromHash() {
    const m = /agent=([A-Za-z0-9_.-]+)/.exec(location.hash);
    return m ? m[1] : null;
  }

  // The HTTP API answers with the op's reply; tolerate a {error} body.
  async function getJSON(path) {
    const res = await fetch(path, { cache: "no-store" });
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      throw new Error(path + ": HTTP " + res.status + " (not JSON)");
    }
    if (!res.ok || body.ok === false) {
      const msg = body && body.error ? body.error.code + ": " + body.error.message : "HTTP " + res.status;
      throw new Error(msg);
    }
    return body;
  }

  function failed(id, err) {
    replace(id, el("p", { class: "error", text: "unavailable: " + err.message }));
  }

  // ---- thresholds: defaults, overridden by what the data reports

  function learnThresholds(data) {
    if (data && data.thresholds && typeof data.thresholds === "object") {
      for (const [level, t] of Object.entries(data.thresholds)) {
        if (level in DEFAULT_THRESHOLDS && typeof t === "number") state.thresholds[level] = t;
      }
    }
  }

  function learnThresholdsFromAlerts(alerts) {
    for (const a of alerts) {
      if (a.level in DEFAULT_THRESHOLDS && typeof a.threshold === "number") {
        state.thresholds[a.level] = a.threshold;
      }
    }
  }

  // ---- agents

  function usageBar(provider, index, usage, label) {
    const p = typeof usage.percentage === "number" ? usage.percentage : null;
    const bar = el("div", { class: "bar", role: "img", "aria-label": provider + " " + pct(p) });
    const fill = el("div", { class: "fill" });
    fill.style.width = Math.min(100, Math.max(0, p || 0)) + "%";
    fill.style.background = color(provider, index);
    bar.appendChild(fill);
    // Without a limit there is no percentage, so no threshold to mark.
    for (const [level, t] of p === null ? [] : Object.entries(state.thresholds)) {
      const mark = el("i", { class: "mark mark-" + level, title: level + " " + Math.round(t * 1000) / 10 + "%" });
      mark.style.left = t * 100 + "%";
      bar.appendChild(mark);
    }
    const detail = num(usage.used) + (usage.limit != null ? " / " + num(usage.limit) : "");
    return el("div", { class: "usage" }, [
      el("span", { class: "prov", text: label || provider }),
      bar,
      el("span", { class: "pct", text: pct(p) }),
      el("span", { class: "tokens", text: detail + " tokens" }),
    ]);
  }

  function agentRow(agent) {
    const providers = Object.entries(agent.providers || {});
    const row = el("div", {
      class: "agent" + (agent.ai_name === state.selected ? " selected" : ""),
      "data-agent": agent.ai_name,
      role: "button",
      tabindex: "0",
    }, [
      el("div", { class: "agent-head" }, [el("span", { class: "name", text: agent.ai_name }), levelBadge(agent.level)]),
      ...providers.map(([name, u], i) => usageBar(name, i, u)),
    ]);
    const pick = () => select(agent.ai_name);
    row.addEventListener("click", pick);
    row.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        pick();
      }
    });
    return row;
  }

  function renderSummary(summary) {
    learnThresholds(summary);
    document.getElementById("period").textContent = summary.period || "…";
    const agents = summary.agents || [];
    if (!state.selected && agents.length > 0) state.selected = agents[0].ai_name;
    if (agents.length === 0) {
      replace("agents", el("p", { class: "empty", text: "No agent has used a provider this month." }));
    } else {
      replace("agents", ...agents.map(agentRow));
    }
  }

  // ---- providers

  function renderProviders(status, summary) {
    const global = (summary && summary.providers) || {};
    const cards = Object.entries(status.providers || {}).map(([name, p], i) => {
      const g = global[name] || {};
      const rate = p.rate || {};
      const limit = (v) => (v ? num(v) : "∞");
      return el("div", { class: "provider", "data-provider": name }, [
        el("div", { class: "agent-head" }, [
          el("span", { class: "name", text: name }),
          el("strong", { class: "circuit circuit-" + p.circuit, text: "circuit " + (p.circuit || "?").replace("_", "-") }),
        ]),
        usageBar(name, i, { used: p.used, limit: p.limit, percentage: p.limit != null ? p.percentage : null }, "global"),
        el("dl", {}, [
          el("dt", { text: "configured" }), el("dd", { text: p.configured ? "yes" : "no (no API key)" }),
          el("dt", { text: "requests" }), el("dd", { text: num(g.requests) }),
          el("dt", { text: "cost" }), el("dd", { text: typeof g.cost_usd === "number" ? "$" + g.cost_usd.toFixed(4) : "—" }),
          el("dt", { text: "rate/min" }), el("dd", { text: num(rate.minute_used) + " / " + limit(rate.minute_limit) }),
          el("dt", { text: "rate/day" }), el("dd", { text: num(rate.day_used) + " / " + limit(rate.day_limit) }),
        ]),
      ]);
    });
    replace("providers", ...(cards.length ? cards : [el("p", { class: "empty", text: "No provider configured." })]));
  }

  // ---- emergency

  function renderEmergency(e) {
    const badge = document.getElementById("emergency-level");
    badge.textContent = e.level;
    badge.className = "level level-" + e.level;
    const reasons = (e.reasons || []).map((r) => el("li", { text: r }));
    const risk = (e.agents_at_risk || []).map((a) =>
      el("li", { class: "risk", "data-risk-agent": a.ai_name }, [
        levelBadge(a.level), el("span", { text: " " + a.ai_name + " on " + a.provider + " at " }),
        el("span", { class: "pct", text: pct(a.percentage) }),
      ]));
    replace("emergency",
      el("p", {}, [el("span", { text: "level " }), levelBadge(e.level),
        el("span", { text: e.shutdown ? " — calls are refused (shutdown)" : " — calls are served" })]),
      reasons.length ? el("ul", { class: "reasons" }, reasons) : el("p", { class: "empty", text: "No reasons reported." }),
      risk.length ? el("ul", { class: "at-risk" }, risk) : el("p", { class: "empty", text: "No agent at risk." }));
  }

  // ---- alerts

  function renderAlerts(reply) {
    const alerts = reply.alerts || [];
    learnThresholdsFromAlerts(alerts);
    const when = (ms) => (typeof ms === "number" ? new Date(ms).toISOString() : "");
    const items = alerts.map((a) =>
      el("li", { class: "alert alert-" + a.level }, [
        el("time", { datetime: when(a.at_ms), text: when(a.at_ms).replace("T", " ").slice(0, 19) }),
        levelBadge(a.level),
        el("span", { class: "message", text: a.message || a.ai_name + " " + a.provider + " " + pct(a.percentage) }),
      ]));
    replace("alerts", ...(items.length ? items : [el("li", { class: "empty", text: "No alerts this period." })]));
  }

  // ---- history chart (inline SVG, oldest month on the left)

  // Tokens a reset removed from a month's usage (`cleared`): still spent
  // that month, so the bar keeps them, faded, above what is counted now.
  function clearedOf(m) {
    return Object.values(m.providers || {}).reduce((sum, p) => sum + ((p || {}).cleared || 0), 0);
  }

  function renderHistory(h) {
    document.getElementById("history-agent").textContent = "— " + h.ai_name;
    const months = (h.months || []).slice().reverse();
    const providers = providersOf(months);
    const max = Math.max(1, ...months.map((m) => (m.total_tokens || 0) + clearedOf(m)));
    const W = 360, H = 200, top = 16, bottom = 30, left = 4;
    const slot = (W - left) / Math.max(1, months.length);
    const scale = (H - top - bottom) / max;
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
      "aria-label": "monthly tokens for " + h.ai_name });
    months.forEach((m, i) => {
      const x = left + i * slot + slot * 0.15;
      const w = slot * 0.7;
      let y = H - bottom;
      const segment = (p, j, tokens, what, cls) => {
        if (tokens <= 0) return;
        const hgt = tokens * scale;
        y -= hgt;
        const attrs = { x, y, width: w, height: hgt, fill: color(p, j) };
        if (cls) attrs.class = cls;
        const rect = svg("rect", attrs);
        rect.appendChild(svg("title", {}, `${m.period} ${p}: ${tokens} ${what}`));
        chart.appendChild(rect);
      };
      providers.forEach((p, j) => segment(p, j, ((m.providers || {})[p] || {}).used || 0, "tokens"));
      providers.forEach((p, j) =>
        segment(p, j, ((m.providers || {})[p] || {}).cleared || 0, "tokens cleared by a reset", "cleared"));
      chart.appendChild(svg("text", { x: x + w / 2, y: H - bottom + 14, "text-anchor": "middle", class: "axis" }, m.period));
      chart.appendChild(svg("text", { x: x + w / 2, y: Math.max(12, y - 4), "text-anchor": "middle", class: "value" },
        num(m.total_tokens || 0)));
    });
    chart.appendChild(svg("line", { x1: left, x2: W, y1: H - bottom, y2: H - bottom, class: "baseline" }));
    const legend = legendOf(providers);
    if (months.some((m) => clearedOf(m) > 0)) {
      legend.appendChild(el("li", { class: "cleared" }, [el("i", {}), el("span", { text: "cleared by a reset" })]));
    }
    replace("history", chart, legend);
  }

  // ---- daily chart (the last DAILY_DAYS UTC days, oldest on the left)

  function providersOf(list) {
    const names = [];
    for (const item of list) {
      for (const p of Object.keys(item.providers || {})) if (!names.includes(p)) names.push(p);
    }
    return names;
  }

  function legendOf(providers) {
    return el("ul", { class: "legend" }, providers.map((p, j) => {
      const swatch = el("i", {});
      swatch.style.background = color(p, j);
      return el("li", {}, [swatch, el("span", { text: p })]);
    }));
  }

  // One bar a day, a segment per provider; each segment carries its day,
  // provider and tokens as data attributes (and a tooltip title).
  function renderDaily(reply, agent) {
    const days = (reply.days || []).slice().reverse();
    const providers = providersOf(days);
    const usedOn = (day, p) => (((day.providers || {})[p] || {}).used || 0);
    const dayTotal = (d) => providers.reduce((sum, p) => sum + usedOn(d, p), 0);
    const max = Math.max(1, ...days.map(dayTotal));
    const W = 360, H = 150, top = 8, bottom = 24, left = 4;
    const slot = (W - left) / Math.max(1, days.length);
    const scale = (H - top - bottom) / max;
    const label = "tokens per day for " + agent + ", last " + days.length + " days (UTC)";
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart daily-chart", role: "img",
      "aria-label": label, "data-chart": "daily" });
    chart.appendChild(svg("title", {}, label));
    days.forEach((day, i) => {
      const x = left + i * slot + slot * 0.1;
      const w = slot * 0.8;
      let y = H - bottom;
      providers.forEach((p, j) => {
        const used = usedOn(day, p);
        if (used <= 0) return;
        const hgt = Math.max(1, used * scale);
        y -= hgt;
        const rect = svg("rect", { "data-date": day.date, "data-provider": p, "data-used": used,
          x, y, width: w, height: hgt, fill: color(p, j), class: "day-bar" });
        rect.appendChild(svg("title", {}, `${day.date} ${p}: ${used} tokens`));
        chart.appendChild(rect);
      });
      // A label every 7 days, counted back from today (the right edge,
      // where its label ends so that it is not cut off).
      if ((days.length - 1 - i) % 7 === 0 && typeof day.date === "string") {
        const last = i === days.length - 1;
        chart.appendChild(svg("text", { x: last ? x + w : x + w / 2, y: H - bottom + 14,
          "text-anchor": last ? "end" : "middle", class: "axis" }, day.date.slice(5)));
      }
    });
    chart.appendChild(svg("line",
      { x1: left, x2: W, y1: H - bottom, y2: H - bottom, class: "baseline" }));
    replace("daily", chart, legendOf(providers));
  }

  // ---- forecast (text, one line per provider budget of the agent)

  function utcDay(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  function forecastLine(provider, b, periodEnd) {
    const rate = Math.round(typeof b.daily_rate === "number" ? b.daily_rate : 0);
    const projected = num(b.projected_period_end_usage) +
      (b.limit != null ? " of " + num(b.limit) + " tokens" : " tokens (no limit)");
    const at = b.projected_exhausted_at_ms;
    const exhausted = typeof at === "number"
      ? "limit reached around " + new Date(at).toISOString().slice(0, 16).replace("T", " ") + " UTC"
      : "limit not reached before the period ends";
    return el("li", { "data-forecast-provider": provider }, [
      el("span", { class: "prov", text: provider + ": " }),
      el("span", { text: num(rate) + " tokens/day; projected " + projected + " by " + periodEnd +
        "; " + exhausted }),
    ]);
  }

  function renderForecast(reply, agent) {
    const budgets = Object.entries((reply.agents || {})[agent] || {});
    const end = typeof reply.period_end_ms === "number"
      ? utcDay(reply.period_end_ms) : "the period's end";
    const head = el("p", { class: "hint", text: "Forecast at the rate of the last " +
      (reply.window_days || "?") + " days; the period ends " + end + " (UTC)." });
    const items = budgets.map(([p, b]) => forecastLine(p, b || {}, end));
    replace("forecast", head, items.length
      ? el("ul", { class: "forecast-list" }, items)
      : el("p", { class: "empty", text: "No budget to forecast." }));
  }

  // ---- polling

  function select(name) {
    state.selected = name;
    history.replaceState(null, "", "#agent=" + encodeURIComponent(name));
    for (const row of document.querySelectorAll(".agent")) {
      row.classList.toggle("selected", row.dataset.agent === name);
    }
    loadHistory();
  }

  async function loadHistory() {
    if (!state.selected) return;
    const agent = state.selected;
    const name = encodeURIComponent(agent);
    const [history, daily, forecast] = await Promise.allSettled([
      getJSON(`${API}/history/${name}?months=${HISTORY_MONTHS}`),
      getJSON(`${API}/daily/${name}?days=${DAILY_DAYS}`),
      getJSON(`${API}/forecast/${name}`),
    ]);
    const show = (result, id, render) => {
      if (result.status === "fulfilled") render(result.value); else failed(id, result.reason);
    };
    show(history, "history", (h) => renderHistory(h));
    show(daily, "daily", (d) => renderDaily(d, agent));
    show(forecast, "forecast", (f) => renderForecast(f, agent));
  }

  async function poll() {
    const [summary, status, emergency, alerts] = await Promise.allSettled([
      getJSON(`${API}/summary`),
      getJSON(`${API}/provider-status`),
      getJSON(`${API}/emergency-status`),
      getJSON(`${API}/alerts?limit=${ALERT_LIMIT}`),
    ]);
    // Alerts first: they carry the configured thresholds the bars mark.
    if (alerts.status === "fulfilled") renderAlerts(alerts.value); else failed("alerts", alerts.reason);
    if (summary.status === "fulfilled") renderSummary(summary.value); else failed("agents", summary.reason);
    if (status.status === "fulfilled") {
      renderProviders(status.value, summary.status === "fulfilled" ? summary.value : null);
    } else {
      failed("providers", status.reason);
    }
    if (emergency.status === "fulfilled") renderEmergency(emergency.value); else failed("emergency", emergency.reason);
    await loadHistory();
    const results = [summary, status, emergency, alerts];
    const bad = results.filter((r) => r.status !== "fulfilled").length;
    // Replies the daemon could not read again (its ledger unreachable) and
    // answered from what it last read: say so, and since when.
    const stale = results
      .filter((r) => r.status === "fulfilled" && r.value && r.value.stale)
      .map((r) => r.value.stale);
    const statusNode = document.getElementById("status");
    if (bad) {
      statusNode.textContent = `${bad} of 4 requests failed`;
    } else if (stale.length) {
      const oldest = stale.reduce((a, b) => (b.as_of_ms < a.as_of_ms ? b : a));
      statusNode.textContent = "stale: the ledger cannot be read, showing data as of " +
        new Date(oldest.as_of_ms).toLocaleTimeString() + " (" + oldest.reason + ")";
    } else {
      statusNode.textContent = "updated " + new Date().toLocaleTimeString();
    }
    statusNode.className = "status" + (bad || stale.length ? " status-bad" : "");
  }

  async function loop() {
    try {
      await poll();
    } catch (err) {
      document.getElementById("status").textContent = "error: " + err.message;
    }
    setTimeout(loop, POLL_MS);
  }

  window.addEventListener("hashchange", () => {
    const name = agentFromHash();
    if (name && name !== state.selected) select(name);
  });
  loop();
})();
