// Keyboard shortcuts of the review page (crawler web). No build step, no library.
// WCAG 2.1.4: single-key shortcuts can be turned off (the checkbox, remembered in this browser) and
// never fire while focus is in a text field or a list.
(function () {
  "use strict";
  var form = document.getElementById("decision");
  var toggle = document.getElementById("shortcuts-on");
  var announce = document.getElementById("announce");
  if (!form || !toggle) { return; }
  var KEY = "crawler-shortcuts";
  try { toggle.checked = window.localStorage.getItem(KEY) !== "off"; } catch (e) { /* storage may be off */ }
  toggle.addEventListener("change", function () {
    try { window.localStorage.setItem(KEY, toggle.checked ? "on" : "off"); } catch (e) { /* ignore */ }
  });

  function say(text) { if (announce) { announce.textContent = text; } }

  function follow(id) {
    var link = document.getElementById(id);
    if (link) { window.location.assign(link.href); }
  }

  function choose(value) {
    var radio = document.getElementById("decision-" + value);
    if (!radio) { return; }
    radio.checked = true;
    var label = radio.parentNode.textContent.replace(/\s+/g, " ").trim();
    say(label);
    document.getElementById("comment").focus();
  }

  function saveAndNext() {
    var chosen = form.querySelector("input[name=decision]:checked");
    if (!chosen) {
      document.getElementById("decision-confirm").focus();
      say(form.querySelector("legend").textContent);
      return;
    }
    var button = document.getElementById("save-next");
    if (form.requestSubmit) { form.requestSubmit(button); } else { button.click(); }
  }

  document.addEventListener("keydown", function (event) {
    if (!toggle.checked || event.altKey || event.defaultPrevented) { return; }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      saveAndNext();
      return;
    }
    if (event.ctrlKey || event.metaKey) { return; }
    var target = event.target;
    if (target.closest && target.closest("input[type=text], input[type=password], textarea, select, [contenteditable]")) {
      return;
    }
    var actions = {
      j: function () { follow("next-link"); },
      k: function () { follow("previous-link"); },
      c: function () { choose("confirm"); },
      r: function () { choose("reject"); },
      s: saveAndNext
    };
    var action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });
}());
