// Grand Mediation Linkage dashboard (研判看板): reads reporting's JSON API with the
// user's bearer token and draws this month's figures (with the petition indicators
// 及时受理率 and 按期办结率 of petition matters, and 督办), the 12-month trend, categories,
// channels, rising categories and regions, the overdue list (with the supervising
// leader), the hand-off board, the early warnings (预警, GET /warnings) and the month's
// 实绩考核 ranking (GET /stats/performance-review) with the figures behind each score.
// The page itself holds no data; every figure comes from the token-protected API.
"use strict";

// The page's own words. The values it shows (categories, channels, agencies, statuses...)
// and the column names are labelled by the service's vocabulary (GET /vocabulary), the
// same words the CSV export uses.
const I18N = {
  zh: {
    title: "大调解联动 · 研判看板", month: "月份", region: "区域", refresh: "刷新",
    other_language: "English", logout: "退出", token: "访问令牌", sign_in: "进入",
    this_month: "本月概况", trend: "近12个月趋势", by_category: "按纠纷类别",
    by_channel: "按来源渠道", rising: "上升最快（与上月比）", overdue: "超期案件",
    handoffs: "对接看板", received: "登记", closed: "办结", resolved: "化解成功",
    resolution_rate: "化解率", on_time_rate: "按期办结率", satisfaction_rate: "满意率",
    rating_rate: "参评率", overdue_count: "超期", collective: "集体访", repeat: "重复访",
    timely_acceptance_rate: "及时受理率", petition_on_time_rate: "信访事项按期办结率",
    supervised: "督办", supervisor: "督办领导",
    loading: "正在加载…", loaded: "数据更新于", bad_token: "令牌无效或无权查看",
    failed: "加载失败", none: "无", case_number: "编号", category: "纠纷类别",
    unit: "责任单位", handler: "承办人", due_at: "办结时限", agency: "对接单位",
    handoff_kind: "对接事项", handoff_status: "对接状态", categories: "纠纷类别",
    regions: "区域", cases: "件",
    warnings: "预警", warning_rule: "预警规则", warning_level: "预警等级", raised_at: "预警时间",
    warning_region: "区域", warning_cases: "涉及案件", warning_status: "处理状态",
    hotspot_surge: "热点激增", escalation_risk: "升级风险（重复、集体、越级）",
    key_cases_sensitive_period: "敏感期重点案件", high_risk_project: "稳评高风险项目",
    blue: "蓝色", yellow: "黄色", orange: "橙色", red: "红色",
    open: "待签收", acknowledged: "已签收", closed: "已关闭",
    performance_review: "实绩考核排名", review_by_unit: "按单位", review_by_lead: "按包案领导",
    review_note: "得分 = Σ 权重 × 比率 − 扣分；各格为 分子/分母 → 得分。权重为本地默认，非法定。",
    review_rank: "排名", review_name: "单位/领导", review_score: "得分", review_base: "基础分",
    review_deducted: "扣分", ind_timely_acceptance: "及时受理率", ind_on_time_closure: "按期办结率",
    ind_resolution: "化解率", ind_satisfaction: "满意率", ind_rating: "参评率",
    ded_repeat: "重复信访", ded_level_skipping: "越级信访", not_scored: "无数据，不计分",
  },
  en: {
    title: "Grand Mediation Linkage · Dashboard", month: "Month", region: "Region",
    refresh: "Refresh", other_language: "中文", logout: "Sign out", token: "Access token",
    sign_in: "Sign in", this_month: "This month", trend: "Last 12 months",
    by_category: "By category", by_channel: "By channel",
    rising: "Rising fastest (vs previous month)", overdue: "Overdue cases",
    handoffs: "Hand-off board", received: "Registered", closed: "Closed", resolved: "Resolved",
    resolution_rate: "Resolution rate", on_time_rate: "On-time rate",
    satisfaction_rate: "Satisfaction rate", rating_rate: "Rating rate", overdue_count: "Overdue",
    timely_acceptance_rate: "Timely acceptance rate",
    petition_on_time_rate: "Petitions answered on time", supervised: "Supervised",
    supervisor: "Supervising leader",
    collective: "Collective", repeat: "Repeat", loading: "Loading…", loaded: "Updated",
    bad_token: "Token not valid or not allowed", failed: "Loading failed", none: "None",
    case_number: "Case number", category: "Category", unit: "Unit", handler: "Handler",
    due_at: "Due", agency: "Agency", handoff_kind: "Kind", handoff_status: "Status",
    categories: "Categories", regions: "Regions", cases: "cases",
    warnings: "Early warnings", warning_rule: "Rule", warning_level: "Level",
    raised_at: "Raised", warning_region: "Region", warning_cases: "Cases",
    warning_status: "Status", hotspot_surge: "Hotspot surge",
    escalation_risk: "Escalation risk (repeat, collective, level-skipping)",
    key_cases_sensitive_period: "Key cases before a sensitive period",
    high_risk_project: "High-risk project", blue: "Blue", yellow: "Yellow", orange: "Orange",
    red: "Red", open: "Open", acknowledged: "Acknowledged", closed: "Closed",
    performance_review: "Performance ranking (实绩考核)", review_by_unit: "By unit",
    review_by_lead: "By lead leader",
    review_note: "Score = Σ weight × rate − deductions; each cell: numerator/denominator → points. The weights are local defaults, not law.",
    review_rank: "Rank", review_name: "Unit / leader", review_score: "Score", review_base: "Base",
    review_deducted: "Deducted", ind_timely_acceptance: "Timely acceptance",
    ind_on_time_closure: "Closed on time", ind_resolution: "Resolution",
    ind_satisfaction: "Satisfaction", ind_rating: "Rated", ded_repeat: "Repeat",
    ded_level_skipping: "Level-skipping", not_scored: "no data, not scored",
  },
};

// {lang: {vocabulary: {value: label}}}, loaded from GET /vocabulary once per language.
const VOCABULARY = {};
const state = { lang: "zh", token: null };

function t(key) { return I18N[state.lang][key] ?? key; }
// A value's label in its vocabulary ("category", "channel", "agency", "handoff_kind",
// "handoff_status", ...); a value the vocabulary does not know is shown as it is.
function term(vocabulary, value) {
  if (value == null) return "";
  return VOCABULARY[state.lang]?.[vocabulary]?.[value] ?? String(value);
}
// A column's name: the ledger's field label, else the page's own word.
function field(key) { return VOCABULARY[state.lang]?.field?.[key] ?? t(key); }
function percent(rate) { return rate == null ? "—" : `${(rate * 100).toFixed(1)}%`; }

async function loadVocabulary() {
  if (!VOCABULARY[state.lang]) {
    VOCABULARY[state.lang] = (await api("vocabulary", { lang: state.lang })).labels;
  }
  return VOCABULARY[state.lang];
}

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
}

async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  const resp = await fetch(`${path}${query.toString() ? "?" + query : ""}`,
                           { headers: { Authorization: `Bearer ${state.token}` } });
  if (resp.status === 401 || resp.status === 403) throw Object.assign(new Error(t("bad_token")), { auth: true });
  if (!resp.ok) throw new Error(`${t("failed")}: ${path} ${resp.status}`);
  return resp.json();
}

function currentMonth() {
  // The service reckons months in its time zone; the browser's month is only the default.
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
}

function figureCards(stats) {
  const cards = [
    ["received", stats.received], ["closed", stats.closed], ["resolved", stats.resolved],
    ["resolution_rate", percent(stats.resolution_rate)],
    ["on_time_rate", percent(stats.on_time_rate)],
    ["satisfaction_rate", percent(stats.satisfaction_rate ?? stats.satisfaction?.satisfaction_rate)],
    ["rating_rate", percent(stats.rating_rate ?? stats.satisfaction?.rating_rate)],
    ["overdue_count", stats.overdue], ["collective", stats.collective], ["repeat", stats.repeat],
    // 信访事项 (信访工作条例): told of acceptance in time, answered within the period; 督办
    ["timely_acceptance_rate", percent(stats.petitions?.timely_acceptance_rate)],
    ["petition_on_time_rate", percent(stats.petitions?.on_time_rate)],
    ["supervised", stats.supervised],
  ];
  const box = document.getElementById("figures");
  box.replaceChildren(...cards.map(([key, value]) => {
    const div = document.createElement("div");
    div.className = "figure";
    div.dataset.figure = key;
    div.innerHTML = `<div class="value"></div><div class="label"></div>`;
    div.querySelector(".value").textContent = value ?? 0;
    div.querySelector(".label").textContent = t(key);
    return div;
  }));
}

const LAYOUT = { margin: { t: 10, r: 10, b: 60, l: 40 }, legend: { orientation: "h" },
                 font: { family: "Noto Sans CJK SC, Microsoft YaHei, sans-serif" } };
const CONFIG = { displayModeBar: false, responsive: true };

async function draw(id, traces, layout = {}) {
  const el = document.getElementById(id);
  el.dataset.ready = "false";
  await Plotly.react(el, traces, { ...LAYOUT, ...layout }, CONFIG);
  el.dataset.ready = "true";  // tests and screen readers: the chart is drawn
}

function trendChart(trend) {
  const months = trend.map((m) => m.month);
  return draw("trend-chart", [
    { type: "scatter", mode: "lines+markers", name: t("received"), x: months, y: trend.map((m) => m.received) },
    { type: "scatter", mode: "lines+markers", name: t("closed"), x: months, y: trend.map((m) => m.closed) },
    { type: "scatter", mode: "lines+markers", name: t("resolved"), x: months, y: trend.map((m) => m.resolved) },
  ], { xaxis: { type: "category" } });
}

function barChart(id, vocabulary, counts) {
  const entries = Object.entries(counts || {}).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  return draw(id, [{ type: "bar", x: entries.map(([k]) => term(vocabulary, k)), y: entries.map(([, v]) => v),
                     customdata: entries.map(([k]) => k), name: t("cases") }]);
}

function risingList(stats) {
  const box = document.getElementById("rising");
  const block = (title, items) => {
    const div = document.createElement("div");
    const h = document.createElement("h3");
    h.textContent = t(title);
    const ul = document.createElement("ul");
    for (const item of items || []) {
      const li = document.createElement("li");
      const name = item.category != null ? term("category", item.category) : (item.region ?? item.key);
      li.textContent = `${name}: ${item.previous ?? 0} → ${item.current ?? item.count ?? 0}`;
      ul.append(li);
    }
    if (!ul.children.length) ul.append(Object.assign(document.createElement("li"), { textContent: t("none") }));
    div.append(h, ul);
    return div;
  };
  box.replaceChildren(block("categories", stats.rising_categories), block("regions", stats.rising_regions));
}

function table(id, columns, rows) {
  const tableEl = document.getElementById(id);
  const head = document.createElement("tr");
  for (const [key] of columns) head.append(Object.assign(document.createElement("th"), { textContent: field(key) }));
  tableEl.tHead.replaceChildren(head);
  const body = rows.length ? rows.map((row) => {
    const tr = document.createElement("tr");
    for (const [, pick] of columns) tr.append(Object.assign(document.createElement("td"), { textContent: pick(row) ?? "" }));
    return tr;
  }) : [Object.assign(document.createElement("tr"), { innerHTML: `<td colspan="${columns.length}"></td>` })];
  if (!rows.length) body[0].firstChild.textContent = t("none");
  tableEl.tBodies[0].replaceChildren(...body);
  tableEl.dataset.rows = String(rows.length);
}

// 实绩考核: rank order as the service gives it; each indicator as numerator/denominator →
// points, so the score can be checked by hand (the weights are in the answer's `rules`).
function reviewTable(review) {
  const by = review.by;
  const cell = (i) => (i.denominator ? `${i.numerator}/${i.denominator} → ${i.points}` : "—");
  table("performance-review", [
    ["review_rank", (r) => (r.rank == null ? "—" : String(r.rank))],
    ["review_name", (r) => r.name ?? r[by]],
    ["review_score", (r) => (r.score == null ? t("not_scored") : String(r.score))],
    ["review_base", (r) => (r.base == null ? "—" : String(r.base))],
    ...["timely_acceptance", "on_time_closure", "resolution", "satisfaction", "rating"].map(
      (k) => [`ind_${k}`, (r) => cell(r.indicators.find((i) => i.indicator === k))]),
    ...["repeat", "level_skipping"].map(
      (k) => [`ded_${k}`, (r) => { const d = r.deductions.find((x) => x.deduction === k);
                                   return d.count ? `${d.count} → −${d.points}` : "0"; }]),
    ["review_deducted", (r) => String(r.deducted)],
  ], review.rows || []);
}

const localTime = (iso) => (iso ? new Date(iso).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB",
                                                              { timeZone: "Asia/Shanghai" }) : "");

async function refresh() {
  const month = document.getElementById("month").value || currentMonth();
  const region = document.getElementById("region").value.trim();
  const status = document.getElementById("status");
  status.textContent = t("loading");
  document.body.dataset.loaded = "false";
  try {
    const [, stats, trend, overdue, board, warnings, review] = await Promise.all([
      loadVocabulary(),
      api("stats/monthly", { month, region }),
      api("stats/trend", { months: 12, region, until: month }),
      api("overdue", { region }),
      api("handoffs", { region }),
      api("warnings", { region }),
      api("stats/performance-review", { month, region, by: document.getElementById("review-by").value }),
    ]);
    figureCards(stats);
    risingList(stats);
    await Promise.all([
      trendChart(trend.months || trend.items || []),
      barChart("category-chart", "category", stats.by_category),
      barChart("channel-chart", "channel", stats.by_channel),
    ]);
    table("overdue", [
      ["case_number", (r) => r.case_number], ["category", (r) => term("category", r.category)],
      ["unit", (r) => r.unit_name ?? r.unit], ["handler", (r) => r.handler_name ?? r.handler],
      ["due_at", (r) => localTime(r.due_at)],
      // the leader who supervises it (督办), by name when the directory knows them
      ["supervisor", (r) => r.supervisor_name ?? r.supervisor],
    ], overdue.items || []);
    table("handoffs", [
      ["case_number", (r) => r.case_number], ["agency", (r) => term("agency", r.agency)],
      ["handoff_kind", (r) => term("handoff_kind", r.kind)],
      ["handoff_status", (r) => term("handoff_status", r.status)],
      ["due_at", (r) => localTime(r.due_at)],
    ], board.items || []);
    // 预警: newest first, open ones before those a leader has taken in hand
    const order = { open: 0, acknowledged: 1, closed: 2 };
    table("warnings", [
      ["raised_at", (r) => localTime(r.raised_at)], ["warning_rule", (r) => t(r.rule)],
      ["warning_level", (r) => t(r.level)], ["warning_region", (r) => r.region],
      ["warning_cases", (r) => String(r.evidence.case_ids.length)],
      ["warning_status", (r) => t(r.status)],
    ], (warnings.items || []).slice().sort((a, b) => (order[a.status] - order[b.status])
      || b.raised_at.localeCompare(a.raised_at)));
    reviewTable(review);
    status.textContent = `${t("loaded")} ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = "true";
  } catch (err) {
    status.textContent = err.message;
    document.body.dataset.loaded = "error";
    if (err.auth) signOut(err.message);
  }
}

function signOut(message = "") {
  sessionStorage.removeItem("gm-token");
  state.token = null;
  document.getElementById("board").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message;
}

function signIn(token) {
  state.token = token;
  sessionStorage.setItem("gm-token", token);  // this tab only; gone when it closes
  document.getElementById("login").hidden = true;
  document.getElementById("board").hidden = false;
  return refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  const params = new URLSearchParams(location.search);
  state.lang = params.get("lang") === "en" || localStorage.getItem("gm-lang") === "en" ? "en" : "zh";
  document.getElementById("month").value = params.get("month") || currentMonth();
  document.getElementById("region").value = params.get("region") || "";
  applyLanguage();
  document.getElementById("filters").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  document.getElementById("lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("gm-lang", state.lang);
    applyLanguage();
    if (state.token) refresh();
  });
  document.getElementById("logout").addEventListener("click", () => signOut());
  document.getElementById("review-by").addEventListener("change", () => { if (state.token) refresh(); });
  document.getElementById("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn(document.getElementById("token").value.trim());
  });
  const saved = sessionStorage.getItem("gm-token");
  if (saved) signIn(saved); else signOut();
});
