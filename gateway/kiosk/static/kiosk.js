/* Hut kiosk page: plain JS, no build step, no network beyond this gateway. */
"use strict";

(function () {
  const TEXT = {
    zh: {
      title: "村卫生小屋 · 自助测量",
      hello: "您好，{name}",
      step_signin: "1 签到", step_measure: "2 测量", step_result: "3 看结果",
      signin_title: "请签到",
      by_id: "输入居民编号", by_card: "刷身份证或健康卡", card_hint: "把卡放在读卡器上",
      by_qr: "或扫描二维码", ok: "确定", clear: "清除", del: "删除",
      sign_out: "退出", doctor: "村医", speech_on: "语音提示：开", speech_off: "语音提示：关",
      measure_title: "请测量血压",
      measure_hint: "坐好，把袖带绑在左上臂，按血压计的开始键。测量时不要说话，不要动。",
      measuring: "正在测量，请不要动……",
      my_history: "我的记录", measure_again: "再测一次", done: "完成，退出", back: "返回",
      claim_title: "刚才测的结果是您的吗？", claim: "这是我的",
      history_title: "我的记录", history_empty: "还没有记录。",
      doctor_title: "村医", pin: "请输入村医密码",
      manual_title: "手工录入血压", resident_id: "居民编号",
      systolic: "收缩压（高压）", diastolic: "舒张压（低压）", pulse: "脉搏", save: "保存",
      unattributed_title: "没有归属的记录", assign: "归给这位居民", none: "没有。",
      saved: "已保存。", assigned: "已归到您的记录里。",
      signed_in_say: "{name}，您好。请测量血压。",
      signed_out: "已退出。谢谢！", timed_out: "太久没有操作，已自动退出。",
      unknown_resident: "没有找到这个居民，请再试一次或找村医。",
      bad_pin: "密码不对。", locked: "密码错误次数太多，请稍后再试。",
      error: "出了点问题，请再试一次或找村医。",
      offline_gateway: "和小屋主机的连接断了，正在重连……",
      uplink_ok: "已连县平台", uplink_off: "暂未连县平台（数据已保存）",
      pulse_unit: "次/分", kg: "公斤",
      guideline: "依据：{g} {v}",
      trend_rising: "最近{n}次：{what}在上升", trend_falling: "最近{n}次：{what}在下降",
      trend_stable: "最近{n}次：{what}比较平稳",
      bp_word: "血压", weight_word: "体重",
      alert_ok: "知道了",
      alert: {
        sos: "紧急呼救", bp_crisis: "血压危急，请马上找村医！", blood_pressure_crisis: "血压危急，请马上找村医！",
        fence_exit: "有老人离开了安全范围", fence: "电子围栏提醒", low_battery: "设备电量低",
        buffer_overflow: "存储空间不足", buffer_recovered: "数据库已修复", gateway_fault: "小屋主机故障",
      },
    },
    en: {
      title: "Village health hut · self check",
      hello: "Hello, {name}",
      step_signin: "1 Sign in", step_measure: "2 Measure", step_result: "3 Result",
      signin_title: "Please sign in",
      by_id: "Type your resident number", by_card: "Tap your ID or health card", card_hint: "Hold the card on the reader",
      by_qr: "or scan your QR code", ok: "OK", clear: "Clear", del: "Delete",
      sign_out: "Sign out", doctor: "Doctor", speech_on: "Voice: on", speech_off: "Voice: off",
      measure_title: "Measure your blood pressure",
      measure_hint: "Sit down, put the cuff on your left upper arm and press Start. Keep still and quiet.",
      measuring: "Measuring, please keep still…",
      my_history: "My readings", measure_again: "Measure again", done: "Done, sign out", back: "Back",
      claim_title: "Is this reading yours?", claim: "This is mine",
      history_title: "My readings", history_empty: "No readings yet.",
      doctor_title: "Village doctor", pin: "Doctor PIN",
      manual_title: "Enter a blood pressure by hand", resident_id: "Resident number",
      systolic: "Systolic (upper)", diastolic: "Diastolic (lower)", pulse: "Pulse", save: "Save",
      unattributed_title: "Readings without a resident", assign: "Give to this resident", none: "None.",
      saved: "Saved.", assigned: "Added to your readings.",
      signed_in_say: "Hello {name}. Please measure your blood pressure.",
      signed_out: "Signed out. Thank you!", timed_out: "Signed out after a while without activity.",
      unknown_resident: "Resident not found. Please try again or ask the village doctor.",
      bad_pin: "Wrong PIN.", locked: "Too many wrong PINs. Please wait and try again.",
      error: "Something went wrong. Please try again or ask the village doctor.",
      offline_gateway: "Lost the connection to the hut box, reconnecting…",
      uplink_ok: "Connected to the county", uplink_off: "Not connected to the county (data is saved)",
      pulse_unit: "/min", kg: "kg",
      guideline: "Guideline: {g} {v}",
      trend_rising: "Last {n}: {what} is rising", trend_falling: "Last {n}: {what} is falling",
      trend_stable: "Last {n}: {what} is steady",
      bp_word: "blood pressure", weight_word: "weight",
      alert_ok: "OK",
      alert: {
        sos: "SOS emergency call", bp_crisis: "Blood pressure dangerously high: see the village doctor now!",
        blood_pressure_crisis: "Blood pressure dangerously high: see the village doctor now!",
        fence_exit: "A resident left the safe area", fence: "Safe-area alert", low_battery: "Device battery low",
        buffer_overflow: "Storage almost full", buffer_recovered: "Database repaired", gateway_fault: "Hut box fault",
      },
    },
  };

  /* Classification categories -> colour class, words and what to do next. */
  const CATEGORY = {
    normal: { cls: "cat-ok", zh: ["正常", "继续保持，下次来小屋再量。"], en: ["Normal", "Keep it up. Measure again on your next visit."] },
    high_normal: { cls: "cat-warn", zh: ["正常高值", "少吃盐，多走动，下次来小屋再量。"], en: ["High-normal", "Less salt, more walking. Measure again on your next visit."] },
    grade_1: { cls: "cat-high", zh: ["1级高血压（轻度）", "请静坐休息，5分钟后再量一次。"], en: ["Grade 1 hypertension (mild)", "Rest quietly and measure again in 5 minutes."] },
    grade_2: { cls: "cat-danger", zh: ["2级高血压（中度）", "5分钟后再量一次；今天请找村医看看。"], en: ["Grade 2 hypertension (moderate)", "Measure again in 5 minutes, and see the village doctor today."] },
    grade_3: { cls: "cat-danger", zh: ["3级高血压（重度）", "请今天就找村医！"], en: ["Grade 3 hypertension (severe)", "See the village doctor today!"] },
    isolated_systolic: { cls: "cat-high", zh: ["单纯收缩期高血压", "5分钟后再量一次；今天请找村医看看。"], en: ["Isolated systolic hypertension", "Measure again in 5 minutes, and see the village doctor today."] },
    crisis: { cls: "cat-danger", zh: ["血压危急", "请马上找村医！"], en: ["Hypertensive crisis", "See the village doctor now!"] },
    underweight: { cls: "cat-warn", zh: ["体重过低", "多吃些有营养的饭菜，下次来小屋再量。"], en: ["Underweight", "Eat well and weigh again on your next visit."] },
    overweight: { cls: "cat-warn", zh: ["超重", "少油少盐，多走动。"], en: ["Overweight", "Less oil and salt, more walking."] },
    obese: { cls: "cat-high", zh: ["肥胖", "少油少盐，多走动；请找村医聊聊。"], en: ["Obese", "Less oil and salt, more walking; talk to the village doctor."] },
  };
  CATEGORY.high_normal_bp = CATEGORY.high_normal;
  CATEGORY.grade1 = CATEGORY.grade_1; CATEGORY.grade2 = CATEGORY.grade_2; CATEGORY.grade3 = CATEGORY.grade_3;
  const IMPLAUSIBLE = { zh: ["这次测量可能不准", "请5分钟后再量一次。"], en: ["This reading may be wrong", "Please measure again in 5 minutes."] };

  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  const $ = (id) => document.getElementById(id);

  const state = {
    lang: localStorage.getItem("kiosk.lang") === "en" ? "en" : "zh",
    speech: localStorage.getItem("kiosk.speech") === "on",
    session: null,
    view: "signin",
    lastReading: null,
    doctorPin: null,
    idKeys: [],
    lastTouch: 0,
  };

  function t(key, vars) {
    let s = TEXT[state.lang][key];
    if (s === undefined) s = TEXT.zh[key] ?? key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace("{" + k + "}", v);
    return s;
  }

  function speak(text) {
    if (!state.speech || !("speechSynthesis" in window)) return;
    try {
      window.speechSynthesis.cancel();
      const u = new SpeechSynthesisUtterance(text);
      u.lang = state.lang === "zh" ? "zh-CN" : "en-US";
      u.rate = 0.85;
      window.speechSynthesis.speak(u);
    } catch (e) { /* no voice installed: the words are on screen anyway */ }
  }

  async function api(method, path, body, headers) {
    const h = Object.assign({ Accept: "application/json" }, headers || {});
    if (token) h.Authorization = "Bearer " + token;
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    return { status: res.status, data };
  }

  /* ---- rendering ---------------------------------------------------------------------- */
  function applyText() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    $("btn-lang").textContent = state.lang === "zh" ? "English" : "中文";
    $("btn-lang").lang = state.lang === "zh" ? "en" : "zh-CN";
    $("btn-speech").textContent = state.speech ? t("speech_on") : t("speech_off");
    $("btn-speech").setAttribute("aria-pressed", String(state.speech));
    renderKeypad();
    renderWho();
    if (state.lastReading && state.view === "result") renderResult(state.lastReading);
  }

  function renderWho() {
    $("who").textContent = state.session ? t("hello", { name: state.session.display_name || state.session.resident_id }) : t("title");
    $("btn-signout").hidden = !state.session;
  }

  function showMessage(text) {
    const m = $("message");
    m.textContent = text || "";
    m.hidden = !text;
  }

  function show(view) {
    state.view = view;
    for (const el of document.querySelectorAll("[data-view]")) el.hidden = el.dataset.view !== view;
    const order = ["signin", "measure", "result"];
    const idx = order.indexOf(view);
    for (const li of document.querySelectorAll("#steps li")) {
      const i = order.indexOf(li.dataset.step);
      li.classList.toggle("current", i === idx);
      li.classList.toggle("done", idx >= 0 && i < idx);
    }
    $("steps").hidden = idx < 0;
    if (view === "signin") setTimeout(() => $("input-card").focus(), 0);
    if (view === "measure") refreshClaims();
    if (view === "doctor") {
      $("doctor-panel").hidden = !state.doctorPin;
      $("form-pin").hidden = !!state.doctorPin;
      if (state.doctorPin) refreshDoctorList(); else setTimeout(() => $("input-pin").focus(), 0);
    }
  }

  function renderKeypad() {
    const pad = $("keypad");
    pad.textContent = "";
    const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", ...state.idKeys];
    for (const k of keys) pad.appendChild(keyButton(k, () => { $("input-id").value += k; }));
    pad.appendChild(keyButton(t("clear"), () => { $("input-id").value = ""; }));
  }

  function keyButton(label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function fmtTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB", { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  function num(v) { return Math.round(v * 10) / 10; }

  function valuesText(r) {
    const v = r.values || {};
    if (r.kind === "blood_pressure" && v.systolic && v.diastolic) {
      let s = `${num(v.systolic.value)}/${num(v.diastolic.value)} mmHg`;
      if (v.pulse_rate) s += ` · ${t("pulse")} ${num(v.pulse_rate.value)} ${t("pulse_unit")}`;
      return s;
    }
    if (v.weight) return `${num(v.weight.value)} ${t("kg")}` + (v.bmi ? ` · BMI ${num(v.bmi.value)}` : "");
    return Object.entries(v).map(([k, x]) => `${k} ${num(x.value)} ${x.unit}`).join(" · ");
  }

  function describe(r) {
    const c = r.classification;
    if ((r.flags || []).some((f) => f.includes("implausible"))) {
      const [label, advice] = IMPLAUSIBLE[state.lang];
      return { cls: "cat-warn", label, advice, guideline: "" };
    }
    if (!c) return { cls: "cat-none", label: "", advice: "", guideline: "" };
    const known = CATEGORY[c.category];
    const guideline = t("guideline", { g: c.guideline, v: c.version });
    /* The gateway's words (configurable thresholds, crisis advice) first; ours as a fallback. */
    const server = state.lang === "zh" ? [c.label_zh, c.advice_zh] : [c.label, c.advice];
    const ours = known ? known[state.lang] : [c.category, ""];
    return {
      cls: known ? known.cls : "cat-none",
      label: server[0] || ours[0],
      advice: server[1] || ours[1],
      guideline,
    };
  }

  function renderResult(r) {
    const d = describe(r);
    const box = $("result");
    box.className = "result " + d.cls;
    box.dataset.category = r.classification ? r.classification.category : "";
    const v = r.values || {};
    if (r.kind === "blood_pressure" && v.systolic && v.diastolic) {
      $("result-values").innerHTML = "";
      $("result-values").append(`${num(v.systolic.value)}/${num(v.diastolic.value)}`);
      const small = document.createElement("small");
      small.textContent = " mmHg" + (v.pulse_rate ? `  ${t("pulse")} ${num(v.pulse_rate.value)} ${t("pulse_unit")}` : "");
      $("result-values").append(small);
    } else {
      $("result-values").textContent = valuesText(r);
    }
    $("result-label").textContent = d.label;
    $("result-advice").textContent = d.advice;
    $("result-guideline").textContent = d.guideline;
  }

  /* ---- sessions ---------------------------------------------------------------------- */
  async function signIn(method, value) {
    value = (value || "").trim();
    if (!value) return;
    showMessage("");
    const { status, data } = await api("POST", "/api/v1/session", { method, value });
    if (status === 201 || status === 200) {
      setSession(data.session);
      speak(t("signed_in_say", { name: state.session.display_name || "" }));
    } else if (status === 404 || status === 422) {
      showMessage(t("unknown_resident"));
      speak(t("unknown_resident"));
    } else {
      showMessage(t("error"));
    }
    $("input-id").value = ""; $("input-card").value = ""; $("input-qr").value = "";
  }

  function setSession(session) {
    const before = state.session;
    state.session = session;
    renderWho();
    if (session && (!before || before.resident_id !== session.resident_id)) {
      state.lastReading = null;
      resetPressure();
      show("measure");
    }
    if (!session && state.view !== "doctor") show("signin");
  }

  async function signOut(say) {
    await api("DELETE", "/api/v1/session");
    state.session = null;
    state.lastReading = null;
    renderWho();
    show("signin");
    showMessage(t("signed_out"));
    if (say) speak(t("signed_out"));
  }

  function touch() {
    if (!state.session) return;
    const now = Date.now();
    if (now - state.lastTouch < 10000) return;
    state.lastTouch = now;
    api("POST", "/api/v1/session/touch").then(({ status }) => {
      if (status === 409) setSession(null);
    }).catch(() => {});
  }

  /* ---- measuring --------------------------------------------------------------------- */
  function resetPressure() {
    $("pressure").innerHTML = "---<small> mmHg</small>";
    $("gauge").style.width = "0";
    $("measure-status").textContent = t("measure_hint");
  }

  function onPressure(mmHg) {
    if (!state.session) return;
    if (state.view !== "measure") show("measure");
    $("measure-status").textContent = t("measuring");
    $("pressure").textContent = String(Math.round(mmHg));
    const small = document.createElement("small");
    small.textContent = " mmHg";
    $("pressure").appendChild(small);
    $("gauge").style.width = Math.max(0, Math.min(100, (mmHg / 300) * 100)) + "%";
  }

  function onReading(r) {
    if (state.session && r.resident_id === state.session.resident_id) {
      if (state.view === "doctor") return;
      showMessage("");
      state.lastReading = r;
      renderResult(r);
      show("result");
      const d = describe(r);
      speak(`${valuesText(r)}。${d.label}。${d.advice}`);
    } else if (!r.resident_id) {
      if (state.view === "measure") refreshClaims();
      if (state.view === "doctor" && state.doctorPin) refreshDoctorList();
    }
  }

  /* ---- unattributed readings --------------------------------------------------------- */
  async function refreshClaims() {
    if (!state.session) return;
    const { status, data } = await api("GET", "/api/v1/readings/unattributed?claimable=true");
    const list = $("claim-list");
    list.textContent = "";
    const items = status === 200 ? data.readings : [];
    $("claim-panel").hidden = items.length === 0;
    for (const r of items) {
      const li = document.createElement("li");
      li.dataset.id = r.id;
      li.append(span("when", fmtTime(r.effective_at)), span("what", valuesText(r)));
      li.appendChild(keyButton(t("claim"), async () => {
        const res = await api("POST", `/api/v1/readings/${encodeURIComponent(r.id)}/assign`,
          { resident_id: state.session.resident_id });
        if (res.status === 200) {
          onReading(res.data.reading);
          showMessage(t("assigned"));
        } else {
          showMessage(t("error"));
          refreshClaims();
        }
      }));
      list.appendChild(li);
    }
  }

  function span(cls, text) {
    const s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }

  /* ---- history ----------------------------------------------------------------------- */
  async function showHistory() {
    if (!state.session) return;
    const back = state.view;
    const { status, data } = await api("GET", `/api/v1/residents/${encodeURIComponent(state.session.resident_id)}/history?limit=10`);
    if (status !== 200) { showMessage(t("error")); return; }
    const list = $("history-list");
    list.textContent = "";
    for (const r of data.readings) {
      const li = document.createElement("li");
      const d = describe(r);
      li.append(span("when", fmtTime(r.effective_at)), span("what", valuesText(r)), span("", d.label));
      li.className = d.cls;
      list.appendChild(li);
    }
    if (!data.readings.length) list.appendChild(span("hint", t("history_empty")));
    $("history-trend").textContent = trendText(data.trend);
    $("btn-back").onclick = () => show(back === "history" ? "measure" : back);
    show("history");
  }

  function trendText(trend) {
    const bp = trend && trend.blood_pressure && trend.blood_pressure.systolic;
    const w = trend && trend.weight && trend.weight.weight;
    const pick = bp ? [bp, t("bp_word")] : w ? [w, t("weight_word")] : null;
    if (!pick || pick[0].count < 2) return "";
    const [tr, what] = pick;
    const key = tr.direction === "rising" ? "trend_rising" : tr.direction === "falling" ? "trend_falling" : "trend_stable";
    return t(key, { n: tr.count, what });
  }

  /* ---- doctor ------------------------------------------------------------------------ */
  /* The doctor's PIN stays in this page's memory only, and only while the doctor works. */
  const DOCTOR_IDLE_MS = 5 * 60 * 1000;
  let doctorTimer = null;
  function doctorHeaders() {
    clearTimeout(doctorTimer);
    doctorTimer = setTimeout(doctorExit, DOCTOR_IDLE_MS);
    return { "X-Doctor-PIN": state.doctorPin || "" };
  }

  function doctorExit() {
    clearTimeout(doctorTimer);
    state.doctorPin = null;
    if (state.view === "doctor") show(state.session ? "measure" : "signin");
  }

  async function doctorLogin(pin) {
    const { status } = await api("GET", "/api/v1/doctor", undefined, { "X-Doctor-PIN": pin });
    $("input-pin").value = "";
    if (status === 200) {
      state.doctorPin = pin;
      doctorHeaders();
      showMessage("");
      show("doctor");
    } else {
      showMessage(status === 429 ? t("locked") : t("bad_pin"));
    }
  }

  async function refreshDoctorList() {
    const { status, data } = await api("GET", "/api/v1/readings/unattributed", undefined, doctorHeaders());
    const list = $("doctor-unattributed");
    list.textContent = "";
    if (status !== 200) return;
    if (!data.readings.length) list.appendChild(span("hint", t("none")));
    for (const r of data.readings) {
      const li = document.createElement("li");
      const input = document.createElement("input");
      input.type = "text";
      input.placeholder = t("resident_id");
      li.append(span("when", fmtTime(r.effective_at)), span("what", valuesText(r)), input);
      li.appendChild(keyButton(t("assign"), async () => {
        const res = await api("POST", `/api/v1/readings/${encodeURIComponent(r.id)}/assign`,
          { resident_id: input.value.trim() }, doctorHeaders());
        showMessage(res.status === 200 ? t("saved") : (res.data && res.data.error) || t("error"));
        refreshDoctorList();
      }));
      list.appendChild(li);
    }
  }

  async function doctorManual(form) {
    const f = new FormData(form);
    const values = {};
    for (const k of ["systolic", "diastolic", "pulse_rate"]) {
      const v = String(f.get(k) || "").trim();
      if (v !== "") values[k] = Number(v);
    }
    const body = { kind: "blood_pressure", resident_id: String(f.get("resident_id") || "").trim() || null, values };
    const { status, data } = await api("POST", "/api/v1/doctor/readings", body, doctorHeaders());
    if (status === 201) {
      showMessage(t("saved"));
      form.reset();
    } else if (status === 401) {
      state.doctorPin = null;
      show("doctor");
      showMessage(t("bad_pin"));
    } else {
      const errs = (data && data.errors) ? data.errors.map((e) => `${e.field}: ${e.message}`).join("; ") : "";
      showMessage(errs || (data && data.error) || t("error"));
    }
  }

  /* ---- alerts ------------------------------------------------------------------------ */
  function onAlert(a) {
    const box = document.createElement("div");
    box.className = "alert " + (a.severity === "critical" || a.severity === "emergency" || a.kind === "sos" ? "critical" : a.severity || "");
    box.dataset.kind = a.kind;
    box.dataset.id = a.id;
    const words = TEXT[state.lang].alert[a.kind] || a.message || a.kind;
    const mine = state.session && a.resident_id === state.session.resident_id;
    const who = a.resident_id ? ` (${mine ? state.session.display_name : a.resident_id})` : "";
    box.append(span("text", words + who));
    box.appendChild(keyButton(t("alert_ok"), () => box.remove()));
    $("alerts").prepend(box);
    speak(words);
  }

  /* ---- live events ------------------------------------------------------------------- */
  let source = null;
  function connect() {
    const url = "/api/v1/events" + (token ? "?token=" + encodeURIComponent(token) : "");
    source = new EventSource(url);
    source.addEventListener("open", () => { showMessage(""); sync(); });
    source.addEventListener("error", () => { if (source.readyState !== EventSource.OPEN) showMessage(t("offline_gateway")); });
    const on = (type, fn) => source.addEventListener(type, (ev) => {
      let data = {};
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      fn(data);
    });
    on("session", (d) => {
      const s = d.session || null;
      const timedOut = d.reason === "timeout" || d.state === "expired";
      if (!s && state.session) {
        state.session = null;
        state.lastReading = null;
        renderWho();
        if (state.view !== "doctor") show("signin");
        if (timedOut) { showMessage(t("timed_out")); speak(t("timed_out")); }
      } else if (s) {
        setSession(s);
      }
    });
    on("measurement_started", () => onPressure(0));
    on("cuff_pressure", (d) => {
      const p = typeof d.pressure_mmhg === "number" ? d.pressure_mmhg : d.pressure;
      if (typeof p === "number") onPressure(p);
    });
    on("reading", onReading);
    on("alert", onAlert);
    on("uplink", renderUplink);
    on("lagged", () => sync());  /* events were lost: ask for the state again */
  }

  function renderUplink(u) {
    const el = $("uplink");
    if (!u || u.enabled === false) { el.textContent = ""; return; }
    el.textContent = u.connected ? "● " + t("uplink_ok") : "○ " + t("uplink_off");
  }

  async function sync() {
    const { status, data } = await api("GET", "/api/v1/kiosk");
    if (status !== 200) return;
    state.idKeys = data.id_keys || [];
    renderKeypad();
    renderUplink(data.uplink);
    if (data.session && (!state.session || state.session.resident_id !== data.session.resident_id)) setSession(data.session);
    if (!data.session && state.session) setSession(null);
  }

  /* ---- wiring ------------------------------------------------------------------------ */
  $("btn-del").addEventListener("click", () => { const i = $("input-id"); i.value = i.value.slice(0, -1); });
  $("form-id").addEventListener("submit", (e) => { e.preventDefault(); signIn("id", $("input-id").value); });
  $("form-card").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = $("input-card").value.trim();
    signIn(/^hut:/i.test(v) ? "qr" : "card", v);
  });
  $("form-qr").addEventListener("submit", (e) => { e.preventDefault(); signIn("qr", $("input-qr").value); });
  $("btn-signout").addEventListener("click", () => signOut(true));
  $("btn-done").addEventListener("click", () => signOut(true));
  $("btn-again").addEventListener("click", () => { resetPressure(); show("measure"); speak(t("measure_hint")); });
  $("btn-history").addEventListener("click", showHistory);
  $("btn-history2").addEventListener("click", showHistory);
  $("btn-lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("kiosk.lang", state.lang);
    applyText();
    if (state.view === "measure" && $("gauge").style.width === "0px") resetPressure();
  });
  $("btn-speech").addEventListener("click", () => {
    state.speech = !state.speech;
    localStorage.setItem("kiosk.speech", state.speech ? "on" : "off");
    applyText();
    speak(state.speech ? t("speech_on") : "");
  });
  $("btn-doctor").addEventListener("click", () => { showMessage(""); show("doctor"); });
  $("btn-doctor-exit").addEventListener("click", () => {
    showMessage("");
    doctorExit();
    if (state.view === "doctor") show(state.session ? "measure" : "signin");
  });
  $("form-pin").addEventListener("submit", (e) => { e.preventDefault(); doctorLogin($("input-pin").value); });
  $("form-manual").addEventListener("submit", (e) => { e.preventDefault(); doctorManual(e.target); });

  /* A keyboard-wedge card or QR reader "types" the number and Enter: catch it anywhere on the
     sign-in screen, even when nothing is focused. */
  document.addEventListener("keydown", (e) => {
    if (state.view !== "signin") return;
    const tag = (e.target && e.target.tagName) || "";
    if (tag === "INPUT") return;
    const card = $("input-card");
    if (e.key === "Enter") { e.preventDefault(); $("form-card").requestSubmit(); return; }
    if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      card.value += e.key;
      card.focus();
    }
  });
  document.addEventListener("pointerdown", touch, { passive: true });
  document.addEventListener("keydown", touch, { passive: true });

  applyText();
  show("signin");
  connect();
})();
