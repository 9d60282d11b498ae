// smolbot web chat: the little behaviour HTMX does not cover. No inline
// scripts anywhere (the pages' Content-Security-Policy forbids them).
(function () {
  "use strict";

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // ---- errors -----------------------------------------------------------
  let toastTimer = null;
  function toast(text) {
    const t = $("#toast");
    if (!t) return;
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 8000);
  }
  document.addEventListener("htmx:responseError", (e) => {
    const xhr = e.detail.xhr;
    let text = (xhr && xhr.responseText) || "Something went wrong.";
    if (xhr && xhr.status === 401) text += " (Sign in: /login)";
    toast(text.slice(0, 500));
  });
  document.addEventListener("htmx:sendError", () => toast("Cannot reach the server."));

  // ---- busy state: one answer at a time per chat -------------------------
  function live() { return $('#messages .msg.assistant[sse-connect]'); }
  function refreshBusy() {
    const busy = !!live();
    document.body.classList.toggle("busy", busy);
    const stop = $("#stop"), send = $("#send");
    if (stop) stop.hidden = !busy;
    if (send) send.disabled = busy;
    const empty = $("#empty");
    if (empty && $("#messages .msg")) empty.remove();
  }

  // ---- follow the conversation while it streams ------------------------
  let stick = true;
  function nearBottom() {
    const el = document.scrollingElement;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }
  window.addEventListener("scroll", () => { stick = nearBottom(); }, { passive: true });
  function follow() {
    if (stick) window.scrollTo(0, document.scrollingElement.scrollHeight);
  }

  // ---- copy buttons --------------------------------------------------------
  function addCodeCopyButtons(root) {
    $$(".md pre", root).forEach((pre) => {
      if (pre.parentElement && pre.parentElement.classList.contains("code-wrap")) return;
      const wrap = document.createElement("div");
      wrap.className = "code-wrap";
      pre.replaceWith(wrap);
      wrap.appendChild(pre);
      const b = document.createElement("button");
      b.type = "button";
      b.className = "copy-code";
      b.textContent = "Copy";
      b.setAttribute("aria-label", "Copy code");
      wrap.appendChild(b);
    });
  }
  async function copyText(text, button) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
      } else {
        // Plain-http LAN pages have no clipboard API: fall back.
        const ta = document.createElement("textarea");
        ta.value = text;
        ta.setAttribute("readonly", "");
        ta.style.position = "fixed";
        ta.style.opacity = "0";
        document.body.appendChild(ta);
        ta.select();
        document.execCommand("copy");
        ta.remove();
      }
      const old = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = old; }, 1200);
    } catch (err) {
      toast("Copy failed: " + err);
    }
  }
  document.addEventListener("click", (e) => {
    const code = e.target.closest(".copy-code");
    if (code) {
      const pre = code.parentElement.querySelector("pre");
      copyText(pre ? pre.innerText : "", code);
      return;
    }
    const msg = e.target.closest(".copy-msg");
    if (msg) {
      const raw = msg.closest(".msg").querySelector("template.raw");
      copyText(raw ? raw.content.textContent : "", msg);
    }
  });

  // ---- streaming: collapse Thinking once the answer starts ---------------
  document.addEventListener("htmx:sseMessage", (e) => {
    const msg = e.target.closest && e.target.closest(".msg");
    if (!msg) return;
    if (e.detail && e.detail.type === "answer" && e.detail.data && !msg.dataset.answering) {
      msg.dataset.answering = "1";
      const d = msg.querySelector("details.thinking");
      if (d) {
        d.open = false;
        const s = d.querySelector("summary");
        if (s) s.textContent = "Thinking";
      }
    }
    if (e.detail && e.detail.type !== "done") msg.dataset.state = "streaming";
    addCodeCopyButtons(msg);
    follow();
  });

  // ---- composer keys -----------------------------------------------------
  document.addEventListener("keydown", (e) => {
    const ta = e.target;
    if (ta instanceof HTMLTextAreaElement && ta.form && (ta.id === "prompt" || ta.form.classList.contains("edit-form"))) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        if (ta.value.trim() !== "" && !(ta.id === "prompt" && document.body.classList.contains("busy"))) {
          ta.form.requestSubmit();
        }
      }
    }
    if (e.key === "Escape") {
      const stop = $("#stop");
      if (stop && !stop.hidden) {
        e.preventDefault();
        stop.click();
      } else if (document.body.classList.contains("sidebar-open")) {
        setSidebar(false);
      }
    }
  });
  document.addEventListener("htmx:afterRequest", (e) => {
    const form = e.detail.elt;
    if (form && form.id === "composer" && e.detail.successful) {
      form.querySelector("textarea").value = "";
      stick = true;
    }
  });

  // ---- sidebar on narrow screens, settings panel --------------------------
  function setSidebar(open) {
    document.body.classList.toggle("sidebar-open", open);
    const b = $("#open-sidebar");
    if (b) b.setAttribute("aria-expanded", String(open));
    if (open) {
      const first = $("#sidebar a");
      if (first) first.focus();
    }
  }
  document.addEventListener("click", (e) => {
    if (e.target.closest("#open-sidebar")) setSidebar(true);
    else if (e.target.closest("#close-sidebar")) setSidebar(false);
    const t = e.target.closest("#settings-toggle");
    if (t) {
      const panel = $("#settings");
      panel.hidden = !panel.hidden;
      t.setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) {
        const f = panel.querySelector("textarea, input");
        if (f) f.focus();
      }
    }
  });

  // ---- whenever HTMX puts new content in -----------------------------------
  function onLoad(root) {
    addCodeCopyButtons(root);
    refreshBusy();
    const edit = root.querySelector && root.querySelector(".edit-form textarea");
    if (edit) {
      edit.focus();
      edit.setSelectionRange(edit.value.length, edit.value.length);
    }
  }
  document.addEventListener("htmx:load", (e) => onLoad(e.target));
  document.addEventListener("htmx:afterSettle", () => { refreshBusy(); follow(); });
  document.addEventListener("htmx:sseClose", () => setTimeout(refreshBusy, 0));
  document.addEventListener("DOMContentLoaded", () => {
    onLoad(document);
    window.scrollTo(0, document.scrollingElement.scrollHeight);
  });
})();
