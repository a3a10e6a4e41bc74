/* Hut kiosk page: plain JS, no build step, no network beyond this gateway. */
"use strict";

(function () {
  const TEXT = {
    zh: {
      title: "村卫生小屋 · 自助测量",
      hello: "您好，{name}",
      steps_label: "步骤",
      step_signin: "1 签到", step_measure: "2 测量", step_result: "3 看结果",
      signin_title: "请签到",
      by_id: "输入居民编号", by_card: "刷身份证或健康卡", card_hint: "把卡放在读卡器上",
      card_label: "读卡器输入", qr_label: "二维码内容", qr_placeholder: "扫码后自动填入",
      by_qr: "或扫描二维码", ok: "确定", clear: "清除", del: "删除",
      sign_out: "退出", doctor: "村医", speech_on: "语音：开", speech_off: "语音：关",
      measure_title: "请测量血压",
      measure_hint: "坐好，把袖带绑在左上臂，按血压计的开始键。测量时不要说话，不要动。",
      measuring: "正在测量，请不要动……",
      my_history: "我的记录", measure_again: "再测一次", done: "完成，退出", back: "返回",
      find_doctor: "找村医", result_title: "测量结果", crisis_badge: "⚠ 危急",
      help_text: "请坐下休息，不要走动。", help_sub: "请身边的人马上去叫村医。村医来之前不要独自离开。",
      help_ok: "知道了",
      claim_title: "刚才测的结果是您的吗？", claim: "这是我的",
      history_title: "我的记录", history_empty: "还没有记录。",
      positions_safe: "今天的位置记录：{n} 次，都在安全范围内",
      positions_out: "今天的位置记录：{n} 次，有 {m} 次离开了安全范围",
      positions_plain: "今天的位置记录：{n} 次",
      heart_today: "今天的心率记录：{n} 次（{min}～{max} 次/分）",
      doctor_title: "村医", pin: "请输入村医密码", pin_label: "村医密码",
      manual_title: "手工录入血压", resident_id: "居民编号",
      systolic: "收缩压（高压）", diastolic: "舒张压（低压）", pulse: "脉搏", save: "保存",
      unattributed_title: "没有归属的记录", assign: "归给这位居民", none: "没有。",
      saved: "已保存。", assigned: "已归到您的记录里。",
      signed_in_say: "{name}，您好。请测量血压。",
      signed_out: "已退出。谢谢！", timed_out: "太久没有操作，已自动退出。",
      still_there: "还要继续吗？", keep_going: "继续", leaving_in: "{n} 秒后自动退出。",
      confirm_signout: "结果已经保存。现在退出吗？", stay: "留下",
      unknown_resident: "没有找到这个居民，请再试一次或找村医。",
      duplicate: "这次收到的结果和刚才的一样，已经记过了，不会重复记录。",
      bad_pin: "密码不对。", locked: "密码错误次数太多，请{t}后再试。",
      no_pin: "这台小屋主机还没有设置村医密码，请技术员在配置里设置 doctor_pin。",
      acked: "已确认，谢谢。",
      error: "出了点问题，请再试一次或找村医。",
      offline_gateway: "和小屋主机的连接断了，正在重连……",
      uplink_ok: ["● 已连县平台"], uplink_off: ["○ 未连县平台", "数据已保存"],
      uplink_ok_title: "已连县平台", uplink_off_title: "暂未连县平台（数据已保存）",
      guideline: "依据：{g}",
      trend_rising: "最近{n}次：{what}在上升", trend_falling: "最近{n}次：{what}在下降",
      trend_stable: "最近{n}次：{what}比较平稳",
      say_bp: "高压{s}，低压{d}", say_pulse: "，脉搏{p}",
      seconds: "{n}秒", minutes: "{n}分钟",
      alert_ok: "知道了", alert_ack: "村医确认", ack_kiosk: "村医（小屋）", ack_county: "县平台",
      alert_told: "已通知 {n} 人", alert_nobody: "还没有通知到人", alert_more: "另有 {n} 条提醒", alert_acked: "已由{who}确认", alert_someone: "有居民需要帮助，请村医处理",
      alert: {
        sos: "紧急呼救", bp_crisis: "血压危急，请马上找村医！", blood_pressure_crisis: "血压危急，请马上找村医！",
        fall_down: "有人摔倒了", fence_exit: "有老人离开了安全范围", fence: "电子围栏提醒", low_battery: "设备电量低",
        buffer_overflow: "存储空间不足", buffer_recovered: "数据库已修复", gateway_fault: "小屋主机故障",
      },
    },
    en: {
      title: "Health hut self-check",
      hello: "Hello, {name}",
      steps_label: "Steps",
      step_signin: "1 Sign in", step_measure: "2 Measure", step_result: "3 Result",
      signin_title: "Please sign in",
      by_id: "Type your resident number", by_card: "Tap your ID or health card", card_hint: "Hold the card on the reader",
      card_label: "Card reader input", qr_label: "QR code text", qr_placeholder: "filled in by scanner",
      by_qr: "or scan your QR code", ok: "OK", clear: "Clear", del: "Delete",
      sign_out: "Sign out", doctor: "Doctor", speech_on: "Voice: on", speech_off: "Voice: off",
      measure_title: "Measure your blood pressure",
      measure_hint: "Sit down, put the cuff on your left upper arm and press Start. Keep still and quiet.",
      measuring: "Measuring, please keep still…",
      my_history: "My readings", measure_again: "Measure again", done: "Done, sign out", back: "Back",
      find_doctor: "Get the doctor", result_title: "Your result", crisis_badge: "⚠ DANGER",
      help_text: "Sit down and rest. Do not walk about.", help_sub: "Ask someone nearby to fetch the village doctor now. Do not leave alone.",
      help_ok: "OK",
      claim_title: "Is this reading yours?", claim: "This is mine",
      history_title: "My readings", history_empty: "No readings yet.",
      positions_safe: "Positions today: {n}, all inside the safe area",
      positions_out: "Positions today: {n}; {m} times outside the safe area",
      positions_plain: "Positions today: {n}",
      heart_today: "Heart rate today: {n} readings ({min}–{max} /min)",
      doctor_title: "Village doctor", pin: "Doctor PIN", pin_label: "Doctor PIN",
      manual_title: "Enter a blood pressure by hand", resident_id: "Resident no.",
      systolic: "Systolic (upper)", diastolic: "Diastolic (lower)", pulse: "Pulse", save: "Save",
      unattributed_title: "Readings without a resident", assign: "Give to this resident", none: "None.",
      saved: "Saved.", assigned: "Added to your readings.",
      signed_in_say: "Hello {name}. Please measure your blood pressure.",
      signed_out: "Signed out. Thank you!", timed_out: "Signed out after a while without activity.",
      still_there: "Are you still there?", keep_going: "Continue", leaving_in: "Signing out in {n} seconds.",
      confirm_signout: "Your result is saved. Sign out now?", stay: "Stay",
      unknown_resident: "Resident not found. Please try again or ask the village doctor.",
      duplicate: "This reading was already saved; it is not counted twice.",
      bad_pin: "Wrong PIN.", locked: "Too many wrong PINs. Please try again in {t}.",
      no_pin: "No doctor PIN is set on this hut box; the technician sets doctor_pin in the configuration.",
      acked: "Acknowledged. Thank you.",
      error: "Something went wrong. Please try again or ask the village doctor.",
      offline_gateway: "Lost the connection to the hut box, reconnecting…",
      uplink_ok: ["● Online"], uplink_off: ["○ Offline", "data is saved"],
      uplink_ok_title: "Connected to the county", uplink_off_title: "Not connected to the county (data is saved)",
      guideline: "Source: {g}",
      trend_rising: "Last {n}: {what} is rising", trend_falling: "Last {n}: {what} is falling",
      trend_stable: "Last {n}: {what} is steady",
      say_bp: "upper {s}, lower {d}", say_pulse: ", pulse {p}",
      seconds: "{n} s", minutes: "{n} min",
      alert_ok: "OK", alert_ack: "Doctor: confirm", ack_kiosk: "the doctor (hut)", ack_county: "the county",
      alert_told: "{n} people told", alert_nobody: "nobody told yet", alert_more: "{n} more", alert_acked: "confirmed by {who}", alert_someone: "A resident needs help: village doctor please",
      alert: {
        sos: "SOS emergency call", bp_crisis: "Blood pressure crisis: get the doctor now!",
        blood_pressure_crisis: "Blood pressure crisis: get the doctor now!",
        fall_down: "Someone has fallen", fence_exit: "A resident left the safe area", fence: "Safe-area alert",
        low_battery: "Device battery low", buffer_overflow: "Storage almost full", buffer_recovered: "Database repaired",
        gateway_fault: "Hut box fault",
      },
    },
  };

  /* Classification categories -> colour class, words and what to do next. */
  const CATEGORY = {
    normal: { cls: "cat-ok", zh: ["正常", "继续保持，下次来小屋再量。"], en: ["Normal", "Keep it up. Measure again on your next visit."] },
    high_normal: { cls: "cat-warn", zh: ["正常高值", "少吃盐，多走动，下次来小屋再量。"], en: ["High-normal", "Less salt, more walking. Measure again on your next visit."] },
    grade_1: { cls: "cat-high", wait: true, zh: ["1级高血压（轻度）", "请静坐休息，5分钟后再量一次。"], en: ["Grade 1 hypertension (mild)", "Rest quietly and measure again in 5 minutes."] },
    grade_2: { cls: "cat-danger", wait: true, zh: ["2级高血压（中度）", "5分钟后再量一次；今天请找村医看看。"], en: ["Grade 2 hypertension (moderate)", "Measure again in 5 minutes, and see the village doctor today."] },
    grade_3: { cls: "cat-danger", zh: ["3级高血压（重度）", "请马上找村医！"], en: ["Grade 3 hypertension (severe)", "See the village doctor now!"], urgent: true },
    isolated_systolic: { cls: "cat-high", wait: true, zh: ["单纯收缩期高血压", "5分钟后再量一次；今天请找村医看看。"], en: ["Isolated systolic hypertension", "Measure again in 5 minutes, and see the village doctor today."] },
    underweight: { cls: "cat-warn", zh: ["体重过低", "多吃些有营养的饭菜，下次来小屋再量。"], en: ["Underweight", "Eat well and weigh again on your next visit."] },
    overweight: { cls: "cat-warn", zh: ["超重", "少油少盐，多走动。"], en: ["Overweight", "Less oil and salt, more walking."] },
    obese: { cls: "cat-high", zh: ["肥胖", "少油少盐，多走动；请找村医聊聊。"], en: ["Obese", "Less oil and salt, more walking; talk to the village doctor."] },
  };
  const IMPLAUSIBLE = { zh: ["这次测量可能不准", "请5分钟后再量一次。"], en: ["This reading may be wrong", "Please measure again in 5 minutes."] };
  /* The gateway names its guidelines "中文名 (English name)" with versions such as "2018 revision". */
  const LOCAL_SUFFIX = " + local thresholds";
  /* English citations short enough for one line at 1024 px */
  const SHORT_EN = { "中国高血压防治指南": "Chinese Hypertension Guidelines" };

  const TOPBAR_GUARD_MS = 600;   /* taps on the top bar are ignored this long after an alert is dismissed */
  const TOUCH_EVERY_MS = 10000;
  const WARN_BEFORE_MS = 30000;

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
    doctorConfigured: true,
    lockedUntil: 0,
    pendingAck: null,
    idKeys: [],
    uplink: null,
    crisis: { systolic: 180, diastolic: 110 },
    timeoutMs: 180000,
    holdMs: 420000,
    deadline: 0,        /* when the gateway ends the session unless touched (ms, page clock) */
    lastTouchSent: 0,
    lastActivity: 0,
    resultAt: 0,
    guardUntil: 0,
    alerts: new Map(),  /* id -> alert (from the `alert` / `alert_status` events and GET /api/v1/alerts) */
    dismissed: new Set(),
    message: null,      /* [key, vars] of the message on screen, so a language switch redraws it */
    dialog: null,
  };

  /* Kind and unit names come from the kind catalogue (drivers/kinds.py), which the gateway
     inlines in the page as JSON (gateway/api/page.py); the catalogue's name is the fallback. */
  const CATALOGUE = (() => {
    try { return JSON.parse(document.getElementById("kinds").textContent); } catch (e) { return { kinds: {}, units: {} }; }
  })();
  function kindLabel(kind) { const k = CATALOGUE.kinds[kind]; return k ? k.label[state.lang] : kind; }
  function unitLabel(unit) { const u = CATALOGUE.units[unit]; return u ? u[state.lang] : unit; }

  function t(key, vars) {
    let s = TEXT[state.lang][key];
    if (s === undefined) s = TEXT.zh[key] ?? key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    return s;
  }

  /* Chinese text from the gateway may carry ASCII punctuation ("1级高血压(轻度)"): full-width next to Chinese. */
  const CJK = "[\\u3000-\\u9fff\\uff00-\\uffef]";
  const FULL = { "(": "（", ")": "）", ",": "，", ";": "；", ":": "：", "!": "！", "?": "？" };
  function zhPunct(s) {
    if (!s || state.lang !== "zh") return s || "";
    return s
      .replace(new RegExp(`(${CJK})\\s*([,;:!?])`, "g"), (_, a, p) => a + FULL[p])
      .replace(new RegExp(`([,;:!?])\\s*(${CJK})`, "g"), (_, p, b) => FULL[p] + b)
      .replace(/\(([^()]*)\)/g, (m, inner) => (new RegExp(CJK).test(inner + m) ? "（" + inner + "）" : m));
  }

  function guidelineText(c) {
    let g = c.guideline || "";
    let v = c.version || "";
    const local = g.endsWith(LOCAL_SUFFIX);
    g = g.replace(LOCAL_SUFFIX, "");
    v = v.replace(LOCAL_SUFFIX, "");
    const m = /^(.*?)\s*\(([^()]*)\)\s*$/.exec(g);
    const zhName = m ? m[1] : g;
    const enName = m ? m[2] : g;
    if (state.lang === "zh") {
      const year = /^(\d{4}) revision$/.exec(v);
      const code = /^([A-Z]+\/[A-Z]+ [\d.]+-\d{4})\s+(.*)$/.exec(zhName);
      let s = code ? `《${code[2]}》（${code[1]}）` : `《${zhName}${year ? "（" + year[1] + "年修订版）" : ""}》`;
      if (!code && !year && v) s += `（${v}）`;
      return s + (local ? "，本地阈值" : "");
    }
    let en = SHORT_EN[zhName] || enName.charAt(0).toUpperCase() + enName.slice(1);
    if (v && !en.includes(v)) en += ` (${v})`;
    return en + (local ? ", local thresholds" : "");
  }

  function speak(text) {
    if (!state.speech || !("speechSynthesis" in window) || !text) return;
    try {
      window.speechSynthesis.cancel();
      const u = new SpeechSynthesisUtterance(text);
      u.lang = state.lang === "zh" ? "zh-CN" : "en-US";
      u.rate = 0.85;
      window.speechSynthesis.speak(u);
    } catch (e) { /* no voice installed: the words are on screen anyway */ }
  }

  /* Screen readers: the text goes into a live region that is always on the page. */
  let announceTimer = null;
  function announce(text) {
    const el = $("announce");
    clearTimeout(announceTimer);
    el.textContent = "";
    announceTimer = setTimeout(() => { el.textContent = text || ""; }, 60);
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
    document.title = t("title");
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
    $("btn-lang").textContent = state.lang === "zh" ? "English" : "中文";
    $("btn-lang").lang = state.lang === "zh" ? "en" : "zh-CN";
    $("btn-speech").textContent = state.speech ? t("speech_on") : t("speech_off");
    $("btn-speech").setAttribute("aria-pressed", String(state.speech));
    renderKeypads();
    renderWho();
    renderUplink(state.uplink);
    renderAlerts();
    if (state.message) $("message").textContent = messageText(state.message);
    if (state.lastReading && state.view === "result") fillResult(state.lastReading);
    if (state.dialog) openDialog(state.dialog);
  }

  function renderWho() {
    $("who").textContent = state.session ? t("hello", { name: state.session.display_name || state.session.resident_id }) : t("title");
    $("btn-signout").hidden = !state.session;
  }

  function messageText([key, vars]) { return key.startsWith("=") ? key.slice(1) : t(key, vars); }

  /* A message on screen, read out by screen readers (and spoken when `say`). */
  function showMessage(key, vars, say) {
    const m = $("message");
    state.message = key ? [key, vars] : null;
    const text = key ? messageText(state.message) : "";
    m.textContent = text;
    m.hidden = !text;
    if (text) announce(text);
    if (text && say) speak(text);
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
      if (i === idx) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    }
    $("steps-nav").hidden = idx < 0;
    if (view === "measure") refreshClaims();
    if (view === "doctor") {
      $("doctor-panel").hidden = !state.doctorPin;
      $("pin-area").hidden = !!state.doctorPin;
      renderLock();
      if (state.doctorPin) refreshDoctorList();
    }
    renderAlerts();
    /* Focus follows the screen: its heading, so that a screen reader starts there and Tab goes on from it. */
    const section = document.querySelector(`[data-view="${view}"]`);
    const heading = section && section.querySelector("h1");
    if (heading && !state.dialog) heading.focus({ preventScroll: true });
  }

  /* ---- keypads: a touch-only kiosk types everything on screen --------------------------- */
  function renderKeypads() {
    const pad = $("keypad");
    pad.textContent = "";
    const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", ...state.idKeys];
    for (const k of keys) pad.appendChild(keyButton(k, () => { $("input-id").value += k; }));
    pad.appendChild(keyButton(t("clear"), () => { $("input-id").value = ""; }, "span2"));

    const pin = $("pin-keypad");
    pin.textContent = "";
    for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"]) pin.appendChild(keyButton(k, () => { $("input-pin").value += k; }));
    pin.appendChild(keyButton(t("del"), () => { const i = $("input-pin"); i.value = i.value.slice(0, -1); }, "span2"));

    const manual = $("manual-keypad");
    manual.textContent = "";
    for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", ...state.idKeys]) {
      manual.appendChild(keyButton(k, () => { const i = manualTarget(); i.value += k; }));
    }
    manual.appendChild(keyButton(t("del"), () => { const i = manualTarget(); i.value = i.value.slice(0, -1); }, "span2"));
    const save = keyButton(t("save"), null, "span2 primary");
    save.type = "submit";
    manual.appendChild(save);
  }

  let manualField = null;
  function manualTarget() {
    return manualField || $("form-manual").querySelector("input[name=resident_id]");
  }

  function keyButton(label, onClick, cls) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (cls) b.className = cls;
    if (onClick) b.addEventListener("click", onClick);
    return b;
  }

  function pad2(n) { return String(n).padStart(2, "0"); }
  function fmtTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "";
    if (state.lang === "zh") return `${d.getMonth() + 1}月${d.getDate()}日 ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    return d.toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }
  function fmtWait(s) {
    s = Math.max(1, Math.ceil(s));
    return s >= 60 ? t("minutes", { n: Math.ceil(s / 60) }) : t("seconds", { n: s });
  }

  function num(v) { return Math.round(v * 10) / 10; }
  function val(r, name) { const v = (r.values || {})[name]; return v ? num(v.value) : null; }

  function valuesText(r, short) {
    const v = r.values || {};
    if (r.kind === "blood_pressure" && v.systolic && v.diastolic) {
      let s = `${val(r, "systolic")}/${val(r, "diastolic")} mmHg`;
      if (v.pulse_rate && !short) s += ` · ${t("pulse")} ${val(r, "pulse_rate")} ${unitLabel("/min")}`;
      return s;
    }
    if (v.weight) return `${val(r, "weight")} ${unitLabel("kg")}` + (v.bmi ? ` · BMI ${val(r, "bmi")}` : "");
    return Object.entries(v).map(([k, x]) => `${k} ${num(x.value)} ${x.unit}`).join(" · ");
  }

  /* What speech says: words, not "162/98 mmHg". */
  function spokenValues(r) {
    if (r.kind === "blood_pressure" && val(r, "systolic") !== null && val(r, "diastolic") !== null) {
      let s = t("say_bp", { s: val(r, "systolic"), d: val(r, "diastolic") });
      if (val(r, "pulse_rate") !== null) s += t("say_pulse", { p: val(r, "pulse_rate") });
      return s;
    }
    return valuesText(r);
  }

  function isCrisis(r) {
    const s = val(r, "systolic"), d = val(r, "diastolic");
    if (r.kind !== "blood_pressure" || s === null || d === null) return false;
    if ((r.flags || []).some((f) => f.includes("implausible"))) return false;
    return Math.round(s) >= state.crisis.systolic || Math.round(d) >= state.crisis.diastolic;
  }

  function describe(r) {
    const c = r.classification;
    if ((r.flags || []).some((f) => f.includes("implausible"))) {
      const [label, advice] = IMPLAUSIBLE[state.lang];
      return { cls: "cat-warn", label, advice, guideline: "", urgent: false, crisis: false, wait: true };
    }
    if (!c) return { cls: "cat-none", label: t("result_title"), advice: "", guideline: "", urgent: false, crisis: false, wait: false };
    const known = CATEGORY[c.category];
    const crisis = isCrisis(r);
    /* The gateway's words (configurable thresholds, crisis advice) first; ours as a fallback. */
    const server = state.lang === "zh" ? [c.label_zh, c.advice_zh] : [c.label, c.advice];
    const ours = known ? known[state.lang] : [c.category, ""];
    return {
      cls: crisis ? "cat-crisis" : known ? known.cls : "cat-none",
      label: zhPunct(server[0] || ours[0]),
      advice: zhPunct(server[1] || ours[1]),
      guideline: t("guideline", { g: guidelineText(c) }),
      urgent: crisis || !!(known && known.urgent),
      crisis,
      /* the advice asks her to stay or to measure again shortly: the session is kept meanwhile */
      wait: crisis || !!(known && (known.wait || known.urgent)),
    };
  }

  function fillResult(r) {
    const d = describe(r);
    const box = $("result");
    box.className = "result " + d.cls;
    box.dataset.category = r.classification ? r.classification.category : "";
    $("result-badge").hidden = !d.crisis;
    $("result-badge").textContent = t("crisis_badge");
    const v = r.values || {};
    const values = $("result-values");
    if (r.kind === "blood_pressure" && v.systolic && v.diastolic) {
      values.textContent = `${val(r, "systolic")}/${val(r, "diastolic")}`;
      const small = document.createElement("small");
      small.textContent = " mmHg" + (v.pulse_rate ? `  ${t("pulse")} ${val(r, "pulse_rate")} ${unitLabel("/min")}` : "");
      values.append(small);
    } else {
      values.textContent = valuesText(r);
    }
    $("result-label").textContent = d.label;
    $("result-advice").textContent = d.advice;
    $("result-guideline").textContent = d.guideline;
    /* the primary action matches the advice: an urgent result asks for the doctor, not another go */
    $("btn-help").hidden = !d.urgent;
    $("btn-again").className = d.urgent ? "" : "primary";
    return d;
  }

  /* The result screen is shown first, then filled: a live region or a focused heading that is
     hidden while its text is written is never read out. */
  function showResult(r) {
    state.lastReading = r;
    state.resultAt = describe(r).wait ? Date.now() : 0;
    $("result-label").textContent = "";
    show("result");
    requestAnimationFrame(() => {
      const d = fillResult(r);
      $("result-label").focus({ preventScroll: true });
      const words = `${spokenValues(r)}。${d.label}。${d.advice}`;
      announce(words);
      speak(words);
    });
  }

  /* ---- dialogs ------------------------------------------------------------------------ */
  function openDialog(spec) {
    state.dialog = spec;
    $("dialog-text").textContent = t(spec.text, spec.vars);
    $("dialog-sub").textContent = spec.sub ? t(spec.sub, spec.subVars) : "";
    $("dialog-yes").textContent = t(spec.yes);
    $("dialog-no").textContent = spec.no ? t(spec.no) : "";
    $("dialog-no").hidden = !spec.no;
    $("dialog").hidden = false;
    $("dialog").dataset.kind = spec.kind;
    for (const id of ["main", "topbar", "alerts", "steps-nav"]) $(id).inert = true;
    if (document.activeElement !== $("dialog-yes") && document.activeElement !== $("dialog-no")) $("dialog-yes").focus();
  }

  function closeDialog() {
    if (!state.dialog) return;
    state.dialog = null;
    $("dialog").hidden = true;
    for (const id of ["main", "topbar", "alerts", "steps-nav"]) $(id).inert = false;
    const section = document.querySelector(`[data-view="${state.view}"]`);
    const heading = section && section.querySelector("h1");
    if (heading) heading.focus({ preventScroll: true });
  }

  function dialogAnswer(yes) {
    const spec = state.dialog;
    closeDialog();
    if (spec && spec.then) spec.then(yes);
  }

  /* ---- sessions ---------------------------------------------------------------------- */
  async function signIn(method, value) {
    value = (value || "").trim();
    if (!value) return;
    showMessage(null);
    const { status, data } = await api("POST", "/api/v1/session", { method, value });
    if (status === 201 || status === 200) {
      $("input-id").value = ""; $("input-card").value = ""; $("input-qr").value = "";
      setSession(data.session);
      speak(t("signed_in_say", { name: state.session.display_name || "" }));
    } else if (status === 404 || status === 422) {
      /* what she typed stays on screen, so that she can see what was wrong */
      $("input-card").value = "";
      showMessage("unknown_resident", null, true);
    } else {
      showMessage("error");
    }
  }

  function sessionDeadline(session) {
    const remaining = session && typeof session.remaining_s === "number" ? session.remaining_s : state.timeoutMs / 1000;
    state.deadline = Date.now() + remaining * 1000;
  }

  function setSession(session) {
    const before = state.session;
    state.session = session;
    if (session) {
      if (typeof session.timeout_s === "number") state.timeoutMs = session.timeout_s * 1000;
      sessionDeadline(session);
      state.lastTouchSent = Date.now();
    }
    renderWho();
    if (!before || !session || before.resident_id !== session.resident_id) {
      /* a new person at the screen: nothing of the previous one stays */
      state.lastReading = null;
      state.resultAt = 0;
      if (state.dialog) closeDialog();
      renderAlerts();
    }
    if (session && (!before || before.resident_id !== session.resident_id)) {
      resetPressure();
      show("measure");
    }
    if (!session && state.view !== "doctor") show("signin");
  }

  async function signOut(say) {
    await api("DELETE", "/api/v1/session");
    setSession(null);
    showMessage("signed_out", null, say);
  }

  function askSignOut() {
    if (state.view === "result" && state.lastReading) {
      openDialog({ kind: "signout", text: "confirm_signout", yes: "sign_out", no: "stay", then: (yes) => { if (yes) signOut(true); } });
    } else {
      signOut(true);
    }
  }

  function touch(force) {
    if (!state.session) return;
    const now = Date.now();
    state.lastActivity = now;
    if (!force && now - state.lastTouchSent < TOUCH_EVERY_MS) return;
    state.lastTouchSent = now;
    api("POST", "/api/v1/session/touch").then(({ status, data }) => {
      if (status === 409) setSession(null);
      else if (status === 200 && data && data.session) sessionDeadline(data.session);
    }).catch(() => {});
  }

  /* Once a second: keep the session while a result asks her to wait and measure again, warn
     before the gateway ends it, show the doctor's lock-out time. */
  function tick() {
    const now = Date.now();
    renderLock();
    if (!state.session || state.view === "doctor") {
      if (state.dialog && state.dialog.kind === "still_there") closeDialog();
      return;
    }
    const warnMs = Math.min(WARN_BEFORE_MS, state.timeoutMs / 2);
    const remaining = state.deadline - now;
    /* only while a result that asks her to wait is on screen */
    const holding = state.view === "result" && state.resultAt && now - state.resultAt < state.holdMs;
    if (holding) {
      if (remaining < warnMs + 2000) touch(true);
      return;
    }
    if (remaining > warnMs) {
      if (state.dialog && state.dialog.kind === "still_there") closeDialog();
      return;
    }
    if (state.lastActivity > state.lastTouchSent) { touch(true); return; }  /* she was using the screen */
    const secs = Math.max(0, Math.ceil(remaining / 1000));
    if (!state.dialog) {
      openDialog({ kind: "still_there", text: "still_there", sub: "leaving_in", subVars: { n: secs }, yes: "keep_going",
                   then: () => touch(true) });
      announce(t("still_there"));
      speak(t("still_there"));
    } else if (state.dialog.kind === "still_there") {
      state.dialog.subVars = { n: secs };
      $("dialog-sub").textContent = t("leaving_in", { n: secs });
    }
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
      state.deadline = Date.now() + state.timeoutMs;  /* a reading is activity */
      if (state.view === "doctor") return;
      showMessage(null);
      showResult(r);
    } else if (!r.resident_id) {
      if (state.view === "measure") refreshClaims();
      if (state.view === "doctor" && state.doctorPin) refreshDoctorList();
    }
  }

  function onDuplicate() {
    if (state.session && (state.view === "measure" || state.view === "result")) showMessage("duplicate", null, true);
  }

  /* ---- unattributed readings --------------------------------------------------------- */
  async function refreshClaims() {
    if (!state.session) return;
    const { status, data } = await api("GET", "/api/v1/readings/unattributed?claimable=true");
    const list = $("claim-list");
    list.textContent = "";
    const items = status === 200 ? data.readings : [];
    $("claim-panel").hidden = items.length === 0;
    for (const r of items.slice(0, 1)) {
      const li = document.createElement("li");
      li.dataset.id = r.id;
      li.append(span("when", fmtTime(r.effective_at)), span("what", valuesText(r)));
      li.appendChild(keyButton(t("claim"), async () => {
        const res = await api("POST", `/api/v1/readings/${encodeURIComponent(r.id)}/assign`,
          { resident_id: state.session.resident_id });
        if (res.status === 200) {
          onReading(res.data.reading);
          showMessage("assigned");
        } else {
          showMessage("error");
          refreshClaims();
        }
      }));
      list.appendChild(li);
    }
  }

  function span(cls, text) {
    const s = document.createElement("span");
    if (cls) s.className = cls;
    s.textContent = text;
    return s;
  }

  function emptyItem(key) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = t(key);
    return li;
  }

  /* ---- history ----------------------------------------------------------------------- */
  let historyBack = "measure";
  async function showHistory() {
    if (!state.session) return;
    if (state.view !== "history") historyBack = state.view;
    const { status, data } = await api("GET", `/api/v1/residents/${encodeURIComponent(state.session.resident_id)}/history?limit=10`);
    if (status !== 200) { showMessage("error"); return; }
    state.deadline = Date.now() + state.timeoutMs;  /* the gateway touched the session */
    const list = $("history-list");
    list.textContent = "";
    for (const r of data.readings) {
      const li = document.createElement("li");
      const d = describe(r);
      li.append(span("when", fmtTime(r.effective_at)), span("what", valuesText(r, true)), span("", d.label));
      li.className = d.cls;
      list.appendChild(li);
    }
    if (!data.readings.length) list.appendChild(emptyItem("history_empty"));
    $("history-trend").textContent = trendText(data.trend);
    $("history-trend").hidden = !$("history-trend").textContent;
    const today = todayText(data.today);
    $("history-today").textContent = today;
    $("history-today").hidden = !today;
    show("history");
  }

  function todayText(today) {
    if (!today) return "";
    const lines = [];
    const p = today.position;
    if (p && p.count) {
      const key = !p.fenced ? "positions_plain" : p.outside ? "positions_out" : "positions_safe";
      lines.push(t(key, { n: p.count, m: p.outside }));
    }
    const h = today.heart_rate;
    if (h && h.count && h.min !== null) lines.push(t("heart_today", { n: h.count, min: num(h.min), max: num(h.max) }));
    return lines.join(state.lang === "zh" ? "；" : "; ");
  }

  function trendText(trend) {
    const bp = trend && trend.blood_pressure && trend.blood_pressure.systolic;
    const w = trend && trend.weight && trend.weight.weight;
    const pick = bp ? [bp, kindLabel("blood_pressure")] : w ? [w, kindLabel("weight")] : null;
    if (!pick || pick[0].count < 2 || pick[0].direction === "unknown") return "";
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
    state.pendingAck = null;
    if (state.view === "doctor") show(state.session ? "measure" : "signin");
    renderAlerts();
  }

  function lockedFor(data) {
    const s = data && typeof data.retry_after_s === "number" ? data.retry_after_s : 0;
    if (s > 0) state.lockedUntil = Date.now() + s * 1000;
    return s;
  }

  function renderLock() {
    const left = (state.lockedUntil - Date.now()) / 1000;
    const locked = left > 0;
    for (const b of document.querySelectorAll("#form-pin button, #pin-keypad button")) b.disabled = locked;
    $("input-pin").disabled = locked;
    if (locked && state.view === "doctor") showMessage("locked", { t: fmtWait(left) });
    else if (!locked && state.message && state.message[0] === "locked") showMessage(null);
  }

  async function doctorLogin(pin) {
    if (!pin) return;
    const { status, data } = await api("GET", "/api/v1/doctor", undefined, { "X-Doctor-PIN": pin });
    $("input-pin").value = "";
    if (status === 200) {
      state.doctorPin = pin;
      doctorHeaders();
      showMessage(null);
      show("doctor");
      if (state.pendingAck) await acknowledge(state.pendingAck);
    } else if (lockedFor(data) > 0) {
      renderLock();
    } else {
      showMessage("bad_pin", null, true);
    }
  }

  async function refreshDoctorList() {
    const { status, data } = await api("GET", "/api/v1/readings/unattributed", undefined, doctorHeaders());
    const list = $("doctor-unattributed");
    list.textContent = "";
    if (status !== 200) return;
    if (!data.readings.length) list.appendChild(emptyItem("none"));
    for (const r of data.readings) {
      const li = document.createElement("li");
      const input = document.createElement("input");
      input.type = "text";
      input.inputMode = "numeric";
      input.placeholder = t("resident_id");
      input.setAttribute("aria-label", t("resident_id"));
      input.addEventListener("focus", () => { manualField = input; });
      li.append(span("when", fmtTime(r.effective_at)), span("what", valuesText(r)), input);
      li.appendChild(keyButton(t("assign"), async () => {
        const res = await api("POST", `/api/v1/readings/${encodeURIComponent(r.id)}/assign`,
          { resident_id: input.value.trim() }, doctorHeaders());
        showMessage(res.status === 200 ? "saved" : "=" + ((res.data && res.data.error) || t("error")));
        manualField = null;
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
      showMessage("saved");
      form.reset();
      manualField = null;
    } else if (status === 401 || status === 429) {
      state.doctorPin = null;
      lockedFor(data);
      show("doctor");
      if (status === 401 && !(state.lockedUntil > Date.now())) showMessage("bad_pin");
    } else {
      const errs = (data && data.errors) ? data.errors.map((e) => `${e.field}: ${e.message}`).join("; ") : "";
      showMessage("=" + (errs || (data && data.error) || t("error")));
    }
  }

  /* ---- alerts ------------------------------------------------------------------------ */
  /* Who may see an alert at this screen: the signed-in resident her own (with her name); the
     doctor everyone's (with names); anyone a hut-wide emergency, without a name; alerts about
     the hut box itself (no resident) everyone. */
  const HUT_WIDE = new Set(["sos", "fall_down"]);
  function visibleAlert(a) {
    if (state.dismissed.has(a.id)) return false;
    if (!a.resident_id) return true;
    if (state.doctorPin) return true;
    if (state.session && a.resident_id === state.session.resident_id) return true;
    return HUT_WIDE.has(a.kind) && a.state !== "acknowledged";
  }

  function alertWords(a) {
    const words = TEXT[state.lang].alert[a.kind] || a.message || a.kind;
    const mine = state.session && a.resident_id === state.session.resident_id;
    if (!a.resident_id) return words;
    if (mine) return state.lang === "zh" ? `${words}（${state.session.display_name}）` : `${words} (${state.session.display_name})`;
    if (state.doctorPin) return `${words} · ${a.resident_name || a.resident_id}`;
    return HUT_WIDE.has(a.kind) ? `${words} · ${t("alert_someone")}` : words;
  }

  function alertStatus(a) {
    if (a.acknowledged_by || a.acknowledged_label) return t("alert_acked", { who: ackWho(a) });
    if (!a.recipients) return "";
    const told = a.recipients.filter((r) => r.status === "sent" || r.status === "acknowledged").length;
    return told ? t("alert_told", { n: told }) : t("alert_nobody");
  }

  /* Who acknowledged, in the page's language: the gateway words it in Chinese ("村医(小屋)"). */
  const ROLE_EN = { guardian: "family", clinic: "clinic", escalation: "village doctor" };
  function ackWho(a) {
    if (state.lang === "zh" && a.acknowledged_label) return zhPunct(a.acknowledged_label);
    if (a.ack_via === "kiosk") return t("ack_kiosk");
    if (a.ack_via === "county") return t("ack_county");
    const who = (a.recipients || []).find((r) => r.status === "acknowledged");
    return who ? `${ROLE_EN[who.role] || ""} ${who.who}`.trim() : a.acknowledged_by || "";
  }

  function renderAlerts() {
    const box = $("alerts");
    box.textContent = "";
    /* open ones first, then the newest; at the kiosk's own size one at a time (the next shows
       when it is dismissed), so that the screen below still fits */
    const open = (a) => (a.state === "acknowledged" ? 1 : 0);
    const shown = [...state.alerts.values()].filter(visibleAlert)
      .sort((x, y) => open(x) - open(y) || String(y.raised_at).localeCompare(String(x.raised_at)));
    const room = window.innerHeight <= 700 ? 1 : 2;
    for (const [i, a] of shown.slice(0, room).entries()) {
      const el = document.createElement("div");
      const critical = a.severity === "critical" || a.kind === "sos";
      el.className = "alert " + (critical ? "critical" : a.severity || "");
      el.dataset.kind = a.kind;
      el.dataset.id = a.id;
      const text = span("text", alertWords(a));
      const status = alertStatus(a);
      if (status) text.appendChild(span("status", status));
      const more = shown.length - room;
      if (i === room - 1 && more > 0) text.appendChild(span("status", t("alert_more", { n: more })));
      el.append(text);
      if (a.state && a.state !== "acknowledged" && a.resident_id) {
        const ack = keyButton(t("alert_ack"), () => startAck(a.id), "ack");
        el.appendChild(ack);
      }
      el.appendChild(keyButton(t("alert_ok"), () => dismissAlert(a.id), "dismiss"));
      box.appendChild(el);
    }
  }

  function dismissAlert(id) {
    state.dismissed.add(id);
    state.guardUntil = Date.now() + TOPBAR_GUARD_MS;
    renderAlerts();
    const section = document.querySelector(`[data-view="${state.view}"]`);
    const heading = section && section.querySelector("h1");
    if (heading) heading.focus({ preventScroll: true });
  }

  function onAlert(a) {
    if (!a || !a.id) return;
    const known = state.alerts.get(a.id);
    state.alerts.set(a.id, Object.assign({}, known || {}, a));
    renderAlerts();
    if (!known && visibleAlert(a)) {
      const words = alertWords(a);
      speak(words);
    }
  }

  function startAck(id) {
    if (state.doctorPin) { acknowledge(id); return; }
    state.pendingAck = id;
    showMessage(null);
    show("doctor");
  }

  async function acknowledge(id) {
    state.pendingAck = null;
    const { status, data } = await api("POST", `/api/v1/alerts/${encodeURIComponent(id)}/ack`, {}, doctorHeaders());
    if (status === 200) {
      onAlert(data && data.alert ? data.alert : data);
      showMessage("acked");
    } else {
      showMessage("error");
    }
  }

  async function syncAlerts() {
    const { status, data } = await api("GET", "/api/v1/alerts");
    if (status !== 200 || !data || !Array.isArray(data.alerts)) return;
    for (const a of data.alerts) state.alerts.set(a.id, a);
    renderAlerts();
  }

  /* ---- live events ------------------------------------------------------------------- */
  let source = null;
  function connect() {
    const url = "/api/v1/events" + (token ? "?token=" + encodeURIComponent(token) : "");
    source = new EventSource(url);
    source.addEventListener("open", () => {
      if (state.message && state.message[0] === "offline_gateway") showMessage(null);
      sync();
    });
    source.addEventListener("error", () => { if (source.readyState !== EventSource.OPEN) showMessage("offline_gateway"); });
    const on = (type, fn) => source.addEventListener(type, (ev) => {
      let data = {};
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      fn(data);
    });
    on("session", (d) => {
      const s = d.session || null;
      const timedOut = d.reason === "timeout" || d.state === "expired";
      if (!s && state.session) {
        setSession(null);
        if (timedOut) showMessage("timed_out", null, true);
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
    on("duplicate", onDuplicate);
    on("alert", onAlert);
    on("alert_status", (d) => onAlert(d.alert || d));
    on("uplink", (u) => { state.uplink = u; renderUplink(u); });
    on("lagged", () => sync());  /* events were lost: ask for the state again */
  }

  function renderUplink(u) {
    const el = $("uplink");
    el.textContent = "";
    el.classList.remove("off");
    el.removeAttribute("title");
    if (!u || u.enabled === false) return;
    const lines = u.connected ? t("uplink_ok") : t("uplink_off");
    for (const line of lines) el.appendChild(span("", line));
    el.title = u.connected ? t("uplink_ok_title") : t("uplink_off_title");
    el.classList.toggle("off", !u.connected);
  }

  async function sync() {
    const { status, data } = await api("GET", "/api/v1/kiosk");
    if (status !== 200) return;
    state.idKeys = data.id_keys || [];
    state.doctorConfigured = data.doctor_pin !== false;
    if (data.crisis) state.crisis = data.crisis;
    if (typeof data.session_timeout_s === "number") state.timeoutMs = data.session_timeout_s * 1000;
    if (typeof data.result_hold_s === "number") state.holdMs = data.result_hold_s * 1000;
    if (data.doctor_locked_s > 0) state.lockedUntil = Date.now() + data.doctor_locked_s * 1000;
    renderKeypads();
    state.uplink = data.uplink;
    renderUplink(data.uplink);
    if (data.session && (!state.session || state.session.resident_id !== data.session.resident_id)) setSession(data.session);
    if (!data.session && state.session) setSession(null);
    await syncAlerts();
  }

  /* ---- wiring ------------------------------------------------------------------------ */
  /* Right after an alert is dismissed a second tap of a double tap must not land on anything. */
  document.addEventListener("click", (e) => {
    if (Date.now() < state.guardUntil && !e.target.closest("#dialog")) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);

  $("btn-del").addEventListener("click", () => { const i = $("input-id"); i.value = i.value.slice(0, -1); });
  $("form-id").addEventListener("submit", (e) => { e.preventDefault(); signIn("id", $("input-id").value); });
  $("form-card").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = $("input-card").value.trim();
    signIn(/^hut:/i.test(v) ? "qr" : "card", v);
  });
  $("form-qr").addEventListener("submit", (e) => { e.preventDefault(); signIn("qr", $("input-qr").value); });
  $("btn-signout").addEventListener("click", askSignOut);
  $("btn-done").addEventListener("click", () => signOut(true));
  $("btn-again").addEventListener("click", () => { state.resultAt = 0; resetPressure(); show("measure"); speak(t("measure_hint")); });
  $("btn-help").addEventListener("click", () => {
    openDialog({ kind: "help", text: "help_text", sub: "help_sub", yes: "help_ok" });
    speak(t("help_text") + t("help_sub"));
  });
  $("btn-history").addEventListener("click", showHistory);
  $("btn-history2").addEventListener("click", showHistory);
  $("btn-back").addEventListener("click", () => show(historyBack === "history" ? "measure" : historyBack));
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
  $("btn-doctor").addEventListener("click", () => {
    if (!state.doctorConfigured) { showMessage("no_pin", null, true); return; }
    showMessage(null);
    show("doctor");
  });
  $("btn-doctor-exit").addEventListener("click", () => {
    showMessage(null);
    doctorExit();
    if (state.view === "doctor") show(state.session ? "measure" : "signin");
  });
  $("form-pin").addEventListener("submit", (e) => { e.preventDefault(); doctorLogin($("input-pin").value); });
  $("form-manual").addEventListener("submit", (e) => { e.preventDefault(); doctorManual(e.target); });
  $("form-manual").addEventListener("focusin", (e) => { if (e.target.tagName === "INPUT") manualField = e.target; });
  $("dialog-yes").addEventListener("click", () => dialogAnswer(true));
  $("dialog-no").addEventListener("click", () => dialogAnswer(false));

  /* A keyboard-wedge card or QR reader "types" the number and Enter: catch it on the sign-in
     screen when no control has the focus. Keys on a button or a field are theirs (Enter and
     Space press the button), so the screen works with a keyboard too. */
  document.addEventListener("keydown", (e) => {
    if (state.view !== "signin" || state.dialog) return;
    if (e.target && e.target.closest && e.target.closest("button, input, select, textarea, a[href]")) return;
    const card = $("input-card");
    if (e.key === "Enter") { e.preventDefault(); $("form-card").requestSubmit(); return; }
    if (e.key.length === 1 && e.key !== " " && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      card.value += e.key;
    }
  });
  document.addEventListener("pointerdown", () => touch(false), { passive: true });
  document.addEventListener("keydown", () => touch(false), { passive: true });

  applyText();
  show("signin");
  connect();
  setInterval(tick, 1000);
})();
