// Segment form: operators narrowed to the chosen field, the attribute key shown only for
// attributes, the filter rows hidden for static segments, and a live count with the first
// members as the filter changes (debounced). The form works without this file: its
// "Update count" button asks the server for the same preview.
(function () {
  "use strict";

  function debounce(run, wait) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(run, wait);
    };
  }

  function element(tag, content) {
    var made = document.createElement(tag);
    if (content !== undefined) {
      made.textContent = content;
    }
    return made;
  }

  function narrowOps(row, opsByField) {
    var field = row.querySelector("[data-field]").value;
    var allowed = opsByField[field];
    var op = row.querySelector("[data-op]");
    Array.prototype.forEach.call(op.options, function (option) {
      option.hidden = Boolean(allowed) && allowed.indexOf(option.value) < 0;
      option.disabled = option.hidden;
    });
    if (allowed && allowed.indexOf(op.value) < 0) {
      op.value = allowed[0];
    }
    row.querySelector("[data-key]").hidden = field !== "attributes";
  }

  function showPreview(target, preview) {
    target.textContent = "";
    var message = preview.text;
    if (preview.errors.length) {
      message = "Fix the filter to see a count: " + preview.errors.map(function (error) {
        return error.message;
      }).join("; ");
    } else if (preview.empty) {
      message = "Choose conditions to see how many customers match.";
    }
    var size = element("p", message);
    size.className = preview.errors.length ? "preview-size preview-problem" : "preview-size";
    target.appendChild(size);
    if (preview.sample.length) {
      var list = element("ul");
      list.className = "members";
      preview.sample.forEach(function (member) {
        var item = element("li");
        var link = element("a", member.name);
        link.href = member.href;
        item.appendChild(link);
        list.appendChild(item);
      });
      target.appendChild(list);
    }
  }

  function setUp(form) {
    var opsByField = JSON.parse(form.getAttribute("data-ops"));
    var target = document.getElementById("segment-preview");
    var builder = document.getElementById("builder");
    var rows = form.querySelectorAll("[data-row]");
    var sequence = 0;
    Array.prototype.forEach.call(form.querySelectorAll("[data-no-js]"), function (button) {
      button.hidden = true;
    });
    // Empty rows after the first empty one wait behind "Add a condition".
    var spare = Array.prototype.filter.call(rows, function (row) {
      return !row.querySelector("[data-field]").value && !row.classList.contains("field-has-error");
    }).slice(1);
    spare.forEach(function (row) {
      row.hidden = true;
    });
    var more = document.getElementById("add-condition");
    if (more && spare.length) {
      more.hidden = false;
      more.addEventListener("click", function () {
        var next = spare.shift();
        next.hidden = false;
        next.querySelector("[data-field]").focus();
        more.hidden = spare.length === 0;
      });
    }
    Array.prototype.forEach.call(rows, function (row) {
      narrowOps(row, opsByField);
      row.querySelector("[data-field]").addEventListener("change", function () {
        narrowOps(row, opsByField);
      });
    });
    function showKind() {
      var chosen = form.querySelector("input[name=kind]:checked");
      if (builder && chosen) {
        builder.hidden = chosen.value !== "DYNAMIC";
      }
    }
    var refresh = debounce(function () {
      if (!target || (builder && builder.hidden)) {
        return;
      }
      var query = new URLSearchParams();
      Array.prototype.forEach.call(form.elements, function (input) {
        if (input.name && (input.name.indexOf("row") === 0 || input.name === "match" ||
            input.name === "filter_json")) {
          query.set(input.name, input.value);
        }
      });
      var mine = ++sequence;
      target.setAttribute("aria-busy", "true");
      fetch(form.getAttribute("data-preview-url") + "?" + query.toString(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (preview) {
        if (preview && mine === sequence) {
          showPreview(target, preview);
        }
      }).catch(function () {
        return null;
      }).then(function () {
        if (mine === sequence) {
          target.removeAttribute("aria-busy");
        }
      });
    }, 400);
    form.addEventListener("input", refresh);
    form.addEventListener("change", function () {
      showKind();
      refresh();
    });
    showKind();
    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.segment-form");
    if (form) {
      setUp(form);
    }
  });
})();
