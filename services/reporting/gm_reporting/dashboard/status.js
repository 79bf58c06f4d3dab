// The petitioner's page (CONTRACT.md §8): the query code is the only credential. It is
// read from the form (never put in the page's address, so it stays out of history and
// referrers) and sent to GET /status/{code}; a closed, unrated case can be rated once.
"use strict";

const STATUS = {
  registered: "已登记", assigned: "已交办", in_mediation: "调解中", agreement: "已达成协议",
  handed_off: "已移交", closed: "已办结",
};
const STAGE = {
  registered: "登记", assigned: "交办", extended: "延长办理期限", accepted: "受理",
  not_accepted: "不予受理", mediation_session: "调解", agreement: "达成调解协议",
  confirmation_requested: "申请司法确认", confirmation_ruled: "司法确认裁定",
  handed_over: "移交有关部门", mediation_ended: "调解终止", withdrawn: "撤回",
  answered: "出具处理意见", review_requested: "申请复查/复核", review_decided: "复查/复核意见",
  closed: "办结", follow_up: "回访", rated: "已评价",
};
const MESSAGES = {
  404: "未找到该查询码对应的案件，请核对后重新输入。",
  429: "查询过于频繁，请稍后再试。",
  409: "该案件暂不能评价（尚未办结或已评价）。",
  error: "暂时无法查询，请稍后再试。",
};

let currentCode = null;

function el(id) { return document.getElementById(id); }

function say(text) { el("message").textContent = text || ""; }

async function lookUp(code) {
  const resp = await fetch("status/" + encodeURIComponent(code), {
    headers: { Accept: "application/json" }, cache: "no-store", referrerPolicy: "no-referrer",
  });
  if (!resp.ok) {
    return { error: MESSAGES[resp.status] || MESSAGES.error };
  }
  return { view: await resp.json() };
}

function show(view) {
  el("case-number").textContent = view.case_number || "";
  el("case-status").textContent = STATUS[view.status] || view.status || "";
  el("registered-on").textContent = view.registered_on || "";
  el("due-on").textContent = view.due_on || "—";
  const list = el("timeline");
  list.replaceChildren();
  for (const entry of view.timeline || []) {
    const item = document.createElement("li");
    item.textContent = (entry.on || "") + "  " + (STAGE[entry.stage] || entry.stage);
    item.dataset.stage = entry.stage;
    list.appendChild(item);
  }
  el("result").hidden = false;
  const rated = (view.timeline || []).some((e) => e.stage === "rated");
  el("rating").hidden = !(view.status === "closed" && !rated);
}

async function refresh() {
  const { view, error } = await lookUp(currentCode);
  if (error) {
    el("result").hidden = true;
    el("rating").hidden = true;
    say(error);
    return;
  }
  say("");
  show(view);
}

el("lookup").addEventListener("submit", (event) => {
  event.preventDefault();
  currentCode = el("code").value.trim();
  if (currentCode) refresh();
});

el("rating-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const choice = document.querySelector("input[name=rating]:checked");
  if (!choice || !currentCode) return;
  const body = { rating: choice.value };
  const comment = el("comment").value.trim();
  if (comment) body.comment = comment;
  const resp = await fetch("status/" + encodeURIComponent(currentCode) + "/rating", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body), referrerPolicy: "no-referrer",
  });
  if (resp.status === 201) {
    el("rating").hidden = true;
    say("感谢您的评价。");
  } else {
    say(MESSAGES[resp.status] || MESSAGES.error);
  }
});
