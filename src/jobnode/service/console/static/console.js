// The console's only script. The pages work without it; with it:
// - an element with `data-live` follows the server-sent events at that address and swaps in the parts of the page
//   they carry, by element id, keeping the keyboard focus where it was;
// - links and forms with `data-fragment` fetch that address and swap the section they sit in (the logs), and the
//   address bar follows, so Back and Forward page the logs too;
// - a form with `data-once` can be sent once (a second click does not send it again).
"use strict";

(function () {
  function swap(target, html) {
    const focused = document.activeElement;
    const focusId = focused && target.contains(focused) ? focused.id : "";
    target.innerHTML = html;
    if (focusId) {
      const again = document.getElementById(focusId);
      if (again) again.focus();
    }
  }

  function announce(text) {
    const status = document.getElementById("announce");
    if (status && status.textContent !== text) status.textContent = text;
  }

  function follow(element) {
    const source = new EventSource(element.dataset.live);
    source.addEventListener("parts", function (event) {
      const parts = JSON.parse(event.data);
      for (const [id, html] of Object.entries(parts)) {
        if (id === "announce") {
          announce(html);
          continue;
        }
        const target = document.getElementById(id);
        if (target) swap(target, html);
      }
    });
    // the job has ended: nothing more will change (without this, the browser would reconnect)
    source.addEventListener("end", function () {
      source.close();
    });
  }

  async function loadFragment(section, fragmentUrl, pageUrl, push) {
    section.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(fragmentUrl, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.status === 401) {
        window.location.assign(pageUrl);
        return;
      }
      swap(section, await response.text());
      if (push) history.pushState({ fragment: fragmentUrl, section: section.id }, "", pageUrl);
      const heading = section.querySelector("h2");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    } catch (error) {
      window.location.assign(pageUrl);
    } finally {
      section.removeAttribute("aria-busy");
    }
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest("a[data-fragment]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    const section = link.closest("section[id]");
    if (!section) return;
    event.preventDefault();
    loadFragment(section, link.dataset.fragment, link.href, true);
  });

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.matches("form[data-once]")) {
      if (form.dataset.sent) {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      return;
    }
    if (!form.matches("form[data-fragment]")) return;
    const section = form.closest("section[id]");
    if (!section) return;
    event.preventDefault();
    const params = new URLSearchParams(new FormData(form));
    for (const [key, value] of Array.from(params.entries())) {
      if (!value) params.delete(key);
    }
    const search = params.toString() ? "?" + params.toString() : "";
    const page = new URL(form.action);
    loadFragment(section, form.dataset.fragment + search, page.pathname + search + page.hash, true);
  });

  window.addEventListener("popstate", function (event) {
    // entries without a state are the browser's own (an anchor followed): it scrolls by itself
    const state = event.state;
    const section = state && document.getElementById(state.section);
    if (section) loadFragment(section, state.fragment, window.location.href, false);
  });

  document.addEventListener("DOMContentLoaded", function () {
    const logs = document.getElementById("logs");
    if (logs && !history.state) {
      // the first page of the logs, so that Back returns to it after paging
      const query = new URLSearchParams(window.location.search);
      const own = new URLSearchParams();
      for (const [key, value] of query.entries()) if (key.startsWith("log_")) own.set(key, value);
      const search = own.toString() ? "?" + own.toString() : "";
      const form = logs.querySelector("form[data-fragment]");
      if (form) history.replaceState({ fragment: form.dataset.fragment + search, section: "logs" }, "");
    }
    if ("EventSource" in window) document.querySelectorAll("[data-live]").forEach(follow);
  });
})();
