// Settings pages: the brand's coupon page preview follows the form as it is typed in. Without
// this file the "Preview" button shows it.
(function () {
  "use strict";

  var form = document.getElementById("brand-form");
  var frame = document.getElementById("brand-preview");
  if (!form || !frame) {
    return;
  }
  var names = ["name", "primary_color", "accent_color", "logo_url", "shop_url"];
  var timer = null;

  function refresh() {
    var query = new URLSearchParams();
    names.forEach(function (name) {
      query.set(name, form.elements[name].value);
    });
    var next = form.getAttribute("data-preview") + "?" + query.toString();
    if (frame.getAttribute("src") !== next) {
      frame.setAttribute("src", next);
    }
  }

  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
  // The page follows the typing: the no-script button is not needed.
  var button = form.querySelector("[data-no-js-preview]");
  if (button) {
    button.hidden = true;
  }
})();
