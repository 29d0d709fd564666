/*
 * ClickPhone call-back widget.
 *
 *   <script src="https://YOUR-CLICKPHONE/widget/clickphone-callback.js"
 *           data-site-key="SITE-PUBLIC-KEY" data-lang="ru" async></script>
 *
 * Renders a round button; a click opens a small form asking for the visitor's number, which
 * is posted to POST /api/v1/public/callback/{site_key} on the server the script came from.
 * ClickPhone then rings the company first and the visitor second. Optional attributes:
 * data-lang (ru|en, default: the page's language), data-color (button colour),
 * data-position (right|left).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || script.getAttribute("data-clickphone-loaded")) return;
  script.setAttribute("data-clickphone-loaded", "1");
  var key = script.getAttribute("data-site-key") || "";
  var base = new URL(script.src, window.location.href).origin;
  var lang = (script.getAttribute("data-lang") || document.documentElement.lang || "ru")
    .slice(0, 2)
    .toLowerCase();
  var color = script.getAttribute("data-color") || "#228be6";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";

  var TEXT = {
    ru: {
      open: "Перезвоните мне",
      title: "Мы перезвоним вам",
      hint: "Оставьте номер — соединим со специалистом за минуту.",
      number: "Ваш номер телефона",
      send: "Жду звонка",
      sending: "Отправляем…",
      done: "Спасибо! Сейчас позвоним на ",
      close: "Закрыть",
      errors: {
        callback_limited: "Слишком много запросов. Попробуйте позже.",
        callback_unavailable: "Сейчас не можем позвонить. Попробуйте позже.",
        callback_number_blocked: "На этот номер позвонить не можем.",
        callback_country_not_allowed: "На номера этой страны позвонить не можем.",
        "validation.failed": "Проверьте номер телефона.",
        other: "Не получилось. Попробуйте ещё раз.",
      },
    },
    en: {
      open: "Call me back",
      title: "We will call you back",
      hint: "Leave your number and we will connect you within a minute.",
      number: "Your phone number",
      send: "Call me",
      sending: "Sending…",
      done: "Thank you! Calling you now at ",
      close: "Close",
      errors: {
        callback_limited: "Too many requests. Please try again later.",
        callback_unavailable: "We cannot call right now. Please try again later.",
        callback_number_blocked: "We cannot call this number.",
        callback_country_not_allowed: "We cannot call numbers in this country.",
        "validation.failed": "Please check the phone number.",
        other: "Something went wrong. Please try again.",
      },
    },
  };
  var t = TEXT[lang] || TEXT.en;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "style") node.style.cssText = attrs[k];
      else if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      node.appendChild(c);
    });
    return node;
  }

  var root = el("div", {
    "data-clickphone-widget": key,
    style:
      "position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;" +
      "font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222",
  });
  var button = el("button", {
    type: "button",
    "aria-label": t.open,
    "data-clickphone": "open",
    style:
      "border:0;border-radius:28px;padding:14px 20px;cursor:pointer;color:#fff;" +
      "box-shadow:0 4px 14px rgba(0,0,0,.25);font:inherit;font-weight:600;background:" + color,
    text: "\u260E " + t.open,
  });
  var input = el("input", {
    type: "tel",
    name: "number",
    required: "required",
    autocomplete: "tel",
    placeholder: "+7 900 000-00-00",
    "aria-label": t.number,
    "data-clickphone": "number",
    style:
      "width:100%;box-sizing:border-box;padding:9px 10px;border:1px solid #ced4da;" +
      "border-radius:6px;font:inherit;margin:8px 0",
  });
  var submit = el("button", {
    type: "submit",
    "data-clickphone": "send",
    style:
      "width:100%;border:0;border-radius:6px;padding:10px;cursor:pointer;color:#fff;" +
      "font:inherit;font-weight:600;background:" + color,
    text: t.send,
  });
  var message = el("div", { role: "status", "data-clickphone": "message", style: "margin-top:8px" });
  var close = el("button", {
    type: "button",
    "aria-label": t.close,
    style: "position:absolute;top:6px;right:8px;border:0;background:none;cursor:pointer;font-size:18px",
    text: "\u00D7",
  });
  var form = el("form", { novalidate: "novalidate" }, [
    el("div", { style: "font-weight:700;font-size:16px;margin-right:16px", text: t.title }),
    el("div", { style: "color:#666;margin-top:4px", text: t.hint }),
    input,
    submit,
    message,
  ]);
  var panel = el(
    "div",
    {
      "data-clickphone": "panel",
      style:
        "display:none;position:relative;width:260px;background:#fff;border-radius:10px;" +
        "padding:16px;margin-bottom:10px;box-shadow:0 6px 24px rgba(0,0,0,.2)",
    },
    [close, form],
  );
  root.appendChild(panel);
  root.appendChild(button);

  function toggle(open) {
    panel.style.display = open ? "block" : "none";
    if (open) input.focus();
  }
  button.addEventListener("click", function () {
    toggle(panel.style.display === "none");
  });
  close.addEventListener("click", function () {
    toggle(false);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var number = input.value.trim();
    if (number.replace(/\D/g, "").length < 5) {
      message.textContent = t.errors["validation.failed"];
      return;
    }
    submit.disabled = true;
    submit.textContent = t.sending;
    message.textContent = "";
    fetch(base + "/api/v1/public/callback/" + encodeURIComponent(key), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ number: number }),
      credentials: "omit",
    })
      .then(function (response) {
        return response.json().then(
          function (body) {
            return { ok: response.ok, body: body };
          },
          function () {
            return { ok: false, body: {} };
          },
        );
      })
      .then(function (result) {
        if (result.ok) {
          message.textContent = t.done + result.body.number;
          input.value = "";
        } else {
          message.textContent = t.errors[result.body.error_id] || t.errors.other;
        }
      })
      .catch(function () {
        message.textContent = t.errors.other;
      })
      .then(function () {
        submit.disabled = false;
        submit.textContent = t.send;
      });
  });

  function mount() {
    document.body.appendChild(root);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
