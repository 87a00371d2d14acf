// newswatch review: keyboard triage. The pages work without this script; it only adds keys.
(function () {
  "use strict";

  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const LABELS = { unreviewed: "Unreviewed", relevant: "Relevant", irrelevant: "Irrelevant" };
  const KEY_STATE = { r: "relevant", i: "irrelevant", u: "unreviewed" };

  function typing(event) {
    const t = event.target;
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  }

  function openOriginal(link) {
    if (link) window.open(link, "_blank", "noopener,noreferrer");
  }

  // After a mark, the counters say what the server now counts: the nav badge and the list's total.
  function counters(data) {
    const link = document.querySelector('.topbar nav a[href="/"]');
    let pill = document.getElementById("nav-backlog");
    if (typeof data.backlog === "number" && link) {
      if (!pill && data.backlog > 0) {
        pill = document.createElement("span");
        pill.id = "nav-backlog";
        pill.className = "pill";
        pill.title = "unreviewed";
        link.append(" ", pill);
      }
      if (pill) { pill.textContent = String(data.backlog); pill.hidden = data.backlog === 0; }
    }
    const total = document.getElementById("list-total");
    if (total && typeof data.total === "number") {
      total.textContent = data.total + " " + (data.total === 1 ? total.dataset.one : total.dataset.many);
    }
  }

  function status(text, isError) {
    const el = document.getElementById("status");
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("error", !!isError);
  }

  // ---- the list ------------------------------------------------------------
  function listPage(list) {
    const rows = Array.from(list.querySelectorAll(".row"));
    const ctx = list.dataset.ctx || "";
    let current = 0;

    function select(i, scroll) {
      if (!rows.length) return;
      current = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach((r, n) => r.classList.toggle("selected", n === current));
      if (scroll !== false) rows[current].scrollIntoView({ block: "nearest" });
    }

    function setState(row, state, note) {
      row.classList.remove("state-unreviewed", "state-relevant", "state-irrelevant");
      row.classList.add("state-" + state);
      row.dataset.state = state;
      const badge = row.querySelector(".badge");
      if (badge) {
        badge.className = "badge state-" + state;
        badge.textContent = LABELS[state];
      }
      if (note !== undefined) {
        const line = row.querySelector(".note-line");
        if (line) {
          line.querySelector(".note-text").textContent = note;
          line.hidden = !note;
        }
      }
    }

    async function mark(row, state, note) {
      const before = row.dataset.state;
      const body = new URLSearchParams({ state: state, csrf_token: csrf() });
      if (row.dataset.topic) body.set("topic", row.dataset.topic);
      if (note !== undefined) body.set("note", note);
      setState(row, state, note);
      try {
        const res = await fetch("/articles/" + row.dataset.id + "/mark" + (ctx ? "?" + ctx : ""), {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "Accept": "application/json", "X-CSRF-Token": csrf() },
        });
        if (!res.ok) throw new Error(res.status === 403 ? "stale page: reload" : "HTTP " + res.status);
        counters(await res.json());
        status("Marked " + LABELS[state].toLowerCase() + ": " + row.querySelector(".title").textContent.slice(0, 60));
      } catch (err) {
        setState(row, before);
        status("Not saved (" + err.message + ")", true);
      }
    }

    const dialog = document.getElementById("note-dialog");
    function editNote(row) {
      if (!dialog || typeof dialog.showModal !== "function") return;
      const area = document.getElementById("note-text");
      area.value = row.querySelector(".note-text").textContent;
      dialog.returnValue = "";
      dialog.showModal();
      area.focus();
      dialog.onclose = () => {
        if (dialog.returnValue === "save") mark(row, row.dataset.state, area.value.trim());
      };
    }
    if (dialog) {
      document.getElementById("note-text").addEventListener("keydown", (e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); dialog.close("save"); }
      });
    }

    rows.forEach((row, i) => row.addEventListener("click", (e) => {
      if (!e.target.closest("a")) select(i, false);
    }));
    select(0, false);

    document.addEventListener("keydown", (e) => {
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey || (dialog && dialog.open)) return;
      const row = rows[current];
      if (e.key === "/") { e.preventDefault(); const s = document.getElementById("search"); if (s) s.focus(); return; }
      if (!row) return;
      if (e.key === "j") { select(current + 1); }
      else if (e.key === "k") { select(current - 1); }
      else if (KEY_STATE[e.key]) { mark(row, KEY_STATE[e.key]); select(current + 1); }
      else if (e.key === "n") { e.preventDefault(); editNote(row); }
      else if (e.key === "o") { openOriginal(row.dataset.link); }
      else if (e.key === "Enter") { row.querySelector(".title").click(); }
      else if (e.key === "s" && row.dataset.story) { window.location.href = "/stories/" + row.dataset.story; }
      else return;
      e.preventDefault();
    });
  }

  // ---- one article -----------------------------------------------------------
  function articlePage(article) {
    const form = document.getElementById("mark-form");
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && typing(e)) { e.target.blur(); return; }
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      const link = (id) => { const a = document.getElementById(id); if (a) window.location.href = a.href; };
      if (KEY_STATE[e.key] && form) {
        const button = document.getElementById("mark-" + KEY_STATE[e.key]);
        if (button) form.requestSubmit(button);  // one POST; the answer redirects to the next article
      } else if (e.key === "n") {
        const note = document.getElementById("note");
        if (note) { note.focus(); note.select(); }
      } else if (e.key === "o") { openOriginal(article.dataset.link); }
      else if (e.key === "j") { link("next-link"); }
      else if (e.key === "k") { link("prev-link"); }
      else if (e.key === "Escape") { const back = document.querySelector(".crumbs a"); if (back) window.location.href = back.href; }
      else return;
      e.preventDefault();
    });
  }

  // ---- a story -------------------------------------------------------------
  function storyPage(form) {
    document.addEventListener("keydown", (e) => {
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      const id = { r: "story-relevant", i: "story-irrelevant" }[e.key];
      if (!id) return;
      e.preventDefault();
      form.requestSubmit(document.getElementById(id));
    });
  }

  // Leave empty filters out of the URL, so it stays short enough to read and share.
  function tidyFilters(form) {
    form.addEventListener("submit", () => {
      form.querySelectorAll("input, select").forEach((el) => {
        if (!el.value || (el.name === "state" && el.value === "unreviewed")) el.disabled = true;
      });
      setTimeout(() => form.querySelectorAll("input, select").forEach((el) => { el.disabled = false; }), 0);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const filters = document.querySelector("form.filters");
    if (filters) tidyFilters(filters);
    const list = document.getElementById("articles");
    const article = document.querySelector("article.article");
    const story = document.getElementById("story-mark-form");
    if (list) listPage(list);
    else if (article) articlePage(article);
    else if (story) storyPage(story);
  });
})();
