// Engage console: small enhancements only. Every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    // Phones: the rail opens from the Menu button.
    var button = document.querySelector(".menu-button");
    var nav = document.getElementById("site-nav");
    if (button && nav) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        nav.classList.toggle("open", open);
      });
    }

    // An error summary takes the focus, so screen readers read it first.
    var summary = document.querySelector("[data-focus-on-load]");
    if (summary) {
      summary.focus();
    }

    // Copy buttons: <button data-copy="#id"> copies that element's text.
    document.querySelectorAll("[data-copy]").forEach(function (copy) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        var source = document.querySelector(copy.getAttribute("data-copy"));
        if (!source || !navigator.clipboard) {
          return;
        }
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          var label = copy.textContent;
          copy.textContent = "Copied";
          setTimeout(function () { copy.textContent = label; }, 1500);
        });
      });
    });
  });
})();
